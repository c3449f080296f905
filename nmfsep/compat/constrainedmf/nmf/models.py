"""constrainedmf's models, :class:`NMFBase` and :class:`NMF`, on nmfsep's core.

Layouts are constrainedmf's: ``X (m_examples, n_features) ≈ W H`` with weights
``W (m_examples, n_components, ...)`` and components ``H (n_components, n_features, ...)``.
The factors live in a core model (``model._core``): constrainedmf's ``W`` is the core's
activations ``H`` and constrainedmf's ``H`` the core's templates ``W`` (component axis moved to
axis 1), so that ``fit`` is the core's ``fit`` (multiplicative updates for the beta-divergence):

- ``fix_components`` are the core's fixed template components (``fixed_W``);
- ``fix_weights`` hold whole rows of ``W`` (the weights of some examples): an entry mask of the
  core's activations (``fixed_H`` of the factor's shape).

Both stay bit-exact through every update, with or without regularisation. :class:`NMF` runs on
:class:`nmfsep.nmf.NMF` (closed-form updates); a subclass of :class:`NMFBase` that defines
its own ``reconstruct`` (linear and non-negative in each factor) is fitted through autograd.
"""

from __future__ import annotations

import functools
import warnings
from typing import List, Optional, Sequence

import torch
from torch import Tensor, nn

from ...._core._validation import as_float_tensor, check_nonnegative, check_rank
from ...._core.metrics import beta_div
from ...._core.nmf import NMF as _CoreNMF
from ...._core.nmf import BaseComponent
from ...._errors import ParameterError, ParameterTypeError

__all__ = ["NMFBase", "NMF"]


class _FaceReconstruction(BaseComponent):
    """A core model whose reconstruction is an :class:`NMFBase` subclass' ``reconstruct(H, W)``.

    Its ``W`` holds the face's components with their axis moved to 1, its ``H`` the face's
    weights; the core fits it through autograd (multiplicative updates).
    """

    # only the multiplicative updates run on it, which apply entry masks
    _supports_entry_masks = True

    def __init__(self, face_reconstruct, **kwargs):
        super().__init__(**kwargs)
        self._face_reconstruct = face_reconstruct

    def reconstruct(self, H: Tensor, W: Tensor) -> Tensor:
        return self._face_reconstruct(W.movedim(1, 0), H)

    def _output_shape(self):
        with torch.no_grad():
            return tuple(self().shape)


def _infer_rank(n_components, initial_components, fix_components) -> int:
    """``n_components``, or when omitted the number of components the constraints name."""
    if n_components is not None:
        return check_rank(n_components, name="n_components")
    named = max(len(initial_components or ()), len(fix_components or ()))
    if not named:
        raise ParameterTypeError("give n_components, the number of components of the factorisation "
                        "(it can be inferred only from initial_components or fix_components)")
    return named


def _stacked_rows(given: Optional[Sequence], shape, name: str, device) -> Tensor:
    """The given rows (each ``(1, *shape[1:])``) completed with uniform random ones, as a tensor.

    constrainedmf draws the rows it is not given with ``torch.rand``; so does this.
    """
    shape = tuple(shape)
    rows: List[Tensor] = []
    for i, row in enumerate(given or ()):
        row = as_float_tensor(row, f"{name}[{i}]").detach()
        if tuple(row.shape) not in (shape[1:], (1,) + shape[1:]):
            raise ParameterError(f"{name}[{i}] must have shape {(1,) + shape[1:]}, got {tuple(row.shape)}")
        rows.append(row.reshape(shape[1:]).to(device))
    if len(rows) > shape[0]:
        raise ParameterError(f"{name} has {len(rows)} rows but the factor has {shape[0]} (shape {shape})")
    rows += [torch.rand(shape[1:], device=device) for _ in range(shape[0] - len(rows))]
    dtype = functools.reduce(torch.promote_types, (row.dtype for row in rows))
    return torch.stack([row.to(dtype) for row in rows])


def _flags(flags: Optional[Sequence], size: int, name: str) -> Tensor:
    """One boolean per row: the given ones, then False."""
    flags = [bool(flag) for flag in (flags or ())]
    if len(flags) > size:
        raise ParameterError(f"{name} has {len(flags)} entries but there are only {size} rows to fix")
    return torch.tensor(flags + [False] * (size - len(flags)), dtype=torch.bool)


def _loss_settled(tol: float):
    """A core fit callback with constrainedmf's stopping rule: stop when the loss decrease of
    one iteration is under ``tol`` times the loss after the first iteration."""
    losses = []

    def callback(model, n_iter, loss):
        if losses and (losses[-1] - loss) / (losses[0] or 1.0) < tol:  # an exact fit: nothing to divide
            return False
        losses.append(loss)
        return None

    return callback


class NMFBase(nn.Module):
    """Base class for setting up NMF (constrainedmf's ``NMFBase``).

    Parameters
    ----------
    W_shape : tuple of int
        Shape of the weights ``(m_examples, n_components, ...)``.
    H_shape : tuple of int
        Shape of the components ``(n_components, n_features, ...)``.
    n_components : int, optional
        Number of components; ``W_shape[1]`` when omitted.
    initial_components : sequence of Tensor, optional
        Initial components, each of shape ``(1, *H_shape[1:])``: the first ones; the others
        are drawn uniformly in [0, 1).
    fix_components : sequence of bool
        Hold component ``i`` fixed (bit-exact) where ``fix_components[i]`` is True; the ones
        not named vary.
    initial_weights : sequence of Tensor, optional
        Initial weights, one row per example of shape ``(1, *W_shape[1:])``: the first rows.
    fix_weights : sequence of bool
        Hold the weights of example ``i`` (row ``W[i]``) fixed where ``fix_weights[i]``.
    device : str or torch.device, optional
        Device of the factorisation (CPU by default).
    **kwargs
        Accepted for constrainedmf's signature, and ignored with a warning.

    Attributes
    ----------
    W : Tensor, shape W_shape
        Weights (a view of the core model's activations).
    H : Tensor, shape H_shape
        Components (a view of the core model's templates).
    rank : int
        Number of components.
    """

    def __init__(
        self,
        W_shape,
        H_shape,
        n_components: Optional[int] = None,
        *,
        initial_components=None,
        fix_components=(),
        initial_weights=None,
        fix_weights=(),
        device=None,
        **kwargs,
    ):
        super().__init__()
        if kwargs:
            warnings.warn(f"{type(self).__name__} ignores {sorted(kwargs)} (as constrainedmf does)",
                          stacklevel=2)
        W_shape, H_shape = tuple(int(s) for s in W_shape), tuple(int(s) for s in H_shape)
        rank = W_shape[1] if n_components is None else check_rank(n_components, name="n_components")
        if W_shape[1] != rank or H_shape[0] != rank:
            raise ParameterError(f"W_shape {W_shape} and H_shape {H_shape} must both have "
                             f"n_components = {rank} components (W_shape[1], H_shape[0])")
        self.rank = rank
        self.device = torch.device("cpu" if device is None else device)
        weights = _stacked_rows(initial_weights, W_shape, "initial_weights", self.device)
        components = _stacked_rows(initial_components, H_shape, "initial_components", self.device)
        dtype = torch.promote_types(weights.dtype, components.dtype)
        weights, components = weights.to(dtype), components.to(dtype)
        fixed_components = _flags(fix_components, rank, "fix_components")
        fixed_examples = _flags(fix_weights, W_shape[0], "fix_weights")
        fixed_weights = None
        if bool(fixed_examples.any()):
            fixed_weights = fixed_examples.view((-1,) + (1,) * (len(W_shape) - 1)).expand(W_shape)
        self._core = self._core_model(
            rank=rank, W=components.movedim(0, 1).contiguous(), H=weights,
            fixed_W=fixed_components if bool(fixed_components.any()) else None,
            fixed_H=None if fixed_weights is None else fixed_weights.to(self.device),
        ).to(self.device)

    def _core_model(self, **kwargs) -> BaseComponent:
        """The core model that holds and fits the factors (core layout)."""
        return _FaceReconstruction(self.reconstruct, **kwargs)

    # -- the factors, in constrainedmf's layout ------------------------------------------------
    @property
    def W(self) -> Tensor:
        return self._core.H

    @property
    def H(self) -> Tensor:
        return self._core.W.movedim(1, 0)

    def _target(self, X) -> Tensor:
        return check_nonnegative(X, "X").to(self.device)

    def loss(self, X, beta: float = 2) -> Tensor:
        """Beta-divergence between ``X`` and the reconstruction ``W H`` (a 0-dim tensor, summed)."""
        with torch.no_grad():
            return beta_div(self(), self._target(X), beta)

    def forward(self, H: Optional[Tensor] = None, W: Optional[Tensor] = None) -> Tensor:
        return self.reconstruct(self.H if H is None else H, self.W if W is None else W)

    def reconstruct(self, H: Tensor, W: Tensor) -> Tensor:
        """Reconstruct the input matrix from the components ``H`` and the weights ``W``."""
        raise NotImplementedError(f"{type(self).__name__} must define reconstruct(H, W)")

    # -- the positive parts of the multiplicative updates --------------------------------------
    def get_W_positive(self, WH: Tensor, beta: float, H_sum: Optional[Tensor]):
        """Positive part of the gradient of :math:`D_\\beta(X | WH)` w.r.t. ``W``: the
        denominator of its multiplicative update.

        Parameters
        ----------
        WH : Tensor
            Current reconstruction (the positive part does not depend on ``X``).
        beta : float
            Divergence.
        H_sum : Tensor or None
            Returned unchanged (constrainedmf's cache of ``H``'s sums).

        Returns
        -------
        (Tensor, Tensor or None)
            The positive part, broadcastable to ``W`` (``(1, n_components)`` for ``beta = 1``
            with :class:`NMF`), and ``H_sum``.
        """
        return self._core.gradient_parts("H", WH.detach(), float(beta))[1], H_sum

    def get_H_positive(self, WH: Tensor, beta: float, W_sum: Optional[Tensor]):
        """Positive part of the gradient w.r.t. ``H``: as :meth:`get_W_positive` for ``H``."""
        return self._core.gradient_parts("W", WH.detach(), float(beta))[1].movedim(1, 0), W_sum

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, X, update_W: bool = True, update_H: bool = True, beta: float = 1, tol: float = 1e-5,
            max_iter: int = 200, alpha: float = 0, l1_ratio: float = 0) -> List[float]:
        """Fit the weights ``W`` and the components ``H`` to ``X`` (multiplicative updates).

        Parameters
        ----------
        X : Tensor or array-like, shape (m_examples, n_features)
            Non-negative data.
        update_W, update_H : bool
            Whether to update the weights and the components (fixed rows never change).
        beta : float
            Divergence: 2 Euclidean, 1 Kullback-Leibler (default), 0 Itakura-Saito, any real.
        tol : float
            Stop when the loss decrease of one iteration, relative to the loss after the first
            iteration, falls under ``tol`` (constrainedmf's rule).
        max_iter : int
            Maximum number of iterations.
        alpha : float
            Regularisation strength.
        l1_ratio : float
            Mix of L1 (1) and L2 (0) regularisation.

        Returns
        -------
        list of float
            The learning curve: the loss after each iteration divided by the number of
            entries of ``X`` (constrainedmf records it just before each iteration's last update).
        """
        X = self._target(X)
        core = self._core
        # constrainedmf's weights are the core's activations H, its components the templates W
        wanted = {"H": bool(update_W), "W": bool(update_H)}
        saved = {name: getattr(core, name).requires_grad for name in wanted}
        try:
            for name, update in wanted.items():
                getattr(core, name).requires_grad_(saved[name] and update)
            # constrainedmf's stopping rule replaces the core's (relative to the loss before fitting)
            core.fit(X, beta=beta, tol=0.0, max_iter=max_iter, alpha=alpha, l1_ratio=l1_ratio,
                     check_every=1, callback=_loss_settled(float(tol)))
        finally:
            for name, flag in saved.items():
                getattr(core, name).requires_grad_(flag)
        return [loss / X.numel() for loss in core.loss_curve_[1:]]

    def fit_transform(self, *args, **kwargs) -> Tensor:
        """:meth:`fit`, then return the weights ``W`` (detached)."""
        self.fit(*args, **kwargs)
        return self.W.detach()


class NMF(NMFBase):
    """Standard NMF with constraints, built from the input's shape (constrainedmf's ``NMF``).

    ``W`` is ``(m_examples, n_components)``, ``H`` is ``(n_components, n_features)`` and
    ``W @ H`` reconstructs ``X``.

    Parameters
    ----------
    X_shape : tuple of int
        ``(m_examples, n_features)``.
    n_components : int, optional
        Number of components; when omitted, the number that ``initial_components`` or
        ``fix_components`` name (constrainedmf requires it).
    initial_components, fix_components, initial_weights, fix_weights, device, **kwargs
        As :class:`NMFBase`: components of shape ``(1, n_features)``, weights of shape
        ``(1, n_components)`` (one row per example).

    Examples
    --------
    >>> import nmfsep.compat.constrainedmf as cmf
    >>> X = torch.rand(30, 100)
    >>> model = cmf.nmf.models.NMF(X.shape, 3, initial_components=[torch.ones(1, 100)],
    ...                            fix_components=[True])
    >>> curve = model.fit(X, beta=2, max_iter=50)
    >>> bool(torch.equal(model.H[0], torch.ones(100))), tuple(model.W.shape)
    (True, (30, 3))
    """

    def __init__(self, X_shape, n_components: Optional[int] = None, *, initial_components=None,
                 fix_components=(), initial_weights=None, fix_weights=(), device=None, **kwargs):
        self.m_examples, self.n_features = (int(s) for s in X_shape)
        rank = _infer_rank(n_components, initial_components, fix_components)
        super().__init__(
            (self.m_examples, rank), (rank, self.n_features), rank,
            initial_components=initial_components, fix_components=fix_components,
            initial_weights=initial_weights, fix_weights=fix_weights, device=device, **kwargs,
        )

    def _core_model(self, **kwargs) -> BaseComponent:
        # a subclass with its own reconstruct is fitted through autograd
        if type(self).reconstruct is not NMF.reconstruct:
            return super()._core_model(**kwargs)
        return _CoreNMF(**kwargs)

    def reconstruct(self, H: Tensor, W: Tensor) -> Tensor:
        """``W @ H``: the core's reconstruction ``H Wᵀ`` with its ``H = W`` and ``W = Hᵀ``."""
        return _CoreNMF.reconstruct(W, H.t())
