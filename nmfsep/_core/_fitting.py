"""The iteration loop shared by every model's ``fit``: stopping rule, loss history, progress."""

from __future__ import annotations

import math
from typing import Callable, List, Optional

from tqdm import tqdm  # the text bar: tqdm.auto warns in kernels without ipywidgets

from .._errors import ParameterError
from ._validation import NonFiniteError, check_count, value_range

__all__ = ["run_iterations"]


def run_iterations(
    model,
    step: Callable[[], None],
    loss_fn: Callable[[], float],
    *,
    tol: float,
    max_iter: int,
    verbose: bool,
    check_every: int = 10,
    callback: Optional[Callable] = None,
    desc: str = "fit",
    increasing: bool = False,
) -> int:
    """Run ``step`` until the relative improvement of the loss falls under ``tol``.

    The loss is evaluated before the first step and every ``check_every`` steps; the fit stops
    when ``(previous - current) / initial < tol`` (scikit-learn's and torchnmf's rule); with a
    negative ``tol`` (e.g. ``-math.inf``) it runs ``max_iter`` steps. With
    ``increasing=True`` the objective is a log-likelihood to maximise (PLCA).

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
    max_iter = check_count(max_iter, "max_iter")
    check_every = check_count(check_every, "check_every")
    if tol != tol:  # NaN; a negative tol (torchnmf's -math.inf) runs max_iter steps
        raise ParameterError("tol must be a number (-math.inf runs max_iter iterations), got nan")
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
