"""Spectral templates of named sources: learned from examples, saved, loaded, checked.

A :class:`Templates` holds the template tensor ``W`` of a factorisation (``(freq, R)`` NMF
dictionaries or ``(freq, R, T)`` NMFD templates), the name of the source each component
belongs to, and the front-end settings and sample rate they were computed with, so that a
:class:`~nmfsep.separation.Separator` can refuse a mixture they do not fit.
:func:`learn_templates` computes them from isolated sounds or training recordings.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from .._core._validation import check_beta, check_nonnegative, check_rank
from .._errors import ParameterError, ParameterTypeError
from ._files import write_atomically
from ._frontend import FRONT_ENDS, FrontEnd, build_front_end
from ._models import ModelSpec, normalise_templates
from .io import check_audio, check_sample_rate, load

__all__ = ["Templates", "learn_templates"]

PathLike = Union[str, "os.PathLike[str]"]
_FORMAT = "nmfsep.Templates"
_VERSION = 1
#: Template shapes by number of axes, and the models that use them.
_MODELS_BY_NDIM = {2: ("nmf", "plca"), 3: ("nmfd", "siplca"), 4: ("nmf2d", "siplca2")}


def check_source_name(name, what: str = "source name") -> str:
    """A source name is a non-empty string usable as a file name (it names a stem file)."""
    if not isinstance(name, str) or not name.strip():
        raise ParameterTypeError(f"{what} must be a non-empty string, got {name!r}.")
    if any(c in name for c in '/\\:*?"<>|\0') or name in (".", ".."):
        raise ParameterError(
            f"{what} {name!r} cannot be used as a file name; use letters, digits, '-' or '_'."
        )
    return name


@dataclass(frozen=True, eq=False)
class Templates:
    r"""Templates of named sources, with the settings they were computed with.

    Parameters
    ----------
    W : Tensor, shape (freq, R), (freq, R, T) or (1, R, K, T)
        Non-negative template of each of the ``R`` components: NMF dictionaries, NMFD
        templates of ``T`` frames, or 2-D (log-frequency x time) NMF2D templates.
    sources : sequence of str
        Source names, in the order the separated stems are returned.
    components : sequence of int
        ``components[r]`` is the index (in ``sources``) of the source of component ``r``;
        length ``R``. Every source needs at least one component.
    sample_rate : int
        Sampling rate in Hz of the audio the templates describe.
    front_end : {"stft", "cqt"}
        Time-frequency representation.
    settings : dict
        The front end's settings: ``n_fft``, ``hop_length``, ``window`` (STFT) or ``fmin``,
        ``n_bins``, ``bins_per_octave``, ``hop_length`` (CQT).

    Attributes
    ----------
    n_components : int
        ``R``.
    T : int or None
        Template length in frames (None for NMF dictionaries).
    models : tuple of str
        Models that use templates of this shape (e.g. ``("nmfd", "siplca")``).
    source_components : dict of str to list of int
        Component indices of each source.

    See Also
    --------
    learn_templates : compute templates from examples.

    Examples
    --------
    >>> import torch
    >>> from nmfsep.separation import Templates
    >>> t = Templates(torch.rand(513, 3, 16), sources=("kick", "snare"), components=(0, 1, 1),
    ...               sample_rate=22050, front_end="stft",
    ...               settings=dict(n_fft=1024, hop_length=256, window="hann"))
    >>> t.n_components, t.T, t.source_components
    (3, 16, {'kick': [0], 'snare': [1, 2]})
    """

    W: Tensor = field(repr=False)
    sources: Tuple[str, ...]
    components: Tuple[int, ...]
    sample_rate: int
    front_end: str
    settings: Dict[str, object]

    def __post_init__(self):
        W = check_nonnegative(self.W, "templates W")
        if W.dim() not in _MODELS_BY_NDIM:
            raise ParameterError(
                f"templates W must have shape (freq, R), (freq, R, T) or (1, R, K, T), got "
                f"{tuple(W.shape)}."
            )
        sources = tuple(check_source_name(s) for s in self.sources)
        if len(set(sources)) != len(sources):
            raise ParameterError(f"source names must be unique, got {sources}.")
        components = tuple(int(c) for c in self.components)
        if len(components) != W.shape[1]:
            raise ParameterError(
                f"components has {len(components)} entries but W has {W.shape[1]} components "
                f"(axis 1); give the source index of every component."
            )
        if any(not 0 <= c < len(sources) for c in components):
            raise ParameterError(f"components holds source indices outside [0, {len(sources)}).")
        empty = [s for i, s in enumerate(sources) if i not in components]
        if empty:
            raise ParameterError(f"sources {empty} have no component; remove them or add templates.")
        if self.front_end not in FRONT_ENDS:
            raise ParameterError(f"front_end must be one of {tuple(FRONT_ENDS)}, got {self.front_end!r}.")
        object.__setattr__(self, "W", W.detach().cpu())
        object.__setattr__(self, "sources", sources)
        object.__setattr__(self, "components", components)
        object.__setattr__(self, "sample_rate", check_sample_rate(self.sample_rate))
        object.__setattr__(self, "settings", dict(self.settings))

    # -- description -----------------------------------------------------------------------
    @property
    def n_components(self) -> int:
        return self.W.shape[1]

    @property
    def T(self) -> Optional[int]:
        return self.W.shape[-1] if self.W.dim() > 2 else None

    @property
    def models(self) -> Tuple[str, ...]:
        return _MODELS_BY_NDIM[self.W.dim()]

    @property
    def source_components(self) -> Dict[str, list]:
        return {s: [r for r, c in enumerate(self.components) if c == i]
                for i, s in enumerate(self.sources)}

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.settings.items())
        return (f"Templates(sources={self.sources}, components={self.components}, "
                f"shape={tuple(self.W.shape)}, sample_rate={self.sample_rate}, "
                f"front_end={self.front_end!r}, {settings})")

    def check_compatible(self, sample_rate: int, front_end: FrontEnd) -> None:
        """Raise a ValueError unless the templates fit audio at ``sample_rate`` analysed by
        ``front_end`` (same sample rate, representation and settings)."""
        if int(sample_rate) != self.sample_rate:
            raise ParameterError(
                f"the templates were learned at {self.sample_rate} Hz but the audio is at "
                f"{sample_rate} Hz; resample it, e.g. nmfsep.io.load(path, "
                f"sample_rate={self.sample_rate}), or learn templates at {sample_rate} Hz."
            )
        if front_end.kind != self.front_end or front_end.settings != self.settings:
            raise ParameterError(
                f"the templates were computed with {self.front_end} {self.settings} but the "
                f"separator uses {front_end.kind} {front_end.settings}; leave those settings "
                f"unset to take them from the templates."
            )

    # -- combination -----------------------------------------------------------------------
    @classmethod
    def concatenate(cls, *templates: "Templates") -> "Templates":
        """Join templates of different sources (same sample rate, front end and shape).

        Examples
        --------
        >>> import torch
        >>> from nmfsep.separation import Templates
        >>> kw = dict(sample_rate=8000, front_end="stft",
        ...           settings=dict(n_fft=256, hop_length=64, window="hann"))
        >>> a = Templates(torch.rand(129, 2), ("piano",), (0, 0), **kw)
        >>> b = Templates(torch.rand(129, 1), ("bass",), (0,), **kw)
        >>> Templates.concatenate(a, b).source_components
        {'piano': [0, 1], 'bass': [2]}
        """
        if not templates or not all(isinstance(t, Templates) for t in templates):
            raise ParameterTypeError("concatenate takes one or more Templates.")
        first = templates[0]
        for other in templates[1:]:
            if ((other.sample_rate, other.front_end, other.settings)
                    != (first.sample_rate, first.front_end, first.settings)
                    or other.W.shape[:1] + other.W.shape[2:] != first.W.shape[:1] + first.W.shape[2:]):
                raise ParameterError(
                    f"cannot concatenate {other!r} with {first!r}: the sample rate, front end, "
                    f"settings and template shape (all but axis 1) must match."
                )
        sources, components = [], []
        for t in templates:
            for c in t.components:
                name = t.sources[c]
                if name not in sources:
                    sources.append(name)
                components.append(sources.index(name))
        return cls(torch.cat([t.W for t in templates], 1), tuple(sources), tuple(components),
                   first.sample_rate, first.front_end, first.settings)

    # -- files -----------------------------------------------------------------------------
    def save(self, path: PathLike, *, overwrite: bool = False) -> Path:
        """Write the templates to ``path`` (``torch.save`` of plain tensors, lists and dicts).

        The file is written atomically (temporary file + :func:`os.replace`) and an existing
        file is only replaced with ``overwrite=True``.

        Returns
        -------
        Path
            The path written.

        Raises
        ------
        FileExistsError
            If ``path`` exists and ``overwrite`` is False.
        """
        path = Path(os.fspath(path))
        if path.is_dir():
            raise ParameterError(f"'{path}' is a folder; pass a file name such as '{path / 'templates.pt'}'.")
        if path.exists() and not overwrite:
            raise FileExistsError(f"'{path}' already exists; pass overwrite=True (--overwrite) "
                                  f"to replace it.")
        payload = dict(format=_FORMAT, version=_VERSION, W=self.W.clone(),
                       sources=list(self.sources), components=list(self.components),
                       sample_rate=self.sample_rate, front_end=self.front_end,
                       settings=dict(self.settings))
        def write(temporary: Path) -> None:
            # through a file object: torch.save names the archive's records after a path it
            # is given (the temporary one), so the same templates would differ byte-wise
            with open(temporary, "wb") as handle:
                torch.save(payload, handle)

        write_atomically({path: write})
        return path

    @classmethod
    def load(cls, path: PathLike) -> "Templates":
        """Read templates written by :meth:`save`.

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        ValueError
            If the file is not a templates file of this version.
        """
        path = Path(os.fspath(path))
        if not path.is_file():
            raise FileNotFoundError(f"templates file not found: '{path}'")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise ParameterError(f"'{path}' is not a templates file written by Templates.save ({err}).") from err
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise ParameterError(f"'{path}' is not a templates file written by Templates.save.")
        if payload.get("version") != _VERSION:
            raise ParameterError(
                f"'{path}' holds templates of format version {payload.get('version')}; this "
                f"nmfsep reads version {_VERSION}: learn the templates again."
            )
        return cls(payload["W"], tuple(payload["sources"]), tuple(payload["components"]),
                   payload["sample_rate"], payload["front_end"], payload["settings"])


# --------------------------------------------------------------------------- learning
def _expand_paths(item) -> list:
    """A path stays one example; a string with glob characters that names no file expands."""
    if isinstance(item, str) and not os.path.exists(item) and glob.has_magic(item):
        matches = sorted(glob.glob(item))
        if not matches:
            raise FileNotFoundError(f"no audio file matches the pattern '{item}'")
        return matches
    return [item]


def _example_list(source: str, examples) -> list:
    if isinstance(examples, (str, os.PathLike, Tensor, np.ndarray)):
        examples = [examples]
    if not isinstance(examples, Sequence) or isinstance(examples, (bytes, bytearray)):
        raise ParameterTypeError(
            f"the examples of {source!r} must be a waveform, a path, or a list of them, got "
            f"{type(examples).__name__}."
        )
    items = [p for item in examples for p in _expand_paths(item)]
    if not items:
        raise ParameterError(f"source {source!r} has no examples.")
    return items


def _load_example(source: str, item, sample_rate: int, dtype) -> Tensor:
    """One example as a mono ``(samples,)`` signal at ``sample_rate``."""
    if isinstance(item, (str, os.PathLike)):
        waveform, _ = load(item, sample_rate=sample_rate, mono=True, dtype=dtype)
        name = f"example '{item}' of {source!r}"
    elif isinstance(item, (Tensor, np.ndarray)):
        waveform = torch.as_tensor(item)
        name = f"an example waveform of {source!r}"
        if waveform.ndim > 2:
            raise ParameterError(f"{name} must have shape (samples,) or (channels, samples), got "
                             f"{tuple(waveform.shape)}.")
    else:
        raise ParameterTypeError(
            f"examples of {source!r} must be waveforms (Tensor/ndarray) or audio file paths, "
            f"got {type(item).__name__}."
        )
    waveform = check_audio(waveform, name=name)
    waveform = waveform.reshape(-1, waveform.shape[-1]).mean(0)  # mono: templates are spectra
    return waveform.to(dtype)


def _per_source(value, sources, name: str) -> Dict[str, int]:
    if isinstance(value, Mapping):
        unknown = set(value) - set(sources)
        if unknown:
            raise ParameterError(f"{name} names unknown sources {sorted(unknown)}; sources are {list(sources)}.")
        missing = [s for s in sources if s not in value]
        if missing:
            raise ParameterError(f"{name} gives no number for sources {missing}.")
        return {s: check_rank(value[s], name=f"{name}[{s!r}]") for s in sources}
    return {s: check_rank(value, name=name) for s in sources}


def learn_templates(
    examples: Mapping[str, object],
    *,
    sample_rate: int,
    front_end: str = "stft",
    n_fft: Optional[int] = None,
    hop_length: Optional[int] = None,
    window: Optional[str] = None,
    fmin: Optional[float] = None,
    n_bins: Optional[int] = None,
    bins_per_octave: Optional[int] = None,
    T: Optional[int] = None,
    n_components_per_source: Union[int, Mapping[str, int]] = 1,
    beta: float = 1.0,
    max_iter: int = 200,
    tol: float = 1e-4,
    solver: str = "mu",
    seed: Optional[int] = 0,
    verbose: bool = False,
    device: Optional[Union[str, torch.device]] = None,
) -> Templates:
    r"""Learn templates of named sources from isolated sounds or training recordings.

    For every source, the magnitude spectrograms of its examples are factorised with the
    other sources' examples out of sight:

    * ``T`` given: NMFD with ``T``-frame templates (e.g. drum hits). The examples form a batch
      (zero-padded to the longest), share the templates and keep their own activations;
      every template starts inside an example. Initialised from the examples' first ``T``
      frames.
    * ``T=None``: NMF dictionaries, one spectrum per component, fitted to all the examples'
      frames together (e.g. notes of an instrument).

    Templates are scaled to unit sum (their scale lives in the activations).

    Parameters
    ----------
    examples : mapping of str to waveform, path or list of them
        ``{source: examples}``. A waveform is a tensor or array ``(samples,)`` or
        ``(channels, samples)`` at ``sample_rate``; a path is any audio file (resampled to
        ``sample_rate``) or a glob pattern such as ``"hits/kick_*.wav"``. Channels are
        averaged.
    sample_rate : int
        Sampling rate in Hz of the waveforms and of the templates.
    front_end : {"stft", "cqt"}, default "stft"
        Time-frequency representation.
    n_fft, hop_length, window
        STFT settings (defaults 2048, ``n_fft // 4``, ``"hann"``).
    fmin, n_bins, bins_per_octave
        CQT settings (defaults C1 = 32.7 Hz, up to Nyquist, 12); see :func:`~nmfsep.functional.cqt`.
    T : int, optional
        Template length in frames (NMFD templates); None for NMF dictionaries.
    n_components_per_source : int or mapping of str to int, default 1
        Components per source (one number for all or ``{source: k}``).
    beta : float, default 1.0
        Beta-divergence of the fit (1: Kullback-Leibler).
    max_iter, tol : int, float
        Stopping rule of each fit (see :meth:`nmfsep.nmf.NMF.fit`).
    solver : {"mu", "auto"}, default "mu"
        Solver of each fit (see :class:`~nmfsep.separation.Factorisation`).
    seed : int, optional
        Seed of the initialisation (0 by default, so results are reproducible).
    verbose : bool, default False
        Show a progress bar per source.
    device : str or torch.device, optional
        Where to fit (default CPU). The templates are returned on the CPU.

    Returns
    -------
    Templates
        ``W (freq, R)`` or ``(freq, R, T)`` with ``R`` the total number of components, in
        the order of ``examples``.

    Raises
    ------
    ValueError
        On no examples, an empty, silent or non-finite example, an example shorter than
        the front end needs, or bad settings.
    FileNotFoundError
        On a missing file or a pattern that matches nothing.

    Examples
    --------
    >>> import torch
    >>> from nmfsep.separation import learn_templates
    >>> t = torch.arange(8000) / 8000
    >>> low = torch.sin(2 * torch.pi * 220 * t) * torch.exp(-8 * t)
    >>> high = torch.randn(8000) * torch.exp(-30 * t)
    >>> templates = learn_templates({"tone": [low], "noise": [high]}, sample_rate=8000,
    ...                             n_fft=256, hop_length=64, T=4)
    >>> templates.W.shape, templates.sources
    (torch.Size([129, 2, 4]), ('tone', 'noise'))
    """
    if not isinstance(examples, Mapping) or not examples:
        raise ParameterTypeError(
            "examples must be a non-empty mapping {source name: waveforms or paths}, e.g. "
            "{'kick': ['kick_0.wav'], 'snare': ['snare_0.wav']}."
        )
    sources = tuple(check_source_name(s) for s in examples)
    sample_rate = check_sample_rate(sample_rate)
    if front_end == "cqt" and any(v is not None for v in (n_fft, window)):
        raise ParameterError("n_fft and window are STFT settings; the CQT takes fmin, n_bins, bins_per_octave.")
    if front_end == "stft" and any(v is not None for v in (fmin, n_bins, bins_per_octave)):
        raise ParameterError("fmin, n_bins and bins_per_octave are CQT settings; pass front_end='cqt'.")
    front = build_front_end(front_end, sample_rate, n_fft=n_fft, hop_length=hop_length,
                            window=window, fmin=fmin, n_bins=n_bins,
                            bins_per_octave=bins_per_octave)
    if T is not None:
        T = check_rank(T, name="T")
    counts = _per_source(n_components_per_source, sources, "n_components_per_source")
    beta = check_beta(beta)
    if solver not in ("mu", "auto"):
        raise ParameterError(f"solver must be 'mu' or 'auto', got {solver!r}.")
    device = torch.device("cpu") if device is None else torch.device(device)
    front.to(device)
    generator = torch.Generator().manual_seed(int(seed)) if seed is not None else None
    spec = ModelSpec("nmfd" if T is not None else "nmf", front.n_freqs, T=T or 1)

    blocks, components = [], []
    for index, source in enumerate(sources):
        spectrograms = []
        for item in _example_list(source, examples[source]):
            waveform = _load_example(source, item, sample_rate, torch.float32).to(device)
            spectrogram, _ = front.analyse(waveform)
            spectrograms.append(spectrogram.abs())
        X = _batch(spectrograms, spec)
        init = _initial_templates(spectrograms, spec, counts[source], generator)
        model = spec.build(X, counts[source], templates=init, generator=generator,
                           onsets_inside=True)
        spec.fit(model, spec.target(X), beta=beta, tol=tol, max_iter=max_iter, verbose=verbose,
                 solver=solver)
        blocks.append(normalise_templates(spec.templates(model)).cpu())
        components += [index] * counts[source]
    return Templates(torch.cat(blocks, 1), sources, tuple(components), sample_rate, front.kind,
                     front.settings)


def _batch(spectrograms, spec: ModelSpec) -> Tensor:
    """The examples as one model input: frames side by side (NMF) or a zero-padded batch."""
    if spec.kind == "nmf":
        return torch.cat(spectrograms, -1).unsqueeze(0)
    frames = max(s.shape[-1] for s in spectrograms)
    return torch.stack([torch.nn.functional.pad(s, (0, frames - s.shape[-1])) for s in spectrograms])


def _initial_templates(spectrograms, spec: ModelSpec, rank: int, generator) -> Optional[Tensor]:
    """NMFD: the mean of the examples' first T frames (each scaled to unit sum), jittered per
    component so that several components can tell themselves apart. NMF: random."""
    if spec.kind == "nmf":
        return None
    heads = []
    for s in spectrograms:
        head = torch.nn.functional.pad(s[:, : spec.T], (0, max(0, spec.T - s.shape[-1]))).cpu()
        heads.append(head / head.sum().clamp_min(torch.finfo(head.dtype).tiny))
    mean = torch.stack(heads).mean(0).unsqueeze(1)  # (freq, 1, T)
    floor = mean.max() * 1e-3  # keeps multiplicative updates able to grow every bin
    if rank == 1:
        return mean + floor
    return (mean + floor) * (0.5 + torch.rand((mean.shape[0], rank, spec.T), generator=generator))
