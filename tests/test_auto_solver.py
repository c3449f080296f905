"""fit(solver="auto"): accelerated HALS at beta = 2, MU with squared extrapolation elsewhere.

Planted factors, monotone losses, bit-exact fixed components, and more progress than MU in the
same number of iterations (iterations, not timings: speed is measured in benchmarks/).
"""

import math

import pytest
import torch

from nmfsep._core.accelerated import ExtrapolatedSteps, SquaredExtrapolation, auto_solver
from nmfsep._core.solvers import (
    SWEEP_COLUMN_OVERHEAD,
    SWEEP_SLOWDOWN,
    check_solver,
    hals_block_,
    hals_inner_sweeps,
)
from nmfsep.nmf import NMF, NMFD, BatchNMF

F64 = torch.float64


def planted(seed, N=80, C=60, R=5, noise=0.05):
    """Sparse planted factors and V = H Wᵀ times multiplicative noise (a fit cannot be exact)."""
    g = torch.Generator().manual_seed(seed)
    W = torch.rand(C, R, generator=g, dtype=F64) * (torch.rand(C, R, generator=g, dtype=F64) < 0.5)
    H = torch.rand(N, R, generator=g, dtype=F64) * (torch.rand(N, R, generator=g, dtype=F64) < 0.5)
    V = (H @ W.t() + 1e-3) * (1 + noise * torch.rand(N, C, generator=g, dtype=F64))
    return V, W, H


def start(shape_W, shape_H, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape_W, generator=g, dtype=F64), torch.rand(shape_H, generator=g, dtype=F64)


def per_iteration_losses(model, V, beta, solver, max_iter, **kwargs):
    model.fit(V, beta=beta, solver=solver, tol=-1, max_iter=max_iter, check_every=1, **kwargs)
    return torch.tensor(model.loss_curve_, dtype=F64)


def assert_monotone(curve, rounding=1e-12):
    assert bool((curve[1:] <= curve[:-1] * (1 + rounding)).all()), curve


def nmfd_problem(seed=0, C=20, R=3, T=4, L=90):
    g = torch.Generator().manual_seed(seed)
    W = torch.rand(C, R, T, generator=g, dtype=F64)
    H = torch.rand(1, R, L - T + 1, generator=g, dtype=F64) * (torch.rand(1, R, L - T + 1, generator=g) < 0.15)
    V = NMFD.reconstruct(H, W) + 1e-2
    return V, (C, R, T), (1, R, L - T + 1)


# -- what "auto" runs ------------------------------------------------------------------------------

def test_auto_picks_hals_for_plain_nmf_at_beta_2_and_mu_elsewhere():
    V, _, _ = planted(0)
    nmf = NMF(V.shape, 5)
    assert auto_solver(nmf, 2.0) == "hals"
    assert auto_solver(nmf, 1.0) == auto_solver(nmf, 0.5) == "mu"
    assert auto_solver(NMFD((1, 10, 30), 2, T=3), 2.0) == "mu"
    assert auto_solver(BatchNMF((2, 10, 8), 2), 2.0) == "mu"
    hooked = NMF(V.shape, 5)
    hooked.register_forward_hook(lambda module, args, out: out)
    assert auto_solver(hooked, 2.0) == "mu"  # the least-squares blocks assume the plain model
    assert check_solver("auto", 0.3) == "auto"  # any beta, unlike the least-squares solvers
    with pytest.raises(ValueError, match="beta=2"):
        check_solver("hals", 1.0)


def test_inner_sweeps_follow_the_cost_ratio():
    # rho = 1 + (M P R + P R²) / (s (M R² + M R) + R c); at most 1 + rho / 2 sweeps
    sweep = SWEEP_SLOWDOWN * (4000 * 32 ** 2 + 4000 * 32) + 32 * SWEEP_COLUMN_OVERHEAD
    rho = 1 + (4000 * 1025 * 32 + 1025 * 32 ** 2) / sweep
    assert hals_inner_sweeps(4000, 1025, 32) == int(1 + rho / 2) > 1
    assert hals_inner_sweeps(10, 10, 100) == 1  # a large rank: a sweep costs more than the product
    assert hals_inner_sweeps(100, 5000, 8) > hals_inner_sweeps(5000, 100, 8)


def test_more_hals_sweeps_solve_the_block_problem_better_and_stop_at_a_stall():
    V, W, _ = planted(2)
    H = torch.rand(V.shape[0], W.shape[1], dtype=F64)

    def objective(X):
        return float(((V - X @ W.t()) ** 2).sum())

    cross, gram = V @ W, W.t() @ W
    one, many, converged = H.clone(), H.clone(), H.clone()
    hals_block_(one, cross, gram)
    hals_block_(many, cross, gram, max_sweeps=8)
    for _ in range(500):
        hals_block_(converged, cross, gram)
    assert objective(converged) < objective(many) < objective(one) < objective(H)
    # the stall rule: a huge budget stops long before 500 sweeps' precision
    stalled = H.clone()
    hals_block_(stalled, cross, gram, max_sweeps=500)
    assert objective(stalled) > objective(converged) + 1e-9


# -- safety: monotone losses, fixed components ---------------------------------------------------------

@pytest.mark.parametrize("beta", [2.0, 1.0, 0.5, 0.0])
def test_auto_never_increases_the_loss(beta):
    V, W, H = planted(3)
    W0, H0 = start(W.shape, H.shape)
    model = NMF(W=W0, H=H0)
    curve = per_iteration_losses(model, V, beta, "auto", 60)
    assert_monotone(curve)
    assert curve[-1] < 0.5 * curve[0]


@pytest.mark.parametrize("beta", [2.0, 1.0])
def test_auto_never_increases_the_nmfd_and_batch_losses(beta):
    V, shape_W, shape_H = nmfd_problem()
    model = NMFD(W=start(shape_W, shape_H)[0], H=start(shape_W, shape_H)[1])
    assert_monotone(per_iteration_losses(model, V, beta, "auto", 40))
    Vb = torch.stack([planted(s, N=30, C=20, R=3)[0] for s in range(3)])
    W0, H0 = start((3, 20, 3), (3, 30, 3))
    assert_monotone(per_iteration_losses(BatchNMF(W=W0, H=H0), Vb, beta, "auto", 40))


@pytest.mark.parametrize("beta", [2.0, 1.0, 0.5])
def test_auto_keeps_fixed_components_and_entries_bit_exact(beta):
    V, W, H = planted(4)
    W0, H0 = start(W.shape, H.shape)
    model = NMF(W=W0, H=H0, fixed_W=[0, 2], fixed_H=[4])
    curve = per_iteration_losses(model, V, beta, "auto", 30, alpha=0.1, l1_ratio=0.5)
    assert_monotone(curve)
    assert torch.equal(model.W[:, [0, 2]], W0[:, [0, 2]]) and torch.equal(model.H[:, 4], H0[:, 4])
    assert not torch.equal(model.W[:, 1], W0[:, 1]) and not torch.equal(model.H[:, 0], H0[:, 0])
    # one flag per entry: the activations of some frames held
    rows = torch.zeros_like(H0, dtype=torch.bool)
    rows[::7] = True
    H0[::14] = 0  # zeros among the held entries: extrapolation must not touch them either
    entries = NMF(W=W0, H=H0, fixed_H=rows)
    entries.fit(V, beta=beta, solver="auto", tol=-1, max_iter=20)
    assert torch.equal(entries.H[rows], H0[rows])
    assert not torch.equal(entries.H[~rows], H0[~rows])


@pytest.mark.parametrize("beta", [2.0, 1.0])
def test_auto_keeps_fixed_nmfd_and_batch_components_bit_exact(beta):
    V, shape_W, shape_H = nmfd_problem(1)
    W0, H0 = start(shape_W, shape_H)
    model = NMFD(W=W0, H=H0, fixed_W=[1])
    model.fit(V, beta=beta, solver="auto", tol=-1, max_iter=25)
    assert torch.equal(model.W[:, 1], W0[:, 1]) and not torch.equal(model.W[:, 0], W0[:, 0])
    Vb = torch.stack([planted(s, N=30, C=20, R=3)[0] for s in range(2)])
    W0, H0 = start((2, 20, 3), (2, 30, 3))
    batch = BatchNMF(W=W0, H=H0, fixed_H=[2])
    batch.fit(Vb, beta=beta, solver="auto", tol=-1, max_iter=25)
    assert torch.equal(batch.H[..., 2], H0[..., 2]) and not torch.equal(batch.H[..., 0], H0[..., 0])


def test_a_rejected_extrapolation_falls_back_to_the_plain_step():
    # an absurd extrapolation weight overshoots: the safeguard must return the plain MU step
    V, W, H = planted(5)
    W0, H0 = start(W.shape, H.shape)
    model, twin = NMF(W=W0, H=H0), NMF(W=W0, H=H0)
    step = model.multiplicative_step(V, 1.0, 0.0, 0.0)
    steps = ExtrapolatedSteps(step, lambda: model.divergence(V, 1.0),
                              [(model.W.data, None), (model.H.data, None)], start=50.0, lag=1)
    twin_step = twin.multiplicative_step(V, 1.0, 0.0, 0.0)
    steps()  # a plain step first (nothing to extrapolate from)
    twin_step()
    assert torch.equal(model.W, twin.W) and steps.rejections == 0
    steps()  # extrapolated by 50: rejected, then the plain step from the accepted iterate
    twin_step()
    assert steps.rejections == 1
    assert torch.equal(model.W, twin.W) and torch.equal(model.H, twin.H)
    assert steps.weight == pytest.approx(50.0 / 1.5) and steps.bound == 50.0
    assert steps.loss() == pytest.approx(float(twin.divergence(V, 1.0)), rel=1e-12)


def lagged_steps(seed, lag):
    """A model whose safeguard checks every ``lag`` steps, with an absurd weight (every
    extrapolated stretch overshoots), and its plain-MU twin."""
    V, W, H = planted(seed)
    W0, H0 = start(W.shape, H.shape)
    model, twin = NMF(W=W0, H=H0), NMF(W=W0, H=H0)
    steps = ExtrapolatedSteps(model.multiplicative_step(V, 1.0, 0.0, 0.0), lambda: model.divergence(V, 1.0),
                              [(model.W.data, None), (model.H.data, None)], start=50.0, lag=lag)
    return steps, model, twin, twin.multiplicative_step(V, 1.0, 0.0, 0.0), lambda: float(twin.divergence(V, 1.0))


def test_a_rejected_stretch_of_unchecked_steps_goes_back_to_its_checkpoint():
    steps, model, twin, twin_step, twin_loss = lagged_steps(9, lag=3)
    initial = twin_loss()
    steps()  # plain (nothing to extrapolate from), unchecked
    steps()  # extrapolated by 50, unchecked
    assert steps.unchecked == 2
    steps()  # the check: the loss rose, so back to the start and one plain step from there
    twin_step()
    assert steps.rejections == 1 and steps.unchecked == 0
    assert torch.equal(model.W, twin.W) and torch.equal(model.H, twin.H)
    assert steps.weight == pytest.approx(50.0 / 1.5) and steps.bound == 50.0
    assert steps.loss() == pytest.approx(twin_loss(), rel=1e-12)
    assert steps.loss() < initial


def test_a_fit_stopped_between_checks_ends_on_a_checked_iterate():
    steps, model, twin, twin_step, twin_loss = lagged_steps(10, lag=5)
    steps()
    steps()  # extrapolated by 50, unchecked: far above the start's loss
    stop = steps.stopping(lambda model, n_iter, loss: False)
    assert stop(model, 2, None) is False
    twin_step()
    assert steps.rejections == 1 and steps.unchecked == 0
    assert torch.equal(model.W, twin.W) and torch.equal(model.H, twin.H)
    assert steps.stopping(None) is None


@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_checked_losses_never_increase_between_sparse_checks(beta):
    # the default lag with the loss asked every 5 steps: every recorded loss is a checked one
    V, W, H = planted(11)
    W0, H0 = start(W.shape, H.shape)
    model = NMF(W=W0, H=H0)
    model.fit(V, beta=beta, solver="auto", tol=-1, max_iter=63, check_every=5)
    curve = torch.tensor(model.loss_curve_, dtype=F64)
    assert_monotone(curve)
    assert model.loss_curve_[-1] == pytest.approx(float(model.divergence(V, beta)), rel=1e-9)


def test_factors_changed_by_a_callback_are_not_extrapolated_away():
    # MU keeps zeros: a component zeroed by the callback stays zero, unless the extrapolation
    # started from the iterates before the change
    V, W, H = planted(8)
    W0, H0 = start(W.shape, H.shape)
    model = NMF(W=W0, H=H0)

    def zero_first_component(model, n_iter, loss):
        if n_iter == 5:
            model.H.data[:, 0] = 0

    model.fit(V, beta=1, solver="auto", tol=-1, max_iter=15, callback=zero_first_component)
    assert bool((model.H[:, 0] == 0).all()) and bool((model.H[:, 1:] > 0).all())


# -- squared extrapolation (SQUAREM), what "auto" runs around MU ----------------------------------------

def squarem_twins(seed, beta=1.0, refuse_call=None):
    """A model under SquaredExtrapolation and its plain-MU twin, from the same start, and the
    list of the loss's calls; call number ``refuse_call`` (1-based) says the loss is infinite."""
    V, W, H = planted(seed)
    W0, H0 = start(W.shape, H.shape)
    model, twin = NMF(W=W0, H=H0), NMF(W=W0, H=H0)
    calls = []

    def loss():
        calls.append(1)
        return math.inf if len(calls) == refuse_call else float(model.divergence(V, beta))

    steps = SquaredExtrapolation(model.multiplicative_step(V, beta, 0.0, 0.0), loss,
                                 [(model.W.data, None), (model.H.data, None)])
    return steps, model, twin, twin.multiplicative_step(V, beta, 0.0, 0.0), V, calls


def expected_jump(x0, x1, x2, bound):
    """SQUAREM's S3 jump by hand: alpha = |r| / |v| clamped to [1, bound], x0 + 2 alpha r +
    alpha² v, entries at or under zero set to a tenth of x2's."""
    r = [b - a for a, b in zip(x0, x1)]
    v = [c - 2 * b + a for a, b, c in zip(x0, x1, x2)]
    length = (sum(float((t * t).sum()) for t in r) / sum(float((t * t).sum()) for t in v)) ** 0.5
    alpha = min(max(length, 1.0), bound)
    jump = [a + 2 * alpha * b + alpha ** 2 * c for a, b, c in zip(x0, r, v)]
    return alpha, [torch.where(j > 0, j, 0.1 * c) for j, c in zip(jump, x2)]


def test_squared_extrapolation_jumps_along_the_two_steps_path():
    # a cycle: two plain steps x1, x2 from x0, then one step from the jump the S3 rule gives
    steps, model, twin, twin_step, V, _ = squarem_twins(12)
    x0 = [twin.W.detach().clone(), twin.H.detach().clone()]
    steps()
    twin_step()
    assert torch.equal(model.W, twin.W) and torch.equal(model.H, twin.H) and steps.phase == 1
    x1 = [twin.W.detach().clone(), twin.H.detach().clone()]
    steps()
    twin_step()
    x2 = [twin.W.detach().clone(), twin.H.detach().clone()]
    assert steps.bound == 1.0  # the first jump is capped at alpha = 1, where it lands on x2
    _, jump = expected_jump(x0, x1, x2, steps.bound)
    steps()  # the jump (alpha clamped to [1, bound]) and the third step
    assert all(torch.allclose(j, x, rtol=1e-12, atol=1e-15) for j, x in zip(jump, x2))
    twin_step()
    assert torch.allclose(model.W, twin.W, rtol=1e-12) and torch.allclose(model.H, twin.H, rtol=1e-12)
    assert steps.phase == 0 and steps.rejections == 0
    assert steps.checked_loss == pytest.approx(float(twin.divergence(V, 1.0)), rel=1e-12)
    # accepted at the bound: the next jump may be 4 times longer
    assert steps.bound == SquaredExtrapolation.GROWTH
    for _ in range(2):
        steps()
    alpha, jump = expected_jump(steps.checked, steps.first, steps.second, steps.bound)
    assert alpha > 1  # a real jump, past the plain steps
    steps._jump()
    assert steps.length == pytest.approx(alpha)
    assert torch.allclose(model.W, jump[0], rtol=1e-12) and torch.allclose(model.H, jump[1], rtol=1e-12)


def test_a_rejected_jump_falls_back_to_the_two_plain_steps():
    # the check is told the jump's loss is higher: the factors must be x2, two plain steps from x0
    steps, model, twin, twin_step, V, _ = squarem_twins(13, refuse_call=2)  # call 2: the check
    for _ in range(3):
        steps()
    twin_step()
    twin_step()
    assert steps.rejections == 1 and steps.phase == 0
    assert torch.equal(model.W, twin.W) and torch.equal(model.H, twin.H)
    assert steps.checked_loss == pytest.approx(float(twin.divergence(V, 1.0)), rel=1e-12)
    # the bound was reached (1) and shrinks no further than 1; the fallback's alpha 1 then grows it
    assert steps.bound == SquaredExtrapolation.GROWTH


def test_squared_extrapolation_asked_mid_cycle_keeps_the_cycle_and_its_losses_monotone():
    steps, model, twin, twin_step, V, calls = squarem_twins(14)
    initial = steps.loss()
    steps()
    twin_step()
    first = steps.loss()  # after one plain step: its loss, and the cycle goes on
    assert first == pytest.approx(float(twin.divergence(V, 1.0)), rel=1e-12) and first < initial
    assert steps.phase == 1 and torch.equal(model.W, twin.W)
    assert steps.loss() == first and len(calls) == 2  # asked again, nothing moved: no new loss
    steps()
    second = steps.loss()
    steps()  # the jump and its check: kept only at or under the last loss asked
    assert steps.phase == 0 and steps.checked_loss <= second <= first
    assert len(calls) == 4


def test_a_rejected_jump_reuses_the_loss_asked_of_the_plain_steps():
    steps, model, twin, twin_step, V, calls = squarem_twins(16, refuse_call=3)  # call 3: the check
    steps()
    steps()
    second = steps.loss()  # call 2: x2's loss
    steps()  # call 3 turns the jump down: back to x2, whose loss is known
    twin_step()
    twin_step()
    assert steps.rejections == 1 and len(calls) == 3
    assert torch.equal(model.W, twin.W) and torch.equal(model.H, twin.H)
    assert steps.checked_loss == second == pytest.approx(float(twin.divergence(V, 1.0)), rel=1e-12)


def test_squared_extrapolation_never_revives_zeros_nor_moves_fixed_entries():
    V, W, H = planted(15)
    W0, H0 = start(W.shape, H.shape)
    H0[:, 1] = 0  # MU keeps a zero at zero: the jump must too
    fixed_W = torch.zeros_like(W0, dtype=torch.bool)
    fixed_W[::3] = True
    model = NMF(W=W0, H=H0, fixed_W=fixed_W)
    steps = SquaredExtrapolation.for_model(model, model.multiplicative_step(V, 0.5, 0.0, 0.0),
                                           lambda: model.divergence(V, 0.5))
    for _ in range(30):
        steps()
    assert steps.bound > 1  # jumps longer than the plain steps were taken and kept
    assert bool((model.H[:, 1] == 0).all()) and bool((model.H[:, [0, 2, 3, 4]] > 0).all())
    assert torch.equal(model.W[fixed_W], W0[fixed_W]) and not torch.equal(model.W[~fixed_W], W0[~fixed_W])


@pytest.mark.parametrize("extrapolation, chosen", [("squarem", SquaredExtrapolation),
                                                   ("geometric", ExtrapolatedSteps)])
def test_the_extrapolation_option_chooses_the_acceleration(monkeypatch, extrapolation, chosen):
    made = []
    for cls in (SquaredExtrapolation, ExtrapolatedSteps):
        original = cls.for_model.__func__
        monkeypatch.setattr(cls, "for_model", classmethod(
            lambda c, *a, _original=original, **k: made.append(c) or _original(c, *a, **k)))
    V, W, H = planted(17)
    W0, H0 = start(W.shape, H.shape)
    model = NMF(W=W0, H=H0)
    curve = per_iteration_losses(model, V, 1.0, "auto", 30, extrapolation=extrapolation)
    assert made == [chosen]
    assert_monotone(curve)
    mu = per_iteration_losses(NMF(W=W0, H=H0), V, 1.0, "mu", 30)
    assert curve[-1] < mu[-1]


def test_the_extrapolation_option_is_validated():
    V, W, H = planted(18)
    with pytest.raises(ValueError, match="extrapolation must be one of 'squarem', 'geometric'"):
        NMF(W=W, H=H).fit(V, solver="auto", extrapolation="linear")
    with pytest.raises(ValueError, match="solver='auto'"):
        NMF(W=W, H=H).fit(V, solver="mu", extrapolation="geometric")
    with pytest.raises(ValueError, match="extrapolation must be one of"):
        BatchNMF(W=W.unsqueeze(0), H=H.unsqueeze(0)).fit(V.unsqueeze(0), solver="auto", extrapolation=None)


# -- speed in iterations -------------------------------------------------------------------------------

@pytest.mark.parametrize("beta, iters", [(2.0, 30), (1.0, 60), (0.5, 60)])
def test_auto_gets_further_than_mu_in_the_same_iterations(beta, iters):
    V, W, H = planted(6, N=120, C=90, R=6)
    W0, H0 = start(W.shape, H.shape)
    losses = {}
    for solver, max_iter in (("mu", iters), ("auto", iters), ("floor", 10 * iters)):
        model = NMF(W=W0, H=H0)
        model.fit(V, beta=beta, solver="auto" if solver == "floor" else solver, tol=-1, max_iter=max_iter)
        losses[solver] = model.loss_curve_[-1]
    # the distance to what a long fit reaches (the noise's floor) shrinks by half at least
    excess = {k: losses[k] - losses["floor"] for k in ("mu", "auto")}
    assert 0 < excess["auto"] < 0.5 * excess["mu"], losses


def test_auto_gets_further_than_mu_on_nmfd():
    V, shape_W, shape_H = nmfd_problem(2)
    W0, H0 = start(shape_W, shape_H)
    losses = {}
    for solver in ("mu", "auto"):
        model = NMFD(W=W0, H=H0)
        model.fit(V, beta=1, solver=solver, tol=-1, max_iter=60)
        losses[solver] = model.loss_curve_[-1]
    assert losses["auto"] < 0.9 * losses["mu"], losses


def test_chunked_data_take_mu_under_auto():
    V, W, H = planted(7)
    W0, H0 = start(W.shape, H.shape)
    chunks = list(V.split(20))
    fits = {}
    for solver in ("mu", "auto"):
        model = NMF(W=W0, H=H0)
        model.fit(chunks, beta=1, solver=solver, tol=-1, max_iter=5, keep_activations=True)
        fits[solver] = model.W.detach()
    assert torch.equal(fits["mu"], fits["auto"])


def test_batch_rejects_the_least_squares_solvers():
    with pytest.raises(ValueError, match="solver='mu' or 'auto'"):
        BatchNMF((2, 10, 8), 2).fit(torch.rand(2, 10, 8), solver="hals")
