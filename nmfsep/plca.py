"""torchnmf-compatible face of ``nmfsep/_core/plca.py``."""

from ._core.plca import (
    PLCA,
    SIPLCA,
    SIPLCA2,
    SIPLCA3,
    BaseComponent,
)

__all__ = [
    "BaseComponent", "PLCA", "SIPLCA", "SIPLCA2", "SIPLCA3",
]
