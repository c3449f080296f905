"""Audio files in and out (face of ``nmfsep/_pipeline/io.py``)."""

from ._pipeline.io import (
    AUDIO_SUFFIXES,
    AudioInfo,
    check_audio,
    check_sample_rate,
    info,
    load,
    resample,
    save,
)

__all__ = [
    "AUDIO_SUFFIXES", "AudioInfo", "check_audio", "check_sample_rate", "info", "load", "resample", "save",
]
