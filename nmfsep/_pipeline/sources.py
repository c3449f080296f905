"""How a :class:`~nmfsep.separation.Separator`'s components become named sources.

A grouping object validates itself when it is made and tells the separator, for a model of
``n_components`` components, which source every component belongs to:

* :class:`ByTemplates`: fixed templates name their sources (plus free components);
* :class:`ByHand`: ``{source: [component indices]}`` of an unsupervised model;
* :class:`ByClustering`: the components of an unsupervised model clustered into ``k`` sources
  (:func:`~nmfsep.separation.cluster_components`);
* :class:`PerComponent`: one source per component (the default).

``Separator(templates=..., n_free=...)``, ``components=...`` and ``n_sources=...`` (with
``cluster_features``, ``cluster_method``) build the same objects.
"""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass
from typing import List, Mapping, Optional, Sequence, Tuple, Union

from .._core._validation import check_count, check_rank
from .._errors import ParameterError, ParameterTypeError
from .grouping import FEATURES, METHODS
from .templates import Templates, check_source_name

__all__ = ["ByClustering", "ByHand", "ByTemplates", "PerComponent"]

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class _Assignment:
    """What a grouping tells the separator for a model of ``rank`` components."""

    rank: int
    sources: Optional[Tuple[str, ...]]        # None until clustering names them
    component_source: Optional[List[int]]     # source index of every component
    n_clusters: Optional[int]                 # clusters to find (ByClustering)
    learn_once: bool                          # learned templates keep their meaning in chunks


def _n_components(n_components) -> int:
    if n_components is None:
        raise ParameterError("pass n_components (the number of components to learn), or "
                             "templates.")
    return check_rank(n_components, name="n_components")


class PerComponent:
    """One source per component, named ``"component0"``, ``"component1"``, ...

    Examples
    --------
    >>> from nmfsep.separation import PerComponent
    >>> PerComponent()
    PerComponent()
    """

    templates = None

    def assign(self, n_components: Optional[int]) -> _Assignment:
        """The sources of a model of ``n_components`` components."""
        rank = _n_components(n_components)
        return _Assignment(rank, tuple(f"component{r}" for r in range(rank)), list(range(rank)),
                           None, True)

    def __repr__(self) -> str:
        return "PerComponent()"

    def __eq__(self, other) -> bool:
        return type(other) is PerComponent

    __hash__ = None


class ByHand:
    """Components grouped by hand: ``ByHand({"bass": [0, 1], "piano": [2, 3, 4]})``.

    Parameters
    ----------
    components : mapping of str to list of int
        Component indices of every source: every component of the model in exactly one
        source (indices from 0 without gaps).

    Raises
    ------
    ParameterError, ParameterTypeError
        On an empty mapping, a bad source name, a negative index, an index in two sources or
        an index missing below the largest one.

    Examples
    --------
    >>> from nmfsep.separation import ByHand
    >>> ByHand({"bass": [0, 1], "piano": [2]}).sources
    ('bass', 'piano')
    """

    templates = None

    def __init__(self, components: Mapping[str, Sequence[int]]):
        self.components = components
        sources, _, _ = _check_mapping(components, None)
        self.sources = tuple(sources)

    def assign(self, n_components: Optional[int]) -> _Assignment:
        """The sources of a model of ``n_components`` components (default: the largest
        index plus one)."""
        sources, component_source, rank = _check_mapping(self.components, n_components)
        return _Assignment(rank, tuple(sources), component_source, None, True)

    def __repr__(self) -> str:
        return f"ByHand({self.components!r})"

    def __eq__(self, other) -> bool:
        return type(other) is ByHand and other.components == self.components

    __hash__ = None


class ByClustering:
    """The components clustered into ``n_sources`` sources after the fit.

    See :func:`~nmfsep.separation.cluster_components`; the sources are named ``"source0"``,
    ... from the lowest spectral centroid to the highest.

    Parameters
    ----------
    n_sources : int
        Number of sources (at most the model's number of components).
    features : {"timbre", "spectrum", "activations"}, default "timbre"
    method : {"agglomerative", "kmeans"}, default "agglomerative"

    Examples
    --------
    >>> from nmfsep.separation import ByClustering
    >>> ByClustering(2, features="spectrum")
    ByClustering(n_sources=2, features='spectrum', method='agglomerative')
    """

    templates = None

    def __init__(self, n_sources: int, features: str = "timbre", method: str = "agglomerative"):
        self.n_sources = check_rank(n_sources, name="n_sources")
        if features not in FEATURES:
            raise ParameterError(f"cluster_features must be one of {FEATURES}, got {features!r}.")
        if method not in METHODS:
            raise ParameterError(f"cluster_method must be one of {METHODS}, got {method!r}.")
        self.features, self.method = features, method

    def assign(self, n_components: Optional[int]) -> _Assignment:
        """Clusters of a model of ``n_components`` components (named when clustered)."""
        rank = _n_components(n_components)
        if self.n_sources > rank:
            raise ParameterError(f"n_sources={self.n_sources} exceeds n_components={rank}.")
        return _Assignment(rank, None, None, self.n_sources, True)

    def __repr__(self) -> str:
        return (f"ByClustering(n_sources={self.n_sources}, features={self.features!r}, "
                f"method={self.method!r})")

    def __eq__(self, other) -> bool:
        return type(other) is ByClustering and (other.n_sources, other.features, other.method) \
            == (self.n_sources, self.features, self.method)

    __hash__ = None


class ByTemplates:
    """Fixed templates name their sources; ``n_free`` components are learned beside them.

    Parameters
    ----------
    templates : Templates, str or PathLike
        Templates of named sources (:func:`~nmfsep.separation.learn_templates`) or a file
        written by :meth:`Templates.save`; held fixed.
    n_free : int, default 0
        Free components learned from the mixture.
    free_source : str, default "other"
        Source of the free components: a new stem, or a template source (e.g.
        ``"harmonic"``) that they then join.

    Examples
    --------
    >>> import torch
    >>> from nmfsep.separation import ByTemplates, Templates
    >>> t = Templates(torch.rand(129, 2), ("kick", "snare"), (0, 1), 8000, "stft",
    ...               dict(n_fft=256, hop_length=64, window="hann"))
    >>> ByTemplates(t, n_free=2).assign(None).sources
    ('kick', 'snare', 'other')
    """

    def __init__(self, templates: Union[Templates, PathLike], n_free: int = 0,
                 free_source: str = "other"):
        self.templates = _as_templates(templates)
        self.n_free = check_count(n_free, "n_free", minimum=0)
        self.free_source = check_source_name(free_source, "free_source")

    def assign(self, n_components: Optional[int]) -> _Assignment:
        """The templates' sources, then (if any free components) ``free_source``."""
        if n_components is not None:
            raise ParameterError("with templates the components are the templates' plus n_free; "
                                 "leave n_components unset.")
        sources = list(self.templates.sources)
        if self.n_free and self.free_source not in sources:
            sources.append(self.free_source)
        component_source = list(self.templates.components)
        if self.n_free:
            component_source += [sources.index(self.free_source)] * self.n_free
        return _Assignment(self.templates.n_components + self.n_free, tuple(sources),
                           component_source, None, False)

    def __repr__(self) -> str:
        return (f"ByTemplates({self.templates!r}, n_free={self.n_free}, "
                f"free_source={self.free_source!r})")


#: What ``grouping=`` accepts.
GROUPINGS = (ByTemplates, ByHand, ByClustering, PerComponent)


def _as_templates(templates) -> Templates:
    if isinstance(templates, Templates):
        return templates
    if isinstance(templates, (str, os.PathLike)):
        return Templates.load(templates)
    raise ParameterTypeError(f"templates must be a Templates object or a path to a templates "
                             f"file, got {type(templates).__name__}.")


def _check_mapping(components, n_components) -> Tuple[List[str], List[int], int]:
    """Validate ``{source: [component indices]}``: every component in exactly one source."""
    if not isinstance(components, Mapping) or not components:
        raise ParameterTypeError("components must be a non-empty mapping {source: [component indices]}.")
    sources = [check_source_name(s) for s in components]
    indices = {}
    for s in sources:
        members = components[s]
        if isinstance(members, numbers.Integral):
            members = [members]
        for r in members:
            if isinstance(r, bool) or not isinstance(r, numbers.Integral) or r < 0:
                raise ParameterError(f"components[{s!r}] must hold non-negative component indices, got {r!r}.")
            if int(r) in indices:
                raise ParameterError(f"component {r} is in both {indices[int(r)]!r} and {s!r}; "
                                     f"give every component to exactly one source.")
            indices[int(r)] = s
    rank = max(indices) + 1 if n_components is None else check_rank(n_components, name="n_components")
    missing = [r for r in range(rank) if r not in indices]
    outside = [r for r in indices if r >= rank]
    if outside:
        raise ParameterError(f"components lists indices {outside} beyond n_components={rank}.")
    if missing:
        raise ParameterError(f"components {missing} belong to no source; add them to one (e.g. an "
                             f"'other' source) so that the masks cover the whole model.")
    component_source = [sources.index(indices[r]) for r in range(rank)]
    return sources, component_source, rank
