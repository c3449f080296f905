r"""``fit(solver="auto")``: the fastest safe solver for the model, beta and data.

Two accelerations of the existing update kernels, chosen by :func:`auto_solver`:

HALS swept to a stall (``NMF`` at ``beta = 2``, closed form): accelerated HALS (Gillis &
    Glineur 2012). The cross product ``K`` (``Vᵀ H`` or ``V W``) and the Gram matrix ``G`` of
    one factor's block problem cost a pass over V; a HALS sweep
    (:func:`nmfsep.updates.hals_block_`) costs only ``M R²``. So each factor takes
    several sweeps on the same ``(K, G)`` before the other one moves: at most
    :func:`nmfsep.updates.hals_inner_sweeps`, stopping as soon as a sweep changes the
    factor by under a tenth of what the first sweep did.
Extrapolated multiplicative updates (every other model and beta): safeguarded extrapolation
    (Ang & Gillis 2019, their scheme for alternating updates), :class:`ExtrapolatedSteps`.
    After an accepted iteration the next one starts from ``X (X / X_prev)^b``: the step of
    the multiplicative updates, additive in ``log X``, taken ``b`` times more. Ang & Gillis
    step linearly, ``X + b (X - X_prev)`` clipped at zero, where MU can never move an entry
    again; the geometric step keeps entries positive, and on a 1000 x 513 spectrogram, rank
    16, KL, it ended 200 iterations 0.3 % lower than the linear one (0.6 % lower than MU).
    The new loss is compared with the accepted one: not higher, it is accepted and ``b``
    grows (``b ← min(b̄, 1.05 b)``, ``b̄ ← min(1, 1.01 b̄)``); higher, the factors go back to the accepted ones, ``b̄ ← b``,
    ``b ← b / 1.5``, and a plain multiplicative update is taken from there (monotone, Févotte
    & Idier 2011). The loss is evaluated once per iteration (twice after a rejection): the
    price of the safeguard.

Both keep components and entries marked fixed bit-exact (the HALS sweeps leave them out of the
block problem; extrapolation writes only the free entries) and never increase the loss by
more than rounding: HALS sweeps and multiplicative updates are monotone, and an extrapolated
iterate is kept only when its loss is not higher.

Measurements (``benchmarks/speed.py --sections time-to-loss``, ``benchmarks/README.md``; V
4000 x 1025, rank 32, float32, two shared CPU cores): time to scikit-learn's 200-iteration
loss, at beta = 2 (coordinate descent) 0.98 s against 2.14 s for scikit-learn and 1.98 s for
one HALS sweep per factor, while MU does not get there in 300 iterations; at beta = 1
(scikit-learn's MU) 2.39 s in 59 iterations against 3.93 s for nmfsep's MU (201 iterations)
and 5.88 s for scikit-learn; NMFD (1025 x 2000, T 16, rank 8, beta 1) 3.12 s against 4.75 s
for MU to torchnmf's 200-iteration loss. At a fixed number of iterations extrapolated MU is
slower than MU (each iteration evaluates the loss): it pays where a fit runs until it is good.

References
----------
Gillis & Glineur, "Accelerated multiplicative updates and hierarchical alternating least
squares algorithms for nonnegative matrix factorization", Neural Computation 24(4), 2012.
Ang & Gillis, "Accelerating nonnegative matrix factorization algorithms using extrapolation",
Neural Computation 31(2), 2019.
"""

from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .nmf import NMF

__all__ = ["auto_solver", "ExtrapolatedSteps"]


def auto_solver(model, beta: float) -> str:
    """The solver under ``fit(solver="auto")``: ``"hals"`` (swept to a stall, see the module)
    for plain ``NMF`` at ``beta = 2``, else ``"mu"`` (extrapolated).

    HALS needs the least-squares block problems of ``NMF``'s closed form (no subclass that
    changes the model, no forward hooks); every other model and beta takes multiplicative
    updates.
    """
    return "hals" if beta == 2 and isinstance(model, NMF) and model._closed_form() else "mu"




class ExtrapolatedSteps:
    """Safeguarded extrapolation around a monotone ``step`` (Ang & Gillis 2019).

    Call it once per iteration, in place of ``step``. Between calls the factors hold the last
    accepted iterate, whose loss :meth:`loss` returns without evaluating it again.

    Parameters
    ----------
    step : callable
        One monotone iteration (e.g. the multiplicative updates of every trainable factor),
        updating ``factors`` in place.
    loss : callable
        The loss of the current factors (a number or a 0-d tensor).
    factors : sequence of (Tensor, Tensor or None)
        The tensors ``step`` updates, each with its fixed mask (broadcastable, True = fixed)
        or None: extrapolation writes only the free entries.
    start : float
        Initial extrapolation weight ``b`` (Ang & Gillis: 0.5).

    Examples
    --------
    >>> from nmfsep.nmf import NMF
    >>> _ = torch.manual_seed(0)
    >>> V = torch.rand(30, 4) @ torch.rand(4, 20)
    >>> model = NMF(W=torch.rand(20, 4), H=torch.rand(30, 4))
    >>> step = model._mu_step(V, 1.0, 0.0, 0.0)
    >>> steps = ExtrapolatedSteps(step, lambda: model._loss(V, 1.0), [(model.W.data, None), (model.H.data, None)])
    >>> before = steps.loss()
    >>> for _ in range(20):
    ...     steps()
    >>> steps.loss() < before
    True
    """

    #: Growth of ``b`` after an accepted iteration, growth of its bound, decay after a rejection.
    GROWTH, BOUND_GROWTH, DECAY = 1.05, 1.01, 1.5

    def __init__(self, step: Callable[[], None], loss: Callable[[], object],
                 factors: Sequence[Tuple[Tensor, Optional[Tensor]]], start: float = 0.5):
        self._step, self._loss = step, loss
        self.factors = [(X, None if fixed is None else fixed.to(X.device).expand_as(X))
                        for X, fixed in factors]
        self.weight, self.bound = float(start), 1.0
        self.accepted: Optional[List[Tensor]] = None
        self.previous: Optional[List[Tensor]] = None
        self.accepted_loss: Optional[float] = None
        self.rejections = 0

    def loss(self) -> float:
        """The loss of the factors as they are (the accepted iterate's, once there is one)."""
        if self.accepted is None:  # the start: the first accepted iterate
            self._accept(float(self._loss()))
        elif not self._unchanged():
            return float(self._loss())
        return self.accepted_loss

    def _unchanged(self) -> bool:
        return all(torch.equal(X, kept) for (X, _), kept in zip(self.factors, self.accepted))

    def _accept(self, loss: float) -> None:
        # the buffers rotate: the accepted iterate becomes the previous one, no new allocation
        spare = self.previous
        self.previous = self.accepted
        if spare is None:
            spare = [X.clone() for X, _ in self.factors]
        else:
            for kept, (X, _) in zip(spare, self.factors):
                kept.copy_(X)
        self.accepted, self.accepted_loss = spare, loss

    def _extrapolate(self) -> None:
        for (X, fixed), now, before in zip(self.factors, self.accepted, self.previous):
            # geometric: now (now / before)^b, the step of the multiplicative updates (additive
            # in log X) taken b times more; it keeps every entry positive and zeros at zero
            # (where a linear step, clipped, sends entries to zero, which MU never leaves)
            tiny = torch.finfo(now.dtype).tiny
            target = torch.div(now, before.clamp_min(tiny), out=X).clamp_(1e-3, 1e3)
            target.pow_(self.weight).mul_(now)
            if fixed is not None:
                X.copy_(torch.where(fixed, now, target))

    @classmethod
    def for_model(cls, model, step: Callable[[], None], loss: Callable[[], object]) -> "ExtrapolatedSteps":
        """Around a model's multiplicative ``step``: its trainable factors, with their fixed masks."""
        return cls(step, loss, [(getattr(model, name).data, model._fixed(name))
                                for name in model._trainable_names()])

    def __call__(self) -> None:
        if self.accepted is not None and not self._unchanged():
            # changed from outside (a fit's callback): extrapolating from the stale iterates
            # would undo that change, so start afresh from here
            self.accepted = self.previous = None
        if self.accepted is None:
            self.loss()
        extrapolated = self.previous is not None
        if extrapolated:
            self._extrapolate()
        self._step()
        loss = float(self._loss())
        # a plain step is monotone (to rounding): only an extrapolated one can be turned down
        if not extrapolated or loss <= self.accepted_loss:
            self._accept(loss)
            if extrapolated:
                self.weight = min(self.bound, self.weight * self.GROWTH)
                self.bound = min(1.0, self.bound * self.BOUND_GROWTH)
            return
        # rejected: back to the accepted iterate, and a plain step from there
        self.rejections += 1
        for (X, _), kept in zip(self.factors, self.accepted):
            X.copy_(kept)
        self.bound = self.weight
        self.weight /= self.DECAY
        self._step()
        self._accept(float(self._loss()))
