"""Source separation: :class:`Separator`, templates and stems (face of the pipeline).

The separator and the objects it is composed of (a front end, a :class:`Factorisation` and a
grouping, or any model of the sources that answers :class:`SourceModel`),
templates learnt from examples, the clustering of free components into sources, block-wise
(real-time) separation, and batches of files (:func:`separate_many`).
"""

from ._apps.batch import BatchReport, separate_many
from ._pipeline._frontend import FrontEnd
from ._pipeline._models import Factorisation
from ._pipeline.grouping import FEATURES, METHODS, cluster_components, component_features
from ._pipeline.separation import Separator, write_stems
from ._pipeline.source_models import SourceModel, SourceParts, fitted_bins
from ._pipeline.sources import ByClustering, ByHand, ByTemplates, PerComponent
from ._pipeline.streaming import (
           MAX_LOOKAHEAD_SECONDS,
           NMFD_MODES,
           StreamingSeparator,
           Trigger,
           trigger_times,
)
from ._pipeline.templates import Templates, learn_templates

__all__ = ["Separator", "FrontEnd", "Factorisation", "SourceModel", "SourceParts", "fitted_bins",
           "ByTemplates", "ByHand", "ByClustering", "PerComponent",
           "Templates", "learn_templates", "write_stems", "cluster_components",
           "component_features", "FEATURES", "METHODS", "StreamingSeparator", "Trigger",
           "trigger_times", "NMFD_MODES", "MAX_LOOKAHEAD_SECONDS", "separate_many", "BatchReport"]
