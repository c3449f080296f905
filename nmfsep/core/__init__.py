"""The factorisation core: models, multiplicative updates, trainers and metrics.

It knows nothing of audio and imports only torch, numpy and tqdm.
"""

from . import metrics, nmf, plca, trainer, updates
from .nmf import NMF, NMF2D, NMF3D, NMFD, BaseComponent
from .plca import PLCA, SIPLCA, SIPLCA2, SIPLCA3
from .trainer import BetaMu, SparsityProj

__all__ = ["metrics", "nmf", "plca", "trainer", "updates", "BaseComponent", "NMF", "NMFD", "NMF2D",
           "NMF3D", "PLCA", "SIPLCA", "SIPLCA2", "SIPLCA3", "BetaMu", "SparsityProj"]
