"""Plots of spectrograms, templates, activations, masks and loss curves
(face of :mod:`nmfsep.apps.plot`; matplotlib is imported when a function is called)."""

from .apps.plot import *  # noqa: F403
from .apps.plot import __all__  # noqa: F401
