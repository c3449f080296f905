"""Source separation: mixture in, named stems out.

:class:`Separator` chains the pipeline: front end (STFT or CQT) -> a model of the sources
(a factorisation of the magnitude, NMF, NMFD, NMF2D, PLCA, SI-PLCA, SI-PLCA 2-D, with the
grouping of its components into named sources; or any
:class:`~nmfsep.separation.SourceModel`, such as the recipes') -> soft (or binary) masks ->
inverse transform, chunk by chunk in one loop for every model. :func:`write_stems` writes the
result. Templates come from :func:`~nmfsep.separation.learn_templates`; the
clustering of free components is in :mod:`nmfsep.separation`.
"""

from __future__ import annotations

import ctypes
import functools
import inspect
import math
import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor
from tqdm import tqdm  # the text bar: tqdm.auto warns in kernels without ipywidgets

from .._core._validation import check_count, check_real
from .._errors import ParameterError, ParameterTypeError
from ._files import write_atomically
from ._frontend import FrontEnd, build_front_end, check_front_end
from ._models import LOG_FREQUENCY_MODELS, Factorisation, ModelSpec
from .grouping import cluster_components
from .io import _audio_writer, check_audio, check_sample_rate, load
from .masks import binary_mask, wiener_mask
from .source_models import SourceModel, SourceParts, check_source_model, fitted_bins
from .sources import GROUPINGS, ByClustering, ByHand, ByTemplates, PerComponent, _Assignment
from .templates import Templates, check_source_name

__all__ = ["Separator", "write_stems"]

PathLike = Union[str, "os.PathLike[str]"]


@dataclass
class _Plan:
    """Everything :meth:`Separator.separate` needs, validated and resolved."""

    front: FrontEnd
    model: SourceModel                   # a source model, or the Factorisation's (_Factorised)
    mask: Union[float, str]
    chunk: Optional[int]                 # samples
    overlap: int                         # samples
    device: Optional[torch.device]
    sample_rate: int


class Separator:
    r"""Separate a mixture into named sources with a non-negative factorisation.

    The mixture's magnitude spectrogram is factorised; the components are grouped into
    sources; each source's part of the model gives a soft mask that is applied to the
    mixture's complex spectrogram and inverted. The masks sum to one over the sources, so
    **the sources always sum back to the mixture** (up to the inverse transform's rounding).

    How components become sources: a grouping object, ``grouping=ByTemplates(templates,
    n_free=2)``, ``ByHand({...})``, ``ByClustering(k)`` or ``PerComponent()`` (they validate
    themselves when made; :mod:`nmfsep.separation`), or the same with flat keywords (give at
    most one of ``templates``, ``components``, ``n_sources``), which build those objects:

    * ``templates`` (:class:`~nmfsep.separation.Templates` or a file written by
      :meth:`Templates.save`): the templates are held fixed (``fixed_W``) and name the
      sources. ``n_free`` extra components are learned from the mixture and all belong to
      the source ``free_source`` (default ``"other"``, a new stem; name a template source,
      e.g. ``"harmonic"``, to let free components join it instead).
    * ``components={"bass": [0, 1], "piano": [2, 3, 4]}``: an unsupervised model of
      ``n_components``, grouped by hand (every component in exactly one source).
    * ``n_sources=k``: an unsupervised model of ``n_components``, grouped by clustering
      (:func:`~nmfsep.separation.cluster_components`, ``cluster_features`` and
      ``cluster_method``); the sources are named ``"source0"``, ... from the lowest
      spectral centroid to the highest.
    * none of them: one source per component, named ``"component0"``, ...

    Parameters
    ----------
    model : Factorisation, SourceModel or {"nmf", "nmfd", "plca", "siplca", "nmf2d", "siplca2"}, optional
        The factorisation: a :class:`~nmfsep.separation.Factorisation` such as
        ``Factorisation("nmfd", n_components=4, T=8, beta=1, max_iter=200)`` (it validates
        itself when made), or the model's name with ``n_components``, ``T``, ``n_shifts``,
        ``beta``, ``max_iter`` and ``tol`` below, which build the same object and are
        refused beside one. ``nmf2d`` and ``siplca2`` shift templates in pitch and need a CQT
        front end. Default: the model the templates were learned for (``"nmfd"`` for
        ``(freq, R, T)`` templates), else ``"nmf"``. Or any other model of the sources that
        answers :class:`~nmfsep.separation.SourceModel` (e.g.
        :class:`nmfsep.recipes.DrumNMFD`): it names its sources itself, so the settings of a
        factorisation and its grouping are refused beside it. A factorisation with its
        grouping answers the same protocol: every model runs through the same chunk loop.
    n_components : int, optional
        Number of components of an unsupervised model (not with templates).
    grouping : ByTemplates, ByHand, ByClustering or PerComponent, optional
        How components become sources; not with ``templates``, ``n_free``, ``free_source``,
        ``components``, ``n_sources``, ``cluster_features`` or ``cluster_method``, which
        describe the same (default: those keywords' grouping, else one source per component).
    templates : Templates, str or PathLike, optional
        Fixed templates of named sources. The sample rate and front-end settings must match.
    n_free : int, default 0
        Free components learned next to the ``templates``.
    free_source : str, default "other"
        Source of the free components.
    components : mapping of str to list of int, optional
        Component indices of each source.
    n_sources : int, optional
        Number of sources to cluster the components into.
    cluster_features : {"timbre", "spectrum", "activations"}, default "timbre"
    cluster_method : {"agglomerative", "kmeans"}, default "agglomerative"
    front_end : STFT, CQT, "stft" or "cqt", optional
        Time-frequency representation: a front-end object such as
        ``nmfsep.transforms.STFT(n_fft=1024, hop_length=256)`` or ``CQT(sample_rate, ...)``
        (anything that answers the protocol :class:`~nmfsep.separation.FrontEnd`;
        it is moved to ``device``), or its name with the settings below. Default: the
        templates' front end, else ``"stft"``.
    n_fft, hop_length, window : optional
        Settings of ``front_end="stft"``; default the templates', else 2048, ``n_fft // 4``,
        ``"hann"``. ``hop_length`` also sets
        the CQT's hop (default: the largest invertible one). Not with a front-end object.
    fmin, n_bins, bins_per_octave : optional
        Settings of ``front_end="cqt"``; default the templates', else 32.7 Hz (C1), up to
        Nyquist, 12.
    T, n_shifts, beta, max_iter, tol, solver : optional
        Settings of the factorisation when ``model`` is a name (see
        :class:`~nmfsep.separation.Factorisation`): template length in frames (``nmfd``,
        ``siplca``, ``nmf2d``, ``siplca2``; required without templates), pitch shifts of 2-D
        templates (default ``n_bins // 2``), beta-divergence (default 1; PLCA models: 1
        only), iterations (default 200), tolerance (default 1e-4) and solver (default
        ``"mu"``) of each fit.
    mask_power : float or "binary", default 2.0
        Soft-mask exponent: 1 ratio masks, 2 Wiener-like masks; ``"binary"`` for hard masks.
    chunk_duration : float or None, default 30.0
        Longer mixtures are separated in chunks of this many seconds, so memory does not
        grow with the length (a last piece shorter than half a chunk joins the chunk before,
        so chunks reach up to 1.5 times this); None processes the whole mixture at once.
    chunk_overlap : float, default 1.0
        Seconds shared by consecutive chunks, cross-faded (the fades sum to one); at most
        half of ``chunk_duration``.
    seed : int, optional
        Seed of the random initialisation (default 0: reproducible).
    verbose : bool, default False
        tqdm progress bars (the fit, or the chunks of a long mixture).
    device : str or torch.device, optional
        Where to compute (default: the mixture's device). Results come back on the
        mixture's device.

    Attributes
    ----------
    sources_ : tuple of str
        Source names, in the order of the returned dict.
    source_components_ : dict of str to list of int, or None
        Component indices of each source (None for a source model that is no
        factorisation).
    templates_ : Tensor or None
        The model's templates ``W`` after fitting (see the model's shapes); a source
        model's ``templates_`` attribute, if it has one.
    activations_ : Tensor or None
        ``(channels, R, frames)`` (``(channels, R, n_shifts, frames)`` for 2-D models) with
        ``frames`` exactly the spectrogram's number of frames: ``activations_[c, r, j]`` is
        the gain of template ``r`` *starting* at frame ``j`` in channel ``c``. A source
        model's are those its :class:`~nmfsep.separation.SourceParts` give, joined over the
        chunks (None if it gives none).
    spectrogram_ : Tensor or None
        Complex mixture representation ``(channels, freq, frames)`` (with a source model's
        ``lookahead`` frames after the end).
    masks_ : Tensor or None
        ``(sources, channels, freq, frames)``. ``spectrogram_`` and ``masks_`` are kept for
        mixtures processed in one piece and are None when chunked (bounded memory);
        ``masks_`` is None too after :meth:`fit`, and for a source model whose parts are
        shared by the channels (gains) or cover some of the bins only.
    model_ : torch.nn.Module or SourceModel
        The fitted factorisation (of the last chunk when chunked), or the source model.
    transform_ : STFT or CQT
        The front end (e.g. ``transform_.inverse``).
    frequencies_ : Tensor, shape (freq,)
        Bin centre frequencies in Hz.
    sample_rate_ : int
    n_chunks_ : int
    n_iter_ : list of int
        Iterations of the fit of every chunk (in processing order); empty for a source
        model.

    Notes
    -----
    *Multichannel.* Channels are the model's batch axis: the templates are shared by all
    channels, the activations are per channel, and each channel gets its own masks applied
    to its own spectrogram. A source present only in the left channel stays out of the
    right one. Output: ``(channels, samples)``, the input's length.

    *Activation alignment.* torchnmf's NMFD has ``T - 1`` activation frames fewer than
    the spectrogram. Here the NMFD / NMF2D activations have one entry per frame (templates
    may start at any frame, their tails past the end are cut off, and tails of templates
    started before the first frame are modelled too): ``activations_`` and ``spectrogram_``
    have the same number of frames. For SI-PLCA the last ``T - 1`` frames are zero.

    *Long mixtures.* With chunking, a model whose components are named by templates (and
    free components) is fitted on every chunk. A model grouped by ``components``,
    ``n_sources`` or one source per component learns its templates on the first non-silent
    chunk, which fixes what each component index means; the other chunks fit activations
    only, with those templates held fixed. Chunk boundaries lie on the frame grid. The one
    chunk loop serves every model: a factorisation with its grouping answers the protocol
    :class:`~nmfsep.separation.SourceModel` as any other source model does, whose
    ``prepare`` sees the whole mixture before the chunks (e.g. the drum recipe's template
    adaptation on excerpts) and whose ``parts`` each chunk's magnitude.

    *Silence.* An all-zero mixture raises a ValueError (nothing to separate). Silent
    chunks inside a mixture give silent sources.

    *CQT residual.* The CQT does not represent what lies below ``fmin`` and above the
    highest bin; that residual is shared equally by the sources, so they still sum to the
    mixture.

    Examples
    --------
    Drum separation with NMFD templates learned from isolated hits (paths relative to the
    repository root):

    >>> from nmfsep.io import load
    >>> from nmfsep.separation import Separator, learn_templates, write_stems
    >>> mixture, sr = load("audio_examples/drums_mix.wav")  # doctest: +SKIP
    >>> templates = learn_templates({"kick": "audio_examples/hits/kick.wav",
    ...     "snare": "audio_examples/hits/snare.wav", "hihat": "audio_examples/hits/hihat.wav"},
    ...     sample_rate=sr, n_fft=1024, hop_length=256, T=16)  # doctest: +SKIP
    >>> stems = Separator(templates=templates).separate(mixture, sr)  # doctest: +SKIP
    >>> write_stems(stems, "separated", sr)  # doctest: +SKIP

    Unsupervised NMF with components clustered into two sources:

    >>> import torch
    >>> from nmfsep.separation import Separator
    >>> t = torch.arange(16000) / 8000
    >>> mixture = torch.sin(2 * torch.pi * 220 * t) + 0.1 * torch.randn(16000)
    >>> separator = Separator(n_components=4, n_sources=2, n_fft=512, max_iter=50)
    >>> stems = separator.separate(mixture, 8000)
    >>> sorted(stems), stems["source0"].shape
    (['source0', 'source1'], torch.Size([1, 16000]))
    >>> bool((stems["source0"] + stems["source1"] - mixture).abs().max() < 1e-5)
    True

    The same separator composed of a front end, a factorisation and a grouping, objects
    that validate themselves when they are made:

    >>> from nmfsep.separation import ByClustering, Factorisation
    >>> from nmfsep.transforms import STFT
    >>> composed = Separator(front_end=STFT(n_fft=512),
    ...                      model=Factorisation("nmf", n_components=4, max_iter=50),
    ...                      grouping=ByClustering(2))
    >>> all(torch.equal(composed.separate(mixture, 8000)[s], stems[s]) for s in stems)
    True
    """

    def __init__(
        self,
        *,
        model: Union[Factorisation, SourceModel, str, None] = None,
        n_components: Optional[int] = None,
        grouping: Union[ByTemplates, ByHand, ByClustering, PerComponent, None] = None,
        templates: Union[Templates, PathLike, None] = None,
        n_free: int = 0,
        free_source: str = "other",
        components: Optional[Mapping[str, Sequence[int]]] = None,
        n_sources: Optional[int] = None,
        cluster_features: str = "timbre",
        cluster_method: str = "agglomerative",
        front_end: Union[str, FrontEnd, None] = None,
        n_fft: Optional[int] = None,
        hop_length: Optional[int] = None,
        window: Optional[str] = None,
        fmin: Optional[float] = None,
        n_bins: Optional[int] = None,
        bins_per_octave: Optional[int] = None,
        T: Optional[int] = None,
        n_shifts: Optional[int] = None,
        beta: float = 1.0,
        max_iter: int = 200,
        tol: float = 1e-4,
        solver: str = "mu",
        mask_power: Union[float, str] = 2.0,
        chunk_duration: Optional[float] = 30.0,
        chunk_overlap: float = 1.0,
        seed: Optional[int] = 0,
        verbose: bool = False,
        device: Union[str, torch.device, None] = None,
    ):
        self.model = model
        self.n_components = n_components
        self.grouping = grouping
        self.templates = templates
        self.n_free = n_free
        self.free_source = free_source
        self.components = components
        self.n_sources = n_sources
        self.cluster_features = cluster_features
        self.cluster_method = cluster_method
        self.front_end = front_end
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.window = window
        self.fmin = fmin
        self.n_bins = n_bins
        self.bins_per_octave = bins_per_octave
        self.T = T
        self.n_shifts = n_shifts
        self.beta = beta
        self.max_iter = max_iter
        self.tol = tol
        self.solver = solver
        self.mask_power = mask_power
        self.chunk_duration = chunk_duration
        self.chunk_overlap = chunk_overlap
        self.seed = seed
        self.verbose = verbose
        self.device = device

    # -- scikit-learn conventions ----------------------------------------------------------
    @classmethod
    def _param_names(cls) -> List[str]:
        return list(cls._defaults())

    @classmethod
    def _defaults(cls) -> dict:
        """The constructor parameters' defaults, read from its signature: one place says what
        "not given" means."""
        return {n: p.default for n, p in inspect.signature(cls.__init__).parameters.items() if n != "self"}

    def _given(self, names: Sequence[str]) -> List[str]:
        """Those of the parameters ``names`` set to something else than their default."""
        defaults = self._defaults()
        return [n for n in names if not (getattr(self, n) is defaults[n] or getattr(self, n) == defaults[n])]

    def get_params(self, deep: bool = True) -> dict:
        """The constructor parameters, as given."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> "Separator":
        """Set constructor parameters (validated at the next :meth:`separate`)."""
        unknown = set(params) - set(self._param_names())
        if unknown:
            raise ParameterError(f"unknown parameters {sorted(unknown)}; see help(Separator).")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = self._defaults()
        changed = [f"{k}={v!r}" for k, v in self.get_params().items()
                   if not (v is defaults[k] or (type(v) is type(defaults[k]) and v == defaults[k]))]
        return f"Separator({', '.join(changed)})"

    # -- validation (the one place) --------------------------------------------------------
    def _resolve(self, sample_rate: int) -> _Plan:
        source_model = self._source_model()
        factorisation = None if source_model is not None else self._factorisation()
        mask = _check_mask_power(self.mask_power)
        if not isinstance(self.verbose, bool):
            raise ParameterTypeError(f"verbose must be True or False, got {self.verbose!r}.")
        if self.seed is not None and not isinstance(self.seed, numbers.Integral):
            raise ParameterTypeError(f"seed must be an integer or None, got {self.seed!r}.")
        device = None if self.device is None else torch.device(self.device)
        chunk, overlap = chunk_sizes(self.chunk_duration, self.chunk_overlap, sample_rate)
        grouping = self._grouping() if source_model is None else None
        templates = None if grouping is None else grouping.templates

        # model and front end
        front = self._front_end(sample_rate, templates)
        if source_model is None:
            spec = factorisation.spec(front, templates)
            if templates is not None:
                templates.check_compatible(sample_rate, front)
        if chunk is not None and chunk // 2 < max(front.min_length(), 2 * front.hop_length):
            raise ParameterError(
                f"chunk_duration={self.chunk_duration} s is too short for hop_length="
                f"{front.hop_length} (and n_fft): use chunks of several seconds, or None."
            )
        if source_model is not None:
            return _Plan(front, source_model, mask, chunk, overlap, device, sample_rate)

        # components -> sources
        assignment = grouping.assign(factorisation.n_components)
        init, fixed = None, None
        if templates is not None:  # the templates held fixed, the free components learned
            n_fixed = templates.n_components
            fixed = torch.tensor([True] * n_fixed + [False] * (assignment.rank - n_fixed))
            init = templates.W
            if assignment.rank > n_fixed:
                extra = torch.rand(spec.template_shape(assignment.rank - n_fixed),
                                   dtype=init.dtype, generator=_generator(self.seed))
                init = torch.cat([init, extra], 1)
        model = _Factorised(spec, assignment, grouping, init, fixed, factorisation.fit_options,
                            seed=self.seed, verbose=self.verbose)
        return _Plan(front, model, mask, chunk, overlap, device, sample_rate)

    def _source_model(self) -> Optional[SourceModel]:
        """The source model given as ``model``, checked (None for a factorisation)."""
        if self.model is None or isinstance(self.model, (str, Factorisation)):
            return None
        model = check_source_model(self.model)
        settings = ("n_components", "T", "n_shifts", "beta", "max_iter", "tol", "solver", "grouping",
                    "templates", "n_free", "free_source", "components", "n_sources",
                    "cluster_features", "cluster_method")
        given = self._given(settings)
        if given:
            raise ParameterError(f"{given} are settings of a factorisation and its grouping: a "
                                 f"source model ({type(model).__name__}) has its own.")
        return model

    def _factorisation(self) -> Factorisation:
        """The factorisation object given, or the one the flat keywords describe."""
        flat = dict(n_components=self.n_components, T=self.T, n_shifts=self.n_shifts,
                    beta=self.beta, max_iter=self.max_iter, tol=self.tol, solver=self.solver)
        if isinstance(self.model, Factorisation):
            given = self._given(flat)
            if given:
                raise ParameterError(f"{given} are settings of the factorisation: with "
                                     f"model=Factorisation(...), set them on the object.")
            return self.model
        return Factorisation(self.model, **flat)  # a name or None (_source_model took the rest)

    def _grouping(self):
        """The grouping object given, or the one the flat keywords describe."""
        flat = [n for n in ("templates", "components", "n_sources") if getattr(self, n) is not None]
        if self.grouping is not None:
            defaults = dict(n_free=0, free_source="other", cluster_features="timbre",
                            cluster_method="agglomerative")
            flat += [n for n, v in defaults.items() if getattr(self, n) != v]
            if flat:
                raise ParameterError(f"{flat} describe the grouping: with grouping=, set them on "
                                     f"the grouping object.")
            if not isinstance(self.grouping, GROUPINGS):
                raise ParameterTypeError(
                    f"grouping must be one of {[g.__name__ for g in GROUPINGS]} (nmfsep.separation), "
                    f"got {type(self.grouping).__name__}.")
            return self.grouping
        if len(flat) > 1:
            raise ParameterError(
                f"give only one of templates, components and n_sources (got {', '.join(flat)}): "
                f"templates name their sources, components maps indices to sources by hand, "
                f"n_sources clusters them."
            )
        if self.templates is None and self.n_free:
            raise ParameterError("n_free adds free components next to templates; without templates "
                                 "use n_components.")
        if self.templates is not None:
            return ByTemplates(self.templates, self.n_free, self.free_source)
        if self.components is not None:
            return ByHand(self.components)
        if self.n_sources is not None:
            return ByClustering(self.n_sources, self.cluster_features, self.cluster_method)
        return PerComponent()

    def _front_end(self, sample_rate: int, templates: Optional[Templates]) -> FrontEnd:
        """The front-end object given, or the one the string form and the flat settings
        (unset: the templates' settings, then the defaults) describe."""
        flat = dict(n_fft=self.n_fft, hop_length=self.hop_length, window=self.window,
                    fmin=self.fmin, n_bins=self.n_bins, bins_per_octave=self.bins_per_octave)
        if self.front_end is not None and not isinstance(self.front_end, str):
            given = sorted(k for k, v in flat.items() if v is not None)
            if given:
                raise ParameterError(f"{given} are settings of the front end: with a front-end "
                                 f"object, set them on the object.")
            front = check_front_end(self.front_end)
            front.bin_frequencies(sample_rate)  # a front end made for another rate raises
            return front
        kind = self.front_end or (templates.front_end if templates is not None else "stft")
        if templates is not None and templates.front_end == kind:
            flat = dict(templates.settings, **{k: v for k, v in flat.items() if v is not None})
        return build_front_end(kind, sample_rate, **flat)

    # -- separation ------------------------------------------------------------------------
    def separate(self, waveform, sample_rate: int) -> Dict[str, Tensor]:
        r"""Separate a mixture into its sources.

        Parameters
        ----------
        waveform : Tensor or ndarray, shape (samples,) or (channels, samples)
            The mixture, real floating point, nominally in ``[-1, 1]``.
        sample_rate : int
            Its sampling rate in Hz (must match the templates').

        Returns
        -------
        dict of str to Tensor
            ``{source: waveform (channels, samples)}`` in the order of :attr:`sources_`,
            the input's length, dtype and device. The sources sum to the mixture.

        Raises
        ------
        TypeError
            If the mixture is not a real floating-point tensor/array.
        ValueError
            On an empty, silent or non-finite mixture, a mixture shorter than the front end
            needs, a sample rate other than the templates', or invalid parameters.
        """
        return self._run(waveform, sample_rate, stems=True)

    def fit(self, waveform, sample_rate: int) -> "Separator":
        """Fit the model to a mixture, chunk by chunk, without masks or inverse transforms.

        The same chunk loop as :meth:`separate`, for what only the fitted model is needed
        for (e.g. onset detection from :attr:`activations_`): every attribute but
        :attr:`masks_` is set as :meth:`separate` sets it, and a source model keeps its
        own fitted attributes.

        Parameters
        ----------
        waveform, sample_rate
            As in :meth:`separate`.

        Returns
        -------
        Separator
            ``self``.
        """
        self._run(waveform, sample_rate, stems=False)
        return self

    def _run(self, waveform, sample_rate: int, *, stems: bool) -> Dict[str, Tensor]:
        waveform = check_audio(waveform, name="mixture")
        if waveform.ndim > 2:
            raise ParameterError(f"mixture must have shape (samples,) or (channels, samples), got "
                             f"{tuple(waveform.shape)}; separate one mixture at a time.")
        waveform = waveform.reshape(-1, waveform.shape[-1])
        if waveform.shape[0] > waveform.shape[1]:
            raise ParameterError(f"mixture has shape {tuple(waveform.shape)}: more channels than samples; "
                             f"for a (samples, channels) array pass its transpose.")
        sample_rate = check_sample_rate(sample_rate)
        plan = self._resolve(sample_rate)
        out_device = waveform.device
        device = plan.device or waveform.device
        dtype = waveform.dtype if waveform.dtype in (torch.float32, torch.float64) else torch.float32
        mixture = waveform.to(device=device, dtype=dtype)
        front, model = plan.front, plan.model
        front.to(device)
        if mixture.shape[-1] < front.min_length():
            front.analyse(mixture)  # raises the front end's error about the length
        hop = front.hop_length
        alignment = check_count(getattr(model, "chunk_alignment", 1), "chunk_alignment")
        lookahead = hop * check_count(getattr(model, "lookahead", 0), "lookahead", minimum=0)
        power = check_real(getattr(model, "power", 1.0), "power", low=0, low_open=True)
        mask = plan.mask if plan.mask == "binary" else plan.mask / power
        n_fit = fitted_bins(front, sample_rate, getattr(model, "fit_bandwidth", None))
        context, complex_input = _context_options(model, front.n_freqs, n_fit)

        n_samples = mixture.shape[-1]
        overlap = plan.overlap if context is None else 2 * context + hop * alignment
        if context is not None and plan.chunk is not None and plan.chunk < 2 * overlap:
            raise ParameterError(
                f"chunk_duration={self.chunk_duration} s is too short for the context of "
                f"{type(model).__name__} ({context} samples on either side): use at least "
                f"{2 * overlap / sample_rate:.1f} s, or None.")
        bounds = chunk_bounds(n_samples, plan.chunk, overlap, hop * alignment)
        chunked = len(bounds) > 1
        prepare = getattr(model, "prepare", None)
        order = None if prepare is None else prepare(mixture, sample_rate, front, bounds)
        order = range(len(bounds)) if order is None else order

        joined = activations = sources = spectrogram = masks = None
        bar = tqdm(order, desc="chunks", disable=not (self.verbose and chunked), leave=False)
        for k in bar:
            start, end = bounds[k]
            length = end - start + lookahead  # the look-ahead: the mixture's next samples
            chunk = mixture[:, start:end] if not lookahead else _segment(mixture, start, length)
            spectrogram, residual = front.analyse(chunk)
            waveform_in = chunk if complex_input else None  # the chunk itself, for such a model
            del chunk
            fitted = (model.parts(spectrogram, waveform_in) if complex_input
                      else model.parts(spectrogram[:, :n_fit].abs()))
            del waveform_in
            sources = model.sources
            if sources is None:  # a clustering model met only silence
                raise ParameterError("nothing to separate: the mixture has no energy in the front "
                                 "end's frequency range.")
            _check_parts(fitted, model, len(sources), spectrogram.shape, n_fit, lookahead // hop,
                         end - start)
            if joined is None:
                joined = mixture.new_zeros((len(sources) if stems else 0,) + tuple(mixture.shape))
                if fitted.activations is not None:
                    activations = mixture.new_zeros(fitted.activations.shape[:-1]
                                                    + (front.n_frames(n_samples),))
            parts, masks = fitted.parts, None
            if not stems:
                chunk_stems = joined.new_zeros((0, mixture.shape[0], end - start))
            elif fitted.stems is not None:  # the model's own last step
                chunk_stems = fitted.stems
            elif parts is None:  # silent to the model: silent sources
                chunk_stems = mixture.new_zeros((len(sources), mixture.shape[0], end - start))
                if residual is not None:
                    chunk_stems += residual[..., :end - start] / len(sources)
            else:
                if fitted.gains is None and parts.shape[1:3] == spectrogram.shape[:2]:
                    masks = parts  # the masks overwrite the parts (kept as masks_)
                chunk_stems = masked_stems(front, spectrogram, parts, length, power=mask,
                                           gains=fitted.gains, keep=end - start,
                                           residual=residual, masks_out=masks)
            chunk_activations = fitted.activations
            del parts, residual, fitted
            if chunked:  # only the model outlives a chunk: its buffers go before the next
                spectrogram = masks = None
            add_chunk(joined, chunk_stems, bounds, k, activations=activations,
                      chunk_activations=chunk_activations, hop=hop, crossfade=context is None)
            del chunk_stems, chunk_activations
        self.sources_ = tuple(sources)
        factorised = isinstance(model, _Factorised)
        self.source_components_ = (dict(zip(sources, _members(model.component_source, len(sources))))
                                   if factorised else None)
        self.model_ = model.model_ if factorised else model
        self.templates_ = model.templates_ if factorised else getattr(model, "templates_", None)
        self.activations_ = None if activations is None else activations.to(out_device)
        self.spectrogram_ = None if chunked else spectrogram.to(out_device)
        self.masks_ = None if chunked or masks is None else masks.to(out_device)
        self.transform_ = front
        self.frequencies_ = front.bin_frequencies(sample_rate)
        self.sample_rate_ = sample_rate
        self.n_chunks_ = len(bounds)
        self.n_iter_ = model.n_iter_ if factorised else []
        joined = joined.to(device=out_device, dtype=waveform.dtype)
        return {name: joined[i] for i, name in enumerate(sources)} if stems else {}

    def separate_file(self, path: PathLike, *, resample: bool = False) -> Dict[str, Tensor]:
        """Load an audio file and separate it (see :meth:`separate`).

        Parameters
        ----------
        path : str or PathLike
            Any audio file :func:`nmfsep.io.load` reads.
        resample : bool, default False
            Resample the file to the templates' sample rate when it differs (otherwise such
            a file raises a ValueError). The rate used is :attr:`sample_rate_`.

        Returns
        -------
        dict of str to Tensor
            ``{source: waveform (channels, samples)}``.

        Raises
        ------
        FileNotFoundError, ValueError
            On a missing or unreadable file, and as :meth:`separate`.
        """
        rate = None
        templates = self._grouping().templates if resample else None
        if templates is not None:
            rate = templates.sample_rate
        waveform, sample_rate = load(path, sample_rate=rate)
        if not waveform.any():
            raise ParameterError(f"'{path}' is silent (all samples are zero): there is nothing to separate.")
        return self.separate(waveform, sample_rate)


class _Factorised:
    """A :class:`Factorisation` with its grouping, as the :class:`SourceModel` that
    :class:`Separator`'s chunk loop fits (one per :meth:`Separator.separate`).

    Components named by templates (and free components) are fitted on every chunk; a model
    grouped by hand, by clustering or one source per component learns its templates on the
    first chunk with sound (:meth:`prepare` puts it first) and holds them fixed in the
    others, so every component index keeps its meaning.
    """

    power = 1.0
    lookahead = 0
    fit_bandwidth = None
    chunk_alignment = 1

    def __init__(self, spec: ModelSpec, assignment: _Assignment, grouping, templates: Optional[Tensor],
                 fixed: Optional[Tensor], fit: dict, *, seed: Optional[int], verbose: bool):
        self.spec, self.assignment, self.grouping = spec, assignment, grouping
        self.initial_templates, self.initial_fixed = templates, fixed
        self.fit, self.seed, self.verbose = fit, seed, verbose

    def prepare(self, mixture: Tensor, sample_rate: int, front: FrontEnd,
                bounds: Sequence[Tuple[int, int]]) -> List[int]:
        self.frequencies = front.bin_frequencies(sample_rate)
        self.generator = _generator(self.seed)
        self.W, self.fixed = self.initial_templates, self.initial_fixed
        self.sources, self.component_source = self.assignment.sources, self.assignment.component_source
        self.model_, self.n_iter_ = None, []
        self.verbose_fit = self.verbose and len(bounds) == 1
        order = list(range(len(bounds)))
        if self.assignment.learn_once and len(bounds) > 1:
            # learn on the first chunk with sound, so templates exist before the others
            first = next((k for k, (s, e) in enumerate(bounds) if mixture[:, s:e].any()), 0)
            order = [first] + [k for k in order if k != first]
        return order

    @property
    def templates_(self) -> Optional[Tensor]:
        """The last chunk's templates (the shared ones after a silent last chunk)."""
        return self.spec.templates(self.model_) if self.model_ is not None else self.W

    def parts(self, X: Tensor) -> SourceParts:
        spec, assignment = self.spec, self.assignment
        channels, _, frames = X.shape
        if not X.any():  # a silent chunk: silent sources, no activity
            shifts = (spec.n_shifts,) if spec.kind in LOG_FREQUENCY_MODELS else ()
            self.model_ = None
            self.n_iter_.append(0)
            return SourceParts(None, activations=X.new_zeros((channels, assignment.rank) + shifts
                                                             + (frames,)))
        model = spec.build(X, assignment.rank, templates=self.W, fixed=self.fixed,
                           generator=self.generator)
        self.n_iter_.append(spec.fit(model, spec.target(X), verbose=self.verbose_fit, **self.fit))
        activations = spec.activations(model, channels, frames)
        if self.component_source is None:  # cluster the components into sources, once
            labels = cluster_components(
                spec.templates(model), assignment.n_clusters, activations=activations,
                frequencies=self.frequencies, features=self.grouping.features,
                method=self.grouping.method, seed=self.seed,
            )
            self.component_source = labels.tolist()
            self.sources = tuple(f"source{i}" for i in range(assignment.n_clusters))
        parts = torch.stack([spec.part(model, members, channels, frames)
                             for members in _members(self.component_source, len(self.sources))])
        if assignment.learn_once and self.W is None:
            # the templates learned here keep their meaning in every other chunk
            self.W = spec.templates(model)
            self.fixed = torch.ones(assignment.rank, dtype=torch.bool)
        self.model_ = model
        return SourceParts(parts, activations=activations)


def _context_options(model, n_freqs: int, n_fit: int) -> Tuple[Optional[int], bool]:
    """A source model's ``context`` (samples, or None) and ``complex_input``, checked."""
    context = getattr(model, "context", None)
    if context is not None:
        context = check_count(context, "context", minimum=0)
    complex_input = getattr(model, "complex_input", False)
    if not isinstance(complex_input, bool):
        raise ParameterTypeError(f"complex_input must be True or False, got {complex_input!r}.")
    if complex_input and n_fit != n_freqs:
        raise ParameterError("a model with complex_input is given every bin: its fit_bandwidth "
                             "must be None.")
    return context, complex_input


def _check_parts(fitted, model, n_sources: int, shape: Tuple[int, int, int], n_fit: int,
                 lookahead: int, samples: int) -> None:
    """A ParameterError unless ``fitted`` is :class:`SourceParts` of ``n_sources`` sources
    for a spectrogram of ``shape`` (channels, bins, frames) fitted on ``n_fit`` bins, with
    activations for its frames less the ``lookahead`` (or stems of ``samples`` samples)."""
    channels, _, frames = shape
    name = type(model).__name__
    if not isinstance(fitted, SourceParts):
        raise ParameterTypeError(f"{name}.parts must return SourceParts (nmfsep.separation), got "
                                 f"{type(fitted).__name__}.")
    if fitted.stems is not None and (fitted.parts is not None or tuple(fitted.stems.shape) != (
            n_sources, channels, samples)):
        raise ParameterError(
            f"{name}.parts gave stems of shape {tuple(fitted.stems.shape)}"
            f"{' and parts' if fitted.parts is not None else ''}; stems come instead of parts "
            f"(None), of shape ({n_sources}, {channels}, {samples}).")
    parts, gains = fitted.parts, fitted.gains
    if parts is not None and (parts.dim() != 4 or parts.shape[0] != n_sources
                              or parts.shape[1] not in (1, channels)
                              or tuple(parts.shape[2:]) != (n_fit, frames)):
        raise ParameterError(
            f"{name}.parts gave parts of shape {tuple(parts.shape)}; for {n_sources} sources, "
            f"{channels} channel(s), {n_fit} bins and {frames} frames they must be "
            f"({n_sources}, {channels} or 1, {n_fit}, {frames}).")
    if gains is not None and tuple(gains.shape) != (n_sources, channels, 1, 1):
        raise ParameterError(f"{name}.parts gave gains of shape {tuple(gains.shape)}; they must be "
                             f"({n_sources}, {channels}, 1, 1).")
    if fitted.activations is not None and fitted.activations.shape[-1] != frames - lookahead:
        raise ParameterError(f"{name}.parts gave activations of {fitted.activations.shape[-1]} "
                             f"frames, the chunk has {frames - lookahead} (and {lookahead} of "
                             f"look-ahead).")


def _segment(signal: Tensor, start: int, length: int) -> Tensor:
    """``signal[:, start:start + length]``, with zeros after the end of the signal."""
    piece = signal[:, start:start + length]
    return torch.nn.functional.pad(piece, (0, length - piece.shape[-1]))


def add_chunk(stems: Tensor, chunk_stems: Tensor, bounds: Sequence[Tuple[int, int]], k: int, *,
              activations: Optional[Tensor] = None, chunk_activations: Optional[Tensor] = None,
              hop: int = 1, crossfade: bool = True) -> None:
    """Cross-fade chunk ``k``'s stems into the whole mixture's, in place.

    Serves :class:`Separator`'s one chunk loop (which runs the drum, piano-bass and
    drums/harmonic recipes; the cascade, :func:`nmfsep.recipes.hpss_cascade`, with
    ``crossfade=False``). Every chunk loop goes through here, so this is also where the
    memory its buffers took goes back to the system (:func:`release_freed_memory`):
    otherwise the C heap keeps it and the process grows with the number of chunks.

    Parameters
    ----------
    stems : Tensor, shape (sources, channels, samples)
        The whole mixture's stems, zero before the first chunk is added.
    chunk_stems : Tensor, shape (sources, channels, end - start)
        Chunk ``k``'s stems, ``bounds[k] = (start, end)`` in samples.
    bounds : sequence of (int, int)
        The chunks, from :func:`chunk_bounds`.
    k : int
        Which chunk.
    activations, chunk_activations : Tensor, optional
        The whole mixture's activations ``(..., frames)`` and the chunk's (frame 0 at sample
        ``start``, ``hop`` samples a frame): frames from the middle of the overlap with the
        previous chunk to the middle of the next overlap are copied.
    hop : int
        Hop of the activations' frames in samples (``start`` is a multiple of it).
    crossfade : bool, default True
        False: copy the chunk's samples from the middle of its overlap with the previous
        chunk to the middle of the next overlap, as the activations are, with no fades. For
        chunks computed with enough context that they equal the whole mixture's result there
        (local filters whose reach is under half the overlap): the joined stems are then the
        whole mixture's.

    Notes
    -----
    Chunk ``k`` fades in over its overlap with chunk ``k - 1`` and out over the next one
    with sin² ramps, which sum to one with their neighbours': stems that sum to their chunk of
    the mixture sum to the whole mixture.
    """
    start, end = bounds[k]
    length = end - start
    if crossfade:
        weight = chunk_stems.new_ones(length)
        if k > 0:  # fade in over the overlap with the previous chunk (sin², sums to one)
            n = bounds[k - 1][1] - start
            weight[:n] = _fade_in(n, chunk_stems)
        if k + 1 < len(bounds):
            n = end - bounds[k + 1][0]
            weight[length - n:] = 1 - _fade_in(n, chunk_stems)
        stems[:, :, start:end].addcmul_(chunk_stems, weight)  # no chunk-sized temporary
    else:
        first = start if k == 0 else (start + bounds[k - 1][1]) // 2
        last = end if k + 1 == len(bounds) else (bounds[k + 1][0] + end) // 2
        stems[:, :, first:last] = chunk_stems[:, :, first - start:last - start]
    if activations is not None:
        _add_chunk_activations(activations, chunk_activations, bounds, k, hop)
    release_freed_memory()


def _add_chunk_activations(activations: Tensor, chunk_activations: Tensor,
                           bounds: Sequence[Tuple[int, int]], k: int, hop: int) -> None:
    start, end = bounds[k]
    # activations: frames from the middle of the previous overlap to the middle of the next
    first = 0 if k == 0 else _first_frame_after((start + bounds[k - 1][1]) // 2, hop)
    last = (activations.shape[-1] if k + 1 == len(bounds)
            else _first_frame_after((bounds[k + 1][0] + end) // 2, hop))
    offset = start // hop
    local = chunk_activations[..., first - offset:last - offset]
    activations[..., first:first + local.shape[-1]] = local


@functools.lru_cache(maxsize=None)
def _malloc_trim():
    """glibc's ``malloc_trim``, or None without glibc (macOS, Windows, musl)."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
            return None
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, ValueError, OSError):  # no confstr, no such name, no symbol
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_freed_memory() -> bool:
    """Give the pages of freed heap memory back to the system (glibc's ``malloc_trim(0)``).

    glibc keeps the memory of freed buffers under its mmap threshold (which rises to 32 MiB
    as large buffers are freed) for later allocations, and a chunk loop frees a chunk's
    buffers and allocates others of other sizes: after the chunks of 6 minutes of stereo
    drums it kept 130-210 MiB (1-2x the mixture), which the next chunk's peak came on top of.
    :func:`add_chunk` calls this after every chunk. The pages are faulted in again when
    they are used (cheap next to a chunk's work).

    Returns
    -------
    bool
        True if the C library has ``malloc_trim`` (Linux with glibc) and it was called;
        False, having done nothing, elsewhere.

    Examples
    --------
    >>> from nmfsep._pipeline.separation import release_freed_memory
    >>> isinstance(release_freed_memory(), bool)
    True
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


#: Spectrogram entries synthesised at once (sources x bins x frames of one channel): 16 MiB of
#: complex64, a block of sources per inverse transform (thousands of one-component sources
#: of a short clip) with buffers bounded however many sources there are.
_SYNTHESIS_BLOCK = 2 ** 21


def _members(component_source: Sequence[int], n_sources: int) -> List[List[int]]:
    """The components of each source, ``[[r, ...] for every source]`` (in one pass)."""
    members: List[List[int]] = [[] for _ in range(n_sources)]
    for component, source in enumerate(component_source):
        members[source].append(component)
    return members


#: Frames of masks computed at once: S-fold temporaries of the whole chunk would otherwise be
#: the largest buffers.
_MASK_BLOCK = 256


def source_masks(parts: Tensor, power: Union[float, str], *, gains: Optional[Tensor] = None,
                 n_bins: Optional[int] = None, out: Optional[Tensor] = None) -> Tensor:
    """Masks ``(sources, n_bins, frames)`` of one channel from its sources' model spectrograms.

    Parameters
    ----------
    parts : Tensor, shape (sources, freq, frames)
        Non-negative model spectrogram of every source (the sum of its components' parts).
    power : float or "binary"
        Soft-mask exponent (:func:`~nmfsep.masks.wiener_mask`: 1 ratio masks, 2
        Wiener-like) or ``"binary"`` (:func:`~nmfsep.masks.binary_mask`).
    gains : Tensor, shape (sources, 1, 1), optional
        The sources' levels in this channel, multiplying ``parts`` (a model shared by the
        channels, :func:`nmfsep.recipes` drum and piano-bass recipes).
    n_bins : int, optional
        Bins of the masks, default ``freq``. Above ``freq`` (a model fitted to a lower band)
        the bins repeat the mean masks of the band's top octave.
    out : Tensor, shape (sources, n_bins, frames), optional
        Where to write the masks; may be ``parts`` itself (without ``gains`` and extra bins),
        which then holds the masks.

    Returns
    -------
    Tensor, shape (sources, n_bins, frames)
        Masks summing to one over the sources, computed :data:`_MASK_BLOCK` frames at a time.
    """
    n_fit = parts.shape[-2]
    n_bins = n_fit if n_bins is None else n_bins
    if out is None:
        out = parts.new_empty(parts.shape[:-2] + (n_bins, parts.shape[-1]))
    for start in range(0, parts.shape[-1], _MASK_BLOCK):
        piece = parts[..., start:start + _MASK_BLOCK]
        if gains is not None:
            piece = piece * gains
        masks = binary_mask(piece) if power == "binary" else wiener_mask(piece, power)
        out[..., :n_fit, start:start + _MASK_BLOCK] = masks
        if n_bins > n_fit:
            out[..., n_fit:, start:start + _MASK_BLOCK] = masks[..., n_fit // 2:, :].mean(
                -2, keepdim=True)
    return out


def masked_stems(front: FrontEnd, spectrogram: Tensor, parts: Tensor, length: int, *,
                 power: Union[float, str] = 2.0, gains: Optional[Tensor] = None,
                 keep: Optional[int] = None, residual: Optional[Tensor] = None,
                 masks_out: Optional[Tensor] = None) -> Tensor:
    """Parts -> masks -> inverse: the stems of a mixture from its sources' model spectrograms.

    The one path from a model to waveforms, shared by :class:`Separator` and the recipes
    (:mod:`nmfsep.recipes`). One channel at a time (:func:`source_masks`), and per channel a
    block of sources per inverse transform: the masked spectrograms of all at once would be
    the largest temporaries.

    Parameters
    ----------
    front : FrontEnd
        The front end that analysed the mixture (its ``synthesise``).
    spectrogram : Tensor, shape (channels, n_bins, frames)
        The mixture's complex representation.
    parts : Tensor, shape (sources, channels or 1, freq, frames)
        Non-negative model spectrogram of every source in every channel, or shared by the
        channels (one channel, with ``gains``); ``freq <= n_bins`` (see :func:`source_masks`).
    length : int
        Samples of the analysed signal.
    power : float or "binary", default 2.0
        As in :func:`source_masks`.
    gains : Tensor, shape (sources, channels, 1, 1), optional
        Every source's level in every channel, for ``parts`` shared by the channels.
    keep : int, optional
        Samples of each stem kept from the start (default ``length``; fewer when the signal
        was padded after its end).
    residual : Tensor, shape (channels, length), optional
        What the front end left out (a CQT's out-of-band part), shared equally by the stems.
    masks_out : Tensor, shape (sources, channels, n_bins, frames), optional
        Where to keep the masks (may be ``parts`` itself).

    Returns
    -------
    Tensor, shape (sources, channels, keep)
        The stems, summing to the mixture (the masks sum to one).
    """
    n_sources, n_channels = parts.shape[0], spectrogram.shape[0]
    keep = length if keep is None else keep
    stems = spectrogram.real.new_empty((n_sources, n_channels, keep))
    block = max(1, _SYNTHESIS_BLOCK // spectrogram[0].numel())
    for c in range(n_channels):
        masks = source_masks(parts[:, 0 if parts.shape[1] == 1 else c], power,
                             gains=None if gains is None else gains[:, c],
                             n_bins=spectrogram.shape[-2],
                             out=None if masks_out is None else masks_out[:, c])
        for start in range(0, n_sources, block):
            waveforms = front.synthesise(masks[start:start + block] * spectrogram[c], length)
            stems[start:start + block, c] = waveforms[..., :keep]
        del masks, waveforms  # before the next channel's
    if residual is not None:  # the CQT's out-of-band part, shared equally
        stems += residual[..., :keep] / n_sources
    return stems


def _first_frame_after(sample: int, hop: int) -> int:
    return -(-sample // hop)


def _fade_in(n: int, like: Tensor) -> Tensor:
    t = (torch.arange(n, dtype=like.dtype, device=like.device) + 0.5) / n
    return torch.sin(0.5 * math.pi * t) ** 2


def chunk_bounds(n_samples: int, chunk: Optional[int], overlap: int, hop: int) -> List[Tuple[int, int]]:
    """``[(start, end), ...]`` of chunks of ``chunk`` samples overlapping by ``overlap``.

    Starts are multiples of ``hop`` (so chunk frames lie on the whole signal's frame grid),
    so the overlaps are ``overlap`` or up to a hop less;
    a last chunk shorter than half a chunk is merged into the one before. A chunk overlaps
    only its neighbours (a ValueError otherwise): :func:`add_chunk`'s joins rely on it.
    """
    if chunk is None or n_samples <= chunk:
        return [(0, n_samples)]
    # the step rounded up to the frame grid: overlaps at most ``overlap``, never more
    step = max(hop, -(-(chunk - overlap) // hop) * hop)
    if 2 * step < chunk:  # chunk k + 2 would start inside chunk k: the joins assume it does not
        raise ParameterError(
            f"chunks of {chunk} samples overlapping by {overlap} start every {step} samples (on "
            f"the {hop}-sample frame grid), so three chunks would overlap; make the overlap at "
            f"most half a chunk (a longer chunk_duration or a shorter overlap)."
        )
    bounds = []
    start = 0
    while True:
        end = min(start + chunk, n_samples)
        bounds.append((start, end))
        if end == n_samples:
            break
        start += step
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < chunk // 2:
        bounds.pop()
        bounds[-1] = (bounds[-1][0], n_samples)
    return bounds


# --------------------------------------------------------------------------- validation
def _generator(seed) -> Optional[torch.Generator]:
    return torch.Generator().manual_seed(int(seed)) if seed is not None else None


def _check_mask_power(value) -> Union[float, str]:
    if isinstance(value, str):
        if value == "binary":
            return "binary"
        raise ParameterError(f"mask_power must be a positive number (1 ratio masks, 2 Wiener-like "
                             f"masks) or 'binary', got {value!r}.")
    return check_real(value, "mask_power", low=0, low_open=True)


def chunk_sizes(duration, overlap, sample_rate: int) -> Tuple[Optional[int], int]:
    """``chunk_duration`` and ``chunk_overlap`` (seconds, checked) in samples; None for
    ``duration=None`` (one piece)."""
    if duration is None:
        return None, 0
    duration = check_real(duration, "chunk_duration", low=0, low_open=True, unit="seconds")
    overlap = check_real(overlap, "chunk_overlap", low=0, unit="seconds")
    if 2 * overlap > duration:
        # more overlap than half a chunk would make three chunks overlap (see chunk_bounds)
        raise ParameterError(
            f"need chunk_duration >= 2 x chunk_overlap >= 0 seconds, got chunk_duration={duration}, "
            f"chunk_overlap={overlap}; chunk_duration=None processes the mixture in one piece."
        )
    return round(duration * sample_rate), round(overlap * sample_rate)


# --------------------------------------------------------------------------- writing
def write_stems(
    stems: Mapping[str, Tensor],
    out_dir: PathLike,
    sample_rate: int,
    *,
    overwrite: bool = False,
    prefix: str = "",
    extension: str = "wav",
    subtype: Optional[str] = None,
) -> Dict[str, Path]:
    """Write separated sources as ``<out_dir>/<prefix><source>.<extension>``.

    The stems are written all-or-nothing: each to a temporary file in ``out_dir``, then all
    renamed into place once every one is complete; on any failure, Ctrl-C or SIGTERM the
    temporary files are removed and no stem appears (so a rerun starts clean). Nothing is
    written when any target exists and ``overwrite`` is False.

    Parameters
    ----------
    stems : mapping of str to Tensor
        ``{source: waveform (channels, samples) or (samples,)}``, e.g. from
        :meth:`Separator.separate`.
    out_dir : str or PathLike
        Folder (created if missing).
    sample_rate : int
        Sampling rate in Hz.
    overwrite : bool, default False
        Replace existing files.
    prefix : str, default ""
        Prepended to every file name (e.g. ``"song1_"``).
    extension : str, default "wav"
        Audio format by extension (``"wav"``, ``"flac"``, ...).
    subtype : str, optional
        libsndfile encoding (default: 32-bit float for WAV); see :func:`nmfsep.io.save`.

    Returns
    -------
    dict of str to Path
        The file written for every source.

    Raises
    ------
    FileExistsError
        If a target exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile, torch
    >>> from nmfsep.separation import write_stems
    >>> paths = write_stems({"kick": torch.zeros(1, 800), "snare": torch.zeros(1, 800)},
    ...                     tempfile.mkdtemp(), 8000, prefix="mix0_")
    >>> sorted(p.name for p in paths.values())
    ['mix0_kick.wav', 'mix0_snare.wav']
    """
    if not isinstance(stems, Mapping) or not stems:
        raise ParameterTypeError("stems must be a non-empty mapping {source: waveform}.")
    if not isinstance(prefix, str) or any(c in prefix for c in "/\\\0"):
        raise ParameterError(f"prefix must be a string without path separators, got {prefix!r}.")
    extension = str(extension).lstrip(".")
    out_dir = Path(os.fspath(out_dir))
    paths = {name: out_dir / f"{prefix}{check_source_name(name)}.{extension}" for name in stems}
    writers = {path: _audio_writer(path, stems[name], sample_rate, subtype)
               for name, path in paths.items()}  # every stem checked before any is written
    if not overwrite:
        existing = [str(p) for p in paths.values() if p.exists()]
        if existing:
            raise FileExistsError(f"{existing} already exist; pass overwrite=True (--overwrite) "
                                  f"to replace them.")
    write_atomically(writers)
    return paths
