"""The factorisation core: models, multiplicative updates, trainers and metrics.

It knows nothing of audio and imports only torch, numpy and tqdm.
"""

from . import metrics, nmf, trainer, updates
from .nmf import NMF, NMF2D, NMF3D, NMFD, BaseComponent
from .trainer import BetaMu, SparsityProj

__all__ = ["metrics", "nmf", "trainer", "updates", "BaseComponent", "NMF", "NMFD", "NMF2D", "NMF3D",
           "BetaMu", "SparsityProj"]
