"""constrainedmf-compatible face: ``import nmfsep.compat.constrainedmf as cmf``.

``cmf.nmf.models.NMF`` factorises ``X (m_examples, n_features) ≈ W H`` with weights
``W (m_examples, n_components)`` and components ``H (n_components, n_features)``, any of which
can be given and held fixed (bit-exact). It runs on :class:`nmfsep.nmf.NMF`, whose
``V (N, C) ≈ H Wᵀ`` is the same product with constrainedmf's ``W`` as nmfsep's activations
``H`` and constrainedmf's ``H`` as nmfsep's templates ``Wᵀ``.
"""

from . import nmf
from .nmf.models import NMF, NMFBase

__all__ = ["nmf", "NMF", "NMFBase"]
