"""``transform`` / ``fit_transform``: activations for new data with the templates held fixed."""

from __future__ import annotations

import copy
from typing import Tuple

import torch
from torch import Tensor, nn

from .._errors import ParameterError
from ._validation import check_nonnegative

__all__ = ["TransformMixin"]


class TransformMixin:
    """Adds scikit-learn style ``transform`` and ``fit_transform`` to a model with ``W`` and ``H``.

    A model implements ``_activation_shape(Vshape)``: the shape of ``H`` that reconstructs a
    target of shape ``Vshape`` with the model's templates.
    """

    def _activation_shape(self, Vshape: Tuple[int, ...]) -> Tuple[int, ...]:  # pragma: no cover
        raise NotImplementedError

    def transform(self, V: Tensor, *, warm_start: bool = True, **fit_kwargs) -> Tensor:
        """Fit activations to ``V`` with the templates ``W`` held fixed; the model is unchanged.

        Parameters
        ----------
        V : Tensor
            New data. Its batch axis (axis 0) and shifted axes may differ from the data the
            model was fitted on: a batch of inputs is transformed at once.
        warm_start : bool
            Start from the model's own activations when their shape fits ``V``; otherwise (or
            when False) from a constant, which the fixed-template problem does not need to
            break symmetry from.
        **fit_kwargs
            Passed to ``fit`` (``beta``, ``tol``, ``max_iter``, ...).

        Returns
        -------
        Tensor
            Activations for ``V`` (shape ``_activation_shape(V.shape)``), detached.

        Examples
        --------
        >>> from nmfsep.nmf import NMF
        >>> model = NMF((30, 20), 4); _ = model.fit(torch.rand(30, 20), max_iter=20)
        >>> model.transform(torch.rand(7, 20), max_iter=20).shape
        torch.Size([7, 4])
        """
        if self.W is None:
            raise ParameterError("transform needs templates W on the model; fit or give them first")
        V = check_nonnegative(V, "V")
        shape = tuple(self._activation_shape(tuple(V.shape)))
        model = copy.deepcopy(self)
        dtype = V.dtype if V.dtype in (torch.float32, torch.float64) else torch.float32
        if warm_start and self.H is not None and tuple(self.H.shape) == shape:
            start = self.H.detach().clone()
        else:
            start = torch.full(shape, 1.0 / shape[1], dtype=dtype)
        model.H = nn.Parameter(start.to(device=V.device, dtype=dtype))
        model.W.requires_grad_(False)
        if getattr(model, "fixed_H_mask", None) is not None:
            model.fixed_H_mask = None
        model.fit(V, **fit_kwargs)
        self.transform_n_iter_ = model.n_iter_
        return model.H.detach()

    def fit_transform(self, V: Tensor, **fit_kwargs) -> Tensor:
        """Fit the model to ``V`` and return its activations ``H`` (detached)."""
        self.fit(V, **fit_kwargs)
        return self.H.detach()
