r"""Fitting NMF templates from data that arrive in chunks of rows (bounded memory).

``V (N, C) ≈ H Wᵀ`` is split along its rows: ``V = [V_1; V_2; ...]`` with ``V_i (n_i, C)``,
and ``H = [H_1; H_2; ...]`` likewise. The multiplicative update of the templates needs

.. math:: W \leftarrow W \odot \frac{\sum_i N_i}{\sum_i P_i}

where ``(N_i, P_i)`` are the negative and positive parts of the gradient on chunk ``i``
(:func:`nmfsep._core.fastpaths.nmf_parts`), two ``(C, R)`` sums. One epoch therefore streams
the chunks once: for each chunk it fits the activations ``H_i`` with ``W`` fixed, adds the
chunk's parts and loss, and drops the chunk; then ``W`` is updated once. Memory is one chunk,
its activations and ``3 C R`` numbers (W and the two sums) — never the ``N x R`` activations of
the whole data, unless ``keep_activations=True`` asks for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from .._errors import ParameterError, ParameterTypeError
from . import fastpaths
from ._fitting import FitOptions, run_iterations
from ._scaling import ScaledFit, floor_zeros
from ._validation import check_nonnegative, value_range
from .init import initialise_model_, make_generator
from .metrics import beta_div
from .updates import flush_denormal, multiplicative_update_

__all__ = ["is_chunk_source", "fit_chunks"]


def is_chunk_source(V) -> bool:
    """Whether ``V`` is a source of chunks (not one array): see :func:`fit_chunks`.

    True for any iterable that is not a tensor or a numpy array, except a list or tuple of
    numbers (an array-like): a list of tensors, a ``torch.utils.data.DataLoader``, ...
    """
    if isinstance(V, (Tensor, np.ndarray, str, bytes)) or not isinstance(V, Iterable):
        return False
    if isinstance(V, (list, tuple)):
        if not V:
            return False
        first = V[0]
        if isinstance(first, (list, tuple)) and first:
            first = first[0]
        return isinstance(first, (Tensor, np.ndarray)) and first.ndim == 2
    return True


def _chunk_tensor(chunk, index: int, C: int, like: Tensor) -> Tensor:
    """Chunk ``index`` as a dense tensor on ``like``'s device and dtype, validated."""
    if isinstance(chunk, (tuple, list)):  # (data, target) batches of a DataLoader
        if not chunk:
            raise ParameterError(f"chunk {index} is an empty {type(chunk).__name__}")
        chunk = chunk[0]
    chunk = check_nonnegative(chunk, f"chunk {index}")
    if chunk.is_sparse:  # one chunk at a time fits in memory by definition
        chunk = chunk.to_dense()
    if chunk.dim() != 2 or chunk.shape[1] != C:
        raise ParameterError(
            f"chunk {index} has shape {tuple(chunk.shape)}; chunks are rows of V, (n_i, C) with "
            f"C = {C} (the templates' axis 0)"
        )
    return chunk.to(device=like.device, dtype=like.dtype)


def _iterate(chunks, C: int, like: Tensor) -> Iterator[Tuple[int, Tensor]]:
    for index, chunk in enumerate(chunks):
        yield index, _chunk_tensor(chunk, index, C, like)


def _parts(name: str, V: Tensor, W: Tensor, H: Tensor, beta: float, model: Optional[Tensor] = None):
    """:func:`nmf_parts`, through ``H Wᵀ`` instead of R x R Gram matrices when that is cheaper.

    For an overcomplete dictionary (R > C) the Gram products cost ``R² (n + C)`` against
    ``2 n C R`` through the chunk's reconstruction, and an R x R matrix may not fit at all.
    """
    n, C = V.shape
    R = W.shape[1]
    if beta != 2 or R * (n + C) <= 2 * n * C:
        return fastpaths.nmf_parts(name, V, W, H, beta)
    if model is None:
        model = H @ W.t()
    if name == "W":
        return V.t() @ H, model.t() @ H
    return V @ W, model @ W


def fit_chunks(
    model,
    chunks,
    *,
    beta: float = 1,
    max_iter: int = 200,
    inner_iter: Optional[int] = None,
    tol: float = 1e-4,
    verbose: bool = False,
    keep_activations: bool = False,
    alpha: float = 0,
    l1_ratio: float = 0,
    check_every: int = 1,
    callback=None,
    init: Optional[str] = None,
    seed: Optional[int] = None,
) -> int:
    r"""Learn an NMF model's templates ``W`` from chunks of rows of V, with bounded memory.

    Every epoch streams the chunks once: the activations of each chunk are fitted with the
    templates fixed (``inner_iter`` multiplicative updates), the chunk's gradient parts for
    ``W`` and its loss are accumulated, and the chunk is dropped; then ``W`` takes one
    multiplicative update from the sums. Two extra passes come first: one reads the data's
    peak and total (the scale the fit normalises by, as :meth:`~nmfsep.nmf.BaseComponent.fit`:
    any loudness fits alike; init's mean), one gives the initial loss and parts. The loss of
    an epoch is the sum of the chunks' losses (the loss of the whole data with the fitted
    activations).

    Parameters
    ----------
    model : NMF
        The model (plain :class:`~nmfsep.nmf.NMF`: other models do not split along rows).
        Its ``W`` gives the initial templates; ``fixed_W`` / ``trainable_W`` are respected.
    chunks : iterable
        Re-iterable source of chunks, the same rows in the same order every epoch: a list of
        tensors or arrays ``(n_i, C)``, a ``torch.utils.data.DataLoader`` (without shuffling
        when ``keep_activations=True``) yielding such tensors or tuples whose first element is
        one. A generator is consumed by one epoch: wrap it in a class whose ``__iter__``
        builds a new one. Chunks move to the model's device and dtype (stream CPU chunks to
        a model on the GPU); sparse chunks are densified one at a time.
    beta : float
        Divergence (any real; see :meth:`~nmfsep.nmf.BaseComponent.fit`).
    max_iter : int
        Maximum number of epochs (template updates).
    inner_iter : int, optional
        Updates of each chunk's activations per epoch. Default 1 with ``keep_activations``
        (then each epoch is exactly one full-batch iteration), 20 without (activations restart
        from a constant every epoch).
    tol : float
        Stopping rule on the loss, as in ``fit``.
    verbose : bool
        Progress bar over epochs.
    keep_activations : bool
        Keep the activations of all chunks in ``model.H`` (which must have ``N = sum n_i``
        rows, the chunks' rows in order) and warm-start them every epoch. With
        ``inner_iter=1`` the fit equals ``model.fit(V, solver='mu')`` on the concatenated
        chunks, to rounding. Needed with ``fixed_H`` or ``trainable_H=False``. Without it,
        ``model.H`` is left as it is: get activations with ``model.transform(V_i)``.
    alpha, l1_ratio : float
        Regularisation of W and H, as in ``fit``.
    check_every : int
        Record the loss every this many epochs (it is computed every epoch anyway).
    callback : callable, optional
        ``callback(model, epoch, loss)`` after every epoch; return False to stop.
    init : {None, 'random'}
        ``'random'`` draws the factors scaled to the data's mean.
    seed : int, optional
        Seed of ``init``.

    Returns
    -------
    int
        Number of epochs run.

    Examples
    --------
    >>> from nmfsep.nmf import NMF
    >>> _ = torch.manual_seed(0)
    >>> V = torch.rand(200, 4) @ torch.rand(4, 30)
    >>> model = NMF(V.shape, 4, seed=0)
    >>> epochs = fit_chunks(model, list(V.split(50)), beta=2, max_iter=50)
    >>> model.loss_curve_[-1] < model.loss_curve_[0]
    True
    """
    options = FitOptions(beta=beta, tol=tol, max_iter=max_iter, verbose=verbose, alpha=alpha,
                         l1_ratio=l1_ratio, check_every=check_every, inner_iter=inner_iter)
    return fit_chunks_with(model, chunks, options, keep_activations=keep_activations,
                           callback=callback, init=init, seed=seed)


def fit_chunks_with(
    model,
    chunks,
    options: FitOptions,
    *,
    keep_activations: bool = False,
    callback=None,
    init: Optional[str] = None,
    seed: Optional[int] = None,
) -> int:
    """:func:`fit_chunks` with its options validated already (``model.fit(chunks)`` calls it).

    ``options`` holds ``beta``, ``tol``, ``max_iter``, ``verbose``, ``alpha``, ``l1_ratio``,
    ``check_every`` and ``inner_iter`` (its ``solver`` is not read: chunks are fitted with
    multiplicative updates); the other arguments are :func:`fit_chunks`'.

    Returns
    -------
    int
        Number of epochs run.
    """
    from .nmf import NMF  # noqa: PLC0415 - nmf imports this module

    if not isinstance(model, NMF) or not model.has_closed_form():
        raise ParameterError(
            f"fitting from chunks needs a plain NMF model (V (N, C) split along its rows), got "
            f"{type(model).__name__}; concatenate the data and call fit(V) for other models"
        )
    if isinstance(chunks, Tensor) or not isinstance(chunks, Iterable):
        raise ParameterTypeError(f"chunks must be an iterable of (n_i, C) tensors, got {type(chunks).__name__}")
    if isinstance(chunks, Iterator):
        raise ParameterTypeError(
            "chunks is an iterator (e.g. a generator), which one epoch would exhaust; pass a list, "
            "a DataLoader, or an object whose __iter__ returns a new iterator every time"
        )
    beta, l1, l2 = options.beta, options.l1, options.l2
    inner_iter = options.inner_iter
    if inner_iter is None:
        inner_iter = 1 if keep_activations else 20
    train_W = model.W.requires_grad
    train_H = model.H is not None and model.H.requires_grad
    fixed_W = model.fixed_mask("W")
    fixed_H = model.fixed_mask("H") if keep_activations else None
    if fixed_H is not None and fixed_H.shape[0] > 1:
        raise ParameterError("chunked fits hold whole components of H fixed: give fixed_H per component, "
                         "or fit the data as one tensor to fix single entries of H")
    if keep_activations and model.H is None:
        raise ParameterError("keep_activations=True needs model.H (N, R): build the model with Vshape=(N, C)")
    if not keep_activations:
        # without kept activations model.H is not used (it may be None: NMF(W=(C, R)))
        if model.H is not None and (not train_H or model.fixed_mask("H") is not None):
            raise ParameterError(
                "fixed_H and trainable_H=False hold activations of the whole data: pass "
                "keep_activations=True (model.H with one row per row of the chunks)"
            )
        if not train_W:
            raise ParameterError(
                "nothing to learn: the templates are fixed (trainable_W=False) and the activations "
                "are not kept; pass keep_activations=True, or use model.transform(V_i) per chunk"
            )
        if inner_iter < 1:
            raise ParameterError("inner_iter must be at least 1 when the activations are not kept")
    elif not (train_W or train_H):
        raise ParameterError("nothing to fit: both W and H are held fixed (trainable_W/H=False)")
    if keep_activations:
        sampler = getattr(chunks, "sampler", None)
        if isinstance(sampler, torch.utils.data.RandomSampler):
            raise ParameterError(
                "keep_activations=True needs the same rows in the same order every epoch; the "
                "DataLoader shuffles: build it with shuffle=False"
            )

    W = model.W.data
    C, R = W.shape
    if W.dtype not in (torch.float32, torch.float64):
        model.float()
        W = model.W.data

    if init is not None and init != "random":
        raise ParameterError(
            f"init={init!r} needs the whole data at once (an SVD); chunked fits accept "
            f"init=None or 'random'"
        )
    # one pass for the data's peak and total: the scale the fit normalises by (any loudness,
    # as BaseComponent.fit) and init's mean
    # (and the chunks' sizes, which every epoch must repeat)
    high = total = in_dtype = 0.0
    count = n_rows = 0
    sizes: List[int] = []
    for _, V_i in _iterate(chunks, C, W):
        high = max(high, value_range(V_i)[1])
        total += float(V_i.sum(dtype=torch.float64))
        in_dtype += float(V_i.sum())  # init's mean as it always was, for data in the safe band
        count += V_i.numel()
        n_rows += V_i.shape[0]
        sizes.append(V_i.shape[0])

    def start_total() -> float:  # the start's model, without forming it (activations 1/R)
        if keep_activations:
            sums = model.H.detach().sum(0, dtype=torch.float64) * W.sum(0, dtype=torch.float64)
            return float(sums.sum())
        return n_rows / R * float(W.sum(dtype=torch.float64))

    names = ("W", "H") if keep_activations else ("W",)
    with ScaledFit(model, None, names, loss_power=beta, statistics=(high, total),
                   model_total=start_total) as scaled:
        l1, l2 = scaled.penalties(l1, l2)
        if init is not None:  # from the mean of the data the iterations see
            mean = (total * (scaled.data_max / high) if scaled.active else in_dtype) / max(count, 1)
            initialise_model_(model, None, "random", generator=make_generator(seed, W.device),
                              data_mean=mean)

        def scaled_chunks() -> Iterator[Tuple[int, Tensor]]:
            for index, V_i in _iterate(chunks, C, W):
                yield index, floor_zeros(scaled.data(V_i), beta, high=scaled.data_max)

        state = {"negative": None, "positive": None, "loss": None}

        def update_activations(V_i: Tensor, H_i: Tensor, steps: int, gram: Optional[Tensor]) -> None:
            if beta != 2:
                for _ in range(steps):
                    negative, positive = _parts("H", V_i, W, H_i, beta)
                    multiplicative_update_(H_i, negative, positive, beta=beta, l1=l1, l2=l2, fixed=fixed_H)
                return
            # beta = 2: V_i W does not change with H_i, nor Wᵀ W within a pass; compute them once
            negative = V_i @ W
            for step in range(steps):
                positive = H_i @ gram if gram is not None else (H_i @ W.t()) @ W
                # the update divides its negative part in place: copy it unless this is the last use
                multiplicative_update_(H_i, negative if step == steps - 1 else negative.clone(), positive,
                                       beta=beta, l1=l1, l2=l2, fixed=fixed_H)

        def sweep(steps: int) -> None:
            """One pass: fit each chunk's activations, accumulate W's parts and the loss."""
            negative_sum = positive_sum = None
            loss = 0.0
            offset = count = 0
            # the R x R Gram matrix when it is cheaper than going through H_i Wᵀ (not overcomplete)
            gram = W.t() @ W if beta == 2 and R <= C else None
            for index, V_i in scaled_chunks():
                count += 1
                n = V_i.shape[0]
                if index >= len(sizes) or sizes[index] != n:
                    raise ParameterError(
                        f"chunk {index} has {n} rows but had {sizes[index] if index < len(sizes) else 'none'} "
                        f"in the first epoch; the chunks must be the same every epoch"
                    )
                if keep_activations:
                    if offset + n > model.H.shape[0]:
                        raise ParameterError(
                            f"keep_activations=True: the chunks hold more rows than model.H "
                            f"({model.H.shape[0]}); build the model with Vshape=(total rows, {C})"
                        )
                    H_i = model.H.data[offset:offset + n]  # a view: updates land in model.H
                else:
                    H_i = torch.full((n, R), 1.0 / R, dtype=W.dtype, device=W.device)
                if not keep_activations or train_H:
                    update_activations(V_i, H_i, steps, gram)
                reconstruction = H_i @ W.t()
                loss += float(beta_div(reconstruction, V_i, beta))
                if train_W:
                    negative, positive = _parts("W", V_i, W, H_i, beta, model=reconstruction)
                    negative_sum = negative if negative_sum is None else negative_sum.add_(negative)
                    positive_sum = positive if positive_sum is None else positive_sum.add_(positive)
                offset += n
                del V_i, H_i, reconstruction
            if count == 0:
                raise ParameterError("chunks is empty: nothing to fit")
            if count != len(sizes):
                raise ParameterError(
                    f"{count} chunks this epoch but {len(sizes)} in the first; the chunks must be the "
                    f"same every epoch"
                )
            if keep_activations and offset != model.H.shape[0]:
                raise ParameterError(
                    f"keep_activations=True: the chunks hold {offset} rows but model.H has "
                    f"{model.H.shape[0]}; build the model with Vshape=({offset}, {C})"
                )
            state.update(negative=negative_sum, positive=positive_sum, loss=loss)

        def step() -> None:
            if train_W:
                multiplicative_update_(W, state["negative"], state["positive"], beta=beta, l1=l1, l2=l2,
                                       fixed=fixed_W)
            sweep(inner_iter)

        with flush_denormal(W.device):
            # the first pass: kept activations are the initial ones; others are fitted to W
            sweep(0 if keep_activations else inner_iter)
            return run_iterations(model, step, lambda: state["loss"], options,
                                  callback=scaled.callback(callback), desc=f"NMF chunks beta={beta:g}")
