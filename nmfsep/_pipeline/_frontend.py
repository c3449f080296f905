"""The front-end protocol shared by :mod:`.separation`, :mod:`.templates` and the recipes.

A front end turns a waveform ``(channels, samples)`` into a complex representation
``(channels, freq, frames)`` whose magnitude a model factorises, and turns masked copies of
that representation back into waveforms. :class:`~nmfsep.transforms.STFT` (linear
frequency) and :class:`~nmfsep.transforms.CQT` (log frequency, needed by the
pitch-shift-invariant models) answer the protocol :class:`FrontEnd`; any other object that
answers it can be given to :class:`~nmfsep.separation.Separator` as ``front_end=``.

The string form (``front_end="stft"`` with ``n_fft=...``) builds the same objects through
their ``from_settings`` (:func:`build_front_end`), which is also how templates' recorded
settings become a front end again.
"""

from __future__ import annotations

from typing import Optional, Protocol, Tuple

from torch import Tensor

from .._errors import ParameterError, ParameterTypeError
from .cqt import CQT
from .stft import STFT

__all__ = ["FRONT_ENDS", "FrontEnd", "build_front_end", "check_front_end"]

#: The front ends by name: what ``front_end="stft"`` or ``"cqt"`` builds, and the names
#: :class:`~nmfsep.separation.Templates` record.
FRONT_ENDS = {"stft": STFT, "cqt": CQT}

#: What an object needs to be a front end: attributes, then methods.
_ATTRIBUTES = ("kind", "settings", "hop_length", "n_freqs")
_METHODS = ("analyse", "synthesise", "n_frames", "min_length", "bin_frequencies", "to")


class FrontEnd(Protocol):
    """What :class:`~nmfsep.separation.Separator` needs of a time-frequency front end.

    :class:`~nmfsep.transforms.STFT` and :class:`~nmfsep.transforms.CQT` answer it.

    Attributes
    ----------
    kind : str
        Name of the representation (``"stft"``, ``"cqt"``); templates record it.
    settings : dict
        The settings that define the representation; templates record them and a separator
        refuses templates whose ``kind`` or ``settings`` differ.
    hop_length : int
        Samples between frames (chunk boundaries are multiples of it).
    n_freqs : int
        Frequency bins of the representation.
    """

    kind: str
    settings: dict
    hop_length: int
    n_freqs: int

    def analyse(self, waveform: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """Complex ``(..., n_freqs, frames)`` representation of ``waveform (..., samples)``
        and the residual ``(..., samples)`` it leaves out (None if it represents
        everything). Raises a ValueError for fewer than :meth:`min_length` samples."""

    def synthesise(self, spec: Tensor, length: int, residual: Optional[Tensor] = None) -> Tensor:
        """Waveforms ``(..., length)`` of a complex ``(..., n_freqs, frames)``
        representation, plus ``residual`` if given."""

    def n_frames(self, length: int) -> int:
        """Frames of the representation of ``length`` samples."""

    def min_length(self) -> int:
        """Fewest samples :meth:`analyse` accepts."""

    def bin_frequencies(self, sample_rate: int) -> Tensor:
        """Centre frequency of every bin in Hz, ``(n_freqs,)`` float64; a ValueError if the
        front end was designed for another sample rate."""

    def to(self, device) -> "FrontEnd":
        """Move the front end's buffers to ``device`` (in place)."""


def check_front_end(front_end) -> FrontEnd:
    """``front_end`` itself if it answers :class:`FrontEnd`, else a TypeError naming what it
    lacks."""
    missing = [name for name in _ATTRIBUTES if not hasattr(front_end, name)]
    missing += [name for name in _METHODS if not callable(getattr(front_end, name, None))]
    if missing:
        raise ParameterTypeError(
            f"front_end must be 'stft', 'cqt' or a front-end object such as "
            f"nmfsep.transforms.STFT(...) or CQT(...); {type(front_end).__name__} lacks "
            f"{missing} (see nmfsep.separation.FrontEnd)."
        )
    return front_end


def build_front_end(kind: str, sample_rate: int, **settings) -> FrontEnd:
    """The front end named ``kind`` with ``settings`` (None: its default), validated by the
    class's ``from_settings``: ``n_fft``, ``hop_length``, ``window`` for ``"stft"``;
    ``fmin``, ``n_bins``, ``bins_per_octave``, ``hop_length`` for ``"cqt"``."""
    if kind not in FRONT_ENDS:
        raise ParameterError(f"front_end must be one of {tuple(FRONT_ENDS)} or a front-end object "
                         f"(nmfsep.transforms.STFT or CQT), got {kind!r}.")
    return FRONT_ENDS[kind].from_settings(sample_rate, **settings)
