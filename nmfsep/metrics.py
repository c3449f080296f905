"""torchnmf-compatible face of ``nmfsep/_core/metrics.py``."""

from ._core.metrics import (
    beta_div,
    euclidean,
    is_div,
    kl_div,
    sparseness,
)

__all__ = [
    "beta_div", "euclidean", "kl_div", "is_div", "sparseness",
]
