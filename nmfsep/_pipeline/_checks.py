"""Argument checks shared by the pipeline's transforms (one place for the messages)."""

from __future__ import annotations

import math
import numbers
import operator

import torch
from torch import Tensor

from .._core._validation import value_range
from .._errors import ParameterError, ParameterTypeError

__all__ = ["all_finite", "as_int", "check_finite", "check_sample_rate_hz", "check_signal_type",
           "value_range"]

SIGNAL_DTYPES = (torch.float32, torch.float64)


def as_int(value, name: str) -> int:
    """``value`` as an int; bools and non-integers are a TypeError naming ``name``."""
    if isinstance(value, bool):
        raise ParameterTypeError(f"{name} must be an integer, got a bool ({value!r}).")
    try:
        return operator.index(value)
    except TypeError:
        raise ParameterTypeError(
            f"{name} must be an integer, got {type(value).__name__} ({value!r})."
        ) from None


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


def check_sample_rate_hz(sample_rate) -> float:
    """A positive, finite sample rate in Hz (any real number)."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real):
        raise ParameterTypeError(f"sample_rate must be a number in Hz, got {type(sample_rate).__name__}.")
    value = float(sample_rate)
    if not (math.isfinite(value) and value > 0):
        raise ParameterError(f"sample_rate must be a positive number of Hz, got {sample_rate}.")
    return value


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
