r"""Initialisations of the NMF factors from the data: scaled random and NNDSVD (pure functions).

Orientation is nmfsep's: ``V (N, C) ≈ H Wᵀ`` with templates ``W (C, R)`` and activations
``H (N, R)`` (scikit-learn's ``X ≈ W H`` is ``V ≈ H Wᵀ`` with its ``W`` our ``H`` and its ``H``
our ``Wᵀ``). Everything runs in torch on the data's device; randomness takes a
``torch.Generator`` on that device.

References
----------
Boutsidis & Gallopoulos, "SVD based initialization: A head start for nonnegative matrix
factorization", Pattern Recognition 41(4), 2008.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from .._errors import ParameterError
from ._validation import check_nonnegative, check_rank

__all__ = ["INITS", "make_generator", "random_init", "nndsvd", "initialise_model_"]

#: Initialisations accepted by ``fit(..., init=...)``.
INITS = ("random", "nndsvd", "nndsvda", "nndsvdar")
_NNDSVD_VARIANTS = ("nndsvd", "nndsvda", "nndsvdar")


def make_generator(seed: Optional[int], device) -> Optional[torch.Generator]:
    """A generator on ``device`` seeded with ``seed`` (None: use torch's global generator)."""
    if seed is None:
        return None
    return torch.Generator(device=torch.device(device)).manual_seed(int(seed))


def _mean(V: Tensor) -> float:
    values = V._values() if V.is_sparse else V
    return float(values.sum()) / V.numel()


def _abs_normal(shape, scale: float, generator, like: Tensor) -> Tensor:
    """``|N(0, 1)| * scale`` drawn on ``like``'s device and dtype."""
    draw = torch.randn(shape, generator=generator, device=like.device, dtype=like.dtype)
    return draw.abs_().mul_(scale)


def random_init(
    V: Tensor,
    rank: int,
    *,
    kernel_size: Sequence[int] = (),
    generator: Optional[torch.Generator] = None,
) -> Tuple[Tensor, Tensor]:
    r"""Random factors scaled to the data, as scikit-learn's ``init='random'``.

    Entries are :math:`|\mathcal N(0, 1)| \sqrt{\bar V / (R \prod_k T_k)}`, so that the model
    :math:`H W^\top` (a sum of :math:`R \prod_k T_k` products) has the data's order of
    magnitude.

    Parameters
    ----------
    V : Tensor, shape (N, C) or (N, C, L, ...)
        Non-negative data (dense or sparse COO).
    rank : int
        Number of components R.
    kernel_size : sequence of int
        Template lengths along the shifted axes (``()`` for NMF, ``(T,)`` for NMFD, ...).
    generator : torch.Generator, optional
        On V's device (see :func:`make_generator`).

    Returns
    -------
    W : Tensor, shape (C, R, *kernel_size)
    H : Tensor, shape (N, R, L - T + 1, ...)

    Examples
    --------
    >>> V = torch.full((100, 50), 4.0)
    >>> W, H = random_init(V, 4, generator=torch.Generator().manual_seed(0))
    >>> W.shape, H.shape
    (torch.Size([50, 4]), torch.Size([100, 4]))
    >>> round(float(H.pow(2).mean() * 4), 1)  # E|x|^2 = 1: the model's scale is mean(V)
    4.0
    """
    V = check_nonnegative(V, "V")
    rank = check_rank(rank)
    kernel = tuple(int(k) for k in kernel_size)
    if V.dim() != 2 + len(kernel):
        raise ParameterError(
            f"V must have {2 + len(kernel)} axes (N, C{', ...' if kernel else ''}) for "
            f"kernel_size {kernel}, got shape {tuple(V.shape)}"
        )
    N, C, *spatial = V.shape
    if any(k < 1 or k > s for k, s in zip(kernel, spatial)):
        raise ParameterError(f"kernel_size {kernel} must be positive and fit V's shifted axes {tuple(spatial)}")
    scale = math.sqrt(_mean(V) / (rank * math.prod(kernel)))
    like = torch.empty(0, dtype=V.dtype, device=V.device)
    W = _abs_normal((C, rank) + kernel, scale, generator, like)
    H = _abs_normal((N, rank) + tuple(s - k + 1 for s, k in zip(spatial, kernel)), scale, generator, like)
    return W, H


def _leading_svd(V: Tensor, rank: int, generator) -> Tuple[Tensor, Tensor, Tensor]:
    """The ``rank`` leading singular triplets: exact for dense V, randomised for sparse V."""
    if not V.is_sparse:
        U, S, Vh = torch.linalg.svd(V, full_matrices=False)
        return U[:, :rank], S[:rank], Vh[:rank].t()
    # Halko, Martinsson & Tropp's range finder with power iterations (scikit-learn's defaults)
    N, C = V.shape
    width = min(rank + 10, N, C)
    probe = torch.randn(C, width, generator=generator, device=V.device, dtype=V.dtype)
    Q = torch.linalg.qr(torch.sparse.mm(V, probe)).Q
    for _ in range(7):
        Q = torch.linalg.qr(torch.sparse.mm(V.t(), Q)).Q
        Q = torch.linalg.qr(torch.sparse.mm(V, Q)).Q
    small = torch.sparse.mm(V.t(), Q).t()  # Qᵀ V, (width, C)
    U, S, Vh = torch.linalg.svd(small, full_matrices=False)
    return (Q @ U)[:, :rank], S[:rank], Vh[:rank].t()


def nndsvd(
    V: Tensor,
    rank: int,
    *,
    variant: str = "nndsvd",
    eps: float = 1e-6,
    generator: Optional[torch.Generator] = None,
) -> Tuple[Tensor, Tensor]:
    """Non-negative double SVD initialisation (Boutsidis & Gallopoulos 2008).

    Each leading singular pair ``(u_j, v_j)`` is split into its positive and negative parts
    and the pair with the larger product of norms is kept, scaled by the singular value; the
    first one is taken in absolute value. Entries under ``eps`` are set to zero. Same
    algorithm and outputs as scikit-learn's ``_initialize_nmf`` (which uses a randomised SVD;
    this one is exact for dense ``V``) with the factors transposed to nmfsep's orientation.

    Parameters
    ----------
    V : Tensor, shape (N, C)
        Non-negative data (dense or sparse COO; sparse V takes a randomised SVD).
    rank : int
        Number of components, at most ``min(N, C)``.
    variant : {'nndsvd', 'nndsvda', 'nndsvdar'}
        ``'nndsvd'`` keeps the zeros (sparse factors, suited to sparse solutions; updates
        that multiply, such as MU, can never move them); ``'nndsvda'`` fills them with the
        mean of V; ``'nndsvdar'`` with small random values (``|N(0, 1)| mean(V) / 100``).
    eps : float
        Entries under it are set to zero before filling.
    generator : torch.Generator, optional
        Randomness of ``'nndsvdar'`` and of the randomised SVD of sparse V.

    Returns
    -------
    W : Tensor, shape (C, rank)
        Templates.
    H : Tensor, shape (N, rank)
        Activations.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> V = torch.rand(30, 3) @ torch.rand(3, 20)
    >>> W, H = nndsvd(V, 3, variant="nndsvda")
    >>> W.shape, H.shape, bool((W > 0).all())
    (torch.Size([20, 3]), torch.Size([30, 3]), True)
    """
    if variant not in _NNDSVD_VARIANTS:
        raise ParameterError(f"variant must be one of {', '.join(map(repr, _NNDSVD_VARIANTS))}, got {variant!r}")
    V = check_nonnegative(V, "V")
    rank = check_rank(rank)
    if V.dim() != 2:
        raise ParameterError(f"nndsvd initialises NMF, V (N, C); got shape {tuple(V.shape)}. "
                         f"Use init='random' for NMFD and the other convolutive models.")
    if rank > min(V.shape):
        raise ParameterError(
            f"nndsvd needs rank <= min(N, C) = {min(V.shape)} (V has shape {tuple(V.shape)}), got "
            f"rank {rank}; use init='random' for overcomplete dictionaries"
        )
    U, S, Vs = _leading_svd(V, rank, generator)  # V ≈ U diag(S) Vsᵀ, U (N, R), Vs (C, R)
    # the split of each pair into positive and negative parts (the first pair is all one sign)
    u_pos, u_neg = U.clamp_min(0), (-U).clamp_min(0)
    v_pos, v_neg = Vs.clamp_min(0), (-Vs).clamp_min(0)
    u_pos_norm, u_neg_norm = u_pos.norm(dim=0), u_neg.norm(dim=0)
    v_pos_norm, v_neg_norm = v_pos.norm(dim=0), v_neg.norm(dim=0)
    m_pos, m_neg = u_pos_norm * v_pos_norm, u_neg_norm * v_neg_norm
    positive = m_pos > m_neg
    tiny = torch.finfo(V.dtype).tiny
    u = torch.where(positive, u_pos / u_pos_norm.clamp_min(tiny), u_neg / u_neg_norm.clamp_min(tiny))
    v = torch.where(positive, v_pos / v_pos_norm.clamp_min(tiny), v_neg / v_neg_norm.clamp_min(tiny))
    scale = (S * torch.where(positive, m_pos, m_neg)).sqrt()
    H, W = u * scale, v * scale
    first = S[0].sqrt()
    H[:, 0] = first * U[:, 0].abs()
    W[:, 0] = first * Vs[:, 0].abs()
    H[H < eps] = 0
    W[W < eps] = 0
    if variant == "nndsvda":
        mean = _mean(V)
        H[H == 0] = mean
        W[W == 0] = mean
    elif variant == "nndsvdar":
        mean = _mean(V)
        for factor in (H, W):
            zeros = factor == 0
            factor[zeros] = _abs_normal((int(zeros.sum()),), mean / 100, generator, factor)
    return W, H


def initialise_model_(
    model,
    V: Optional[Tensor],
    method: str,
    *,
    generator: Optional[torch.Generator] = None,
    data_mean: Optional[float] = None,
):
    """Overwrite the factors a model learns with an initialisation computed from ``V``.

    Only the slices that ``fit`` would learn are written: a factor with
    ``trainable_W/H=False`` is kept whole, and the components in ``fixed_W`` / ``fixed_H``
    stay bit-exact. Fixed or not, component ``r`` of every variant is the ``r``-th
    NNDSVD / random component.

    Parameters
    ----------
    model : BaseComponent
        NMF (any method) or a convolutive model (``'random'`` only).
    V : Tensor or None
        The data the model reconstructs; None with ``data_mean`` for ``'random'`` when the
        data come in chunks.
    method : {'random', 'nndsvd', 'nndsvda', 'nndsvdar'}
    generator : torch.Generator, optional
    data_mean : float, optional
        Mean of V, when V itself is not given.

    Returns
    -------
    model
    """
    if method not in INITS:
        raise ParameterError(f"init must be None or one of {', '.join(map(repr, INITS))}, got {method!r}")
    W_old, H_old = model.W, model.H
    kernel = tuple(W_old.shape[2:])
    if method == "random":
        if V is None:
            scale = math.sqrt(data_mean / (model.rank * math.prod(kernel)))
            W = _abs_normal(W_old.shape, scale, generator, W_old.detach())
            H = None if H_old is None else _abs_normal(H_old.shape, scale, generator, H_old.detach())
        else:
            W, H = random_init(V, model.rank, kernel_size=kernel, generator=generator)
    else:
        if W_old.dim() != 2 or V is None or V.dim() != 2:
            raise ParameterError(
                f"init={method!r} initialises NMF, V (N, C) ≈ H Wᵀ, from the whole data at once; "
                f"use init='random' for {type(model).__name__}"
                + (" and for chunked data" if V is None else "")
            )
        W, H = nndsvd(V, model.rank, variant=method, generator=generator)
    with torch.no_grad():
        for name, new in (("W", W), ("H", H)):
            param = getattr(model, name)
            if param is None or not param.requires_grad:
                continue
            mask = model.fixed_mask(name)
            if mask is None:
                param.copy_(new)
            else:
                param.copy_(torch.where(mask.to(param.device), param, new.to(param.dtype)))
    return model
