"""The factorisation core: models, multiplicative updates, trainers and metrics.

It knows nothing of audio and imports only torch, numpy and tqdm.
"""

from . import batched, metrics, nmf, plca, trainer, updates
from ._validation import NonFiniteError, ValueAssertionError
from .batched import BatchNMF
from .nmf import NMF, NMF2D, NMF3D, NMFD, BaseComponent
from .plca import PLCA, SIPLCA, SIPLCA2, SIPLCA3
from .trainer import BetaMu, SparsityProj

__all__ = ["batched", "metrics", "nmf", "plca", "trainer", "updates", "BaseComponent", "NMF", "NMFD",
           "NMF2D", "NMF3D", "BatchNMF", "PLCA", "SIPLCA", "SIPLCA2", "SIPLCA3", "BetaMu", "SparsityProj",
           "NonFiniteError", "ValueAssertionError"]
