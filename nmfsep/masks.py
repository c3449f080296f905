"""Soft and binary masks over sources (face of :mod:`nmfsep.pipeline.masks`)."""

from .pipeline.masks import *  # noqa: F403
from .pipeline.masks import __all__  # noqa: F401
