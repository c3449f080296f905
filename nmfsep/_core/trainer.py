"""Optimisers that train NMF modules and chains of them (``torch.optim.Optimizer`` style).

Both follow torchnmf's closure protocol::

    trainer = BetaMu(model.parameters(), beta=1)
    for _ in range(200):
        def closure():
            trainer.zero_grad()
            return V, model(None)
        trainer.step(closure)
"""

from __future__ import annotations

import weakref
from typing import Callable, Optional

import torch
from torch import Tensor
from torch.optim import Optimizer

from .._errors import ParameterError
from ._validation import check_beta, check_real
from .updates import autograd_parts, multiplicative_update_

__all__ = ["BetaMu", "SparsityProj", "fixed_mask_of", "hoyer_project"]


# id(parameter) -> (weak references to the parameter and to the module that owns it, the
# factor's name): the trainers see only parameters, and the module says which of their entries
# it holds fixed. Weak references, so the registry keeps neither alive (keyed by id: tensors
# compare element-wise, so they cannot be dictionary keys of their own).
_OWNERS: dict = {}


def register_factor(param: Tensor, module, name: str) -> None:
    """Record that ``param`` is factor ``name`` of ``module`` (whose ``_fixed(name)`` gives its
    fixed entries), for :func:`fixed_mask_of`."""
    key = id(param)
    entry = _OWNERS.get(key)
    if entry is not None and entry[0]() is param:
        _OWNERS[key] = (entry[0], weakref.ref(module), name)
        return
    forget = weakref.ref(param, lambda _, key=key: _OWNERS.pop(key, None))
    _OWNERS[key] = (forget, weakref.ref(module), name)


def fixed_mask_of(param: Tensor) -> Optional[Tensor]:
    """The mask of the entries held fixed in ``param`` by the module that owns it, or None.

    The mask broadcasts against ``param`` (per component, or an entry mask); a parameter no
    module has registered (:func:`register_factor`), or one its module no longer holds, has
    none.
    """
    entry = _OWNERS.get(id(param))
    if entry is None or entry[0]() is not param:
        return None
    module, name = entry[1](), entry[2]
    if module is None or getattr(module, name, None) is not param:
        return None
    return module.fixed_mask(name)


class _OneParamAtATime:
    """Context that leaves only one parameter trainable, restoring every flag afterwards."""

    def __init__(self, params):
        self.params = params
        self.flags = [p.requires_grad for p in params]

    def __enter__(self):
        for p in self.params:
            p.requires_grad_(False)
        return self

    def __exit__(self, *exc):
        for p, flag in zip(self.params, self.flags):
            p.requires_grad_(flag)


class BetaMu(Optimizer):
    r"""Multiplicative updates minimising the beta-divergence between a target and a model.

    Each :meth:`step` updates every parameter in turn (the others held), re-evaluating the
    closure so that the model reflects the latest values. The gradient's positive and negative
    parts come from autograd, so any chain of non-negative modules (``nn.Sequential`` of NMF
    modules, a custom ``forward``) trains end to end.

    Parameters
    ----------
    params : iterable
        Parameters or parameter-group dicts. Each must stay non-negative.
    beta : float
        Divergence to minimise (2: Euclidean, 1: Kullback-Leibler, 0: Itakura-Saito; any real).
    l1_reg, l2_reg : float
        L1 penalty and L2 penalty (weight decay).
    orthogonal : float
        Penalty on overlap between components.
    monotone : bool
        Use the exponent of Févotte & Idier (2011) that guarantees a non-increasing loss for
        every beta (default, as torchnmf's ``BetaMu``). ``False`` gives the plain heuristic
        update (exponent 1).

    Notes
    -----
    After a step each updated parameter's ``grad`` holds the gradient of the divergence
    (positive minus negative part) at the values it was updated from, as in torchnmf.

    The closure returns ``(target, output)``. The model's Jacobian must be non-negative, which
    holds for products and convolutions of non-negative factors. Entries that an NMF module
    holds fixed (``fixed_W`` / ``fixed_H``) stay bit-exact.

    Examples
    --------
    >>> import torch, torch.nn as nn
    >>> from nmfsep.nmf import NMF
    >>> V = torch.rand(64, 32)
    >>> model = nn.Sequential(NMF((64, 10), rank=4), NMF(W=(32, 10)))
    >>> trainer = BetaMu(model.parameters(), beta=2)
    >>> def closure():
    ...     trainer.zero_grad()
    ...     return V, model(None)
    >>> for _ in range(5):
    ...     trainer.step(closure)
    """

    def __init__(self, params, beta=1, l1_reg=0, l2_reg=0, orthogonal=0, monotone=True):
        beta = check_beta(beta)
        for name, value in (("l1_reg", l1_reg), ("l2_reg", l2_reg), ("orthogonal", orthogonal)):
            if value < 0:
                raise ParameterError(f"{name} must be non-negative, got {value}")
        defaults = dict(beta=beta, l1_reg=l1_reg, l2_reg=l2_reg, orthogonal=orthogonal, monotone=monotone)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable):
        """Update every parameter once; ``closure()`` returns ``(target, output)``."""
        if closure is None:
            raise ParameterError("BetaMu.step needs a closure returning (target, output)")
        params = [p for group in self.param_groups for p in group["params"]]
        trainable = {id(p) for p in params if p.requires_grad}
        with _OneParamAtATime(params):
            for group in self.param_groups:
                for p in group["params"]:
                    if id(p) not in trainable:
                        continue
                    p.requires_grad_(True)
                    with torch.enable_grad():
                        target, output = closure()
                    if not output.requires_grad:
                        p.requires_grad_(False)
                        continue
                    negative, positive = autograd_parts(target, output, p, group["beta"])
                    p.grad = positive - negative  # the loss's gradient, left there as torchnmf does
                    multiplicative_update_(
                        p.data, negative, positive, beta=group["beta"], l1=group["l1_reg"],
                        l2=group["l2_reg"], orthogonal=group["orthogonal"], fixed=fixed_mask_of(p),
                        exponent=None if group["monotone"] else 1.0,
                    )
                    p.requires_grad_(False)
        return None


def hoyer_project(x: Tensor, sparsity: float) -> Tensor:
    """Project each column of ``x`` (shape ``(n, m)``) onto the non-negative vectors of equal
    L2 norm whose Hoyer sparseness is ``sparsity``.

    Hoyer (2004), projection operator of section 3.1, run on all columns at once.
    """
    n, m = x.shape
    root_n = n ** 0.5
    l2 = x.norm(dim=0).clamp_min(torch.finfo(x.dtype).tiny)
    l1 = l2 * (root_n - sparsity * (root_n - 1))
    s = x + (l1 - x.sum(0)) / n
    zeros = torch.zeros_like(x, dtype=torch.bool)
    for _ in range(n):
        free = (~zeros).sum(0).clamp_min(1)
        midpoint = torch.where(zeros, torch.zeros_like(s), (l1 / free).expand_as(s))
        w = s - midpoint
        # solve ||midpoint + a w||^2 = l2^2 for a >= 0
        a_coef = (w * w).sum(0)
        b_coef = 2 * (w * midpoint).sum(0)
        c_coef = (midpoint * midpoint).sum(0) - l2 ** 2
        disc = (b_coef ** 2 - 4 * a_coef * c_coef).clamp_min(0)
        alpha = (-b_coef + disc.sqrt()) / (2 * a_coef).clamp_min(torch.finfo(x.dtype).tiny)
        s = midpoint + alpha * w
        negative = s < 0
        if not bool(negative.any()):
            break
        zeros |= negative
        s = s.masked_fill(zeros, 0)
        free = (~zeros).sum(0).clamp_min(1)
        shift = (s.sum(0) - l1) / free
        s = torch.where(zeros, s, s - shift)
    return s.clamp_min(0)


class SparsityProj(Optimizer):
    r"""Projected gradient descent with Hoyer's sparseness constraint.

    After each gradient step every component (slice along ``dim``) is projected onto the
    non-negative vectors with the target sparseness and unchanged L2 norm; the step size is
    halved until the loss does not increase and grows by 1.2 after a success (Hoyer 2004).

    Parameters
    ----------
    params : iterable
        Parameters to optimise.
    sparsity : float
        Target sparseness in (0, 1); see :func:`nmfsep.metrics.sparseness`.
    dim : int
        Component axis of the parameters (1 for NMF's ``W`` and ``H``).
    max_iter : int
        Maximum closure evaluations per step for the step-size search.

    Notes
    -----
    The closure clears gradients, computes the loss, and returns it (it is not back-propagated
    by the closure).
    """

    def __init__(self, params, sparsity, dim=1, max_iter=10):
        sparsity = check_real(sparsity, "sparsity", low=0, high=1, low_open=True, high_open=True)
        if max_iter < 1:
            raise ParameterError(f"max_iter must be at least 1, got {max_iter}")
        super().__init__(params, dict(sparsity=sparsity, dim=dim, max_iter=max_iter))
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["lr"] = 1.0

    @staticmethod
    def _project(p: Tensor, sparsity: float, dim: int) -> Tensor:
        moved = p.movedim(dim, -1)
        flat = moved.reshape(-1, moved.shape[-1])
        return hoyer_project(flat, sparsity).reshape(moved.shape).movedim(-1, dim)

    @torch.no_grad()
    def step(self, closure: Callable):
        """One projected-gradient step per parameter; returns the last loss."""
        if closure is None:
            raise ParameterError("SparsityProj.step needs a closure returning the loss")
        loss = None
        for group in self.param_groups:
            for p in group["params"]:
                if not p.requires_grad:
                    continue
                with torch.enable_grad():
                    loss = closure()
                    (grad,) = torch.autograd.grad(loss, p)
                fixed = fixed_mask_of(p)
                state = self.state[p]
                start = p.detach().clone()
                for _ in range(group["max_iter"]):
                    candidate = self._project(start - state["lr"] * grad, group["sparsity"], group["dim"])
                    if fixed is not None:
                        candidate = torch.where(fixed.to(p.device), start, candidate)
                    p.copy_(candidate)
                    with torch.enable_grad():
                        new_loss = closure()
                    if new_loss <= loss:
                        state["lr"] *= 1.2
                        loss = new_loss
                        break
                    state["lr"] *= 0.5
                else:
                    p.copy_(start)
        return loss
