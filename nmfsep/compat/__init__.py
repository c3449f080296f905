"""Faces for code written for the other libraries nmfsep was specified from.

Each one keeps its library's names, argument orders, layouts and return values, and maps them
onto :mod:`nmfsep._core` (no algorithm of its own). Switching is one import:

* ``import constrainedmf as cmf`` -> ``import nmfsep.compat.constrainedmf as cmf``
  (:mod:`nmfsep.compat.constrainedmf`: NMF with fixed components and weights);
* ``from overcomplete import NMF`` -> ``from nmfsep.compat.overcomplete import NMF``
  (:mod:`nmfsep.compat.overcomplete`: NMF dictionary learning with HALS / MU / ANLS / PGD).

torchnmf's face is nmfsep itself (:mod:`nmfsep.nmf`, :mod:`nmfsep.plca`, ...).
"""

from . import constrainedmf, overcomplete

__all__ = ["constrainedmf", "overcomplete"]
