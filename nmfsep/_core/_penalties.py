r"""Penalties on the activations that the multiplicative updates take through gradient parts.

Temporal continuity (Virtanen, "Monaural sound source separation by nonnegative matrix
factorization with temporal continuity and sparseness criteria", IEEE TASLP 15(3), 2007): for
every sequence :math:`h = (h_0, \dots, h_{L-1})` of activations along the time axis,

.. math:: c(h) = \frac{L}{\sum_t h_t^2} \sum_{t=1}^{L-1} (h_t - h_{t-1})^2,

which does not change when ``h`` is scaled (the templates keep the scale). Its gradient splits
into a positive and a negative part as Virtanen's updates take them,

.. math::
    \frac{\partial c}{\partial h_t} = \underbrace{\frac{2 L n_t h_t}{E}}_{P_t}
    - \underbrace{\Big(\frac{2 L (h_{t-1} + h_{t+1})}{E} + \frac{2 L h_t D}{E^2}\Big)}_{N_t}

with :math:`E = \sum_t h_t^2`, :math:`D = \sum_t (h_t - h_{t-1})^2` and :math:`n_t` the number
of neighbours of frame ``t`` (1 at the ends, else 2; missing neighbours count as 0; a single
frame has none and no cost).
"""

from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
from torch import Tensor

__all__ = ["continuity_parts", "continuity_cost", "component_weights", "add_on_components"]


def _energy_and_roughness(h: Tensor) -> Tuple[Tensor, Tensor]:
    """``E`` (clamped to the dtype's tiny) and ``D`` of ``h (..., L)`` along its last axis."""
    energy = (h * h).sum(-1, keepdim=True).clamp_min(torch.finfo(h.dtype).tiny)
    roughness = (h[..., 1:] - h[..., :-1]).pow(2).sum(-1, keepdim=True)
    return energy, roughness


def continuity_parts(H: Tensor, dim: int) -> Tuple[Tensor, Tensor]:
    """Negative and positive parts of the gradient of the summed temporal continuity cost.

    Parameters
    ----------
    H : Tensor
        Non-negative activations; every slice along ``dim`` is one sequence.
    dim : int
        The time axis of ``H`` (0 for NMF's ``H (N, R)``, -1 for NMFD's ``H (N, R, L)``).

    Returns
    -------
    negative, positive : Tensor, shape of ``H``
        The gradient of ``continuity_cost(H, dim).sum()`` is ``positive - negative``; both
        are finite and non-negative (an all-zero sequence gives zeros).

    Examples
    --------
    >>> H = torch.tensor([[1.0, 3.0, 2.0]])
    >>> negative, positive = continuity_parts(H, -1)
    >>> positive - negative  # d/dh of 3 * ((3-1)² + (2-3)²) / (1 + 9 + 4)
    tensor([[-1.0102,  0.8265, -0.7347]])
    """
    h = H.movedim(dim, -1)
    energy, roughness = _energy_and_roughness(h)
    L = h.shape[-1]
    # divided by E last and D / E <= 4: finite where E is tiny, and zeros stay zeros
    negative = h * (roughness / energy)
    negative[..., 1:] += h[..., :-1]  # the neighbours (none beyond the ends)
    negative[..., :-1] += h[..., 1:]
    negative.div_(energy).mul_(2 * L)
    neighbours = torch.full((L,), 4.0 * L, dtype=h.dtype, device=h.device)  # 2 L n_t
    neighbours[0] -= 2 * L  # the first and last frames have one neighbour (a single one none)
    neighbours[-1] -= 2 * L
    positive = (h * neighbours).div_(energy)
    return negative.movedim(-1, dim), positive.movedim(-1, dim)


def continuity_cost(H: Tensor, dim: int) -> Tensor:
    """The temporal continuity cost ``L / E * D`` of every sequence of ``H`` along ``dim``.

    Returns
    -------
    Tensor
        ``H``'s shape with ``dim`` of size 1 (one cost per sequence).
    """
    h = H.movedim(dim, -1)
    energy, roughness = _energy_and_roughness(h)
    return (h.shape[-1] * roughness / energy).movedim(-1, dim)


def component_weights(weight: Union[float, Tensor], like: Tensor) -> Union[float, Tensor]:
    """A per-component weight ``(R,)`` viewed to broadcast along axis 1 of ``like``; a number
    as it is."""
    if not isinstance(weight, Tensor):
        return weight
    shape = [1] * like.dim()
    shape[1] = -1
    return weight.to(device=like.device, dtype=like.dtype).view(shape)


def add_on_components(part: Tensor, extra: Tensor, index: Optional[Tensor]) -> Tensor:
    """``part + extra`` where ``extra`` holds the components ``index`` (axis 1) only.

    ``part`` may broadcast (a gradient part such as KL's template sums ``(1, R)``); the
    result has ``extra``'s shape with all of ``part``'s components, and is a new tensor.
    ``index`` None: ``extra`` holds every component.
    """
    if index is None:
        return part + extra
    shape = list(extra.shape)
    shape[1] = part.shape[1]
    return torch.index_add(part.expand(shape), 1, index, extra)
