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
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from .._core.nmf import NMF, NMF2D, NMFD
from .._core.plca import PLCA, SIPLCA, SIPLCA2

__all__ = ["MODELS", "LOG_FREQUENCY_MODELS", "ModelSpec"]

MODELS = ("nmf", "nmfd", "nmf2d", "plca", "siplca", "siplca2")
#: Models that shift templates in frequency: they need the CQT's log-frequency axis.
LOG_FREQUENCY_MODELS = ("nmf2d", "siplca2")
_PLCA_MODELS = ("plca", "siplca", "siplca2")
_TIME_KERNEL_MODELS = ("nmfd", "siplca", "nmf2d", "siplca2")


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
            verbose: bool) -> int:
        """Fit ``model`` to ``V``; returns the number of iterations."""
        if self.is_plca:  # the model keeps V's sum as norm_
            return int(model.fit(V, tol=tol, max_iter=max_iter, verbose=verbose)[0])
        return int(model.fit(V, beta=beta, tol=tol, max_iter=max_iter, verbose=verbose))

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
