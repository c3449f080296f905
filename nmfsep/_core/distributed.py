"""Data-parallel fitting on ``torch.distributed`` (gloo on CPU, NCCL on GPU).

Each rank holds a shard of the data -- rows of ``V`` for :class:`~nmfsep.nmf.NMF` (frames, in
torchnmf's ``V (N, C)`` orientation) or whole items of the batch axis for NMFD / NMF2D / NMF3D
(e.g. one spectrogram per file) -- and its own activations ``H``. The templates ``W`` are shared:
every iteration each rank computes the two parts of the template update from its shard, the parts
are summed with one ``all_reduce`` each, and every rank applies the same multiplicative update.
Because the template update is a sum over the data, the result equals the single-process fit up
to the order of floating-point summation.

Communicated per iteration (float32, bytes, before the all-reduce algorithm's own factor of
about ``2 (p - 1) / p``): ``4 * 2 * C * R * T`` for the two template parts of an NMFD with
``W (C, R, T)`` (``T = 1`` for NMF; ``4 * (C * R * T + R)`` for beta = 1, whose positive part is
a length-R sum), plus 8 bytes for the loss every ``check_every`` iterations. It does not grow
with the amount of data, which is why the method scales with the number of ranks.

PLCA and SI-PLCA (:mod:`nmfsep.plca`) fit the same way with EM: the expected counts of ``W``
and ``Z`` are summed over the ranks, and so are the per-component totals of ``H``, which is one
distribution over all the shards' rows; ``V`` is normalised by the sum of all the shards.

Launch with ``torchrun --nproc-per-node 2 my_script.py`` (see ``docs/distributed.md``).
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from .._errors import ParameterError
from ._fitting import FitOptions, run_iterations
from ._scaling import ScaledFit, floor_zeros
from .plca import BaseComponent as PLCABase
from .updates import flush_denormal

__all__ = ["distributed_fit", "shard_rows", "bytes_per_iteration"]


def _require_initialised(group):
    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError(
            "distributed_fit needs an initialised process group: launch with torchrun and call "
            "torch.distributed.init_process_group('gloo' or 'nccl') first"
        )
    return group if group is not None else dist.group.WORLD


def shard_rows(n_rows: int, rank: int, world_size: int) -> slice:
    """The contiguous rows ``[start, stop)`` of ``n_rows`` that ``rank`` holds (balanced split).

    Examples
    --------
    >>> shard_rows(10, 0, 3), shard_rows(10, 2, 3)
    (slice(0, 4, None), slice(7, 10, None))
    """
    if not 0 <= rank < world_size:
        raise ParameterError(f"rank {rank} is outside [0, {world_size})")
    if n_rows < world_size:
        raise ParameterError(f"{n_rows} rows cannot be split over {world_size} ranks: give each rank some data")
    base, extra = divmod(n_rows, world_size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (rank < extra))


def bytes_per_iteration(model, beta: float = 1.0) -> int:
    """Bytes that one rank contributes to the all-reduces of one iteration (no loss check)."""
    W = model.W
    element = W.element_size()
    positive = W.shape[1] if beta == 1 else W.numel()
    return element * (W.numel() + positive)


def distributed_fit(
    model,
    V_local: torch.Tensor,
    beta: float = 1,
    tol: float = 1e-4,
    max_iter: int = 200,
    verbose: bool = False,
    alpha: float = 0,
    l1_ratio: float = 0,
    *,
    check_every: int = 10,
    group=None,
    callback=None,
    W_alpha=1,
    H_alpha=1,
    Z_alpha=1,
):
    """Fit a model on this rank's shard with templates shared across ranks.

    Parameters
    ----------
    model : NMF, NMFD, NMF2D, NMF3D, PLCA, SIPLCA, SIPLCA2 or SIPLCA3
        The same templates on every rank (rank 0's are broadcast at the start, and a PLCA
        model's ``Z`` too); ``H`` holds the activations of this rank's shard.
    V_local : Tensor
        This rank's data: the rows of V (NMF, PLCA) or the batch items (the shifted models).
        Shards may have different sizes.
    beta, tol, max_iter, verbose, alpha, l1_ratio, check_every, callback
        As in :meth:`nmfsep.nmf.BaseComponent.fit`; the loss and the stopping rule use the sum of
        the shards' losses, so every rank stops at the same iteration. Only rank 0 shows progress.
        A PLCA model maximises its log-posterior (EM, :meth:`nmfsep.plca.BaseComponent.fit`):
        ``beta`` must be 1 and ``alpha`` 0 there.
    group : ProcessGroup, optional
        Defaults to the whole world.
    W_alpha, H_alpha, Z_alpha : float or Tensor
        PLCA models only: the Dirichlet priors of :meth:`nmfsep.plca.BaseComponent.fit`
        (``H_alpha`` broadcast to this rank's ``H``).

    Returns
    -------
    int or (int, Tensor)
        Number of iterations run; for a PLCA model, as its ``fit``, also ``norm``, the sum of
        all the shards' data (``model(norm=norm)`` approximates this rank's ``V``).
    """
    options = FitOptions(beta=beta, tol=tol, max_iter=max_iter, verbose=verbose, alpha=alpha,
                         l1_ratio=l1_ratio, check_every=check_every)
    group = _require_initialised(group)
    beta = options.beta
    # only rank 0 shows progress
    options = options.replace(verbose=options.verbose and dist.get_rank(group) == 0)

    def reduce(value: float, how: str) -> float:
        combined = torch.tensor([value], dtype=torch.float64, device=next(model.parameters()).device)
        dist.all_reduce(combined, op=dist.ReduceOp.MAX if how == "max" else dist.ReduceOp.SUM,
                        group=group)
        return float(combined)

    def reduce_tensor(tensor: torch.Tensor) -> torch.Tensor:
        tensor = tensor.contiguous()
        dist.all_reduce(tensor, group=group)
        return tensor

    if isinstance(model, PLCABase):
        if beta != 1 or options.alpha != 0:
            raise ParameterError(
                f"{type(model).__name__} maximises its log-likelihood (beta = 1) with Dirichlet "
                f"priors: leave beta and alpha at their defaults and give W_alpha, H_alpha, Z_alpha"
            )
        with torch.no_grad():
            for name in ("W", "Z"):
                if getattr(model, name) is not None:
                    dist.broadcast(getattr(model, name).data, src=0, group=group)
        return model.fit_em(
            V_local, options, alphas={"W": W_alpha, "H": H_alpha, "Z": Z_alpha}, callback=callback,
            reduce=reduce_tensor, reduce_value=reduce, desc=f"EM x{dist.get_world_size(group)}",
        )
    V_local = model.prepare_target(V_local)
    with torch.no_grad():
        dist.broadcast(model.W.data, src=0, group=group)

    # as BaseComponent.fit: any loudness of V, one scale for every shard
    with ScaledFit(model, V_local, loss_power=beta, reduce=reduce) as scaled:
        V_local = floor_zeros(scaled.data(V_local), beta, high=scaled.data_max)
        l1, l2 = scaled.penalties(options.l1, options.l2)

        # the template update sums over all shards
        step = model.multiplicative_step(V_local, beta, l1, l2, reduce=reduce_tensor)

        def loss():
            return reduce(float(model.divergence(V_local, beta)), "sum")

        with flush_denormal(V_local.device):
            return run_iterations(model, step, loss, options, callback=scaled.callback(callback),
                                  desc=f"{type(model).__name__} x{dist.get_world_size(group)} beta={beta:g}")
