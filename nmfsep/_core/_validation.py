"""Input validation for the factorisation core: one place, used at every public boundary."""

from __future__ import annotations

import math
import numbers
import operator
import warnings
from typing import Optional, Sequence

import torch
from torch import Tensor

from .._errors import NonFiniteError, ParameterError, ParameterTypeError, ValueAssertionError

__all__ = [
    "NonFiniteError",
    "ValueAssertionError",
    "eps_for",
    "as_float_tensor",
    "check_nonnegative",
    "value_range",
    "check_rank",
    "check_count",
    "check_beta",
    "check_real",
    "check_component_mask",
    "check_penalty_weights",
]


def eps_for(dtype: torch.dtype) -> float:
    """Smallest safe additive constant for divisions in ``dtype`` (machine epsilon)."""
    return float(torch.finfo(dtype).eps)


def as_float_tensor(x, name: str = "V") -> Tensor:
    """Return ``x`` as a floating point tensor (numpy arrays and integer tensors are converted).

    Sparse COO tensors are returned as they are (coalesced).
    """
    if not isinstance(x, Tensor):
        try:
            x = torch.as_tensor(x)
        except Exception as err:  # lists of ragged lengths, strings, ...
            raise ParameterTypeError(
                f"{name} must be a torch.Tensor or array-like of numbers, got {type(x).__name__}"
            ) from err
    if x.is_sparse:
        x = x.coalesce()
    if x.is_complex():
        raise ParameterTypeError(
            f"{name} is complex; factorisations need a non-negative real tensor: pass a magnitude "
            f"or power spectrogram (e.g. spec.abs() or spec.abs() ** 2)."
        )
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    return x


def sparse_with_values(V: Tensor, values: Tensor) -> Tensor:
    """A sparse COO tensor with the indices of a coalesced sparse ``V`` and new ``values``.

    The indices are V's, already valid: torch's invariant checks are skipped, and so is the
    warning torch gives once per process when a sparse tensor is built without the caller
    opting in or out of them, which would reach a user who never built one.

    Examples
    --------
    >>> V = torch.tensor([[0.0, 2.0], [3.0, 0.0]]).to_sparse()
    >>> sparse_with_values(V, V.values() * 2).to_dense()
    tensor([[0., 4.],
            [6., 0.]])
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly disabled")
        return torch.sparse_coo_tensor(V.indices(), values, V.shape, is_coalesced=True,
                                       check_invariants=False)


def value_range(tensor: Tensor) -> tuple:
    """``(min, max)`` of a tensor's values as floats (real and imaginary parts of a complex one).

    One read pass, without a temporary as large as the tensor (``isfinite`` builds a boolean
    one, ~30x slower): NaN anywhere makes both NaN, and an infinite value is an extreme, so
    the tensor is finite exactly when both are. ``(0.0, 0.0)`` for an empty tensor.
    """
    if tensor.numel() == 0:
        return 0.0, 0.0
    with torch.no_grad():
        values = torch.view_as_real(tensor.resolve_conj()) if tensor.is_complex() else tensor
        low, high = torch.aminmax(values)
    return float(low), float(high)


def check_nonnegative(x: Tensor, name: str = "V", *, allow_empty: bool = False) -> Tensor:
    """Validate a tensor as non-negative, finite data; return it (as float).

    Raises
    ------
    ValueAssertionError
        If ``x`` is empty, contains NaN or Inf, or has negative entries (a ``ValueError``,
        and an ``AssertionError`` as torchnmf's checks of the same).
    """
    x = as_float_tensor(x, name)
    values = x._values() if x.is_sparse else x
    if x.numel() == 0 and not allow_empty:
        raise ValueAssertionError(f"{name} is empty (shape {tuple(x.shape)}); nothing to factorise.")
    if values.numel():
        low, high = value_range(values)
        if not (math.isfinite(low) and math.isfinite(high)):
            n_bad = int((~torch.isfinite(values)).sum())
            raise ValueAssertionError(
                f"{name} contains {n_bad} NaN or Inf value(s); clean the input first "
                f"(e.g. torch.nan_to_num) or check the step that produced it."
            )
        if low < 0:
            raise ValueAssertionError(
                f"{name} has negative values (min {low:.3g}); non-negative factorisations need "
                f"non-negative data: use a magnitude or power spectrogram, or clamp with .clamp(min=0)."
            )
    return x


def check_count(value, name: str, *, minimum: Optional[int] = 1) -> int:
    """Validate an integer parameter (a count: ``max_iter``, ``check_every``, ...) of ``name``.

    Integers of any kind (``numpy.int64``, a 0-dim integer tensor) are accepted; booleans and
    floats, even integral ones such as ``2.0``, are refused with a message naming ``name``
    (a :class:`nmfsep.ParameterTypeError`); under ``minimum`` (unless None) it is a
    :class:`nmfsep.ParameterError`.
    """
    if isinstance(value, bool):
        raise ParameterTypeError(f"{name} must be an integer, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError as err:
        hint = f" (e.g. {name}={int(value)})" if isinstance(value, float) and math.isfinite(value) else ""
        raise ParameterTypeError(f"{name} must be an integer, got {value!r}{hint}") from err
    if minimum is not None and value < minimum:
        raise ParameterError(f"{name} must be at least {minimum}, got {value}")
    return value


def check_rank(rank, *, name: str = "rank") -> int:
    """Validate a number of components (a positive integer)."""
    if isinstance(rank, bool):
        raise ParameterTypeError(f"{name} must be a positive integer, got {rank!r}")
    try:
        rank = operator.index(rank)
    except TypeError as err:
        raise ParameterTypeError(f"{name} must be a positive integer, got {rank!r}") from err
    if rank < 1:
        raise ParameterError(f"{name} must be at least 1, got {rank}")
    return rank


def check_beta(beta) -> float:
    """Validate the beta of a beta-divergence (any finite real number)."""
    try:
        beta = float(beta)
    except (TypeError, ValueError) as err:
        raise ParameterTypeError(f"beta must be a real number, got {beta!r}") from err
    if not math.isfinite(beta):
        raise ParameterError(
            f"beta must be finite, got {beta}; use 2 (Euclidean), 1 (Kullback-Leibler) or 0 (Itakura-Saito)."
        )
    return beta


def check_real(value, name: str, *, low: Optional[float] = None, high: Optional[float] = None,
               low_open: bool = False, high_open: bool = False, unit: Optional[str] = None) -> float:
    """Validate a finite real number within an interval: every real-valued setting's rule.

    ``low``/``high`` bound it (``None``: unbounded), open where ``low_open``/``high_open``;
    ``unit`` names the unit in the message. A bool or another type than a real number (a
    Python or numpy number, a one-element tensor) is a :class:`nmfsep.ParameterTypeError`;
    NaN, Inf or a number out of the interval a :class:`nmfsep.ParameterError` that states the
    interval.

    Examples
    --------
    >>> check_real(0.5, "threshold", low=0, high=1)
    0.5
    >>> check_real(0, "mask_power", low=0, low_open=True)
    Traceback (most recent call last):
        ...
    nmfsep.ParameterError: mask_power must be a positive finite number, got 0.
    """
    if low == 0 and high is None:
        what = "positive finite number" if low_open else "non-negative finite number"
    elif low is None and high is None:
        what = "finite number"
    else:
        what = "number in " + ("(" if low_open else "[") + ("-inf" if low is None else f"{low:g}") + \
               ", " + ("inf" if high is None else f"{high:g}") + (")" if high_open else "]")
    if unit:
        what += f" of {unit}"
    if isinstance(value, Tensor) and value.numel() == 1 and value.is_floating_point():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterTypeError(f"{name} must be a {what}, got {type(value).__name__} ({value!r}).")
    number = float(value)
    if not (math.isfinite(number)
            and (low is None or (number > low if low_open else number >= low))
            and (high is None or (number < high if high_open else number <= high))):
        raise ParameterError(f"{name} must be a {what}, got {value!r}.")
    return number


def check_component_mask(mask, rank: int, name: str) -> Optional[Tensor]:
    """Turn a per-component specification into a boolean tensor of shape ``(rank,)``.

    Accepts ``None`` (nothing fixed), ``True``/``False`` (all or none), a sequence of
    booleans of length ``rank``, or a sequence of integer component indices; a sequence that
    mixes the two (``[True, False, 2]``) is refused rather than read as indices.
    """
    if mask is None or mask is False:
        return None
    if mask is True:
        return torch.ones(rank, dtype=torch.bool)
    kinds = "a sequence of booleans (one per component) or of component indices"
    if isinstance(mask, (str, bytes)) or not hasattr(mask, "__len__"):
        raise ParameterTypeError(f"{name} must be None, True, or {kinds}, got {type(mask).__name__} {mask!r}")
    if not isinstance(mask, Tensor) and not hasattr(mask, "dtype"):  # a list or tuple
        flags = [isinstance(item, bool) or type(item).__name__ == "bool_" for item in mask]
        if any(flags) and not all(flags):
            raise ParameterTypeError(
                f"{name} mixes booleans and integers ({list(mask)!r}): give {kinds}, not both"
            )
    try:
        m = torch.as_tensor(mask)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ParameterTypeError(f"{name} must be {kinds}, got {mask!r}") from err
    if m.dtype == torch.bool:
        if m.shape != (rank,):
            raise ParameterError(
                f"{name} must have one boolean per component (length {rank}), got shape {tuple(m.shape)}"
            )
        return m.clone()
    if m.dtype.is_floating_point or m.ndim != 1:
        raise ParameterTypeError(
            f"{name} must be a sequence of booleans (one per component) or of component indices, got {mask!r}"
        )
    if m.numel() and (int(m.min()) < -rank or int(m.max()) >= rank):
        raise ParameterError(f"{name} holds component indices outside [0, {rank}): {m.tolist()}")
    out = torch.zeros(rank, dtype=torch.bool)
    out[m.long()] = True
    return out


def check_penalty_weights(value, rank: int, name: str):
    """Validate a penalty weight: one finite non-negative number, or one per component.

    Returns
    -------
    float or Tensor
        The number, or a float64 tensor of shape ``(rank,)``; ``0.0`` when every weight is
        zero (the penalty is off).
    """
    hint = f"give a number >= 0 (0 turns it off) or {rank} of them, one per component"
    if isinstance(value, bool):
        raise ParameterTypeError(f"{name} must be a number, got {value!r}; {hint}")
    try:
        weights = torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ParameterTypeError(f"{name} must be a number or a sequence of numbers, got {value!r}; "
                        f"{hint}") from err
    if weights.dim() > 1 or (weights.dim() == 1 and weights.numel() != rank):
        raise ParameterError(f"{name} has shape {tuple(weights.shape)}; {hint}")
    if not bool(torch.isfinite(weights).all()) or bool((weights < 0).any()):
        shown = weights.item() if weights.dim() == 0 else weights.tolist()
        raise ParameterError(f"{name} must be finite and non-negative, got {shown}; {hint}")
    if not bool(weights.any()):
        return 0.0
    return float(weights) if weights.dim() == 0 else weights


def check_same_shape(a: Sequence[int], b: Sequence[int], what: str, hint: str = "") -> None:
    """Raise a ValueError when two shapes differ."""
    if tuple(a) != tuple(b):
        raise ParameterError(f"{what}: expected shape {tuple(b)}, got {tuple(a)}. {hint}".rstrip())
