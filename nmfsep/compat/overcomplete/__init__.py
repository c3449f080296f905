"""overcomplete-compatible face: ``from nmfsep.compat.overcomplete import NMF``.

Only overcomplete's NMF is provided (its other dictionary learners, sparse autoencoders and
vision models are outside nmfsep's scope); ``nmfsep.compat.overcomplete.optimization`` mirrors
``overcomplete.optimization``.
"""

from . import optimization
from .optimization import NMF

__all__ = ["optimization", "NMF"]
