"""Temporal continuity (Virtanen 2007) as a penalty of the core's multiplicative-update fits.

Known answers: the gradient parts against autograd, smoother activations of planted smooth
data, a non-increasing penalised objective, fixed components bit-exact, ``continuity=0``
bit-identical to a fit without it, the weight's units under the fit's scale normalisation,
and clear errors for what cannot take it.
"""

import math

import pytest
import torch

from nmfsep._core._penalties import continuity_cost, continuity_parts
from nmfsep._core.metrics import beta_div
from nmfsep.nmf import NMF, NMF2D, NMFD


def _cost(H, dim):
    """Virtanen's cost written out: L / E * D per sequence along ``dim``, summed."""
    h = H.movedim(dim, -1)
    energy = (h * h).sum(-1)
    return (h.shape[-1] / energy * (h[..., 1:] - h[..., :-1]).pow(2).sum(-1)).sum()


@pytest.mark.parametrize("shape, dim", [((12, 3), 0), ((2, 3, 12), -1), ((2, 3, 2), -1)])
def test_parts_are_the_gradient_of_the_cost(shape, dim):
    generator = torch.Generator().manual_seed(0)
    H = torch.rand(shape, generator=generator, dtype=torch.float64, requires_grad=True)
    (gradient,) = torch.autograd.grad(_cost(H, dim), H)
    negative, positive = continuity_parts(H.detach(), dim)
    assert bool((negative >= 0).all()) and bool((positive >= 0).all())
    torch.testing.assert_close(positive - negative, gradient, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(continuity_cost(H.detach(), dim).sum(), _cost(H.detach(), dim))


def test_single_frame_and_silent_sequences_have_no_gradient():
    negative, positive = continuity_parts(torch.tensor([[[2.0]]]), -1)  # one frame: no cost
    assert float(positive - negative) == 0.0
    negative, positive = continuity_parts(torch.zeros(1, 2, 5), -1)  # all zero: finite zeros
    assert bool((negative == 0).all()) and bool((positive == 0).all())


def _smooth_data(time_axis_first: bool):
    """Planted smooth activations (slow sines) times random templates, plus noise (float64)."""
    generator = torch.Generator().manual_seed(0)
    t = torch.arange(150, dtype=torch.float64)
    H = torch.stack([1.2 + torch.sin(t / 9 + 2 * k) for k in range(3)], 1)  # (L, R)
    W = torch.rand(40, 3, generator=generator, dtype=torch.float64)
    V = H @ W.t() + 0.3 * torch.rand(150, 40, generator=generator, dtype=torch.float64)
    return V if time_axis_first else V.t()[None]  # NMF (frames, freq), NMFD (1, freq, frames)


def _roughness(model):
    """Mean D / E of the fitted activations (the cost without its length factor)."""
    H = model.H.detach()
    axis = model._time_axis
    return float(continuity_cost(H, axis).mean()) / H.shape[axis]


@pytest.mark.parametrize("model_class", [NMF, NMFD])
def test_continuity_smooths_and_the_objective_does_not_increase(model_class):
    V = _smooth_data(model_class is NMF)
    roughness = {}
    for weight in (0.0, 5.0):
        model = model_class(V.shape, 3, seed=1).double()
        model.fit(V, beta=1, tol=-math.inf, max_iter=150, check_every=1, continuity=weight)
        curve = torch.tensor(model.loss_curve_)
        # penalised objective: KL + weight * cost, evaluated before and after every iteration
        assert bool((curve[1:] <= curve[:-1] * (1 + 1e-12)).all())
        expected = beta_div(model().detach(), V, 1) + weight * continuity_cost(
            model.H.detach(), model._time_axis).sum()
        assert math.isclose(model.loss_curve_[-1], float(expected), rel_tol=1e-12)
        roughness[weight] = _roughness(model)
    assert roughness[5.0] < 0.6 * roughness[0.0]


def test_fixed_components_stay_bit_exact():
    V = _smooth_data(False)
    generator = torch.Generator().manual_seed(3)
    W = torch.rand(40, 3, 1, generator=generator, dtype=torch.float64)
    H = torch.rand(1, 3, 150, generator=generator, dtype=torch.float64)
    model = NMFD(W=W, H=H, fixed_W=[0], fixed_H=[2])
    model.fit(V, beta=1, max_iter=30, continuity=[1.0, 2.0, 3.0])
    assert torch.equal(model.W.detach()[:, 0], W[:, 0])
    assert torch.equal(model.H.detach()[:, 2], H[:, 2])
    assert not torch.equal(model.H.detach()[:, 0], H[:, 0])


def test_zero_continuity_is_the_fit_without_it():
    V = _smooth_data(True).float()
    fits = []
    for options in ({}, dict(continuity=0.0), dict(continuity=[0, 0, 0])):
        model = NMF(V.shape, 3, seed=4)
        model.fit(V, beta=1, max_iter=40, **options)
        fits.append((model.W.detach(), model.H.detach(), model.loss_curve_))
    for W, H, curve in fits[1:]:
        assert torch.equal(W, fits[0][0]) and torch.equal(H, fits[0][1]) and curve == fits[0][2]


def test_zero_weighted_components_follow_the_data_alone():
    # a weight of 0 adds nothing to a component's update: with one component only, and its
    # weight 0, the fit is the unpenalised one bit for bit
    V = _smooth_data(True)
    plain, weighted = NMF(V.shape, 1, seed=5).double(), NMF(V.shape, 1, seed=5).double()
    plain.fit(V, max_iter=20)
    weighted.fit(V, max_iter=20, continuity=[0.0])
    assert torch.equal(plain.H, weighted.H)


def test_weight_is_in_the_units_of_the_loss():
    # KL scales with the data and the cost does not: s V with weight s gives s times the
    # model, also where the fit normalises V (4**10 lies outside its safe band)
    V = _smooth_data(True)
    models = []
    for scale in (1.0, 4.0 ** 10):
        model = NMF(V.shape, 3, seed=6).double()
        model.fit(V * scale, beta=1, tol=-math.inf, max_iter=50, continuity=2.0 * scale)
        models.append(model().detach() / scale)
    torch.testing.assert_close(models[1], models[0], rtol=1e-6, atol=1e-9)


def test_auto_solver_takes_continuity():
    V = _smooth_data(True)
    model = NMF(V.shape, 3, seed=7).double()
    model.fit(V, beta=2, solver="auto", tol=-math.inf, max_iter=30, continuity=1.0)
    assert model.loss_curve_[-1] < model.loss_curve_[0]


@pytest.mark.parametrize("weight, error, match", [
    (-1.0, ValueError, "non-negative"),
    (float("nan"), ValueError, "non-negative"),
    (math.inf, ValueError, "non-negative"),
    ([1.0, 2.0], ValueError, "one per component"),
    (True, TypeError, "a number"),
    ("smooth", TypeError, "a number"),
])
def test_bad_weights_are_refused(weight, error, match):
    V = _smooth_data(True)
    with pytest.raises(error, match=match):
        NMF(V.shape, 3).fit(V, max_iter=2, continuity=weight)


def test_what_cannot_take_continuity_says_so():
    V = _smooth_data(True)
    for solver in ("hals", "anls", "pgd"):
        with pytest.raises(ValueError, match="solver='mu'"):
            NMF(V.shape, 3).fit(V, beta=2, solver=solver, max_iter=2, continuity=1.0)
    with pytest.raises(ValueError, match="continuity=0"):
        NMF2D((1, 1, 8, 8), 2, kernel_size=2).fit(torch.rand(1, 1, 8, 8), continuity=1.0)
    with pytest.raises(ValueError, match="trainable_H=False"):
        NMF(V.shape, 3, trainable_H=False).fit(V, max_iter=2, continuity=1.0)
    with pytest.raises(ValueError, match="whole activations"):
        NMF(V.shape, 3).fit([V[:75], V[75:]], max_iter=2, continuity=1.0)
