"""torchnmf-compatible face of ``nmfsep/_core/nmf.py``, plus :class:`BatchNMF`."""

from ._core.batched import BatchNMF
from ._core.nmf import (
    NMF,
    NMF2D,
    NMF3D,
    NMFD,
    BaseComponent,
)

__all__ = [
    "BaseComponent", "NMF", "NMFD", "NMF2D", "NMF3D", "BatchNMF",
]
