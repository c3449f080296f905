"""The constrainedmf face: its documentation's example and its own tests run with the import
changed; planted factors, fixed rows bit-exact, the update hooks against their closed forms."""

import numpy as np
import pytest
import torch

import nmfsep.compat.constrainedmf as cmf
from nmfsep.compat.constrainedmf.nmf.metrics import Beta_divergence
from nmfsep.compat.constrainedmf.nmf.models import NMF, NMFBase

from conftest import relative_error


def test_documentation_example_runs_as_written():
    # constrainedmf's "Using Native Constrained NMF", with the import changed; the document leaves
    # the learning curve line blank ("loss = # Learning curve ...") and passes no n_components
    X = torch.rand(30, 100)
    x_0 = torch.zeros(1, 100)
    x_1 = torch.ones(1, 100)

    model = cmf.nmf.models.NMF(X.shape,
                               initial_components=[x_0, x_1],
                               fix_components=[True, True, False])
    loss = model.fit(X)
    learned_weights, learned_components = model.W.detach().numpy(), model.H.detach().numpy()

    assert learned_weights.shape == (30, 3) and learned_components.shape == (3, 100)
    assert np.array_equal(learned_components[0], np.zeros(100))
    assert np.array_equal(learned_components[1], np.ones(100))
    curve = np.array(loss)
    assert 1 <= len(curve) <= 200 and np.all(np.diff(curve) <= 1e-7 * curve[0])
    assert curve[-1] < curve[0]
    # the curve is the KL divergence (fit's default beta=1) per entry of X
    assert curve[-1] == pytest.approx(float(model.loss(X, beta=1)) / X.numel(), rel=1e-5)


@pytest.fixture
def linearly_mixed_gaussians():
    """constrainedmf's test fixture: 21 blends of two Gaussians, X (21, 1000)."""
    x = np.linspace(-10, 10, 1000)
    y1, y2 = (np.exp(-np.power(x - mu, 2.0) / 2) for mu in (1.2, -1.2))
    weights = np.array(list(zip(*[(a, 1 - a) for a in np.linspace(0, 1, 21)])))  # (2, 21)
    ys = np.matmul(weights.T, np.array([y1, y2]))
    return (torch.tensor(ys, dtype=torch.float), torch.tensor(weights, dtype=torch.float),
            torch.tensor(np.stack([y1, y2], axis=0), dtype=torch.float))


def test_constrainedmf_own_tests(linearly_mixed_gaussians):
    xs, weights, components = linearly_mixed_gaussians
    # test_standard_nmf
    nmf = NMF(xs.shape, n_components=2)
    nmf.fit(xs.clone(), beta=1, max_iter=500)
    assert nmf.loss(xs, beta=1) < 1
    assert nmf.loss(xs, beta=2) < 0.1
    nmf = NMF(xs.shape, n_components=2)
    nmf.fit(xs.clone(), beta=2, max_iter=500)
    assert nmf.loss(xs, beta=1) < 10
    assert nmf.loss(xs, beta=2) < 0.1
    # test_constrained_weights
    initial_weights = [w[None, :] for w in weights.T]
    nmf = NMF(xs.shape, n_components=2, initial_weights=initial_weights,
              fix_weights=[True for _ in range(len(initial_weights))])
    nmf.fit(xs)
    assert torch.all(torch.eq(weights.T, nmf.W))
    # test_constrained_components
    initial_components = [component[None, :] for component in components]
    nmf = NMF(xs.shape, n_components=2, initial_components=initial_components,
              fix_components=[True for _ in range(len(initial_components))])
    nmf.fit(xs)
    assert torch.all(torch.eq(components, nmf.H))


def planted(m=40, n=60, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    W = torch.rand(m, k, generator=g, dtype=torch.float64) + 0.1
    H = torch.rand(k, n, generator=g, dtype=torch.float64) * (torch.rand(k, n, generator=g) < 0.5)
    return W, H


@pytest.mark.parametrize("beta", [1, 2])
def test_fixed_components_give_the_planted_weights(beta):
    W, H = planted()
    X = W @ H
    model = NMF(X.shape, 3, initial_components=[h[None] for h in H], fix_components=[True] * 3)
    model.fit(X, beta=beta, tol=0, max_iter=600)
    assert torch.equal(model.H, H)
    assert relative_error(model.W, W) < 1e-6  # measured 5e-16 (beta=1), 3e-8 (beta=2)


@pytest.mark.parametrize("alpha, l1_ratio", [(0, 0), (0.1, 0.5)])
def test_fixed_weights_and_components_stay_bit_exact(alpha, l1_ratio):
    W, H = planted()
    X = W @ H
    fixed_examples = [True] * 8 + [False, True]  # rows 0-7 and 9 of W
    model = NMF(X.shape, 3, initial_components=[H[:1]], fix_components=[True],
                initial_weights=[w[None] for w in W[:10]], fix_weights=fixed_examples)
    W0, H0 = model.W.detach().clone(), model.H.detach().clone()
    curve = model.fit(X, beta=2, tol=0, max_iter=300, alpha=alpha, l1_ratio=l1_ratio)
    fixed_rows = torch.tensor(fixed_examples + [False] * 30)
    assert torch.equal(model.W[fixed_rows], W[fixed_rows]) and torch.equal(model.H[0], H[0])
    assert not torch.equal(model.W[~fixed_rows], W0[~fixed_rows])
    assert not torch.equal(model.H[1:], H0[1:])
    if alpha == 0:  # the planted factors fit the fixed parts: an exact fit exists, and is found
        assert len(curve) == 300 and relative_error(model(), X) < 2e-2  # measured 6.7e-3


def test_update_switches_leave_a_factor_alone():
    X = torch.rand(20, 30)
    model = NMF(X.shape, 4)
    W0, H0 = model.W.detach().clone(), model.H.detach().clone()
    model.fit(X, update_W=False, max_iter=20)
    assert torch.equal(model.W, W0) and not torch.equal(model.H, H0)
    assert model.W.requires_grad  # the switch lasts one fit
    H1 = model.H.detach().clone()
    assert torch.equal(model.fit_transform(X, update_H=False, max_iter=20), model.W.detach())
    assert torch.equal(model.H, H1) and not torch.equal(model.W, W0)


@pytest.mark.parametrize("beta", [2, 1, 0.5])
def test_positive_parts_are_the_multiplicative_update_denominators(beta):
    model = NMF((20, 30), 4)
    W, H = model.W.detach(), model.H.detach()
    WH = model.reconstruct(H, W)
    W_pos, H_sum = model.get_W_positive(WH, beta, None)
    H_pos, W_sum = model.get_H_positive(WH, beta, None)
    weight = torch.ones_like(WH) if beta == 1 else WH ** (beta - 1)
    torch.testing.assert_close(W_pos.expand_as(W), weight @ H.t(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(H_pos.expand_as(H), W.t() @ weight, rtol=1e-5, atol=1e-6)
    assert H_sum is None and W_sum is None


def test_reconstruct_loss_and_metrics_follow_constrainedmf():
    X = torch.rand(20, 30) + 0.1
    model = NMF(X.shape, 4)
    W, H = model.W.detach(), model.H.detach()
    torch.testing.assert_close(model.reconstruct(H, W), W @ H)
    torch.testing.assert_close(model(), W @ H)
    WH = W @ H
    # constrainedmf's own formulas
    expected = {2: ((WH - X) ** 2).sum() / 2, 1: (X * (X / WH).log()).sum() - X.sum() + WH.sum(),
                1.5: (X.pow(1.5).sum() + 0.5 * WH.pow(1.5).sum() - 1.5 * (X * WH.pow(0.5)).sum()) / 0.75}
    for beta, value in expected.items():
        torch.testing.assert_close(model.loss(X, beta=beta), value, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(Beta_divergence(WH, X, beta), value, rtol=1e-4, atol=1e-4)


def test_a_subclass_with_its_own_reconstruct_is_fitted_through_autograd():
    class Product(NMFBase):  # NMF spelled as a new model: fitted by the core's autograd path
        def __init__(self, X_shape, n_components, **kwargs):
            super().__init__((X_shape[0], n_components), (n_components, X_shape[1]), n_components,
                             **kwargs)

        def reconstruct(self, H, W):
            return W @ H

    X = torch.rand(20, 30, dtype=torch.float64)
    torch.manual_seed(1)
    generic = Product(X.shape, 4, initial_components=[torch.ones(1, 30)], fix_components=[True])
    torch.manual_seed(1)
    closed_form = NMF(X.shape, 4, initial_components=[torch.ones(1, 30)], fix_components=[True])
    curves = [m.fit(X, beta=1, tol=0, max_iter=50) for m in (generic, closed_form)]
    np.testing.assert_allclose(curves[0], curves[1], rtol=1e-6)
    torch.testing.assert_close(generic.W, closed_form.W, rtol=1e-6, atol=1e-9)
    assert torch.equal(generic.H[0], torch.ones(30, dtype=torch.float64))
    with pytest.raises(NotImplementedError, match="must define reconstruct"):
        NMFBase((20, 4), (4, 30), 4).fit(X)


def test_constrainedmf_nmfd_subclass_runs_on_the_core():
    # constrainedmf's own NMFD, as it defines it on NMFBase (3-D weights, convolutive model)
    class NMFD(NMFBase):
        def __init__(self, X_shape, n_components, T=1, **kwargs):
            self.m_examples, self.n_features = X_shape
            self.pad_size = T - 1
            super().__init__((self.m_examples, n_components, T),
                             (n_components, self.n_features - T + 1), n_components, **kwargs)

        def reconstruct(self, H, W):
            return torch.nn.functional.conv1d(H[None, :], W.flip(2), padding=self.pad_size)[0]

    g = torch.Generator().manual_seed(0)
    W = torch.rand(12, 3, 4, generator=g, dtype=torch.float64)  # (m_examples, k, T)
    H = torch.rand(3, 47, generator=g, dtype=torch.float64) * (torch.rand(3, 47, generator=g) < 0.2)
    X = torch.nn.functional.conv1d(H[None], W.flip(2), padding=3)[0]  # (12, 50)
    # the weights (float64) given and fixed, the components (drawn in float32) learned
    model = NMFD(X.shape, 3, T=4, initial_weights=[w[None] for w in W], fix_weights=[True] * 12)
    curve = model.fit(X, beta=1, tol=0, max_iter=300)
    assert torch.equal(model.W, W)
    assert curve[-1] < 1e-3 * curve[0] and relative_error(model.H, H) < 0.07  # measured 0.024


def test_invalid_constraints_are_errors():
    with pytest.raises(TypeError, match="give n_components"):
        NMF((10, 20))
    with pytest.raises(ValueError, match="initial_components has 3 rows but the factor has 2"):
        NMF((10, 20), 2, initial_components=[torch.rand(1, 20)] * 3)
    with pytest.raises(ValueError, match=r"initial_components\[0\] must have shape \(1, 20\)"):
        NMF((10, 20), 2, initial_components=[torch.rand(1, 19)])
    with pytest.raises(ValueError, match="fix_weights has 11 entries"):
        NMF((10, 20), 2, fix_weights=[True] * 11)
    with pytest.raises(ValueError, match="negative"):
        NMF((10, 20), 2, initial_components=[-torch.ones(1, 20)])
    with pytest.raises(ValueError, match="negative"):
        NMF((10, 20), 2).fit(-torch.ones(10, 20))
    with pytest.warns(UserWarning, match="ignores"):
        NMF((10, 20), 2, unknown=1)


def test_docstring_examples():
    import doctest

    from nmfsep.compat.constrainedmf.nmf import models

    result = doctest.testmod(models)
    assert result.attempted > 0 and result.failed == 0
