"""nmfsep: audio source separation with non-negative factorisations in PyTorch.

Layers (see DEVELOPERS.md):

* :mod:`nmfsep.core` -- factorisation models, updates, solvers, metrics (no audio);
* :mod:`nmfsep.pipeline` -- audio in, time-frequency transforms, masks, separation;
* :mod:`nmfsep.apps` -- command line, evaluation, plots.

The torchnmf-compatible faces are :mod:`nmfsep.nmf`, :mod:`nmfsep.plca`,
:mod:`nmfsep.metrics` and :mod:`nmfsep.trainer`; :mod:`nmfsep.compat` has faces for
constrainedmf and overcomplete. :class:`NmfsepError` is the base of nmfsep's exceptions.
"""

from ._errors import NmfsepError

__all__ = ["NmfsepError", "__version__"]

__version__ = "0.1.0"
