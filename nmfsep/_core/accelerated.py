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
    Every ``lag`` iterations (:attr:`ExtrapolatedSteps.LAG`, 3) the loss is compared with
    the last checked one: not higher, the factors become the new checkpoint and ``b`` keeps
    the growth it took after each extrapolated iteration (``b ← min(b̄, 1.05 b)``,
    ``b̄ ← min(1, 1.01 b̄)``); higher, the factors go back to the checkpoint, ``b̄`` to the
    ``b`` that started the failed stretch, ``b`` to that over 1.5, and a plain multiplicative
    update is taken from there (monotone, Févotte & Idier 2011). Ang & Gillis check every
    iteration; lagged checks are theirs too, and the loss (an entry-wise log at beta = 1, a
    product with V at beta = 2 once extrapolation has moved the factors) costs half an
    update or more. To the reference losses below (``benchmarks/README.md``; one thread, CPU
    seconds, load 6-9, counts exact): lag 1 / 2 / 3 / 4 took 3.51 / 3.28 / 3.06 / 3.22 s
    (NMF, 60 / 61 / 69 / 71 updates, 61 / 32 / 25 / 20 losses), 4.43 / 4.04 / 3.88 / 4.33 s
    (NMFD beta 1, 79-84 updates) and 3.72 / 2.94 / 3.31 / 3.10 s (NMFD beta 2, 102-116
    updates); MU 7.44, 8.26 and 4.15 s. A longer lag finds a stall later: at lag 1 a
    rejection at iteration 47 restarts a fit that ``b = 1`` had slowed down, at lag 3 it
    comes at iteration 66. The loss is asked also whenever the fit records one, and when a
    callback stops the fit: the curve and the factors a fit ends on are checked ones.
    Extrapolation's element-wise work runs in pieces under ATen's parallel grain on the
    calling thread: woken for a factor's worth of work, the thread team cost 15-45 ms an
    iteration on two busy cores, as much as the update.

Both keep components and entries marked fixed bit-exact (the HALS sweeps leave them out of the
block problem; extrapolation writes only the free entries) and never increase the loss by
more than rounding: HALS sweeps and multiplicative updates are monotone, and extrapolated
iterates are kept only when their loss is not higher.

Measurements (``benchmarks/speed.py --sections time-to-loss``, ``benchmarks/README.md``; V
4000 x 1025, rank 32, float32, two shared CPU cores): time to scikit-learn's 200-iteration
loss, at beta = 2 (coordinate descent) 0.98 s against 2.14 s for scikit-learn and 1.98 s for
one HALS sweep per factor, while MU does not get there in 300 iterations; at beta = 1, see
``benchmarks/README.md``'s table. At a fixed number of iterations extrapolated MU costs one
loss every ``lag`` iterations more than MU.

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

from .._errors import ParameterError
from .nmf import NMF

__all__ = ["auto_solver", "ExtrapolatedSteps"]


def auto_solver(model, beta: float) -> str:
    """The solver under ``fit(solver="auto")``: ``"hals"`` (swept to a stall, see the module)
    for plain ``NMF`` at ``beta = 2``, else ``"mu"`` (extrapolated).

    HALS needs the least-squares block problems of ``NMF``'s closed form (no subclass that
    changes the model, no forward hooks); every other model and beta takes multiplicative
    updates.
    """
    return "hals" if beta == 2 and isinstance(model, NMF) and model.has_closed_form() else "mu"




class ExtrapolatedSteps:
    """Safeguarded extrapolation around a monotone ``step`` (Ang & Gillis 2019), the loss
    checked every ``lag`` steps.

    Call it once per iteration, in place of ``step``. Every ``lag`` steps (and whenever
    :meth:`loss` is asked) the loss is compared with the last checked one: not higher, the
    factors become the new checkpoint; higher, they go back to the checkpoint and a plain
    ``step`` is taken from there. Between checks the factors are the steps' unchecked
    iterates.

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
    lag : int, optional
        Steps between two loss checks (default :attr:`LAG`; 1: Ang & Gillis's check of
        every step).

    Examples
    --------
    >>> from nmfsep.nmf import NMF
    >>> _ = torch.manual_seed(0)
    >>> V = torch.rand(30, 4) @ torch.rand(4, 20)
    >>> model = NMF(W=torch.rand(20, 4), H=torch.rand(30, 4))
    >>> step = model.multiplicative_step(V, 1.0, 0.0, 0.0)
    >>> steps = ExtrapolatedSteps(step, lambda: model.divergence(V, 1.0), [(model.W.data, None), (model.H.data, None)])
    >>> before = steps.loss()
    >>> for _ in range(20):
    ...     steps()
    >>> steps.loss() < before
    True
    """

    #: Growth of ``b`` after an accepted iteration, growth of its bound, decay after a rejection.
    GROWTH, BOUND_GROWTH, DECAY = 1.05, 1.01, 1.5
    #: Steps between two loss checks.
    LAG = 3

    def __init__(self, step: Callable[[], None], loss: Callable[[], object],
                 factors: Sequence[Tuple[Tensor, Optional[Tensor]]], start: float = 0.5,
                 lag: Optional[int] = None):
        self._step, self._loss = step, loss
        self.factors = [(X, None if fixed is None else fixed.to(X.device).expand_as(X).contiguous())
                        for X, fixed in factors]
        self.weight, self.bound = float(start), 1.0
        self.lag = self.LAG if lag is None else int(lag)
        if self.lag < 1:
            raise ParameterError(f"lag must be a positive number of steps, got {lag}")
        # copies of the factors: the checkpoint, the last step's result and the one before it
        self.checked: Optional[List[Tensor]] = None
        self.latest: Optional[List[Tensor]] = None
        self.previous: Optional[List[Tensor]] = None
        self.checked_loss: Optional[float] = None
        self._checked_weights = (self.weight, self.bound)
        self.unchecked = 0  # steps since the checkpoint
        self.extrapolated = False  # whether one of them started from an extrapolated point
        self.rejections = 0

    def loss(self) -> float:
        """The loss of the factors as they are, checked: unchecked steps are accepted or
        replaced by a plain step from the checkpoint (see the class)."""
        if self.checked is None or self._changed():
            self._restart()
        elif self.unchecked:
            self._check()
        return self.checked_loss

    def _changed(self) -> bool:
        """Whether the factors differ from what the steps left (a fit's callback changed them)."""
        return not all(torch.equal(x, k) for (X, _), kept in zip(self.factors, self.latest)
                       for x, k in _pieces(X, kept))

    def _restart(self) -> None:
        """The factors as they are become the checkpoint, with no direction to extrapolate."""
        self.checked, self.latest = self._copies(self.checked), self._copies(self.latest)
        self.previous, self.unchecked, self.extrapolated = None, 0, False
        self.checked_loss = float(self._loss())
        self._checked_weights = (self.weight, self.bound)

    def _copies(self, buffers: Optional[List[Tensor]]) -> List[Tensor]:
        """The factors copied into ``buffers`` (new ones when None)."""
        if buffers is None:
            return [X.clone() for X, _ in self.factors]
        for kept, (X, _) in zip(buffers, self.factors):
            for k, x in _pieces(kept, X):
                k.copy_(x)
        return buffers

    def _extrapolate(self) -> None:
        for (X, fixed), now, before in zip(self.factors, self.latest, self.previous):
            tiny = torch.finfo(now.dtype).tiny
            for x, n, b, f in _pieces(X, now, before, fixed):
                # geometric: now (now / before)^b, the step of the multiplicative updates
                # (additive in log X) taken b times more; it keeps every entry positive and
                # zeros at zero (where a linear step, clipped, sends entries to zero, which MU
                # never leaves). Not exp(b log r): ATen splits exp and log among its threads
                # from 2048 elements on, and on two busy cores that cost 10-100x the work.
                torch.clamp_min(b, tiny, out=x)
                torch.div(n, x, out=x).clamp_(1e-3, 1e3).pow_(self.weight).mul_(n)
                if f is not None:
                    torch.where(f, n, x, out=x)

    @classmethod
    def for_model(cls, model, step: Callable[[], None], loss: Callable[[], object]) -> "ExtrapolatedSteps":
        """Around a model's multiplicative ``step``: its trainable factors, with their fixed masks."""
        return cls(step, loss, [(getattr(model, name).data, model.fixed_mask(name))
                                for name in model.learned_factors()])

    def stopping(self, callback: Optional[Callable]) -> Optional[Callable]:
        """``callback`` (a fit's, ``callback(model, n_iter, loss)``), with the factors checked
        when it stops the fit between two checks: a fit ends on a checked iterate."""
        if callback is None:
            return None

        def checked(*args):
            verdict = callback(*args)
            if verdict is False:
                self.loss()
            return verdict

        return checked

    def __call__(self) -> None:
        if self.checked is None or self._changed():
            # the start, or factors changed from outside (a fit's callback): extrapolating from
            # the stale iterates would undo that change, so start afresh from here
            self._restart()
        extrapolated = self.previous is not None
        if extrapolated:
            self._extrapolate()
            self.extrapolated = True
        self._step()
        # the buffers rotate: the last result becomes the one before, no new allocation
        self.previous, self.latest = self.latest, self.previous
        self.latest = self._copies(self.latest)
        self.unchecked += 1
        if extrapolated:  # grown as if accepted: a rejection takes the checkpoint's back
            self.weight = min(self.bound, self.weight * self.GROWTH)
            self.bound = min(1.0, self.bound * self.BOUND_GROWTH)
        if self.unchecked >= self.lag:
            self._check()

    def _check(self) -> None:
        loss = float(self._loss())
        # plain steps are monotone (to rounding): only extrapolated ones can be turned down
        if loss <= self.checked_loss or not self.extrapolated:
            self.checked, self.checked_loss = self._copies(self.checked), loss
            self._checked_weights, self.unchecked, self.extrapolated = (self.weight, self.bound), 0, False
            return
        # rejected: back to the checkpoint, the bound at the weight that started the failed
        # stretch, and a plain step from there (whose direction the next extrapolation takes)
        self.rejections += 1
        for (X, _), kept in zip(self.factors, self.checked):
            for x, k in _pieces(X, kept):
                x.copy_(k)
        weight, _ = self._checked_weights
        self.bound, self.weight = weight, weight / self.DECAY
        self._step()
        self.previous, self.checked = self.checked, self.previous
        self.latest = self._copies(self.latest)
        self.checked = self._copies(self.checked)
        self.checked_loss, self.unchecked, self.extrapolated = float(self._loss()), 0, False
        self._checked_weights = (self.weight, self.bound)


#: Elements per piece of the safeguard's element-wise work: under ATen's parallel grain size
#: (32768 elements) an operation runs on the calling thread, where waking the thread team for a
#: factor's worth of work cost a scheduler slice whenever another process held a core.
PIECE = 16384


def _pieces(*tensors: Optional[Tensor]):
    """The same pieces of each tensor (same shapes; None stays None): flat views of
    :data:`PIECE` elements when all are contiguous, else the tensors whole."""
    present = [t for t in tensors if t is not None]
    if not all(t.is_contiguous() for t in present) or present[0].numel() <= PIECE:
        yield tensors
        return
    split = [None if t is None else t.view(-1).split(PIECE) for t in tensors]
    yield from zip(*(s if s is not None else [None] * len(split[0]) for s in split))
