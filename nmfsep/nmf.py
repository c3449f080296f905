"""torchnmf-compatible face of :mod:`nmfsep.core.nmf`, plus :class:`~nmfsep.core.batched.BatchNMF`."""

from .core.batched import BatchNMF
from .core.nmf import *  # noqa: F403
from .core.nmf import __all__ as _nmf_all

__all__ = _nmf_all + ["BatchNMF"]
