"""Source separation: :class:`Separator`, templates and stems (face of the pipeline).

Re-exports :mod:`nmfsep.pipeline.separation`, :mod:`nmfsep.pipeline.templates` and
:mod:`nmfsep.pipeline.grouping`.
"""

from .pipeline.grouping import cluster_components, component_features
from .pipeline.separation import Separator, write_stems
from .pipeline.templates import Templates, learn_templates

__all__ = ["Separator", "Templates", "learn_templates", "write_stems", "cluster_components",
           "component_features"]
