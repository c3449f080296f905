"""The one fitting engine: options validated once for every entry point, the models' public
fitting protocol, and the frame-aligned deconvolutions served by the core's closed forms."""

import math

import pytest
import torch

from nmfsep import ParameterError, ParameterTypeError
from nmfsep.fitting import FitOptions, distributed_fit, fit_chunks, run_iterations
from nmfsep.nmf import NMF, NMF2D, NMFD, BaseComponent, BatchNMF
from nmfsep.plca import PLCA, SIPLCA
from nmfsep.trainer import BetaMu


def _rand(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# --------------------------------------------------------------------------- options
# every entry point that takes an option; each is called with that option only
ENTRY_POINTS = {
    "NMF.fit": (("beta", "tol", "max_iter", "alpha", "l1_ratio", "check_every", "solver", "orthogonal"),
                lambda **o: NMF((12, 8), 2, seed=0).fit(_rand(12, 8), **o)),
    "NMFD.fit": (("beta", "tol", "max_iter", "alpha", "l1_ratio", "check_every", "solver",
                  "orthogonal"),
                 lambda **o: NMFD((1, 8, 12), 2, T=3, seed=0).fit(_rand(1, 8, 12), **o)),
    "BatchNMF.fit": (("beta", "tol", "max_iter", "alpha", "l1_ratio", "check_every"),
                     lambda **o: BatchNMF((2, 12, 8), 2, seed=0).fit(_rand(2, 12, 8), **o)),
    "NMF.fit(chunks)": (("beta", "tol", "max_iter", "alpha", "l1_ratio", "check_every"),
                        lambda **o: NMF(W=(8, 2), seed=0).fit(list(_rand(12, 8).split(4)), **o)),
    "fit_chunks": (("beta", "tol", "max_iter", "alpha", "l1_ratio", "check_every"),
                   lambda **o: fit_chunks(NMF(W=(8, 2), seed=0), list(_rand(12, 8).split(4)), **o)),
    "sparse_fit": (("beta", "max_iter"),
                   lambda **o: NMF((12, 8), 2, seed=0).sparse_fit(_rand(12, 8), sH=0.5, **o)),
    "NMF.transform": (("beta", "tol", "max_iter", "alpha", "l1_ratio", "check_every"),
                      lambda **o: NMF((12, 8), 2, seed=0).transform(_rand(5, 8), **o)),
    "PLCA.fit": (("tol", "max_iter", "check_every"),
                 lambda **o: PLCA((12, 8), 2, seed=0).fit(_rand(12, 8), **o)),
    "SIPLCA.fit": (("tol", "max_iter", "check_every"),
                   lambda **o: SIPLCA((1, 8, 12), 2, T=3, seed=0).fit(_rand(1, 8, 12), **o)),
    # checked before the process group is needed: no group here
    "distributed_fit": (("beta", "tol", "max_iter", "alpha", "l1_ratio", "check_every"),
                        lambda **o: distributed_fit(NMF((12, 8), 2, seed=0), _rand(12, 8), **o)),
}

BAD = [
    ("beta", math.nan, ParameterError, "beta must be finite"),
    ("beta", "kl", ParameterTypeError, "beta must be a real number"),
    ("tol", math.nan, ParameterError, r"tol must be a number \(-math.inf runs max_iter"),
    ("tol", "small", ParameterTypeError, "tol must be a number"),
    ("max_iter", 0, ParameterError, "max_iter must be at least 1, got 0"),
    ("max_iter", 2.5, ParameterTypeError, "max_iter must be an integer"),
    ("check_every", 0, ParameterError, "check_every must be at least 1"),
    ("alpha", -1, ParameterError, "alpha must be a non-negative finite number, got -1"),
    ("alpha", math.nan, ParameterError, "alpha must be a non-negative finite number, got nan"),
    ("alpha", math.inf, ParameterError, "alpha must be a non-negative finite number, got inf"),
    ("alpha", "strong", ParameterTypeError, r"alpha must be a non-negative finite number, got str"),
    ("l1_ratio", 1.5, ParameterError, r"l1_ratio must be a number in \[0, 1\], got 1.5"),
    ("solver", "newton", ParameterError, "solver must be one of 'mu', 'hals'"),
    ("orthogonal", -1, ParameterError, "orthogonal must be a non-negative finite number, got -1"),
    ("orthogonal", math.nan, ParameterError, "orthogonal must be a non-negative finite number"),
]


@pytest.mark.parametrize("option, value, error, message", BAD, ids=[f"{o}={v!r}" for o, v, *_ in BAD])
def test_every_entry_point_refuses_a_bad_option_with_the_same_error(option, value, error, message):
    with pytest.raises(error, match=message):
        FitOptions(**{option: value})
    reached = 0
    for name, (options, fit) in ENTRY_POINTS.items():
        if option not in options:
            continue
        with pytest.raises(error, match=message):
            fit(**{option: value})
        reached += 1
    assert reached >= 2


def test_options_are_canonical_and_cross_checked():
    options = FitOptions(beta=2, max_iter=torch.tensor(7), tol=-math.inf, alpha=1, l1_ratio=0.25,
                         solver="hals", verbose=1)
    assert (options.beta, options.max_iter, options.verbose) == (2.0, 7, True)
    assert type(options.max_iter) is int and type(options.beta) is float
    assert (options.l1, options.l2) == (0.25, 0.75)
    with pytest.raises(ParameterError, match=r"solver='hals' minimises the Euclidean distance \(beta=2\)"):
        FitOptions(solver="hals")  # beta 1
    with pytest.raises(ParameterError, match="beta=2"):  # replace validates again
        options.replace(beta=1)
    with pytest.raises(ParameterError, match="inner_iter must be at least 0"):
        fit_chunks(NMF(W=(8, 2)), list(_rand(12, 8).split(4)), inner_iter=-1)
    with pytest.raises(ParameterTypeError, match="options must be a FitOptions"):
        run_iterations(NMF((4, 3), 2), lambda: None, lambda: 0.0, {"max_iter": 3})


def test_distributed_fit_of_plca_takes_neither_beta_nor_alpha():
    # its own rule, after the shared checks: an invalid alpha is refused as everywhere
    with pytest.raises(ParameterError, match="alpha must be a non-negative finite number"):
        distributed_fit(PLCA((12, 8), 2), _rand(12, 8), alpha=-2)


# --------------------------------------------------------------------------- the protocol
class _Blurred(NMF):
    """A new model through the public protocol only: templates blurred across frequency,
    ``V ≈ H (B W)ᵀ`` with a fixed non-negative ``B``; fitted with autograd's gradient parts."""

    @staticmethod
    def reconstruct(H, W):
        blurred = torch.nn.functional.avg_pool1d(W.t().unsqueeze(1), 3, 1, padding=1, count_include_pad=False)
        return H @ blurred.squeeze(1)


def test_a_subclass_fits_through_the_public_protocol():
    H0, W0 = _rand(40, 3, seed=1), _rand(16, 3, seed=2)
    V = _Blurred.reconstruct(H0, W0)
    model = _Blurred(V.shape, 3, seed=3)
    assert not model.has_closed_form() and model.learned_factors() == ["W", "H"]
    model.fit(V, beta=2, tol=-math.inf, max_iter=400, check_every=20)
    curve = model.loss_curve_
    assert all(b <= a * (1 + 1e-12) for a, b in zip(curve, curve[1:]))  # MU never climbs
    assert curve[-1] < 1e-3 * curve[0]
    assert curve[-1] == pytest.approx(float(model.divergence(V, 2)), rel=1e-9)


def test_the_protocol_serves_the_closed_forms_and_autograd_alike():
    V = _rand(1, 9, 25)
    model = NMFD(V.shape, 3, T=4, seed=0, fixed_W=[1])
    assert model.fixed_mask("W").shape == (1, 3, 1) and model.fixed_mask("H") is None
    assert model.prepare_target(V).shape == V.shape
    for name in model.learned_factors():
        for beta in (0.5, 1.0, 2.0):
            fast = model.gradient_parts(name, V, beta)
            generic = BaseComponent.gradient_parts(model, name, V, beta)
            for a, b in zip(fast, generic):
                torch.testing.assert_close(*torch.broadcast_tensors(a, b))
    torch.testing.assert_close(model.divergence(V, 1.0), BaseComponent.divergence(model, V, 1.0))


# --------------------------------------------------------------------------- aligned deconvolutions
def test_aligned_models_are_the_middle_of_the_full_convolution():
    W, H = _rand(5, 2, 4, seed=1), _rand(1, 2, 13, seed=2)
    torch.testing.assert_close(NMFD.reconstruct(H, W, aligned=True), NMFD.reconstruct(H, W)[..., 3:-3])
    W2, H2 = _rand(1, 2, 3, 4, seed=3), _rand(1, 2, 6, 13, seed=4)
    torch.testing.assert_close(NMF2D.reconstruct(H2, W2, aligned=True),
                               NMF2D.reconstruct(H2, W2)[..., 3:-3])
    Z = torch.tensor([0.25, 0.75], dtype=torch.float64)
    torch.testing.assert_close(SIPLCA.reconstruct(H, W, Z, aligned=True),
                               SIPLCA.reconstruct(H, W, Z)[..., 3:-3])


def test_aligned_shapes_from_vshape_and_for_new_data():
    model = NMFD((2, 7, 10), 3, T=4, aligned=True, seed=0)
    assert model.H.shape == (2, 3, 13) and model().shape == (2, 7, 10)
    assert "aligned=True" in repr(model)
    assert NMFD((1, 7, 2), 3, T=4, aligned=True).H.shape == (1, 3, 5)  # V shorter than T
    assert model.transform(_rand(1, 7, 20), max_iter=5).shape == (1, 3, 23)
    assert NMF2D((1, 1, 12, 10), 2, (3, 4), aligned=True).H.shape == (1, 2, 10, 13)
    siplca = SIPLCA((1, 7, 10), 3, T=4, aligned=True)
    assert siplca.H.shape == (1, 3, 13) and siplca().shape == (1, 7, 10)
    with pytest.raises(ParameterTypeError, match="aligned must be True or False"):
        NMFD((1, 7, 10), 3, T=4, aligned="yes")
    with pytest.raises(ParameterError, match="all but the last"):
        NMF2D((1, 1, 12, 10), 2, (3, 4), aligned=True).transform(_rand(1, 1, 2, 10))


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 1.5, 2.0])
@pytest.mark.parametrize("N", [1, 3])
def test_aligned_nmfd_closed_forms_equal_autograd(beta, N):
    V = _rand(N, 7, 20, seed=5)
    model = NMFD(W=_rand(7, 3, 4, seed=6), H=_rand(N, 3, 23, seed=7), aligned=True)
    assert model.has_closed_form()
    for name in ("W", "H"):
        for fast, generic in zip(model.gradient_parts(name, V, beta),
                                 BaseComponent.gradient_parts(model, name, V, beta)):
            torch.testing.assert_close(*torch.broadcast_tensors(fast, generic))
    torch.testing.assert_close(model.divergence(V, beta), BaseComponent.divergence(model, V, beta))


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_aligned_nmfd_fit_equals_the_autograd_fit(beta):
    # planted factors, some onsets before the first frame; the fast fit follows autograd's
    W, H = _rand(12, 2, 5, seed=8), _rand(2, 2, 34, seed=9) ** 4
    V = NMFD.reconstruct(H, W, aligned=True)
    fast = NMFD(V.shape, 2, T=5, aligned=True, seed=10)
    generic = NMFD(V.shape, 2, T=5, aligned=True, seed=10)
    generic.register_forward_hook(lambda module, inputs, output: None)  # no closed forms
    assert not generic.has_closed_form()
    for model in (fast, generic):
        model.fit(V, beta=beta, tol=-math.inf, max_iter=300, check_every=50)
    torch.testing.assert_close(fast.W, generic.W, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(fast.H, generic.H, rtol=1e-9, atol=1e-12)
    assert fast.loss_curve_[-1] < 0.05 * fast.loss_curve_[0]


def test_the_step_reduces_the_templates_statistics_through_a_hook():
    # two identical shards, summed by the hook, fit like the stacked data (the penalty makes
    # the sum matter: doubled parts are not a scaled ratio once l1 is added)
    from nmfsep.updates import flush_denormal

    V = _rand(30, 12, seed=11)
    models = {}
    for name in ("shard", "alone", "stacked"):
        model = NMF(V.shape, 3, seed=12)
        if name == "stacked":
            model = NMF(W=model.W.detach(), H=torch.cat([model.H.detach()] * 2))
        data = model.prepare_target(torch.cat([V, V]) if name == "stacked" else V)
        reduce = (lambda part: 2 * part) if name == "shard" else None
        step = model.multiplicative_step(data, 1.0, 0.5, 0.0, reduce=reduce)
        with flush_denormal(V.device):
            for _ in range(40):
                step()
        models[name] = model
    shard, alone, stacked = models["shard"], models["alone"], models["stacked"]
    torch.testing.assert_close(shard.W, stacked.W, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(shard.H, stacked.H[:30], rtol=1e-9, atol=1e-12)
    assert (alone.W - shard.W).abs().max() > 1e-3  # without the hook: another fit


# --------------------------------------------------------------------------- penalties
def _column_cosine(X):
    """Mean cosine between distinct columns (components) of X."""
    unit = X / X.norm(dim=0, keepdim=True)
    gram = unit.T @ unit
    R = X.shape[1]
    return float((gram.sum() - gram.diagonal().sum()) / (R * (R - 1)))


@pytest.mark.parametrize("beta, level", [(2.0, 1.0), (1.0, 1.0), (0.5, 1.0), (2.0, 1e8), (1.0, 1e8)])
def test_orthogonal_penalty_is_betamu_s_in_the_one_loop(beta, level):
    # fit(orthogonal=mu) is BetaMu(orthogonal=mu)'s trajectory, the update kernel's penalty,
    # also for loud data (1e8: fitted normalised, the penalty scaled as L2's)
    V = _rand(40, 30, seed=5) @ _rand(30, 25, seed=6) * level
    fitted, stepped = NMF(V.shape, 4, seed=1).double(), NMF(V.shape, 4, seed=1).double()
    for model in (fitted, stepped):
        for factor in (model.W, model.H):
            factor.data *= level ** 0.5
    mu = 0.3 * level ** (beta - 1)  # the penalty in the loss's units
    fitted.fit(V, beta=beta, tol=-math.inf, max_iter=20, orthogonal=mu)
    trainer = BetaMu(stepped.parameters(), beta=beta, orthogonal=mu)
    for _ in range(20):
        trainer.step(lambda: (V, stepped()))
    assert torch.allclose(fitted.W, stepped.W, rtol=1e-10, atol=0)
    assert torch.allclose(fitted.H, stepped.H, rtol=1e-10, atol=0)
    unpenalised = NMF(V.shape, 4, seed=1).double()
    for factor in (unpenalised.W, unpenalised.H):
        factor.data *= level ** 0.5
    unpenalised.fit(V, beta=beta, tol=-math.inf, max_iter=20)
    assert not torch.allclose(unpenalised.H, fitted.H, rtol=1e-3)


def test_orthogonal_penalty_recovers_one_active_component_per_row():
    # planted: every row (frame) has one active component; the unpenalised fit mixes them
    g = torch.Generator().manual_seed(0)
    N, C, R = 200, 30, 4
    labels = torch.randint(0, R, (N,), generator=g)
    H0 = torch.zeros(N, R, dtype=torch.float64)
    H0[torch.arange(N), labels] = 0.5 + torch.rand(N, generator=g, dtype=torch.float64)
    W0 = torch.rand(C, R, generator=g, dtype=torch.float64) + 0.2
    V = H0 @ W0.T
    cosines = {}
    for mu in (0.0, 0.3):
        model = NMF(V.shape, R, seed=3).double()
        model.fit(V, beta=2, tol=-math.inf, max_iter=300, orthogonal=mu)
        cosines[mu] = _column_cosine(model.H.detach())
        if mu:
            assert (model().detach() - V).norm() < 0.01 * V.norm()
            assert abs(_column_cosine(model.W.detach()) - _column_cosine(W0)) < 0.01
    assert cosines[0.0] > 0.1 and cosines[0.3] < 0.01


def test_orthogonal_penalty_keeps_fixed_components_and_refuses_other_solvers():
    V = _rand(30, 20, seed=2)
    model = NMF(V.shape, 4, fixed_W=[0, 2], seed=0).double()
    W0 = model.W.detach().clone()
    for solver in ("mu", "auto"):
        model.fit(V, beta=2, max_iter=15, orthogonal=0.5, solver=solver)
        assert torch.equal(model.W[:, [0, 2]], W0[:, [0, 2]])
    for solver in ("hals", "anls", "pgd"):
        with pytest.raises(ParameterError, match="orthogonal is a penalty of the multiplicative"):
            model.fit(V, beta=2, orthogonal=0.5, solver=solver)
    with pytest.raises(ParameterError, match="orthogonal penalises the whole factors"):
        NMF(W=(20, 2), seed=0).fit(list(V.split(10)), orthogonal=0.5)
