"""Scale normalisation of fits: any loudness of ``V`` fits as well as data near 1.

Every update of the beta-divergence (multiplicative, HALS, ANLS, projected gradient) and PLCA's
EM is equivariant to the scale of the data: fitting ``V / s`` from the factors ``W / a`` and
``H / b`` (``a b = s``) and multiplying back gives the fit of ``V`` from ``W`` and ``H``. What
is not equivariant is the floating point range: float32 data scaled by 1e-7 sink under the
machine-epsilon guards of the updates (all-zero factors), data near 1e20 overflow in
``H W^T W`` or ``model ** (beta - 1)`` (NaN factors). :class:`ScaledFit` therefore fits data
whose largest value lies outside the safe band (:data:`SAFE_EXPONENTS`) as ``V / 4**k``
with the largest value near 1, and scales the factors by powers of two, which float
arithmetic multiplies exactly: the fit is the one of the normalised problem up to the guards'
rounding, and fixed components come back bit-exact. Inside that band nothing is rescaled, so
the trajectories are the very ones of unnormalised updates (torchnmf's).
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Optional, Sequence, Tuple

import torch
from torch import Tensor

from ._validation import sparse_with_values, value_range

__all__ = ["SAFE_EXPONENTS", "MISMATCH_EXPONENT", "scale_exponent", "ScaledFit", "robust_total",
           "times_total", "floor_zeros"]

#: Data whose largest value rounds to ``4**k`` with ``k`` in this range (about 0.002 .. 1.3e5)
#: are fitted as they are: there float32 fits as well as at 1, and leaving them alone keeps
#: torchnmf's trajectories. Relative errors of rank-6 MU fits (200 iterations) of planted
#: float32 data (60, 80) scaled to a largest value of 1 / 4**-6 / 4**-7 / 4**-8 / 4**-9,
#: without normalisation: KL .0156 / .0157 / .0163 / .0240 / .0737, IS .0315 / .0316 / .0319 /
#: .0366 / .0790, beta 3 .062 / .062 / .062 / .064 / .71; up to 4**10 every beta tried
#: (-1 .. 3) keeps its error at 1. With normalisation every scale from 1e-36 to 1e36 gives the
#: error at 1 (what ``tests/test_robustness.py`` checks).
SAFE_EXPONENTS = (-4, 8)

#: A start whose model sums to more than ``4**8`` times more or less than the data is brought
#: to the data's scale (normalised fits only). MU absorbs starts up to ``4**12`` off unharmed
#: (errors of the fits above equal to 3 digits), but far beyond, as factors drawn near 1 for
#: data near 1e-30, its first products overflow float32.
MISMATCH_EXPONENT = 8


def scale_exponent(high: float) -> int:
    """The ``k`` that a fit divides ``V`` by ``4**k`` with: 0 inside the safe band.

    Parameters
    ----------
    high : float
        Largest value of ``V`` (0, NaN or Inf give 0: nothing to normalise).

    Returns
    -------
    int
        ``round(log4(high))`` when it lies outside :data:`SAFE_EXPONENTS`, else 0.
    """
    if not (high > 0 and math.isfinite(high)):
        return 0
    exponent = round(math.log2(high) / 2)
    low, top = SAFE_EXPONENTS
    return 0 if low <= exponent <= top else exponent


def _pow2(exponent: float) -> float:
    """``2 ** exponent`` as a Python float, ``inf`` where it overflows."""
    try:
        return 2.0 ** exponent
    except OverflowError:
        return math.inf


def scale_by_pow2_(x: Tensor, exponent: int) -> Tensor:
    """``x *= 2 ** exponent`` in place, exactly (in steps that float32 can represent)."""
    while exponent:
        step = max(-64, min(64, exponent))
        x.mul_(2.0 ** step)
        exponent -= step
    return x


def times_total(x: Tensor, total) -> Tensor:
    """``x * total`` for a total of :func:`robust_total`: through float64 where it is float64.

    torch casts a 0-dim float64 factor to a float32 tensor's dtype first, which would make a
    total beyond float32's range infinite; the product itself is often representable.
    """
    if isinstance(total, Tensor) and total.dtype == torch.float64 and x.dtype != torch.float64:
        return (x.double() * total).to(x.dtype)
    return x * total


def robust_total(V: Tensor) -> Tensor:
    """``V.sum()``, in float64 where the sum overflows V's dtype (0-dim tensor).

    Multiply by it with :func:`times_total`.
    """
    values = V._values() if V.is_sparse else V
    total = values.sum()
    if not torch.isfinite(total):
        total = values.sum(dtype=torch.float64)
    return total


class ScaledFit:
    """Normalise ``V`` and a model's learned factors for a fit; restore the user's units after.

    Use as a context manager around the iterations: on entry the learned factors are divided
    by powers of two (a learned factor next to a frozen one takes the whole scale, so that a
    frozen factor is never touched); on exit they are multiplied back, fixed components are
    restored bit-exact and ``model.loss_curve_`` is converted to the user's units. With
    ``exponent == 0`` (data in the safe band) nothing changes anywhere.

    Parameters
    ----------
    model : BaseComponent
        The model being fitted (its ``W`` / ``H`` and fixed masks).
    V : Tensor
        The validated data (dense or sparse COO).
    names : sequence of str
        Factors that scale with the data (``("W", "H")`` for the NMF family, ``()`` for PLCA,
        whose factors are distributions).
    loss_power : float
        The loss of ``V`` is ``4 ** (k * loss_power)`` times the loss of ``V / 4**k``: beta for
        the beta-divergence, 1 for PLCA's log-likelihood.
    reduce : callable, optional
        ``reduce(value, "max" | "sum") -> float`` combining a statistic of this process's ``V``
        with the other processes' (data-parallel fits: every shard must take the same scale).
    statistics : (float, float), optional
        ``(max(V), V.sum())`` when ``V`` is not at hand as one tensor (chunked fits; give
        ``V=None``).
    model_total : callable, optional
        ``() -> float``, the sum of the start's model (default ``model().sum()``; chunked fits
        compute it without forming the model).

    Attributes
    ----------
    exponent : int
        ``k``: the fit sees ``V / 4**k``.
    factor_exponents : dict of str to int
        ``e`` per learned factor: the fit sees ``factor / 2**e``.
    data_max : float
        Largest value of the data the fit sees (of every process).
    """

    def __init__(self, model, V: Optional[Tensor], names: Sequence[str] = ("W", "H"), *,
                 loss_power: float = 1.0, reduce: Optional[Callable[[float, str], float]] = None,
                 statistics: Optional[Tuple[float, float]] = None,
                 model_total: Optional[Callable[[], float]] = None):
        self.model = model
        self.loss_power = float(loss_power)
        self._reduce = reduce if reduce is not None else (lambda value, how: value)
        if statistics is None:
            values = V._values() if V.is_sparse else V
            high = value_range(values)[1]

            def data_total() -> float:
                return float(values.sum(dtype=torch.float64))
        else:
            high, total = statistics

            def data_total() -> float:
                return float(total)
        high = self._reduce(high, "max")
        self.exponent = scale_exponent(high)
        self.data_max = high * _pow2(-2 * self.exponent)
        learned = [name for name in names if not self._frozen(name)]
        share = 2 * self.exponent // max(len(learned), 1)
        self.factor_exponents: Dict[str, int] = {name: share for name in learned}
        self._saved: Dict[str, Tuple[Tensor, Tensor]] = {}
        self._data_total = self._reduce(data_total(), "sum") if self.active and learned else 0.0
        self._model_total = model_total or (lambda: float(self.model().sum(dtype=torch.float64)))

    def _initial_mismatch(self) -> Dict[str, int]:
        """Powers of two that bring initial factors grossly off the data's scale to it.

        Factors built from ``Vshape`` are drawn near 1 whatever the data: for data near 1e-30
        the first products of such a start overflow. Starts within ``4**MISMATCH_EXPONENT``
        of the data (warm starts, starts given in the data's units) are kept, so that scaling
        V and the start together scales the result. A start further off is taken as a start
        of the normalised data when it lies within that ratio of them (so that ``4**j V``
        from a start near 1 is fitted as ``V`` from it), else scaled to the data's total.
        Only learned factors without fixed components move.
        """
        clean = [name for name in self.factor_exponents if self.model.fixed_mask(name) is None]
        if not clean or not self._data_total > 0:
            return {}
        with torch.no_grad():
            model_total = self._reduce(self._model_total(), "sum")
        if not (model_total > 0 and math.isfinite(model_total)):
            return {}
        mismatch = round(math.log2(self._data_total / model_total) / 2)
        if abs(mismatch) <= MISMATCH_EXPONENT:
            return {}
        # a start drawn near 1 whatever the data is one for the normalised data: keep it there
        # (data scaled by a power of 4 then give the very fit of the data near 1); otherwise
        # bring the start's model to the data's total
        shift = self.exponent if abs(mismatch - self.exponent) <= MISMATCH_EXPONENT else mismatch
        return {name: 2 * shift // len(clean) for name in clean}

    @property
    def active(self) -> bool:
        """Whether the fit is rescaled at all (False inside the safe band)."""
        return self.exponent != 0

    def _frozen(self, name: str) -> bool:
        factor = getattr(self.model, name, None)
        if factor is None or not factor.requires_grad:
            return True
        mask = getattr(self.model, f"fixed_{name}_mask", None)
        return mask is not None and bool(mask.all())

    # -- what the fit sees -------------------------------------------------------------------
    def data(self, V: Tensor) -> Tensor:
        """``V / 4**k`` (``V`` itself when inactive; a new tensor otherwise)."""
        if not self.active:
            return V
        if V.is_sparse:
            values = scale_by_pow2_(V.values().clone(), -2 * self.exponent)
            return sparse_with_values(V, values)
        return scale_by_pow2_(V.clone(), -2 * self.exponent)

    def penalties(self, l1: float, l2: float) -> Tuple[float, float]:
        """L1 and L2 weights on the normalised factors that keep the user's objective.

        The objective ``D(V | HWᵀ) + l1 ΣX + l2/2 ||X||²`` divided by ``4**(k beta)`` is the
        normalised problem with ``l1 2**e / 4**(k beta)`` and ``l2 4**e / 4**(k beta)``; every
        learned factor has the same ``e``, so one pair serves both.
        """
        if not self.active or not (l1 or l2):
            return l1, l2
        e = max(self.factor_exponents.values(), default=0)
        data = 2 * self.exponent * self.loss_power
        return l1 * _pow2(e - data), l2 * _pow2(2 * e - data)

    def scale_free_penalty(self, weight):
        """The weight, on the normalised problem, of a penalty that the factors' scale does not
        change (temporal continuity): ``weight / 4**(k beta)``, as the loss is divided."""
        if not self.active:
            return weight
        return weight * _pow2(-2 * self.exponent * self.loss_power)

    def prior(self, alpha):
        """A Dirichlet concentration whose pseudo-count ``alpha - 1`` follows the data (PLCA)."""
        if not self.active or (isinstance(alpha, float) and alpha == 1.0):
            return alpha
        if isinstance(alpha, Tensor):
            return 1 + scale_by_pow2_(alpha - 1, -2 * self.exponent)
        return 1 + (alpha - 1) * _pow2(-2 * self.exponent)

    def user_total(self, total: Tensor) -> Tensor:
        """A sum of the normalised data in the user's units: float64 where V's dtype overflows."""
        if not self.active:
            return total
        exact = scale_by_pow2_(total.to(torch.float64), 2 * self.exponent)
        in_dtype = exact.to(total.dtype)
        return in_dtype if bool(torch.isfinite(in_dtype)) else exact

    def user_loss(self, loss: Optional[float]) -> Optional[float]:
        """A loss of the normalised problem in the user's units."""
        if loss is None or not self.active:
            return loss
        return float(loss) * _pow2(2 * self.exponent * self.loss_power)

    def callback(self, callback: Optional[Callable]) -> Optional[Callable]:
        """``callback`` seeing the model and the loss in the user's units."""
        if callback is None or not self.active:
            return callback

        def in_user_units(model, n_iter, loss):
            self._scale_factors(+1)
            try:
                return callback(model, n_iter, self.user_loss(loss))
            finally:
                self._scale_factors(-1)

        return in_user_units

    # -- entering and leaving ----------------------------------------------------------------
    def _scale_factors(self, sign: int) -> None:
        for name, e in self.factor_exponents.items():
            scale_by_pow2_(getattr(self.model, name).data, sign * e)

    @torch.no_grad()
    def __enter__(self) -> "ScaledFit":
        if self.active:
            for name in self.factor_exponents:
                mask = self.model.fixed_mask(name)
                if mask is not None and bool(mask.any()):
                    factor = getattr(self.model, name).detach()
                    self._saved[name] = (mask, factor.clone())
            for name, e in self._initial_mismatch().items():
                scale_by_pow2_(getattr(self.model, name).data, e)
            self._scale_factors(-1)
        return self

    @torch.no_grad()
    def __exit__(self, exc_type, *exc) -> None:
        if not self.active:
            return
        self._scale_factors(+1)
        for name, (mask, original) in self._saved.items():
            factor = getattr(self.model, name).data
            factor.copy_(torch.where(mask.to(factor.device), original, factor))
        curve = getattr(self.model, "loss_curve_", None)
        if exc_type is None and curve is not None:  # a failed fit left no curve of its own
            self.model.loss_curve_ = [self.user_loss(value) for value in curve]


def floor_zeros(V: Tensor, beta: float, high: Optional[float] = None) -> Tensor:
    """``V`` with, for ``beta <= 0``, every entry under ``eps * max(V)`` raised to it.

    Below ``beta = 0`` the divergence of a zero datum is infinite, and at 0 (Itakura-Saito)
    its gradient vanishes: the updates then drive the model to 0 there while other entries
    grow without bound (factors near 1e17 at ``beta = -1``). Flooring the data at the dtype's
    machine epsilon relative to its peak (-138 dB in float32), as IS-NMF implementations
    add a small constant to power spectrograms, makes the problem well posed; the loss
    (:func:`nmfsep.metrics.beta_div`) already offsets the data likewise. Other betas,
    and data without such entries, are returned as they are (no copy). ``high`` replaces
    ``max(V)`` (the maximum over every shard of a data-parallel fit).
    """
    if beta > 0 or V.is_sparse:
        return V
    low, own_high = value_range(V)
    high = own_high if high is None else high
    floor = torch.finfo(V.dtype).eps * high
    return V.clamp_min(floor) if low < floor else V
