"""Fits beyond one call of ``fit``: chunked (out-of-core) data, data-parallel fits across
processes, and the choice of solver (face of the core's ``online``, ``distributed`` and
``accelerated`` modules)."""

from ._core.accelerated import ExtrapolatedSteps, auto_solver
from ._core.distributed import bytes_per_iteration, distributed_fit, shard_rows
from ._core.online import fit_chunks, is_chunk_source
from ._core.solvers import SOLVERS, check_solver

__all__ = ["fit_chunks", "is_chunk_source", "distributed_fit", "shard_rows",
           "bytes_per_iteration", "SOLVERS", "check_solver", "auto_solver", "ExtrapolatedSteps"]
