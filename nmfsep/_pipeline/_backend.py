"""Import of torchaudio with an error that names the fix."""

from __future__ import annotations

import functools

from .._errors import TorchaudioMissingError

__all__ = ["TorchaudioMissingError", "require_torchaudio"]

_FIX = (
    "Install the torch/torchaudio pair pinned in nmfsep's constraints.txt, e.g. "
    "`pip install -c constraints.txt torch torchaudio` (torch==2.11.0 with "
    "torchaudio==2.11.0). torchaudio wheels are built against a CUDA build of torch, "
    "so a CPU-only torch wheel, or a torch newer than torchaudio, breaks its import."
)


@functools.lru_cache(maxsize=None)
def require_torchaudio():
    """Return the imported ``torchaudio`` module.

    Raises
    ------
    TorchaudioMissingError
        If torchaudio is not installed or fails to import; the message names the fix.
    """
    try:
        import torchaudio  # noqa: PLC0415 - imported lazily so the core never needs it
    except Exception as err:  # ImportError, OSError (bad .so), RuntimeError (CUDA check)
        raise TorchaudioMissingError(
            f"nmfsep's audio pipeline needs torchaudio, whose import failed "
            f"({type(err).__name__}: {err}). {_FIX}"
        ) from err
    return torchaudio
