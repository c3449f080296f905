"""``nn.Module`` faces of the pipeline's transforms (torchaudio's ``transforms``)."""

from ._pipeline.cqt import CQT
from ._pipeline.stft import STFT

__all__ = ["STFT", "CQT"]
