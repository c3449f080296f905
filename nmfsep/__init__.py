"""nmfsep: audio source separation with non-negative factorisations in PyTorch.

Every public name has one path, in one of these modules (the layers behind them, ``nmfsep._core``,
``nmfsep._pipeline`` and ``nmfsep._apps``, are private; see DEVELOPERS.md):

* factorisation (no audio): :mod:`nmfsep.nmf`, :mod:`nmfsep.plca`, :mod:`nmfsep.metrics` and
  :mod:`nmfsep.trainer` (torchnmf's four modules), :mod:`nmfsep.fitting` (chunked and
  distributed fits, the solver choice), :mod:`nmfsep.updates` (the update kernels) and
  :mod:`nmfsep.init` (initial factors);
* audio: :mod:`nmfsep.io`, :mod:`nmfsep.functional` and :mod:`nmfsep.transforms` (STFT, CQT),
  :mod:`nmfsep.masks`, :mod:`nmfsep.separation`;
* applications: :mod:`nmfsep.recipes`, :mod:`nmfsep.evaluation`, :mod:`nmfsep.plot`,
  :mod:`nmfsep.cli`; :mod:`nmfsep.compat` has faces for constrainedmf and overcomplete.

The package's root holds the exceptions (:class:`NmfsepError` is the base of all) and
``__version__``; importing it imports nothing else (not even torch).
"""

from ._errors import (
    NmfsepError,
    NonFiniteError,
    ParameterError,
    ParameterTypeError,
    TorchaudioMissingError,
    ValueAssertionError,
)

__all__ = ["NmfsepError", "ParameterError", "ParameterTypeError", "NonFiniteError",
           "ValueAssertionError", "TorchaudioMissingError", "__version__"]

__version__ = "0.1.0"
