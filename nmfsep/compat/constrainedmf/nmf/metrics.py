"""constrainedmf's divergences (``predict`` is the model, ``target`` the data), summed over entries.

They are :mod:`nmfsep.metrics`' under constrainedmf's names; zeros are guarded by the
dtype's machine epsilon (constrainedmf gives NaN for a zero in ``target`` with KL).
"""

from torch import Tensor

from ...._core.metrics import beta_div, euclidean, is_div, kl_div

__all__ = ["KL_divergence", "Euclidean", "IS_divergence", "Beta_divergence"]


def KL_divergence(predict: Tensor, target: Tensor) -> Tensor:
    """Generalised Kullback-Leibler divergence :func:`nmfsep.metrics.kl_div`."""
    return kl_div(predict, target)


def Euclidean(predict: Tensor, target: Tensor) -> Tensor:
    """Half the squared Euclidean distance :func:`nmfsep.metrics.euclidean`."""
    return euclidean(predict, target)


def IS_divergence(predict: Tensor, target: Tensor) -> Tensor:
    """Itakura-Saito divergence :func:`nmfsep.metrics.is_div`."""
    return is_div(predict, target)


def Beta_divergence(predict: Tensor, target: Tensor, beta: float = 2) -> Tensor:
    """Beta-divergence :func:`nmfsep.metrics.beta_div`."""
    return beta_div(predict, target, beta)
