"""Objective evaluation of separated sources: SDR/SIR/SAR, SI-SDR, folders of files
(face of :mod:`nmfsep.apps.evaluation`)."""

from .apps.evaluation import *  # noqa: F403
from .apps.evaluation import __all__  # noqa: F401
