"""torchnmf-compatible face of :mod:`nmfsep.core.plca`."""

from .core.plca import *  # noqa: F403
from .core.plca import __all__  # noqa: F401
