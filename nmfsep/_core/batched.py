r"""Many independent NMFs fitted at once: :class:`BatchNMF`.

``V (B, N, C)`` holds B items, each factorised on its own, ``V[b] ≈ H[b] W[b]ᵀ``; the
multiplicative updates of all the items run as batched matrix products
(:func:`nmfsep._core.fastpaths.batched_nmf_parts`) instead of a Python loop over small
problems, which is where the time of many short spectrograms goes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from .._errors import ParameterError, ParameterTypeError
from . import fastpaths
from .init import initialise_model_, make_generator
from .nmf import NMF, BaseComponent
from .online import is_chunk_source

__all__ = ["BatchNMF"]


def _n_axes(spec) -> Optional[int]:
    """Axes of a factor given as a tensor or a size (None when not given or not a size)."""
    if isinstance(spec, Tensor):
        return spec.dim()
    if isinstance(spec, Iterable):
        return len(tuple(spec))
    return None


class BatchNMF(BaseComponent):
    r"""B independent NMFs :math:`V_b \approx H_b W_b^\top`, fitted together.

    Each item is the :class:`~nmfsep.nmf.NMF` of one ``(N, C)`` matrix (torchnmf's layout),
    the items stacked on a leading batch axis. :meth:`fit` updates every item at once with
    batched matrix products and gives each item the factors that ``NMF.fit`` would give it
    alone from the same initial factors. The smaller the items, the more a loop of
    ``NMF.fit`` loses to it (``benchmarks/speed.py --sections batch``, one thread): 3.3x
    (beta 2) and 2.7x (beta 1) for 16 items of 64 x 257, rank 8; 1.5x and 1.7x for 64
    items of 128 x 513, rank 16, where the products with V take most of the time anyway.

    Parameters
    ----------
    Vshape : tuple of int, optional
        ``(B, N, C)``, the shape of V; infers the sizes of ``W`` and ``H``.
    rank : int, optional
        Number of components R (the same for every item). Inferred from the last axis of
        ``W`` or ``H`` when omitted.
    shared_W : bool, optional
        One dictionary ``W (C, R)`` for all the items, activations per item. Inferred from
        ``W`` when it is given (2 axes: shared, 3 axes: per item); False otherwise.
    **kwargs
        Passed to :class:`~nmfsep.nmf.BaseComponent`: ``W``, ``H`` (sizes or tensors of the
        shapes below), ``trainable_W``, ``trainable_H``, ``fixed_W``, ``fixed_H`` (one mask of
        ``rank`` components, the same for every item) and ``seed``.

    Shape
    -----
    V: (B, N, C); W: (B, C, R), or (C, R) with ``shared_W``; H: (B, N, R). The component
    axis is the last axis of both factors.

    Notes
    -----
    The loss (``loss_curve_``, the stopping rule of :meth:`fit`) is the sum of the items'
    beta-divergences: the fit stops when that sum stops improving, so every item runs the
    same number of iterations. With ``tol=0`` item ``b`` equals ``NMF`` fitted on ``V[b]``
    alone from the same factors, to rounding. The penalties of ``alpha`` apply to each
    item's factors as they would in its own ``NMF.fit``.

    With ``shared_W`` the items' rows share the templates: the model is one ``NMF`` of the
    stacked rows, ``V.reshape(B * N, C) ≈ H.reshape(B * N, R) Wᵀ``, and is fitted as such
    (the closed forms of ``NMF``); :meth:`~nmfsep._core._transform.TransformMixin.transform`
    then takes any number of items.

    Examples
    --------
    >>> V = torch.rand(8, 40, 30)                  # 8 spectrograms, 40 frames x 30 bins
    >>> model = BatchNMF(V.shape, rank=4)
    >>> model.W.shape, model.H.shape
    (torch.Size([8, 30, 4]), torch.Size([8, 40, 4]))
    >>> n_iter = model.fit(V, beta=1, max_iter=50, init="random", seed=0)
    >>> model().shape
    torch.Size([8, 40, 30])
    >>> model.transform(torch.rand(8, 25, 30), max_iter=20).shape  # new frames, same templates
    torch.Size([8, 25, 4])
    >>> shared = BatchNMF(V.shape, rank=4, shared_W=True)  # one dictionary for all items
    >>> shared.W.shape
    torch.Size([30, 4])
    """

    # the batched products, and the stacked rows of shared templates, read V in one layout
    _contiguous_target = True

    def __init__(self, Vshape: Optional[Sequence[int]] = None, rank: Optional[int] = None, *,
                 shared_W: Optional[bool] = None, **kwargs):
        W_axes = _n_axes(kwargs.get("W"))
        if shared_W is None:
            shared_W = W_axes == 2
        elif W_axes is not None and W_axes != (2 if shared_W else 3):
            raise ParameterError(
                f"shared_W={bool(shared_W)} needs W of shape {'(C, R)' if shared_W else '(B, C, R)'}, "
                f"got {W_axes} axes; leave shared_W out to infer it from W"
            )
        if Vshape is not None:
            Vshape = tuple(int(s) for s in Vshape)
            if len(Vshape) != 3:
                raise ParameterError(
                    f"BatchNMF needs a 3-D Vshape (B, N, C), B items of shape (N, C), got {Vshape}; "
                    f"for a single (N, C) matrix use NMF"
                )
            if Vshape[0] < 1:
                raise ParameterError(f"Vshape must hold at least one item, got {Vshape}")
            # NMF's sizes for one item, with the batch axis put in front
            given = {name: isinstance(kwargs.get(name), Tensor) for name in ("W", "H")}
            rank = self._sizes_from(Vshape[1:], rank, (), kwargs)
            for name in ("W", "H"):
                if not given[name] and not (name == "W" and shared_W):
                    kwargs[name] = (Vshape[0],) + tuple(kwargs[name])
        if rank is None:
            components = [s.shape[-1] if isinstance(s, Tensor) else tuple(s)[-1]
                          for s in (kwargs.get("W"), kwargs.get("H")) if (_n_axes(s) or 0) >= 2]
            if not components:
                raise ParameterError("give rank, or W / H with a component axis (their last axis)")
            rank = max(components)
        super().__init__(rank, **kwargs)
        self.shared_W = bool(shared_W)
        self._check_layout()
        self._check_fits(Vshape)

    def _check_layout(self) -> None:
        W, H = self.W, self.H
        if H is not None and H.dim() != 3:
            raise ParameterError(f"BatchNMF's H must have shape (B, N, R), got {tuple(H.shape)}")
        if W is not None and W.dim() != (2 if self.shared_W else 3):
            raise ParameterError(
                f"BatchNMF's W must have shape (B, C, R) (or (C, R), shared by all the items), "
                f"got {tuple(W.shape)}"
            )
        if W is not None and H is not None and not self.shared_W and W.shape[0] != H.shape[0]:
            raise ParameterError(
                f"W holds {W.shape[0]} items but H holds {H.shape[0]}: give both the same batch "
                f"axis (axis 0), or a 2-D W (C, R) to share the templates"
            )

    @staticmethod
    def _complete(factor: Optional[Tensor], rank: int, name: str, generator) -> Optional[Tensor]:
        # BaseComponent completes the components along axis 1; here they are the last axis
        if factor is None or factor.dim() < 2:
            return factor
        completed = BaseComponent._complete(factor.movedim(-1, 1), rank, name, generator)
        return completed.movedim(1, -1).contiguous()

    def fixed_mask(self, name: str) -> Optional[Tensor]:
        # one flag per component, which broadcasts against the last axis of either factor
        mask = super().fixed_mask(name)
        return None if mask is None else mask.reshape(-1)

    # -- the model -------------------------------------------------------------------------
    @staticmethod
    def reconstruct(H: Tensor, W: Tensor) -> Tensor:
        """``H[b] W[b]ᵀ`` for every item (``W`` may be shared), shape ``(B, N, C)``."""
        return torch.matmul(H, W.transpose(-1, -2))

    def _output_shape(self) -> Tuple[int, ...]:
        return (self.H.shape[0], self.H.shape[1], self.W.shape[-2])

    def _activation_shape(self, Vshape):
        C = self.W.shape[-2]
        if len(Vshape) != 3 or Vshape[2] != C or not (self.shared_W or Vshape[0] == self.W.shape[0]):
            items = "B" if self.shared_W else self.W.shape[0]
            raise ParameterError(f"V must have shape ({items}, N, {C}) for these templates, got {Vshape}")
        return (Vshape[0], Vshape[1], self.rank)

    def has_closed_form(self) -> bool:
        # a subclass that changes the model, or hooks on forward, needs the autograd path
        return (type(self).reconstruct is BatchNMF.reconstruct
                and not self._forward_hooks and not self._forward_pre_hooks)

    # -- fitting ---------------------------------------------------------------------------
    def fit(
        self,
        V: Tensor,
        beta: float = 1,
        tol: float = 1e-4,
        max_iter: int = 200,
        verbose: bool = False,
        alpha: float = 0,
        l1_ratio: float = 0,
        *,
        check_every: int = 10,
        callback=None,
        solver: str = "mu",
        init: Optional[str] = None,
        seed: Optional[int] = None,
        extrapolation: str = "squarem",
    ) -> int:
        r"""Learn every item's factors by minimising :math:`\sum_b D_\beta(V_b \mid H_b W_b^\top)`.

        Parameters
        ----------
        V : Tensor, shape (B, N, C)
            Non-negative data, one item per entry of axis 0 (stack a list of ``(N, C)``
            tensors with ``torch.stack``). The model moves to V's dtype and device.
        beta, tol, max_iter, verbose, alpha, l1_ratio, check_every, callback
            As :meth:`nmfsep.nmf.NMF.fit`; the loss is summed over the items (see the class'
            Notes), ``callback(model, n_iter, loss)`` sees that sum.
        solver : {'mu', 'auto'}
            Multiplicative updates (any beta); ``'auto'``: with safeguarded extrapolation
            (:mod:`nmfsep.fitting`; the items share its one loss and extrapolation
            length). The least-squares solvers of ``NMF`` are not batched: fit each item with
            ``NMF(...).fit(V[b], solver=...)`` for them.
        init : {None, 'random', 'nndsvd', 'nndsvda', 'nndsvdar'}
            None keeps the current factors; otherwise each item is initialised from its own
            data as ``NMF.fit(V[b], init=...)`` would (one generator, drawn item after item;
            with ``shared_W``, once from the stacked rows). Fixed components and
            non-trainable factors are kept.
        seed : int, optional
            Seed of ``init`` (the model's ``seed``, then torch's global generator, when None).
        extrapolation : {'squarem', 'geometric'}, default 'squarem'
            As :meth:`nmfsep.nmf.NMF.fit`.

        Returns
        -------
        int
            Number of iterations run (the same for every item).

        Examples
        --------
        >>> V = torch.rand(4, 30, 20)
        >>> model = BatchNMF(V.shape, rank=3, seed=0)
        >>> n_iter = model.fit(V, beta=2, tol=0, max_iter=30)
        >>> n_iter, len(model.loss_curve_)
        (30, 4)
        """
        if solver not in ("mu", "auto"):
            raise ParameterError(
                f"BatchNMF fits with multiplicative updates only (solver='mu' or 'auto'), got solver={solver!r}; "
                f"for HALS / ANLS / PGD fit each item on its own with NMF(...).fit(V[b], solver=...)"
            )
        if is_chunk_source(V):
            raise ParameterTypeError(
                "BatchNMF fits one (B, N, C) tensor, not a sequence of chunks; stack the items with "
                "torch.stack(items), or fit chunks of rows with NMF"
            )
        # init through _initialise_ below, from the data the iterations see (any loudness)
        return super().fit(V, beta, tol, max_iter, verbose, alpha, l1_ratio, check_every=check_every,
                           callback=callback, solver=solver, init=init, seed=seed,
                           extrapolation=extrapolation)

    def _stacked(self, V: Tensor, H: Tensor) -> Tuple[Tensor, Tensor]:
        """Shared templates: the items' rows as one NMF, ``V (B N, C)`` and ``H (B N, R)`` (views)."""
        return V.reshape(-1, V.shape[-1]), H.reshape(-1, H.shape[-1])

    @torch.no_grad()
    def _initialise_(self, V: Tensor, method: str, seed: Optional[int]) -> None:
        """Each item initialised as ``NMF.fit(V[b], init=method)`` would, through a twin ``NMF``
        (masks and trainable flags included), written back into the batch."""
        generator = make_generator(seed, V.device)
        W, H = self.W.data, self.H.data
        if self.shared_W:
            items = [(*self._stacked(V, H), W)]
        else:
            items = [(V[b], H[b], W[b]) for b in range(V.shape[0])]
        for V_item, H_item, W_item in items:
            twin = NMF(W=W_item, H=H_item, trainable_W=self.W.requires_grad,
                       trainable_H=self.H.requires_grad, fixed_W=self.fixed_W_mask,
                       fixed_H=self.fixed_H_mask)
            initialise_model_(twin, V_item, method, generator=generator)
            W_item.copy_(twin.W)
            H_item.copy_(twin.H)

    def gradient_parts(self, name, V, beta):
        if not self.has_closed_form():
            return super().gradient_parts(name, V, beta)
        workspace = fastpaths.workspace_of(self)
        W, H = self.W.detach(), self.H.detach()
        if not self.shared_W:
            return fastpaths.batched_nmf_parts(name, V, W, H, beta, workspace)
        V_rows, H_rows = self._stacked(V, H)
        parts = fastpaths.nmf_parts(name, V_rows, W, H_rows, beta, workspace)
        if name == "W":
            return parts
        # back to H's batch layout; a (1, R) positive part (beta = 1) broadcasts as it is
        return tuple(p.reshape(H.shape) if p.numel() == H.numel() else p for p in parts)

    @torch.no_grad()
    def divergence(self, V, beta):
        if not self.has_closed_form():
            return super().divergence(V, beta)
        workspace = fastpaths.workspace_of(self)
        W, H = self.W.detach(), self.H.detach()
        if self.shared_W:
            V_rows, H_rows = self._stacked(V, H)
            return fastpaths.nmf_loss(V_rows, W, H_rows, beta, workspace)
        return fastpaths.batched_nmf_loss(V, W, H, beta, workspace)

    def sparse_fit(self, *args, **kwargs):
        """Not available for batches: Hoyer's projections act on NMF's component axis (axis 1).

        Raises
        ------
        NotImplementedError
            Always; fit each item with ``NMF(...).sparse_fit(V[b], ...)``.
        """
        raise NotImplementedError(
            "BatchNMF has no sparse_fit; fit each item with NMF(W=model.W[b], H=model.H[b]).sparse_fit(V[b], ...)"
        )
