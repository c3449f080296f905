"""BatchNMF: each item equals its own NMF, planted factors, monotone loss, transform, bad input."""

import numpy as np
import pytest
import torch
from scipy.optimize import nnls

from nmfsep.metrics import beta_div
from nmfsep.nmf import NMF, BatchNMF

from conftest import relative_error

F64 = torch.float64
B, N, C, R = 3, 20, 15, 3


def batch(seed=0, items=B, N=N, C=C, R=R):
    g = torch.Generator().manual_seed(seed)
    V = torch.rand(items, N, C, generator=g, dtype=F64)
    W0 = torch.rand(items, C, R, generator=g, dtype=F64)
    H0 = torch.rand(items, N, R, generator=g, dtype=F64)
    return V, W0, H0


def max_relative_difference(a, b):
    return float((a.detach() - b.detach()).abs().max() / b.detach().abs().max())


@pytest.mark.parametrize("beta", [2, 1, 0, 0.5, 3])
@pytest.mark.parametrize("options", [
    {},
    {"fixed_W": [True, False, False], "fixed_H": [2], "alpha": 0.1, "l1_ratio": 0.5},
    {"trainable_W": False, "alpha": 0.05},
])
def test_each_item_equals_its_own_nmf(beta, options):
    V, W0, H0 = batch()
    fit_kwargs = {k: options[k] for k in ("alpha", "l1_ratio") if k in options}
    model_kwargs = {k: v for k, v in options.items() if k not in fit_kwargs}
    model = BatchNMF(W=W0, H=H0, **model_kwargs)
    assert model.fit(V, beta=beta, tol=0, max_iter=40, check_every=10, **fit_kwargs) == 40
    curves = []
    for b in range(B):
        single = NMF(W=W0[b], H=H0[b], **model_kwargs)
        single.fit(V[b], beta=beta, tol=0, max_iter=40, check_every=10, **fit_kwargs)
        assert max_relative_difference(model.W[b], single.W) < 1e-9
        assert max_relative_difference(model.H[b], single.H) < 1e-9
        curves.append(single.loss_curve_)
    # the loss is the items' losses summed
    np.testing.assert_allclose(model.loss_curve_, np.sum(curves, axis=0), rtol=1e-9)
    if "fixed_W" in options:  # fixed components stay bit-exact
        assert torch.equal(model.W[:, :, 0], W0[:, :, 0]) and torch.equal(model.H[:, :, 2], H0[:, :, 2])
    if options.get("trainable_W") is False:
        assert torch.equal(model.W, W0)


@pytest.mark.parametrize("beta", [2, 1])
def test_shared_templates_are_one_nmf_of_the_stacked_rows(beta):
    V, W0, H0 = batch(1)
    model = BatchNMF(W=W0[0], H=H0, fixed_H=[True, False, False])
    assert model.shared_W and model().shape == (B, N, C)
    model.fit(V, beta=beta, tol=0, max_iter=40, alpha=0.1)
    single = NMF(W=W0[0], H=H0.reshape(B * N, R), fixed_H=[True, False, False])
    single.fit(V.reshape(B * N, C), beta=beta, tol=0, max_iter=40, alpha=0.1)
    assert max_relative_difference(model.W, single.W) < 1e-9
    assert max_relative_difference(model.H.reshape(B * N, R), single.H) < 1e-9
    np.testing.assert_allclose(model.loss_curve_, single.loss_curve_, rtol=1e-9)


@pytest.mark.parametrize("beta", [2, 1])
def test_planted_factors_recovered_for_every_item(beta):
    g = torch.Generator().manual_seed(0)
    items, N_, C_, R_ = 3, 60, 40, 4
    W = torch.rand(items, C_, R_, generator=g, dtype=F64) * (torch.rand(items, C_, R_, generator=g) < 0.5)
    H = torch.rand(items, N_, R_, generator=g, dtype=F64) * (torch.rand(items, N_, R_, generator=g) < 0.3)
    V = H @ W.transpose(1, 2)
    model = BatchNMF(V.shape, R_, seed=1)
    model.fit(V, beta=beta, tol=0, max_iter=2000)
    for b in range(items):
        assert relative_error(model()[b], V[b]) < 1e-3


@pytest.mark.parametrize("beta", [2, 1, 0, 0.5, 3])
def test_loss_curve_never_increases(beta):
    V, _, _ = batch(2)
    model = BatchNMF(V.shape, R, seed=0)
    model.fit(V, beta=beta, tol=0, max_iter=60, check_every=5, init="random", seed=3)
    curve = np.array(model.loss_curve_)
    assert len(curve) == 13 and curve[-1] < 0.9 * curve[0]
    assert np.all(np.diff(curve) <= 1e-12 * curve[0])
    # and it is the beta-divergence of the fitted model
    assert curve[-1] == pytest.approx(float(beta_div(model().detach(), V, beta)), rel=1e-9)


def test_init_is_each_items_own_init():
    V, W0, H0 = batch(3)
    fixed = {"fixed_W": [1]}
    # nndsvda is deterministic: every item starts as its own NMF would
    model = BatchNMF(W=W0, H=H0, **fixed)
    model.fit(V, beta=1, tol=0, max_iter=20, init="nndsvda")
    for b in range(B):
        single = NMF(W=W0[b], H=H0[b], **fixed)
        single.fit(V[b], beta=1, tol=0, max_iter=20, init="nndsvda")
        assert max_relative_difference(model.W[b], single.W) < 1e-9
    assert torch.equal(model.W[:, :, 1], W0[:, :, 1])
    # random: one generator drawn item after item, so item 0 is NMF's with the same seed
    model = BatchNMF(W=W0, H=H0)
    model.fit(V, beta=2, tol=0, max_iter=20, init="random", seed=7)
    single = NMF(W=W0[0], H=H0[0])
    single.fit(V[0], beta=2, tol=0, max_iter=20, init="random", seed=7)
    assert max_relative_difference(model.W[0], single.W) < 1e-9
    again = BatchNMF(W=W0, H=H0, seed=7)  # the model's seed serves when fit has none
    again.fit(V, beta=2, tol=0, max_iter=20, init="random")
    assert torch.equal(again.W, model.W)


@pytest.mark.parametrize("shared", [False, True])
def test_transform_solves_the_activations_for_fixed_templates(shared):
    g = torch.Generator().manual_seed(4)
    items = 2 if shared else B  # shared templates take any number of items
    W = torch.rand(C, R, generator=g, dtype=F64) if shared else torch.rand(B, C, R, generator=g, dtype=F64)
    V_new = torch.rand(items, 7, C, generator=g, dtype=F64)
    model = BatchNMF(W=W, H=(B, N, R))
    H_before = model.H.detach().clone()
    H = model.transform(V_new, beta=2, tol=0, max_iter=10000)  # MU nears zeros slowly
    assert H.shape == (items, 7, R)
    assert torch.equal(model.W.detach(), W) and torch.equal(model.H.detach(), H_before)
    # beta = 2 with fixed templates is a non-negative least-squares problem per frame
    for b in range(items):
        W_b = (W if shared else W[b]).numpy()
        expected = np.stack([nnls(W_b, v)[0] for v in V_new[b].numpy()])
        np.testing.assert_allclose(H[b].numpy(), expected, atol=1e-6)


def test_generic_autograd_path_agrees_with_the_closed_forms():
    V, W0, H0 = batch(5)
    fast = BatchNMF(W=W0, H=H0)
    fast.fit(V, beta=0.5, tol=0, max_iter=15)
    hooked = BatchNMF(W=W0, H=H0)
    hooked.register_forward_hook(lambda module, inputs, output: None)  # forces the autograd path
    hooked.fit(V, beta=0.5, tol=0, max_iter=15)
    assert max_relative_difference(hooked.W, fast.W) < 1e-9
    np.testing.assert_allclose(hooked.loss_curve_, fast.loss_curve_, rtol=1e-9)


def test_float32_data_moves_the_model():
    V, W0, H0 = batch(6)
    model = BatchNMF(W=W0, H=H0)
    model.fit(V.float(), beta=1, tol=0, max_iter=30)
    reference = BatchNMF(W=W0, H=H0)
    reference.fit(V, beta=1, tol=0, max_iter=30)
    assert model.W.dtype == torch.float32
    assert max_relative_difference(model.W.double(), reference.W) < 1e-4


def test_bad_construction_says_what_to_do():
    with pytest.raises(ValueError, match=r"3-D Vshape \(B, N, C\).*use NMF"):
        BatchNMF((N, C), R)
    with pytest.raises(ValueError, match="rank is required"):
        BatchNMF((B, N, C))
    with pytest.raises(ValueError, match="give rank"):
        BatchNMF()
    with pytest.warns(UserWarning, match="at least as many parameters"):
        BatchNMF((B, 4, 3), rank=3)
    V, W0, H0 = batch()
    completed = BatchNMF(rank=4, W=W0, H=H0)  # missing components are drawn on the last axis
    assert completed.W.shape == (B, C, 4) and torch.equal(completed.W[:, :, :3], W0)
    with pytest.raises(ValueError, match="W has 5 components but rank is 3"):
        BatchNMF(rank=3, W=torch.rand(B, C, 5), H=H0)
    with pytest.raises(ValueError, match=r"reconstruct \(3, 20, 16\), not Vshape \(3, 20, 15\)"):
        BatchNMF((B, N, C), R, W=torch.rand(B, C + 1, R))
    with pytest.raises(ValueError, match="W holds 4 items but H holds 3"):
        BatchNMF(W=torch.rand(B + 1, C, R), H=H0)
    with pytest.raises(ValueError, match=r"W must have shape \(B, C, R\)"):
        BatchNMF(W=torch.rand(B, C, R, 2), H=H0)
    with pytest.raises(ValueError, match=r"H must have shape \(B, N, R\)"):
        BatchNMF(W=W0, H=H0[0])
    with pytest.raises(ValueError, match=r"shared_W=True needs W of shape \(C, R\)"):
        BatchNMF(W=W0, H=H0, shared_W=True)
    with pytest.raises(ValueError, match="fixed_W must have one boolean per component"):
        BatchNMF(W=W0, H=H0, fixed_W=[True, False])


def test_bad_data_and_options_say_what_to_do():
    V, W0, H0 = batch()
    model = BatchNMF(W=W0, H=H0)
    with pytest.raises(ValueError, match=r"V has shape \(20, 15\) but this BatchNMF reconstructs \(3, 20, 15\)"):
        model.fit(V[0])
    with pytest.raises(ValueError, match="negative values"):
        model.fit(V - 0.5)
    bad = V.clone()
    bad[1, 2, 3] = float("nan")
    with pytest.raises(ValueError, match="1 NaN or Inf"):
        model.fit(bad)
    with pytest.raises(ValueError, match=r"solver='mu'.*NMF\(\.\.\.\)\.fit\(V\[b\], solver"):
        model.fit(V, beta=2, solver="hals")
    with pytest.raises(TypeError, match=r"torch\.stack"):
        model.fit(list(V))
    with pytest.raises(ValueError, match="nndsvd needs rank <= min"):
        BatchNMF(W=torch.rand(B, 2, 3, dtype=F64), H=H0).fit(V[:, :, :2], init="nndsvd")
    with pytest.raises(ValueError, match="beta must be finite"):
        model.fit(V, beta=float("inf"), init="random")
    assert torch.equal(model.W.detach(), W0)  # rejected before the init rewrote anything
    with pytest.raises(ValueError, match=r"V must have shape \(3, N, 15\)"):
        model.transform(torch.rand(2, 5, C))
    with pytest.raises(NotImplementedError, match="sparse_fit"):
        model.sparse_fit(V)
