"""The time-frequency front end shared by :mod:`.separation` and :mod:`.templates`.

A front end turns a waveform ``(channels, samples)`` into a complex representation
``(channels, freq, frames)`` whose magnitude a model factorises, and turns masked copies of
that representation back into waveforms. Two kinds exist: ``"stft"`` (linear frequency,
:class:`~nmfsep.transforms.STFT`) and ``"cqt"`` (log frequency, the invertible
:class:`~nmfsep.transforms.CQT`, needed by the pitch-shift-invariant models).

The settings are kept as a plain dict so that :class:`~nmfsep.separation.Templates`
can store them and compare them with a separator's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

import torch
from torch import Tensor

from .._errors import ParameterError
from .cqt import C1_HZ, CQT
from .stft import STFT, WINDOWS, stft_frequencies

__all__ = ["FRONT_ENDS", "FrontEnd", "resolve_front_end"]

FRONT_ENDS = ("stft", "cqt")


def resolve_front_end(kind, sample_rate: int, *, n_fft=None, hop_length=None, window=None,
                      fmin=None, n_bins=None, bins_per_octave=None) -> "FrontEnd":
    """Validate front-end settings (filling the defaults) and build the :class:`FrontEnd`.

    STFT defaults: ``n_fft=2048``, ``hop_length=n_fft // 4``, ``window="hann"``. CQT
    defaults: ``fmin`` = C1 (32.7 Hz), ``n_bins`` up to the Nyquist frequency,
    ``bins_per_octave=12``, the largest exactly invertible ``hop_length``.
    """
    if kind not in FRONT_ENDS:
        raise ParameterError(f"front_end must be one of {FRONT_ENDS}, got {kind!r}.")
    if kind == "stft":
        window = "hann" if window is None else window
        if not isinstance(window, str) or window.lower() not in WINDOWS:
            raise ParameterError(f"window must be one of {WINDOWS}, got {window!r}.")
        transform = STFT(n_fft=2048 if n_fft is None else n_fft, hop_length=hop_length,
                         window=window.lower())
        settings = dict(n_fft=transform.n_fft, hop_length=transform.hop_length,
                        window=window.lower())
    else:
        transform = CQT(sample_rate, fmin=C1_HZ if fmin is None else fmin, n_bins=n_bins,
                        bins_per_octave=12 if bins_per_octave is None else bins_per_octave,
                        hop_length=hop_length)
        settings = dict(fmin=transform.fmin, n_bins=transform.n_bins,
                        bins_per_octave=transform.bins_per_octave,
                        hop_length=transform.hop_length)
    return FrontEnd(kind, int(sample_rate), settings, transform)


@dataclass
class FrontEnd:
    """A validated STFT or CQT with the settings it was built from.

    Attributes
    ----------
    kind : {"stft", "cqt"}
    sample_rate : int
        Sampling rate in Hz.
    settings : dict
        ``n_fft``, ``hop_length``, ``window`` (STFT) or ``fmin``, ``n_bins``,
        ``bins_per_octave``, ``hop_length`` (CQT).
    transform : STFT or CQT
        The module doing the work.
    """

    kind: str
    sample_rate: int
    settings: dict
    transform: torch.nn.Module = field(repr=False)

    @property
    def hop_length(self) -> int:
        return int(self.settings["hop_length"])

    @property
    def n_freqs(self) -> int:
        """Frequency bins of the representation."""
        if self.kind == "stft":
            return self.settings["n_fft"] // 2 + 1
        return self.settings["n_bins"]

    def frequencies(self) -> Tensor:
        """Centre frequency of every bin in Hz, ``(n_freqs,)`` float64."""
        if self.kind == "stft":
            return stft_frequencies(self.sample_rate, self.settings["n_fft"], dtype=torch.float64)
        return self.transform.frequencies.to(torch.float64)

    def n_frames(self, length: int) -> int:
        """Frames of the representation of a signal of ``length`` samples."""
        if self.kind == "stft":
            return 1 + length // self.hop_length
        return self.transform._design.n_frames(length)

    def min_length(self) -> int:
        """Fewest samples the front end accepts (reflect padding needs ``n_fft // 2 + 1``)."""
        return self.settings["n_fft"] // 2 + 1 if self.kind == "stft" else 1

    def analyse(self, waveform: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """Complex ``(..., freq, frames)`` representation and, for the CQT, the residual.

        The residual ``(..., samples)`` is the part of the signal outside the CQT's bins
        (``None`` for the STFT, which represents everything).
        """
        if waveform.shape[-1] < self.min_length():
            raise ParameterError(
                f"the signal has {waveform.shape[-1]} samples but n_fft={self.settings['n_fft']} "
                f"needs at least {self.min_length()}; use a smaller n_fft or a longer signal."
            )
        if self.kind == "stft":
            return self.transform(waveform), None
        return self.transform(waveform, return_residual=True)

    def synthesise(self, spec: Tensor, length: int, residual: Optional[Tensor] = None) -> Tensor:
        """Waveforms ``(..., length)`` of complex ``(..., freq, frames)``; adds ``residual``."""
        waveform = self.transform.inverse(spec, length)
        return waveform if residual is None else waveform + residual

    def to(self, device) -> "FrontEnd":
        self.transform.to(device)
        return self
