"""How the separation pipeline puts a spectrogram into each model and reads the model out.

A magnitude spectrogram ``X (channels, freq, frames)`` becomes the model's ``V``:

==========  =============================  ==========================  ===========================
model       V                              W (templates)               activations (aligned)
==========  =============================  ==========================  ===========================
nmf, plca   (channels * frames, freq)      (freq, R)                   (channels, R, frames)
nmfd,       (channels, freq, frames)       (freq, R, T)                (channels, R, frames)
siplca
nmf2d,      (channels, 1, freq, frames)    (1, R, freq - S + 1, T)     (channels, R, S, frames)
siplca2
==========  =============================  ==========================  ===========================

(``S`` = ``n_shifts``, the pitch shifts of a 2-D template along the log-frequency axis.) The
channels are the batch axis: templates are shared by all channels, activations are per
channel.

Activation alignment. torchnmf's deconvolutive models give ``H`` ``T - 1`` frames *fewer*
than ``V`` (a template may only start where it ends inside the signal). The pipeline builds
them with ``aligned=True`` instead (:class:`~nmfsep.nmf.NMFD`'s option, fitted by the core's
closed forms), whose ``H`` has ``T - 1`` frames *more* than ``V``: ``H[..., T - 1 + j]``
starts a template at frame ``j`` (any ``j < frames``, the tail past the end being cut off)
and ``H[..., :T - 1]`` start templates before the first frame, whose tails enter the signal.
The exposed activations are ``H[..., T - 1:]``, exactly one per spectrogram frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Sequence

import torch
from torch import Tensor, nn

from .._core._validation import check_beta, check_rank, check_real
from .._core.nmf import NMF, NMF2D, NMFD
from .._core.plca import PLCA, SIPLCA, SIPLCA2
from .._core.solvers import check_solver
from .._errors import ParameterError

if TYPE_CHECKING:
    from ._frontend import FrontEnd
    from .templates import Templates

__all__ = ["MODELS", "LOG_FREQUENCY_MODELS", "Factorisation", "ModelSpec"]

MODELS = ("nmf", "nmfd", "nmf2d", "plca", "siplca", "siplca2")
#: Models that shift templates in frequency: they need the CQT's log-frequency axis.
LOG_FREQUENCY_MODELS = ("nmf2d", "siplca2")
_PLCA_MODELS = ("plca", "siplca", "siplca2")
_TIME_KERNEL_MODELS = ("nmfd", "siplca", "nmf2d", "siplca2")


class Factorisation:
    """The factorisation of a :class:`~nmfsep.separation.Separator`: model, kernel sizes, fit.

    Validates itself when made (what it cannot know yet, the templates' model and length and
    the front end's number of bins, is checked when the separator resolves it).

    Parameters
    ----------
    kind : {"nmf", "nmfd", "plca", "siplca", "nmf2d", "siplca2"}, optional
        The model. ``nmf2d`` and ``siplca2`` shift templates in pitch and need a CQT front
        end. Default: the model the templates were learned for (``"nmfd"`` for
        ``(freq, R, T)`` templates), else ``"nmf"``.
    n_components : int, optional
        Number of components of an unsupervised model (not with templates; with a
        :class:`~nmfsep.separation.ByHand` grouping, default its largest index plus one).
    T : int, optional
        Template length in frames of ``nmfd``, ``siplca``, ``nmf2d`` and ``siplca2``
        (required without templates; taken from the templates otherwise).
    n_shifts : int, optional
        Pitch shifts (in CQT bins) of ``nmf2d`` / ``siplca2`` templates, which then span
        ``n_bins - n_shifts + 1`` bins; default ``n_bins // 2`` (with templates: theirs).
    beta : float, default 1.0
        Beta-divergence (2 Euclidean, 1 Kullback-Leibler, 0 Itakura-Saito). The PLCA models
        maximise a likelihood that corresponds to beta = 1.
    max_iter : int, default 200
    tol : float, default 1e-4
        Stopping rule of each fit (see :meth:`nmfsep.nmf.NMF.fit`).
    solver : str, default "mu"
        Solver of the NMF models' fits (:data:`nmfsep.fitting.SOLVERS`, see
        :meth:`nmfsep.nmf.NMF.fit`). ``"auto"`` takes 3-4x fewer iterations to a given
        loss; at the same ``tol`` its unsupervised fits stopped about as soon as ``"mu"``'s,
        1-14 % lower (NMF and NMFD of the ``audio_examples`` mixtures), while with fixed
        templates both stopped after the same iterations at the same quality (within 0.04
        dB) and ``"auto"``'s cost 1.1-1.5x more. ``"hals"``, ``"anls"`` and ``"pgd"`` fit
        ``nmf`` at ``beta=2`` only; the PLCA models fit by EM (leave the default).

    Raises
    ------
    ParameterError, ParameterTypeError
        On an unknown model or solver, a non-positive or non-integer ``n_components``, ``T``,
        ``n_shifts`` or ``max_iter``, a negative ``tol``, a non-finite ``beta``, or a setting
        the model does not have (``T`` of NMF, ``n_shifts`` of NMFD, ``beta`` or ``solver`` of
        PLCA, a least-squares solver of NMFD).

    Examples
    --------
    >>> from nmfsep.separation import Factorisation
    >>> Factorisation("nmfd", n_components=4, T=8, beta=2)
    Factorisation(kind='nmfd', n_components=4, T=8, n_shifts=None, beta=2.0, max_iter=200, tol=0.0001, solver='mu')
    >>> Factorisation("nmf", T=8)
    Traceback (most recent call last):
    ...
    nmfsep.ParameterError: T applies to nmfd, siplca, nmf2d and siplca2, not model='nmf'.
    """

    def __init__(self, kind: Optional[str] = None, *, n_components: Optional[int] = None,
                 T: Optional[int] = None, n_shifts: Optional[int] = None, beta: float = 1.0,
                 max_iter: int = 200, tol: float = 1e-4, solver: str = "mu"):
        if kind is not None and kind not in MODELS:
            raise ParameterError(f"model must be one of {MODELS}, got {kind!r}.")
        self.kind = kind
        self.n_components = None if n_components is None else check_rank(n_components, name="n_components")
        self.T = None if T is None else check_rank(T, name="T")
        self.n_shifts = None if n_shifts is None else check_rank(n_shifts, name="n_shifts")
        self.beta = check_beta(beta)
        self.max_iter = check_rank(max_iter, name="max_iter")
        self.tol = check_real(tol, "tol", low=0)
        self.solver = check_solver(solver, self.beta)
        if kind is not None:
            self._check_settings(kind)

    def _check_settings(self, kind: str) -> None:
        """Refuse the settings that model ``kind`` does not have."""
        if kind not in _TIME_KERNEL_MODELS and self.T not in (None, 1):
            raise ParameterError(f"T applies to nmfd, siplca, nmf2d and siplca2, not model={kind!r}.")
        if kind not in LOG_FREQUENCY_MODELS and self.n_shifts is not None:
            raise ParameterError("n_shifts applies to model='nmf2d' and 'siplca2' only.")
        if kind in _PLCA_MODELS and self.beta != 1.0:
            raise ParameterError(f"model={kind!r} maximises a likelihood that corresponds to beta=1; "
                                 f"leave beta=1 or use an NMF model.")
        if kind in _PLCA_MODELS and self.solver != "mu":
            raise ParameterError(f"model={kind!r} fits by EM; leave solver='mu' or use an NMF model.")
        if kind != "nmf" and self.solver not in ("mu", "auto"):
            raise ParameterError(f"solver={self.solver!r} fits model='nmf' only; use solver='mu' or "
                                 f"'auto' for model={kind!r}.")

    def spec(self, front: "FrontEnd", templates: Optional["Templates"] = None) -> "ModelSpec":
        """The model kind and kernel sizes for ``front``'s bins and the ``templates`` (if any)."""
        if templates is not None:
            kind = self.kind or templates.models[0]
            if kind not in templates.models:
                raise ParameterError(
                    f"model={kind!r} cannot use templates of shape {tuple(templates.W.shape)}, "
                    f"which are for {templates.models}."
                )
        else:
            kind = self.kind or "nmf"
        self._check_settings(kind)
        if kind in LOG_FREQUENCY_MODELS and front.kind != "cqt":
            raise ParameterError(f"model={kind!r} shifts templates in pitch and needs the "
                                 f"log-frequency axis of front_end='cqt'.")
        n_freqs = front.n_freqs
        if templates is not None:
            T = templates.T or 1
            if self.T is not None and self.T != T:
                raise ParameterError(f"T={self.T} differs from the templates' length {T}; leave T unset.")
        elif kind in _TIME_KERNEL_MODELS:
            if self.T is None:
                raise ParameterError(f"model={kind!r} learns templates of T frames: pass T (e.g. T=8).")
            T = self.T
        else:
            T = 1
        n_shifts = 1
        if kind in LOG_FREQUENCY_MODELS:
            if templates is not None:
                n_shifts = n_freqs - templates.W.shape[2] + 1
            else:
                n_shifts = n_freqs // 2 if self.n_shifts is None else self.n_shifts
            if not 1 <= n_shifts <= n_freqs:
                raise ParameterError(f"n_shifts must lie in [1, n_bins={n_freqs}], got {n_shifts}.")
        return ModelSpec(kind, n_freqs, T=T, n_shifts=n_shifts)

    @property
    def fit_options(self) -> dict:
        """``beta``, ``tol``, ``max_iter`` and ``solver`` of :meth:`ModelSpec.fit`."""
        return dict(beta=self.beta, tol=self.tol, max_iter=self.max_iter, solver=self.solver)

    def __repr__(self) -> str:
        return (f"Factorisation(kind={self.kind!r}, n_components={self.n_components!r}, "
                f"T={self.T!r}, n_shifts={self.n_shifts!r}, beta={self.beta!r}, "
                f"max_iter={self.max_iter!r}, tol={self.tol!r}, solver={self.solver!r})")

    def __eq__(self, other) -> bool:
        return type(other) is Factorisation and repr(other) == repr(self)

    __hash__ = None


def normalise_templates(W: Tensor) -> Tensor:
    """Scale every component (axis 1) of ``W`` to unit sum; all-zero components stay zero."""
    axes = [a for a in range(W.dim()) if a != 1]
    total = W.sum(axes, keepdim=True)
    return W / torch.where(total > 0, total, torch.ones_like(total))


@dataclass(frozen=True)
class ModelSpec:
    """One model kind with its kernel sizes, for spectrograms of ``n_freqs`` bins.

    Attributes
    ----------
    kind : str
        One of :data:`MODELS`.
    n_freqs : int
        Frequency bins F of the spectrograms.
    T : int
        Template length in frames (1 for NMF and PLCA).
    n_shifts : int
        Pitch shifts of 2-D templates (1 for the other models).
    """

    kind: str
    n_freqs: int
    T: int = 1
    n_shifts: int = 1

    @property
    def is_plca(self) -> bool:
        return self.kind in _PLCA_MODELS

    @property
    def aligned(self) -> bool:
        """Whether ``H`` has ``T - 1`` extra leading frames (the deconvolutive models)."""
        return self.kind in _TIME_KERNEL_MODELS

    def template_shape(self, rank: int) -> tuple:
        if self.kind in ("nmf", "plca"):
            return (self.n_freqs, rank)
        if self.kind in ("nmfd", "siplca"):
            return (self.n_freqs, rank, self.T)
        return (1, rank, self.n_freqs - self.n_shifts + 1, self.T)

    # -- data in ---------------------------------------------------------------------------
    def target(self, X: Tensor) -> Tensor:
        """The model's ``V`` for a magnitude spectrogram ``X (channels, freq, frames)``.

        A view where possible: the shift-invariant models fit a contiguous copy of a
        strided ``V`` themselves (``_contiguous_target``).
        """
        if self.kind in ("nmf", "plca"):
            return X.transpose(1, 2).reshape(-1, X.shape[1])
        if self.kind in ("nmfd", "siplca"):
            return X
        return X.unsqueeze(1)

    def activation_shape(self, rank: int, channels: int, frames: int) -> tuple:
        if self.kind in ("nmf", "plca"):
            return (channels * frames, rank)
        time = frames + self.T - 1
        if self.kind in ("nmfd", "siplca"):
            return (channels, rank, time)
        return (channels, rank, self.n_shifts, time)

    # -- the model -------------------------------------------------------------------------
    def build(
        self,
        X: Tensor,
        rank: int,
        *,
        templates: Optional[Tensor] = None,
        fixed: Optional[Tensor] = None,
        generator: Optional[torch.Generator] = None,
        onsets_inside: bool = False,
    ) -> nn.Module:
        """A model for ``X (channels, freq, frames)`` with ``rank`` components.

        ``templates`` (shape :meth:`template_shape`) initialise ``W`` (random where None);
        ``fixed`` marks the components held fixed. Templates are scaled to unit sum and the
        activations start at the level that reconstructs ``X``'s total energy.
        ``onsets_inside=True`` keeps every template start inside the signal (the leading
        ``T - 1`` activations of the aligned models start, and therefore stay, at zero).
        """
        channels, _, frames = X.shape
        dtype, device = X.dtype, X.device
        shape = self.template_shape(rank)
        if templates is None:
            W = torch.rand(shape, generator=generator, dtype=dtype)
        else:
            W = templates.detach().to(dtype=dtype, device="cpu").clone()
        W = normalise_templates(W)
        H_shape = self.activation_shape(rank, channels, frames)
        H = 0.5 + torch.rand(H_shape, generator=generator, dtype=dtype)
        if not self.is_plca:  # PLCA normalises H to a distribution itself
            H *= float(X.sum()) / H.numel()
        if onsets_inside and self.aligned and self.T > 1:
            H[..., : self.T - 1] = 0
        W, H = W.to(device), H.to(device)
        all_fixed = fixed is not None and bool(fixed.all())
        some_fixed = fixed is not None and bool(fixed.any()) and not all_fixed
        kwargs = dict(W=W, H=H, trainable_W=not all_fixed)
        if self.is_plca:  # with W and H alone a PLCA has no Z (torchnmf's rule): the rank makes one
            kwargs["rank"] = rank
        if some_fixed:
            kwargs["fixed_W"] = fixed.tolist()
        if self.aligned:
            kwargs["aligned"] = True
        return _CLASSES[self.kind](**kwargs).to(device)

    def fit(self, model: nn.Module, V: Tensor, *, beta: float, tol: float, max_iter: int,
            verbose: bool, solver: str = "mu") -> int:
        """Fit ``model`` to ``V``; returns the number of iterations (PLCA: EM, whatever ``solver``)."""
        if self.is_plca:  # the model keeps V's sum as norm_
            return int(model.fit(V, tol=tol, max_iter=max_iter, verbose=verbose)[0])
        return int(model.fit(V, beta=beta, tol=tol, max_iter=max_iter, verbose=verbose, solver=solver))

    # -- data out --------------------------------------------------------------------------
    def templates(self, model: nn.Module) -> Tensor:
        """The model's templates ``W`` (shape :meth:`template_shape`), detached."""
        return model.W.detach()

    def activations(self, model: nn.Module, channels: int, frames: int) -> Tensor:
        """Activations with one entry per spectrogram frame.

        Returns ``(channels, R, frames)``, or ``(channels, R, n_shifts, frames)`` for the 2-D
        models: the gain of each template starting at each frame (scaled by ``Z`` and the
        data norm for the PLCA models, so the gains are comparable across models).
        """
        H = model.H.detach()
        if self.is_plca:
            Z = model.Z.detach()
            H = H * Z.view((1, -1) + (1,) * (H.dim() - 2)) * _norm(model)
        if self.kind in ("nmf", "plca"):
            return H.reshape(channels, frames, -1).transpose(1, 2)
        return H[..., self.T - 1:]

    def part(self, model: nn.Module, components: Sequence[int], channels: int,
             frames: int) -> Tensor:
        """Magnitude ``(channels, freq, frames)`` that ``components`` of ``model`` explain."""
        index = torch.as_tensor(list(components), dtype=torch.long, device=model.W.device)
        W = model.W.detach().index_select(1, index)
        H = model.H.detach().index_select(1, index)
        with torch.no_grad():
            if self.is_plca:
                Z = model.Z.detach().index_select(0, index)
                out = model.forward(H, W, Z, _norm(model))
            else:
                out = model.forward(H, W)
        if self.kind in ("nmf", "plca"):
            return out.reshape(channels, frames, -1).transpose(1, 2)
        if self.kind in ("nmf2d", "siplca2"):
            return out.squeeze(1)
        return out


def _norm(model: nn.Module) -> float:
    """A PLCA model's data sum (1 before a fit: the model sums to one)."""
    return float(getattr(model, "norm_", 1.0))


_CLASSES = {"nmf": NMF, "nmfd": NMFD, "nmf2d": NMF2D, "plca": PLCA, "siplca": SIPLCA,
            "siplca2": SIPLCA2}
