"""Plots of spectrograms, templates, activations, masks and loss curves
(face of ``nmfsep/_apps/plot.py``; matplotlib is imported when a function is called)."""

from ._apps.plot import (
    activations,
    loss_curve,
    masks,
    spectrogram,
    templates,
)

__all__ = [
    "activations", "loss_curve", "masks", "spectrogram", "templates",
]
