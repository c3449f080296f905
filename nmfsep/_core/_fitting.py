"""What every fit shares: its options, validated once, and the iteration loop.

Every fitting entry point (:meth:`nmfsep.nmf.BaseComponent.fit` and ``sparse_fit``,
:meth:`nmfsep.nmf.BatchNMF.fit`, :meth:`nmfsep.plca.BaseComponent.fit`,
:func:`nmfsep.fitting.fit_chunks`, :func:`nmfsep.fitting.distributed_fit`) builds
one :class:`FitOptions` from its arguments, which validates them all at once against
:data:`FitOptions.constraints` (scikit-learn's declarative parameter validation), and hands it
to :func:`run_iterations`. A bad value is refused with the same error whichever entry point
it came through, before any work on the data.

The loop needs from a model only its parameters (``named_parameters``) and what the step and
loss closures do with it; the models' extension protocol (what a step uses) is documented in
:class:`nmfsep.nmf.BaseComponent`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, ClassVar, Dict, List, Optional

from tqdm import tqdm  # the text bar: tqdm.auto warns in kernels without ipywidgets

from .._errors import ParameterError, ParameterTypeError
from ._validation import NonFiniteError, check_beta, check_count, check_real, value_range
from .solvers import EXTRAPOLATIONS, check_solver

__all__ = ["FitOptions", "run_iterations"]


def _check_tol(value, name: str) -> float:
    # any number but NaN: a negative tol (torchnmf's -math.inf) runs max_iter steps
    if isinstance(value, bool):
        raise ParameterTypeError(f"{name} must be a number, got {value!r}")
    try:
        value = float(value)
    except (TypeError, ValueError) as err:
        raise ParameterTypeError(f"{name} must be a number, got {value!r}") from err
    if value != value:
        raise ParameterError(f"{name} must be a number (-math.inf runs max_iter iterations), got nan")
    return value


def _check_extrapolation(value, name: str) -> str:
    if value not in EXTRAPOLATIONS:
        raise ParameterError(f"{name} must be one of {', '.join(map(repr, EXTRAPOLATIONS))}, got {value!r}")
    return value


def _check_inner_iter(value, name: str) -> Optional[int]:
    return None if value is None else check_count(value, name, minimum=0)


@dataclasses.dataclass(frozen=True)
class FitOptions:
    """The options of one fit, validated when it is built.

    Every field is checked by the function :data:`constraints` names for it, which returns
    the value in its canonical type (``beta`` a float, ``max_iter`` an int, ...) or raises a
    ``TypeError`` / ``ValueError`` naming the option. Options that depend on one another
    (a least-squares ``solver`` needs ``beta = 2``) are checked after.

    Attributes
    ----------
    beta : float
        Beta of the divergence (any finite real; 1 for the PLCA models' log-likelihood).
    tol : float
        Relative loss decrease under which the fit stops; negative: run ``max_iter``.
    max_iter : int
        Maximum number of iterations (epochs for chunked data), at least 1.
    verbose : bool
        Show a progress bar.
    alpha : float
        Strength of the L1 / L2 penalties (finite, >= 0).
    l1_ratio : float
        Share of L1 in ``alpha``'s penalty, in [0, 1].
    check_every : int
        Iterations between two evaluations of the loss, at least 1.
    solver : str
        One of :data:`nmfsep.fitting.SOLVERS`; the least-squares ones need ``beta = 2``.
    inner_iter : int or None
        Chunked data: updates of each chunk's activations per epoch (>= 0; None: the
        default of :func:`nmfsep.fitting.fit_chunks`).
    orthogonal : float
        Weight of the penalty on the overlap of the components (finite, >= 0; the
        multiplicative updates of ``NMF`` / ``NMFD`` fits, see their ``fit``): solver
        ``"mu"`` or ``"auto"``.
    extrapolation : str
        How ``solver="auto"`` accelerates multiplicative updates, one of
        :data:`nmfsep.fitting.EXTRAPOLATIONS`; another than the default only with ``"auto"``.

    Examples
    --------
    >>> FitOptions(beta=2, max_iter=50).l2
    0.0
    >>> FitOptions(alpha=-1)
    Traceback (most recent call last):
    ...
    nmfsep.ParameterError: alpha must be a non-negative finite number, got -1.
    """

    beta: float = 1.0
    tol: float = 1e-4
    max_iter: int = 200
    verbose: bool = False
    alpha: float = 0.0
    l1_ratio: float = 0.0
    check_every: int = 10
    solver: str = "mu"
    inner_iter: Optional[int] = None
    orthogonal: float = 0.0
    extrapolation: str = "squarem"

    #: The check of every field: ``check(value, name)`` returns the canonical value or raises.
    constraints: ClassVar[Dict[str, Callable]] = {
        "beta": lambda value, name: check_beta(value),
        "tol": _check_tol,
        "max_iter": check_count,
        "verbose": lambda value, name: bool(value),
        "alpha": lambda value, name: check_real(value, name, low=0),
        "l1_ratio": lambda value, name: check_real(value, name, low=0, high=1),
        "check_every": check_count,
        "solver": lambda value, name: value,  # with beta, by check_solver below
        "inner_iter": _check_inner_iter,
        "orthogonal": lambda value, name: check_real(value, name, low=0),
        "extrapolation": _check_extrapolation,
    }

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = self.constraints[field.name](getattr(self, field.name), field.name)
            object.__setattr__(self, field.name, value)
        check_solver(self.solver, self.beta)  # a least-squares solver needs beta = 2
        if self.orthogonal and self.solver not in ("mu", "auto"):
            raise ParameterError(f"orthogonal is a penalty of the multiplicative updates: use "
                                 f"solver='mu' (or 'auto'), got solver={self.solver!r}")
        if self.extrapolation != type(self).extrapolation and self.solver != "auto":
            raise ParameterError(f"extrapolation chooses how solver='auto' accelerates; use "
                                 f"solver='auto' or leave extrapolation out, got solver={self.solver!r}")

    @property
    def l1(self) -> float:
        """Weight of the L1 penalty, ``alpha * l1_ratio``."""
        return self.alpha * self.l1_ratio

    @property
    def l2(self) -> float:
        """Weight of the L2 penalty, ``alpha * (1 - l1_ratio)``."""
        return self.alpha * (1 - self.l1_ratio)

    def replace(self, **changes) -> "FitOptions":
        """A copy with ``changes``, validated again."""
        return dataclasses.replace(self, **changes)


def run_iterations(
    model,
    step: Callable[[], None],
    loss_fn: Callable[[], float],
    options: FitOptions,
    *,
    callback: Optional[Callable] = None,
    desc: str = "fit",
    increasing: bool = False,
) -> int:
    """Run ``step`` until the relative improvement of the loss falls under ``options.tol``.

    The loss is evaluated before the first step and every ``options.check_every`` steps; the
    fit stops when ``(previous - current) / initial < tol`` (scikit-learn's and torchnmf's
    rule); with a negative ``tol`` (e.g. ``-math.inf``) it runs ``options.max_iter`` steps.
    With ``increasing=True`` the objective is a log-likelihood to maximise (PLCA).

    Sets ``model.loss_curve_`` (list of float) and ``model.loss_iterations_`` (list of int, the
    iteration after which each value was measured, 0 = initial), and ``model.n_iter_``.
    ``callback(model, n_iter, loss)`` runs after every step (``loss`` is None where it was not
    evaluated); returning ``False`` stops the fit.

    Returns
    -------
    int
        Number of steps taken.

    Raises
    ------
    NonFiniteError
        When a loss is NaN or Inf, or a parameter of ``model`` is at the end: the fit
        over- or underflowed, and no non-finite factors are handed back silently.
    """
    if not isinstance(options, FitOptions):
        raise ParameterTypeError(f"options must be a FitOptions, got {type(options).__name__}")
    tol, max_iter, check_every = options.tol, options.max_iter, options.check_every
    verbose = options.verbose
    sign = -1.0 if increasing else 1.0
    curve: List[float] = [_finite(float(loss_fn()), 0, desc, model)]
    iterations: List[int] = [0]
    initial = previous = sign * curve[0]
    n_iter = 0
    with tqdm(total=max_iter, disable=not verbose, desc=desc, leave=False) as bar:
        for n_iter in range(1, max_iter + 1):
            step()
            loss = None
            if n_iter % check_every == 0 or n_iter == max_iter:
                loss = _finite(float(loss_fn()), n_iter, desc, model)
                curve.append(loss)
                iterations.append(n_iter)
                bar.set_postfix(loss=f"{loss:.6g}")
            bar.update(1)
            if callback is not None and callback(model, n_iter, loss) is False:
                break
            if loss is not None:
                current = sign * loss
                scale = abs(initial) if initial != 0 else 1.0
                if (previous - current) / scale < tol:
                    break
                previous = current
    for name, param in model.named_parameters():
        low, high = value_range(param.detach())
        if not (math.isfinite(low) and math.isfinite(high)):
            raise _non_finite(f"{name} holds NaN or Inf", n_iter, desc, model)
    model.loss_curve_ = curve
    model.loss_iterations_ = iterations
    model.n_iter_ = n_iter
    return n_iter


def _non_finite(what: str, n_iter: int, desc: str, model) -> NonFiniteError:
    when = "before the first iteration" if n_iter == 0 else f"at iteration {n_iter}"
    dtype = next((p.dtype for p in model.parameters()), None)
    return NonFiniteError(
        f"{desc}: {what} {when}: the fit over- or underflowed in {dtype}. Likely causes: data "
        f"with a huge dynamic range, an extreme beta, or initial factors far from the data's "
        f"scale. Fixes: fit in float64 (V.double()), bring beta nearer to [0, 2], or start "
        f"from init='nndsvda' / smaller initial factors."
    )


def _finite(loss: float, n_iter: int, desc: str, model) -> float:
    if not math.isfinite(loss):
        raise _non_finite(f"the loss became {loss}", n_iter, desc, model)
    return loss
