"""A drum kit's templates: hits named by instrument, the generic templates, their resolution.

The drum recipes (:mod:`.drums`), drum transcription (:mod:`.transcription`) and the drum
stream (:mod:`.drum_stream`) start from the same NMFD templates: one per isolated hit of the
kit (:func:`hit_templates`), a templates file, or the generic templates shipped with nmfsep
(:func:`generic_templates`), chosen by :func:`drum_templates` and mapped onto the STFT of a
mixture at any rate by :func:`templates_at_rate`. The public names are those of
:mod:`nmfsep.recipes` (re-exported by :mod:`.drums`); this module keeps them out of
:mod:`.drums` so that its neighbours import no private name of another recipe.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from nmfsep._core._validation import check_count
from nmfsep._errors import ParameterError, ParameterTypeError
from nmfsep._pipeline.stft import n_fft_for_duration
from nmfsep.functional import stft
from nmfsep.io import check_audio, check_sample_rate, load
from nmfsep.separation import Templates

from ._shared import audio_files_in

__all__ = ["DRUM_SOURCES", "HIT_NAME_PREFIXES", "GENERIC_TEMPLATES_PATH",
           "GENERIC_KIT_TEMPLATES_PATH", "HitsLike", "source_of_hit", "group_hits",
           "hit_templates", "generic_templates", "templates_at_rate", "drum_templates"]

#: The instruments the drum recipes separate, in the order the stems are returned.
DRUM_SOURCES = ("kick", "snare", "hihat")

#: File-name prefixes that name the instrument of a hit file (lower case; ``_``, ``-``,
#: spaces and digits may follow): ``kick_0.wav``, ``bd-hard.flac``, ``hh_closed_1.wav``.
HIT_NAME_PREFIXES = {
    "kick": ("kick", "bassdrum", "bass_drum", "bass drum", "bd"),
    "snare": ("snare", "sd"),
    "hihat": ("hihat", "hi-hat", "hi_hat", "hh", "hat"),
}

#: The generic drum templates shipped with nmfsep (see ``nmfsep/data/README.md``).
GENERIC_TEMPLATES_PATH = Path(__file__).resolve().parents[2] / "data" / "drum_templates.pt"
#: The same for a whole kit (kick, snare, hi-hat, tom, cymbal), used by drum transcription.
GENERIC_KIT_TEMPLATES_PATH = GENERIC_TEMPLATES_PATH.with_name("drum_kit_templates.pt")

# Default STFT of the hit templates at 22.05 kHz: 46 ms windows, 11.6 ms hop. At other
# rates the same durations are used (see _stft_sizes).
_REFERENCE_RATE = 22050
_REFERENCE_N_FFT = 1024
_REFERENCE_HOP = 256

#: What ``hits`` may be (see :func:`group_hits`).
HitsLike = Union[Mapping[str, object], Sequence[Union[str, os.PathLike]], str, os.PathLike, None]


# --------------------------------------------------------------------------- validation
def _stft_sizes(sample_rate: int, n_fft: Optional[int], hop_length: Optional[int]) -> Tuple[int, int]:
    """n_fft and hop of the same durations as 1024 / 256 samples at 22.05 kHz, unless given."""
    if n_fft is None:
        n_fft = n_fft_for_duration(_REFERENCE_N_FFT / _REFERENCE_RATE, sample_rate)
    n_fft = check_count(n_fft, "n_fft", minimum=16)
    hop_length = n_fft // 4 if hop_length is None else check_count(hop_length, "hop_length")
    if hop_length > n_fft:
        raise ParameterError(f"hop_length ({hop_length}) must not exceed n_fft ({n_fft}).")
    return n_fft, hop_length


# --------------------------------------------------------------------------- hits
def source_of_hit(name: Union[str, os.PathLike]) -> Optional[str]:
    """The drum instrument a hit file's name stands for, or None.

    The file name (without folders and extension, lower case) must start with one of
    :data:`HIT_NAME_PREFIXES`, followed by nothing, a digit or a separator (``_``, ``-``,
    ``.``, space).

    Examples
    --------
    >>> source_of_hit("hits/hh_closed_1.wav"), source_of_hit("Kick-hard.flac")
    ('hihat', 'kick')
    >>> source_of_hit("crash_0.wav") is None
    True
    """
    stem = Path(os.fspath(name)).stem.lower()
    for source, prefixes in HIT_NAME_PREFIXES.items():
        for prefix in prefixes:
            if re.match(re.escape(prefix) + r"(?:$|[\d_\-. ])", stem):
                return source
    return None


def group_hits(hits: HitsLike, *, sources: Sequence[str] = DRUM_SOURCES) -> Dict[str, list]:
    """Hits grouped by instrument: ``{source: [waveform or path, ...]}``.

    Parameters
    ----------
    hits : mapping, sequence of paths, or a folder
        ``{"kick": [...], "snare": [...], ...}`` (waveforms, paths or a single one per
        source) is returned with every source checked; a list of files (or folders of
        files) is grouped by :func:`source_of_hit`. Files that name no instrument (toms,
        cymbals) are left out with a warning.
    sources : sequence of str
        The instruments that need hits.

    Returns
    -------
    dict of str to list
        One non-empty list per source, in the order of ``sources``.

    Raises
    ------
    ValueError
        If a source has no hit, or a mapping names an unknown source.

    Examples
    --------
    >>> group_hits(["kick_0.wav", "snare_0.wav", "hh_closed_0.wav", "hh_open_0.wav"])
    ... # doctest: +NORMALIZE_WHITESPACE
    {'kick': [PosixPath('kick_0.wav')], 'snare': [PosixPath('snare_0.wav')],
     'hihat': [PosixPath('hh_closed_0.wav'), PosixPath('hh_open_0.wav')]}
    """
    sources = tuple(sources)
    if isinstance(hits, Mapping):
        unknown = [s for s in hits if s not in sources]
        if unknown:
            raise ParameterError(f"hits name unknown instruments {unknown}; use {list(sources)}.")
        grouped = {}
        for source in sources:
            items = hits.get(source)
            if items is None:
                items = []
            elif isinstance(items, (Tensor, np.ndarray, str, os.PathLike)):
                items = [items]
            grouped[source] = list(items)
    else:
        if isinstance(hits, (str, os.PathLike)):
            hits = [hits]
        if not isinstance(hits, Sequence):
            raise ParameterTypeError(
                "hits must be a mapping {instrument: waveforms or paths}, a list of hit files "
                f"or a folder of them, got {type(hits).__name__}."
            )
        if not hits:
            raise ParameterError("hits is empty: give the kit's hit files (or a folder of them), or "
                             "pass hits=None to use the generic templates.")
        files: List[Path] = []
        for item in hits:
            if not isinstance(item, (str, os.PathLike)):
                raise ParameterTypeError(
                    f"a list of hits must hold file paths (their names tell the instrument), got "
                    f"{type(item).__name__}; pass waveforms as a mapping {{'kick': [...], ...}}."
                )
            path = Path(os.fspath(item))
            files.extend(audio_files_in(path) if path.is_dir() else [path])
        grouped = {source: [] for source in sources}
        ignored = []
        for path in files:
            source = source_of_hit(path)
            if source in grouped:
                grouped[source].append(path)
            else:
                ignored.append(path.name)
        if ignored:
            warnings.warn(
                f"hits {ignored} name no instrument of {list(sources)} and are left out "
                f"(name the files e.g. kick_0.wav, snare_0.wav, hh_closed_0.wav).",
                UserWarning, stacklevel=2,
            )
    missing = [s for s in sources if not grouped[s]]
    if missing:
        prefixes = [HIT_NAME_PREFIXES[s][0] for s in missing if s in HIT_NAME_PREFIXES]
        raise ParameterError(
            f"no hits for {missing}: every instrument of {list(sources)} needs at least one "
            f"isolated hit (file names starting with e.g. {prefixes})."
        )
    return grouped


def _hit_waveform(source: str, item, sample_rate: int) -> Tensor:
    """A hit as a mono float32 ``(samples,)`` tensor at ``sample_rate``, from its onset on."""
    if isinstance(item, (str, os.PathLike)):
        waveform, _ = load(item, sample_rate=sample_rate, mono=True)
        name = f"hit '{item}'"
    elif isinstance(item, (Tensor, np.ndarray)):
        waveform = torch.as_tensor(item)
        name = f"a hit of {source!r}"
    else:
        raise ParameterTypeError(f"a hit of {source!r} must be a waveform or a path, got {type(item).__name__}.")
    waveform = check_audio(waveform, name=name)
    if waveform.ndim > 2:
        raise ParameterError(f"{name} must have shape (samples,) or (channels, samples), got "
                         f"{tuple(waveform.shape)}.")
    waveform = waveform.reshape(-1, waveform.shape[-1]).mean(0).float().cpu()
    # the template starts at the onset: leading samples 40 dB under the peak are dropped
    start = int(torch.nonzero(waveform.abs() >= 0.01 * waveform.abs().max())[0])
    return waveform[start:]


def _hit_template(hit: Tensor, n_fft: int, hop_length: int, T: int, window: str) -> Tensor:
    """Magnitude template ``(freq, T)`` of a hit starting at sample 0.

    With ``n_fft // 2`` zeros before the hit, frame ``k`` of a centred STFT is centred
    ``k * hop - n_fft // 2`` samples from the onset: frame 1 is the first whose window
    reaches into the hit, and becomes column 0.
    """
    padded = F.pad(hit, (n_fft // 2, T * hop_length + n_fft))
    spectrogram = stft(padded, n_fft=n_fft, hop_length=hop_length, window=window,
                       pad_mode="constant").abs()
    return spectrogram[:, 1:1 + T]


def hit_templates(
    hits: HitsLike,
    sample_rate: int,
    *,
    n_fft: Optional[int] = None,
    hop_length: Optional[int] = None,
    T: int = 16,
    window: str = "hann",
    sources: Sequence[str] = DRUM_SOURCES,
) -> Templates:
    r"""NMFD templates of drum instruments, one per isolated hit.

    Each hit's magnitude STFT over ``T`` frames from its onset (leading silence 40 dB
    under the peak is skipped) is one template, scaled to unit sum. Several hits of an
    instrument (velocity layers, open and closed hi-hat) give several templates.

    Parameters
    ----------
    hits : mapping, sequence of paths, or a folder
        ``{"kick": [waveforms or paths], ...}`` or hit files named by instrument (see
        :func:`group_hits`). Waveforms are ``(samples,)`` or ``(channels, samples)`` at
        ``sample_rate``; files are resampled to it. Channels are averaged.
    sample_rate : int
        Sampling rate in Hz of the templates (that of the mixtures to separate).
    n_fft, hop_length : int, optional
        STFT sizes; default 1024 / 256 at 22.05 kHz and the same durations at other rates
        (n_fft rounded to a power of two, hop ``n_fft // 4``).
    T : int, default 16
        Template length in frames (16 x 11.6 ms = 186 ms: the attack and the body of a hit).
    window : str, default "hann"
        STFT window.
    sources : sequence of str, default :data:`DRUM_SOURCES`
        The instruments, in the order of the returned templates' sources.

    Returns
    -------
    Templates
        ``W (n_fft // 2 + 1, R, T)`` with ``R`` the number of hits, ``sources`` and
        ``components`` naming the instrument of every template, and the STFT settings.

    Raises
    ------
    ValueError
        On an instrument without hits, a silent or empty hit, or bad settings.

    Examples
    --------
    >>> import torch
    >>> sr = 8000
    >>> t = torch.arange(2000) / sr
    >>> kick = torch.sin(2 * torch.pi * 60 * t) * torch.exp(-20 * t)
    >>> hat = torch.randn(2000, generator=torch.Generator().manual_seed(0)) * torch.exp(-60 * t)
    >>> templates = hit_templates({"kick": [kick], "hihat": [hat, 0.5 * hat]}, sr,
    ...                           n_fft=256, T=8, sources=("kick", "hihat"))
    >>> templates.W.shape, templates.components
    (torch.Size([129, 3, 8]), (0, 1, 1))
    """
    sample_rate = check_sample_rate(sample_rate)
    n_fft, hop_length = _stft_sizes(sample_rate, n_fft, hop_length)
    T = check_count(T, "T")
    window = str(window).lower()
    grouped = group_hits(hits, sources=sources)
    columns, components = [], []
    for index, source in enumerate(grouped):
        for item in grouped[source]:
            template = _hit_template(_hit_waveform(source, item, sample_rate), n_fft, hop_length,
                                     T, window)
            columns.append(template / template.sum())
            components.append(index)
    return Templates(torch.stack(columns, 1), tuple(grouped), tuple(components), sample_rate,
                     "stft", dict(n_fft=n_fft, hop_length=hop_length, window=window))


def generic_templates(path: Union[str, os.PathLike, None] = None, *,
                      full_kit: bool = False) -> Templates:
    """The generic drum templates shipped with nmfsep (or another templates file).

    Learned by ``recipes/drums-generic/make_templates.py`` from isolated hits of Hydrogen
    drum kits (kits and licences in ``nmfsep/data/README.md``): magnitude NMFD templates
    ``(513, R, 16)`` at 22.05 kHz, STFT 1024 / 256 (Hann), for the sources
    ``("kick", "snare", "hihat")``, or with ``full_kit=True`` also ``"tom"`` and
    ``"cymbal"`` (crash, ride, china and splash), 4 templates each.

    Parameters
    ----------
    path : str or PathLike, optional
        A templates file written by :meth:`Templates.save`; default
        :data:`GENERIC_TEMPLATES_PATH` (:data:`GENERIC_KIT_TEMPLATES_PATH` with
        ``full_kit``).
    full_kit : bool, default False
        The five-instrument templates: a model of the whole kit gives toms and cymbals a
        place of their own, so they do not pass for snare or hi-hat hits (drum
        transcription uses them).

    Returns
    -------
    Templates

    Examples
    --------
    >>> templates = generic_templates()
    >>> templates.sources, templates.W.shape[0], templates.sample_rate
    (('kick', 'snare', 'hihat'), 513, 22050)
    >>> generic_templates(full_kit=True).sources
    ('kick', 'snare', 'hihat', 'tom', 'cymbal')
    """
    if path is None:
        path = GENERIC_KIT_TEMPLATES_PATH if full_kit else GENERIC_TEMPLATES_PATH
    templates = Templates.load(path)
    return Templates(templates.W.float(), templates.sources, templates.components,
                     templates.sample_rate, templates.front_end, templates.settings)


# --------------------------------------------------------------------------- templates at a rate
def templates_at_rate(templates: Templates, sample_rate: int, n_fft: Optional[int],
                      hop_length: Optional[int]) -> Tuple[Tensor, int, int, str]:
    """Magnitude templates for an STFT of the mixture at ``sample_rate``.

    Templates made at another rate are mapped onto the new bins by linear interpolation in
    Hz with the same frame duration; above their Nyquist frequency the top bin's level is
    continued (template adaptation then learns that band from the mixture).
    """
    if templates.front_end != "stft" or templates.W.dim() != 3:
        raise ParameterError(
            f"drum templates must be STFT NMFD templates (freq, R, T), got {templates!r}; "
            f"make them with hit_templates or 'nmfsep learn-templates FILES --recipe drums'."
        )
    settings = templates.settings
    window = str(settings.get("window", "hann"))
    W = templates.W.float()
    if templates.sample_rate == sample_rate:
        if (n_fft not in (None, settings["n_fft"])) or (hop_length not in (None, settings["hop_length"])):
            raise ParameterError(
                f"the templates were made with n_fft={settings['n_fft']}, hop_length="
                f"{settings['hop_length']}; leave n_fft and hop_length unset to use them."
            )
        return W, int(settings["n_fft"]), int(settings["hop_length"]), window
    ratio = sample_rate / templates.sample_rate
    if n_fft is None:
        n_fft = max(16, round(settings["n_fft"] * ratio))
    if hop_length is None:
        hop_length = max(1, round(settings["hop_length"] * ratio))
    n_fft, hop_length = _stft_sizes(sample_rate, n_fft, hop_length)
    old = torch.arange(W.shape[0], dtype=torch.float64) * templates.sample_rate / settings["n_fft"]
    new = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * sample_rate / n_fft
    position = torch.clamp(new / old[1], max=W.shape[0] - 1)
    low = position.floor().long().clamp(max=W.shape[0] - 2)
    weight = (position - low).to(W.dtype).view(-1, 1, 1)
    mapped = W[low] * (1 - weight) + W[low + 1] * weight
    mapped = mapped / mapped.sum((0, 2), keepdim=True).clamp_min(torch.finfo(W.dtype).tiny)
    return mapped, n_fft, hop_length, window


def drum_templates(hits, templates, sample_rate: int, *, n_fft: Optional[int] = None,
                   hop_length: Optional[int] = None, T: int = 16,
                   full_kit: bool = False) -> Templates:
    """The templates a drum model starts from: one per hit of ``hits`` (a mapping names its
    instruments; files are grouped as :data:`DRUM_SOURCES`), else ``templates`` (loaded
    from a path), else :func:`generic_templates` (of the whole kit with ``full_kit``)."""
    if hits is not None and templates is not None:
        raise ParameterError("give hits or templates, not both.")
    if hits is not None:
        sources = tuple(hits) if isinstance(hits, Mapping) else DRUM_SOURCES
        return hit_templates(hits, sample_rate, n_fft=n_fft, hop_length=hop_length, T=T,
                             sources=sources)
    if templates is None:
        return generic_templates(full_kit=full_kit)
    if not isinstance(templates, Templates):
        if not isinstance(templates, (str, os.PathLike)):
            raise ParameterTypeError(f"templates must be Templates or a path to a templates file, got "
                            f"{type(templates).__name__}.")
        templates = Templates.load(templates)
    return templates
