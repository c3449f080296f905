"""constrainedmf's ``nmf`` package: :mod:`.models` and :mod:`.metrics`."""

from . import metrics, models

__all__ = ["metrics", "models"]
