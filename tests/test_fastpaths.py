"""Internals of the closed-form fast paths (:mod:`nmfsep._core.fastpaths`).

The rest of the suite runs them on one block and one thread (conftest pins torch to one
thread and the data are small). Here the blocks are made tiny and torch gets two threads, so
that every pass splits V into many blocks shared by two workers, and the results are checked
against autograd and against the generic (autograd) fit, in float64.
"""

import copy
import itertools

import numpy as np
import pytest
import torch

from nmfsep._core import fastpaths, updates
from nmfsep._core.fastpaths import (
    Workspace,
    _blocks,
    batched_nmf_loss,
    batched_nmf_parts,
    fold_shifts,
    linear_loss,
    linear_parts,
    nmf_loss,
    nmf_parts,
    nmf_update_H_,
    nmfd_reconstruct,
    shifted_activations,
)
from nmfsep._core.updates import autograd_parts, data_weights, multiplicative_update_
from nmfsep.metrics import beta_div
from nmfsep.nmf import NMF, NMFD

from conftest import relative_error

F64 = torch.float64
BETAS = [0, 0.5, 1, 1.5, 2, 3]
FIT_BETAS = [0, 1, 1.5, 2]
RANK = 3
# NMF and NMFD shapes for the fits: 16 channels, so that ROWS_BYTES is 3 rows of V
NMF_SHAPE, NMFD_SHAPE = (23, 16), (2, 16, 30)
ROWS_BYTES = 3 * 16 * 8


# -- fixtures and helpers ---------------------------------------------------------------------

@pytest.fixture
def two_threads():
    """torch on two threads, so that a fast path's passes run on two workers."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def passes(monkeypatch):
    """(number of blocks, number of workers) of every pass over V, as they run."""
    seen = []
    run = fastpaths._run_blocks

    def recording(blocks, work, n_workers):
        seen.append((len(blocks), n_workers))
        run(blocks, work, n_workers)

    monkeypatch.setattr(fastpaths, "_run_blocks", recording)
    return seen


@pytest.fixture
def tiny_blocks(monkeypatch, two_threads, passes):
    """Fits in blocks of a few rows (the workspace a fit makes reads BLOCK_BYTES), on two workers."""
    monkeypatch.setattr(fastpaths, "BLOCK_BYTES", ROWS_BYTES)
    return passes


def assert_many_blocks_on_two_workers(passes, at_least=4):
    # guards the set-up: without it every check below could pass on a single block
    assert passes, "no pass over V ran"
    assert all(workers == 2 and blocks >= at_least for blocks, workers in passes), passes


def random_problem(N, M, P, shared, seed=0):
    """V (N, M, P), A (M, K) or (N, M, K), B (N, K, P), strictly positive, float64."""
    g = torch.Generator().manual_seed(seed)
    A = torch.rand(((M,) if shared else (N, M)) + (RANK,), generator=g, dtype=F64) + 0.1
    B = torch.rand(N, RANK, P, generator=g, dtype=F64) + 0.1
    V = torch.rand(N, M, P, generator=g, dtype=F64) + 0.05
    return V, A, B


# Layouts of the blocks: (N, block size), with M = 13 rows of P = 11 entries. Bands of 2 rows
# of one item (for B's parts they are summed per worker), or whole items 2 at a time.
M_ROWS, P_COLS = 13, 11
LAYOUTS = {"one item, row bands": (1, 2 * P_COLS), "items, row bands": (3, 2 * P_COLS),
           "groups of items": (4, 2 * M_ROWS * P_COLS)}


def layout_problem(layout, shared):
    N, elements = LAYOUTS[layout]
    V, A, B = random_problem(N, M_ROWS, P_COLS, shared)
    return V, A, B, Workspace(block_bytes=elements * 8)


def autograd_reference(V, A, B, beta, wrt):
    """The parts of D_beta(V | A B) from autograd (the generic path's own function)."""
    A, B = A.clone().requires_grad_(wrt == "A"), B.clone().requires_grad_(wrt == "B")
    return autograd_parts(V, A @ B, A if wrt == "A" else B, beta)


def twins(model_cls, shape, **kwargs):
    """The same float64 model twice: one fitted in closed form, the other through autograd (a
    no-op forward hook sends it down the generic path)."""
    fast = model_cls(shape, RANK, seed=0, **kwargs).double()
    generic = copy.deepcopy(fast)
    generic.register_forward_hook(lambda module, args, output: None)
    assert fast.has_closed_form() and not generic.has_closed_form()
    return fast, generic


def fit_twins(model_cls, shape, V, model_kwargs=None, **fit_kwargs):
    fast, generic = twins(model_cls, shape, **(model_kwargs or {}))
    for model in (fast, generic):
        model.fit(V, tol=0, check_every=1, **fit_kwargs)
    return fast, generic


def assert_same_fit(fast, generic, rtol=1e-9):
    assert relative_error(fast.W, generic.W.detach()) < rtol
    assert relative_error(fast.H, generic.H.detach()) < rtol
    torch.testing.assert_close(torch.tensor(fast.loss_curve_), torch.tensor(generic.loss_curve_),
                               rtol=rtol, atol=0)


MODELS = {"NMF": (NMF, NMF_SHAPE, {}), "NMFD T=3": (NMFD, NMFD_SHAPE, {"T": 3}),
          "NMFD T=5": (NMFD, NMFD_SHAPE, {"T": 5})}


def model_data(name, seed=1):
    model_cls, shape, kwargs = MODELS[name]
    g = torch.Generator().manual_seed(seed)
    return model_cls, shape, kwargs, torch.rand(shape, generator=g, dtype=F64) + 0.01


# -- 1. parts and losses over many blocks on two workers --------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shared", [True, False], ids=["shared A", "A per item"])
@pytest.mark.parametrize("wrt", ["A", "B"])
@pytest.mark.parametrize("beta", BETAS)
def test_linear_parts_match_autograd_over_blocks(two_threads, passes, layout, shared, wrt, beta):
    V, A, B, workspace = layout_problem(layout, shared)
    negative, positive = linear_parts(V, A, B, beta, wrt, workspace)
    ref_negative, ref_positive = autograd_reference(V, A, B, beta, wrt)
    assert relative_error(negative, ref_negative) < 1e-12
    assert relative_error(positive.expand_as(ref_positive), ref_positive) < 1e-12
    if beta != 2 or V.shape[0] > 1:  # one item at beta = 2 is one GEMM, no pass
        assert_many_blocks_on_two_workers(passes, at_least=2)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shared", [True, False], ids=["shared A", "A per item"])
@pytest.mark.parametrize("next_wrt", ["A", "B"])
@pytest.mark.parametrize("beta", BETAS)
def test_linear_loss_matches_explicit_model_over_blocks(two_threads, passes, layout, shared,
                                                         next_wrt, beta):
    V, A, B, workspace = layout_problem(layout, shared)
    expected = beta_div(A @ B, V, beta)
    # twice: the second call reuses the V-only terms and (beta = 2) the stashed product
    for _ in range(2):
        loss = linear_loss(V, A, B, beta, workspace, next_wrt=next_wrt)
        assert loss.dtype == F64 and abs(float(loss - expected)) < 1e-12 * float(expected)
    assert_many_blocks_on_two_workers(passes, at_least=2)


# -- 2. the blocks ----------------------------------------------------------------------------

BLOCK_GRID = list(itertools.product((1, 3), (1, 7, 12), (1, 5), (1, 3, 20, 10 ** 6), (1, 2, 3)))


@pytest.mark.parametrize("N, M, P, limit, multiple", BLOCK_GRID)
def test_blocks_cover_every_row_once(N, M, P, limit, multiple):
    limit = max(limit, P)  # _block_elements never asks for less than a row
    blocks = _blocks(N, M, P, limit, multiple)
    covered = torch.zeros(N, M, dtype=torch.long)
    for items, rows in blocks:
        covered[items, rows] += 1
    assert torch.equal(covered, torch.ones_like(covered))
    # whole items several at a time, or bands of rows of one item
    assert all(rows == slice(0, M) or items.stop - items.start == 1 for items, rows in blocks)
    # about ``limit`` elements: over it by less than one row (bands) or one item (groups)
    banded = blocks[0][1] != slice(0, M)
    lengths = [(rows if banded else items).stop - (rows if banded else items).start
               for items, rows in blocks if items.start == 0 or not banded]
    unit = P if banded else M * P
    assert all((length - 1) * unit < limit for length in lengths)
    # of equal sizes, within one row (or item)
    assert max(lengths) - min(lengths) <= 1


@pytest.mark.parametrize("N, M, P, limit, multiple, expected", [
    (1, 12, 5, 20, 2, 4),   # 3 blocks asked, 4 for two workers
    (1, 12, 5, 20, 3, 3),
    (8, 2, 5, 20, 2, 4),    # groups of 2 items
    (2, 9, 3, 9, 2, 8),     # 3 bands of each item asked, 4 for two workers
    (1, 12, 5, 10 ** 6, 2, 1),
    (1, 10, 4, 7, 2, 6),    # 6 bands of 10 rows (sizes 1 and 2)
    (6, 2, 5, 20, 2, 4),    # 4 groups of 6 items
    (1, 3, 5, 5, 2, 3),     # fewer rows than asked: one each
])
def test_block_count_is_a_multiple_of_the_workers(N, M, P, limit, multiple, expected):
    assert len(_blocks(N, M, P, limit, multiple)) == expected


# -- 3. whole fits: fast path on many blocks and two workers vs the generic autograd path -----

@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("beta", FIT_BETAS)
def test_fit_matches_generic_path(tiny_blocks, name, beta):
    model_cls, shape, kwargs, V = model_data(name)
    fast, generic = fit_twins(model_cls, shape, V, kwargs, beta=beta, max_iter=10)
    assert_same_fit(fast, generic)
    # the loss curve is the divergence of the explicit reconstruction
    explicit = float(beta_div(model_cls.reconstruct(fast.H.detach(), fast.W.detach()), V, beta))
    assert abs(fast.loss_curve_[-1] - explicit) < 1e-12 * explicit
    assert fast.loss_curve_[-1] < fast.loss_curve_[0]
    assert_many_blocks_on_two_workers(tiny_blocks)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("beta", FIT_BETAS)
@pytest.mark.parametrize("alpha, l1_ratio", [(0.0, 0.0), (0.3, 1.0), (0.3, 0.0), (0.2, 0.4)],
                         ids=["plain", "l1", "l2", "l1+l2"])
def test_fit_with_fixed_components_and_penalties_matches_generic_path(tiny_blocks, name, beta,
                                                                      alpha, l1_ratio):
    model_cls, shape, kwargs, V = model_data(name, seed=2)
    masks = dict(kwargs, fixed_W=[True, False, False], fixed_H=[False, True, False])
    fast, generic = fit_twins(model_cls, shape, V, masks, beta=beta, max_iter=10, alpha=alpha,
                              l1_ratio=l1_ratio)
    assert_same_fit(fast, generic)
    start = model_cls(shape, RANK, seed=0, **kwargs).double()
    assert torch.equal(fast.W[:, 0], start.W[:, 0]) and torch.equal(fast.H[:, 1], start.H[:, 1])
    assert not torch.equal(fast.W[:, 1], start.W[:, 1])


def test_penalties_change_the_fit(tiny_blocks):
    # the penalised fits above would agree as well if alpha were ignored by both paths
    model_cls, shape, kwargs, V = model_data("NMF")
    plain, _ = fit_twins(model_cls, shape, V, kwargs, beta=1, max_iter=10)
    penalised, _ = fit_twins(model_cls, shape, V, kwargs, beta=1, max_iter=10, alpha=0.3, l1_ratio=1.0)
    assert relative_error(penalised.H, plain.H.detach()) > 1e-2
    assert float(penalised.H.detach().sum()) < float(plain.H.detach().sum())


# -- 4. caches: a stashed product is used only while its factor is unchanged ---------------

def scale_rows_of_H(model, n_iter, loss):
    model.H.data[::2] *= 1.7  # through .data: no version counter sees it


def scale_rows_of_W(model, n_iter, loss):
    model.W.data[1::3] *= 0.6


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("callback", [scale_rows_of_H, scale_rows_of_W])
@pytest.mark.parametrize("trainable", [("W", "H"), ("W",), ("H",)], ids="+".join)
def test_callback_changing_factors_in_place_matches_generic_path(tiny_blocks, name, callback, trainable):
    # beta = 2 stashes a product with V for the next update (NMF: Hᵀ V, for W, from the pass over
    # H and from the loss; NMFD: V Hsᵀ, for W, from the loss), keyed by the factor's content
    model_cls, shape, kwargs, V = model_data(name)
    flags = dict(kwargs, trainable_W="W" in trainable, trainable_H="H" in trainable)
    fast, generic = fit_twins(model_cls, shape, V, flags, beta=2, max_iter=6, callback=callback)
    assert_same_fit(fast, generic)


@pytest.fixture
def products_with_V(monkeypatch):
    """How many times the beta = 2 fast path multiplies V by a factor (cache misses)."""
    calls = []
    compute = fastpaths._product_with_V

    def counting(*args, **kwargs):
        calls.append(args[3])
        return compute(*args, **kwargs)

    monkeypatch.setattr(fastpaths, "_product_with_V", counting)
    return calls


def nmf_problem(seed=0, N=23, C=16):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.rand(shape, generator=g, dtype=F64) + 0.05 for shape in ((N, C), (C, RANK), (N, RANK)))


def full_update_of_H(V, W, H, beta):
    """The reference H update: parts on one block, one multiplicative update."""
    H = H.clone()
    multiplicative_update_(H, *nmf_parts("H", V, W, H, beta, Workspace()), beta=beta)
    return H


def updating_workspace(H, beta, block_bytes=ROWS_BYTES):
    workspace = Workspace(block_bytes=block_bytes)

    def update(name, negative, positive, rows):
        multiplicative_update_(H[rows], negative, positive, beta=beta)

    workspace.update = update
    return workspace


@pytest.mark.parametrize("beta", BETAS)
def test_blockwise_H_update_equals_full_update(two_threads, passes, beta):
    V, W, H = nmf_problem()
    expected = full_update_of_H(V, W, H, beta)
    passes.clear()
    nmf_update_H_(V, W, H, beta, updating_workspace(H, beta), prepare_W=True)
    assert relative_error(H, expected) < 1e-13
    assert_many_blocks_on_two_workers(passes)


@pytest.mark.parametrize("change", [False, True], ids=["H unchanged", "H changed in place"])
def test_stashed_product_for_W_is_used_only_while_H_is_unchanged(two_threads, products_with_V, change):
    V, W, H = nmf_problem()
    workspace = updating_workspace(H, 2)
    nmf_update_H_(V, W, H, 2, workspace, prepare_W=True)  # stashes Hᵀ V and Hᵀ H for W
    if change:
        H.data[3] *= 2.0
    negative, positive = nmf_parts("W", V, W, H, 2, workspace)
    assert products_with_V == (["B"] if change else [])
    expected = nmf_parts("W", V, W, H, 2, Workspace())
    assert relative_error(negative, expected[0]) < 1e-13
    assert relative_error(positive, expected[1]) < 1e-13


@pytest.mark.parametrize("next_wrt", ["A", "B"])
@pytest.mark.parametrize("change", [False, True], ids=["factor unchanged", "factor changed in place"])
def test_loss_stash_is_used_only_while_the_other_factor_is_unchanged(products_with_V, next_wrt, change):
    V, A, B = random_problem(2, 9, 7, shared=True)
    workspace = Workspace()
    linear_loss(V, A, B, 2, workspace, next_wrt=next_wrt)  # stashes the product for next_wrt
    if change:  # the factor the stashed product was computed from
        (B if next_wrt == "A" else A).data[0] *= 3.0
    products_with_V.clear()
    parts = linear_parts(V, A, B, 2, next_wrt, workspace)
    assert products_with_V == ([next_wrt] if change else [])
    for part, expected in zip(parts, autograd_reference(V, A, B, 2, next_wrt)):
        assert relative_error(part, expected) < 1e-12


@pytest.mark.parametrize("beta", [1, 2])
def test_V_only_terms_are_not_taken_from_another_tensor_at_the_same_address(beta):
    # a workspace kept across calls: a new V in the memory of a freed one (same address, shape,
    # strides and version) must not reuse the old V's sum of squares (beta = 2) or sum of
    # V log V - V (beta = 1)
    workspace = Workspace()
    _, A, B = random_problem(1, 40, 30, shared=True)
    memory = np.random.default_rng(0).random((1, 40, 30))
    for scale in (1.0, 3.0):
        memory *= scale
        V = torch.from_numpy(memory)  # a new tensor object on the same memory each time
        loss = linear_loss(V, A, B, beta, workspace)
        assert abs(float(loss - beta_div(A @ B, V, beta))) < 1e-12 * float(loss)
        del V


def test_V_only_terms_follow_in_place_changes_of_V():
    V, A, B = random_problem(1, 40, 30, shared=True)
    workspace = Workspace()
    linear_loss(V, A, B, 1, workspace)
    V.mul_(2)  # seen by the version counter (changes through .data are not: one fit, one V)
    assert abs(float(linear_loss(V, A, B, 1, workspace) - beta_div(A @ B, V, 1))) < 1e-9


# -- 5. strided V -----------------------------------------------------------------------------

def strided_views(name, seed=3):
    """Non-contiguous views of V for ``name``, each with the model's shape."""
    g = torch.Generator().manual_seed(seed)
    if name == "NMF":
        N, C = NMF_SHAPE
        return {"transposed": torch.rand(C, N, generator=g, dtype=F64).t(),
                "every other column": torch.rand(N, 2 * C, generator=g, dtype=F64)[:, ::2],
                "every other row": torch.rand(2 * N, C, generator=g, dtype=F64)[::2]}
    N, C, L = NMFD_SHAPE
    return {"transposed": torch.rand(N, L, C, generator=g, dtype=F64).transpose(1, 2),
            "every other frame": torch.rand(N, C, 2 * L, generator=g, dtype=F64)[..., ::2],
            "every other channel": torch.rand(N, 2 * C, L, generator=g, dtype=F64)[:, ::2]}


@pytest.mark.parametrize("name, view", [(name, view) for name in MODELS for view in strided_views(name)])
@pytest.mark.parametrize("beta", [0.5, 1, 2])
def test_strided_V_fits_like_contiguous_V(tiny_blocks, name, view, beta):
    model_cls, shape, kwargs, _ = model_data(name)
    V = strided_views(name)[view]
    assert V.shape == shape and not V.is_contiguous()
    fits = []
    for data in (V, V.contiguous()):
        model = model_cls(shape, RANK, seed=0, **kwargs).double()
        model.fit(data, beta=beta, tol=0, max_iter=8, check_every=1)
        fits.append(model)
    assert relative_error(fits[0].W, fits[1].W.detach()) < 1e-12
    assert relative_error(fits[0].H, fits[1].H.detach()) < 1e-12
    torch.testing.assert_close(fits[0].loss_curve_, fits[1].loss_curve_, rtol=1e-12, atol=0)


# -- 6. torch's thread count is restored -------------------------------------------------------

def _raise(*args):
    raise RuntimeError("update failed")


def call_parts():
    V, A, B = random_problem(2, 9, 7, shared=True)
    linear_parts(V, A, B, 1, "B", Workspace(block_bytes=2 * 7 * 8))


def call_bad_wrt():
    V, A, B = random_problem(1, 9, 7, shared=True)
    with pytest.raises(ValueError, match="wrt"):
        linear_parts(V, A, B, 1, "C")


def call_failing_update():
    V, W, H = nmf_problem()
    workspace = updating_workspace(H, 1)
    workspace.update = _raise  # raises in the worker threads
    with pytest.raises(RuntimeError, match="update failed"):
        nmf_update_H_(V, W, H, 1, workspace)


def call_fit():
    model_cls, shape, kwargs, V = model_data("NMFD T=3")
    model_cls(shape, RANK, seed=0, **kwargs).fit(V, beta=2, max_iter=3)


@pytest.mark.parametrize("call", [call_parts, call_bad_wrt, call_failing_update, call_fit])
def test_thread_count_restored(tiny_blocks, call):
    call()
    assert torch.get_num_threads() == 2
    assert fastpaths._pass_threads.get() is None
    # and the next fast path still shares its passes between two workers
    tiny_blocks.clear()
    call_parts()
    assert_many_blocks_on_two_workers(tiny_blocks)


@pytest.mark.parametrize("rows, inner, columns, bands", [
    (128, 128, 256, 2),   # 8.4 MFLOP: two bands of 128 columns
    (128, 128, 301, 2),   # uneven bands
    (128, 128, 200, 1),   # 6.6 MFLOP: bands below MIN_BAND_FLOPS
    (2048, 64, 100, 1),   # many FLOPs, but bands narrower than 64 columns
    (4, 8, 4096, 1),      # wide, few FLOPs
])
def test_split_product_in_bands_equals_one_product(two_threads, passes, rows, inner, columns, bands):
    # inside a fast path's pass (torch on one thread, two workers): large products go out in
    # disjoint bands of columns, the others stay on the calling thread
    assert fastpaths.MIN_BAND_FLOPS == 4_000_000  # the cases above are sized for it
    g = torch.Generator().manual_seed(columns)
    left = torch.rand(rows, inner, generator=g, dtype=F64)
    right = torch.rand(columns, inner, generator=g, dtype=F64).t()  # strided, as V[0].t()
    out = torch.full((rows, columns), float("nan"), dtype=F64)  # beta=0 must ignore it
    token = fastpaths._pass_threads.set(2)
    try:
        fastpaths._split_product(left, right, out)
    finally:
        fastpaths._pass_threads.reset(token)
    assert passes == ([(bands, bands)] if bands > 1 else [])
    torch.testing.assert_close(out, left @ right, rtol=1e-13, atol=0)


# -- 7. NMFD's shifts and the batched NMF ------------------------------------------------------

@pytest.mark.parametrize("T", [1, 3, 5])
def test_shifts_and_fold_are_adjoint(T):
    g = torch.Generator().manual_seed(T)
    N, R, J = 2, 3, 9
    workspace = Workspace()
    for _ in range(2):  # the second call rewrites the kept buffer for a new H
        H = torch.rand(N, R, J, generator=g, dtype=F64)
        P = torch.rand(N, R * T, J + T - 1, generator=g, dtype=F64)
        lhs = (shifted_activations(H, T, workspace) * P).sum()
        assert abs(float(lhs - (H * fold_shifts(P, T)).sum())) < 1e-12 * float(lhs)
    # fold reads strided and offset inputs by their values
    big = torch.rand(N + 1, R * T, 2 * (J + T - 1), generator=g, dtype=F64)
    strided = big[1:, :, ::2]
    torch.testing.assert_close(fold_shifts(strided, T), fold_shifts(strided.contiguous(), T),
                               rtol=0, atol=0)


@pytest.mark.parametrize("T", [1, 3, 5])
def test_nmfd_reconstruct_is_the_sum_over_shifts(T):
    g = torch.Generator().manual_seed(T)
    W = torch.rand(6, RANK, T, generator=g, dtype=F64)
    H = torch.rand(2, RANK, 10, generator=g, dtype=F64)
    expected = torch.zeros(2, 6, 10 + T - 1, dtype=F64)
    for t in range(T):
        expected[:, :, t:t + 10] += torch.einsum("cr,nrj->ncj", W[:, :, t], H)
    assert relative_error(nmfd_reconstruct(H, W), expected) < 1e-15
    # and the one product of shifted activations gives the same model
    assert relative_error(W.reshape(6, RANK * T) @ shifted_activations(H, T), expected) < 1e-15


@pytest.mark.parametrize("name", ["W", "H"])
@pytest.mark.parametrize("beta", BETAS)
def test_batched_nmf_parts_are_per_item_parts(two_threads, passes, name, beta):
    g = torch.Generator().manual_seed(0)
    V, W, H = (torch.rand(shape, generator=g, dtype=F64) + 0.05
               for shape in ((3, 13, 11), (3, 11, RANK), (3, 13, RANK)))
    block_bytes = 2 * 11 * 8
    negative, positive = batched_nmf_parts(name, V, W, H, beta, Workspace(block_bytes))
    loss = batched_nmf_loss(V, W, H, beta, Workspace(block_bytes))
    assert_many_blocks_on_two_workers(passes)
    own = H if name == "H" else W
    for b in range(3):
        expected = nmf_parts(name, V[b], W[b], H[b], beta)
        assert relative_error(negative[b], expected[0]) < 1e-13
        assert relative_error(positive[b].expand_as(own[b]), expected[1].expand_as(own[b])) < 1e-13
    expected = sum(nmf_loss(V[b], W[b], H[b], beta) for b in range(3))
    assert abs(float(loss - expected)) < 1e-12 * float(expected)


def test_update_without_positive_part_is_the_update_with_ones():
    """positive=None stands for a positive part of ones (KL, templates of unit sum): the same
    update bit for bit, with penalties and fixed entries too; it fits a planted activation."""
    g = torch.Generator().manual_seed(3)
    W = torch.rand(40, 5, generator=g, dtype=F64)
    W /= W.sum(0)
    planted = torch.rand(1, 5, generator=g, dtype=F64) + 0.5
    V = planted @ W.t()
    for options in ({}, {"l1": 0.1, "l2": 0.2}, {"fixed": torch.tensor([True, False] * 2 + [False])}):
        H = torch.full((1, 5), 1.0, dtype=F64)
        negative = (V / (H @ W.t())) @ W
        ones = multiplicative_update_(H.clone(), negative.clone(), torch.ones(5, dtype=F64),
                                      beta=1, exponent=1.5, **options)
        none = multiplicative_update_(H.clone(), negative.clone(), None, beta=1, exponent=1.5,
                                      **options)
        assert torch.equal(none, ones), options
    H = torch.ones(1, 5, dtype=F64)
    for _ in range(2000):
        multiplicative_update_(H, (V / (H @ W.t())) @ W, None, beta=1)
    assert torch.allclose(H, planted, rtol=1e-3), (H, planted)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_data_weights_guard_zeros_the_same_in_place_and_in_inference_mode(dtype):
    """The guard added in place (a 0-dim constant made once) gives the out-of-place weights,
    and the constant made in inference mode still serves outside it."""
    V = torch.tensor([[1.0, 2.0, 0.0, 3.0]], dtype=dtype)
    model = torch.tensor([[2.0, 0.0, 0.0, 1e-3]], dtype=dtype)
    expected, _ = data_weights(V, model, 1.0)
    assert torch.isfinite(expected).all() and expected[0, 0] == 0.5
    updates._CONSTANTS.clear()                          # the constant is made in inference mode
    with torch.inference_mode():
        inside, _ = data_weights(V.clone(), model.clone(), 1.0, overwrite=True)
    outside, _ = data_weights(V, model.clone(), 1.0, overwrite=True)
    assert torch.equal(inside, expected) and torch.equal(outside, expected)
    assert not outside.is_inference()
