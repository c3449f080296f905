"""Argument checks shared by the pipeline's transforms (one place for the messages)."""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor

from .._core._validation import value_range
from .._errors import ParameterError, ParameterTypeError

__all__ = ["all_finite", "check_finite", "check_sample_rate", "check_signal_type",
           "value_range"]

SIGNAL_DTYPES = (torch.float32, torch.float64)


def all_finite(tensor: Tensor) -> bool:
    """Whether ``tensor`` holds no NaN or Inf (one pass, see :func:`value_range`)."""
    return all(math.isfinite(v) for v in value_range(tensor))


def check_finite(tensor: Tensor, name: str) -> None:
    """Raise a ValueError counting the NaN/Inf values of ``tensor``."""
    if not all_finite(tensor):
        finite = torch.isfinite(tensor)  # only to count them for the message
        raise ParameterError(
            f"{name} contains {int((~finite).sum())} NaN or Inf value(s); clean the input "
            f"(e.g. torch.nan_to_num) before transforming it."
        )


def check_sample_rate(sample_rate, name: str = "sample_rate") -> int:
    """The one sample-rate rule: a positive whole number of Hz (``44100`` or ``44100.0``).

    Returns it as an ``int``; a ``TypeError`` (:class:`nmfsep.ParameterTypeError`) for another
    type or a fraction, a ``ValueError`` (:class:`nmfsep.ParameterError`) for zero or less.
    """
    whole = isinstance(sample_rate, numbers.Integral) or (
        isinstance(sample_rate, numbers.Real) and float(sample_rate).is_integer())
    if isinstance(sample_rate, bool) or not whole:  # a bool is whole, but True is no 1 Hz
        raise ParameterTypeError(f"{name} must be a whole number of Hz, got {sample_rate!r}.")
    sample_rate = int(sample_rate)
    if sample_rate < 1:
        raise ParameterError(f"{name} must be a positive number of Hz, got {sample_rate}.")
    return sample_rate


def check_signal_type(waveform) -> None:
    """A real float32/float64 tensor ``(..., samples)``, else a TypeError saying how to convert."""
    if not isinstance(waveform, Tensor):
        raise ParameterTypeError(
            f"waveform must be a torch.Tensor of shape (..., samples), got "
            f"{type(waveform).__name__}; convert it with torch.as_tensor."
        )
    if waveform.dtype not in SIGNAL_DTYPES:
        raise ParameterTypeError(
            f"waveform must be float32 or float64, got {waveform.dtype}; "
            f"convert it with .float() or .double()."
        )
