"""torchnmf-compatible face of ``nmfsep/_core/trainer.py``."""

from ._core.trainer import (
    BetaMu,
    SparsityProj,
    fixed_mask_of,
    hoyer_project,
)

__all__ = [
    "BetaMu", "SparsityProj", "fixed_mask_of", "hoyer_project",
]
