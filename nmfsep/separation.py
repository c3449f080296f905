"""Source separation: :class:`Separator`, templates and stems (face of the pipeline).

Re-exports :mod:`nmfsep.pipeline.separation`, :mod:`nmfsep.pipeline.templates`,
:mod:`nmfsep.pipeline.grouping` and :mod:`nmfsep.pipeline.streaming` (block-wise, real-time
separation).
"""

from .pipeline.grouping import cluster_components, component_features
from .pipeline.separation import Separator, write_stems
from .pipeline.streaming import StreamingSeparator, Trigger, trigger_times
from .pipeline.templates import Templates, learn_templates

__all__ = ["Separator", "Templates", "learn_templates", "write_stems", "cluster_components",
           "component_features", "StreamingSeparator", "Trigger", "trigger_times"]
