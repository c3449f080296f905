"""PLCA family: EM monotonicity, planted factors and shifts, priors, fixed components, bad input."""

import pytest
import torch

from nmfsep.metrics import sparseness
from nmfsep.nmf import NMF
from nmfsep.plca import PLCA, SIPLCA, SIPLCA2, SIPLCA3

from conftest import relative_error

F64 = torch.float64

MODELS = [
    (PLCA, (30, 20), {}),
    (SIPLCA, (2, 20, 30), {"T": 4}),
    (SIPLCA2, (1, 2, 12, 14), {"kernel_size": (3, 2)}),
    (SIPLCA3, (1, 2, 6, 7, 5), {"kernel_size": (2, 3, 2)}),
]



def component_sums(x):
    x = x.detach().double()
    return x.sum([a for a in range(x.dim()) if a != 1]) if x.dim() > 1 else x.sum()


def planted_plca(seed, N=60, C=40, R=4):
    g = torch.Generator().manual_seed(seed)
    W = torch.rand(C, R, generator=g, dtype=F64) * (torch.rand(C, R, generator=g, dtype=F64) < 0.5)
    H = torch.rand(N, R, generator=g, dtype=F64) * (torch.rand(N, R, generator=g, dtype=F64) < 0.3)
    Z = torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=F64)
    return W / W.sum(0), H / H.sum(0), Z


def best_of(model_cls, V, seeds, **kwargs):
    """The restart with the highest log-posterior (shift-invariant EM has local optima)."""
    best = None
    for seed in seeds:
        model = model_cls(V.shape, 1, seed=seed, **kwargs)
        model.fit(V, tol=0, max_iter=200)
        if best is None or model.loss_curve_[-1] > best.loss_curve_[-1]:
            best = model
    return best


# -- torchnmf's documented shapes -----------------------------------------------------------

def test_seed_doc_shape_examples():
    V = torch.rand(20, 30)
    m = PLCA(V.shape, 5)
    assert (m.W.size(), m.H.size(), m.Z.size()) == ((30, 5), (20, 5), (5,))
    assert m().size() == (20, 30)
    V = torch.rand(33, 50).unsqueeze(0)
    m = SIPLCA(V.shape, 16, 3)
    assert (m.W.size(), m.H.size(), m.Z.size()) == ((33, 16, 3), (1, 16, 48), (16,))
    assert m().size() == (1, 33, 50)
    V = torch.rand(33, 50).unsqueeze(0).unsqueeze(0)
    m = SIPLCA2(V.shape, 16, 3)
    assert (m.W.size(), m.H.size(), m.Z.size()) == ((1, 16, 3, 3), (1, 16, 31, 48), (16,))
    assert m().size() == (1, 1, 33, 50)
    V = torch.rand(3, 64, 64, 100).unsqueeze(0)
    m = SIPLCA3(V.shape, 8, (5, 5, 20))
    assert (m.W.size(), m.H.size(), m.Z.size()) == ((3, 8, 5, 5, 20), (1, 8, 60, 60, 81), (8,))
    with torch.no_grad():
        HZWt = m()
    assert HZWt.size() == (1, 3, 64, 64, 100)
    assert float(HZWt.sum()) == pytest.approx(1, abs=1e-4)  # the model is a distribution


@pytest.mark.parametrize("model_cls, shape, kwargs", MODELS)
def test_probabilities_stay_normalised(model_cls, shape, kwargs):
    V = torch.rand(shape) * 7
    model = model_cls(shape, 3, seed=0, **kwargs)
    for fit_kwargs in ({}, {"W_alpha": 0.8, "H_alpha": 0.5, "Z_alpha": 1.5}):
        n_iter, norm = model.fit(V, max_iter=15, tol=0, **fit_kwargs)
        assert n_iter == 15 and float(norm) == pytest.approx(float(V.sum()))
        for name in ("W", "H"):
            assert torch.allclose(component_sums(getattr(model, name)), torch.ones(3, dtype=F64), atol=1e-6)
            assert bool((getattr(model, name) >= 0).all())
        assert float(component_sums(model.Z)) == pytest.approx(1, abs=1e-6)
        with torch.no_grad():
            assert float(model().double().sum()) == pytest.approx(1, abs=1e-6)
            assert float(model(norm=norm).double().sum()) == pytest.approx(float(V.sum()), rel=1e-5)


# -- EM: monotone log-posterior, agreement with torchnmf ---------------------------------------

@pytest.mark.parametrize("model_cls, shape, kwargs", MODELS[:3])
@pytest.mark.parametrize("alphas", [{}, {"W_alpha": 1.5, "H_alpha": 2.0, "Z_alpha": 1.2}])
def test_log_posterior_never_decreases(model_cls, shape, kwargs, alphas):
    V = torch.rand(shape, dtype=F64) + 0.05
    model = model_cls(shape, 3, seed=0, **kwargs)
    model.fit(V, tol=0, max_iter=40, check_every=1, **alphas)
    curve = torch.tensor(model.loss_curve_, dtype=F64)
    assert len(curve) == 41
    assert bool((curve[1:] >= curve[:-1] - 1e-12 * curve.abs()[1:]).all()), curve
    assert curve[-1] > curve[0]


@pytest.mark.parametrize("model_cls, shape, kwargs", MODELS[:3])
def test_sparse_prior_is_monotone_while_the_support_holds(model_cls, shape, kwargs):
    # alpha < 1: the MAP does not exist and the clamped update is no exact M-step, but zeros are
    # absorbing and a step that zeroes no new entry is an exact EM step on the current support
    V = torch.rand(shape, dtype=F64) * 3
    model = model_cls(shape, 3, seed=1, **kwargs)
    supports = []

    def record(m, n_iter, loss):
        supports.append(torch.cat([(getattr(m, n) == 0).flatten() for n in ("W", "H", "Z")]))

    model.fit(V, tol=0, max_iter=80, check_every=1, W_alpha=0.9, H_alpha=0.7, Z_alpha=0.9, callback=record)
    curve = model.loss_curve_
    held = 0
    for k in range(1, len(supports)):
        assert bool((supports[k] >= supports[k - 1]).all())  # a zero stays zero
        if torch.equal(supports[k], supports[k - 1]):
            held += 1
            assert curve[k + 1] >= curve[k] - 1e-12 * abs(curve[k]), (k, curve[k], curve[k + 1])
    assert int(supports[-1].sum()) > 0 and held >= 15


@pytest.mark.parametrize("model_cls, shape, kwargs", MODELS[:3])
def test_flat_prior_em_matches_torchnmf(model_cls, shape, kwargs, monkeypatch):
    tp = pytest.importorskip("torchnmf.plca")
    monkeypatch.setattr(tp, "eps", 1e-300)  # torchnmf biases V / model by float32's eps
    V = torch.rand(shape, dtype=F64) * 10
    start = model_cls(shape, 3, seed=0, **kwargs)
    ours = model_cls(None, 3, W=start.W.detach().double(), H=start.H.detach().double())
    theirs = getattr(tp, model_cls.__name__)(W=ours.W.detach(), H=ours.H.detach(), Z=ours.Z.detach()).double()
    with torch.no_grad():  # torchnmf normalises in float32: start from the very same values
        for name in ("W", "H", "Z"):
            getattr(theirs, name).copy_(getattr(ours, name))
    ours.fit(V, tol=0, max_iter=30)
    theirs.fit(V, tol=0, max_iter=30)
    for name in ("W", "H", "Z"):
        assert relative_error(getattr(ours, name), getattr(theirs, name).detach()) < 1e-12


# -- planted factors ----------------------------------------------------------------------

def test_plca_recovers_planted_factors():
    W, H, Z = planted_plca(0)
    V = 500 * PLCA.reconstruct(H, W, Z)
    model = PLCA(V.shape, 4, seed=1)
    _, norm = model.fit(V, tol=0, max_iter=600)
    assert relative_error(model(norm=norm), V) < 1e-3
    order = (W.t() @ model.W.detach()).argmax(1)  # learned component of each planted one
    assert sorted(order.tolist()) == [0, 1, 2, 3]
    assert relative_error(model.W.detach()[:, order], W) < 1e-3
    assert relative_error(model.Z.detach()[order], Z) < 1e-3


def test_siplca_finds_the_onsets_of_a_repeated_template():
    # a template sweeping up through the channels (not explainable by a shifted copy of itself)
    g = torch.Generator().manual_seed(3)
    C, T, L = 12, 4, 60
    sweep = (torch.arange(C) // 3).view(C, 1, 1) == torch.arange(T).view(1, 1, T)
    W = (torch.rand(C, 1, T, generator=g, dtype=F64) + 0.5) * sweep + 0.02
    onsets = [5, 20, 33, 47]
    H = torch.zeros(1, 1, L - T + 1, dtype=F64)
    H[0, 0, onsets] = torch.tensor([1.0, 0.7, 0.5, 0.9], dtype=F64)
    V = 100 * SIPLCA.reconstruct(H / H.sum(), W / W.sum(), torch.ones(1, dtype=F64))
    model = best_of(SIPLCA, V, range(4), T=T)
    activation = model.H.detach()[0, 0]
    assert sorted(activation.topk(4).indices.tolist()) == onsets
    assert float(activation[onsets].sum()) > 0.999
    assert relative_error(model.W.detach(), W / W.sum()) < 1e-3


def test_siplca2_finds_a_pattern_at_several_pitch_shifts():
    # V (1, 1, log-frequency, time): one harmonic pattern played at four pitches and onsets
    partials, K1, K2 = [0, 3, 5, 7], 8, 3
    W = torch.full((1, 1, K1, K2), 0.01, dtype=F64)
    W[0, 0, partials] += torch.tensor([[1.0, 0.3, 0.2], [0.6, 0.8, 0.1], [0.4, 0.2, 0.6], [0.3, 0.5, 0.1]],
                                      dtype=F64)
    shifts = [(0, 2), (3, 33), (5, 15), (10, 28)]  # (pitch shift in bins, onset in frames)
    H = torch.zeros(1, 1, 24 - K1 + 1, 40 - K2 + 1, dtype=F64)
    for (pitch, onset), weight in zip(shifts, [1.0, 0.9, 0.8, 0.6]):
        H[0, 0, pitch, onset] = weight
    V = 100 * SIPLCA2.reconstruct(H / H.sum(), W / W.sum(), torch.ones(1, dtype=F64))
    model = best_of(SIPLCA2, V, range(5), kernel_size=(K1, K2))
    activation = model.H.detach()[0, 0]
    peaks = activation.flatten().topk(4).indices
    assert sorted((int(i) // activation.shape[1], int(i) % activation.shape[1]) for i in peaks) == shifts
    assert relative_error(model(norm=V.sum()), V) < 1e-3


# -- fixed components, priors ---------------------------------------------------------------

@pytest.mark.parametrize("alphas", [{}, {"W_alpha": 0.7, "H_alpha": 0.7}])
def test_fixed_components_stay_bit_exact(alphas):
    W, H, Z = planted_plca(2)
    V = 300 * PLCA.reconstruct(H, W, Z)
    model = PLCA(V.shape, 4, W=W[:, :2], H=H[:, :3], fixed_W=[0, 1], fixed_H=[False, False, True, False],
                 seed=0)
    W_start, H_start = model.W.detach().clone(), model.H.detach().clone()
    model.fit(V, tol=0, max_iter=50, **alphas)
    assert torch.equal(model.W[:, :2], W_start[:, :2]) and not torch.equal(model.W[:, 2:], W_start[:, 2:])
    assert torch.equal(model.H[:, 2], H_start[:, 2]) and not torch.equal(model.H[:, :2], H_start[:, :2])
    # the known templates take part in the fit: the rest of the model is learned around them
    assert relative_error(W_start[:, :2], W[:, :2]) < 1e-15 and relative_error(H_start[:, 2], H[:, 2]) < 1e-15
    if not alphas:
        model.fit(V, tol=0, max_iter=400)
        assert relative_error(model(norm=V.sum()), V) < 1e-2


def test_sparse_prior_gives_sparser_activations():
    g = torch.Generator().manual_seed(0)
    V = torch.rand(40, 30, generator=g, dtype=F64)
    V = V / V.mean()  # one count per entry on average: pseudo-counts are in V's units
    measured = {}
    for alpha in (1.0, 0.9, 0.5):
        model = PLCA(V.shape, 5, seed=0)
        model.fit(V, tol=0, max_iter=200, H_alpha=alpha)
        measured[alpha] = float(sparseness(model.H.detach()))
    assert measured[1.0] < 0.3 and measured[0.9] > measured[1.0] + 0.1 and measured[0.5] > measured[0.9] + 0.1


def test_alpha_tensor_acts_per_entry():
    g = torch.Generator().manual_seed(0)
    V = torch.rand(40, 30, generator=g, dtype=F64)
    V = V / V.mean()
    model = PLCA(V.shape, 3, seed=0)
    model.fit(V, tol=0, max_iter=150, H_alpha=torch.tensor([[0.3, 1.0, 1.0]]))
    H = model.H.detach()
    assert int((H[:, 0] == 0).sum()) > 20 and int((H[:, 1:] == 0).sum()) == 0


# -- transform, fit's contract -----------------------------------------------------------------

def test_transform_gives_activations_in_the_units_of_V():
    W, H, Z = planted_plca(0)
    V = 500 * PLCA.reconstruct(H, W, Z)
    model = PLCA(V.shape, 4, seed=1)
    model.fit(V, tol=0, max_iter=600)
    order = (W.t() @ model.W.detach()).argmax(1)
    g = torch.Generator().manual_seed(5)
    activations = torch.rand(7, 4, generator=g, dtype=F64) * 3
    new = activations @ W.t()
    estimate = model.transform(new, tol=0, max_iter=1500)
    assert estimate.shape == (7, 4)
    assert relative_error(estimate[:, order], activations) < 1e-3
    assert relative_error(NMF.reconstruct(model.fit_transform(V, max_iter=1), model.W.detach()), V) < 1e-3


def test_transform_batch_equals_one_at_a_time():
    model = SIPLCA((2, 20, 30), 3, T=4, seed=0)
    model.fit(torch.rand(2, 20, 30, dtype=F64), max_iter=20)
    V = torch.rand(3, 20, 25, dtype=F64) * torch.tensor([1.0, 5.0, 0.2], dtype=F64).view(3, 1, 1)
    batch = model.transform(V, tol=0, max_iter=30, warm_start=False)
    single = torch.cat([model.transform(V[i:i + 1], tol=0, max_iter=30, warm_start=False) for i in range(3)])
    assert batch.shape == (3, 3, 22) and relative_error(batch, single) < 1e-12
    assert model.H.shape == (2, 3, 27)  # the model itself is unchanged


def test_stopping_rule_callback_and_reproducibility():
    V = torch.rand(30, 20, dtype=F64)
    first = PLCA(V.shape, 3, seed=4)
    n_iter, _ = first.fit(V, tol=1e-3, max_iter=500)
    assert n_iter < 500 and first.n_iter_ == n_iter and first.loss_iterations_[-1] == n_iter
    second = PLCA(V.shape, 3, seed=4)
    second.fit(V, tol=1e-3, max_iter=500)
    assert torch.equal(first.W, second.W) and torch.equal(first.Z, second.Z)
    seen = []
    n_iter, _ = PLCA(V.shape, 3).fit(V, max_iter=50, callback=lambda m, i, loss: seen.append(i) or i < 7)
    assert n_iter == 7 and seen == list(range(1, 8))


def test_zeros_in_V_and_float32():
    V = torch.rand(20, 30) * (torch.rand(20, 30) < 0.3)
    model = PLCA(V.shape, 4, seed=0)
    model.fit(V, max_iter=50, H_alpha=0.9)
    assert model.W.dtype == torch.float32
    assert all(bool(torch.isfinite(p).all()) for p in (model.W, model.H, model.Z))
    assert all(v == v for v in model.loss_curve_)


# -- bad input ----------------------------------------------------------------------------

@pytest.mark.parametrize("bad, message", [
    (-torch.ones(6, 5), "negative"),
    (torch.full((6, 5), float("nan")), "NaN"),
    (torch.zeros(6, 5), "sums to zero"),
    (torch.rand(5, 6), "shape"),
    (torch.rand(6, 5, 1), "shape"),
])
def test_bad_V(bad, message):
    with pytest.raises(ValueError, match=message):
        PLCA((6, 5), 2).fit(bad)


def test_bad_priors_factors_and_shapes():
    V = torch.rand(6, 5)
    model = PLCA(V.shape, 2)
    for alpha, error in [(0, ValueError), (-1, ValueError), (float("nan"), ValueError), ("a", TypeError),
                         (torch.ones(3), ValueError), (torch.tensor([[0.5, -1.0]]), ValueError)]:
        with pytest.raises(error, match="H_alpha"):
            model.fit(V, H_alpha=alpha)
    with pytest.raises(ValueError, match="sums to zero"):
        PLCA(W=torch.tensor([[1.0, 0.0], [2.0, 0.0]]))
    with pytest.raises(ValueError, match="Z has 3 entries but rank is 2"):
        PLCA(V.shape, 2, Z=torch.ones(3))
    with pytest.raises(ValueError, match="1-D"):
        PLCA(V.shape, 2, Z=torch.ones(2, 1))
    with pytest.raises(ValueError, match="negative"):
        PLCA(V.shape, 2, Z=torch.tensor([1.0, -1.0]))
    assert SIPLCA((1, 5, 9), T=3).rank == 5  # torchnmf's default rank: the channels
    with pytest.raises(ValueError, match="3-D Vshape"):
        SIPLCA((5, 9), 2, T=3)
    with pytest.raises(ValueError, match="kernel size"):
        SIPLCA2((1, 1, 4, 9), 2, kernel_size=5)
    with pytest.raises(ValueError, match="3 axes"):
        SIPLCA(W=torch.rand(4, 2))
    with pytest.raises(ValueError, match="nothing to fit"):
        PLCA(V.shape, 2, trainable_W=False, trainable_H=False, trainable_Z=False).fit(V)
    with pytest.raises(NotImplementedError, match="H_alpha"):
        model.sparse_fit(V)
    assert PLCA(V.shape, Z=torch.tensor([1.0, 3.0])).Z.tolist() == [0.25, 0.75]
