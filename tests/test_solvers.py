"""Least-squares solvers (HALS, ANLS, PGD): known NNLS answers, planted factors, fixed components."""

import numpy as np
import pytest
import scipy.optimize
import torch

from nmfsep._core.solvers import (
    alternating_update_,
    hals_block_,
    nnls_block_,
    projected_gradient_block_,
)
from nmfsep.nmf import NMF, NMFD

from conftest import relative_error

F64 = torch.float64
BLOCKS = {"hals": hals_block_, "anls": nnls_block_, "pgd": projected_gradient_block_}


def planted_nmf(seed, N=60, C=40, R=4):
    g = torch.Generator().manual_seed(seed)
    W = torch.rand(C, R, generator=g, dtype=F64) * (torch.rand(C, R, generator=g, dtype=F64) < 0.5)
    H = torch.rand(N, R, generator=g, dtype=F64) * (torch.rand(N, R, generator=g, dtype=F64) < 0.5)
    return W, H


def scipy_block_solution(B, Y, l1, l2, fixed, X_fixed):
    """Row-wise scipy NNLS of min_{x >= 0} ½||y - B x||² + l1 Σx + l2/2 ||x||² (free columns)."""
    free = ~fixed
    Bf = B[:, free]
    Y = Y - X_fixed[:, fixed] @ B[:, fixed].T
    R = Bf.shape[1]
    # l2 as extra rows, l1 as a shift of the right-hand side: Bᵀ y' = Bᵀ y - l1
    shift = Bf @ np.linalg.solve(Bf.T @ Bf, np.full(R, l1))
    A = np.vstack([Bf, np.sqrt(l2) * np.eye(R)])
    rows = [scipy.optimize.nnls(A, np.concatenate([y - shift, np.zeros(R)]))[0] for y in Y]
    return np.array(rows)


@pytest.mark.parametrize("solver, sweeps", [("hals", 60), ("anls", 2), ("pgd", 600)])
@pytest.mark.parametrize("l1, l2", [(0.0, 0.0), (0.3, 0.5)])
def test_block_solvers_reach_the_scipy_nnls_solution(solver, sweeps, l1, l2):
    # the block problem of H with W fixed, component 1 held fixed
    g = torch.Generator().manual_seed(0)
    # the partner factor (W), sparse enough to be well conditioned
    B = torch.rand(30, 4, generator=g, dtype=F64) * (torch.rand(30, 4, generator=g, dtype=F64) < 0.4)
    Y = torch.rand(25, 30, generator=g, dtype=F64) * 2 - 0.5  # data with some negatives: active bounds
    fixed = torch.tensor([False, True, False, False])
    X = torch.rand(25, 4, generator=g, dtype=F64)
    kept = X[:, 1].clone()
    expected = scipy_block_solution(B.numpy(), Y.numpy(), l1, l2, fixed.numpy(), X.numpy())
    options = {"max_iter": 2000, "tol": 1e-12} if solver == "anls" else {}
    for _ in range(sweeps):
        BLOCKS[solver](X, Y @ B, B.t() @ B, fixed=fixed, l1=l1, l2=l2, **options)
    assert torch.equal(X[:, 1], kept)
    assert (expected == 0).any() and (X == 0).any()  # bounds are active
    np.testing.assert_allclose(X[:, ~fixed].numpy(), expected, atol=1e-8)


# relative error ||V - HWᵀ|| / ||V|| measured on this planted problem (float64), x10 margin:
# at these iterations HALS and ANLS reach 1e-9 to 1e-11 from every init, PGD 5e-6 to 5e-5
# and MU 5e-3 to 1e-2, except MU from 'nndsvd', whose zeros never move (0.2).
@pytest.mark.parametrize("solver, max_iter, bound", [
    ("hals", 100, 1e-7), ("anls", 50, 1e-5), ("pgd", 200, 5e-4), ("mu", 200, 3e-2),
])
@pytest.mark.parametrize("init", ["random", "nndsvd", "nndsvda", "nndsvdar"])
def test_every_solver_and_init_recovers_planted_factors(solver, max_iter, bound, init):
    W, H = planted_nmf(0)
    V = H @ W.t()
    model = NMF(V.shape, 4)
    model.fit(V, beta=2, solver=solver, init=init, seed=0, tol=0, max_iter=max_iter)
    error = relative_error(model(), V)
    if solver == "mu" and init == "nndsvd":
        assert error > 0.1  # the known failure: multiplicative updates keep NNDSVD's zeros
    else:
        assert error < bound


def test_mu_keeps_the_zeros_of_nndsvd_and_hals_moves_them():
    W, H = planted_nmf(0)
    V = H @ W.t()
    for solver, expect_kept in (("mu", True), ("hals", False)):
        model = NMF(V.shape, 4)
        model.fit(V, beta=2, init="nndsvd", max_iter=1)  # one MU step from NNDSVD
        zeros = model.W.detach() == 0
        assert zeros.any()
        model.fit(V, beta=2, solver=solver, tol=0, max_iter=50)
        assert bool((model.W.detach()[zeros] == 0).all()) == expect_kept


@pytest.mark.parametrize("solver", ["hals", "pgd", "anls"])
def test_loss_never_increases(solver):
    V = torch.rand(30, 20, dtype=F64)
    model = NMF(V.shape, 5, seed=0)
    model.fit(V, beta=2, solver=solver, tol=0, max_iter=30, check_every=1, alpha=0.1, l1_ratio=0.5)
    curve = torch.tensor(model.loss_curve_)
    assert bool((curve[1:] <= curve[:-1] * (1 + 1e-12)).all()), curve


@pytest.mark.parametrize("solver", ["hals", "anls", "pgd"])
@pytest.mark.parametrize("alpha, l1_ratio", [(0, 0), (0.5, 0.3)])
def test_fixed_components_stay_bit_exact(solver, alpha, l1_ratio):
    V = torch.rand(40, 30, dtype=F64)
    model = NMF(V.shape, 4, seed=0, W=torch.rand(30, 2, dtype=F64), H=torch.rand(40, 4, dtype=F64),
                fixed_W=[0, 1], fixed_H=[3])
    W0, H0 = model.W.detach().clone(), model.H.detach().clone()
    model.fit(V, beta=2, solver=solver, tol=0, max_iter=15, alpha=alpha, l1_ratio=l1_ratio)
    assert torch.equal(model.W[:, :2], W0[:, :2]) and torch.equal(model.H[:, 3], H0[:, 3])
    assert not torch.equal(model.W[:, 2:], W0[:, 2:]) and not torch.equal(model.H[:, :3], H0[:, :3])


@pytest.mark.parametrize("solver", ["hals", "anls", "pgd"])
def test_trainable_flags_and_transform(solver):
    W, H = planted_nmf(1)
    V = H @ W.t()
    model = NMF(W=W, H=torch.rand(60, 4, dtype=F64), trainable_W=False)
    model.fit(V, beta=2, solver=solver, tol=0, max_iter=3 if solver == "anls" else 300)
    assert torch.equal(model.W, W)
    assert relative_error(model.H, H) < 1e-6
    # transform passes the solver on: activations of new data with the templates fixed
    H_new = model.transform(V[:7], beta=2, solver=solver, tol=0, max_iter=3 if solver == "anls" else 300)
    assert relative_error(H_new, H[:7]) < 1e-6


@pytest.mark.parametrize("solver", ["hals", "anls", "pgd"])
def test_sparse_target_matches_dense(solver):
    V = torch.rand(30, 20, dtype=F64) * (torch.rand(30, 20, dtype=F64) < 0.3)
    dense, sparse = NMF(V.shape, 3, seed=0), NMF(V.shape, 3, seed=0)
    dense.fit(V, beta=2, solver=solver, tol=0, max_iter=20, alpha=0.1)
    sparse.fit(V.to_sparse(), beta=2, solver=solver, tol=0, max_iter=20, alpha=0.1)
    assert torch.allclose(dense.W, sparse.W, rtol=1e-9, atol=1e-12)
    assert torch.allclose(torch.tensor(dense.loss_curve_), torch.tensor(sparse.loss_curve_), rtol=1e-9)


def test_alternating_update_functions_agree_with_fit():
    V = torch.rand(30, 20, dtype=F64)
    model = NMF(V.shape, 3, seed=0).double()
    W, H = model.W.detach().clone(), model.H.detach().clone()
    model.fit(V, beta=2, solver="hals", tol=0, max_iter=5, alpha=0.2, l1_ratio=0.5)
    for _ in range(5):
        alternating_update_(W, H, V, solver="hals", l1=0.1, l2=0.1)
    assert torch.equal(model.W.detach(), W) and torch.equal(model.H.detach(), H)


def test_unsupported_combinations_are_errors():
    V = torch.rand(10, 12)
    with pytest.raises(ValueError, match=r"beta=2.*solver='mu'"):
        NMF(V.shape, 2).fit(V, beta=1, solver="hals")
    with pytest.raises(ValueError, match="one of 'mu', 'hals', 'anls', 'pgd'"):
        NMF(V.shape, 2).fit(V, beta=2, solver="als")
    with pytest.raises(ValueError, match="plain NMF only.*NMFD"):
        NMFD((1, 12, 20), 2, T=3).fit(torch.rand(1, 12, 20), beta=2, solver="anls")

    class Hooked(NMF):  # a subclass that changes the model cannot take the closed-form solvers
        @staticmethod
        def reconstruct(H, W):
            return (H @ W.t()).clamp_min(0)

    with pytest.raises(ValueError, match="plain NMF only"):
        Hooked(V.shape, 2).fit(V, beta=2, solver="pgd")
    with pytest.raises(ValueError, match=r"chunked data \(an iterable"):
        NMF(V.shape, 2).fit(V, beta=2, solver="hals", inner_iter=3)
    with pytest.raises(ValueError, match="max_iter must be at least 1"):
        nnls_block_(torch.rand(3, 2), torch.rand(3, 2), torch.eye(2), max_iter=0)
    with pytest.raises(ValueError, match="solver must be one of"):
        alternating_update_(torch.rand(12, 2), torch.rand(10, 2), V, solver="mu")


@pytest.mark.parametrize("solver, sweeps", [("hals", 60), ("anls", 2), ("pgd", 600)])
def test_block_solvers_with_fixed_entries_reach_the_rowwise_scipy_solution(solver, sweeps):
    # an entry mask: whole rows (examples), single entries and one whole column held fixed
    g = torch.Generator().manual_seed(1)
    B = torch.rand(30, 4, generator=g, dtype=F64) * (torch.rand(30, 4, generator=g, dtype=F64) < 0.4)
    Y = torch.rand(25, 30, generator=g, dtype=F64) * 2 - 0.5
    X = torch.rand(25, 4, generator=g, dtype=F64)
    mask = torch.zeros(25, 4, dtype=torch.bool)
    mask[[2, 11]] = True
    mask[[5, 6, 19], [0, 3, 2]] = True
    mask[:, 1] = True
    kept = X[mask].clone()
    start = X.clone()
    options = {"max_iter": 2000, "tol": 1e-12} if solver == "anls" else {}
    for _ in range(sweeps):
        BLOCKS[solver](X, Y @ B, B.t() @ B, fixed=mask, **options)
    assert torch.equal(X[mask], kept)
    for i in range(25):
        if mask[i].all():
            continue
        free = ~mask[i]
        expected = scipy_block_solution(B.numpy(), Y[i:i + 1].numpy(), 0.0, 0.0, mask[i].numpy(),
                                        start[i:i + 1].numpy())
        np.testing.assert_allclose(X[i, free].numpy(), expected[0], atol=1e-8)


@pytest.mark.parametrize("solver", ["mu", "hals", "anls", "pgd"])
def test_fixed_entries_stay_bit_exact_and_the_loss_decreases(solver):
    V = torch.rand(40, 30, dtype=F64)
    fixed_H = torch.zeros(40, 4, dtype=torch.bool)
    fixed_H[[3, 7, 20]] = True  # the activations of three examples
    fixed_H[5, 2] = True
    model = NMF(V.shape, 4, seed=0, H=torch.rand(40, 4, dtype=F64), fixed_H=fixed_H, fixed_W=[0])
    W0, H0 = model.W.detach().clone(), model.H.detach().clone()
    model.fit(V, beta=2, solver=solver, tol=0, max_iter=30, check_every=1)
    assert torch.equal(model.H[fixed_H], H0[fixed_H]) and torch.equal(model.W[:, 0], W0[:, 0])
    assert bool((model.H[~fixed_H] != H0[~fixed_H]).all())
    curve = torch.tensor(model.loss_curve_)
    assert bool((curve[1:] <= curve[:-1] * (1 + 1e-12)).all()) and curve[-1] < 0.5 * curve[0]


def test_entry_masks_are_validated():
    with pytest.raises(ValueError, match=r"factor's shape \(shape \(10, 2\)\)"):
        NMF((10, 12), 2, fixed_H=torch.zeros(9, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="boolean tensor"):
        NMF((10, 12), 2, fixed_H=torch.zeros(10, 2))
    with pytest.raises(ValueError, match="NMFD fixes whole components"):
        NMFD((1, 12, 20), 2, T=3, fixed_H=torch.zeros(1, 2, 18, dtype=torch.bool))
    model = NMF((10, 12), 2, fixed_H=torch.ones(10, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="fixed_H per component"):
        model.fit([torch.rand(5, 12), torch.rand(5, 12)], keep_activations=True)
