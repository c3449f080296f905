"""Fits beyond one call of ``fit``: chunked (out-of-core) data, data-parallel fits across
processes, the choice of solver, and the engine every fit runs on, its options validated once
(:class:`FitOptions`) and its loop (:func:`run_iterations`) (face of the core's ``online``,
``distributed``, ``accelerated`` and ``_fitting`` modules)."""

from ._core._fitting import FitOptions, run_iterations
from ._core.accelerated import ExtrapolatedSteps, SquaredExtrapolation, auto_solver
from ._core.distributed import bytes_per_iteration, distributed_fit, shard_rows
from ._core.online import fit_chunks, is_chunk_source
from ._core.solvers import EXTRAPOLATIONS, SOLVERS, check_solver

__all__ = ["fit_chunks", "is_chunk_source", "distributed_fit", "shard_rows",
           "bytes_per_iteration", "SOLVERS", "EXTRAPOLATIONS", "check_solver", "auto_solver",
           "ExtrapolatedSteps", "SquaredExtrapolation", "FitOptions", "run_iterations"]
