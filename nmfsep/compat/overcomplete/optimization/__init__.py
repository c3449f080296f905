"""overcomplete's ``optimization`` package: :class:`NMF`."""

from .nmf import NMF

__all__ = ["NMF"]
