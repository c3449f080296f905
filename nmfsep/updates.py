"""The update kernels under every fit, for writing models and solvers of one's own:
multiplicative updates for any beta, and the HALS / ANLS / projected-gradient block solvers
(face of the core's ``updates`` and ``solvers`` modules)."""

from ._core.solvers import (
    alternating_update_,
    anls_update_,
    hals_block_,
    hals_inner_sweeps,
    hals_update_,
    nnls_block_,
    pgd_update_,
    projected_gradient_block_,
)
from ._core.updates import (
    autograd_parts,
    data_weights,
    denormals_flushed,
    flush_denormal,
    mu_exponent,
    multiplicative_update_,
)

__all__ = ["mu_exponent", "multiplicative_update_", "autograd_parts", "data_weights",
           "flush_denormal", "denormals_flushed", "hals_block_", "hals_inner_sweeps",
           "nnls_block_", "projected_gradient_block_", "alternating_update_", "hals_update_",
           "anls_update_", "pgd_update_"]
