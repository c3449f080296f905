"""Audio files in and out (face of :mod:`nmfsep.pipeline.io`)."""

from .pipeline.io import *  # noqa: F403
from .pipeline.io import __all__  # noqa: F401
