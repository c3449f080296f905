"""NMF-family models: NMF, NMFD, NMF2D and NMF3D as ``torch.nn.Module`` s.

Shapes follow torchnmf 0.3 (the component axis is axis 1 of both factors):

=========  ====================  =====================  ==============================
model      V                     W (templates)          H (activations)
=========  ====================  =====================  ==============================
NMF        (N, C)                (C, R)                 (N, R)
NMFD       (N, C, L)             (C, R, T)              (N, R, L - T + 1)
NMF2D      (N, C, L, M)          (C, R, K1, K2)         (N, R, L - K1 + 1, M - K2 + 1)
NMF3D      (N, C, L, M, O)       (C, R, K1, K2, K3)     (N, R, L-K1+1, M-K2+1, O-K3+1)
=========  ====================  =====================  ==============================

``fit`` minimises the beta-divergence with multiplicative updates (any real beta). Any subset
of components can be held fixed: ``fixed_W`` (template columns) and ``fixed_H`` (activation
rows) take one boolean per component (or a list of component indices); those slices stay
bit-exact through every update, with or without regularisation.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._errors import ParameterError, ParameterTypeError
from . import fastpaths
from ._fitting import FitOptions, run_iterations
from ._penalties import add_on_components, component_weights, continuity_cost, continuity_parts
from ._scaling import ScaledFit, floor_zeros
from ._transform import TransformMixin
from ._validation import (
    ValueAssertionError,
    check_component_mask,
    check_nonnegative,
    check_penalty_weights,
    check_rank,
    check_real,
    eps_for,
)
from .metrics import beta_div
from .trainer import SparsityProj, _OneParamAtATime, register_factor
from .updates import autograd_parts, flush_denormal, multiplicative_update_

__all__ = ["BaseComponent", "NMF", "NMFD", "NMF2D", "NMF3D"]

_SizeOrTensor = Union[Sequence[int], Tensor, None]


def _new_factor(spec, name: str, generator: Optional[torch.Generator]) -> Optional[Tensor]:
    """A factor from a size (random, non-negative) or a tensor (validated copy)."""
    if spec is None:
        return None
    if isinstance(spec, Tensor):
        return check_nonnegative(spec, name).detach().clone()
    if isinstance(spec, Iterable):
        shape = tuple(int(s) for s in spec)
        if any(s < 1 for s in shape):
            raise ParameterError(f"{name} size must be positive in every axis, got {shape}")
        return torch.rand(shape, generator=generator)
    raise ParameterTypeError(f"{name} must be a size (tuple of ints) or a tensor, got {type(spec).__name__}")


class BaseComponent(TransformMixin, nn.Module):
    r"""Base class of the NMF-family modules (torchnmf-compatible).

    Parameters
    ----------
    rank : int, optional
        Number of components R. Inferred from ``W`` or ``H`` when omitted (they must then
        agree on it, as in torchnmf).
    W, H : tuple of int or Tensor, optional
        Size (random non-negative initialisation) or initial values of the templates and the
        activations. A tensor with fewer than ``rank`` components is completed with random ones.
    trainable_W, trainable_H : bool
        Whether the whole factor is learned by :meth:`fit` (default True).
    fixed_W, fixed_H : sequence of bool or of int, or Tensor of bool, optional
        Components held fixed in ``W`` (template columns ``W[:, r]``) or in ``H`` (activation
        rows ``H[:, r]``): one boolean per component, or the indices of the fixed components.
        ``NMF`` also takes a boolean tensor of the factor's own shape, one flag per entry
        (e.g. ``H`` rows: the activations of some frames or examples). Give their values
        through ``W`` / ``H``. Fixed slices stay bit-exact.
    seed : int, optional
        Seed of the random initialisation (the global torch generator is used otherwise).

    Attributes
    ----------
    W, H : Parameter or None
        Templates and activations.
    rank : int
        Number of components.
    loss_curve_ : list of float
        Loss before fitting and at every ``check_every`` iteration of the last ``fit``.
    n_iter_ : int
        Iterations taken by the last ``fit``.

    Notes
    -----
    The fitting protocol. :meth:`fit`, :meth:`sparse_fit`, the chunked and the data-parallel
    fits (:func:`nmfsep.fitting.fit_chunks`, :func:`nmfsep.fitting.distributed_fit`)
    and the extrapolated solver reach a model only through these public methods, so a subclass
    (a new model) plugs into all of them by overriding them:

    - :meth:`reconstruct` (static) and ``forward``: the model;
    - :meth:`learned_factors`: the names of the factors a fit updates;
    - :meth:`fixed_mask`: which entries of a factor stay fixed;
    - :meth:`prepare_target`: ``V`` validated against the model's shape;
    - :meth:`gradient_parts`: the two non-negative parts of the divergence's gradient that a
      multiplicative update divides (autograd here; closed forms in NMF and NMFD);
    - :meth:`divergence`: the loss;
    - :meth:`multiplicative_step`: one multiplicative update of every learned factor, with
      the penalties, as a closure;
    - :meth:`has_closed_form`: whether the parts come from closed forms that the least-squares
      solvers and the chunked fits can use.

    The PLCA models add :meth:`nmfsep.plca.BaseComponent.fit_em`. The loop itself,
    :func:`nmfsep.fitting.run_iterations`, takes the step, the loss and a validated
    :class:`nmfsep.fitting.FitOptions`.
    """

    def __init__(
        self,
        rank: Optional[int] = None,
        W: _SizeOrTensor = None,
        H: _SizeOrTensor = None,
        trainable_W: bool = True,
        trainable_H: bool = True,
        *,
        fixed_W=None,
        fixed_H=None,
        seed: Optional[int] = None,
    ):
        super().__init__()
        self.seed = seed  # also seeds fit(init=...) when fit is given no seed of its own
        generator = torch.Generator().manual_seed(int(seed)) if seed is not None else None
        W_init = _new_factor(W, "W", generator)
        H_init = _new_factor(H, "H", generator)
        given = [t.shape[1] for t in (W_init, H_init) if t is not None and t.dim() > 1]
        if rank is None:  # the factors say the rank, and must agree on it (as torchnmf asserts)
            if not given:
                raise ValueAssertionError("give rank, or W / H with a component axis (axis 1)")
            if len(set(given)) > 1:
                raise ValueAssertionError(
                    f"W has {given[0]} components (axis 1) but H has {given[1]}: give factors "
                    f"that agree, or a rank to complete the smaller one with random components"
                )
            rank = given[0]
        rank = check_rank(rank)
        W_init = self._complete(W_init, rank, "W", generator)
        H_init = self._complete(H_init, rank, "H", generator)
        self.rank = rank
        self.W = None if W_init is None else nn.Parameter(W_init, requires_grad=bool(trainable_W))
        self.H = None if H_init is None else nn.Parameter(H_init, requires_grad=bool(trainable_H))
        for name, mask in (("W", fixed_W), ("H", fixed_H)):
            if isinstance(mask, Tensor) and mask.dim() > 1:
                mask = self._entry_mask(mask, getattr(self, name), f"fixed_{name}")
            else:
                mask = check_component_mask(mask, rank, f"fixed_{name}")
            if mask is not None and getattr(self, name) is None:
                raise ParameterError(f"fixed_{name} was given but the module has no {name}")
            self.register_buffer(f"fixed_{name}_mask", mask)

    @staticmethod
    def _complete(factor: Optional[Tensor], rank: int, name: str, generator) -> Optional[Tensor]:
        if factor is None or factor.dim() < 2:
            return factor
        have = factor.shape[1]
        if have > rank:
            raise ValueAssertionError(f"{name} has {have} components but rank is {rank}")
        if have < rank:
            extra_shape = (factor.shape[0], rank - have) + tuple(factor.shape[2:])
            scale = factor.mean() if factor.numel() else 1.0
            extra = torch.rand(extra_shape, generator=generator, dtype=factor.dtype) * 2 * scale
            factor = torch.cat([factor, extra], 1)
        return factor

    #: The axis of Vshape whose size is the rank when none is given, as in torchnmf (the last
    #: axis but one: C for NMF and NMFD, L for NMF2D, M for NMF3D); None: rank is required.
    _rank_axis: Optional[int] = None

    @property
    def out_channels(self) -> int:
        """``W.shape[0]``, the number of channels of V (an attribute of torchnmf's modules)."""
        if self.W is None:
            raise AttributeError(f"{type(self).__name__} has no W, hence no out_channels")
        return self.W.shape[0]

    #: Whether ``H``'s last (time) axis is aligned with V's frames (see :class:`NMFD`).
    aligned = False

    def extra_repr(self) -> str:
        text = f"{self.rank}"
        if self.W is not None:
            text += f", out_channels={self.out_channels}"
            if self.W.dim() > 2:
                text += f", kernel_size={tuple(self.W.shape[2:])}"
        if self.aligned:
            text += ", aligned=True"
        return text

    def _sizes_from(self, Vshape, rank, kernel: Tuple[int, ...], kwargs: dict,
                    stacklevel: int = 3, aligned: bool = False) -> Optional[int]:
        """Put the sizes of ``W`` and ``H`` that reconstruct ``Vshape`` into ``kwargs``; return rank.

        ``kernel`` is the template length along each shifted axis (``()`` for NMF). Tensors
        already given as ``W`` / ``H`` are kept (and checked later by :meth:`_check_fits`).
        Without ``rank`` it is that of the given tensor, else ``Vshape[self._rank_axis]``
        (torchnmf's default); None when both tensors are given (the base class reads it).
        ``aligned``: ``H``'s last axis is ``T - 1`` frames longer than V's (see :class:`NMFD`).
        """
        if Vshape is None:
            return rank
        name = type(self).__name__
        Vshape = tuple(int(s) for s in Vshape)
        if len(Vshape) != len(kernel) + 2:
            axes = "(N, C, ...)" if kernel else "(N, C)"
            raise ParameterError(f"{name} needs a {len(kernel) + 2}-D Vshape {axes}, got {Vshape}")
        if min(Vshape) < 1:
            raise ParameterError(f"{name}: Vshape {Vshape} has an empty axis, so V has no entries and "
                             f"there is nothing to factorise; give the shape of a non-empty V")
        inferred = rank is None
        if inferred:
            given = [kwargs[n] for n in ("W", "H") if isinstance(kwargs.get(n), Tensor)]
            if len(given) == 2:
                return None
            if given and given[0].dim() > 1:
                rank = given[0].shape[1]
            elif self._rank_axis is None:
                raise ParameterError(f"{name}(Vshape, rank): rank is required with Vshape")
            else:
                rank = Vshape[self._rank_axis]
        rank = check_rank(rank)
        N, C, *spatial = Vshape
        shifted = kernel[:-1] if aligned else kernel  # an aligned time axis takes any length
        if any(k > s for k, s in zip(shifted, spatial)):
            raise ParameterError(
                f"kernel size {kernel} is larger than V's shifted axes {tuple(spatial)}: "
                f"use a shorter kernel or a longer input"
            )
        if not isinstance(kwargs.get("W"), Tensor):
            kwargs["W"] = (C, rank) + kernel
        if not isinstance(kwargs.get("H"), Tensor):
            H_size = [s - k + 1 for s, k in zip(spatial, kernel)]
            if aligned:
                H_size[-1] = spatial[-1] + kernel[-1] - 1
            kwargs["H"] = (N, rank) + tuple(H_size)
        # (not for torchnmf's default rank, which always fits V exactly: it was not asked for)
        if not kernel and not inferred and rank * (N + C) >= N * C:
            warnings.warn(
                f"rank {rank} gives at least as many parameters as V {Vshape} has entries: "
                f"the factorisation can fit V exactly and need not be meaningful",
                stacklevel=stacklevel,
            )
        return rank

    # -- component masks -------------------------------------------------------------------
    # Whether fixed_W / fixed_H may fix single entries (a mask of the factor's shape): the
    # models whose every update path handles such masks (NMF's; not the chunked fits).
    _supports_entry_masks = False

    def _entry_mask(self, mask: Tensor, factor: Optional[Tensor], name: str) -> Tensor:
        if not self._supports_entry_masks:
            raise ParameterError(f"{type(self).__name__} fixes whole components: give {name} as one "
                             f"boolean per component or component indices, got a {mask.dim()}-D mask")
        if mask.dtype != torch.bool or factor is None or mask.shape != factor.shape:
            expected = "a factor" if factor is None else f"shape {tuple(factor.shape)}"
            raise ParameterError(f"{name} as an entry mask must be a boolean tensor of the factor's "
                             f"shape ({expected}), got {mask.dtype} of shape {tuple(mask.shape)}")
        return mask.detach().clone()

    def fixed_mask(self, name: str) -> Optional[Tensor]:
        """Which entries of factor ``name`` stay fixed (part of the fitting protocol).

        Parameters
        ----------
        name : {"W", "H"}
            The factor.

        Returns
        -------
        Tensor of bool or None
            True where the factor is held fixed, shaped to broadcast against it (one flag
            per component along axis 1, or the factor's shape for an entry mask); None when
            nothing is fixed.
        """
        mask = getattr(self, f"fixed_{name}_mask", None)
        param = getattr(self, name)
        if mask is None or param is None:
            return None
        if mask.dim() > 1:  # an entry mask has the factor's shape already
            return mask
        shape = [1] * param.dim()
        shape[1] = -1
        return mask.view(shape)

    def _publish_masks(self) -> None:
        # BetaMu / SparsityProj only see parameters: tell them whose factors these are
        for name in ("W", "H"):
            param = getattr(self, name)
            if param is not None:
                register_factor(param, self, name)

    # -- the model -------------------------------------------------------------------------
    def forward(self, H: Optional[Tensor] = None, W: Optional[Tensor] = None) -> Tensor:
        """Reconstruct from ``H`` and ``W`` (the module's own where not given)."""
        self._publish_masks()
        if H is None:
            H = self.H
        if W is None:
            W = self.W
        if H is None or W is None:
            raise ValueAssertionError(
                f"{type(self).__name__} has no {'H' if H is None else 'W'}: pass it to forward()"
            )
        return self.reconstruct(H, W, aligned=True) if self.aligned else self.reconstruct(H, W)

    @staticmethod
    def reconstruct(H: Tensor, W: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _output_shape(self) -> Tuple[int, ...]:
        raise NotImplementedError

    def _check_fits(self, Vshape) -> None:
        """With ``Vshape`` given, the given ``W`` / ``H`` tensors must reconstruct that shape."""
        if Vshape is None or self.W is None or self.H is None:
            return
        if self._output_shape() != tuple(Vshape):
            raise ParameterError(
                f"the given W {tuple(self.W.shape)} and H {tuple(self.H.shape)} reconstruct "
                f"{self._output_shape()}, not Vshape {tuple(Vshape)}; check the templates' shape "
                f"(see the class docstring for the expected shapes)"
            )

    # -- fitting ---------------------------------------------------------------------------
    _supports_sparse = False
    # Fit a contiguous copy of a strided V (set by models whose passes over V read it in
    # memory order: an STFT's frames-major layout made each NMFD pass up to 2.4x slower than
    # the copy costs). NMF takes V as given: a copy would add V's size to its memory.
    _contiguous_target = False

    def learned_factors(self) -> List[str]:
        """The names of the factors that a fit updates, in update order (part of the fitting
        protocol): those present and trainable (``requires_grad``)."""
        return [n for n in ("W", "H") if getattr(self, n) is not None and getattr(self, n).requires_grad]

    def has_closed_form(self) -> bool:
        """Whether :meth:`gradient_parts` and :meth:`divergence` come from closed forms (no
        autograd; part of the fitting protocol). False here; NMF and NMFD say True unless a
        subclass changes the model or hooks on ``forward``."""
        return False

    def prepare_target(self, V) -> Tensor:
        """``V`` validated for a fit of this model (part of the fitting protocol).

        Checks that it is non-negative and finite and has the shape the model reconstructs,
        converts it to float32 or float64 (contiguous for the shift-invariant models) and
        moves the model to its dtype and device.

        Returns
        -------
        Tensor
            The data the fit iterates on.

        Raises
        ------
        ValueError
            On a shape the model does not reconstruct, a sparse ``V`` where the model takes
            none, a model without ``W`` or ``H``, or nothing to learn.
        """
        if self.W is None or self.H is None:
            raise ParameterError("fit needs both W and H on the module (build it with Vshape and rank)")
        V = check_nonnegative(V, "V")
        if V.is_sparse and not self._supports_sparse:
            raise ParameterError(
                f"{type(self).__name__} does not fit sparse targets; pass V.to_dense() "
                f"(only NMF supports sparse COO V)"
            )
        expected = self._output_shape()
        if tuple(V.shape) != expected:
            raise ParameterError(
                f"V has shape {tuple(V.shape)} but this {type(self).__name__} reconstructs "
                f"{expected}; build the model with Vshape=V.shape"
            )
        if V.dtype not in (torch.float32, torch.float64):
            V = V.float()
        if self._contiguous_target:
            V = V.contiguous()
        self.to(device=V.device, dtype=V.dtype)
        if not self.learned_factors():
            raise ParameterError("nothing to fit: both W and H are held fixed (trainable_W/H=False)")
        return V

    def gradient_parts(self, name: str, V: Tensor, beta: float) -> Optional[Tuple[Tensor, Tensor]]:
        """Negative and positive parts of the divergence's gradient w.r.t. factor ``name``
        (part of the fitting protocol; autograd here, closed forms in NMF and NMFD).

        Parameters
        ----------
        name : {"W", "H"}
            The factor.
        V : Tensor
            The data, as :meth:`prepare_target` returned it.
        beta : float
            The divergence.

        Returns
        -------
        (negative, positive) or None
            Non-negative tensors that broadcast against the factor, whose difference
            ``positive - negative`` is the gradient: the ratio that
            :func:`nmfsep.updates.multiplicative_update_` applies. None when the model
            updated the factor itself during a fit (NMF's pass over V block by block).
        """
        param = getattr(self, name)
        with _OneParamAtATime(list(self.parameters())):
            param.requires_grad_(True)
            with torch.enable_grad():
                output = self()
            return autograd_parts(V, output, param, beta)

    @torch.no_grad()
    def divergence(self, V: Tensor, beta: float) -> Tensor:
        """:math:`D_\\beta(V \\mid \\hat V)` of the current factors, a 0-dim tensor (part of the
        fitting protocol; closed forms in NMF and NMFD, without the model in memory)."""
        return beta_div(self(), V.to_dense() if V.is_sparse else V, beta)

    #: The time axis of ``H`` that ``fit(continuity=...)`` smooths along (None: no such axis).
    _time_axis: Optional[int] = None

    def _continuity_cost(self, continuity) -> Tensor:
        """The weighted temporal continuity penalty of ``H`` (0-dim; see :meth:`fit`)."""
        H = self.H.detach()
        return (component_weights(continuity, H) * continuity_cost(H, self._time_axis)).sum()

    def multiplicative_step(self, V: Tensor, beta: float, l1: float, l2: float,
                            continuity=0.0, *, reduce: Optional[Callable[[Tensor], Tensor]] = None,
                            names: Optional[Sequence[str]] = None,
                            orthogonal: float = 0.0) -> Callable[[], None]:
        """One multiplicative update of every learned factor, as a closure (part of the
        fitting protocol): what :meth:`fit` iterates with ``solver="mu"``.

        Parameters
        ----------
        V : Tensor
            The data, as :meth:`prepare_target` returned it (and floored for ``beta <= 0``).
        beta : float
            The divergence.
        l1, l2 : float
            Weights of the L1 and L2 penalties on every factor.
        continuity : float or Tensor
            Weight of the temporal continuity penalty on ``H``, one or one per component
            (see :meth:`fit`).
        reduce : callable, optional
            The statistics' reduction of a data-parallel fit
            (:func:`nmfsep.fitting.distributed_fit`): ``reduce(part)`` sums a part of the
            templates' update over the processes, each of which holds a shard of ``V`` and
            its activations; ``W`` is then updated alike everywhere.
        names : sequence of str, optional
            The factors to update, in order (default :meth:`learned_factors`).
        orthogonal : float
            Weight of the penalty on the overlap of the components, on every factor (see
            :meth:`fit`).

        Returns
        -------
        callable
            ``step()`` updates the factors in place (fixed entries bit-exact). It holds the
            fit's scratch buffers, which go with it.
        """
        names = self.learned_factors() if names is None else list(names)
        # scratch buffers that the closed-form parts and loss (NMF, NMFD) find through the model
        # and reuse every iteration, instead of allocating their large temporaries anew
        workspace = fastpaths.attach_workspace(self)
        smooth = {}  # the continuity parts of H, from H before its update (all rows at once)
        smoothed = isinstance(continuity, Tensor) or continuity != 0
        # per-component weights: the parts of the weighted components only (a dictionary's
        # fixed atoms, weighted 0, may outnumber them many times)
        active = None
        if isinstance(continuity, Tensor) and not bool(continuity.all()):
            active = continuity.nonzero()[:, 0].to(self.H.device)
            continuity = continuity[continuity != 0]

        def update(name, negative, positive, rows=slice(None)):
            fixed = self.fixed_mask(name)
            if fixed is not None and fixed.shape[0] > 1:  # an entry mask: the updated rows' part
                fixed = fixed[rows]
            if name == "H" and smooth:
                negative = add_on_components(negative, smooth["negative"][rows], active)
                positive = add_on_components(positive, smooth["positive"][rows], active)
            multiplicative_update_(
                getattr(self, name).data[rows], negative, positive, beta=beta, l1=l1, l2=l2,
                orthogonal=orthogonal, fixed=fixed,
            )

        # a fast path may update a factor itself, block by block (its parts are then None)
        workspace.update = update

        def step():
            for name in names:
                if name == "H" and smoothed:
                    H = self.H.detach() if active is None else self.H.detach()[:, active]
                    weight = component_weights(continuity, H)
                    negative, positive = continuity_parts(H, self._time_axis)
                    smooth.update(negative=negative.mul_(weight), positive=positive.mul_(weight))
                parts = self.gradient_parts(name, V, beta)
                if parts is not None and reduce is not None and name == "W":
                    parts = tuple(reduce(part) for part in parts)
                if parts is not None:
                    update(name, *parts)

        step.workspace = workspace  # owned by the step: freed with it when the fit ends
        return step

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
        inner_iter: Optional[int] = None,
        keep_activations: bool = False,
        continuity=0.0,
        orthogonal: float = 0.0,
        extrapolation: str = "squarem",
    ) -> int:
        r"""Learn the factors by minimising :math:`D_\beta(V \mid \hat V)`.

        Parameters
        ----------
        V : Tensor or iterable of Tensor
            Non-negative data of the shape the model reconstructs (see the class). ``NMF``
            also accepts a sparse COO tensor, and an iterable of chunks of rows ``(n_i, C)``
            (a list of tensors, a ``DataLoader``) for data that do not fit in memory: see
            :func:`nmfsep.fitting.fit_chunks`. The model moves to V's dtype and device.
        beta : float
            Divergence: 2 Euclidean, 1 Kullback-Leibler (default), 0 Itakura-Saito, any real.
            For ``beta <= 0`` the divergence of a zero datum is infinite: entries of V under
            ``eps * V.max()`` (eps of V's dtype, -138 dB in float32) are fitted as that floor.
        tol : float
            Stop when the loss decrease between two checks, relative to the initial loss,
            falls under ``tol``; a negative ``tol`` (torchnmf's ``-math.inf``) runs
            ``max_iter`` iterations.
        max_iter : int
            Maximum number of iterations (one update of every trainable factor; epochs for
            chunks).
        verbose : bool
            Show a progress bar with the loss.
        alpha : float
            Regularisation strength (applied to W and H).
        l1_ratio : float
            Mix of L1 (1) and L2 (0) regularisation: the penalty is
            ``alpha * (l1_ratio * sum(X) + (1 - l1_ratio) / 2 * ||X||²)`` on each factor.
        check_every : int
            Evaluate the loss (stopping rule, ``loss_curve_``) every this many iterations.
        callback : callable, optional
            ``callback(model, n_iter, loss)`` after every iteration; return False to stop.
        solver : {'mu', 'hals', 'anls', 'pgd', 'auto'}
            ``'mu'``: multiplicative updates (every model, any beta; torchnmf's trajectory).
            For ``NMF`` at ``beta=2`` (dense or sparse V, with regularisation) also the
            least-squares solvers of :mod:`nmfsep.updates`: ``'hals'`` (hierarchical
            ALS, one sweep of exact column updates), ``'anls'`` (alternating non-negative
            least squares, each block solved by Nesterov's method) and ``'pgd'`` (one
            projected gradient step of size 1/L). Other combinations raise a ValueError.
            ``'auto'`` (every model, any beta): the fastest to a good fit, see
            :mod:`nmfsep.fitting`: HALS with several sweeps per factor for ``NMF``
            at ``beta=2``, multiplicative updates with safeguarded extrapolation otherwise
            (see ``extrapolation``; MU for chunked data). Like every solver it keeps fixed
            components bit-exact and never increases the loss beyond rounding.
        init : {None, 'random', 'nndsvd', 'nndsvda', 'nndsvdar'}
            None keeps the current factors; otherwise they are replaced by
            :func:`nmfsep.init.random_init` (every model) or
            :func:`nmfsep.init.nndsvd` (``NMF``) computed from ``V``. Only what ``fit``
            learns is written: fixed components and non-trainable factors are kept.
        seed : int, optional
            Seed of ``init`` (torch's global generator when None).
        inner_iter, keep_activations
            Chunked data only: see :func:`nmfsep.fitting.fit_chunks`. After a chunked
            fit without ``keep_activations`` the model's ``H`` is left as it was: get
            activations with :meth:`transform`.
        continuity : float or sequence of float, default 0.0
            Weight :math:`\lambda` of Virtanen's (2007) temporal continuity penalty on the
            activations, one for every component or one per component (0: none). The fit
            minimises :math:`D_\beta(V \mid \hat V) + \sum_h \lambda_r c(h)` over every
            sequence :math:`h` of ``L`` activations along time (``NMF``: a column ``H[:, r]``,
            the rows of V being frames; ``NMFD``: a row ``H[n, r, :]``), with

            .. math:: c(h) = \frac{L}{\sum_t h_t^2} \sum_{t=1}^{L-1} (h_t - h_{t-1})^2.

            :math:`c` does not change with the scale of :math:`h`, so :math:`\lambda` is in
            the loss's units (the KL loss grows with V's level: scale the weight with it).
            Impulsive activations cost much, held notes little. Its gradient's positive and
            negative parts (Virtanen's split) join the divergence's in H's multiplicative
            update: solver ``'mu'`` (``'auto'`` then means extrapolated MU), ``NMF`` and
            ``NMFD`` only, whole data (not chunks). ``loss_curve_`` holds the penalised
            objective. Fixed components of ``H`` stay bit-exact. Unlike ``alpha``'s
            penalties, the updates are not proven monotone; in practice the objective
            falls.
        orthogonal : float, default 0.0
            Weight :math:`\mu` of a penalty on the overlap of the components, on every learned
            factor ``X`` (components along its axis 1):
            :math:`\frac{\mu}{2} \sum_{k \neq l} \sum_i x_{ik} x_{il}`, whose gradient
            :math:`\mu (\sum_l x_{il} - x_{ik})` joins the positive part of the
            multiplicative update (as in :class:`nmfsep.trainer.BetaMu`'s ``orthogonal``).
            It drives the components of every row (a frame's activations, a frequency's
            template values) apart, towards one active component each. Solver ``'mu'``
            (``'auto'`` then means extrapolated MU), whole data (not chunks); like
            ``alpha``'s penalties it is in the loss's units and not part of ``loss_curve_``.
        extrapolation : {'squarem', 'geometric'}, default 'squarem'
            How ``solver='auto'`` accelerates the multiplicative updates of one tensor V:
            ``'squarem'``, squared extrapolation (:class:`nmfsep.fitting.SquaredExtrapolation`;
            3.5-4.4x fewer iterations than MU to MU's 200-iteration loss in
            ``benchmarks/README.md``'s cases, 2.6-3.3x less time) or ``'geometric'``, Ang &
            Gillis's (:class:`nmfsep.fitting.ExtrapolatedSteps`; 1.9-2.9x fewer), which did better
            where few iterations of a large fixed dictionary's activations are run (the
            ``piano-bass`` recipe). Given with another solver it is a ValueError.

        Returns
        -------
        int
            Number of iterations run.

        Raises
        ------
        nmfsep.NonFiniteError
            (a ``FloatingPointError`` and ``ValueError``) when a loss or a factor becomes NaN
            or Inf, naming the iteration: non-finite factors are never returned silently.
        ValueError
            On an invalid option, or ``continuity`` with a least-squares solver, another
            model than ``NMF`` / ``NMFD``, or chunked data.

        Notes
        -----
        Any loudness of V fits alike: data whose largest value lies outside about
        ``[0.002, 1.3e5]`` are fitted as ``V / 4**k`` (k the nearest integer to
        ``log4(V.max())``) with the factors divided by powers of two, exactly, and multiplied
        back after; ``loss_curve_`` and ``callback`` see V's units. Float32 fits from 1e-30 to
        1e37 then equal those of the data near 1; inside the band nothing changes (torchnmf's
        trajectories). See :mod:`nmfsep._core._scaling`.

        Choosing a solver and an init at ``beta=2``: relative error ``||V - HWᵀ|| / ||V||``
        after 300 iterations (float64), for inits random / nndsvd / nndsvda / nndsvdar, on
        exact rank-10 data ``(200, 100)`` fitted with rank 10 and with rank 15, and on the
        magnitude STFT of ``drums_mix.wav`` ``(259, 513)`` with rank 20. Cost of one
        iteration on the spectrogram, one thread: mu 0.4 ms, pgd 0.7, hals 1.1, anls 2.8.

        ======  =========================  ===========================  =========================
        solver  rank 10 (= data's rank)    rank 15 (> data's rank)      spectrogram, rank 20
        ======  =========================  ===========================  =========================
        mu      2e-2 / 0.2 / 4e-2 / 4e-2   2e-2 / 0.2 / 6e-2 / 5e-2     .134 / .169 / .131 / .132
        hals    1e-15 (every init)         1e-4 / 1e-15 / 4e-4 / 2e-4   .125 / .123 / .124 / .123
        anls    1e-15 (every init)         1e-6 / 1e-15 / 2e-15 / 2e-4  .123 (every init)
        pgd     2e-3 / 2e-3 / 7e-2 / 2e-3  2e-2 / 2e-3 / 5e-2 / 4e-3    .133 / .131 / .133 / .131
        ======  =========================  ===========================  =========================

        - ``'hals'`` and ``'anls'`` converge in far fewer iterations than ``'mu'`` and
          ``'pgd'``; ``'anls'`` takes the fewest, ``'hals'`` the least time.
        - ``'mu'`` from ``'nndsvd'`` is a trap: multiplicative updates never move its zeros.
        - ``'nndsvda'`` fills those zeros with ``mean(V)``, the scale of the data rather than
          of the factors, which slows HALS and PGD (HALS after 30 iterations: 6e-2 against
          3e-3 from ``'nndsvd'``), and with a rank above the data's rank HALS stalls from it
          (4e-4 after 300 iterations): the extra components start large and must be
          shrunk. ``'nndsvd'`` gives them zero columns that HALS leaves dead (exact fit).
          Prefer ``'nndsvd'`` with HALS / ANLS / PGD and ``'nndsvdar'`` or ``'random'``
          with MU.

        Examples
        --------
        >>> _ = torch.manual_seed(0)
        >>> V = torch.rand(20, 4) @ torch.rand(4, 30)
        >>> model = NMF(V.shape, rank=4)
        >>> n_iter = model.fit(V, beta=2, max_iter=50)
        >>> model().shape
        torch.Size([20, 30])
        >>> n_iter = model.fit(V, beta=2, solver="hals", init="nndsvd", max_iter=50)
        >>> bool((model().detach() - V).norm() < 0.02 * V.norm())
        True
        """
        # imported here: these modules import this one
        from . import accelerated, online, solvers  # noqa: PLC0415

        options = FitOptions(beta=beta, tol=tol, max_iter=max_iter, verbose=verbose, alpha=alpha,
                             l1_ratio=l1_ratio, check_every=check_every, solver=solver,
                             inner_iter=inner_iter, orthogonal=orthogonal, extrapolation=extrapolation)
        beta, solver = options.beta, options.solver
        if options.orthogonal and online.is_chunk_source(V):  # its solver: FitOptions checks it
            raise ParameterError("orthogonal penalises the whole factors: fit one tensor V, "
                                 "or chunked data with orthogonal=0")
        continuity = check_penalty_weights(continuity, self.rank, "continuity")
        smoothed = isinstance(continuity, Tensor) or continuity != 0
        if smoothed:
            if solver not in ("mu", "auto"):
                raise ParameterError(f"continuity is a penalty of the multiplicative updates: use "
                                 f"solver='mu' (or 'auto'), got solver={solver!r}")
            if self._time_axis is None:
                raise ParameterError(f"continuity smooths activations along time, an axis of NMF's "
                                 f"and NMFD's H; {type(self).__name__} has none: fit it with "
                                 f"continuity=0")
            if self.H is None or not self.H.requires_grad:
                raise ParameterError("continuity penalises the learned activations, but H is not "
                                 "learned (trainable_H=False): fit with continuity=0")
            if online.is_chunk_source(V):
                raise ParameterError("continuity needs the whole activations along time: fit one "
                                 "tensor V, or chunked data with continuity=0")
        if seed is None:
            seed = getattr(self, "seed", None)
        if online.is_chunk_source(V):
            if solver not in ("mu", "auto"):  # "auto": MU is the chunked fits' one solver
                raise ParameterError(f"chunked data are fitted with solver='mu', got solver={solver!r}")
            return online.fit_chunks_with(self, V, options, keep_activations=keep_activations,
                                          callback=callback, init=init, seed=seed)
        if inner_iter is not None or keep_activations:
            raise ParameterError("inner_iter and keep_activations apply to chunked data (an iterable of "
                             "(n_i, C) tensors) only")
        # "auto": HALS swept to a stall or extrapolated MU (nmfsep.fitting)
        accelerate = solver == "auto"
        if accelerate:  # HALS takes no continuity: extrapolated MU does
            solver = "mu" if smoothed or options.orthogonal else accelerated.auto_solver(self, beta)
        least_squares = solver != "mu"
        if least_squares and not (isinstance(self, NMF) and self.has_closed_form()):
            raise ParameterError(
                f"solver={solver!r} fits plain NMF only (V (N, C) ≈ H Wᵀ); use solver='mu' for "
                f"{type(self).__name__}"
            )
        V = self.prepare_target(V)
        # the iterations see V near 1 whatever its loudness; factors and loss come back in V's units
        with ScaledFit(self, V, loss_power=beta) as scaled:
            V = scaled.data(V)
            if init is not None:  # from the data the iterations see
                self._initialise_(V, init, seed)
            l1, l2 = scaled.penalties(options.l1, options.l2)
            if least_squares:
                W, H = self.W, self.H

                def step():
                    solvers.alternating_update_(
                        W.data, H.data, V, solver=solver, update_W=W.requires_grad,
                        update_H=H.requires_grad, l1=l1, l2=l2, fixed_W=self.fixed_mask("W"),
                        fixed_H=self.fixed_mask("H"), accelerate=accelerate,
                    )
            else:
                V = floor_zeros(self._densify_if_needed(V, beta), beta)
                continuity = scaled.scale_free_penalty(continuity)
                # quadratic in the factors, as L2: scaled with it on normalised data
                orthogonal = scaled.penalties(0.0, options.orthogonal)[1]
                step = self.multiplicative_step(V, beta, l1, l2, continuity,
                                                orthogonal=orthogonal)
            if smoothed:
                def loss():
                    return self.divergence(V, beta) + self._continuity_cost(continuity)
            else:
                loss = lambda: self.divergence(V, beta)  # noqa: E731
            callback = scaled.callback(callback)
            if accelerate and not least_squares:
                extrapolated = (accelerated.SquaredExtrapolation if options.extrapolation == "squarem"
                                else accelerated.ExtrapolatedSteps)
                step = extrapolated.for_model(self, step, loss)
                loss = step.loss  # checks the steps since the last check
                callback = step.stopping(callback)  # a fit it stops ends on a checked iterate
            with flush_denormal(V.device):
                return run_iterations(
                    self, step, loss, options, callback=callback,
                    desc=f"{type(self).__name__} {solver} beta={beta:g}",
                )

    def _densify_if_needed(self, V: Tensor, beta: float) -> Tensor:
        return V

    def _initialise_(self, V: Tensor, method: str, seed: Optional[int]) -> None:
        """Overwrite the learned factors with ``fit(init=method)``'s initialisation from ``V``."""
        from .init import initialise_model_, make_generator  # noqa: PLC0415 - init imports this module

        initialise_model_(self, V, method, generator=make_generator(seed, V.device))

    def sparse_fit(self, V, beta=2, max_iter=200, verbose=False, sW=None, sH=None) -> int:
        """Fit with Hoyer's sparseness constraints on ``W`` and/or ``H``.

        Factors with a target sparseness (``sW``, ``sH`` in (0, 1), see
        :func:`nmfsep.metrics.sparseness`) take projected gradient steps (:class:`SparsityProj`),
        the others multiplicative updates. Hoyer, "Non-negative Matrix Factorization with
        Sparseness Constraints", JMLR 2004.

        Returns
        -------
        int
            Number of iterations run (``max_iter``).
        """
        # one loss check, at the end: the stopping rule does not apply
        options = FitOptions(beta=beta, tol=0.0, max_iter=max_iter, verbose=verbose, check_every=max_iter)
        beta = options.beta
        V = self.prepare_target(V)
        V = V.to_dense() if V.is_sparse else V
        with ScaledFit(self, V, loss_power=beta) as scaled:  # as fit: any loudness of V
            V = floor_zeros(scaled.data(V), beta)
            targets = {"W": sW, "H": sH}
            projectors = {}
            for name in self.learned_factors():
                if targets[name] is not None:
                    param = getattr(self, name)
                    # start from the projection so every iterate satisfies the constraint
                    with torch.no_grad():
                        target = check_real(targets[name], f"s{name}", low=0, high=1, low_open=True,
                                            high_open=True)
                        param.copy_(SparsityProj._project(param, target, 1))
                    projectors[name] = SparsityProj([param], targets[name], dim=1)
            mu_names = [n for n in self.learned_factors() if n not in projectors]
            # the other factors take fit's multiplicative step, where the first of them comes
            mu_step = self.multiplicative_step(V, beta, 0.0, 0.0, names=mu_names) if mu_names else None

            def loss_closure():
                return beta_div(self(), V, beta)

            def step():
                for name in self.learned_factors():
                    if name in projectors:
                        with _OneParamAtATime(list(self.parameters())):
                            getattr(self, name).requires_grad_(True)
                            projectors[name].step(loss_closure)
                    elif name == mu_names[0]:
                        mu_step()

            with flush_denormal(V.device):
                return run_iterations(self, step, lambda: self.divergence(V, beta), options, desc="sparse_fit")


class NMF(BaseComponent):
    r"""Non-negative matrix factorisation :math:`V \approx H W^\top`.

    Parameters
    ----------
    Vshape : tuple of int, optional
        ``(N, C)``, the shape of V; infers the sizes of ``W`` and ``H``.
    rank : int, optional
        Number of components R. Without it: that of a given ``W`` / ``H``, else C (as in
        torchnmf, a factorisation that can fit V exactly).
    **kwargs
        Passed to :class:`BaseComponent` (``W``, ``H``, ``trainable_W``, ``trainable_H``,
        ``fixed_W``, ``fixed_H``, ``seed``).

    Shape
    -----
    V: (N, C); W: (C, R); H: (N, R).

    Notes
    -----
    ``fit`` computes the updates in closed form (no autograd): for beta = 2 from
    :math:`V^\top H` and :math:`W (H^\top H)` without forming :math:`H W^\top`; sparse COO V is
    supported for beta = 1 and 2 without densifying.

    Examples
    --------
    >>> V = torch.rand(20, 30)
    >>> m = NMF(V.shape, 5)
    >>> m.W.size(), m.H.size()
    (torch.Size([30, 5]), torch.Size([20, 5]))
    >>> m().size()
    torch.Size([20, 30])
    """

    _supports_sparse = True
    _rank_axis = 1
    _supports_entry_masks = True
    _time_axis = 0  # H's rows are V's rows: frames of a spectrogram seen as (frames, freq)

    def __init__(self, Vshape: Optional[Sequence[int]] = None, rank: Optional[int] = None, **kwargs):
        rank = self._sizes_from(Vshape, rank, (), kwargs)
        super().__init__(rank, **kwargs)
        self._check_fits(Vshape)

    @staticmethod
    def reconstruct(H: Tensor, W: Tensor) -> Tensor:
        return F.linear(H, W)

    def _output_shape(self):
        return (self.H.shape[0], self.W.shape[0])

    def _activation_shape(self, Vshape):
        if len(Vshape) != 2 or Vshape[1] != self.W.shape[0]:
            raise ParameterError(f"V must have shape (N, {self.W.shape[0]}) for these templates, got {Vshape}")
        return (Vshape[0], self.rank)

    def has_closed_form(self) -> bool:
        # a subclass that changes the model, or hooks on forward, needs the autograd path
        return (
            type(self).reconstruct is NMF.reconstruct
            and not self._forward_hooks
            and not self._forward_pre_hooks
        )

    def _densify_if_needed(self, V, beta):
        if V.is_sparse and beta not in (1.0, 2.0):
            return V.to_dense()
        return V

    def gradient_parts(self, name, V, beta):
        if not self.has_closed_form():
            return super().gradient_parts(name, V.to_dense() if V.is_sparse else V, beta)
        workspace = fastpaths.workspace_of(self)
        W, H = self.W.detach(), self.H.detach()
        if name == "H" and not V.is_sparse and workspace is not None and workspace.update is not None:
            # in a fit: update H block by block as its parts come, and (beta = 2) take the next
            # W update's product with V from the same pass: V is read once per iteration
            fastpaths.nmf_update_H_(V, W, H, beta, workspace, prepare_W=self.W.requires_grad)
            return None
        return fastpaths.nmf_parts(name, V, W, H, beta, workspace)

    @torch.no_grad()
    def divergence(self, V, beta):
        if not self.has_closed_form():
            return super().divergence(V, beta)
        if not V.is_sparse:  # from Gram matrices (beta = 2) or block by block: no H Wᵀ in memory
            return fastpaths.nmf_loss(V, self.W.detach(), self.H.detach(), beta,
                                      fastpaths.workspace_of(self))
        W, H = self.W, self.H
        rows, cols = V.indices()
        values = V.values()
        model = (H[rows] * W[cols]).sum(1)
        if beta == 2:  # ||V||² - 2<V, HWᵀ> + ||HWᵀ||², the last from R x R Gram matrices
            total = (values ** 2).sum() - 2 * (values * model).sum() + ((H.t() @ H) * (W.t() @ W)).sum()
            return total / 2
        eps = eps_for(V.dtype)
        return (torch.xlogy(values, values) - torch.xlogy(values, model + eps) - values).sum() + (
            H.sum(0) * W.sum(0)
        ).sum()


def _check_aligned(aligned) -> bool:
    if not isinstance(aligned, bool):
        raise ParameterTypeError(f"aligned must be True or False, got {aligned!r}")
    return aligned


class _Deconvolution(BaseComponent):
    """NMF with templates convolved along ``n_dims`` axes (NMFD, NMF2D, NMF3D)."""

    n_dims = 1
    _contiguous_target = True

    def __init__(self, Vshape=None, rank=None, kernel_size=1, *, aligned=False, **kwargs):
        aligned = _check_aligned(aligned)
        rank = self._sizes_from(Vshape, rank, self._kernel_tuple(kernel_size), kwargs, aligned=aligned)
        super().__init__(rank, **kwargs)
        self.aligned = aligned
        for name in ("W", "H"):
            factor = getattr(self, name)
            if factor is not None and factor.dim() != self.n_dims + 2:
                raise ParameterError(
                    f"{type(self).__name__}'s {name} must have {self.n_dims + 2} axes, got shape "
                    f"{tuple(factor.shape)}"
                )
        self._check_fits(Vshape)

    @classmethod
    def _kernel_tuple(cls, kernel_size) -> Tuple[int, ...]:
        if isinstance(kernel_size, int):
            kernel = (kernel_size,) * cls.n_dims
        else:
            kernel = tuple(int(k) for k in kernel_size)
        if len(kernel) != cls.n_dims or any(k < 1 for k in kernel):
            raise ParameterError(f"kernel size must be {cls.n_dims} positive int(s), got {kernel_size!r}")
        return kernel

    @property
    def kernel_size(self) -> Tuple[int, ...]:
        return tuple(self.W.shape[2:])

    @classmethod
    def _conv(cls):
        return (F.conv1d, F.conv2d, F.conv3d)[cls.n_dims - 1]

    @classmethod
    def reconstruct(cls, H: Tensor, W: Tensor, *, aligned: bool = False) -> Tensor:
        """The model of ``H`` and ``W``: their full convolution along the shifted axes;
        ``aligned=True``: its 'valid' part along the last axis (see :class:`NMFD`)."""
        axes = tuple(range(2, 2 + cls.n_dims))
        padding = [k - 1 for k in W.shape[2:]]
        if aligned:
            padding[-1] = 0
        return cls._conv()(H, W.flip(axes), padding=tuple(padding))

    # (the shift-invariant PLCA models borrow these two: they read W, H, n_dims and aligned)
    def _output_shape(self):
        spatial = [h + k - 1 for h, k in zip(self.H.shape[2:], self.W.shape[2:])]
        if self.aligned:
            spatial[-1] = self.H.shape[-1] - self.W.shape[-1] + 1
        return (self.H.shape[0], self.W.shape[0]) + tuple(spatial)

    def _activation_shape(self, Vshape):
        kernel = tuple(self.W.shape[2:])
        shifted = kernel[:-1] if self.aligned else kernel
        if (len(Vshape) != self.n_dims + 2 or Vshape[1] != self.W.shape[0] or Vshape[-1] < 1
                or any(s < k for s, k in zip(Vshape[2:], shifted))):
            which = ", all but the last" if self.aligned else ""
            raise ParameterError(
                f"V must have shape (N, {self.W.shape[0]}, ...) with {self.n_dims} shifted axes"
                f"{which} at least {shifted} long for these templates, got {tuple(Vshape)}"
            )
        size = [s - k + 1 for s, k in zip(Vshape[2:], kernel)]
        if self.aligned:
            size[-1] = Vshape[-1] + kernel[-1] - 1
        return (Vshape[0], self.rank) + tuple(size)


class NMFD(_Deconvolution):
    r"""Non-negative matrix factor deconvolution (Smaragdis 2004).

    .. math:: V_{n,c,l} \approx \sum_{t=0}^{T-1} \sum_r W_{c,r,t} H_{n,r,l-t}

    Parameters
    ----------
    Vshape : tuple of int, optional
        ``(N, C, L)``: batch, channels (frequency bins) and length (frames).
    rank : int, optional
        Number of components R. Without it: that of a given ``W`` / ``H``, else C (as in
        torchnmf).
    T : int
        Template length (frames).
    aligned : bool, default False
        False: torchnmf's model, a template starts only where it ends inside V. True: one
        activation per frame of V, plus ``T - 1`` for templates started before the first
        frame, whose tails enter V (a frame-aligned, "full" deconvolution): ``H (N, R,
        L + T - 1)``, ``H[..., T - 1 + j]`` starts a template at frame ``j`` and the tails
        past V's end are cut off, :math:`V_{n,c,l} \approx \sum_{r,t} W_{c,r,t}
        H_{n,r,l+T-1-t}` (the middle ``L`` frames of the full convolution). The separation
        pipeline's model: every onset in a spectrogram has its activation.
    **kwargs
        Passed to :class:`BaseComponent`.

    Shape
    -----
    V: (N, C, L); W: (C, R, T); H: (N, R, L - T + 1). ``H`` is T - 1 frames shorter than V
    (activation ``H[..., j]`` starts a template at frame ``j``); aligned, ``H (N, R, L + T - 1)``.

    Notes
    -----
    ``fit`` computes the updates and the loss in closed form (no autograd), aligned or not:
    the shifted activations make the model one matrix product (see ``gradient_parts``).

    Examples
    --------
    >>> V = torch.rand(33, 50).unsqueeze(0)
    >>> m = NMFD(V.shape, 16, 3)
    >>> m.W.size(), m.H.size()
    (torch.Size([33, 16, 3]), torch.Size([1, 16, 48]))
    >>> m().size()
    torch.Size([1, 33, 50])
    >>> m = NMFD(V.shape, 16, 3, aligned=True)
    >>> m.H.size(), m().size()
    (torch.Size([1, 16, 52]), torch.Size([1, 33, 50]))
    """

    n_dims = 1
    _rank_axis = 1
    _time_axis = -1

    def __init__(self, Vshape=None, rank=None, T=1, *, aligned=False, **kwargs):
        super().__init__(Vshape, rank, kernel_size=T, aligned=aligned, **kwargs)

    @classmethod
    def reconstruct(cls, H: Tensor, W: Tensor, *, aligned: bool = False) -> Tensor:
        """The model of ``H (N, R, J)`` and ``W (C, R, T)``: ``(N, C, J + T - 1)``, or
        ``(N, C, J - T + 1)`` with ``aligned=True`` (see the class)."""
        if not aligned:
            return super().reconstruct(H, W)
        C, R, T = W.shape
        N, _, J = H.shape
        # windows[n, r, s, l] = H[n, r, l + s], met by template lag t = T - 1 - s: one matrix
        # product over all lags (CPU convolutions with few components are several times slower)
        windows = H.unfold(2, T, 1).transpose(2, 3).reshape(N, R * T, J - T + 1)
        return torch.matmul(W.flip(2).reshape(C, R * T), windows)

    def has_closed_form(self) -> bool:
        return (
            type(self).reconstruct.__func__ is NMFD.reconstruct.__func__
            and not self._forward_hooks
            and not self._forward_pre_hooks
        )

    def gradient_parts(self, name, V, beta):
        if not self.has_closed_form():
            return super().gradient_parts(name, V, beta)
        return fastpaths.nmfd_parts(name, V, self.W.detach(), self.H.detach(), beta,
                                    fastpaths.workspace_of(self), aligned=self.aligned)

    @torch.no_grad()
    def divergence(self, V, beta):
        if not self.has_closed_form():
            return super().divergence(V, beta)
        # through the shifted activations: no full-size convolution, and (beta = 2) the product
        # with V is kept for the next W update
        return fastpaths.nmfd_loss(V, self.W.detach(), self.H.detach(), beta,
                                   fastpaths.workspace_of(self), aligned=self.aligned)


class NMF2D(_Deconvolution):
    r"""Non-negative matrix factor 2-D deconvolution (Schmidt & Mørup 2006).

    .. math:: V_{n,c,l,m} \approx \sum_{a,b,r} W_{c,r,a,b} H_{n,r,l-a,m-b}

    ``NMF2D(Vshape, rank, kernel_size, aligned=True)`` aligns the last axis (time) as
    :class:`NMFD`'s ``aligned``: ``H (N, R, L - K1 + 1, M + K2 - 1)``.

    Shape
    -----
    V: (N, C, L, M); W: (C, R, K1, K2); H: (N, R, L - K1 + 1, M - K2 + 1).

    Examples
    --------
    >>> V = torch.rand(33, 50).unsqueeze(0).unsqueeze(0)
    >>> m = NMF2D(V.shape, 16, 3)
    >>> m.W.size(), m.H.size()
    (torch.Size([1, 16, 3, 3]), torch.Size([1, 16, 31, 48]))
    """

    n_dims = 2
    _rank_axis = 2


class NMF3D(_Deconvolution):
    r"""Non-negative matrix factor 3-D deconvolution.

    Shape
    -----
    V: (N, C, L, M, O); W: (C, R, K1, K2, K3); H: (N, R, L-K1+1, M-K2+1, O-K3+1).

    Examples
    --------
    >>> V = torch.rand(3, 16, 16, 20).unsqueeze(0)
    >>> m = NMF3D(V.shape, 4, (5, 5, 8))
    >>> m.W.size(), m.H.size()
    (torch.Size([3, 4, 5, 5, 8]), torch.Size([1, 4, 12, 12, 13]))
    """

    n_dims = 3
    _rank_axis = 3
