"""Divergences and sparseness measures (torchnmf-compatible signatures).

Every divergence takes ``input`` (the model, e.g. ``W @ H``) and ``target`` (the data ``V``)
of the same shape and returns a 0-dim tensor summed over all elements.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._errors import ParameterError
from ._validation import check_beta, eps_for

__all__ = ["beta_div", "euclidean", "kl_div", "is_div", "sparseness"]


def euclidean(input: Tensor, target: Tensor) -> Tensor:
    r"""Half the squared Euclidean distance, the beta-divergence for :math:`\beta = 2`.

    .. math:: \ell(x, y) = \frac{1}{2} \sum_n (x_n - y_n)^2

    Parameters
    ----------
    input : Tensor, any shape
        Model.
    target : Tensor, same shape as ``input``
        Data.

    Examples
    --------
    >>> euclidean(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 4.0]))
    tensor(2.)
    """
    return (target - input).pow(2).sum() / 2


def kl_div(input: Tensor, target: Tensor) -> Tensor:
    r"""Generalised Kullback-Leibler divergence, the beta-divergence for :math:`\beta = 1`.

    .. math:: \ell(x, y) = \sum_n y_n \log\frac{y_n}{x_n} - y_n + x_n

    with :math:`0 \log 0 = 0`; a zero in ``input`` where ``target`` is positive is guarded by
    the dtype's machine epsilon. ``input`` is the model, ``target`` the data.

    Examples
    --------
    >>> round(float(kl_div(torch.tensor([1.0, 1.0]), torch.tensor([1.0, 0.0]))), 6)  # 1 - log(1 + eps)
    1.0
    """
    eps = eps_for(input.dtype)
    return (torch.xlogy(target, target) - torch.xlogy(target, input + eps) - target + input).sum()


def is_div(input: Tensor, target: Tensor) -> Tensor:
    r"""Itakura-Saito divergence, the beta-divergence for :math:`\beta = 0`.

    .. math:: \ell(x, y) = \sum_n \frac{y_n}{x_n} - \log\frac{y_n}{x_n} - 1

    Both tensors are offset by the dtype's machine epsilon so that zeros give finite values.

    Examples
    --------
    >>> is_div(torch.tensor([2.0]), torch.tensor([2.0]))
    tensor(0.)
    """
    eps = eps_for(input.dtype)
    ratio = (target + eps) / (input + eps)
    return (ratio - ratio.log() - 1).sum()


def beta_div(input: Tensor, target: Tensor, beta: float = 2) -> Tensor:
    r"""The beta-divergence :math:`D_\beta(\text{target} \mid \text{input})`.

    .. math::
        \ell(x, y) = \sum_n \frac{1}{\beta(\beta-1)}
        \left(y_n^\beta + (\beta-1) x_n^\beta - \beta y_n x_n^{\beta-1}\right)

    with the limits :func:`kl_div` at :math:`\beta = 1` and :func:`is_div` at :math:`\beta = 0`.

    Parameters
    ----------
    input : Tensor, any shape
        Model (non-negative).
    target : Tensor, same shape as ``input``
        Data (non-negative).
    beta : float
        Any finite real number.

    Returns
    -------
    Tensor, 0-dim

    Examples
    --------
    >>> x = torch.tensor([1.0, 2.0]); y = torch.tensor([1.0, 4.0])
    >>> torch.allclose(beta_div(x, y, 2), euclidean(x, y))
    True
    """
    beta = check_beta(beta)
    if beta == 2:
        return euclidean(input, target)
    if beta == 1:
        return kl_div(input, target)
    if beta == 0:
        return is_div(input, target)
    eps = eps_for(input.dtype)
    x = input + eps
    y = target + eps if beta < 1 else target
    return (y.pow(beta) + (beta - 1) * x.pow(beta) - beta * y * x.pow(beta - 1)).sum() / (
        beta * (beta - 1)
    )


def sparseness(x: Tensor) -> Tensor:
    r"""Hoyer's sparseness of a tensor, from 0 (all entries equal) to 1 (a single non-zero).

    .. math:: f(x) = \frac{\sqrt{N} - \lVert x\rVert_1 / \lVert x\rVert_2}{\sqrt{N} - 1}

    Hoyer, "Non-negative Matrix Factorization with Sparseness Constraints", JMLR 2004.

    Examples
    --------
    >>> round(float(sparseness(torch.tensor([0.0, 0.0, 3.0]))), 6)  # float32 square roots
    1.0
    """
    n = x.numel()
    if n < 2:
        raise ParameterError("sparseness needs a tensor of at least 2 elements")
    root_n = n ** 0.5
    l1 = x.abs().sum()
    l2 = x.pow(2).sum().sqrt().clamp_min(eps_for(x.dtype))
    return (root_n - l1 / l2) / (root_n - 1)
