r"""Least-squares NMF solvers: HALS, ANLS and projected gradient (pure functions).

Every solver minimises the Euclidean objective (the beta-divergence at :math:`\beta = 2`)

.. math::
    \tfrac12 \lVert V - H W^\top \rVert_F^2
    + \ell_1 (\textstyle\sum W + \sum H) + \tfrac{\ell_2}{2} (\lVert W \rVert_F^2 + \lVert H \rVert_F^2)

for ``V (N, C) ≈ H Wᵀ`` with ``W (C, R)`` and ``H (N, R)``, by alternating over the two factors.
With one factor fixed, the other one ``X (M, R)`` solves the non-negative least-squares
problem

.. math:: \min_{X \ge 0}\ \tfrac12 \operatorname{tr}(X G X^\top) - \operatorname{tr}(X^\top K)

that depends on the data only through the *cross* product ``K`` (``V W`` for ``H``, ``Vᵀ H``
for ``W``, shape ``(M, R)``) and the *Gram* matrix ``G`` (``Wᵀ W`` or ``Hᵀ H``, ``(R, R)``).
The penalties enter as ``K - l1`` and ``G + l2 I``. The three ``*_block_`` functions each take
one step on that problem, in place; :func:`alternating_update_` builds ``K`` and ``G`` (``V``
may be sparse COO, ``V (N, C) x (C, R)`` never forms ``H Wᵀ``) and calls them for ``W`` then
``H``, the order of the multiplicative updates of :meth:`nmfsep.nmf.BaseComponent.fit`.

Components marked in ``fixed`` (one boolean per component) are left bit-exact: the block
problems are solved over the free columns only, with the fixed ones moved into ``K``. A mask of
the factor's own shape ``(M, R)`` fixes single entries (e.g. whole rows: the activations of
some frames or examples): every step is then projected back onto them, which keeps each
solver exact (HALS' entries of one column are independent) or monotone (PGD, ANLS).

References
----------
Cichocki & Phan, "Fast local algorithms for large scale nonnegative matrix and tensor
factorizations", IEICE 2009 (HALS). Gillis, "Nonnegative Matrix Factorization", SIAM 2020.
Guan, Tao, Luo & Yuan, "NeNMF: an optimal gradient method for nonnegative matrix
factorization", IEEE TSP 2012 (ANLS with Nesterov's method). Lin, "Projected gradient methods
for nonnegative matrix factorization", Neural Computation 2007.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Tuple

import torch
from torch import Tensor

from .._errors import ParameterError
from . import fastpaths
from ._validation import eps_for

__all__ = [
    "SOLVERS",
    "check_solver",
    "hals_block_",
    "hals_inner_sweeps",
    "nnls_block_",
    "projected_gradient_block_",
    "alternating_update_",
    "hals_update_",
    "anls_update_",
    "pgd_update_",
]

#: Solvers of :meth:`nmfsep.nmf.NMF.fit`: ``"mu"`` (multiplicative updates, any beta), the
#: least-squares solvers of this module (beta = 2) and ``"auto"``, the fastest of them for the
#: model and beta (:mod:`nmfsep.fitting`).
SOLVERS = ("mu", "hals", "anls", "pgd", "auto")
#: How ``"auto"`` accelerates multiplicative updates: squared extrapolation (SQUAREM,
#: :class:`nmfsep.fitting.SquaredExtrapolation`) or Ang & Gillis's geometric extrapolation
#: (:class:`nmfsep.fitting.ExtrapolatedSteps`).
EXTRAPOLATIONS = ("squarem", "geometric")
#: HALS sweeps of one factor stop when one changes it by under this times the first sweep did
#: (Gillis & Glineur 2012's delta).
SWEEP_TOLERANCE = 0.1
#: How many times slower a HALS sweep's multiply-adds run than a matrix product's, and the
#: launch time of one column update's operations (~25 µs) in a matrix product's multiply-adds
#: (~20 G/s per core): the cost model of :func:`hals_inner_sweeps`, measured on a CPU.
SWEEP_SLOWDOWN = 10
SWEEP_COLUMN_OVERHEAD = 500_000


def check_solver(solver, beta: float) -> str:
    """Validate a solver name against the divergence; return it.

    Raises
    ------
    ValueError
        If ``solver`` is unknown, or is a least-squares solver and ``beta != 2``.
    """
    if not isinstance(solver, str) or solver not in SOLVERS:
        raise ParameterError(f"solver must be one of {', '.join(map(repr, SOLVERS))}, got {solver!r}")
    if solver not in ("mu", "auto") and beta != 2:
        raise ParameterError(
            f"solver={solver!r} minimises the Euclidean distance (beta=2), got beta={beta:g}; "
            f"use solver='mu' for other divergences, or beta=2"
        )
    return solver


# -- the block problems -------------------------------------------------------------------------

def _free_problem(
    X: Tensor, cross: Tensor, gram: Tensor, fixed: Optional[Tensor], l1: float, l2: float
) -> Tuple[Optional[Tensor], Optional[Tensor], Tensor, Tensor]:
    """Restrict ``(K, G)`` to the free components and add the penalties.

    Returns ``(free, entries, K_free, G_free)`` with ``free`` the indices of the free
    components (None when all are free): the fixed columns' contribution
    ``X_fixed G[fixed, free]`` moves into K. ``entries`` is None, or for an entry mask
    ``fixed (M, R)`` its free columns' part, the entries each step must leave as they are.
    """
    free = entries = None
    if fixed is not None:
        fixed = fixed.to(X.device)
        if fixed.dim() == 2 and fixed.shape[0] > 1:  # one flag per entry: (M, R)
            if fixed.shape != X.shape:
                raise ParameterError(f"an entry mask must have the factor's shape {tuple(X.shape)}, "
                                 f"got {tuple(fixed.shape)}")
            entries = fixed
            fixed = fixed.all(0)  # columns fixed in every row leave the problem altogether
        fixed = fixed.reshape(-1)
        if bool(fixed.any()):
            free = torch.nonzero(~fixed).flatten()
            kept = torch.nonzero(fixed).flatten()
            cross = cross[:, free] - X[:, kept] @ gram[kept][:, free]
            gram = gram[free][:, free]
            entries = None if entries is None else entries[:, free]
    if entries is not None and not bool(entries.any()):
        entries = None
    if l1:
        cross = cross - l1
    if l2:
        gram = gram + l2 * torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
    return free, entries, cross, gram


def _project_(step: Tensor, entries: Optional[Tensor], kept: Tensor) -> Tensor:
    """Project a step onto the feasible set: non-negative, with the fixed ``entries`` at ``kept``."""
    step = step.clamp_min_(0)
    return step if entries is None else torch.where(entries, kept, step)


def _lipschitz(gram: Tensor) -> float:
    """Largest eigenvalue of the (symmetric, PSD) Gram matrix: the gradient's Lipschitz constant.

    Exact for moderate ranks; for large ones the maximum absolute row sum, an upper bound
    (Gershgorin) that is tight for the non-negative Gram matrices of NMF factors.
    """
    if gram.shape[0] <= 1024:
        top = float(torch.linalg.eigvalsh(gram)[-1])
    else:
        top = float(gram.abs().sum(1).max())
    return max(top, eps_for(gram.dtype))


def hals_inner_sweeps(rows: int, other_rows: int, rank: int) -> int:
    """Most HALS sweeps of a factor ``(rows, rank)`` per update of its partner ``(other_rows, rank)``.

    ``1 + ρ / 2`` (rounded down) with ``ρ = 1 + (M P R + P R²) / (s (M R² + M R) + R c)``:
    ``ρ`` sweeps cost as much as building the block problem (the product with V, ``M P R``,
    and the Gram matrix, ``P R²``, matrix products). Gillis & Glineur, "Accelerated
    multiplicative updates and hierarchical alternating least squares algorithms for
    nonnegative matrix factorization", Neural Computation 2012, section 3 (their alpha = 1/2),
    count a sweep as ``M R² + M R`` multiply-adds; here they run ``s =``
    :data:`SWEEP_SLOWDOWN` times slower than a matrix product's (matrix-vector products, bound
    by memory), and each of the R column updates costs ``c =`` :data:`SWEEP_COLUMN_OVERHEAD`
    multiply-adds' time more (the launch of its three torch operations). Measured on two CPU
    cores: a sweep of H (4000, 32) takes 2.0 ms against 6.0 ms for the product with V
    (4000 x 1025), one of H (1000, 16) 0.41 ms against 0.43 ms.

    Examples
    --------
    >>> hals_inner_sweeps(4000, 1025, 32)   # H of a 4000 x 1025 spectrogram, rank 32
    2
    >>> hals_inner_sweeps(1025, 4000, 32)   # its W
    4
    >>> hals_inner_sweeps(1000, 513, 16)    # small problems: one sweep costs the product
    1
    """
    sweep = SWEEP_SLOWDOWN * (rows * rank ** 2 + rows * rank) + rank * SWEEP_COLUMN_OVERHEAD
    rho = 1 + (rows * other_rows * rank + other_rows * rank ** 2) / sweep
    return max(1, int(1 + rho / 2))


def hals_block_(X: Tensor, cross: Tensor, gram: Tensor, *, fixed: Optional[Tensor] = None,
                l1: float = 0.0, l2: float = 0.0, max_sweeps: int = 1) -> Tensor:
    r"""HALS sweeps: exact minimisation over each free column of ``X`` in turn, in place.

    ``X[:, k] ← max(0, X[:, k] + (K[:, k] - X G[:, k]) / G[k, k])`` for every free ``k`` (the
    columns already updated in this sweep are used for the next ones). A component with
    ``G[k, k] = 0`` (a dead partner) is skipped, as in scikit-learn's coordinate descent.
    Up to ``max_sweeps`` sweeps reuse the same ``K`` and ``G`` (accelerated HALS, Gillis &
    Glineur 2012), stopping after a sweep that changes ``X`` by under
    :data:`SWEEP_TOLERANCE` times what the first one did.

    Parameters
    ----------
    X : Tensor, shape (M, R)
        The factor to update (``W`` or ``H``), modified in place.
    cross : Tensor, shape (M, R)
        ``V W`` (for ``H``) or ``Vᵀ H`` (for ``W``).
    gram : Tensor, shape (R, R)
        ``Wᵀ W`` (for ``H``) or ``Hᵀ H`` (for ``W``).
    fixed : Tensor of bool, shape (R,) or broadcastable, or (M, R), optional
        Components (or, with the factor's shape, entries) left bit-exact.
    l1, l2 : float
        L1 penalty and L2 penalty (weight decay), as in the multiplicative updates.
    max_sweeps : int
        Most sweeps (see :func:`hals_inner_sweeps`).

    Returns
    -------
    Tensor
        ``X``.

    Examples
    --------
    >>> W = torch.rand(30, 3); V = torch.rand(20, 3) @ W.t()
    >>> H = torch.rand(20, 3)
    >>> for _ in range(200):
    ...     _ = hals_block_(H, V @ W, W.t() @ W)
    >>> bool((H @ W.t() - V).norm() < 1e-3 * V.norm())
    True
    """
    with torch.no_grad():
        free, entries, cross, gram = _free_problem(X, cross, gram, fixed, l1, l2)
        # rows of the transposed copies are contiguous columns of X
        Xt = (X if free is None else X[:, free]).t().contiguous()
        Kt = cross.t()
        Et = None if entries is None else entries.t()
        diagonal = gram.diagonal().tolist()
        first = None
        for _ in range(max_sweeps):
            before = Xt.clone() if max_sweeps > 1 else None
            for k, g_kk in enumerate(diagonal):
                if g_kk <= 0:
                    continue
                residual = torch.addmv(Kt[k], Xt.t(), gram[k], alpha=-1)  # K[:, k] - X G[:, k]
                if Et is None:  # three operations per column: their launch is most of the cost
                    Xt[k].add_(residual, alpha=1 / g_kk).clamp_(min=0)
                else:
                    Xt[k] = _project_(Xt[k] + residual / g_kk, Et[k], Xt[k])
            if before is None:
                break
            change = float(before.sub_(Xt).norm())
            if first is None:
                first = change
            elif change <= SWEEP_TOLERANCE * first:
                break
        if free is None:
            X.copy_(Xt.t())
        else:
            X[:, free] = Xt.t()
    return X


def projected_gradient_block_(X: Tensor, cross: Tensor, gram: Tensor, *, fixed: Optional[Tensor] = None,
                              l1: float = 0.0, l2: float = 0.0) -> Tensor:
    """One projected gradient step ``X ← max(0, X - (X G - K) / L)``, in place.

    ``L`` is the largest eigenvalue of ``G`` (the gradient's Lipschitz constant), which makes
    every step decrease the objective. Parameters as :func:`hals_block_`.

    Examples
    --------
    >>> W = torch.rand(30, 3); H = torch.rand(20, 3); V = torch.rand(20, 30)
    >>> before = (V - H @ W.t()).norm()
    >>> _ = projected_gradient_block_(H, V @ W, W.t() @ W)
    >>> bool((V - H @ W.t()).norm() <= before)
    True
    """
    with torch.no_grad():
        free, entries, cross, gram = _free_problem(X, cross, gram, fixed, l1, l2)
        Xf = X if free is None else X[:, free]
        step = _project_(Xf - (Xf @ gram - cross) / _lipschitz(gram), entries, Xf)
        if free is None:
            X.copy_(step)
        else:
            X[:, free] = step
    return X


def nnls_block_(X: Tensor, cross: Tensor, gram: Tensor, *, fixed: Optional[Tensor] = None,
                l1: float = 0.0, l2: float = 0.0, max_iter: int = 20, tol: float = 1e-3) -> Tensor:
    """Solve the non-negative least-squares block problem (warm-started at ``X``), in place.

    Nesterov's accelerated projected gradient (FISTA) with adaptive restart (O'Donoghue &
    Candès 2015), as in NeNMF. Stops after ``max_iter`` steps or when the gradient mapping's
    norm falls under ``tol`` times its first value. Parameters as :func:`hals_block_`.

    Parameters
    ----------
    max_iter : int
        Maximum number of inner steps.
    tol : float
        Relative tolerance on the norm of the gradient mapping ``L (Y - step(Y))``.

    Examples
    --------
    >>> W = torch.rand(30, 3, dtype=torch.float64); V = torch.rand(20, 3, dtype=torch.float64) @ W.t()
    >>> H = torch.rand(20, 3, dtype=torch.float64)
    >>> _ = nnls_block_(H, V @ W, W.t() @ W, max_iter=2000, tol=1e-10)
    >>> bool((H @ W.t() - V).norm() < 1e-6 * V.norm())
    True
    """
    if max_iter < 1:
        raise ParameterError(f"max_iter must be at least 1, got {max_iter}")
    with torch.no_grad():
        free, entries, cross, gram = _free_problem(X, cross, gram, fixed, l1, l2)
        lipschitz = _lipschitz(gram)
        start = (X if free is None else X[:, free]).clone()
        current = momentum = start
        t = 1.0
        first = None
        for _ in range(max_iter):
            # fixed entries stay at their start in every iterate, hence in the momentum too
            nxt = _project_(momentum - (momentum @ gram - cross) / lipschitz, entries, start)
            mapping = float((momentum - nxt).norm())
            if first is None:
                first = mapping
            # restart when the momentum points uphill (O'Donoghue & Candès' gradient test)
            if float(((momentum - nxt) * (nxt - current)).sum()) > 0:
                t = 1.0
            t_next = (1.0 + (1.0 + 4.0 * t * t) ** 0.5) / 2.0
            momentum = nxt + ((t - 1.0) / t_next) * (nxt - current)
            current, t = nxt, t_next
            if mapping <= tol * first:
                break
        if free is None:
            X.copy_(current)
        else:
            X[:, free] = current
    return X


_BLOCKS: Dict[str, Callable[..., Tensor]] = {
    "hals": hals_block_,
    "anls": nnls_block_,
    "pgd": projected_gradient_block_,
}


# -- alternating over W and H --------------------------------------------------------------------

def _times(V: Tensor, X: Tensor) -> Tensor:
    """``V X`` for ``V (P, Q)``, ``X (Q, R)``: dense, the transpose of a contiguous ``Xᵀ Vᵀ``
    (the layout the HALS sweeps read), in bands on the fit's workers (see :mod:`.fastpaths`)."""
    if V.is_sparse:
        return torch.sparse.mm(V, X)
    out = torch.empty(X.shape[1], V.shape[0], dtype=V.dtype, device=V.device)
    return fastpaths._split_product(X.t(), V.t(), out).t()


@fastpaths._on_one_thread  # small operations on this thread; the products with V in bands
def alternating_update_(
    W: Tensor,
    H: Tensor,
    V: Tensor,
    *,
    solver: str = "hals",
    update_W: bool = True,
    update_H: bool = True,
    l1: float = 0.0,
    l2: float = 0.0,
    fixed_W: Optional[Tensor] = None,
    fixed_H: Optional[Tensor] = None,
    accelerate: bool = False,
    **options,
) -> Tuple[Tensor, Tensor]:
    """One iteration of a least-squares NMF solver: update ``W``, then ``H``, in place.

    Parameters
    ----------
    W : Tensor, shape (C, R)
        Templates.
    H : Tensor, shape (N, R)
        Activations.
    V : Tensor, shape (N, C)
        Non-negative data (dense or sparse COO), ``V ≈ H Wᵀ``.
    solver : {'hals', 'anls', 'pgd'}
        One HALS sweep (:func:`hals_block_`), the block problem solved to tolerance
        (:func:`nnls_block_`) or one projected gradient step
        (:func:`projected_gradient_block_`) per factor.
    update_W, update_H : bool
        Which factors to update.
    l1, l2 : float
        L1 and L2 penalties on both factors.
    fixed_W, fixed_H : Tensor of bool, shape (R,) or broadcastable, or the factor's shape, optional
        Components (or entries) left bit-exact in ``W`` and ``H``.
    accelerate : bool
        ``solver='hals'`` only: sweep each factor up to :func:`hals_inner_sweeps` times on
        its block problem (accelerated HALS, what ``fit(solver='auto')`` runs at beta = 2).
    **options
        Passed to the block function (``max_iter``, ``tol`` of :func:`nnls_block_`).

    Returns
    -------
    (Tensor, Tensor)
        ``W`` and ``H``.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> V = torch.rand(40, 4) @ torch.rand(4, 30)
    >>> W, H = torch.rand(30, 4), torch.rand(40, 4)
    >>> for _ in range(300):
    ...     _ = alternating_update_(W, H, V, solver="hals")
    >>> bool((H @ W.t() - V).norm() < 1e-2 * V.norm())
    True
    """
    if solver not in _BLOCKS:
        raise ParameterError(f"solver must be one of {', '.join(map(repr, _BLOCKS))}, got {solver!r}")
    block = _BLOCKS[solver]
    if accelerate and solver != "hals":
        raise ParameterError(f"accelerate=True sweeps HALS, got solver={solver!r}")
    (N, C), R = V.shape, W.shape[1]
    sweeps = {"W": hals_inner_sweeps(C, N, R), "H": hals_inner_sweeps(N, C, R)} if accelerate else {}
    # a factor whose every component is fixed has no block problem left (an empty Gram matrix)
    update_W = update_W and (fixed_W is None or not bool(fixed_W.all()))
    update_H = update_H and (fixed_H is None or not bool(fixed_H.all()))
    with torch.no_grad():
        if update_W:
            block(W, _times(V.t(), H), H.t() @ H, fixed=fixed_W, l1=l1, l2=l2,
                  **(dict(options, max_sweeps=sweeps["W"]) if accelerate else options))
        if update_H:
            block(H, _times(V, W), W.t() @ W, fixed=fixed_H, l1=l1, l2=l2,
                  **(dict(options, max_sweeps=sweeps["H"]) if accelerate else options))
    return W, H


def hals_update_(W: Tensor, H: Tensor, V: Tensor, **kwargs) -> Tuple[Tensor, Tensor]:
    """One HALS iteration; :func:`alternating_update_` with ``solver='hals'``."""
    return alternating_update_(W, H, V, solver="hals", **kwargs)


def anls_update_(W: Tensor, H: Tensor, V: Tensor, **kwargs) -> Tuple[Tensor, Tensor]:
    """One ANLS iteration (NeNMF); :func:`alternating_update_` with ``solver='anls'``."""
    return alternating_update_(W, H, V, solver="anls", **kwargs)


def pgd_update_(W: Tensor, H: Tensor, V: Tensor, **kwargs) -> Tuple[Tensor, Tensor]:
    """One projected gradient iteration; :func:`alternating_update_` with ``solver='pgd'``."""
    return alternating_update_(W, H, V, solver="pgd", **kwargs)
