"""Multiplicative updates for the beta-divergence, shared by every model and by :class:`BetaMu`.

For a model :math:`\\Lambda(\\theta)` that is linear and non-negative in each factor
:math:`\\theta`, the gradient of :math:`D_\\beta(V \\mid \\Lambda)` splits into a positive and a
negative part,

.. math::
    \\nabla_\\theta D = J^\\top \\Lambda^{\\beta-1} - J^\\top (V \\Lambda^{\\beta-2})
                     = P - N,

and :math:`\\theta \\leftarrow \\theta \\, (N / P)^{\\gamma(\\beta)}` never increases the loss with
:math:`\\gamma = 1/(2-\\beta)` for :math:`\\beta < 1`, :math:`1` for :math:`1 \\le \\beta \\le 2` and
:math:`1/(\\beta-1)` for :math:`\\beta > 2` (Févotte & Idier, "Algorithms for nonnegative matrix
factorization with the beta-divergence", Neural Computation 2011).

:func:`autograd_parts` obtains ``N`` and ``P`` for any differentiable model with two backward
passes (this is what trains chains of modules); the models' fast paths compute them in closed
form. Both end in :func:`multiplicative_update_`, the one place where parameters change.
"""

from __future__ import annotations

import contextlib
from typing import Optional, Tuple

import torch
from torch import Tensor

from . import _threads
from ._validation import eps_for

__all__ = [
    "mu_exponent",
    "multiplicative_update_",
    "autograd_parts",
    "data_weights",
    "flush_denormal",
    "denormals_flushed",
]


def mu_exponent(beta: float) -> float:
    """Exponent :math:`\\gamma(\\beta)` that makes the multiplicative update monotone."""
    if beta < 1:
        return 1.0 / (2.0 - beta)
    if beta > 2:
        return 1.0 / (beta - 1.0)
    return 1.0


def data_weights(
    V: Tensor,
    model: Tensor,
    beta: float,
    *,
    overwrite: bool = False,
    positive_out: Optional[Tensor] = None,
) -> Tuple[Tensor, Optional[Tensor]]:
    """The two elementwise weights whose back-projections give the negative and positive parts.

    Returns ``(V * model**(beta-2), model**(beta-1))``; the second is ``None`` for ``beta == 1``
    (a tensor of ones, which callers replace by a cheap sum). ``model`` is guarded by the
    dtype's machine epsilon so that zeros never give NaN or Inf.

    Parameters
    ----------
    V, model : Tensor, same shape
        Data and model.
    beta : float
        Divergence.
    overwrite : bool
        ``model`` may be overwritten: the negative weight is then written into it, which
        spares the fast paths a temporary as large as V (for ``beta == 2`` the weights are
        ``V`` and ``model`` themselves and nothing is written).
    positive_out : Tensor, optional
        Where to write the positive weight (``beta`` not 1 or 2), same shape as ``model``.
    """
    eps = eps_for(model.dtype)
    if beta == 2:
        return V, model
    # from here on ``model`` is ours
    model = model.add_(_constant(eps, model)) if overwrite else model + eps
    if beta == 1:
        return (V / model if V.is_sparse else torch.div(V, model, out=model)), None
    # one power: V model^(beta-2) = V model^(beta-1) / model
    positive = torch.pow(model, beta - 1, out=positive_out)
    ratio = torch.div(positive, model, out=model)
    return (V * ratio if V.is_sparse else ratio.mul_(V)), positive


_CONSTANTS: dict = {}


def _constant(value: float, like: Tensor) -> Tensor:
    """``value`` as a 0-dim tensor of ``like``'s dtype and device, made once: an in-place
    operation with it costs a third of one with a Python number, which torch wraps into a new
    tensor at every call (a streamed frame makes four such calls of 1025 numbers)."""
    key = (value, like.dtype, like.device)
    constant = _CONSTANTS.get(key)
    if constant is None:
        with torch.inference_mode(False):  # an ordinary tensor, usable outside inference mode
            constant = _CONSTANTS[key] = torch.tensor(value, dtype=like.dtype, device=like.device)
    return constant


#: Updates run on the calling thread alone. Woken for an update, torch's OpenMP team spins on
#: after it and takes cores from the fast paths' block workers in the next pass over V:
#: ``BatchNMF`` of 64 clips (64 x 513 x 16 templates) ran 13.5-16.6 ms an iteration with its
#: template updates threaded, 9.1-9.7 ms on one thread, whose update costs 0.1 ms more (2 ms
#: more on 4 M entries, where a pass over V takes hundreds). Up to torch's grain size
#: (``at::internal::GRAIN_SIZE``) the elementwise operations run inline anyway and the limit
#: (4 µs) is skipped, unless the orthogonality penalty's row sums (a reduction, split at
#: smaller sizes) are taken.
_GRAIN_SIZE = 32768


def multiplicative_update_(
    param: Tensor,
    negative: Tensor,
    positive: Optional[Tensor],
    *,
    beta: float,
    l1: float = 0.0,
    l2: float = 0.0,
    orthogonal: float = 0.0,
    fixed: Optional[Tensor] = None,
    exponent: Optional[float] = None,
) -> Tensor:
    """Apply ``param *= (negative / (positive + penalties)) ** gamma`` in place.

    Parameters
    ----------
    param : Tensor
        The factor to update (modified in place, outside autograd).
    negative, positive : Tensor, broadcastable to ``param``
        The two parts of the gradient (``negative`` may be modified in place). ``positive``
        may be None where it is one (the Kullback-Leibler divergence with templates of unit
        sum, held fixed): the ratio is then ``negative`` itself, without a division.
    beta : float
        Divergence, selects the monotone exponent unless ``exponent`` is given.
    l1, l2 : float
        L1 penalty and L2 penalty (weight decay) added to the positive part.
    orthogonal : float
        Penalty on overlap between components (along axis 1): adds
        ``orthogonal * (sum over components - param)``.
    fixed : Tensor of bool, optional
        Broadcastable to ``param``; entries where it is True are left bit-exact.
    exponent : float, optional
        Override of :func:`mu_exponent`.
    """
    if not torch.is_grad_enabled() and torch.get_num_threads() == 1:
        # nothing for the context managers below to do, and entering them costs more than a
        # small update (a streamed frame's activations: four updates of 64 numbers)
        return _update_(param, negative, positive, beta, l1, l2, orthogonal, fixed, exponent)
    limit = orthogonal or param.numel() > _GRAIN_SIZE
    with torch.no_grad(), _threads.one_thread() if limit else contextlib.nullcontext():
        return _update_(param, negative, positive, beta, l1, l2, orthogonal, fixed, exponent)


def _update_(param, negative, positive, beta, l1, l2, orthogonal, fixed, exponent) -> Tensor:
    """The body of :func:`multiplicative_update_` (outside autograd)."""
    if positive is None:
        if not (l1 or l2 or orthogonal):
            return _apply_ratio_(param, negative, beta, fixed, exponent)
        positive = torch.ones_like(param)
    denominator = positive
    # penalties broadcast (the positive part may be a (1, R) sum), so no in-place here
    if l1:
        denominator = denominator + l1
    if l2:
        denominator = denominator + l2 * param
    if orthogonal:
        denominator = denominator + orthogonal * (param.sum(1, keepdim=True) - param)
    denominator = denominator.clamp_min(eps_for(param.dtype) ** 2)
    if negative.shape == param.shape:
        ratio = negative.div_(denominator)
    else:
        ratio = negative / denominator
    return _apply_ratio_(param, ratio, beta, fixed, exponent)


def _apply_ratio_(param, ratio, beta, fixed, exponent) -> Tensor:
    """``param *= ratio ** gamma`` (``ratio`` overwritten), except where ``fixed``."""
    gamma = mu_exponent(beta) if exponent is None else exponent
    if gamma != 1.0:
        ratio.pow_(gamma)
    if fixed is not None:
        ratio = ratio.expand_as(param).masked_fill(fixed.to(param.device), 1.0)
    param.mul_(ratio)
    return param


def autograd_parts(
    V: Tensor, model: Tensor, param: Tensor, beta: float
) -> Tuple[Tensor, Tensor]:
    """Negative and positive gradient parts of :math:`D_\\beta(V|\\text{model})` w.r.t. ``param``.

    ``model`` must have been computed with ``param.requires_grad`` set; the graph is used twice.
    Works for any model whose Jacobian is non-negative (NMF modules and their chains).
    """
    weight_neg, weight_pos = data_weights(V, model.detach(), beta)
    if V.is_sparse:
        weight_neg = weight_neg.to_dense()
    (negative,) = torch.autograd.grad(model, param, weight_neg, retain_graph=True)
    if weight_pos is None:
        weight_pos = torch.ones_like(model)
    (positive,) = torch.autograd.grad(model, param, weight_pos)
    return negative.clamp_min_(0), positive.clamp_min_(0)


# How many flush_denormal blocks are running: threads that work for them (the fast paths'
# block workers) flush denormals too, the flag being per thread.
_flushing = 0


@contextlib.contextmanager
def flush_denormal(device: torch.device):
    """Flush denormal numbers to zero on the CPU while the block runs.

    Multiplicative updates with ``beta < 2`` drive small entries towards zero, where x86 CPUs
    slow down by orders of magnitude on denormals. torch offers no getter for the flag, so it is
    reset to torch's default (off) afterwards. The flag is per thread: helper threads started
    inside the block follow it through :func:`denormals_flushed`.
    """
    global _flushing
    if device.type != "cpu":
        yield
        return
    changed = torch.set_flush_denormal(True)
    _flushing += 1
    try:
        yield
    finally:
        _flushing -= 1
        if changed:
            torch.set_flush_denormal(False)


def denormals_flushed() -> bool:
    """Whether a :func:`flush_denormal` block is running (in any thread)."""
    return _flushing > 0
