"""Data-parallel fitting: 2 gloo processes on localhost give the templates of 1 process."""

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from nmfsep._core.distributed import bytes_per_iteration, distributed_fit, shard_rows
from nmfsep.nmf import NMF, NMFD
from nmfsep.plca import PLCA, SIPLCA


def _data(kind):
    g = torch.Generator().manual_seed(0)
    if kind in ("nmf", "plca"):
        return torch.rand(90, 4, generator=g, dtype=torch.float64) @ torch.rand(4, 30, generator=g,
                                                                                 dtype=torch.float64)
    if kind == "loud":  # normalised with one scale for both shards, zeros floored at the global max
        V = _data("nmf") * 1e30
        V[:45] *= 1e-3
        V[50:, :3] = 0
        return V
    return torch.rand(5, 20, 40, generator=g, dtype=torch.float64)


def _model(kind, V):
    if kind in ("nmf", "loud"):
        return NMF(V.shape, 4, seed=1)
    if kind == "plca":
        return PLCA(V.shape, 4, seed=1)
    if kind == "siplca":
        return SIPLCA(V.shape, 3, T=4, seed=1)
    return NMFD(V.shape, 3, T=4, seed=1)


# (kind, beta) for the NMF family; PLCA's "beta" slot holds its Dirichlet prior on H and W
CASES = [("nmf", 1), ("nmf", 2), ("nmfd", 1), ("nmfd", 0.5), ("loud", -1), ("plca", 1),
         ("plca", 1.5), ("siplca", 1)]


def _fit(model, V, kind, beta, fit):
    """``fit(model, V, **options)`` with the case's options; the iteration count."""
    if kind.endswith("plca"):
        n_iter, norm = fit(model, V, tol=0, max_iter=25, check_every=5, H_alpha=beta, W_alpha=beta)
        assert float(norm) == pytest.approx(float(_data(kind).sum()), rel=1e-12)  # all shards' sum
        return n_iter
    return fit(model, V, beta=beta, tol=0, max_iter=25, check_every=5)


def _worker(rank, world_size, rendezvous, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=world_size)
    try:
        for kind, beta in CASES:  # one process group for all cases: spawning is the slow part
            V = _data(kind)
            model = _model(kind, V)  # every rank builds the full model from the same seed ...
            rows = shard_rows(V.shape[0], rank, world_size)
            # ... and keeps the activations of its own shard
            model.H = torch.nn.Parameter(model.H.detach()[rows].clone())
            if rank == 1:  # templates differing on another rank are replaced by rank 0's
                model.W.data.mul_(3)
            n_iter = _fit(model, V[rows], kind, beta, distributed_fit)
            torch.save({"W": model.W.detach(), "H": model.H.detach(), "n_iter": n_iter,
                        "Z": None if getattr(model, "Z", None) is None else model.Z.detach(),
                        "loss": model.loss_curve_}, os.path.join(out_dir, f"{kind}{beta}-rank{rank}.pt"))
        dist.barrier()  # no rank tears its connections down while another still reads from them
    finally:
        dist.destroy_process_group()
    # The results are on disk: skip the interpreter's exit, where gloo's threads, destroyed while
    # still joinable, once aborted a rank (SIGABRT, "terminate called without an active exception")
    os._exit(0)


def test_two_ranks_match_one_process(tmp_path):
    mp.spawn(_worker, args=(2, str(tmp_path / "rendezvous"), str(tmp_path)), nprocs=2, join=True)
    for kind, beta in CASES:
        V = _data(kind)
        single = _model(kind, V)
        _fit(single, V, kind, beta, lambda model, *args, **options: model.fit(*args, **options))
        results = [torch.load(tmp_path / f"{kind}{beta}-rank{r}.pt") for r in range(2)]
        for result in results:
            torch.testing.assert_close(result["W"], single.W.detach(), rtol=1e-9, atol=1e-12)
            if kind.endswith("plca"):
                torch.testing.assert_close(result["Z"], single.Z.detach(), rtol=1e-9, atol=1e-12)
            assert result["n_iter"] == 25
            torch.testing.assert_close(torch.tensor(result["loss"]), torch.tensor(single.loss_curve_),
                                       rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(torch.cat([r["H"] for r in results]), single.H.detach(),
                                   rtol=1e-9, atol=1e-12)


def test_shards_and_bytes():
    assert [shard_rows(10, r, 3) for r in range(3)] == [slice(0, 4), slice(4, 7), slice(7, 10)]
    with pytest.raises(ValueError, match="cannot be split"):
        shard_rows(1, 0, 2)
    model = NMFD((1, 100, 50), 8, T=10)
    assert bytes_per_iteration(model, beta=2) == 4 * 2 * 100 * 8 * 10
    assert bytes_per_iteration(model, beta=1) == 4 * (100 * 8 * 10 + 8)


def test_needs_a_process_group():
    with pytest.raises(RuntimeError, match="init_process_group"):
        distributed_fit(NMF((10, 5), 2), torch.rand(10, 5))
    with pytest.raises(RuntimeError, match="init_process_group"):
        distributed_fit(PLCA((10, 5), 2), torch.rand(10, 5))
