"""NMF-family core: planted factors, monotone updates, fixed components, fast paths, bad input."""

import gc
import math
import subprocess
import sys
import weakref

import pytest
import torch
import torch.nn as nn

from nmfsep._core.nmf import BaseComponent
from nmfsep.metrics import beta_div
from nmfsep.nmf import NMF, NMF2D, NMF3D, NMFD
from nmfsep.trainer import BetaMu, fixed_mask_of

from conftest import relative_error

F64 = torch.float64


def planted_nmf(seed, N=60, C=40, R=4, density=0.3):
    g = torch.Generator().manual_seed(seed)
    W = torch.rand(C, R, generator=g, dtype=F64) * (torch.rand(C, R, generator=g, dtype=F64) < 0.5)
    H = torch.rand(N, R, generator=g, dtype=F64) * (torch.rand(N, R, generator=g, dtype=F64) < density)
    return W, H


def planted_nmfd(seed, C=24, R=3, T=3, L=120, density=0.3):
    # each component lives in its own band of channels, so the planted factors are identifiable
    g = torch.Generator().manual_seed(seed)
    band = torch.arange(C) // (C // R)
    W = torch.rand(C, R, T, generator=g, dtype=F64) * (band.view(C, 1, 1) == torch.arange(R).view(1, R, 1))
    H = torch.rand(1, R, L - T + 1, generator=g, dtype=F64)
    H = H * (torch.rand(1, R, L - T + 1, generator=g, dtype=F64) < density)
    return W, H


@pytest.mark.parametrize("beta", [2, 1])
def test_nmf_recovers_planted_factors(beta):
    W, H = planted_nmf(0)
    V = H @ W.t()
    model = NMF(V.shape, 4, seed=1)
    model.fit(V, beta=beta, tol=0, max_iter=2000)
    assert relative_error(model(), V) < 1e-3
    # the templates themselves: each planted column matches a learned one up to scale
    learned = model.W.detach() / model.W.detach().norm(dim=0)
    planted = W / W.norm(dim=0)
    assert (planted.t() @ learned).max(1).values.min() > 0.999


@pytest.mark.parametrize("beta, max_iter", [(2, 4000), (1, 1500)])
def test_nmfd_recovers_planted_factors(beta, max_iter):
    W, H = planted_nmfd(1)
    V = NMFD.reconstruct(H, W)
    model = NMFD(V.shape, 3, T=3, seed=1)
    model.fit(V, beta=beta, tol=0, max_iter=max_iter)
    assert relative_error(model(), V) < 1e-3


@pytest.mark.parametrize("model_cls, shape, kwargs", [
    (NMF, (30, 20), {}),
    (NMFD, (2, 20, 30), {"T": 4}),
    (NMF2D, (1, 2, 12, 14), {"kernel_size": (3, 2)}),
])
@pytest.mark.parametrize("beta", [0, 0.5, 1, 1.5, 2, 3])
def test_loss_never_increases(model_cls, shape, kwargs, beta):
    V = torch.rand(shape, dtype=F64) + 0.05
    model = model_cls(shape, 3, seed=0, **kwargs)
    model.fit(V, beta=beta, tol=0, max_iter=40, check_every=1)
    curve = torch.tensor(model.loss_curve_)
    assert len(curve) == 41
    assert bool((curve[1:] <= curve[:-1] * (1 + 1e-12)).all()), curve
    assert curve[-1] < curve[0]


@pytest.mark.parametrize("model_cls, shape, kwargs", [
    (NMF, (40, 30), {}),
    (NMFD, (2, 30, 40), {"T": 5}),
    (NMF2D, (1, 3, 12, 14), {"kernel_size": 3}),
    (NMF3D, (1, 2, 8, 8, 6), {"kernel_size": (2, 3, 2)}),
])
@pytest.mark.parametrize("alpha, l1_ratio", [(0, 0), (0.5, 0.3)])
def test_fixed_components_stay_bit_exact(model_cls, shape, kwargs, alpha, l1_ratio):
    V = torch.rand(shape)
    template = model_cls(shape, 5, seed=3, **kwargs)
    W0 = template.W.detach().clone()
    H0 = template.H.detach().clone()
    # three given templates held fixed, two free; activation row 1 held fixed
    model = model_cls(shape, 5, W=W0[:, :3], H=H0, fixed_W=[True, True, True, False, False],
                      fixed_H=[1], seed=4, **kwargs)
    model.fit(V, beta=1, tol=0, max_iter=15, alpha=alpha, l1_ratio=l1_ratio)
    assert torch.equal(model.W[:, :3], W0[:, :3])
    assert torch.equal(model.H[:, 1], H0[:, 1])
    assert not torch.equal(model.W[:, 3:], template.W[:, 3:])
    assert not torch.equal(model.H[:, 0], H0[:, 0])


def test_fixed_components_through_betamu_and_sparse_fit():
    V = torch.rand(30, 20)
    model = NMF(V.shape, 4, fixed_W=[0, 2], seed=0)
    W0 = model.W.detach().clone()
    trainer = BetaMu(model.parameters(), beta=2, l1_reg=0.1)

    def closure():
        trainer.zero_grad()
        return V, model()

    for _ in range(5):
        trainer.step(closure)
    model.sparse_fit(V, max_iter=5, sH=0.5)
    assert torch.equal(model.W[:, [0, 2]], W0[:, [0, 2]])
    assert not torch.equal(model.W[:, 1], W0[:, 1])


def test_trainers_find_fixed_masks_without_state_on_the_tensors():
    model = NMF((30, 20), 4, fixed_W=[0, 2], seed=0)
    model()  # the forward pass registers the factors for the trainers
    assert fixed_mask_of(model.W).flatten().tolist() == [True, False, True, False]
    assert fixed_mask_of(model.H) is None and fixed_mask_of(torch.rand(3)) is None
    assert not [name for name in vars(model.W) if "nmfsep" in name]
    replaced = model.W
    model.W = torch.nn.Parameter(model.W.detach().clone())
    model()
    assert fixed_mask_of(replaced) is None  # no longer the module's factor
    assert fixed_mask_of(model.W).flatten().tolist() == [True, False, True, False]
    old = weakref.ref(model.H)
    del model
    gc.collect()
    assert old() is None  # the registry keeps no factor alive


@pytest.mark.parametrize("beta", [0, 0.5, 1, 2, 3])
def test_gradient_parts_match_autograd_gradient(beta):
    V = torch.rand(2, 15, 25, dtype=F64) + 0.1
    model = NMFD(V.shape, 3, T=4, seed=0).double()
    for name in ("W", "H"):
        negative, positive = model.gradient_parts(name, V, beta)
        param = getattr(model, name)
        loss = beta_div(model(), V, beta)
        (grad,) = torch.autograd.grad(loss, param)
        torch.testing.assert_close(positive.expand_as(grad) - negative, grad, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("model_cls, shape, kwargs", [(NMF, (20, 30), {}), (NMFD, (2, 20, 40), {"T": 5})])
@pytest.mark.parametrize("beta", [0, 0.5, 1, 2, 3])
def test_closed_form_matches_generic_autograd_path(model_cls, shape, kwargs, beta):
    V = torch.rand(shape, dtype=F64)
    model = model_cls(shape, 3, seed=0, **kwargs).double()
    for name in ("W", "H"):
        fast = model.gradient_parts(name, V, beta)
        generic = BaseComponent.gradient_parts(model, name, V, beta)
        for a, b in zip(fast, generic):
            torch.testing.assert_close(a.expand_as(b), b, rtol=1e-10, atol=1e-12)
    # and a whole fit: closed form vs the autograd trainer give the same factors
    twin = model_cls(shape, 3, seed=0, **kwargs)
    twin.to(F64)
    model.fit(V, beta=beta, tol=0, max_iter=10)
    trainer = BetaMu(twin.parameters(), beta=beta)
    for _ in range(10):
        trainer.step(lambda: (V, twin()))
    torch.testing.assert_close(model.W, twin.W, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(model.H, twin.H, rtol=1e-9, atol=1e-12)


def test_sparse_coo_target_matches_dense():
    V = torch.rand(40, 30) * (torch.rand(40, 30) < 0.2)
    for beta in (2, 1, 0.5):
        dense = NMF(V.shape, 3, seed=0)
        sparse = NMF(V.shape, 3, seed=0)
        dense.fit(V, beta=beta, tol=0, max_iter=20)
        sparse.fit(V.to_sparse(), beta=beta, tol=0, max_iter=20)
        torch.testing.assert_close(sparse.W, dense.W, rtol=1e-3, atol=1e-5)
        torch.testing.assert_close(torch.tensor(sparse.loss_curve_), torch.tensor(dense.loss_curve_),
                                   rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("scale", [1.0, 1e12])  # in the safe band; rescaled by the fit
def test_sparse_fit_gives_the_user_no_torch_warning(scale):
    # torch warns once per process about sparse invariant checks: a fresh process per case
    # shows whether nmfsep's first sparse tensor (the rescaled V, or the ratio V / model) sets it off
    script = f"""
import warnings, torch
from nmfsep._core._scaling import scale_exponent
from nmfsep.nmf import NMF
V = torch.rand(40, 30) * (torch.rand(40, 30) < 0.2) * {scale!r}
assert (scale_exponent(float(V.max())) != 0) == ({scale!r} > 1)
sparse = V.to_sparse()  # to_sparse does not set it off
warnings.simplefilter("error")
NMF(V.shape, 3, seed=0).fit(sparse, beta=1, tol=0, max_iter=3)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_dtype_device_and_batch_follow_V():
    V = torch.rand(3, 10, 25, dtype=F64)
    model = NMFD(V.shape, 2, T=3)
    model.fit(V, max_iter=5)
    assert model.W.dtype == F64 and model().shape == V.shape
    # a batch of 3 shares templates; its activations are per item
    assert model.H.shape == (3, 2, 23)


def test_reproducible_from_seed():
    V = torch.rand(20, 30)
    a, b = NMF(V.shape, 3, seed=7), NMF(V.shape, 3, seed=7)
    a.fit(V, max_iter=20)
    b.fit(V, max_iter=20)
    assert torch.equal(a.W, b.W) and torch.equal(a.H, b.H)


@pytest.mark.parametrize("beta", [0, 0.5, 1])
def test_zeros_in_V_never_give_nan(beta):
    V = torch.rand(20, 30)
    V[:, :5] = 0
    V[3] = 0
    model = NMF(V.shape, 3, seed=0)
    model.fit(V, beta=beta, tol=0, max_iter=30)
    assert torch.isfinite(model.W).all() and torch.isfinite(model.H).all()
    assert all(math.isfinite(x) for x in model.loss_curve_)


def test_stopping_rule_and_history():
    W, H = planted_nmf(2)
    V = H @ W.t()
    model = NMF(V.shape, 4, seed=0)
    n_iter = model.fit(V, beta=1, tol=1e-3, max_iter=500)
    assert n_iter < 500 and n_iter == model.n_iter_ and n_iter % 10 == 0
    assert model.loss_iterations_[0] == 0 and model.loss_iterations_[-1] == n_iter
    last, before = model.loss_curve_[-1], model.loss_curve_[-2]
    assert (before - last) / model.loss_curve_[0] < 1e-3


def test_callback_can_stop_and_sees_every_iteration():
    seen = []
    model = NMF((10, 12), 2)
    model.fit(torch.rand(10, 12), max_iter=50, callback=lambda m, i, loss: seen.append(i) or i < 7)
    assert seen == list(range(1, 8))


def test_verbose_progress_bar_shows_loss(capsys):
    NMF((10, 12), 2).fit(torch.rand(10, 12), max_iter=20, verbose=True)
    assert "loss=" in capsys.readouterr().err


def test_sparse_fit_reaches_target_sparseness():
    from nmfsep.metrics import sparseness
    V = torch.rand(40, 30)
    model = NMF(V.shape, 4, seed=0)
    model.sparse_fit(V, max_iter=20, sH=0.7)
    for r in range(4):
        assert abs(float(sparseness(model.H.detach()[:, r])) - 0.7) < 1e-3


# -- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("bad, message", [
    (float("nan"), "NaN or Inf"),
    (float("inf"), "NaN or Inf"),
    (-1.0, "negative"),
])
def test_bad_values_in_V(bad, message):
    V = torch.rand(10, 12)
    V[2, 3] = bad
    with pytest.raises(ValueError, match=message):
        NMF(V.shape, 2).fit(V)


def test_bad_shapes_rank_beta_and_templates():
    with pytest.raises(ValueError, match="reconstructs"):
        NMF((10, 12), 2).fit(torch.rand(12, 10))
    with pytest.raises(ValueError, match="empty"):
        NMF((10, 12), 2).fit(torch.rand(0, 12))
    with pytest.raises(ValueError, match="at least 1"):
        NMF((10, 12), 0)
    with pytest.raises(TypeError, match="positive integer"):
        NMF((10, 12), 2.5)
    with pytest.raises(ValueError, match="finite"):
        NMF((10, 12), 2).fit(torch.rand(10, 12), beta=float("nan"))
    with pytest.raises(ValueError, match="Vshape"):
        NMFD((1, 20, 30), 3, T=4, W=torch.rand(19, 3, 4))
    with pytest.raises(ValueError, match="one boolean per component"):
        NMF((10, 12), 3, fixed_W=[True, False])
    with pytest.raises(ValueError, match="larger than"):
        NMFD((1, 20, 5), 2, T=8)
    with pytest.raises(ValueError, match="negative"):
        NMF((10, 12), 2, W=-torch.rand(12, 2))
    with pytest.raises(ValueError, match="both W and H are held fixed"):
        NMF((4, 5), 2, trainable_W=False, W=torch.rand(5, 2), H=torch.rand(4, 2),
            trainable_H=False).fit(torch.rand(4, 5))


# -- the seed documents' examples, with torchnmf replaced by nmfsep -------------------------

def test_seed_example_basic_nmf():
    V = torch.rand(64, 1024)
    model = NMF(V.t().shape, rank=10)
    assert model.W.size() == (64, 10) and model.H.size() == (1024, 10)
    model.fit(V.t())
    WH = model.W @ model.H.t()
    torch.testing.assert_close(WH, model().t())


def test_seed_example_chain_and_sequential_with_betamu():
    class Chain(nn.Module):
        def __init__(self):
            super().__init__()
            self.nmf1 = NMF((1024, 10), rank=4)
            self.nmf2 = NMF(W=(24, 10))
            self.nmf3 = NMF(W=(64, 24))

        def forward(self):
            WH = self.nmf1()
            WWH = self.nmf2(H=WH)
            WWWH = self.nmf3(H=WWH)
            return WWWH

    assert Chain()().shape == (1024, 64)
    V = torch.rand(64, 1024)
    model = nn.Sequential(NMF((1024, 10), rank=4), NMF(W=(24, 10)), NMF(W=(64, 24)))
    trainer = BetaMu(model.parameters())
    before = float(beta_div(model(None), V.t(), 1))
    for _ in range(20):
        def closure():
            trainer.zero_grad()
            return V.t(), model(None)
        trainer.step(closure)
    after = float(beta_div(model(None), V.t(), 1))
    assert after < 0.5 * before
    assert all(bool((p >= 0).all()) for p in model.parameters())


# -- transform: activations for new data ------------------------------------------------------

def test_transform_recovers_activations_with_fixed_templates():
    W, H = planted_nmf(3)
    model = NMF(W=W, H=(60, 4))
    g = torch.Generator().manual_seed(5)
    H_new = torch.rand(25, 4, generator=g, dtype=F64)
    H_est = model.transform(H_new @ W.t(), beta=2, tol=0, max_iter=3000)
    assert H_est.shape == (25, 4)
    assert relative_error(H_est @ W.t(), H_new @ W.t()) < 1e-3
    assert torch.equal(model.W, W.to(model.W.dtype)) and model.H.shape == (60, 4)


def test_transform_batch_equals_one_at_a_time_for_nmfd():
    model = NMFD((1, 20, 40), 3, T=4, seed=0)
    V = torch.rand(3, 20, 40, dtype=F64)
    batch = model.transform(V, beta=1, tol=0, max_iter=30, warm_start=False)
    single = torch.cat([model.transform(V[i:i + 1], beta=1, tol=0, max_iter=30, warm_start=False) for i in range(3)])
    assert batch.shape == (3, 3, 37)
    torch.testing.assert_close(batch, single)
    with pytest.raises(ValueError, match="for these templates"):
        model.transform(torch.rand(1, 19, 40))
