"""torchnmf-compatible face of :mod:`nmfsep.core.metrics`."""

from .core.metrics import *  # noqa: F401,F403
from .core.metrics import __all__  # noqa: F401
