"""overcomplete's ``NMF`` dictionary learning, on nmfsep's core.

Layouts are overcomplete's: activations ``A (batch_size, n_features) ≈ Z D`` with codes
``Z (batch_size, nb_concepts)`` and dictionary ``D (nb_concepts, n_features)``. That is the
core's ``V (N, C) ≈ H Wᵀ`` with ``H = Z`` and ``W = Dᵀ``: fitting, encoding and the
initialisations are :class:`nmfsep.nmf.NMF`'s ``fit`` and ``transform`` and
:mod:`nmfsep.init`'s functions.

The stopping rule is overcomplete's (``||Z - Z_previous|| <= tol ||Z||``), given to the core's
fit as a callback. The solvers are nmfsep's: ``'pgd'`` takes projected gradient steps of size
1/L where overcomplete runs Adam, and ``'anls'`` solves each block by Nesterov's method.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Optional, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from ...._core._validation import as_float_tensor, check_nonnegative, check_rank
from ...._core.init import nndsvd, random_init
from ...._core.nmf import NMF as _CoreNMF
from ...._core.solvers import SOLVERS
from ...._errors import ParameterError, ParameterTypeError

__all__ = ["NMF"]


def _as_matrix(x, name: str) -> Tensor:
    """A tensor ``(batch, dims)`` from a tensor, an array, or an iterable of batches.

    Batches (a ``DataLoader``, a list of tensors) are concatenated along the batch axis, as
    overcomplete does; a ``(data, target)`` batch contributes its data.
    """
    if isinstance(x, Iterable) and not isinstance(x, (Tensor, np.ndarray, str, bytes)):
        batches = [batch[0] if isinstance(batch, (tuple, list)) and batch
                   and isinstance(batch[0], (Tensor, np.ndarray)) else batch for batch in x]
        if batches and all(isinstance(batch, (Tensor, np.ndarray)) for batch in batches):
            x = torch.cat([torch.atleast_2d(as_float_tensor(batch, name)) for batch in batches])
        else:  # nested lists of numbers
            x = batches
    x = as_float_tensor(x, name)
    if x.dim() != 2:
        raise ParameterError(f"{name} must have 2 dimensions (batch_size, dims), got shape {tuple(x.shape)}")
    return x


def _codes_settled(tol: float):
    """A core fit callback that stops when the codes (the core's ``H``) change by at most ``tol``
    relative to their norm in one iteration; None for ``tol <= 0`` (never stop early)."""
    if tol <= 0:
        return None
    previous = []

    def callback(model, n_iter, loss):
        codes = model.H.detach()
        if previous and float((codes - previous[0]).norm()) <= tol * float(codes.norm()):
            return False
        previous[:] = [codes.clone()]
        return None

    return callback


class NMF(nn.Module):
    """Torch NMF-based dictionary learning (overcomplete's ``NMF``).

    Solves ``min ||A - Z D||_F^2`` subject to ``Z >= 0`` and ``D >= 0``.

    Parameters
    ----------
    nb_concepts : int
        Number of concepts (components) to learn. ``n_components`` is accepted as well.
    device : str or torch.device
        Device of the computations, ``'cpu'`` by default.
    solver : {'hals', 'mu', 'anls', 'pgd'}
        Hierarchical alternating least squares (default), multiplicative updates,
        alternating non-negative least squares, projected gradient descent
        (:mod:`nmfsep.updates`).
    tol : float
        Stop when an iteration changes the codes by at most ``tol`` relative to their norm,
        ``||Z - Z_previous|| <= tol ||Z||`` (0 or less: run ``max_iter`` iterations).
    verbose : bool
        Show a progress bar.
    **kwargs
        Accepted for overcomplete's signature, and ignored with a warning.

    Examples
    --------
    >>> from nmfsep.compat.overcomplete import NMF
    >>> A = torch.rand(100, 4) @ torch.rand(4, 30)
    >>> nmf = NMF(nb_concepts=4, solver='hals')
    >>> Z, D = nmf.fit(A)
    >>> tuple(Z.shape), tuple(D.shape), bool((nmf.decode(Z) - A).norm() < 1e-2 * A.norm())
    ((100, 4), (4, 30), True)
    """

    def __init__(self, nb_concepts: Optional[int] = None, device='cpu', solver: str = 'hals',
                 tol: float = 1e-4, verbose: bool = False, *, n_components: Optional[int] = None,
                 **kwargs):
        super().__init__()
        if nb_concepts is None and n_components is None:
            raise ParameterTypeError("give nb_concepts (or n_components), the number of concepts to learn")
        if nb_concepts is not None and n_components is not None and nb_concepts != n_components:
            raise ParameterError(f"nb_concepts={nb_concepts} and n_components={n_components} disagree; "
                             f"give one")
        if solver not in SOLVERS:
            raise ParameterError(f"solver must be one of {', '.join(map(repr, SOLVERS))}, got {solver!r}")
        if kwargs:
            warnings.warn(f"NMF ignores {sorted(kwargs)} (as overcomplete does)", stacklevel=2)
        self.nb_concepts = check_rank(nb_concepts if nb_concepts is not None else n_components,
                                      name="nb_concepts")
        self.device = device
        self.solver = solver
        self.tol = float(tol)
        self.verbose = bool(verbose)
        self.fitted = False
        self._model: Optional[_CoreNMF] = None

    @property
    def n_components(self) -> int:
        return self.nb_concepts

    # -- checks and conversions ----------------------------------------------------------------
    def _assert_fitted(self) -> None:
        if not self.fitted:
            raise ParameterError("Model must be fitted before calling this method.")

    def _activations(self, A, name: str = "A") -> Tensor:
        return check_nonnegative(_as_matrix(A, name), name).to(self.device)

    def sanitize_np_input(self, x) -> np.ndarray:
        """``x`` (tensor, array, ``DataLoader`` or iterable of batches) as a float32 array
        ``(batch_size, dims)``."""
        return _as_matrix(x, "x").detach().cpu().numpy().astype(np.float32)

    def sanitize_np_codes(self, z) -> np.ndarray:
        """Codes ``z`` as a float32 array ``(batch_size, nb_concepts)``."""
        z = self.sanitize_np_input(z)
        if z.shape[1] != self.nb_concepts:
            raise ParameterError(f"codes must have nb_concepts = {self.nb_concepts} columns, "
                             f"got shape {z.shape}")
        return z

    # -- initialisations (nmfsep.init) ------------------------------------------------------
    def init_random_z(self, A) -> Tensor:
        """Random non-negative codes ``(batch_size, nb_concepts)``: entries
        ``|N(0, 1)| sqrt(mean(A) / nb_concepts)`` (:func:`nmfsep.init.random_init`)."""
        return random_init(self._activations(A), self.nb_concepts)[1]

    def init_random_d(self, A) -> Tensor:
        """Random non-negative dictionary ``(nb_concepts, n_features)``, scaled as
        :meth:`init_random_z`."""
        return random_init(self._activations(A), self.nb_concepts)[0].t()

    def init_nndsvda(self, A) -> Tuple[Tensor, Tensor]:
        """NNDSVDa codes and dictionary ``(Z, D)`` (:func:`nmfsep.init.nndsvd`); needs
        ``nb_concepts <= min(A.shape)``."""
        W, H = nndsvd(self._activations(A), self.nb_concepts, variant="nndsvda")
        return H, W.t()

    # -- learning, encoding, decoding ------------------------------------------------------------
    def _fit_options(self, max_iter: int, tol: float) -> dict:
        """Options of the core's fit: overcomplete's stopping rule replaces the loss-based one."""
        return dict(beta=2, solver=self.solver, max_iter=max_iter, verbose=self.verbose,
                    tol=0.0, check_every=max_iter, callback=_codes_settled(float(tol)))

    def fit(self, A, max_iter: int = 500) -> Tuple[Tensor, Tensor]:
        """Learn codes and dictionary for ``A``.

        The start is NNDSVDa when ``nb_concepts <= min(A.shape)``, random otherwise (an
        overcomplete dictionary), as in overcomplete.

        Parameters
        ----------
        A : Tensor, array, DataLoader or iterable of batches
            Non-negative activations ``(batch_size, n_features)``.
        max_iter : int
            Maximum number of iterations.

        Returns
        -------
        Z : Tensor, shape (batch_size, nb_concepts)
            Codes.
        D : Tensor, shape (nb_concepts, n_features)
            Dictionary.
        """
        A = self._activations(A)
        N, C = A.shape
        model = _CoreNMF(rank=self.nb_concepts, W=(C, self.nb_concepts), H=(N, self.nb_concepts))
        init = "nndsvda" if self.nb_concepts <= min(N, C) else "random"
        model.fit(A, init=init, **self._fit_options(max_iter, self.tol))
        self._model = model
        self.fitted = True
        return model.H.detach(), self.get_dictionary()

    def encode(self, A, max_iter: int = 300, tol: Optional[float] = None) -> Tensor:
        """Codes ``Z (batch_size, nb_concepts)`` of ``A`` for the learned dictionary (held fixed).

        The codes start at random (:meth:`init_random_z`); ``tol`` defaults to the constructor's.
        """
        self._assert_fitted()
        A = self._activations(A)
        # from random codes scaled to A (init_random_z), as overcomplete: zero for a zero A
        return self._model.transform(A, warm_start=False, init="random",
                                     **self._fit_options(max_iter, self.tol if tol is None else tol))

    def decode(self, Z) -> Tensor:
        """Reconstruct activations ``Z D`` from codes ``Z (batch_size, nb_concepts)``."""
        self._assert_fitted()
        W = self._model.W.detach()
        Z = _as_matrix(Z, "Z").to(device=W.device, dtype=W.dtype)
        if Z.shape[1] != self.nb_concepts:
            raise ParameterError(f"Z must have nb_concepts = {self.nb_concepts} columns, "
                             f"got shape {tuple(Z.shape)}")
        return _CoreNMF.reconstruct(Z, W)

    def get_dictionary(self) -> Tensor:
        """The learned dictionary ``D (nb_concepts, n_features)``."""
        self._assert_fitted()
        return self._model.W.detach().t()

    @property
    def D(self) -> Optional[Tensor]:
        """The dictionary (None before ``fit``), overcomplete's attribute."""
        return self.get_dictionary() if self.fitted else None
