"""What several recipes share: chunks and excerpts, the multichannel model, examples, STFTs.

The drum recipes (:mod:`.drums`), the piano-bass recipe (:mod:`.supervised`) and the
drums/harmonic recipe (:mod:`.harmonic`) model a mixture with templates held fixed, its
sources' parts scaled by a gain per source and channel (:func:`channel_gains`), and turn
the parts into stems through the pipeline's one parts -> masks -> inverse path: they are
:class:`~nmfsep.separation.Separator` configurations with source models of their own
(:class:`~nmfsep.recipes.DrumNMFD`, :class:`~nmfsep.recipes.SupervisedNMF`,
:class:`~nmfsep.recipes.PercussiveHarmonicNMF`). No recipe imports another's private names:
what two of them need lives here.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from nmfsep._core._validation import check_count
from nmfsep._pipeline.stft import DEFAULT_WINDOW, STFT, n_fft_for_duration
from nmfsep.io import AUDIO_SUFFIXES, check_audio
from nmfsep.nmf import NMF, NMFD

from ..._errors import ParameterError, ParameterTypeError

__all__ = ["CHUNK_OVERLAP", "GAIN_FRAMES", "GAIN_UPDATES", "as_waveform_list",
           "audio_files_in", "channel_gains", "default_stft", "EXCERPT_DURATION", "excerpt_starts",
           "excerpts", "exemplars", "segment", "source_parts", "stft_settings"]

#: Seconds shared by consecutive chunks of a long mixture, cross-faded (as in ``Separator``).
CHUNK_OVERLAP = 1.0
#: KL multiplicative updates of the channel gains of a multichannel mixture per estimate
#: (each adaptation round, the whole mixture, every chunk), every one from the previous gains.
GAIN_UPDATES = 30
#: The gains are fitted to at most this many STFT frames, evenly spaced (every 6th of a 30 s
#: chunk at 44.1 kHz): a gain per source and channel is well determined by them, at a
#: fraction of the cost of all frames.
GAIN_FRAMES = 512
#: Seconds of each excerpt that the templates of a long mixture are adapted on.
EXCERPT_DURATION = 5.0
#: Window of :func:`default_stft`: 93 ms (2048 samples at 22.05 kHz).
_WINDOW_SECONDS = 2048 / 22050


# --------------------------------------------------------------------------- files and examples
def audio_files_in(folder: Path) -> List[Path]:
    """The audio files of ``folder`` (by :data:`nmfsep.io.AUDIO_SUFFIXES`), sorted; hidden
    files included."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def as_waveform_list(label: str, examples) -> list:
    """``examples`` (a waveform or a list of them) as mono ``(samples,)`` float tensors;
    ``label`` names them in error messages (e.g. ``"train['piano']"``)."""
    if isinstance(examples, (Tensor, np.ndarray)):
        examples = [examples]
    if not isinstance(examples, Sequence) or isinstance(examples, (str, bytes)) or not examples:
        raise ParameterTypeError(
            f"{label} must be a waveform or a non-empty list of waveforms (tensors of shape "
            f"(samples,) or (channels, samples)), got {type(examples).__name__}; load files "
            f"with nmfsep.io.load first."
        )
    waveforms = []
    for k, item in enumerate(examples):
        if not isinstance(item, (Tensor, np.ndarray)):
            raise ParameterTypeError(f"{label}[{k}] must be a tensor or array, got {type(item).__name__}.")
        waveform = check_audio(torch.as_tensor(item), name=f"{label}[{k}]")
        if waveform.ndim > 2:
            raise ParameterError(f"{label}[{k}] must have shape (samples,) or (channels, samples), "
                             f"got {tuple(waveform.shape)}.")
        # dictionaries are spectra: channels are averaged
        waveforms.append(waveform.reshape(-1, waveform.shape[-1]).mean(0).float())
    return waveforms


# --------------------------------------------------------------------------- excerpts
def segment(signal: Tensor, start: int, length: int) -> Tensor:
    """``signal[:, start:start + length]``, with zeros after the end of the signal."""
    piece = signal[:, start:start + length]
    return F.pad(piece, (0, length - piece.shape[-1]))


def excerpts(signal: Tensor, sample_rate: int, duration: Optional[float], hop: int,
             extra: int = 0) -> Tensor:
    """``(channels, pieces, samples)``: excerpts of :data:`EXCERPT_DURATION` seconds (plus
    ``extra`` samples) spread over ``signal (channels, samples)``, ``duration`` seconds in
    all; the whole signal as one piece when that is no shorter or ``duration`` is None."""
    n_samples = signal.shape[-1]
    excerpt = round(EXCERPT_DURATION * sample_rate)
    count = None if duration is None else math.ceil(duration / EXCERPT_DURATION)
    if count is None or count * excerpt >= n_samples:
        return segment(signal, 0, n_samples + extra)[:, None]
    return torch.stack([segment(signal, start, excerpt + extra)
                        for start in excerpt_starts(n_samples, excerpt, count, hop)], 1)


def excerpt_starts(n_samples: int, excerpt: int, count: int, hop: int) -> List[int]:
    """Starts (multiples of ``hop``) of ``count`` excerpts of ``excerpt`` samples spread
    evenly from the start to the end of ``n_samples``."""
    last = (n_samples - excerpt) // hop
    return [hop * round(k * last / max(count - 1, 1)) for k in range(count)]


# --------------------------------------------------------------------------- STFT
def default_stft(sample_rate: int) -> Dict[str, int]:
    """The recipes' STFT at ``sample_rate``: 93 ms windows (2048 at 22.05 kHz), hop a quarter.

    ``n_fft`` is the power of two closest to 93 ms
    (``n_fft_for_duration``), so 44.1 kHz gives 4096 / 1024 and
    16 kHz 2048 / 512 (the bass partials stay resolved whatever the rate).

    Examples
    --------
    >>> default_stft(22050), default_stft(44100)["n_fft"]
    ({'n_fft': 2048, 'hop_length': 512}, 4096)
    """
    n_fft = n_fft_for_duration(_WINDOW_SECONDS, sample_rate)
    return dict(n_fft=n_fft, hop_length=n_fft // 4)


def stft_settings(sample_rate, n_fft, hop_length, window) -> Dict[str, object]:
    """Validated ``n_fft``, ``hop_length`` and ``window``; None takes :func:`default_stft`
    (and the Hann window)."""
    defaults = default_stft(sample_rate)
    n_fft = defaults["n_fft"] if n_fft is None else check_count(n_fft, "n_fft")
    hop_length = n_fft // 4 if hop_length is None else check_count(hop_length, "hop_length")
    window = DEFAULT_WINDOW if window is None else window
    if not isinstance(window, str):
        raise ParameterTypeError(f"window must be a window name such as 'hann', got {window!r}.")
    return dict(n_fft=n_fft, hop_length=hop_length, window=window.lower())


def exemplars(waveforms, n_fft: int, hop_length: int, window: str, threshold_db: float,
              max_exemplars: Optional[int]) -> Tensor:
    """Unit-sum magnitude frames ``(freq, R)`` within ``threshold_db`` of the loudest frame."""
    front = STFT(n_fft, hop_length, window=window)
    frames = []
    for waveform in waveforms:
        if waveform.shape[-1] <= n_fft // 2:
            raise ParameterError(f"a training waveform has {waveform.shape[-1]} samples; n_fft={n_fft} "
                             f"needs more than {n_fft // 2}.")
        frames.append(front.analyse(waveform)[0].abs())
    spectra = torch.cat(frames, -1)
    level = spectra.sum(0)
    keep = level >= level.max() * 10.0 ** (-threshold_db / 20.0)
    spectra, level = spectra[:, keep], level[keep]
    if max_exemplars is not None and spectra.shape[1] > max_exemplars:
        # evenly spaced in time: keeps every note of a scale, deterministically
        index = torch.linspace(0, spectra.shape[1] - 1, max_exemplars).round().long()
        spectra, level = spectra[:, index], level[index]
    return spectra / level


# --------------------------------------------------------------------------- the model
def source_parts(W: Tensor, H: Tensor, components: Tensor, n_sources: int) -> Tensor:
    """Model spectrogram of each source, ``(sources, channels, freq, frames)``, of NMFD
    templates ``W (freq, R, T)`` (``T = 1``: NMF) and activations ``H (channels, R,
    frames)``; ``components (R,)`` holds the source index of every component."""
    parts = H.new_empty((n_sources, H.shape[0], W.shape[0], H.shape[2] + W.shape[2] - 1))
    for s in range(n_sources):  # into one tensor: a list to stack would need twice the memory
        parts[s] = NMFD.reconstruct(H[:, components == s], W[:, components == s])
    return parts


def channel_gains(parts: Tensor, V: Tensor, gains: Optional[Tensor] = None) -> Tensor:
    r"""Gains ``(sources, channels, 1, 1)`` of the model :math:`V_c \approx \sum_s G_{s,c}
    \Lambda_s` of every channel (instantaneous mixing): :data:`GAIN_UPDATES` KL
    multiplicative updates (an :class:`~nmfsep.nmf.NMF` fit whose templates, the parts, are
    held fixed) on at most :data:`GAIN_FRAMES` frames (evenly spaced) of ``V``
    ``(channels, pieces, freq, frames)`` with the sources' parts ``(sources, pieces, freq,
    frames)`` fixed, from ``gains`` (None: every source at each channel's level over the
    model's).

    Examples
    --------
    >>> import torch
    >>> parts = torch.rand(2, 1, 3, 400) + 0.1         # two sources, 3 bins, 400 frames
    >>> truth = torch.tensor([[0.9, 0.1], [0.3, 0.7]]).view(2, 2, 1, 1)
    >>> V = (truth * parts).sum(0)                       # (channels, freq, frames)
    >>> gains = channel_gains(parts, V.unsqueeze(1))
    >>> bool(((gains - truth).abs() < 0.02).all())
    True
    """
    step = math.ceil(parts.shape[1] * parts.shape[3] / GAIN_FRAMES)
    # the frames used, of all pieces and bins, side by side: (sources or channels, values)
    parts = parts[..., ::step].flatten(1)
    V = V[..., ::step].flatten(1)
    tiny = torch.finfo(V.dtype).tiny
    # each channel's level over the model's: the start without gains, and 1e-3 of it the
    # least start (a multiplicative update cannot revive a zero gain)
    level = (V.mean(1) / parts.sum(0).mean().clamp_min(tiny)).expand(parts.shape[0], -1)
    G = level.clone() if gains is None else torch.maximum(gains[..., 0, 0], 1e-3 * level)
    # the one fitting engine: V (C, values) ≈ Gᵀ parts, an NMF whose templates (the parts)
    # are held fixed and whose activations are the gains
    model = NMF(W=parts.T, H=G.T, trainable_W=False)
    model.fit(V, beta=1, tol=-math.inf, max_iter=GAIN_UPDATES, check_every=GAIN_UPDATES)
    return model.H.detach().T[..., None, None]
