"""Soft and binary masks over sources (face of ``nmfsep/_pipeline/masks.py``)."""

from ._pipeline.masks import (
    SoftMask,
    apply_masks,
    binary_mask,
    ratio_mask,
    wiener_mask,
)

__all__ = [
    "SoftMask", "apply_masks", "binary_mask", "ratio_mask", "wiener_mask",
]
