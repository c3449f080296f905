"""Pure functions of the audio pipeline: STFT and invertible CQT (torchaudio's ``functional``).

The ``nn.Module`` faces of the same implementations live in :mod:`nmfsep.transforms`.
"""

from ._pipeline.cqt import CQTFrame, cqt, cqt_frequencies, icqt
from ._pipeline.stft import WINDOWS, frames_to_time, istft, magnitude, stft, stft_frequencies

__all__ = ["stft", "istft", "magnitude", "stft_frequencies", "frames_to_time", "WINDOWS",
           "cqt", "icqt", "cqt_frequencies", "CQTFrame"]
