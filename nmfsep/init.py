"""Initial factors: random and NNDSVD variants (face of the core's ``init`` module; what
``fit(..., init=...)`` uses)."""

from ._core.init import INITS, initialise_model_, make_generator, nndsvd, random_init

__all__ = ["INITS", "make_generator", "random_init", "nndsvd", "initialise_model_"]
