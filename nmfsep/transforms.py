"""``nn.Module`` faces of the pipeline's transforms (torchaudio's ``transforms``)."""

from .pipeline.cqt import CQT
from .pipeline.stft import STFT

__all__ = ["STFT", "CQT"]
