"""Pure functions of the audio pipeline: STFT and invertible CQT (torchaudio's ``functional``).

The ``nn.Module`` faces of the same implementations live in :mod:`nmfsep.transforms`.
"""

from .pipeline.cqt import cqt, cqt_frequencies, icqt
from .pipeline.stft import frames_to_time, istft, magnitude, stft, stft_frequencies

__all__ = ["stft", "istft", "magnitude", "stft_frequencies", "frames_to_time",
           "cqt", "icqt", "cqt_frequencies"]
