"""What users meet in the core: any loudness of V, clear errors, never NaN factors.

Scale invariance of every fit (NMF with each solver, PLCA), the beta <= 0 floor of zeros,
non-finite intermediates as errors, parameter validation, and property-based tests (hypothesis)
over random shapes, ranks, betas, scales, dtypes and fixed masks.
"""

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nmfsep._core import NonFiniteError
from nmfsep._core._scaling import SAFE_EXPONENTS, floor_zeros, scale_exponent
from nmfsep._core._validation import check_component_mask, check_count
from nmfsep.nmf import NMF, NMFD
from nmfsep.plca import PLCA

from conftest import relative_error

F64 = torch.float64


def planted(seed=0, N=40, C=30, R=4, dtype=torch.float32):
    """Exact rank-R data with its largest value 1, and every entry positive."""
    g = torch.Generator().manual_seed(seed)
    V = (torch.rand(N, R, generator=g, dtype=F64) + 0.05) @ (torch.rand(R, C, generator=g, dtype=F64) + 0.05)
    return (V / V.max()).to(dtype)


def fit_error(V, scale, beta, solver="mu", **kwargs):
    """Relative error, in float64 and in the data's units, of a seeded float32 fit of ``V * scale``."""
    model = NMF(V.shape, 4, seed=0)
    max_iter = 120 if solver == "mu" else 60  # the least-squares solvers converge in fewer
    model.fit((V.double() * scale).float(), beta=beta, tol=0, max_iter=max_iter, solver=solver, **kwargs)
    return relative_error(model().detach().double() / scale, V.double()), model


# -- scale invariance ------------------------------------------------------------------------

@pytest.mark.parametrize("beta, solver",
                         [(2, "mu"), (1, "mu"), (0, "mu"), (-1, "mu"), (2, "hals"), (2, "anls")])
def test_float32_fits_as_well_at_any_scale_as_near_one(beta, solver):
    # before: all-zero factors at 1e-7 (KL) or 1e-9 (beta = 2), NaN factors near 1e20 and 1e38
    V = planted()
    reference, _ = fit_error(V, 1.0, beta, solver)
    assert reference < 0.1
    for scale in (1e-30, 1e-12, 1e-9, 1e-7, 1e-3, 1e5, 1e20, 1e30, 1e37):
        error, model = fit_error(V, scale, beta, solver)
        if solver == "mu":  # MU is equivariant: only the guards' rounding differs
            assert abs(error - reference) < 0.05 * reference, (scale, error, reference)
        else:  # HALS / ANLS converge at a pace set by the start's scale relative to V's
            assert error < max(1.5 * reference, 0.01), (scale, error, reference)
        assert bool(model.W.detach().max() > 0) and bool(model.H.detach().max() > 0)
    # V / 4**k from a start drawn near 1 is fitted as V near 1 from it: 1e-30 as 1e-30 * 4**50
    assert fit_error(V, 1e-30, beta, solver)[0] == fit_error(V, 1e-30 * 4.0 ** 50, beta, solver)[0]
    assert fit_error(V, 4.0 ** -40, beta, solver)[0] == reference


@pytest.mark.parametrize("beta", [2, 1, 0.5, 0, 3])
def test_scaling_V_and_the_start_together_scales_the_factors_exactly(beta):
    # 4**20 V from 2**20 W0, 2**20 H0 is fitted as V from W0, H0: the very same floats
    V = planted(1, dtype=F64)
    start = NMF(V.shape, 4, seed=3)
    near_one = NMF(W=start.W.detach(), H=start.H.detach())
    loud = NMF(W=start.W.detach() * 2.0 ** 20, H=start.H.detach() * 2.0 ** 20)
    near_one.fit(V, beta=beta, tol=0, max_iter=40)
    loud.fit(V * 4.0 ** 20, beta=beta, tol=0, max_iter=40)
    assert torch.equal(loud.W.detach(), near_one.W.detach() * 2.0 ** 20)
    assert torch.equal(loud.H.detach(), near_one.H.detach() * 2.0 ** 20)
    # the loss is reported in the user's units: D(sV | sV^) = s**beta D(V | V^)
    assert loud.loss_curve_ == [value * 4.0 ** (20 * beta) for value in near_one.loss_curve_]


def test_scaling_by_any_factor_scales_the_factors_to_rounding():
    V = planted(2, dtype=F64)
    start = NMF(V.shape, 4, seed=4)
    results = []
    for scale in (1.0, 3.7e-11, 2.9e25):
        model = NMF(W=start.W.detach() * scale ** 0.5, H=start.H.detach() * scale ** 0.5)
        model.fit(V * scale, beta=1, tol=0, max_iter=60)
        results.append(model().detach() / scale)
    assert relative_error(results[1], results[0]) < 1e-7  # the updates' eps guards differ
    assert relative_error(results[2], results[0]) < 1e-7


def test_penalties_keep_their_meaning_in_the_users_units():
    # fitting 4**20 V with alpha is fitting V with the penalty that alpha puts on the
    # normalised factors (2**20 smaller): l1 2**20 / 4**(20 beta) = alpha * 2**-60 at beta 2
    V = planted(5, dtype=F64)
    start = NMF(V.shape, 4, seed=5)
    loud = NMF(W=start.W.detach() * 2.0 ** 20, H=start.H.detach() * 2.0 ** 20)
    loud.fit(V * 4.0 ** 20, beta=2, tol=0, max_iter=30, alpha=3e17, l1_ratio=1)
    quiet = NMF(W=start.W.detach(), H=start.H.detach())
    quiet.fit(V, beta=2, tol=0, max_iter=30, alpha=3e17 * 2.0 ** -60, l1_ratio=1)
    assert torch.equal(loud.W.detach(), quiet.W.detach() * 2.0 ** 20)
    free = NMF(W=start.W.detach(), H=start.H.detach())
    free.fit(V, beta=2, tol=0, max_iter=30)
    assert relative_error(quiet.W, free.W.detach()) > 1e-3  # the penalty did act


@pytest.mark.parametrize("solver", ["mu", "hals"])
def test_fixed_components_and_frozen_factors_stay_bit_exact_at_any_scale(solver):
    V = planted(6) * 1e25
    templates = torch.rand(30, 4, dtype=torch.float32) + 0.1
    model = NMF(V.shape, 4, W=templates, fixed_W=[True, False, True, False], seed=0)
    model.fit(V, beta=2, tol=0, max_iter=40, solver=solver)
    assert torch.equal(model.W.detach()[:, [0, 2]], templates[:, [0, 2]])
    assert torch.isfinite(model.H).all() and bool(model.H.max() > 0)
    frozen = NMF(V.shape, 4, W=templates, trainable_W=False, seed=0)
    frozen.fit(V * 1e-40, beta=1, tol=0, max_iter=40)
    assert torch.equal(frozen.W.detach(), templates)
    assert relative_error(frozen().detach().double(), V.double() * 1e-40) < 0.5


def test_transform_of_loud_data_with_fixed_templates():
    V = planted(7)
    model = NMF(V.shape, 4, seed=0)
    model.fit(V, beta=1, tol=0, max_iter=150)
    H = model.transform(V * 1e30, beta=1, tol=0, max_iter=150)
    assert relative_error(H.double() / 1e30, model.transform(V, beta=1, tol=0, max_iter=150).double()) < 1e-3


@pytest.mark.parametrize("init", ["nndsvd", "nndsvda"])
@pytest.mark.parametrize("batched", [False, True])
def test_initialisations_from_the_data_at_any_scale(init, batched):
    # init is computed from the normalised data: BatchNMF's NNDSVD gave all-zero factors at
    # 1e-30 and its NNDSVDA overflowed at 1e30. Data scaled by s are fitted as the data scaled
    # by s / 4**k (k = round(log4 s), in the safe band), to the last bit
    from nmfsep._core import BatchNMF
    V = torch.stack([planted(seed, N=20, C=15) for seed in range(3)]).double()
    V = V if batched else V[0]

    def error(scale):
        model = BatchNMF(V.shape, rank=4, seed=0) if batched else NMF(V.shape, 4, seed=0)
        model.fit((V * scale).float(), beta=2, tol=0, max_iter=30, init=init)
        return relative_error(model().detach().double() / scale, V)

    reference = error(1.0)
    for scale in (1e-30, 1e30):
        assert error(scale) == error(scale * 4.0 ** -round(math.log(scale, 4)))
        assert error(scale) < 1.2 * reference


@pytest.mark.parametrize("keep_activations", [False, True])
def test_chunked_fits_at_any_scale(keep_activations):
    # one pass gives the chunks' peak: every chunk is normalised alike, zeros floored at the
    # peak of all of them (chunks 1000x apart here)
    V = planted(13, N=60).double()
    V[:30] *= 1e-3
    V[40:, :4] = 0
    chunks = lambda scale: list((V * scale).float().split(20))  # noqa: E731
    errors = []
    for scale in (4.0 ** -50, 1.0, 4.0 ** 50):
        model = NMF(V.shape, 4, seed=0)
        model.fit(chunks(scale), beta=-1, max_iter=10, tol=0, keep_activations=keep_activations)
        if keep_activations:
            errors.append(relative_error(model().detach().double() / scale, V))
        else:  # activations of the last epoch are not kept: compare the templates' shape
            errors.append(model.W.detach().double() / float(model.W.detach().double().sum()))
        assert all(math.isfinite(value) for value in model.loss_curve_)
    if keep_activations:
        assert errors[0] == errors[1] == errors[2] and errors[1] < 0.5
    else:
        assert torch.equal(errors[0], errors[1]) and torch.equal(errors[2], errors[1])


def test_callback_sees_the_users_units():
    V = planted(8) * 1e30
    seen = []
    model = NMF(V.shape, 4, seed=0)
    model.fit(V, beta=2, tol=0, max_iter=5, check_every=1,
              callback=lambda m, i, loss: seen.append((float(m.W.max() * m.H.max()), loss)))
    assert all(1e28 < product < 1e32 for product, _ in seen)
    assert [loss for _, loss in seen] == model.loss_curve_[1:]


def test_scale_exponent_leaves_the_safe_band_alone():
    low, high = SAFE_EXPONENTS
    assert scale_exponent(1.0) == 0 and scale_exponent(4.0 ** low) == 0 and scale_exponent(4.0 ** high) == 0
    assert scale_exponent(4.0 ** (high + 1)) == high + 1 and scale_exponent(4.0 ** (low - 1)) == low - 1
    assert scale_exponent(0.0) == 0 and scale_exponent(float("inf")) == 0


def test_plca_of_huge_and_tiny_values():
    V = planted(9)
    reference = PLCA(V.shape, 4, seed=0)
    _, norm_1 = reference.fit(V, tol=0, max_iter=60)
    for scale in (1e37, 1e-30):
        model = PLCA(V.shape, 4, seed=0)
        _, norm = model.fit((V.double() * scale).float(), tol=0, max_iter=60)
        assert math.isfinite(float(norm)) and float(norm) > 0  # was inf at 1e37
        assert abs(float(norm) / scale / float(norm_1) - 1) < 1e-5
        reconstruction = model(norm=norm).detach()
        assert reconstruction.dtype == torch.float32 and torch.isfinite(reconstruction).all()
        assert relative_error(model.W, reference.W.detach()) < 1e-4
        expected = reference(norm=norm_1).detach().double()
        assert relative_error(reconstruction.double() / scale, expected) < 1e-4
        # the log-posterior in the user's units: sum V log model scales with V
        assert abs(model.loss_curve_[-1] / scale / reference.loss_curve_[-1] - 1) < 1e-4


def test_plca_transform_of_huge_values_is_finite():
    model = PLCA((20, 30), 3, seed=0)
    model.fit(planted(10, N=20), max_iter=30)
    activations = model.transform(planted(11, N=20) * 1e37, max_iter=30)
    assert torch.isfinite(activations).all() and bool(activations.max() > 1e30)


# -- beta <= 0 and zeros in V ------------------------------------------------------------------

@pytest.mark.parametrize("beta", [-1, 0])
def test_beta_at_most_zero_floors_the_zeros_of_V(beta):
    # before: factors grew to 1e17 at beta = -1
    V = planted(12)
    V[:, :6] = 0
    V[5] = 0
    model = NMF(V.shape, 4, seed=0)
    model.fit(V, beta=beta, tol=0, max_iter=200)
    assert float(model().detach().max()) < 2.0
    floored = V.clamp_min(torch.finfo(V.dtype).eps * float(V.max()))
    twin = NMF(V.shape, 4, seed=0)
    twin.fit(floored, beta=beta, tol=0, max_iter=200)
    assert torch.equal(model.W, twin.W) and torch.equal(model.H, twin.H)


def test_floor_leaves_other_betas_and_positive_data_uncopied():
    V = torch.rand(5, 4)
    V[0, 0] = 0
    assert floor_zeros(V, 0.5) is V and floor_zeros(V + 1, -1).min() == 1
    positive = V + 1
    assert floor_zeros(positive, -1) is positive
    assert float(floor_zeros(V, 0).min()) == pytest.approx(torch.finfo(V.dtype).eps * float(V.max()))


# -- non-finite values ---------------------------------------------------------------------------

def test_a_non_finite_intermediate_is_an_error_naming_the_iteration():
    # beta = 30 on data near 1000: the loss's model ** 30 overflows float32
    V = torch.rand(10, 12) * 1000
    with pytest.raises(NonFiniteError, match="the loss became inf before the first iteration") as info:
        NMF(V.shape, 2, seed=0).fit(V, beta=30, max_iter=50)
    assert isinstance(info.value, FloatingPointError) and isinstance(info.value, ValueError)
    assert "float64" in str(info.value)

    def poison(model, n_iter, loss):  # a NaN that appears in the middle of a fit
        if n_iter == 2:
            model.H.data[0, 0] = float("nan")

    with pytest.raises(NonFiniteError, match="the loss became nan at iteration 3"):
        NMF(V.shape, 2, seed=0).fit(V, max_iter=10, check_every=1, callback=poison)


def test_non_finite_factors_are_never_returned():
    # a fit that ends with a NaN factor raises even if its last loss was finite
    V = torch.rand(8, 9)
    model = NMF(V.shape, 2, seed=0)

    def poison(m, n_iter, loss):
        if n_iter == 3:
            m.W.data[0, 0] = float("nan")
        return n_iter < 3

    with pytest.raises(NonFiniteError, match="W holds NaN or Inf at iteration 3"):
        model.fit(V, max_iter=10, callback=poison)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_V_is_refused_up_front(bad):
    V = torch.rand(6, 7)
    V[1, 2] = bad
    for model in (NMF(V.shape, 2), PLCA(V.shape, 2)):
        with pytest.raises(ValueError, match="NaN or Inf"):
            model.fit(V)


# -- parameter validation ------------------------------------------------------------------------

def test_an_empty_Vshape_names_V():
    with pytest.raises(ValueError, match=r"Vshape \(0, 10\) has an empty axis"):
        NMF((0, 10), rank=4)
    with pytest.raises(ValueError, match="empty axis"):
        NMFD((1, 10, 0), rank=2)


@pytest.mark.parametrize("mask, error, message", [
    ("abc", TypeError, "fixed_W must be None, True, or"),
    (3.5, TypeError, "fixed_W must be None, True, or"),
    ([True, False, True, False, 2], TypeError, "mixes booleans and integers"),
    ([0.0, 1.0], TypeError, "fixed_W must be a sequence"),
    ([0, 9], ValueError, "outside"),
])
def test_bad_component_masks_name_the_parameter(mask, error, message):
    with pytest.raises(error, match=message):
        NMF((10, 12), 5, fixed_W=mask)


def test_good_component_masks():
    assert check_component_mask([True, False, True], 3, "m").tolist() == [True, False, True]
    assert check_component_mask([0, 2], 3, "m").tolist() == [True, False, True]
    assert check_component_mask(torch.tensor([2]), 3, "m").tolist() == [False, False, True]
    assert check_component_mask(None, 3, "m") is None


@pytest.mark.parametrize("name", ["max_iter", "check_every"])
@pytest.mark.parametrize("value, error, message", [
    (2.5, TypeError, r"must be an integer, got 2.5 \(e.g. {}=2\)"),
    ("10", TypeError, "must be an integer"),
    (True, TypeError, "must be an integer"),
    (0, ValueError, "must be at least 1"),
])
def test_counts_name_the_parameter(name, value, error, message):
    with pytest.raises(error, match=message.format(name)):
        NMF((10, 12), 2).fit(torch.rand(10, 12), **{name: value})
    with pytest.raises(error, match=name):
        PLCA((10, 12), 2).fit(torch.rand(10, 12), **{name: value})


def test_check_count_accepts_integers_of_any_kind():
    import numpy as np
    assert check_count(np.int64(3), "n") == 3 and check_count(torch.tensor(4), "n") == 4


# -- properties over random problems (hypothesis) ----------------------------------------------

# fits of a few iterations on tiny problems: the whole module runs in seconds
SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw):
    """A random non-negative V (with zeros), its scale, dtype, rank and fixed components."""
    N = draw(st.integers(2, 7))
    C = draw(st.integers(2, 7))
    rank = draw(st.integers(1, 3))
    dtype = draw(st.sampled_from([torch.float32, F64]))
    scale = 10.0 ** draw(st.integers(-12, 30))
    seed = draw(st.integers(0, 2 ** 16))
    g = torch.Generator().manual_seed(seed)
    V = torch.rand(N, C, generator=g, dtype=F64)
    V[torch.rand(N, C, generator=g) < draw(st.sampled_from([0.0, 0.3]))] = 0
    V[0, 0] = 0.5  # at least one positive entry
    fixed = draw(st.lists(st.booleans(), min_size=rank, max_size=rank))
    return (V * scale).to(dtype), rank, fixed, seed


def assert_monotone(curve, dtype, increasing=False):
    """No step makes the loss worse beyond rounding (relative to it, and to the first loss)."""
    slack = 1e-4 if dtype == torch.float32 else 1e-9
    for before, after in zip(curve, curve[1:]):
        change = (before - after) if increasing else (after - before)
        assert change <= slack * (max(abs(before), abs(after)) + 0.1 * abs(curve[0])), curve


@SETTINGS
@given(problem=problems(),
       beta=st.sampled_from([2.0, 1.0, 0.5, 0.0, -1.0, 1.5, 3.0]),
       solver=st.sampled_from(["mu", "mu", "hals", "anls", "pgd"]))
def test_property_nmf_fits_are_finite_monotone_and_keep_fixed_components(problem, beta, solver):
    V, rank, fixed, seed = problem
    if solver != "mu":
        beta = 2.0  # the least-squares solvers minimise the Euclidean distance
    model = NMF(V.shape, rank, fixed_W=fixed, seed=seed)
    model.to(V.dtype)
    W0 = model.W.detach().clone()
    model.fit(V, beta=beta, tol=0, max_iter=12, check_every=1, solver=solver)
    W, H = model.W.detach(), model.H.detach()
    assert torch.isfinite(W).all() and torch.isfinite(H).all()
    assert all(math.isfinite(value) for value in model.loss_curve_)
    assert_monotone(model.loss_curve_, V.dtype)
    kept = torch.tensor(fixed)
    assert torch.equal(W[:, kept], W0[:, kept])


@SETTINGS
@given(problem=problems())
def test_property_plca_fits_are_finite_monotone_and_keep_fixed_components(problem):
    V, rank, fixed, seed = problem
    model = PLCA(V.shape, rank, fixed_W=fixed, seed=seed)
    model.to(V.dtype)
    W0 = model.W.detach().clone()
    _, norm = model.fit(V, tol=0, max_iter=12, check_every=1)
    assert math.isfinite(float(norm)) and float(norm) > 0
    assert torch.isfinite(model(norm=norm)).all()
    for factor in (model.W, model.H, model.Z):
        assert torch.isfinite(factor).all()
    assert_monotone(model.loss_curve_, V.dtype, increasing=True)
    kept = torch.tensor(fixed)
    assert torch.equal(model.W.detach()[:, kept], W0[:, kept])


# -- many sources ----------------------------------------------------------------------------------

def test_thousands_of_one_component_sources_are_synthesised_in_blocks(monkeypatch):
    # Separator(n_components=10000) on a 0.45 s clip spent minutes in per-source Python loops
    # (O(components x sources) grouping, one inverse STFT per source); blocks give the same bits
    import nmfsep._pipeline.separation as separation
    from nmfsep.separation import Separator
    g = torch.Generator().manual_seed(0)
    mixture = torch.randn(1, 4000, generator=g) * 0.1
    settings = dict(n_components=300, max_iter=3, n_fft=256, seed=0)
    blocked = Separator(**settings)
    stems = blocked.separate(mixture, 8000)
    assert len(stems) == 300 and blocked.source_components_["component217"] == [217]
    total = torch.stack(list(stems.values())).sum(0)
    assert relative_error(total, mixture) < 1e-5  # the sources sum back to the mixture
    monkeypatch.setattr(separation, "_SYNTHESIS_BLOCK", 1)  # one source at a time, as before
    one_by_one = Separator(**settings).separate(mixture, 8000)
    assert all(torch.equal(stems[name], one_by_one[name]) for name in stems)
