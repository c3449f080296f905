"""Initialisations: NNDSVD against scikit-learn, data-scaled random, fixed components untouched."""

import numpy as np
import pytest
import torch

from nmfsep._core.init import initialise_model_, make_generator, nndsvd, random_init
from nmfsep.nmf import NMF, NMFD

F64 = torch.float64


def low_rank_plus_noise(seed=0, N=60, C=40, R=5, noise=1e-3):
    g = torch.Generator().manual_seed(seed)
    W = torch.rand(C, R, generator=g, dtype=F64)
    H = torch.rand(N, R, generator=g, dtype=F64)
    return H @ W.t() + noise * torch.rand(N, C, generator=g, dtype=F64)


@pytest.mark.parametrize("variant", ["nndsvd", "nndsvda"])
@pytest.mark.parametrize("rank", [1, 3, 5])
def test_nndsvd_matches_scikit_learn(variant, rank):
    sk_nmf = pytest.importorskip("sklearn.decomposition._nmf")
    V = low_rank_plus_noise()
    # scikit-learn: X (n_samples, n_features) ≈ W H; nmfsep: V ≈ H Wᵀ, so H = W_sk and W = H_skᵀ.
    # Its randomised SVD is exact on the well-separated leading singular vectors of this V.
    W_sk, H_sk = sk_nmf._initialize_nmf(V.numpy(), rank, init=variant, random_state=0)
    W, H = nndsvd(V, rank, variant=variant)
    np.testing.assert_allclose(H.numpy(), W_sk, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(W.numpy(), H_sk.T, rtol=1e-9, atol=1e-12)
    if variant == "nndsvd" and rank > 1:
        assert (W == 0).any() and (H == 0).any()
    if variant == "nndsvda":
        assert bool((W > 0).all() and (H > 0).all())


def test_nndsvdar_fills_only_the_zeros_with_small_seeded_values():
    V = low_rank_plus_noise()
    W0, H0 = nndsvd(V, 4)
    W, H = nndsvd(V, 4, variant="nndsvdar", generator=torch.Generator().manual_seed(3))
    W2, H2 = nndsvd(V, 4, variant="nndsvdar", generator=torch.Generator().manual_seed(3))
    assert torch.equal(W, W2) and torch.equal(H, H2)
    for filled, base in ((W, W0), (H, H0)):
        zeros = base == 0
        assert zeros.any()
        assert torch.equal(filled[~zeros], base[~zeros])
        # |N(0, 1)| mean(V) / 100: positive, mean sqrt(2/pi) mean(V) / 100 ~ 0.008 mean(V)
        assert bool((filled[zeros] > 0).all()) and float(filled[zeros].max()) < 0.05 * float(V.mean())


def test_nndsvd_of_sparse_input_matches_dense():
    # exactly rank 5 with zeros: the randomised range finder of sparse V captures the range
    g = torch.Generator().manual_seed(1)
    W = torch.rand(40, 5, generator=g, dtype=F64) * (torch.rand(40, 5, generator=g, dtype=F64) < 0.5)
    H = torch.rand(60, 5, generator=g, dtype=F64) * (torch.rand(60, 5, generator=g, dtype=F64) < 0.5)
    V = H @ W.t()
    assert (V == 0).float().mean() > 0.1
    dense = nndsvd(V, 4)
    sparse = nndsvd(V.to_sparse(), 4, generator=torch.Generator().manual_seed(0))
    for a, b in zip(dense, sparse):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)


def test_random_init_is_scaled_to_the_data_and_seeded():
    V = torch.full((400, 300), 9.0, dtype=F64)
    W, H = random_init(V, 6, generator=torch.Generator().manual_seed(0))
    assert W.shape == (300, 6) and H.shape == (400, 6) and W.dtype == F64
    # entries |N(0, 1)| sqrt(mean / R): the model H Wᵀ averages (2 / pi) mean(V)
    assert abs(float((H @ W.t()).mean()) / (9.0 * 2 / np.pi) - 1) < 0.03
    W2, H2 = random_init(V, 6, generator=torch.Generator().manual_seed(0))
    assert torch.equal(W, W2) and torch.equal(H, H2)
    # NMFD: R T terms per entry
    Wd, Hd = random_init(torch.full((2, 50, 400), 9.0, dtype=F64), 5, kernel_size=(4,),
                         generator=torch.Generator().manual_seed(0))
    assert Wd.shape == (50, 5, 4) and Hd.shape == (2, 5, 397)
    assert abs(float(NMFD.reconstruct(Hd, Wd)[..., 3:-3].mean()) / (9.0 * 2 / np.pi) - 1) < 0.05


def test_fit_init_is_seeded_and_follows_the_data():
    V = low_rank_plus_noise().float()
    a, b = NMF(V.shape, 3), NMF(V.shape, 3)
    a.fit(V, beta=2, init="random", seed=5, max_iter=1)
    b.fit(V, beta=2, init="random", seed=5, max_iter=1)
    assert torch.equal(a.W, b.W) and a.W.dtype == torch.float32
    # the first recorded loss is that of the initial factors
    for method in ("nndsvd", "nndsvda"):
        model = NMF(V.shape, 3)
        model.fit(V, beta=2, init=method, max_iter=1)
        W0, H0 = nndsvd(V, 3, variant=method)
        assert model.loss_curve_[0] == pytest.approx(float(((V - H0 @ W0.t()) ** 2).sum() / 2), rel=1e-5)
        if method == "nndsvd":  # truncated SVD parts: much closer than random
            assert model.loss_curve_[0] < 0.1 * a.loss_curve_[0]


def test_init_leaves_fixed_components_and_frozen_factors_alone():
    V = low_rank_plus_noise()
    model = NMF(V.shape, 4, W=torch.rand(40, 4, dtype=F64), H=torch.rand(60, 4, dtype=F64),
                fixed_W=[1], fixed_H=[0, 2])
    W0, H0 = model.W.detach().clone(), model.H.detach().clone()
    initialise_model_(model, V, "nndsvda")
    Wn, Hn = nndsvd(V, 4, variant="nndsvda")
    assert torch.equal(model.W[:, 1], W0[:, 1]) and torch.equal(model.H[:, [0, 2]], H0[:, [0, 2]])
    assert torch.equal(model.W[:, [0, 2, 3]], Wn[:, [0, 2, 3]])
    assert torch.equal(model.H[:, [1, 3]], Hn[:, [1, 3]])
    frozen = NMF(V.shape, 4, W=W0, trainable_W=False)
    initialise_model_(frozen, V, "random", generator=make_generator(0, "cpu"))
    assert torch.equal(frozen.W, W0)
    # through fit: the fixed slices are still bit-exact after init and one solver step
    model.fit(V, beta=2, init="random", seed=0, solver="hals", max_iter=1)
    assert torch.equal(model.W[:, 1], W0[:, 1]) and torch.equal(model.H[:, [0, 2]], H0[:, [0, 2]])


def test_random_init_works_for_convolutive_models_and_nndsvd_does_not():
    V = torch.rand(1, 20, 60)
    model = NMFD(V.shape, 3, T=4)
    model.fit(V, beta=1, init="random", seed=0, max_iter=20)
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    with pytest.raises(ValueError, match="init='random' for NMFD"):
        NMFD(V.shape, 3, T=4).fit(V, init="nndsvda")


def test_bad_init_arguments():
    V = torch.rand(10, 8)
    with pytest.raises(ValueError, match="rank <= min"):
        nndsvd(V, 9)
    with pytest.raises(ValueError, match="variant must be one of"):
        nndsvd(V, 2, variant="svd")
    with pytest.raises(ValueError, match="init must be None or one of"):
        NMF(V.shape, 2).fit(V, init="nmf")
    with pytest.raises(ValueError, match="NMF, V"):
        nndsvd(torch.rand(2, 8, 8), 2)
    with pytest.raises(ValueError, match="kernel_size"):
        random_init(V, 2, kernel_size=(3,))
    with pytest.raises(ValueError, match="negative"):
        nndsvd(V - 1, 2)
