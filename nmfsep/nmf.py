"""torchnmf-compatible face of :mod:`nmfsep.core.nmf`."""

from .core.nmf import *  # noqa: F401,F403
from .core.nmf import __all__  # noqa: F401
