"""torchnmf-compatible face of :mod:`nmfsep.core.metrics`."""

from .core.metrics import *  # noqa: F403
from .core.metrics import __all__  # noqa: F401
