"""Objective evaluation of separated sources: SDR/SIR/SAR, SI-SDR, folders of files
(face of ``nmfsep/_apps/evaluation.py``)."""

from ._apps.evaluation import (
    CLAMP_DB,
    METRICS,
    bss_eval,
    evaluate_dirs,
    format_table,
    si_sdr,
)

__all__ = [
    "CLAMP_DB", "METRICS", "bss_eval", "evaluate_dirs", "format_table", "si_sdr",
]
