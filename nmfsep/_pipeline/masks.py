"""Time-frequency masks from a stack of per-source model spectrograms.

Every function takes ``estimates`` of shape ``(S, ...)``: the source axis first, then any
shape shared by all sources (typically ``(freq, frames)`` or ``(channels, freq, frames)``),
holding non-negative model spectrograms (e.g. the per-source parts ``W_s H_sᵀ`` of an NMF).

The masks sum to one over the source axis at every bin, also where every estimate is zero
(such a bin is split equally), so the masked sources sum back to the mixture. Inputs are
never modified in place.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor, nn

from .._errors import ParameterError, ParameterTypeError
from ._checks import all_finite, value_range

__all__ = ["SoftMask", "apply_masks", "binary_mask", "ratio_mask", "wiener_mask"]


def _check_estimates(estimates, name: str = "estimates") -> None:
    if not isinstance(estimates, Tensor):
        raise ParameterTypeError(
            f"{name} must be a torch.Tensor of shape (sources, ...), got "
            f"{type(estimates).__name__}; convert it with torch.as_tensor."
        )
    if estimates.is_complex() or not estimates.is_floating_point():
        raise ParameterTypeError(
            f"{name} must be a real floating-point tensor of non-negative model "
            f"spectrograms, got {estimates.dtype}; pass magnitudes (spec.abs()) of a float dtype."
        )
    if estimates.ndim < 1 or estimates.shape[0] < 1:
        raise ParameterError(
            f"{name} must have shape (sources, ...) with at least one source, "
            f"got {tuple(estimates.shape)}."
        )
    low, high = value_range(estimates)
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ParameterError(f"{name} contains NaN or Inf values.")
    if low < 0:
        raise ParameterError(
            f"{name} contains negative values (min {low:.3g}); model "
            f"spectrograms must be non-negative: pass magnitudes or clamp(min=0)."
        )


def _resolve_eps(eps: Optional[float], dtype: torch.dtype) -> float:
    if eps is None:
        return torch.finfo(dtype).tiny
    eps = float(eps)
    if not (math.isfinite(eps) and eps >= 0):
        raise ParameterError(f"eps must be a non-negative finite number, got {eps}.")
    return eps


def _check_power(power) -> float:
    power = float(power)
    if not (math.isfinite(power) and power > 0):
        raise ParameterError(
            f"power must be a positive finite number, got {power}; use binary_mask for "
            f"hard (argmax) masks."
        )
    return power


def _fill_where(values: Tensor, silent: Tensor, fill: float, in_place: bool) -> Tensor:
    """``values`` with ``fill`` on the silent bins (in ``values`` itself when ``in_place``)."""
    return values.masked_fill_(silent, fill) if in_place else values.masked_fill(silent, fill)


def _equal_split_where_silent(masks: Tensor, silent: Tensor, in_place: bool = False) -> Tensor:
    """Replace the masks of silent bins (all sources ≈ 0) by ``1 / S``."""
    return _fill_where(masks, silent, 1.0 / masks.shape[0], in_place)


def wiener_mask(estimates: Tensor, power: float = 2.0, eps: Optional[float] = None) -> Tensor:
    r"""Generalised (alpha-)Wiener soft masks ``S_i^p / sum_j S_j^p``.

    ``power=1`` gives ratio masks (:func:`ratio_mask`), ``power=2`` the Wiener filter for
    magnitude estimates; larger powers approach :func:`binary_mask`.

    Parameters
    ----------
    estimates : Tensor, shape (S, ...)
        Non-negative, finite model spectrograms of the ``S`` sources (magnitudes).
    power : float, default 2.0
        Exponent ``p > 0`` applied to each estimate.
    eps : float, optional
        Bins whose largest estimate is ``<= eps`` count as silent and are split equally
        between the sources. Defaults to the smallest normal number of the dtype
        (``torch.finfo(dtype).tiny``), i.e. only (near-)zero bins.

    Returns
    -------
    Tensor, shape (S, ...)
        Masks in ``[0, 1]`` of the dtype of ``estimates``, summing to one over axis 0
        (up to rounding). Differentiable with respect to ``estimates``.

    Notes
    -----
    The estimates are divided by their maximum over sources before the power is taken,
    which makes the masks scale invariant and keeps ``S^p`` from under- or overflowing
    (e.g. ``1e-30 ** 2`` is zero in float32), so no ``eps`` enters the ratio itself.

    Examples
    --------
    >>> import torch
    >>> from nmfsep.masks import wiener_mask
    >>> estimates = torch.tensor([[3.0, 0.0], [1.0, 0.0]])   # 2 sources, 2 bins
    >>> wiener_mask(estimates, power=2.0)
    tensor([[0.9000, 0.5000],
            [0.1000, 0.5000]])
    """
    _check_estimates(estimates)
    return _soft_masks(estimates, _check_power(power), _resolve_eps(eps, estimates.dtype))


def _soft_masks(estimates: Tensor, power: float, eps: float) -> Tensor:
    """:func:`wiener_mask` without its input checks, for callers that checked once (the
    streaming separator calls it every frame, where the checks cost a tenth of the frame)."""
    # Without autograd the steps work in place (the same numbers): for long mixtures every
    # temporary of the estimates' size is hundreds of MB.
    in_place = not (torch.is_grad_enabled() and estimates.requires_grad)
    peak = estimates.amax(dim=0, keepdim=True)
    silent = peak <= eps
    # Safe denominators (one on silent bins) keep the values and the gradients finite.
    relative = estimates / _fill_where(peak, silent, 1.0, in_place)
    if power != 1.0:
        relative = relative.pow_(power) if in_place else relative.pow(power)
    total = relative.sum(dim=0, keepdim=True)  # >= 1 on non-silent bins: the peak gives 1
    total = _fill_where(total, silent, 1.0, in_place)
    masks = relative.div_(total) if in_place else relative / total
    return _equal_split_where_silent(masks, silent, in_place)


def ratio_mask(estimates: Tensor, eps: Optional[float] = None) -> Tensor:
    r"""Ratio masks ``S_i / sum_j S_j`` (:func:`wiener_mask` with ``power=1``).

    Parameters
    ----------
    estimates : Tensor, shape (S, ...)
        Non-negative, finite model spectrograms of the ``S`` sources.
    eps : float, optional
        Silence threshold, as in :func:`wiener_mask`.

    Returns
    -------
    Tensor, shape (S, ...)
        Masks summing to one over axis 0; silent bins are split equally.

    Examples
    --------
    >>> import torch
    >>> from nmfsep.masks import ratio_mask
    >>> ratio_mask(torch.tensor([[3.0, 0.0], [1.0, 0.0]]))
    tensor([[0.7500, 0.5000],
            [0.2500, 0.5000]])
    """
    return wiener_mask(estimates, power=1.0, eps=eps)


def binary_mask(estimates: Tensor, eps: Optional[float] = None) -> Tensor:
    r"""Binary (argmax) masks: one where a source has the largest estimate, zero elsewhere.

    Ties go to the source with the lowest index; silent bins (every estimate ``<= eps``)
    are split equally, so the masks always sum to exactly one over sources.

    Parameters
    ----------
    estimates : Tensor, shape (S, ...)
        Non-negative, finite model spectrograms of the ``S`` sources.
    eps : float, optional
        Silence threshold, as in :func:`wiener_mask`.

    Returns
    -------
    Tensor, shape (S, ...)
        One-hot masks of the dtype of ``estimates`` (``1 / S`` on silent bins).
        Not differentiable (piecewise constant).

    Examples
    --------
    >>> import torch
    >>> from nmfsep.masks import binary_mask
    >>> binary_mask(torch.tensor([[3.0, 1.0, 0.0], [1.0, 2.0, 0.0]]))
    tensor([[1.0000, 0.0000, 0.5000],
            [0.0000, 1.0000, 0.5000]])
    """
    _check_estimates(estimates)
    eps = _resolve_eps(eps, estimates.dtype)
    winner = estimates.argmax(dim=0, keepdim=True)
    masks = torch.zeros_like(estimates).scatter_(0, winner, 1.0)
    silent = estimates.amax(dim=0, keepdim=True) <= eps
    return _equal_split_where_silent(masks, silent, in_place=True)


def apply_masks(masks: Tensor, mixture_spec: Tensor) -> Tensor:
    r"""Multiply a mixture spectrogram by each source's mask.

    Parameters
    ----------
    masks : Tensor, shape (S, ...)
        Real (or complex) masks, the source axis first. The trailing shape must broadcast
        to ``mixture_spec``'s shape, aligned from the right: e.g. masks ``(S, freq,
        frames)`` shared by all channels of a ``(channels, freq, frames)`` mixture.
    mixture_spec : Tensor, shape (...)
        Complex (or real) mixture spectrogram.

    Returns
    -------
    Tensor, shape (S, *mixture_spec.shape)
        Source spectrograms ``masks[s] * mixture_spec``; when the masks sum to one they
        sum back to the mixture.

    Examples
    --------
    >>> import torch
    >>> from nmfsep.masks import apply_masks, ratio_mask
    >>> mixture = torch.tensor([[2 + 2j, 1 - 1j]])                 # (freq=1, frames=2)
    >>> masks = ratio_mask(torch.tensor([[[3.0, 1.0]], [[1.0, 1.0]]]))
    >>> sources = apply_masks(masks, mixture)                       # (2, 1, 2)
    >>> torch.allclose(sources.sum(0), mixture)
    True
    """
    for name, tensor in (("masks", masks), ("mixture_spec", mixture_spec)):
        if not isinstance(tensor, Tensor):
            raise ParameterTypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}.")
        if not (tensor.is_complex() or tensor.is_floating_point()):
            raise ParameterTypeError(f"{name} must be a floating-point or complex tensor, got {tensor.dtype}.")
        if not all_finite(tensor):
            raise ParameterError(f"{name} contains NaN or Inf values.")
    if masks.ndim < 1 or masks.shape[0] < 1:
        raise ParameterError(f"masks must have shape (sources, ...), got {tuple(masks.shape)}.")
    trailing = masks.shape[1:]
    if len(trailing) > mixture_spec.ndim:
        raise ParameterError(
            f"masks of shape {tuple(masks.shape)} have more dimensions after the source axis "
            f"than mixture_spec of shape {tuple(mixture_spec.shape)}."
        )
    # Insert singleton axes after the source axis so the mask shape aligns from the right.
    n_new = mixture_spec.ndim - len(trailing)
    aligned = masks.reshape(masks.shape[0], *([1] * n_new), *trailing)
    try:
        out_shape = torch.broadcast_shapes(aligned.shape[1:], mixture_spec.shape)
    except RuntimeError:
        out_shape = None
    if out_shape != mixture_spec.shape:
        raise ParameterError(
            f"masks of shape {tuple(masks.shape)} (sources first) do not broadcast to "
            f"mixture_spec of shape {tuple(mixture_spec.shape)}; the shape after the source "
            f"axis must match the mixture's trailing dimensions (or be 1 there)."
        )
    return aligned * mixture_spec.unsqueeze(0)


class SoftMask(nn.Module):
    r"""Module face of :func:`wiener_mask`: ``forward(estimates)`` gives ``(S, ...)`` masks.

    Parameters
    ----------
    power : float, default 2.0
        1 for ratio masks, 2 for Wiener masks.
    eps : float, optional
        Silence threshold, as in :func:`wiener_mask`.

    Examples
    --------
    >>> import torch
    >>> from nmfsep.masks import SoftMask
    >>> SoftMask(power=1.0)(torch.tensor([[3.0], [1.0]]))
    tensor([[0.7500],
            [0.2500]])
    """

    def __init__(self, power: float = 2.0, eps: Optional[float] = None) -> None:
        super().__init__()
        self.power = _check_power(power)
        self.eps = _resolve_eps(eps, torch.float64) if eps is not None else None

    def forward(self, estimates: Tensor) -> Tensor:
        return wiener_mask(estimates, power=self.power, eps=self.eps)

    def extra_repr(self) -> str:
        return f"power={self.power}, eps={self.eps}"
