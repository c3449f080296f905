"""Chunked (bounded-memory) NMF: equal to the full-batch fit with kept activations, errors."""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from nmfsep._core import fastpaths
from nmfsep._core.online import _parts, fit_chunks, is_chunk_source
from nmfsep.nmf import NMF, NMFD

from conftest import relative_error

F64 = torch.float64


def planted(seed=0, N=90, C=30, R=4):
    g = torch.Generator().manual_seed(seed)
    W = torch.rand(C, R, generator=g, dtype=F64) * (torch.rand(C, R, generator=g, dtype=F64) < 0.5)
    H = torch.rand(N, R, generator=g, dtype=F64) * (torch.rand(N, R, generator=g, dtype=F64) < 0.5)
    return H @ W.t() + 0.01


@pytest.mark.parametrize("beta, alpha, fixed_W", [(2, 0, None), (1, 0, None), (0.5, 0.2, [1])])
def test_kept_activations_equal_the_full_batch_fit(beta, alpha, fixed_W):
    V = planted()
    full = NMF(V.shape, 4, seed=0, fixed_W=fixed_W).double()
    chunked = NMF(V.shape, 4, seed=0, fixed_W=fixed_W).double()
    full.fit(V, beta=beta, tol=0, max_iter=30, alpha=alpha, l1_ratio=0.5, check_every=5)
    n_iter = chunked.fit(list(V.split([40, 25, 25])), beta=beta, tol=0, max_iter=30, alpha=alpha,
                         l1_ratio=0.5, check_every=5, keep_activations=True)
    assert n_iter == 30 and chunked.loss_iterations_ == full.loss_iterations_
    assert torch.allclose(chunked.W, full.W, rtol=1e-10, atol=1e-13)
    assert torch.allclose(chunked.H, full.H, rtol=1e-10, atol=1e-13)
    assert torch.allclose(torch.tensor(chunked.loss_curve_), torch.tensor(full.loss_curve_), rtol=1e-10)


def test_dataloader_of_tuples_equals_a_list_of_chunks():
    V = planted()
    loader = DataLoader(TensorDataset(V, torch.zeros(len(V))), batch_size=32, shuffle=False)
    assert is_chunk_source(loader) and is_chunk_source(list(V.split(32))) and not is_chunk_source(V.tolist())
    a, b = NMF(V.shape, 4, seed=0), NMF(V.shape, 4, seed=0)
    a.fit(loader, beta=1, tol=0, max_iter=10, keep_activations=True)
    b.fit(list(V.split(32)), beta=1, tol=0, max_iter=10, keep_activations=True)
    assert torch.equal(a.W, b.W) and a.W.dtype == torch.float32  # chunks follow the model


@pytest.mark.parametrize("beta", [2, 1])
def test_bounded_memory_fit_reduces_the_loss_and_leaves_H(beta):
    V = planted(1)
    model = NMF(V.shape, 4, seed=0).double()
    H0 = model.H.detach().clone()
    model.fit(list(V.split(20)), beta=beta, tol=0, max_iter=150, inner_iter=20, check_every=1)
    curve = torch.tensor(model.loss_curve_)
    # measured: 1e-2 (beta=2) and 2e-2 (beta=1) of the initial loss after 150 epochs
    assert curve[-1] < 0.05 * curve[0]
    assert bool((curve[1:] <= curve[:-1] * (1 + 1e-9)).all())
    assert torch.equal(model.H, H0)
    # the activations of the learned templates, through transform, reconstruct the data
    H = model.transform(V, beta=beta, tol=0, max_iter=200)
    assert relative_error(H @ model.W.detach().t(), V) < 0.05


def test_templates_only_model_and_random_init_from_chunks():
    V = planted(2)
    chunks = list(V.split(30))
    a = NMF(W=(30, 4), rank=4)  # no H at all: a dictionary
    b = NMF(W=(30, 4), rank=4)
    a.fit(chunks, beta=2, max_iter=5, init="random", seed=1, tol=0)
    b.fit(chunks, beta=2, max_iter=5, init="random", seed=1, tol=0)
    assert a.H is None and torch.equal(a.W, b.W)
    assert a.loss_curve_[-1] < a.loss_curve_[0]


def test_overcomplete_parts_match_nmf_parts():
    # R > C: through the reconstruction instead of R x R Gram matrices, same values
    g = torch.Generator().manual_seed(0)
    V, W, H = (torch.rand(*s, generator=g, dtype=F64) for s in ((8, 10), (10, 50), (8, 50)))
    for name in ("W", "H"):
        for got, expected in zip(_parts(name, V, W, H, 2.0), fastpaths.nmf_parts(name, V, W, H, 2.0)):
            assert torch.allclose(got, expected, rtol=1e-12)


def test_fixed_components_with_chunks_stay_bit_exact():
    V = planted()
    model = NMF(V.shape, 4, seed=0, fixed_W=[0], fixed_H=[2]).double()
    W0, H0 = model.W.detach().clone(), model.H.detach().clone()
    model.fit(list(V.split(45)), beta=1, max_iter=5, keep_activations=True, inner_iter=3, alpha=0.1)
    assert torch.equal(model.W[:, 0], W0[:, 0]) and torch.equal(model.H[:, 2], H0[:, 2])
    assert not torch.equal(model.W[:, 1], W0[:, 1])


def test_chunk_errors():
    V = planted()
    chunks = list(V.split(30))
    with pytest.raises(TypeError, match="iterator"):
        NMF(V.shape, 2).fit((c for c in chunks))
    with pytest.raises(ValueError, match="shuffle=False"):
        NMF(V.shape, 2).fit(DataLoader(TensorDataset(V), batch_size=30, shuffle=True), keep_activations=True)
    with pytest.raises(ValueError, match="C = 30"):
        NMF(V.shape, 2).fit([V[:, :20]])
    with pytest.raises(ValueError, match="chunks hold 60 rows but model.H has 90"):
        NMF(V.shape, 2).fit(chunks[:2], keep_activations=True)
    with pytest.raises(ValueError, match="keep_activations=True"):
        NMF(V.shape, 2, fixed_H=[0]).fit(chunks)
    with pytest.raises(ValueError, match="plain NMF model"):
        fit_chunks(NMFD((1, 30, 20), 2, T=3), chunks)
    with pytest.raises(ValueError, match="solver='mu'"):
        NMF(V.shape, 2).fit(chunks, beta=2, solver="hals")
    with pytest.raises(ValueError, match="init='nndsvda' needs the whole data"):
        NMF(V.shape, 2).fit(chunks, init="nndsvda")
    with pytest.raises(ValueError, match="empty"):
        fit_chunks(NMF(V.shape, 2), [])
    with pytest.raises(ValueError, match="negative"):
        NMF(V.shape, 2).fit([chunks[0], -chunks[1]])

    class Changing:  # yields a different number of rows the second time
        calls = 0

        def __iter__(self):
            Changing.calls += 1
            return iter(chunks if Changing.calls == 1 else chunks[:2])

    with pytest.raises(ValueError, match="same every epoch"):
        NMF(V.shape, 2).fit(Changing(), max_iter=3)
