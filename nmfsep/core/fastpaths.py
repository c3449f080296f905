"""Closed-form gradient parts of the beta-divergence for NMF and NMFD (no autograd).

Each function returns ``(negative, positive)`` for the factor ``name`` (``"W"`` or ``"H"``),
the two inputs of :func:`nmfsep.core.updates.multiplicative_update_`. They agree with the
generic autograd path (``BaseComponent._gradient_parts``) to rounding; the tests check it.
"""

from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ._validation import eps_for
from .updates import data_weights

__all__ = ["nmf_parts", "nmfd_parts", "nmfd_reconstruct"]


def nmf_parts(name: str, V: Tensor, W: Tensor, H: Tensor, beta: float) -> Tuple[Tensor, Tensor]:
    """Gradient parts for ``V (N, C) ≈ H Wᵀ`` with ``W (C, R)``, ``H (N, R)``.

    For beta = 2 the parts are ``Vᵀ H`` and ``W (Hᵀ H)`` (and symmetrically for H): the
    product ``H Wᵀ`` is never formed. Sparse COO ``V`` is supported for beta = 1 and 2.
    """
    # the W-parts contract over N with H, the H-parts over C with W
    other = H if name == "W" else W
    own = W if name == "W" else H
    if beta == 2:
        Vo = V.t() if name == "W" else V
        negative = torch.sparse.mm(Vo, other) if V.is_sparse else Vo @ other
        return negative, own @ (other.t() @ other)
    if V.is_sparse:
        if beta != 1:
            raise ValueError("sparse V is supported for beta = 1 and 2 only; densify it first")
        ratio = _sparse_ratio(V, W, H)
        return torch.sparse.mm(ratio.t() if name == "W" else ratio, other), other.sum(0, keepdim=True)
    weight_neg, weight_pos = data_weights(V, H @ W.t(), beta)
    if name == "W":
        weight_neg = weight_neg.t()
        weight_pos = None if weight_pos is None else weight_pos.t()
    positive = other.sum(0, keepdim=True) if weight_pos is None else weight_pos @ other
    return weight_neg @ other, positive


def _sparse_ratio(V: Tensor, W: Tensor, H: Tensor) -> Tensor:
    """``V / (H Wᵀ)`` evaluated at the stored entries of a coalesced sparse ``V``."""
    rows, cols = V.indices()
    model = (H[rows] * W[cols]).sum(1) + eps_for(V.dtype)
    return torch.sparse_coo_tensor(V.indices(), V.values() / model, V.shape, is_coalesced=True,
                                   check_invariants=False)


def nmfd_reconstruct(H: Tensor, W: Tensor) -> Tensor:
    """``V[n, c, l] = sum_{r, t} W[c, r, t] H[n, r, l - t]`` for ``W (C, R, T)``, ``H (N, R, J)``."""
    return F.conv1d(H, W.flip(2), padding=W.shape[2] - 1)


def _correlate(G: Tensor, H: Tensor, T: int) -> Tensor:
    """``out[c, r, t] = sum_{n, j} G[n, c, j + t] H[n, r, j]``, as T matrix products."""
    J = H.shape[2]
    return torch.stack([torch.tensordot(G[:, :, t:t + J], H, dims=([0, 2], [0, 2])) for t in range(T)], 2)


def nmfd_parts(name: str, V: Tensor, W: Tensor, H: Tensor, beta: float) -> Tuple[Tensor, Tensor]:
    """Gradient parts for NMFD, ``V (N, C, L)``, ``W (C, R, T)``, ``H (N, R, L - T + 1)``."""
    T = W.shape[2]
    weight_neg, weight_pos = data_weights(V, nmfd_reconstruct(H, W), beta)
    if name == "H":
        kernel = W.transpose(0, 1)
        negative = F.conv1d(weight_neg, kernel)
        positive = W.sum((0, 2)).view(1, -1, 1) if weight_pos is None else F.conv1d(weight_pos, kernel)
        return negative, positive
    negative = _correlate(weight_neg, H, T)
    positive = H.sum((0, 2)).view(1, -1, 1) if weight_pos is None else _correlate(weight_pos, H, T)
    return negative, positive
