"""Closed-form gradient parts and losses of the beta-divergence for NMF and NMFD (no autograd).

Both models are a product of two matrices once NMFD's shifts are unrolled:

* NMF: ``V (N, C) ≈ H Wᵀ``, i.e. ``A = H``, ``B = Wᵀ``;
* NMFD: ``V[n] (C, L) ≈ W₂ Hs[n]`` with ``W₂ = W.reshape(C, R T)`` and the *shifted
  activations* ``Hs[n, r T + t, l] = H[n, r, l - t]`` (:func:`shifted_activations`), so that
  the ``T`` shifted products of a deconvolution are one matrix product (``R T`` is small).

:func:`linear_parts` gives the gradient parts of :math:`D_\\beta(V \\mid A B)` for either factor
and :func:`linear_loss` the loss; :func:`nmf_parts` and :func:`nmfd_parts` map the models onto
them. Each returns ``(negative, positive)``, the inputs of
:func:`nmfsep.updates.multiplicative_update_`, and agrees with the generic autograd path
(``BaseComponent.gradient_parts``) to rounding; the tests check it.

What makes them fast (``benchmarks/speed.py`` measures it):

* beta = 2 never forms the model: products with V and R x R Gram matrices suffice, for the
  loss too (NMFD's Gram matrices come from H's autocorrelation and W's, over the shifts);
* within a fit, NMF updates H a block of rows at a time, and at beta = 2 takes the next W
  update's ``Hᵀ V`` from the same blocks of V while they are in cache (:func:`nmf_update_H_`):
  V is read once per iteration;
* other betas form the model one block of rows at a time, in a buffer small enough to stay in
  cache, and turn it into the weights in place: V is read once per update and no temporary
  as large as V is allocated or sent to memory;
* the products put the short (rank) axis first, which MKL runs up to 9x faster;
* a :class:`Workspace` keeps the buffers, the V-only terms of the loss and the last product
  with V from one iteration to the next.
"""

from __future__ import annotations

import functools
import weakref
from concurrent.futures import ThreadPoolExecutor, wait
from contextvars import ContextVar
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .._errors import ParameterError
from . import _threads
from ._validation import eps_for, sparse_with_values
from .metrics import beta_div
from .updates import data_weights, denormals_flushed

__all__ = [
    "Workspace",
    "attach_workspace",
    "workspace_of",
    "linear_parts",
    "linear_loss",
    "nmf_parts",
    "nmf_loss",
    "nmf_update_H_",
    "batched_nmf_parts",
    "batched_nmf_loss",
    "nmfd_parts",
    "nmfd_loss",
    "nmfd_reconstruct",
    "shifted_activations",
    "fold_shifts",
]

#: Bytes of V (and of each temporary) per block on the CPU: a few blocks fit in the caches.
BLOCK_BYTES = 4 * 2 ** 20
#: The same on GPUs, where the point of blocks is only to bound the temporaries' memory.
GPU_BLOCK_BYTES = 512 * 2 ** 20
#: Smallest band of a split product (FLOPs, ~50 µs on one core): handing a band to another
#: thread costs tens of µs.
MIN_BAND_FLOPS = 4_000_000


class Workspace:
    """Scratch tensors reused across the iterations of one fit.

    Allocating the large temporaries anew every iteration costs page faults (fresh pages
    are zeroed by the kernel) and memory traffic; reusing warm buffers avoids both.
    Tensors returned by the fast paths may live here: they are valid until the next call
    that uses the same workspace.

    Parameters
    ----------
    block_bytes : int, optional
        Size of the blocks of V processed at once (default :data:`BLOCK_BYTES`).
    """

    def __init__(self, block_bytes: Optional[int] = None):
        self.block_bytes = int(BLOCK_BYTES if block_bytes is None else block_bytes)
        self._buffers: Dict[str, Tensor] = {}
        self._memo: Dict[str, tuple] = {}
        self._stash: Dict[str, tuple] = {}
        #: ``update(name, negative, positive, rows)``: the fit's multiplicative update of some
        #: rows of a factor, for fast paths that update as they go (set by the fit's step).
        self.update = None

    def buffer(self, name: str, shape, like: Tensor, *, zeros: bool = False) -> Tensor:
        """A tensor of ``shape`` with ``like``'s dtype and device, kept under ``name``.

        With ``zeros=True`` a new buffer starts at zero; a kept one holds what was last
        written (callers that rewrite the same entries every time rely on that).
        """
        shape = tuple(shape)
        buf = self._buffers.get(name)
        if buf is None or buf.shape != shape or buf.dtype != like.dtype or buf.device != like.device:
            make = torch.zeros if zeros else torch.empty
            buf = make(shape, dtype=like.dtype, device=like.device)
            self._buffers[name] = buf
        return buf

    def flat(self, name: str, numel: int, like: Tensor) -> Tensor:
        """The first ``numel`` elements of a 1-D buffer kept under ``name`` (grown if needed)."""
        buf = self._buffers.get(name)
        if buf is None or buf.numel() < numel or buf.dtype != like.dtype or buf.device != like.device:
            buf = torch.empty(numel, dtype=like.dtype, device=like.device)
            self._buffers[name] = buf
        return buf[:numel]

    def memo(self, name: str, tensor: Tensor, compute) -> Tensor:
        """``compute()``, remembered while it is asked about the same, unmodified ``tensor``."""
        key = _identity(tensor)
        kept = self._memo.get(name)
        if kept is not None and _same(kept[0], key):
            return kept[1]
        value = compute()
        self._memo[name] = (key, value)
        return value

    def stash(self, name: str, value, data: Tensor, factor: Tensor,
              factor_copy: Optional[Tensor] = None) -> None:
        """Keep ``value``, computed from ``data`` and ``factor``, for one :meth:`take`
        (``factor_copy``: a copy of ``factor`` the caller has already made)."""
        self._stash[name] = (_identity(data), factor.clone() if factor_copy is None else factor_copy, value)

    def take(self, name: str, data: Tensor, factor: Tensor, *, keep: bool = False):
        """The stashed value if it came from this ``data`` and a ``factor`` equal to this one
        (compared by content: parameters change through ``.data``, which no version counter
        sees), else None. The stash is emptied unless ``keep``."""
        kept = self._stash.get(name) if keep else self._stash.pop(name, None)
        if kept is None or not _same(kept[0], _identity(data)) or kept[1].shape != factor.shape:
            return None
        return kept[2] if torch.equal(kept[1], factor) else None


def _identity(tensor: Tensor) -> tuple:
    """Same memory, layout and version counter (views share their base's): same values.

    The tensor that owns the memory (a view's base) is held by a weak reference, so that
    memory freed and handed to a new tensor at the same address does not look the same.
    In-place changes through ``.data`` escape the version counter: a workspace belongs to
    one fit, whose data do not change.
    """
    owner = tensor if tensor._base is None else tensor._base
    return (weakref.ref(owner), tensor.data_ptr(), tuple(tensor.shape), tensor.stride(), tensor.dtype,
            tensor.device, tensor._version)


def _same(key: tuple, other: tuple) -> bool:
    """Two :func:`_identity` keys of the same live tensor's same state."""
    return key[0]() is not None and key[0]() is other[0]() and key[1:] == other[1:]


# The workspace of the fit running on each model, for the parts and the loss to find. Weak both
# ways: the fit's step function owns the workspace, which goes when the fit ends.
_running: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def attach_workspace(model) -> Workspace:
    """A new :class:`Workspace` that :func:`workspace_of` returns for ``model`` while it lives."""
    workspace = Workspace()
    _running[model] = weakref.ref(workspace)
    return workspace


def workspace_of(model) -> Optional[Workspace]:
    """The workspace of the fit running on ``model``, or None."""
    ref = _running.get(model)
    return None if ref is None else ref()


# -- V (N, M, P) ≈ A @ B, A (M, K) shared or (N, M, K) per item, B (N, K, P) ---------------------

def _blocks(N: int, M: int, P: int, max_elements: int, multiple: int = 1) -> List[Tuple[slice, slice]]:
    """(items, rows) slices covering V, blocks of about ``max_elements`` (one row at least).

    Small items are taken several at a time, large ones a band of rows at a time. Their sizes
    differ by one row (or item) at most and, where there are several, their number is a
    multiple of ``multiple`` (the workers share them evenly) unless there are fewer rows.
    """
    def split(length, pieces):
        pieces = min(length, -(-pieces // multiple) * multiple)
        bounds = [length * i // pieces for i in range(pieces + 1)]
        return [slice(start, stop) for start, stop in zip(bounds, bounds[1:])]

    if M * P <= max_elements:
        return [(items, slice(0, M)) for items in split(N, -(-N * M * P // max_elements))]
    return [(slice(n, n + 1), rows) for n in range(N) for rows in split(M, -(-M * P // max_elements))]


def _plan(V: Tensor, workspace: Workspace) -> Tuple[List[Tuple[slice, slice]], int]:
    """The blocks of V (N, M, P) and the number of workers for a pass over them."""
    threads = _pass_threads.get() if V.device.type == "cpu" else None
    threads = threads or 1
    blocks = _blocks(*V.shape, _block_elements(V, workspace), multiple=threads)
    return blocks, min(threads, len(blocks))


def _block_elements(V: Tensor, workspace: Workspace) -> int:
    """Elements of V per block: cache-sized on the CPU; on a GPU blocks only add kernel
    launches, so they are as large as a GPU temporary may reasonably be."""
    block_bytes = workspace.block_bytes
    if V.device.type != "cpu":
        block_bytes = max(block_bytes, GPU_BLOCK_BYTES)
    return max(V.shape[-1], block_bytes // V.element_size())


_pool: Optional[ThreadPoolExecutor] = None
# torch's intra-op thread count when the running fast path started (the pass's workers)
_pass_threads: ContextVar[Optional[int]] = ContextVar("nmfsep_pass_threads", default=None)


def _on_one_thread(function):
    """Run a fast path with torch's operations on the calling thread only.

    Its heavy work goes through :func:`_run_blocks` on as many workers as torch had threads; its
    small operations are cheaper without waking a thread pool, and much cheaper when another
    process holds a core (each parallel operation then waits a scheduler time slice, ~10 ms).
    The limit is the calling thread's own (``_threads.one_thread``, thread-local counts,
    restored afterwards): other threads, and threads started meanwhile, keep torch's count.
    Where it cannot be set, the fast path runs as torch is configured, without workers.
    """
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if _pass_threads.get() is not None:  # called by another fast path
            return function(*args, **kwargs)
        # workers only where each can be held to one thread (else torch's own threading)
        token = _pass_threads.set(torch.get_num_threads() if _threads.can_limit() else 1)
        try:
            with _threads.one_thread():
                return function(*args, **kwargs)
        finally:
            _pass_threads.reset(token)

    return wrapper


def _split_product(left: Tensor, right: Tensor, out: Tensor) -> Tensor:
    """``out (P, Q) = left (P, K) @ right (K, Q)``, a band of columns per worker of the pass.

    For the single large products of a fast path (one item's product with V, Gram matrices):
    the bands are disjoint, so nothing is summed and the result does not depend on the number
    of workers; the workers' MKL calls are single-threaded, so a core taken by another process
    slows one band down instead of every step of MKL's own fine-grained split.
    """
    threads = _pass_threads.get() if out.device.type == "cpu" else None
    Q = out.shape[1]
    # narrow bands run below BLAS's speed; small bands cost less than handing them over
    flops = 2 * left.shape[0] * left.shape[1] * Q
    workers = min(threads or 1, Q // 64, flops // MIN_BAND_FLOPS)
    if workers <= 1:
        return out.addmm_(left, right, beta=0)  # beta=0: out's old content is ignored
    size = -(-Q // workers)
    bands = [(None, slice(start, min(start + size, Q))) for start in range(0, Q, size)]
    _run_blocks(bands, lambda k, _, cols: out[:, cols].addmm_(left, right[:, cols], beta=0), len(bands))
    return out


def _run_blocks(blocks, work, n_workers: int) -> None:
    """Call ``work(worker, items, rows)`` for every block; worker k takes blocks k, k + n, ....

    The workers are threads whose operations (MKL's included) are single-threaded: they meet
    once per pass, not at every operation of every block, and the static split makes every
    result the same from run to run.
    """
    global _pool
    if n_workers == 1:
        for items, rows in blocks:
            work(0, items, rows)
        return
    if _pool is None or _pool._max_workers < n_workers:
        if _pool is not None:
            _pool.shutdown(wait=False)
        # the workers are nmfsep's own threads: each runs torch's operations on itself alone
        _pool = ThreadPoolExecutor(n_workers, thread_name_prefix="nmfsep-blocks",
                                   initializer=_threads.limit_this_thread)
    flush = denormals_flushed()

    def task(k):
        torch.set_flush_denormal(flush)  # a per-thread flag: follow the fit's
        for items, rows in blocks[k::n_workers]:
            work(k, items, rows)

    futures = [_pool.submit(task, k) for k in range(n_workers)]
    wait(futures)  # all of them: none may still write into the buffers once this returns
    for future in futures:
        future.result()


def _block_of(A: Tensor, items: slice, rows: slice) -> Tensor:
    """The rows of ``A`` that model a block of V: (m, K) when shared, (n, m, K) per item."""
    return A[rows] if A.dim() == 2 else A[items, rows]


def _as_matrix(A: Tensor) -> Tensor:
    return A if A.dim() == 2 else A[0]


def _product(A: Tensor, B: Tensor, out: Tensor) -> Tensor:
    """``out[n] = A[n] @ B[n]`` (A shared or per item)."""
    if out.shape[0] == 1:
        torch.mm(_as_matrix(A), B[0], out=out[0])
    else:
        torch.matmul(A, B, out=out)
    return out


def _add_to_A_part(target: Tensor, weight: Tensor, B: Tensor, first: bool) -> None:
    """``target (+)= weight @ Bᵀ``, summed over the items when ``target`` is shared (2-D).

    Overwritten when ``first``; a transposed ``target`` (the caller's choice) makes BLAS put
    the short K axis first, which is much faster for small K.
    """
    if weight.shape[0] == 1:
        # beta=0 makes BLAS ignore target's old content (even NaN)
        _as_matrix(target).addmm_(weight[0], B[0].t(), beta=0 if first else 1)
    elif target.dim() == 3:  # per item: each item's rows come in one block
        torch.bmm(weight, B.transpose(1, 2), out=target)
    else:
        total = torch.bmm(weight, B.transpose(1, 2)).sum(0)
        target.copy_(total) if first else target.add_(total)


def _add_to_B_part(target: Tensor, A: Tensor, weight: Tensor, first: bool) -> None:
    """``target[n] (K, P) (+)= A[n]ᵀ @ weight[n]`` (overwritten when ``first``).

    ``Aᵀ W``, not ``(Wᵀ A)ᵀ``: with the short K axis first MKL is up to 9x faster for small K.
    """
    if weight.shape[0] == 1:
        target[0].addmm_(_as_matrix(A).t(), weight[0], beta=0 if first else 1)
    elif first:
        torch.matmul(A.transpose(-1, -2), weight, out=target)
    else:
        target.add_(torch.matmul(A.transpose(-1, -2), weight))


def _gram(B: Tensor, per_item: bool) -> Tensor:
    """``B[n] B[n]ᵀ``, summed over the items unless ``per_item``."""
    if B.shape[0] == 1:
        gram = B[0] @ B[0].t()
        return gram.unsqueeze(0) if per_item else gram
    gram = torch.bmm(B, B.transpose(1, 2))
    return gram if per_item else gram.sum(0)


@_on_one_thread
def linear_parts(
    V: Tensor,
    A: Tensor,
    B: Tensor,
    beta: float,
    wrt: str,
    workspace: Optional[Workspace] = None,
    gram_B: Optional[Tensor] = None,
) -> Tuple[Tensor, Tensor]:
    """Gradient parts of :math:`D_\\beta(V \\mid A B)` with respect to ``A`` or ``B``.

    Parameters
    ----------
    V : Tensor, shape (N, M, P)
        Data, N items.
    A : Tensor, shape (M, K) or (N, M, K)
        Left factor, shared by the items or one per item.
    B : Tensor, shape (N, K, P)
        Right factor, one per item.
    beta : float
        Divergence.
    wrt : {"A", "B"}
        The factor whose parts are wanted.
    workspace : Workspace, optional
        Buffers to reuse (the returned parts may live there).
    gram_B : Tensor, shape (K, K), optional
        ``sum_n B[n] B[n]ᵀ`` (shared ``A``) when the caller has a cheaper way to it
        (beta = 2, ``wrt="A"``).

    Returns
    -------
    negative, positive : Tensor
        Shaped like ``A`` for ``wrt="A"``, like ``B`` for ``wrt="B"``. For beta = 1 the
        positive part is a broadcastable sum.

    Examples
    --------
    >>> V, A, B = torch.rand(1, 6, 5), torch.rand(6, 2), torch.rand(1, 2, 5)
    >>> negative, positive = linear_parts(V, A, B, beta=1, wrt="A")
    >>> negative.shape, positive.shape
    (torch.Size([6, 2]), torch.Size([1, 2]))
    """
    if wrt not in ("A", "B"):
        raise ParameterError(f"wrt must be 'A' or 'B', got {wrt!r}")
    if workspace is None:
        workspace = Workspace()
    if beta == 2:
        return _euclidean_parts(V, A, B, wrt, gram_B, workspace)
    return _blocked_parts(V, A, B, beta, wrt, workspace)


def _euclidean_parts(V, A, B, wrt, gram_B, workspace):
    # beta = 2: the weights are V and the model itself, and the model's part factors through
    # a K x K Gram matrix, so the model is never formed (two GEMMs with V, K x K algebra).
    # The product with V may have been computed by the last loss evaluation.
    # The product with V and the other factor's Gram matrix may come from the last loss
    # evaluation or from NMF's pass over H (see nmf_update_H_).
    kept = workspace.take(f"stashed products for {wrt}", V, B if wrt == "A" else A)
    negative, gram = kept if kept is not None else (_product_with_V(V, A, B, wrt, workspace), None)
    if wrt == "B":
        gram_A = gram if gram is not None else torch.matmul(A.transpose(-1, -2), A)
        return negative, torch.matmul(gram_A, B)
    per_item = A.dim() == 3
    gram_B = gram if gram is not None else gram_B if gram_B is not None else _gram(B, per_item)
    # the positive part in the negative's layout, so that the update reads both alike
    if per_item:
        positive = torch.matmul(A, gram_B)
    else:  # gram_B is symmetric: (gram_B Aᵀ)ᵀ
        M, K = A.shape
        positive = _split_product(gram_B, A.t(), workspace.buffer("Gram part for A", (K, M), A)).t()
    return negative, positive


def _product_with_V(V, A, B, wrt, workspace, name=None):
    """The negative part for beta = 2: ``V Bᵀ`` (summed over shared items) or ``Aᵀ V``
    (written to the workspace buffer ``name``).

    One item is one GEMM split into bands of columns (:func:`_split_product`); several go by
    blocks.
    """
    name = name or f"product of V for {wrt}"
    if V.shape[0] > 1:
        return _accumulate(V, A, B, wrt, workspace, [name], lambda k, items, rows, A_block: [V[items, rows]])[0]
    A2 = A if A.dim() == 2 else A[0]
    if wrt == "B":  # Aᵀ V with the short K axis first, as in _add_to_B_part
        out = workspace.buffer(name, (1, A2.shape[1], V.shape[2]), V)
        _split_product(A2.t(), V[0], out[0])
        return out
    # (B Vᵀ)ᵀ, likewise; stored transposed as in _add_to_A_part
    out = workspace.buffer(name, (B.shape[1], V.shape[1]), V)
    _split_product(B[0], V[0].t(), out)
    return out.t() if A.dim() == 2 else out.t().unsqueeze(0)


def _block_weights(V, A_block, B, beta, workspace, k, items, rows):
    """The weights (negative, and positive unless beta = 1) of a block of V, formed in worker
    ``k``'s buffers from the block's model ``A_block @ B[items]``."""
    n, m, P = items.stop - items.start, rows.stop - rows.start, V.shape[2]
    model = _product(A_block, B[items], _scratch(workspace, "block", k, n * m * P, V).view(n, m, P))
    pos_out = None if beta == 1 else _scratch(workspace, "positive weight", k, n * m * P, V).view(n, m, P)
    weights = data_weights(V[items, rows], model, beta, overwrite=True, positive_out=pos_out)
    return [w for w in weights if w is not None]


def _blocked_parts(V, A, B, beta, wrt, workspace):
    K = A.shape[-1]

    def weights(k, items, rows, A_block):
        return _block_weights(V, A_block, B, beta, workspace, k, items, rows)

    names = [f"negative {wrt}"] + ([] if beta == 1 else [f"positive {wrt}"])
    parts = _accumulate(V, A, B, wrt, workspace, names, weights)
    if beta != 1:
        return parts[0], parts[1]
    # the positive weight is one: the parts are sums of the other factor
    if wrt == "A":
        return parts[0], B.sum((0, 2)).view(1, K) if A.dim() == 2 else B.sum(2).unsqueeze(1)
    return parts[0], A.sum(0).view(1, K, 1) if A.dim() == 2 else A.sum(1).unsqueeze(2)


def _accumulate(V, A, B, wrt, workspace, names, weights):
    """The parts ``weight @ Bᵀ`` (``wrt="A"``) or ``Aᵀ @ weight`` (``wrt="B"``) for each weight
    that ``weights(worker, items, rows, A_block)`` returns for a block of V, one per name.

    Blocks that add into the same entries (bands of rows of an item for B's parts, several
    items for a shared A's) are summed by each worker into its own zeroed copy, and the copies
    are added up in worker order at the end.
    """
    N, M, P = V.shape
    K = A.shape[-1]
    shared = A.dim() == 2
    blocks, n_workers = _plan(V, workspace)
    summed = blocks[0][1] != slice(0, M) if wrt == "B" else shared and N > 1

    def part(name):
        if wrt == "B":
            return workspace.buffer(name, (N, K, P), V)
        if shared:  # stored transposed: see _add_to_A_part
            return workspace.buffer(name, (K, M), V).t()
        return workspace.buffer(name, (N, M, K), V)

    copies = [[part(name + (f" {k}" if k else "")) for name in names]
              for k in range(n_workers if summed else 1)]
    if summed:
        for target in sum(copies, []):
            target.zero_()

    def work(k, items, rows):
        A_block = _block_of(A, items, rows)
        for target, weight in zip(copies[k if summed else 0], weights(k, items, rows, A_block)):
            if wrt == "A":
                _add_to_A_part(_block_of(target, items, rows), weight, B[items], not summed)
            else:
                _add_to_B_part(target[items], A_block, weight, not summed)

    _run_blocks(blocks, work, n_workers)
    for extra in copies[1:]:
        for target, partial in zip(copies[0], extra):
            target.add_(partial)
    return copies[0]


def _scratch(workspace: Workspace, name: str, worker: int, numel: int, like: Tensor) -> Tensor:
    """The first ``numel`` elements of worker ``worker``'s block buffer ``name``."""
    return workspace.flat(f"{name} {worker}", numel, like)


@_on_one_thread
def linear_loss(
    V: Tensor,
    A: Tensor,
    B: Tensor,
    beta: float,
    workspace: Optional[Workspace] = None,
    gram_B: Optional[Tensor] = None,
    next_wrt: str = "B",
) -> Tensor:
    """:math:`D_\\beta(V \\mid A B)` for the shapes of :func:`linear_parts` (0-dim, V's dtype).

    For beta = 2 it is :math:`\\tfrac12(\\lVert V\\rVert^2 - 2\\langle A^\\top V, B\\rangle +
    \\langle A^\\top A, \\sum_n B_n B_n^\\top\\rangle)`, accumulated in float64 (the terms cancel
    when the fit is good); otherwise the model is formed block by block. The terms that depend
    on V alone are computed once per workspace. For beta = 2 the product with V is kept in the
    workspace for the next :func:`linear_parts` call with ``wrt=next_wrt`` (a fit updates that
    factor next).

    Examples
    --------
    >>> V, A, B = torch.rand(1, 6, 5), torch.rand(6, 2), torch.rand(1, 2, 5)
    >>> torch.allclose(linear_loss(V, A, B, 2), ((V - A @ B) ** 2).sum() / 2)
    True
    """
    if workspace is None:
        workspace = Workspace()
    if beta == 2:
        squared_norm = workspace.memo(
            "sum of V²", V,
            lambda: _block_sum(V, workspace, lambda v, out, *_: torch.mul(v, v, out=out).sum()))
        # <V, A B> through the product with V that the next update of ``next_wrt`` needs, kept
        # for that update with the other factor's Gram matrix: it then costs no product with V
        key, factor = f"stashed products for {next_wrt}", (B if next_wrt == "A" else A)
        kept = workspace.take(key, V, factor, keep=True)
        if kept is None:  # its own buffer: an update's products must not overwrite it
            product = _product_with_V(V, A, B, next_wrt, workspace, name=key)
            if next_wrt == "A":
                gram = gram_B if gram_B is not None else _gram(B, A.dim() == 3)
            else:
                gram = torch.matmul(A.transpose(-1, -2), A)
            kept = (product, gram)
            workspace.stash(key, kept, V, factor)
        product, gram = kept
        gram_A = gram if next_wrt == "B" else torch.matmul(A.transpose(-1, -2), A)
        gram_B = gram if next_wrt == "A" else gram_B if gram_B is not None else _gram(B, A.dim() == 3)
        cross = (product.double() * (A if next_wrt == "A" else B).double()).sum()
        model_norm = (gram_A.double() * gram_B.double()).sum()
        return (0.5 * (squared_norm - 2 * cross + model_norm)).clamp_min(0).to(V.dtype)

    def model(items, rows, out):
        return _product(_block_of(A, items, rows), B[items], out)

    if beta == 1:
        # sum V log(V / model) - V + model: the V-only terms once, sum(model) from the factors'
        # sums, and log(model) in place (xlogy and temporaries cost 10x more)
        constant = workspace.memo("sum of V log V - V", V, lambda: _block_sum(
            V, workspace, lambda v, out, *_: torch.xlogy(v, v, out=out).sum() - v.sum()))
        eps = eps_for(V.dtype)
        cross = _block_sum(V, workspace, lambda v, out, items, rows: (
            model(items, rows, out).add_(eps).log_().mul_(v).sum()))
        model_sum = (A.sum(-2) * B.sum(-1)).sum().double()
        return (constant - cross + model_sum).clamp_min(0).to(V.dtype)
    return _block_sum(
        V, workspace, lambda v, out, items, rows: beta_div(model(items, rows, out), v, beta)).to(V.dtype)


def _block_sum(V: Tensor, workspace: Workspace, term) -> Tensor:
    """The float64 sum over V's blocks of ``term(v, out, items, rows)`` (a 0-dim tensor): ``v``
    is the block ``V[items, rows]`` and ``out`` a buffer of its shape.

    Float32 sums of cache-sized blocks, added in float64 in block order: accurate to ~1e-9
    where one float32 sum over all of V can be off by 1e-3, and 20x faster than converting V
    to float64.
    """
    blocks, n_workers = _plan(V, workspace)
    sums = [None] * len(blocks)
    index = {(items.start, rows.start): i for i, (items, rows) in enumerate(blocks)}

    def work(k, items, rows):
        v = V[items, rows]
        out = _scratch(workspace, "block", k, v.numel(), V).view(v.shape)
        sums[index[items.start, rows.start]] = term(v, out, items, rows).double()

    _run_blocks(blocks, work, n_workers)
    return torch.stack(sums).sum() if sums else torch.zeros((), dtype=torch.float64, device=V.device)


# -- NMF ----------------------------------------------------------------------------------------

@_on_one_thread
def nmf_parts(
    name: str, V: Tensor, W: Tensor, H: Tensor, beta: float, workspace: Optional[Workspace] = None
) -> Tuple[Tensor, Tensor]:
    """Gradient parts for ``V (N, C) ≈ H Wᵀ`` with ``W (C, R)``, ``H (N, R)``.

    For beta = 2 the parts are ``Vᵀ H`` and ``W (Hᵀ H)`` (and symmetrically for H): the
    product ``H Wᵀ`` is never formed. Sparse COO ``V`` is supported for beta = 1 and 2.
    """
    if V.is_sparse:
        return _sparse_nmf_parts(name, V, W, H, beta)
    # V ≈ A B with A = H (N, R), B = Wᵀ (R, C): H is the left factor, W the right one
    if name == "H":
        return linear_parts(V.unsqueeze(0), H, W.t().unsqueeze(0), beta, "A", workspace)
    negative, positive = linear_parts(V.unsqueeze(0), H, W.t().unsqueeze(0), beta, "B", workspace)
    return negative[0].t(), positive[0].t()


@_on_one_thread
def nmf_loss(V: Tensor, W: Tensor, H: Tensor, beta: float, workspace: Optional[Workspace] = None) -> Tensor:
    """:math:`D_\\beta(V \\mid H W^\\top)` without forming ``H Wᵀ`` at once (dense V)."""
    return linear_loss(V.unsqueeze(0), H, W.t().unsqueeze(0), beta, workspace)


@_on_one_thread
def nmf_update_H_(V: Tensor, W: Tensor, H: Tensor, beta: float, workspace: Workspace, *,
                  prepare_W: bool = False) -> None:
    """Update ``H`` in place a block of rows at a time, through ``workspace.update``.

    Each block is updated as soon as its parts are known (H's rows are independent given W),
    on the thread that computed them, while its rows are in cache: no full-size pass over H in
    the main thread. For beta = 2 with ``prepare_W`` the pass also accumulates ``Hᵀ V`` with
    the updated rows, the next W update's negative part, while each block of V is still in
    cache; it is stashed for that update and for the loss, so that an iteration reads V from
    memory once instead of twice.
    """
    N, C = V.shape
    R = W.shape[1]
    V3, B = V.unsqueeze(0), W.t().unsqueeze(0)
    blocks, n_workers = _plan(V3, workspace)
    gram = W.t() @ W if beta == 2 else None
    sum_W = W.sum(0, keepdim=True) if beta == 1 else None
    # parts stored transposed (see _add_to_A_part), the product with V summed per worker
    negative = workspace.buffer("negative A", (R, N), V).t()
    positive = workspace.buffer("positive A", (R, N), V).t() if beta not in (1, 2) else None
    prepare_W = prepare_W and beta == 2
    # per worker: Hᵀ V and Hᵀ H with the updated rows; and a copy of them, the stash's key
    products = [workspace.buffer(f"Hᵀ V {k}", (R, C), V).zero_()
                for k in range(n_workers if prepare_W else 0)]
    grams = [torch.zeros(R, R, dtype=V.dtype, device=V.device) for _ in products]
    H_copy = workspace.buffer("H after the update", H.shape, H) if prepare_W else None

    def work(k, items, rows):
        if beta == 2:
            negative[rows].addmm_(V[rows], W, beta=0)
            workspace.update("H", negative[rows], (gram @ H[rows].t()).t(), rows)
            if prepare_W:
                products[k].addmm_(H[rows].t(), V[rows])
                grams[k].addmm_(H[rows].t(), H[rows])
                H_copy[rows].copy_(H[rows])
            return
        weights = _block_weights(V3, H[rows], B, beta, workspace, k, items, rows)
        for target, weight in zip((negative, positive), weights):
            _add_to_A_part(target[rows], weight, B, True)
        workspace.update("H", negative[rows], sum_W if beta == 1 else positive[rows], rows)

    _run_blocks(blocks, work, n_workers)
    if prepare_W:
        for product, gram_H in zip(products[1:], grams[1:]):
            products[0].add_(product)
            grams[0].add_(gram_H)
        workspace.stash("stashed products for B", (products[0].unsqueeze(0), grams[0]), V3, H, H_copy)


@_on_one_thread
def batched_nmf_parts(
    name: str, V: Tensor, W: Tensor, H: Tensor, beta: float, workspace: Optional[Workspace] = None
) -> Tuple[Tensor, Tensor]:
    """:func:`nmf_parts` for B independent factorisations ``V[b] (N, C) ≈ H[b] W[b]ᵀ`` at once.

    ``V (B, N, C)``, ``W (B, C, R)``, ``H (B, N, R)``: batched matrix products replace a Python
    loop over small problems (each item's parts are exactly those of :func:`nmf_parts`).

    Examples
    --------
    >>> V, W, H = torch.rand(4, 30, 20), torch.rand(4, 20, 3), torch.rand(4, 30, 3)
    >>> negative, positive = batched_nmf_parts("W", V, W, H, beta=2)
    >>> torch.allclose(negative[1], nmf_parts("W", V[1], W[1], H[1], beta=2)[0])
    True
    """
    if name == "H":
        return linear_parts(V, H, W.transpose(1, 2), beta, "A", workspace)
    negative, positive = linear_parts(V, H, W.transpose(1, 2), beta, "B", workspace)
    return negative.transpose(1, 2), positive.transpose(1, 2)


@_on_one_thread
def batched_nmf_loss(V: Tensor, W: Tensor, H: Tensor, beta: float,
                     workspace: Optional[Workspace] = None) -> Tensor:
    """The summed loss of :func:`batched_nmf_parts`' factorisations."""
    return linear_loss(V, H, W.transpose(1, 2), beta, workspace)


def _sparse_nmf_parts(name, V, W, H, beta):
    other = H if name == "W" else W
    own = W if name == "W" else H
    if beta == 2:
        return torch.sparse.mm(V.t() if name == "W" else V, other), own @ (other.t() @ other)
    if beta != 1:
        raise ParameterError("sparse V is supported for beta = 1 and 2 only; densify it first")
    ratio = _sparse_ratio(V, W, H)
    return torch.sparse.mm(ratio.t() if name == "W" else ratio, other), other.sum(0, keepdim=True)


def _sparse_ratio(V: Tensor, W: Tensor, H: Tensor) -> Tensor:
    """``V / (H Wᵀ)`` evaluated at the stored entries of a coalesced sparse ``V``."""
    rows, cols = V.indices()
    model = (H[rows] * W[cols]).sum(1) + eps_for(V.dtype)
    return sparse_with_values(V, V.values() / model)


# -- NMFD ---------------------------------------------------------------------------------------

def nmfd_reconstruct(H: Tensor, W: Tensor) -> Tensor:
    """``V[n, c, l] = sum_{r, t} W[c, r, t] H[n, r, l - t]`` for ``W (C, R, T)``, ``H (N, R, J)``."""
    return F.conv1d(H, W.flip(2), padding=W.shape[2] - 1)


def shifted_activations(H: Tensor, T: int, workspace: Optional[Workspace] = None, *,
                        aligned: bool = False) -> Tensor:
    """``Hs[n, r T + t, l] = H[n, r, l - t]`` (zero outside), shape ``(N, R T, J + T - 1)``.

    With it NMFD's model is one matrix product, ``W.reshape(C, R T) @ Hs[n]``. With
    ``aligned=True`` (an aligned NMFD, whose ``H`` is ``T - 1`` frames longer than V):
    ``Hs[n, r T + t, l] = H[n, r, l + T - 1 - t]``, shape ``(N, R T, J - T + 1)``, every
    window inside ``H``.
    """
    N, R, J = H.shape
    if workspace is None:
        workspace = Workspace()
    if aligned:
        L = J - T + 1
        shifted = workspace.buffer("aligned shifted activations", (N, R, T, L), H)
        for t in range(T):
            shifted[:, :, t].copy_(H[..., T - 1 - t:T - 1 - t + L])
        return shifted.view(N, R * T, L)
    L = J + T - 1
    # the zeros outside the windows are written once: every call rewrites the same windows
    shifted = workspace.buffer("shifted activations", (N, R, T, L), H, zeros=True)
    for t in range(T):
        shifted[:, :, t, t:t + J].copy_(H)
    return shifted.view(N, R * T, L)


def fold_shifts(P: Tensor, T: int, *, aligned: bool = False) -> Tensor:
    """``out[n, r, j] = sum_t P[n, r T + t, j + t]`` for ``P (N, R T, L)``: the adjoint of
    :func:`shifted_activations`, shape ``(N, R, L - T + 1)``; with ``aligned=True``
    ``out[n, r, j] = sum_t P[n, r T + t, j + t - T + 1]`` (zero outside), ``(N, R, L + T - 1)``."""
    if aligned:  # the frames before and after V's take no part
        P = F.pad(P, (T - 1, T - 1))
    N, RT, L = P.shape
    P = P.contiguous()
    # the (t, j) -> t (L + 1) + j diagonal walk is a strided view: one reduction, no loop
    diagonals = P.as_strided((N, RT // T, T, L - T + 1), (RT * L, T * L, L + 1, 1), P.storage_offset())
    return diagonals.sum(2)


def _shifted_gram(Hs: Tensor, R: int, T: int) -> Tensor:
    """``sum_n Hs[n] Hs[n]ᵀ`` (R T x R T) from its first block row: the product of two shifted
    rows depends only on the difference of their shifts (H's autocorrelation)."""
    N, RT, L = Hs.shape
    unshifted = Hs.view(N, R, T, L)[:, :, 0, :]
    first = (unshifted[0] @ Hs[0].t() if N == 1 else torch.bmm(unshifted, Hs.transpose(1, 2)).sum(0))
    return first.reshape(-1)[_toeplitz_index(R, T, Hs.device)].view(RT, RT)


@functools.lru_cache(maxsize=16)
def _toeplitz_index(R: int, T: int, device: torch.device) -> Tensor:
    """Where ``gram[(r, t), (q, s)]`` lies in the first block row: ``first[r, q T + s - t]``
    for ``s >= t``, its transpose's entry otherwise (flattened indices)."""
    r, t, q, s = (i.reshape(-1) for i in torch.meshgrid(
        *(torch.arange(n, device=device) for n in (R, T, R, T)), indexing="ij"))
    return torch.where(s >= t, r * R * T + q * T + (s - t), q * R * T + r * T + (t - s))


def _shift_kernel(gram: Tensor, R: int, T: int) -> Tensor:
    """The ``(R, R, 2T - 1)`` conv1d weight of ``Hs ↦ fold(gram @ Hs)``: the sums of the
    ``(r, q)`` blocks of the ``(R T, R T)`` Gram matrix along their diagonals (one per shift)."""
    padded = F.pad(gram.view(R, T, R, T), (T - 1, T - 1))  # (R, T, R, 3T - 2)
    U = 3 * T - 2
    # diagonal k of block (r, q): the entries (t, t + k), a strided walk over the padded blocks
    diagonals = padded.as_strided((R, R, 2 * T - 1, T), (T * R * U, U, 1, R * U + 1))
    return diagonals.sum(-1).flip(-1)


@_on_one_thread
def nmfd_parts(
    name: str, V: Tensor, W: Tensor, H: Tensor, beta: float, workspace: Optional[Workspace] = None,
    *, aligned: bool = False,
) -> Tuple[Tensor, Tensor]:
    """Gradient parts for NMFD, ``V (N, C, L)``, ``W (C, R, T)``, ``H (N, R, L - T + 1)``, or
    ``H (N, R, L + T - 1)`` with ``aligned=True`` (:class:`nmfsep.nmf.NMFD`'s ``aligned``).

    ``V[n] ≈ W₂ Hs[n]`` (:func:`shifted_activations`): the W-parts are one product with V
    (``V Hsᵀ``), the H-parts one product (``W₂ᵀ V``) folded back over the shifts. For
    beta = 2 the positive parts need no model: ``W₂`` times H's autocorrelation, and H
    convolved with W's (R x R x (2T - 1) each); aligned, where the frames past V's ends
    break the shift invariance, the Gram matrices of ``Hs`` and ``W₂``.
    """
    C, R, T = W.shape
    if workspace is None:
        workspace = Workspace()
    W2 = W.reshape(C, R * T)
    if name == "H" and beta == 2 and not aligned:
        gram_W = _split_product(W2.t(), W2, torch.empty(R * T, R * T, dtype=W.dtype, device=W.device))
        positive = F.conv1d(H, _shift_kernel(gram_W, R, T), padding=T - 1)
        return fold_shifts(_product_with_V(V, W2, None, "B", workspace), T), positive
    Hs = shifted_activations(H, T, workspace, aligned=aligned)
    if name == "W":
        gram = _nmfd_gram(Hs, R, T, aligned) if beta == 2 else None
        negative, positive = linear_parts(V, W2, Hs, beta, "A", workspace, gram_B=gram)
        return negative.reshape(C, R, T), positive.reshape(-1, R, T)
    negative, positive = linear_parts(V, W2, Hs, beta, "B", workspace)
    if positive.shape[-1] == 1:  # beta = 1: sum of W over channels and shifts
        if not aligned:
            return fold_shifts(negative, T), positive.view(1, R, T).sum(2, keepdim=True)
        # aligned, the activations near the ends meet fewer of V's frames
        positive = positive.expand(1, R * T, Hs.shape[-1])
    return fold_shifts(negative, T, aligned=aligned), fold_shifts(positive, T, aligned=aligned)


def _nmfd_gram(Hs: Tensor, R: int, T: int, aligned: bool) -> Tensor:
    """``sum_n Hs[n] Hs[n]ᵀ``: from H's autocorrelation, or (aligned) as a product."""
    return _gram(Hs, False) if aligned else _shifted_gram(Hs, R, T)


@_on_one_thread
def nmfd_loss(V: Tensor, W: Tensor, H: Tensor, beta: float,
              workspace: Optional[Workspace] = None, *, aligned: bool = False) -> Tensor:
    """:math:`D_\\beta(V \\mid \\hat V)` for NMFD (shapes of :func:`nmfd_parts`) through the
    shifted activations: for beta = 2 from Gram matrices and ``W₂ᵀ V``, otherwise block by
    block, without the convolution's full-size temporaries.

    Examples
    --------
    >>> V, W, H = torch.rand(1, 6, 20), torch.rand(6, 2, 3), torch.rand(1, 2, 18)
    >>> torch.allclose(nmfd_loss(V, W, H, 2), ((V - nmfd_reconstruct(H, W)) ** 2).sum() / 2)
    True
    """
    C, R, T = W.shape
    if workspace is None:
        workspace = Workspace()
    Hs = shifted_activations(H, T, workspace, aligned=aligned)
    gram = _nmfd_gram(Hs, R, T, aligned) if beta == 2 else None
    return linear_loss(V, W.reshape(C, R * T), Hs, beta, workspace, gram_B=gram, next_wrt="A")
