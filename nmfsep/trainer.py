"""torchnmf-compatible face of :mod:`nmfsep.core.trainer`."""

from .core.trainer import *  # noqa: F403
from .core.trainer import __all__  # noqa: F401
