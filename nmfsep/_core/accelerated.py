r"""``fit(solver="auto")``: the fastest safe solver for the model, beta and data.

Two accelerations of the existing update kernels, chosen by :func:`auto_solver`, and a third
kept as an alternative:

HALS swept to a stall (``NMF`` at ``beta = 2``, closed form): accelerated HALS (Gillis &
    Glineur 2012). The cross product ``K`` (``Vᵀ H`` or ``V W``) and the Gram matrix ``G`` of
    one factor's block problem cost a pass over V; a HALS sweep
    (:func:`nmfsep.updates.hals_block_`) costs only ``M R²``. So each factor takes
    several sweeps on the same ``(K, G)`` before the other one moves: at most
    :func:`nmfsep.updates.hals_inner_sweeps`, stopping as soon as a sweep changes the
    factor by under a tenth of what the first sweep did.
Squared extrapolation of the multiplicative updates (every other model and beta): SQUAREM
    (Varadhan & Roland 2008), :class:`SquaredExtrapolation`. Multiplicative updates are an
    EM-like fixed-point map that converges linearly and slowly; SQUAREM takes two of its
    steps, ``x₀ → x₁ → x₂``, jumps along the path they trace, ``x₀ + 2α r + α² v``
    (``r = x₁ - x₀``, ``v = x₂ - 2 x₁ + x₀``, ``α = ‖r‖ / ‖v‖`` within a bound that grows
    while the jumps are kept), and takes a third step from there. The third step's result
    is kept when its loss is not higher than ``x₀``'s, else the factors go back to ``x₂``:
    one loss per three steps, and every checked loss at or under the one before.
Extrapolated multiplicative updates (Ang & Gillis 2019, their scheme for alternating
    updates), :class:`ExtrapolatedSteps`, what ``auto`` ran before SQUAREM and kept as a
    public alternative: after an accepted iteration the next one starts from
    ``X (X / X_prev)^b``, the step of the multiplicative updates (additive in ``log X``)
    taken ``b`` times more, the loss checked every 3 steps (see the class).

Both keep components and entries marked fixed bit-exact (the HALS sweeps leave them out of the
block problem; the jumps write only the free entries) and never increase the loss by
more than rounding: HALS sweeps and multiplicative updates are monotone, and extrapolated
iterates are kept only when their loss is not higher. Their element-wise work on the factors
runs on the calling thread alone, in cache-sized pieces: woken for a factor's worth of work,
torch's thread team cost 15-45 ms an iteration on two busy cores, as much as the update, and on
a quiet machine it spins on into the next pass and slows it down (see :data:`PIECE`).

Measurements (``benchmarks/speed.py --sections time-to-loss``, ``benchmarks/README.md``;
float32, two CPU cores): at beta = 2, NMF V 4000 x 1025, rank 32, to scikit-learn coordinate
descent's 200-iteration loss, 0.98 s against 2.14 s for scikit-learn and 1.98 s for one HALS
sweep per factor, while MU does not get there in 300 iterations. Elsewhere, iterations to the
loss of 200 multiplicative updates, SQUAREM against Ang & Gillis's extrapolation: NMF beta 1
46 against 68, beta 0.5 45 against 73; NMFD (V 1025 x 2000, T 16, rank 8) beta 2 57
against 108, beta 1 51 against 81; 64 clips of ``BatchNMF`` beta 1, 57 against 78. Tried
and not kept (iterations to the beta 1 targets of NMF / NMFD): one ``α`` per factor (54 /
66), Anderson acceleration of depth 3-10 with a safeguard (82-86 / 80; most of its
extrapolations were turned down), and, on NMF only, SQUAREM in ``log X`` (80). At a fixed
number of iterations SQUAREM costs one loss every three iterations more than MU.

References
----------
Gillis & Glineur, "Accelerated multiplicative updates and hierarchical alternating least
squares algorithms for nonnegative matrix factorization", Neural Computation 24(4), 2012.
Ang & Gillis, "Accelerating nonnegative matrix factorization algorithms using extrapolation",
Neural Computation 31(2), 2019.
Varadhan & Roland, "Simple and globally convergent methods for accelerating the convergence of
any EM algorithm", Scandinavian Journal of Statistics 35(2), 2008.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .._errors import ParameterError
from . import _threads
from .nmf import NMF

__all__ = ["auto_solver", "ExtrapolatedSteps", "SquaredExtrapolation"]


def auto_solver(model, beta: float) -> str:
    """The solver under ``fit(solver="auto")``: ``"hals"`` (swept to a stall, see the module)
    for plain ``NMF`` at ``beta = 2``, else ``"mu"`` (with :class:`SquaredExtrapolation`).

    HALS needs the least-squares block problems of ``NMF``'s closed form (no subclass that
    changes the model, no forward hooks); every other model and beta takes multiplicative
    updates.
    """
    return "hals" if beta == 2 and isinstance(model, NMF) and model.has_closed_form() else "mu"


#: Elements per piece of the safeguard's element-wise work: under ATen's parallel grain size
#: (32768 elements) an operation runs on the calling thread, where waking the thread team for a
#: factor's worth of work cost a scheduler slice whenever another process held a core; and
#: pieces that stay in cache beat whole factors (a ``BatchNMF`` jump over 656 000 entries:
#: 2.2 ms in pieces of 16384, 4.0 ms whole, on one thread).
PIECE = 16384


def _on_calling_thread(method):
    """``method`` with torch's operations limited to the calling thread (:func:`_threads.one_thread`).

    Pieces under ATen's grain size are not enough: oneMKL's ``dot`` splits a piece of 16384
    among its threads, and the team, woken, spins on into the next pass over V, taking cores
    from the fast paths' block workers. NMF beta 1 (V 4000 x 1025, rank 32): ``auto`` 12.0-14.7
    ms an iteration with this, 14.0-17.3 without (three process pairs, alternated).
    """
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with _threads.one_thread():
            return method(*args, **kwargs)

    return wrapper


class _SafeguardedSteps:
    """What both accelerations share: the factors a monotone ``step`` updates in place (with
    their fixed masks), the loss, and a fit's callback checked before it stops the fit
    (through the subclass's ``loss()``, which leaves the factors on a checked iterate)."""

    def __init__(self, step: Callable[[], None], loss: Callable[[], object],
                 factors: Sequence[Tuple[Tensor, Optional[Tensor]]]):
        self._step, self._loss = step, loss
        self.factors = [(X, None if fixed is None else fixed.to(X.device).expand_as(X).contiguous())
                        for X, fixed in factors]
        self.rejections = 0

    @classmethod
    def for_model(cls, model, step: Callable[[], None], loss: Callable[[], object], **options):
        """Around a model's multiplicative ``step``: its trainable factors, with their fixed masks."""
        return cls(step, loss, [(getattr(model, name).data, model.fixed_mask(name))
                                for name in model.learned_factors()], **options)

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

    def _stale(self) -> bool:
        """Whether there is no checkpoint yet, or the factors differ from the copy the steps
        left (``self.latest``: a fit's callback changed them): the subclass then restarts."""
        return self.checked is None or self._differs_from(self.latest)

    @_on_calling_thread
    def _differs_from(self, kept: List[Tensor]) -> bool:
        """Whether the factors differ from ``kept``."""
        return not all(torch.equal(x, k) for (X, _), buffer in zip(self.factors, kept)
                       for x, k in _pieces(X, buffer))

    @_on_calling_thread
    def _copies(self, buffers: Optional[List[Tensor]]) -> List[Tensor]:
        """The factors copied into ``buffers`` (new ones when None)."""
        if buffers is None:
            return [X.clone() for X, _ in self.factors]
        for kept, (X, _) in zip(buffers, self.factors):
            for k, x in _pieces(kept, X):
                k.copy_(x)
        return buffers

    @_on_calling_thread
    def _restore(self, kept: List[Tensor]) -> None:
        """The factors set back to ``kept``."""
        for (X, _), buffer in zip(self.factors, kept):
            for x, k in _pieces(X, buffer):
                x.copy_(k)


class ExtrapolatedSteps(_SafeguardedSteps):
    """Safeguarded extrapolation around a monotone ``step`` (Ang & Gillis 2019), the loss
    checked every ``lag`` steps.

    Call it once per iteration, in place of ``step``. After an accepted iteration the next one
    starts from ``X (X / X_prev)^b``: the step of the multiplicative updates, additive in
    ``log X``, taken ``b`` times more. Ang & Gillis step linearly, ``X + b (X - X_prev)``
    clipped at zero, where MU can never move an entry again; the geometric step keeps entries
    positive, and on a 1000 x 513 spectrogram, rank 16, KL, it ended 200 iterations 0.3 %
    lower than the linear one. Every ``lag`` steps (and whenever :meth:`loss` is asked) the
    loss is compared with the last checked one: not higher, the factors become the new
    checkpoint and ``b`` keeps the growth it took after each extrapolated iteration
    (``b ← min(b̄, 1.05 b)``, ``b̄ ← min(1, 1.01 b̄)``); higher, they go back to the
    checkpoint, ``b̄`` to the ``b`` that started the failed stretch, ``b`` to that over 1.5,
    and a plain ``step`` is taken from there. Between checks the factors are the steps'
    unchecked iterates. Lag 3 took the least time to the reference losses of
    ``benchmarks/README.md`` (lags 1-4 measured there).

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
        super().__init__(step, loss, factors)
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

    def loss(self) -> float:
        """The loss of the factors as they are, checked: unchecked steps are accepted or
        replaced by a plain step from the checkpoint (see the class)."""
        if self._stale():
            self._restart()
        elif self.unchecked:
            self._check()
        return self.checked_loss

    def _restart(self) -> None:
        """The factors as they are become the checkpoint, with no direction to extrapolate."""
        self.checked, self.latest = self._copies(self.checked), self._copies(self.latest)
        self.previous, self.unchecked, self.extrapolated = None, 0, False
        self.checked_loss = float(self._loss())
        self._checked_weights = (self.weight, self.bound)

    @_on_calling_thread
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

    def __call__(self) -> None:
        if self._stale():
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
        self._restore(self.checked)
        weight, _ = self._checked_weights
        self.bound, self.weight = weight, weight / self.DECAY
        self._step()
        self.previous, self.checked = self.checked, self.previous
        self.latest = self._copies(self.latest)
        self.checked = self._copies(self.checked)
        self.checked_loss, self.unchecked, self.extrapolated = float(self._loss()), 0, False
        self._checked_weights = (self.weight, self.bound)


class SquaredExtrapolation(_SafeguardedSteps):
    """Squared extrapolation (SQUAREM, Varadhan & Roland 2008) around a monotone ``step``.

    The steps go in cycles of three, from a checked point ``x₀`` (the checkpoint, whose loss
    is known): two plain steps give ``x₁`` and ``x₂``; then, with ``r = x₁ - x₀`` and
    ``v = x₂ - 2 x₁ + x₀``, the factors jump to ``x₀ + 2α r + α² v`` (the two steps' path
    extended along its curvature), ``α = ‖r‖ / ‖v‖`` (their scheme S3) clamped to
    ``[1, α_max]``, and the third step starts there. Its result is kept if its loss is not
    higher than ``x₀``'s; otherwise the factors go back to ``x₂``, two plain steps from
    ``x₀`` (monotone, Févotte & Idier 2011). ``α_max`` starts at 1 and grows 4 times whenever
    ``α`` reaches it, and shrinks 4 times when such a step was turned down. Entries that the
    jump takes to zero or below are set to a tenth of their value in ``x₂``: multiplicative
    updates never move an entry at zero, and a small positive one is free to grow back.

    A cycle costs three steps and one loss. Asked for the loss in the middle of a cycle (a
    fit records one), the factors are plain steps from the checkpoint: their loss is computed
    and the cycle goes on, the jump's result then kept only if its loss is not higher than
    that one (so that the losses a fit records never rise).

    Parameters
    ----------
    step, loss, factors
        As :class:`ExtrapolatedSteps`' (the jump writes only the free entries).

    Examples
    --------
    Thirty steps with and without it, from the same start:

    >>> from nmfsep.nmf import NMF
    >>> _ = torch.manual_seed(0)
    >>> V = torch.rand(40, 5) @ torch.rand(5, 30) + 0.01
    >>> W0, H0 = torch.rand(30, 5), torch.rand(40, 5)
    >>> plain, model = NMF(W=W0, H=H0), NMF(W=W0, H=H0)
    >>> plain_step = plain.multiplicative_step(V, 1.0, 0.0, 0.0)
    >>> steps = SquaredExtrapolation.for_model(
    ...     model, model.multiplicative_step(V, 1.0, 0.0, 0.0), lambda: model.divergence(V, 1.0))
    >>> for _ in range(30):
    ...     plain_step()
    ...     steps()
    >>> steps.loss() < 0.5 * float(plain.divergence(V, 1.0))
    True
    """

    #: Growth (and shrinkage) of the bound ``α_max`` on the step length.
    GROWTH = 4.0
    #: What an entry the jump sends to zero or below becomes, as a fraction of its value in ``x₂``.
    FLOOR = 0.1

    def __init__(self, step: Callable[[], None], loss: Callable[[], object],
                 factors: Sequence[Tuple[Tensor, Optional[Tensor]]]):
        super().__init__(step, loss, factors)
        self.bound = 1.0
        self.length = 1.0  # α of the last jump
        # copies of the factors: the checkpoint x₀ and the plain steps x₁, x₂ from it
        self.checked: Optional[List[Tensor]] = None
        self.first: Optional[List[Tensor]] = None
        self.second: Optional[List[Tensor]] = None
        self.checked_loss: Optional[float] = None  # the latest loss known: x₀'s, or x₁'s / x₂'s when asked
        self.second_loss: Optional[float] = None  # x₂'s, when it was asked
        self.phase = 0  # steps taken in the current cycle
        self.current = False  # whether checked_loss is the loss of the factors as they are

    @property
    def latest(self) -> List[Tensor]:
        """The copy the factors equal between calls: x₀, x₁ or x₂ after 0, 1 or 2 steps."""
        return (self.checked, self.first, self.second)[self.phase]

    def loss(self) -> float:
        """The loss of the factors as they are: the checkpoint's, or that of plain steps from it
        (see the class)."""
        if self._stale():
            self._restart()
        elif not self.current:
            self.checked_loss, self.current = float(self._loss()), True
            if self.phase == 2:
                self.second_loss = self.checked_loss
        return self.checked_loss

    def _restart(self) -> None:
        """The factors as they are (at the start, or changed by a fit's callback) become the
        checkpoint, and a new cycle starts from them."""
        self.checked, self.phase = self._copies(self.checked), 0
        self.checked_loss, self.current = float(self._loss()), True

    def __call__(self) -> None:
        if self._stale():
            self._restart()
        if self.phase == 2:
            self._jump()
        self._step()
        self.phase, self.current = self.phase + 1, False
        if self.phase == 1:
            self.first = self._copies(self.first)
        elif self.phase == 2:
            self.second = self._copies(self.second)
        else:
            self._check()

    @_on_calling_thread
    def _jump(self) -> None:
        """The factors to ``x₀ + 2α r + α² v`` = ``(1-α)² x₀ + 2α(1-α) x₁ + α² x₂``."""
        sums = []  # ‖r‖² and ‖v‖² by pieces, on the calling thread (see _pieces)
        for start, first, second in zip(self.checked, self.first, self.second):
            for x0, x1, x2 in _pieces(start, first, second):
                r = x1 - x0
                v = x2 - x1 - r
                r, v = r.reshape(-1), v.reshape(-1)
                sums.append(torch.stack([torch.dot(r, r), torch.dot(v, v)]))
        step, curvature = (float(total) for total in torch.stack(sums).double().sum(0))
        length = math.sqrt(step / curvature) if curvature > 0 else math.inf
        self.length = min(max(length, 1.0), self.bound)
        a = self.length
        for (X, fixed), start, first, second in zip(self.factors, self.checked, self.first, self.second):
            for x, x0, x1, x2, f in _pieces(X, start, first, second, fixed):
                torch.mul(x2, a * a, out=x).add_(x1, alpha=2 * a * (1 - a)).add_(x0, alpha=(1 - a) ** 2)
                torch.where(x > 0, x, x2 * self.FLOOR, out=x)
                if f is not None:
                    torch.where(f, x2, x, out=x)

    def _check(self) -> None:
        loss = float(self._loss())
        at_bound = self.length == self.bound
        if loss <= self.checked_loss:  # NaN is not
            self.checked, self.checked_loss = self._copies(self.checked), loss
        else:  # back to the two plain steps from the checkpoint
            self.rejections += 1
            self._restore(self.second)
            self.checked, self.second = self.second, self.checked
            self.checked_loss = float(self._loss()) if self.second_loss is None else self.second_loss
            if at_bound:
                self.bound = max(1.0, self.bound / self.GROWTH)
            at_bound = self.bound == 1.0
        if at_bound:
            self.bound *= self.GROWTH
        self.phase, self.current, self.second_loss = 0, True, None


def _pieces(*tensors: Optional[Tensor]):
    """The same pieces of each tensor (same shapes; None stays None): flat views of
    :data:`PIECE` elements when all are contiguous, else the tensors whole."""
    present = [t for t in tensors if t is not None]
    if not all(t.is_contiguous() for t in present) or present[0].numel() <= PIECE:
        yield tensors
        return
    split = [None if t is None else t.view(-1).split(PIECE) for t in tensors]
    yield from zip(*(s if s is not None else [None] * len(split[0]) for s in split))
