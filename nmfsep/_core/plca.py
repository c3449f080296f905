r"""Probabilistic latent component analysis: PLCA, SIPLCA, SIPLCA2 and SIPLCA3 as ``nn.Module`` s.

Shapes follow torchnmf 0.3 and the NMF family (:mod:`nmfsep.nmf`); ``Z`` has one entry
per component:

=========  ====================  =====================  ==============================  =====
model      V                     W (templates)          H (activations)                 Z
=========  ====================  =====================  ==============================  =====
PLCA       (N, C)                (C, R)                 (N, R)                          (R,)
SIPLCA     (N, C, L)             (C, R, T)              (N, R, L - T + 1)               (R,)
SIPLCA2    (N, C, L, M)          (C, R, K1, K2)         (N, R, L - K1 + 1, M - K2 + 1)  (R,)
SIPLCA3    (N, C, L, M, O)       (C, R, K1, K2, K3)     (N, R, L-K1+1, M-K2+1, O-K3+1)  (R,)
=========  ====================  =====================  ==============================  =====

The factors are probability distributions: every template ``W[:, r]`` and every activation
``H[:, r]`` sums to one over all its axes, and so does ``Z``. The model of ``V / V.sum()`` is
the NMF-family reconstruction with the activations scaled by ``Z``, e.g. for PLCA
:math:`P(n, c) = \sum_z P(c|z) P(z) P(n|z)`, i.e. :math:`V / V.sum() \approx H\,diag(Z)\,W^\top`.

``fit`` maximises the log-posterior

.. math::
    \mathcal{L} = \sum V \log \Lambda + \sum (\alpha_W - 1) \log W
                  + \sum (\alpha_H - 1) \log H + \sum (\alpha_Z - 1) \log Z

(:math:`\Lambda` the normalised model) with expectation-maximisation. Each iteration is one
E-step for all factors: the expected counts of a factor :math:`\theta` are
:math:`\theta \odot \nabla_\theta \langle V / \Lambda, \Lambda \rangle` (one backward pass of
the model gives them for W, H and Z); the M-step is the Dirichlet MAP estimate
:math:`\theta \propto \max(\text{counts} + \alpha - 1, 0)` per component (Shashanka, Raj &
Smaragdis, "Probabilistic latent variable models as nonnegative factorizations", 2008). The
pseudo-counts :math:`\alpha - 1` are in the units of ``V`` (the expected counts sum to
``V.sum()``), so a prior weighs more on a smaller ``V``: rescale ``V`` to set its strength.

Monotonicity: with every :math:`\alpha \ge 1` each iteration is an exact EM step for
:math:`\mathcal{L}` and the log-posterior never decreases. With :math:`\alpha < 1` the
Dirichlet density is unbounded on the simplex's faces, the MAP estimate does not exist and the
clamped update is not an exact M-step: there is no guarantee, and :math:`\mathcal{L}` is
evaluated with zeros replaced by the dtype's smallest normal number (an entry that reaches
zero adds :math:`(1 - \alpha)\,|\log(\text{tiny})|`). Entries clamped to zero stay zero.
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from .._errors import ParameterError, ParameterTypeError
from ._fitting import FitOptions, run_iterations
from ._scaling import ScaledFit, robust_total, times_total
from ._validation import ValueAssertionError, as_float_tensor, check_nonnegative, check_rank
from .nmf import NMF, NMF2D, NMF3D, NMFD, _check_aligned
from .nmf import BaseComponent as _NMFBaseComponent
from .updates import flush_denormal

__all__ = ["BaseComponent", "PLCA", "SIPLCA", "SIPLCA2", "SIPLCA3"]

_Alpha = Union[float, Tensor]
#: Sums a tensor over the processes of a data-parallel fit (``torch.distributed.all_reduce``).
_Reduce = Callable[[Tensor], Tensor]


def _component_sums(x: Tensor) -> Tensor:
    """Per-component totals of a factor (all axes but axis 1), shaped to broadcast; Z: its total."""
    if x.dim() == 1:
        return x.sum(0, keepdim=True)
    return x.sum([a for a in range(x.dim()) if a != 1], keepdim=True)


def _normalised(x: Tensor, name: str) -> Tensor:
    totals = _component_sums(x)
    if not bool((totals > 0).all()):
        raise ParameterError(
            f"{name} has a component that sums to zero, so it cannot be normalised to a probability "
            f"distribution; give every component at least one positive entry"
        )
    return x / totals


def _per_component(Z: Tensor, ndim: int) -> Tensor:
    """``Z`` shaped to scale a factor with ``ndim`` axes along its component axis (axis 1)."""
    return Z.view((-1,) + (1,) * (ndim - 2))


def _check_alpha(alpha, factor: Tensor, name: str) -> _Alpha:
    """A Dirichlet concentration: a positive number or a positive tensor broadcastable to ``factor``.

    Returns a float, or a tensor on the factor's device and dtype (``1.0`` when all ones).
    """
    if isinstance(alpha, Tensor):
        if alpha.is_complex():
            raise ParameterTypeError(f"{name} must be real, got a complex tensor")
        alpha = alpha.detach().to(device=factor.device, dtype=factor.dtype)
        try:
            shape = torch.broadcast_shapes(alpha.shape, factor.shape)
        except RuntimeError:
            shape = None
        if shape != factor.shape:
            raise ParameterError(
                f"{name} of shape {tuple(alpha.shape)} must broadcast to the factor's shape "
                f"{tuple(factor.shape)}"
            )
        if not bool((torch.isfinite(alpha) & (alpha > 0)).all()):
            raise ParameterError(f"{name} must be finite and positive (a Dirichlet concentration)")
        return 1.0 if bool((alpha == 1).all()) else alpha
    if isinstance(alpha, bool):
        raise ParameterTypeError(f"{name} must be a positive number or tensor, got {alpha!r}")
    try:
        value = float(alpha)
    except (TypeError, ValueError) as err:
        raise ParameterTypeError(f"{name} must be a positive number or tensor, got {alpha!r}") from err
    if not math.isfinite(value) or value <= 0:
        raise ParameterError(
            f"{name} must be finite and positive (a Dirichlet concentration; 1 = no prior, "
            f"< 1 sparsifies, > 1 smooths), got {alpha!r}"
        )
    return value


def _component_count(spec) -> Optional[int]:
    """The number of components (axis 1) of a factor given as a tensor or a size, if it has one."""
    shape = tuple(spec.shape) if isinstance(spec, Tensor) else tuple(spec) if spec is not None else ()
    return int(shape[1]) if len(shape) > 1 else None


def _is_flat(alpha: _Alpha) -> bool:
    """Whether a (checked) concentration is the flat prior alpha = 1."""
    return isinstance(alpha, float) and alpha == 1.0


class BaseComponent(_NMFBaseComponent):
    r"""Base class of the PLCA modules (torchnmf-compatible).

    It extends the NMF family's base (factor creation, per-component fixing, shape checks) with
    the component weights ``Z`` and fitting by expectation-maximisation.

    Parameters
    ----------
    rank : int, optional
        Number of components R. Inferred from ``Z``, ``W`` or ``H`` when omitted (they must
        then agree on it, as in torchnmf).
    W, H : tuple of int or Tensor, optional
        Size (random initialisation) or initial values of the templates and the activations.
        They are normalised per component (every ``W[:, r]`` and ``H[:, r]`` sums to one); a
        tensor with fewer than ``rank`` components is completed with random ones.
    Z : Tensor, optional
        Initial component weights, shape ``(R,)``, normalised to sum to one. Uniform when
        omitted with a ``rank`` (given, or inferred from ``Vshape``); as in torchnmf, ``Z`` is
        None when neither is given, until :meth:`fit` starts it uniform.
    trainable_W, trainable_H, trainable_Z : bool
        Whether the whole factor is learned by :meth:`fit` (default True).
    fixed_W, fixed_H : sequence of bool or of int, optional
        Components held fixed in ``W`` (template ``W[:, r]``) or ``H`` (activation ``H[:, r]``):
        one boolean per component, or the indices of the fixed components. They are normalised
        once here and then stay bit-exact through :meth:`fit` (they still take part in the
        E-step).
    seed : int, optional
        Seed of the random initialisation (the global torch generator is used otherwise).

    Attributes
    ----------
    W, H, Z : Parameter or None
        Templates :math:`P(c, \ldots | z)`, activations :math:`P(n, \ldots | z)` and component
        weights :math:`P(z)`.
    rank : int
        Number of components.
    loss_curve_ : list of float
        Log-posterior before fitting and at every ``check_every`` iteration of the last ``fit``.
    n_iter_ : int
        Iterations taken by the last ``fit``.
    norm_ : Tensor, 0-dim
        ``V.sum()`` of the last ``fit`` (which returns it too): ``model(norm=model.norm_)``
        approximates that ``V``.
    """

    _nmf_model = None  # the NMF-family class with the same shapes and reconstruction
    n_dims = 0  # shifted axes

    def __init__(
        self,
        rank: Optional[int] = None,
        W=None,
        H=None,
        Z=None,
        trainable_W: bool = True,
        trainable_H: bool = True,
        trainable_Z: bool = True,
        *,
        fixed_W=None,
        fixed_H=None,
        seed: Optional[int] = None,
    ):
        uniform_Z = Z is None and rank is not None  # without rank or Z, torchnmf leaves Z None
        if Z is not None:
            Z = check_nonnegative(Z, "Z").detach().clone()
            if Z.dim() != 1:
                raise ValueAssertionError(
                    f"Z must be 1-D (one weight per component), got shape {tuple(Z.shape)}")
            if rank is None:  # Z says the rank; W and H must agree with it (as torchnmf asserts)
                for name, spec in (("W", W), ("H", H)):
                    count = _component_count(spec)
                    if count is not None and count != Z.numel():
                        raise ValueAssertionError(
                            f"{name} has {count} components (axis 1) but Z has {Z.numel()} entries: "
                            f"give factors that agree, or a rank to complete the smaller ones"
                        )
                rank = Z.numel()
            elif check_rank(rank) != Z.numel():
                raise ParameterError(f"Z has {Z.numel()} entries but rank is {rank}")
        super().__init__(rank, W, H, trainable_W, trainable_H, fixed_W=fixed_W, fixed_H=fixed_H, seed=seed)
        for name in ("W", "H"):
            factor = getattr(self, name)
            if factor is None:
                continue
            if factor.dim() != self.n_dims + 2:
                raise ParameterError(
                    f"{type(self).__name__}'s {name} must have {self.n_dims + 2} axes, got shape "
                    f"{tuple(factor.shape)}"
                )
            with torch.no_grad():
                factor.copy_(_normalised(factor, name))
        self._trainable_Z = bool(trainable_Z)
        if Z is not None:
            self.Z = nn.Parameter(_normalised(Z.to(self._factor_dtype()), "Z"), requires_grad=self._trainable_Z)
        elif uniform_Z:
            self._start_uniform_Z()
        else:  # as torchnmf; fit starts it uniform
            self.register_parameter("Z", None)

    def _factor_dtype(self) -> torch.dtype:
        return next((f.dtype for f in (self.W, self.H) if f is not None), torch.get_default_dtype())

    def _start_uniform_Z(self) -> None:
        self.Z = nn.Parameter(torch.full((self.rank,), 1.0 / self.rank, dtype=self._factor_dtype()),
                              requires_grad=self._trainable_Z)

    def _sizes_from(self, Vshape, rank, kernel: Tuple[int, ...], kwargs: dict,
                    aligned: bool = False) -> Optional[int]:
        # with Vshape, a given Z also says the rank
        if Vshape is not None and rank is None and isinstance(kwargs.get("Z"), Tensor):
            rank = kwargs["Z"].numel()
        return super()._sizes_from(Vshape, rank, kernel, kwargs, stacklevel=4,  # warn at the caller
                                   aligned=aligned)

    # -- the model -------------------------------------------------------------------------
    def forward(
        self,
        H: Optional[Tensor] = None,
        W: Optional[Tensor] = None,
        Z: Optional[Tensor] = None,
        norm: Optional[Union[float, Tensor]] = None,
    ) -> Tensor:
        """Reconstruct from ``H``, ``W`` and ``Z`` (the module's own where not given).

        Parameters
        ----------
        H, W, Z : Tensor, optional
            Activations, templates and component weights.
        norm : float or Tensor, optional
            Scale of the output (``fit`` returns ``V.sum()`` for it); the model sums to one
            without it.

        Returns
        -------
        Tensor
            The model, of the shape of ``V``.
        """
        self._publish_masks()
        factors = {"H": self.H if H is None else H, "W": self.W if W is None else W,
                   "Z": self.Z if Z is None else Z}
        missing = [name for name, value in factors.items() if value is None]
        if missing:
            raise ParameterError(f"{type(self).__name__} has no {missing[0]}: pass it to forward()")
        H, W, Z = factors["H"], factors["W"], factors["Z"]
        output = self.reconstruct(H, W, Z, aligned=True) if self.aligned else self.reconstruct(H, W, Z)
        return output if norm is None else times_total(output, norm)

    @classmethod
    def reconstruct(cls, H: Tensor, W: Tensor, Z: Tensor, **options) -> Tensor:
        """The NMF-family reconstruction of ``W`` with the activations ``H`` scaled by ``Z``
        (``options``: the NMF-family model's, e.g. ``aligned=True`` for the shift-invariant
        ones)."""
        if cls._nmf_model is None:  # pragma: no cover - abstract
            raise NotImplementedError
        return cls._nmf_model.reconstruct(H * _per_component(Z, H.dim()), W, **options)

    # the NMF-family model of the same shapes knows them (it reads W, H, rank and n_dims)
    def _output_shape(self):
        return self._nmf_model._output_shape(self)

    def _activation_shape(self, Vshape):
        return self._nmf_model._activation_shape(self, Vshape)

    # -- fitting ---------------------------------------------------------------------------
    def learned_factors(self):
        return [n for n in ("W", "H", "Z") if getattr(self, n) is not None and getattr(self, n).requires_grad]

    @torch.no_grad()
    def _normalise_trainable_(self, reduce: Optional[_Reduce] = None) -> None:
        """Project the learned parts of the factors onto the simplex (fixed parts untouched).

        ``reduce`` sums a tensor over the processes of a data-parallel fit, where every
        process holds rows of ``H``: its totals are those of all the shards.
        """
        for name in self.learned_factors():
            param = getattr(self, name)
            fixed = self.fixed_mask(name)
            if name == "H" and reduce is not None:
                new = param / reduce(_component_sums(param))
            else:
                new = _normalised(param, name)
            param.copy_(new if fixed is None else torch.where(fixed, param, new))

    @torch.no_grad()
    def _log_posterior(self, V: Tensor, alphas: Dict[str, _Alpha],
                       reduce: Optional[_Reduce] = None) -> Tensor:
        # zeros become the smallest normal number: exact for every positive value
        tiny = torch.finfo(V.dtype).tiny

        def prior(name: str) -> Tensor:
            alpha = alphas.get(name, 1.0)
            if _is_flat(alpha):
                return torch.zeros((), dtype=V.dtype, device=V.device)
            return ((alpha - 1) * getattr(self, name).clamp_min(tiny).log()).sum()

        # the data and H belong to this process; W and Z are shared by all of them
        local = torch.xlogy(V, self().clamp_min(tiny)).sum() + prior("H")
        if reduce is not None:
            local = reduce(local)
        return local + prior("W") + prior("Z")

    def _em_step(self, P: Tensor, norm: Tensor, alphas: Dict[str, _Alpha],
                 reduce: Optional[_Reduce] = None):
        """One EM iteration as a closure; ``reduce`` as in :meth:`_normalise_trainable_`."""
        names = self.learned_factors()
        params = [getattr(self, name) for name in names]
        # expected counts are computed for P = V / norm; the pseudo-counts are in V's units
        pseudo_counts = {name: (alphas[name] - 1) / norm for name in names if not _is_flat(alphas[name])}

        def step():
            with torch.enable_grad():
                model = self()
            # E-step: posterior weight P / model (zero where the model gives V no mass)
            ratio = torch.where(model > 0, P / model.detach(), torch.zeros_like(P))
            gradients = torch.autograd.grad(model, params, ratio)
            with torch.no_grad():
                for name, param, gradient in zip(names, params, gradients):
                    counts = param * gradient
                    if reduce is not None and name != "H":  # W's and Z's counts: all the data's
                        counts = reduce(counts)
                    if name in pseudo_counts:
                        counts = (counts + pseudo_counts[name]).clamp_min_(0)
                    totals = _component_sums(counts)
                    if reduce is not None and name == "H":  # H is a distribution over all rows
                        totals = reduce(totals)
                    # a component whose counts all vanish keeps its distribution
                    new = torch.where(totals > 0, counts / totals, param)
                    fixed = self.fixed_mask(name)
                    param.copy_(new if fixed is None else torch.where(fixed, param, new))

        return step

    def fit(
        self,
        V: Tensor,
        tol: float = 1e-4,
        max_iter: int = 200,
        verbose: bool = False,
        W_alpha: _Alpha = 1,
        H_alpha: _Alpha = 1,
        Z_alpha: _Alpha = 1,
        *,
        check_every: int = 10,
        callback=None,
    ) -> Tuple[int, Tensor]:
        r"""Learn the factors by maximising the log-posterior of ``V`` (EM, Dirichlet priors).

        .. math::
            \mathcal{L} = \sum V \log \Lambda + \sum (\alpha_W - 1) \log W
                          + \sum (\alpha_H - 1) \log H + \sum (\alpha_Z - 1) \log Z

        Parameters
        ----------
        V : Tensor
            Non-negative data of the shape the model reconstructs (see the class), with a
            positive sum; modelled as ``V / V.sum()``. The model moves to V's dtype and device.
        tol : float
            Stop when the log-posterior's increase between two checks, relative to its initial
            magnitude, falls under ``tol``; a negative ``tol`` (``-math.inf``) runs
            ``max_iter`` iterations.
        max_iter : int
            Maximum number of EM iterations (one update of every trainable factor).
        verbose : bool
            Show a progress bar with the log-posterior.
        W_alpha, H_alpha, Z_alpha : float or Tensor
            Dirichlet concentrations, positive, scalars or tensors broadcastable to the factor.
            1 is no prior; below 1 sparsifies, above 1 smooths. ``alpha - 1`` is a pseudo-count
            in the units of ``V`` added to every entry's expected count (then clamped at 0).
        check_every : int
            Evaluate the log-posterior (stopping rule, ``loss_curve_``) every this many
            iterations.
        callback : callable, optional
            ``callback(model, n_iter, log_posterior)`` after every iteration; return False to stop.

        Returns
        -------
        n_iter : int
            Number of iterations run (torchnmf's ``PLCA.fit`` returns one less, the index of
            its last iteration).
        norm : Tensor, 0-dim
            ``V.sum()``: ``model(norm=norm)`` approximates ``V``. In V's dtype, or float64
            where the sum overflows it (float32 data near 1e37).

        Notes
        -----
        With every alpha >= 1 the log-posterior never decreases; below 1 there is no such
        guarantee (see the module documentation).

        Examples
        --------
        >>> _ = torch.manual_seed(0)
        >>> V = torch.rand(20, 4) @ torch.rand(4, 30)
        >>> model = PLCA(V.shape, 4)
        >>> n_iter, norm = model.fit(V, max_iter=50)
        >>> model(norm=norm).shape
        torch.Size([20, 30])
        >>> round(float(model.Z.detach().sum()), 6)
        1.0
        """
        options = FitOptions(tol=tol, max_iter=max_iter, verbose=verbose, check_every=check_every)
        return self.fit_em(V, options, alphas={"W": W_alpha, "H": H_alpha, "Z": Z_alpha},
                           callback=callback)

    def fit_em(self, V: Tensor, options: FitOptions, *, alphas: Dict[str, _Alpha], callback=None,
               reduce: Optional[_Reduce] = None, reduce_value=None,
               desc: str = "EM") -> Tuple[int, Tensor]:
        """:meth:`fit` with its options validated already (part of the fitting protocol).

        Parameters
        ----------
        V : Tensor
            The data (this process's rows or items in a data-parallel fit).
        options : nmfsep.fitting.FitOptions
            ``tol``, ``max_iter``, ``verbose`` and ``check_every`` (``beta`` and ``alpha`` do
            not apply: the priors are ``alphas``).
        alphas : dict
            The Dirichlet concentrations ``{"W": ..., "H": ..., "Z": ...}`` of :meth:`fit`.
        callback : callable, optional
            As in :meth:`fit`.
        reduce : callable, optional
            Sums a tensor over the processes of a data-parallel fit
            (:func:`nmfsep.fitting.distributed_fit`): ``V`` holds this process's rows,
            ``H`` their activations, and the statistics of ``W`` and ``Z`` are summed.
        reduce_value : callable, optional
            ``reduce_value(value, "max" | "sum")`` for floats, with ``reduce``.
        desc : str
            Label of the progress bar.

        Returns
        -------
        n_iter : int
        norm : Tensor, 0-dim
            As in :meth:`fit` (the sum of all the shards' data with ``reduce``).
        """
        if self.Z is None:  # built without rank or Z (torchnmf's None): start from uniform weights
            self._start_uniform_Z()
        if not self.learned_factors():
            raise ParameterError("nothing to fit: W, H and Z are all held fixed (trainable_W/H/Z=False)")
        V = self.prepare_target(V)
        alphas = {name: _check_alpha(alpha, getattr(self, name), f"{name}_alpha")
                  for name, alpha in alphas.items()}
        # EM sees V near 1 whatever its loudness (its sum neither overflows nor underflows);
        # the factors are distributions, and norm and log-posterior come back in V's units
        with ScaledFit(self, V, names=(), loss_power=1.0, reduce=reduce_value) as scaled:
            V = scaled.data(V)
            norm = V.sum() if reduce is None else reduce(V.sum())
            if not bool(norm > 0):
                raise ParameterError(
                    "V sums to zero: PLCA models V / V.sum() as a probability distribution, which "
                    "needs at least one positive entry"
                )
            alphas = {name: scaled.prior(alpha) for name, alpha in alphas.items()}
            self._normalise_trainable_(reduce)
            step = self._em_step(V / norm, norm, alphas, reduce)
            with flush_denormal(V.device):
                n_iter = run_iterations(
                    self, step, lambda: self._log_posterior(V, alphas, reduce), options,
                    callback=scaled.callback(callback), desc=f"{type(self).__name__} {desc}",
                    increasing=True,
                )
        self.norm_ = scaled.user_total(norm)
        return n_iter, self.norm_

    @staticmethod
    def _scaled_activations(H: Tensor, Z: Tensor, norm: Tensor) -> Tensor:
        return times_total(H * _per_component(Z, H.dim()), norm)

    def transform(self, V: Tensor, *, warm_start: bool = True, **fit_kwargs) -> Tensor:
        """Fit ``H`` and ``Z`` to ``V`` with the templates held fixed; return scaled activations.

        The model is unchanged. Where the NMF family returns ``H``, a PLCA model returns the
        expected counts ``V.sum() * Z[r] * H[:, r]`` of every component, so that the
        NMF-family reconstruction of these activations with ``W`` approximates ``V`` (e.g.
        ``NMF.reconstruct(A, model.W)`` for PLCA). With flat priors every batch item is
        transformed independently.

        Parameters
        ----------
        V : Tensor
            New data; its batch axis and shifted axes may differ from the fitted data's.
        warm_start : bool
            Start from the model's ``H`` when its shape fits ``V``, else from a uniform one.
        **fit_kwargs
            Passed to :meth:`fit` (``tol``, ``max_iter``, ``H_alpha``, ``Z_alpha``, ...).

        Returns
        -------
        Tensor
            Activations in the units of ``V``, shape ``(N, R, ...)`` like ``H``, detached.

        Examples
        --------
        >>> model = PLCA((30, 20), 4); _ = model.fit(torch.rand(30, 20), max_iter=20)
        >>> model.transform(torch.rand(7, 20), max_iter=20).shape
        torch.Size([7, 4])
        """
        user_callback = fit_kwargs.pop("callback", None)
        fitted = {}

        def keep_model(model, n_iter, loss):
            # the mixin fits a copy of this model; its Z is needed to scale the activations
            fitted["model"] = model
            return None if user_callback is None else user_callback(model, n_iter, loss)

        H = super().transform(V, warm_start=warm_start, callback=keep_model, **fit_kwargs)
        norm = robust_total(as_float_tensor(V)).to(H.device)  # float64 where V's dtype overflows
        return self._scaled_activations(H, fitted["model"].Z.detach(), norm)

    def fit_transform(self, V: Tensor, **fit_kwargs) -> Tensor:
        """Fit the model to ``V`` and return its scaled activations (see :meth:`transform`)."""
        _, norm = self.fit(V, **fit_kwargs)
        return self._scaled_activations(self.H.detach(), self.Z.detach(), norm)

    def sparse_fit(self, *args, **kwargs):
        """Not available: PLCA models keep probability distributions and are fitted by EM."""
        raise NotImplementedError(
            f"{type(self).__name__} is fitted by EM; for sparse factors use "
            f"fit(V, H_alpha=..., W_alpha=...) with a Dirichlet concentration below 1"
        )


class PLCA(BaseComponent):
    r"""Probabilistic latent component analysis, :math:`V / V.sum() \approx H\,diag(Z)\,W^\top`.

    Estimates :math:`P(c|z)` (``W``), :math:`P(n|z)` (``H``) and :math:`P(z)` (``Z``) with
    :math:`P(n, c) \approx \sum_z P(c|z) P(z) P(n|z)`.

    Parameters
    ----------
    Vshape : tuple of int, optional
        ``(N, C)``, the shape of V; infers the sizes of ``W`` and ``H``.
    rank : int, optional
        Number of components R. Without it: that of a given ``Z``, ``W`` or ``H``, else C (as
        in torchnmf).
    **kwargs
        Passed to :class:`BaseComponent` (``W``, ``H``, ``Z``, ``trainable_W``,
        ``trainable_H``, ``trainable_Z``, ``fixed_W``, ``fixed_H``, ``seed``).

    Shape
    -----
    V: (N, C); W: (C, R); H: (N, R); Z: (R,).

    Examples
    --------
    >>> V = torch.rand(20, 30)
    >>> m = PLCA(V.shape, 5)
    >>> m.W.size(), m.H.size(), m.Z.size()
    (torch.Size([30, 5]), torch.Size([20, 5]), torch.Size([5]))
    >>> m().size()
    torch.Size([20, 30])
    """

    _nmf_model = NMF
    _rank_axis = NMF._rank_axis

    def __init__(self, Vshape: Optional[Sequence[int]] = None, rank: Optional[int] = None, **kwargs):
        rank = self._sizes_from(Vshape, rank, (), kwargs)
        super().__init__(rank, **kwargs)
        self._check_fits(Vshape)


class _ShiftInvariant(BaseComponent):
    """PLCA with templates shifted along ``n_dims`` axes (SIPLCA, SIPLCA2, SIPLCA3)."""

    _contiguous_target = True  # as the NMFD family's

    def __init__(self, Vshape=None, rank=None, kernel_size=1, *, aligned=False, **kwargs):
        kernel = self._nmf_model._kernel_tuple(kernel_size)
        aligned = _check_aligned(aligned)
        rank = self._sizes_from(Vshape, rank, kernel, kwargs, aligned=aligned)
        super().__init__(rank, **kwargs)
        self.aligned = aligned
        self._check_fits(Vshape)

    kernel_size = NMFD.kernel_size  # the templates' extent along the shifted axes


class SIPLCA(_ShiftInvariant):
    r"""Shift-invariant PLCA (Smaragdis & Raj 2007).

    .. math:: P(n, c, l) \approx \sum_z \sum_t P(c, t | z) P(z) P(n, l - t | z)

    Parameters
    ----------
    Vshape : tuple of int, optional
        ``(N, C, L)``: batch, channels (frequency bins) and length (frames).
    rank : int, optional
        Number of components R.
    T : int
        Template length (frames).
    aligned : bool, default False
        True: one activation per frame of V plus ``T - 1`` before it, ``H (N, R, L + T - 1)``,
        as :class:`~nmfsep.nmf.NMFD`'s ``aligned`` (SIPLCA2 and SIPLCA3 align their last axis
        likewise).
    **kwargs
        Passed to :class:`BaseComponent`.

    Shape
    -----
    V: (N, C, L); W: (C, R, T); H: (N, R, L - T + 1); Z: (R,). ``H[..., j]`` starts a template
    at frame ``j``.

    Examples
    --------
    >>> V = torch.rand(33, 50).unsqueeze(0)
    >>> m = SIPLCA(V.shape, 16, 3)
    >>> m.W.size(), m.H.size(), m.Z.size()
    (torch.Size([33, 16, 3]), torch.Size([1, 16, 48]), torch.Size([16]))
    >>> m().size()
    torch.Size([1, 33, 50])
    """

    _nmf_model = NMFD
    n_dims = NMFD.n_dims
    _rank_axis = NMFD._rank_axis

    def __init__(self, Vshape=None, rank=None, T=1, *, aligned=False, **kwargs):
        super().__init__(Vshape, rank, kernel_size=T, aligned=aligned, **kwargs)


class SIPLCA2(_ShiftInvariant):
    r"""Shift-invariant PLCA along two axes (e.g. log-frequency and time).

    .. math:: P(n, c, l, m) \approx \sum_z \sum_{a, b} P(c, a, b | z) P(z) P(n, l - a, m - b | z)

    With a constant-Q spectrogram as ``V (1, 1, F, L)`` a template shifted along the first axis
    is the same pattern at another pitch.

    Shape
    -----
    V: (N, C, L, M); W: (C, R, K1, K2); H: (N, R, L - K1 + 1, M - K2 + 1); Z: (R,).

    Examples
    --------
    >>> V = torch.rand(33, 50).unsqueeze(0).unsqueeze(0)
    >>> m = SIPLCA2(V.shape, 16, 3)
    >>> m.W.size(), m.H.size(), m.Z.size()
    (torch.Size([1, 16, 3, 3]), torch.Size([1, 16, 31, 48]), torch.Size([16]))
    >>> m().size()
    torch.Size([1, 1, 33, 50])
    """

    _nmf_model = NMF2D
    n_dims = NMF2D.n_dims
    _rank_axis = NMF2D._rank_axis


class SIPLCA3(_ShiftInvariant):
    r"""Shift-invariant PLCA along three axes.

    Shape
    -----
    V: (N, C, L, M, O); W: (C, R, K1, K2, K3); H: (N, R, L-K1+1, M-K2+1, O-K3+1); Z: (R,).

    Examples
    --------
    >>> V = torch.rand(3, 16, 16, 20).unsqueeze(0)
    >>> m = SIPLCA3(V.shape, 4, (5, 5, 8))
    >>> m.W.size(), m.H.size(), m.Z.size()
    (torch.Size([3, 4, 5, 5, 8]), torch.Size([1, 4, 12, 12, 13]), torch.Size([4]))
    """

    _nmf_model = NMF3D
    n_dims = NMF3D.n_dims
    _rank_axis = NMF3D._rank_axis
