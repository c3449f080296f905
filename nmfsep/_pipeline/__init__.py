"""The audio pipeline: audio in, time-frequency transforms, factorisation, masks, audio out.

This layer knows audio and uses :mod:`nmfsep._core`; torchaudio is imported lazily so that
``import nmfsep`` and the core work without it.
"""

from ._backend import TorchaudioMissingError, require_torchaudio

__all__ = ["TorchaudioMissingError", "require_torchaudio"]
