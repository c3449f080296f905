"""The one fitting engine: the frame-aligned deconvolutions served by the core's closed forms."""

import math

import pytest
import torch

from nmfsep import ParameterError, ParameterTypeError
from nmfsep.nmf import NMF2D, NMFD, BaseComponent
from nmfsep.plca import SIPLCA


def _rand(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


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
    assert model._closed_form()
    for name in ("W", "H"):
        for fast, generic in zip(model._gradient_parts(name, V, beta),
                                 BaseComponent._gradient_parts(model, name, V, beta)):
            torch.testing.assert_close(*torch.broadcast_tensors(fast, generic))
    torch.testing.assert_close(model._loss(V, beta), BaseComponent._loss(model, V, beta))


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_aligned_nmfd_fit_equals_the_autograd_fit(beta):
    # planted factors, some onsets before the first frame; the fast fit follows autograd's
    W, H = _rand(12, 2, 5, seed=8), _rand(2, 2, 34, seed=9) ** 4
    V = NMFD.reconstruct(H, W, aligned=True)
    fast = NMFD(V.shape, 2, T=5, aligned=True, seed=10)
    generic = NMFD(V.shape, 2, T=5, aligned=True, seed=10)
    generic.register_forward_hook(lambda module, inputs, output: None)  # no closed forms
    assert not generic._closed_form()
    for model in (fast, generic):
        model.fit(V, beta=beta, tol=-math.inf, max_iter=300, check_every=50)
    torch.testing.assert_close(fast.W, generic.W, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(fast.H, generic.H, rtol=1e-9, atol=1e-12)
    assert fast.loss_curve_[-1] < 0.05 * fast.loss_curve_[0]
