r"""Drum separation recipes: kick, snare and hi-hat from a drum mixture with NMFD.

Two recipes share one method (:func:`separate_drums`):

* ``"drums"``: the templates come from **isolated hits of the same kit** (one template per
  hit, e.g. one per velocity layer: :func:`hit_templates`);
* ``"drums-generic"``: no hits of the kit; **generic templates** shipped with nmfsep
  (:func:`generic_templates`, learned from other Hydrogen kits by
  ``recipes/drums-generic/make_templates.py``) stand in for them. Every component belongs
  to the instrument its generic template was learned from, so the assignment of
  components to kick / snare / hi-hat is automatic.

The method
----------
The mixture's STFT is modelled as a *fractional power spectrogram*
:math:`V = |X|^p` (``spectrogram_power`` :math:`p = 1.5`; α-stable source models make
:math:`1 \le p \le 2` the natural range, Liutkus & Badeau 2015) by NMFD
(Smaragdis 2004) with the Kullback-Leibler divergence,

.. math:: V_{f,l} \approx \sum_s \Lambda_s, \qquad
          \Lambda_s = \sum_{r \in s} \sum_{t=0}^{T-1} W_{f,r,t} H_{r,l-t},

in three steps:

1. the templates ``W`` are held fixed and the activations ``H`` fitted to the mixture
   (``n_iter`` multiplicative updates);
2. *template adaptation* (``n_rounds`` times): each instrument's share of the mixture,
   :math:`V \Lambda_s / \sum_k \Lambda_k` (the posterior expectation of the KL model, as in
   the EM view of KL-NMF), is factorised alone with its own templates and activations both
   updated (``n_adapt`` iterations) -- the templates move towards the sounds of the
   mixture (another velocity layer, another articulation, another kit) while each
   instrument only sees its own part, so no template drifts to another instrument; then
   the activations of all templates are refitted to the mixture (``n_refit``);
3. soft masks :math:`\Lambda_s^{q/p} / \sum_k \Lambda_k^{q/p}` with ``mask_power``
   :math:`q = 2` (Wiener-like in magnitude) are applied to the complex STFT and inverted.
   The masks sum to one, so the stems sum back to the mixture.

Templates ``W`` are magnitude spectrograms of ``T`` frames (raised to ``p`` inside), aligned
so that column 0 is the first frame that contains the hit's onset. The NMFD model is
fitted on the mixture padded with ``T - 1`` silent frames so that hits in the last
``T - 1`` frames are modelled by whole templates.

Multichannel mixtures are modelled as in multichannel NMF with instantaneous mixing
(Ozerov & Févotte 2010): the activations are fitted to the channels' mean
:math:`\bar V = \frac{1}{C} \sum_c V_c`, and every channel's model of a source is the source's
part scaled by a gain per source and channel (its panning),
:math:`V_c \approx \sum_s G_{s,c} \Lambda_s` (KL multiplicative updates of :math:`G` with the
parts fixed). The instruments' shares in step 2 and the masks in step 3 are taken per channel
from these gains, so where the channels hold the instruments at different levels each share
is cleaner than the mean's, and one fit of the activations serves all channels. (Gains per
frequency as well, the convolutive model, let a source's gains reshape its spectrum: on a
synthetic panned kit they took 6 dB off the stems.)

The recipe is a :class:`~nmfsep.separation.Separator` of the STFT the templates were made
with and the source model :class:`DrumNMFD` (steps 1 and 2), with ``mask_power`` (step 3):
the separator's one chunk loop and parts -> masks -> inverse path run it. Long mixtures (over
``chunk_duration``, 30 s) are separated in chunks so that memory does not grow with their
length: steps 1 and 2 run once on excerpts spread over the mixture (``adapt_duration``, 30 s
in all; :meth:`DrumNMFD.prepare`), then every chunk's activations are fitted with the adapted
templates held fixed (``T - 1`` frames of look-ahead after the chunk), and its masks and
inverse STFT are cross-faded into the stems; the gains of a multichannel mixture are
re-estimated on every chunk from the previous ones.

Dittmar & Müller, "Reverse engineering the Amen break -- score-informed separation and
restoration applied to drum recordings", IEEE/ACM TASLP 2016, adapt NMFD templates
initialised from drum hits on the mixture; the per-instrument (posterior) adaptation above
is the variant that keeps instruments apart on the benchmark.
"""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass
from typing import Optional, Tuple, Union

import torch
from torch import Tensor
from tqdm.auto import tqdm

from nmfsep._core._validation import check_count, check_real
from nmfsep._errors import ParameterError, ParameterTypeError
from nmfsep._pipeline.separation import source_masks
from nmfsep.io import check_audio, check_sample_rate
from nmfsep.nmf import NMFD
from nmfsep.separation import Separator, SourceModel, SourceParts, Templates, fitted_bins
from nmfsep.transforms import STFT

from . import register_recipe, settings_of
from ._kit import (
    DRUM_SOURCES,
    GENERIC_KIT_TEMPLATES_PATH,
    GENERIC_TEMPLATES_PATH,
    HIT_NAME_PREFIXES,
    HitsLike,
    drum_templates,
    generic_templates,
    group_hits,
    hit_templates,
    source_of_hit,
    templates_at_rate,
)
from ._shared import (
    CHUNK_OVERLAP,
    EXCERPT_DURATION,
    channel_gains,
    excerpts,
    source_parts,
)

__all__ = [
    "DRUM_SOURCES",
    "HIT_NAME_PREFIXES",
    "GENERIC_TEMPLATES_PATH",
    "GENERIC_KIT_TEMPLATES_PATH",
    "FIT_BANDWIDTH",
    "CHUNK_OVERLAP",
    "EXCERPT_DURATION",
    "DrumModel",
    "DrumNMFD",
    "source_of_hit",
    "group_hits",
    "hit_templates",
    "generic_templates",
    "separate_drums",
]

#: Default ``fit_bandwidth`` of :func:`separate_drums` in Hz: the Nyquist frequency of the
#: generic templates and of :data:`~nmfsep.recipes.ANALYSIS_RATE`; what tells drums apart lies
#: below it.
FIT_BANDWIDTH = 11025.0


#: Settings of the ``"drums-generic"`` recipe for mixtures over ``chunk_duration``
#: (``recipes/drums-generic/README.md``): shorter mixtures are separated as with the defaults.
GENERIC_CHUNK_FIT = dict(adapt_duration=20.0, n_chunk=20)


# --------------------------------------------------------------------------- the model
@dataclass
class DrumModel:
    r"""The fitted NMFD drum model of a mixture (``separate_drums(..., return_model=True)``).

    Attributes
    ----------
    sources : tuple of str
        Instrument names.
    components : Tensor, shape (R,)
        Index in ``sources`` of every template.
    templates : Tensor, shape (freq, R, T)
        Adapted templates in the model domain (``|X| ** spectrogram_power``), unit sum.
    activations : Tensor, shape (1, R, frames)
        ``activations[0, r, j]`` starts template ``r`` at STFT frame ``j`` (in the channels'
        mean for a multichannel mixture). A mixture separated in chunks has the activations
        of each chunk (fitted with the same templates) from the middle of its overlap with
        the previous chunk to the middle of the next.
    sample_rate : int
    n_fft, hop_length : int
    spectrogram_power : float
    gains : Tensor, shape (sources, channels), optional
        Channel gains of a multichannel mixture: channel ``c``'s model of source ``s`` is
        ``gains[s, c]`` times the source's part (in the model domain). A mixture separated in
        chunks has gains per chunk; these are their mean. None for a mono mixture (a gain
        would be absorbed by the activations).
    """

    sources: Tuple[str, ...]
    components: Tensor
    templates: Tensor
    activations: Tensor
    sample_rate: int
    n_fft: int
    hop_length: int
    spectrogram_power: float
    gains: Optional[Tensor] = None

    @property
    def onset_delay(self) -> float:
        """Seconds from the centre of frame ``j`` to the onset of a hit started at ``j``.

        Column 0 of a template is centred ``n_fft // 2 - hop_length`` samples before the
        hit's onset (see :func:`hit_templates`).
        """
        return (self.n_fft // 2 - self.hop_length) / self.sample_rate

    def frame_times(self) -> Tensor:
        """Onset time in seconds of a hit started at each activation frame, ``(frames,)``."""
        frames = torch.arange(self.activations.shape[-1], dtype=torch.float64)
        return frames * self.hop_length / self.sample_rate + self.onset_delay

    def source_activations(self) -> Tensor:
        r"""Onset strength of each instrument, ``(sources, 1, frames)``.

        The activations of an instrument's templates weighted by each template's loudest
        frame (attack level rather than total energy, so that a long open hi-hat does not
        outweigh closed ones), summed over the instrument's templates, in magnitude units
        (the ``1 / spectrogram_power`` root).
        """
        attack = self.templates.sum(0).amax(1)                       # (R,)
        weighted = self.activations * attack.view(1, -1, 1)
        out = torch.stack([weighted[:, self.components == s].sum(1)
                           for s in range(len(self.sources))])
        return out.clamp_min(0) ** (1.0 / self.spectrogram_power)

    def masks(self, mask_power: float = 2.0, channel: int = 0) -> Tensor:
        r"""The soft masks of one channel, ``(sources, freq, frames)``, as
        :func:`separate_drums` applies them to the mixture's STFT (same ``mask_power``).

        They cover every STFT bin, ``n_fft // 2 + 1`` (above the fitted band, the first
        ``templates.shape[0]`` bins, those of the band's top octave repeated); their frames are
        the STFT's, ``activations.shape[-1] + T - 1`` with the padding after the mixture's end.
        """
        mask_power = check_real(mask_power, "mask_power", low=0, low_open=True)
        n_channels = 1 if self.gains is None else self.gains.shape[1]
        if isinstance(channel, bool) or not isinstance(channel, numbers.Integral) or \
                not 0 <= channel < n_channels:
            raise ParameterError(f"channel must be an integer from 0 to {n_channels - 1}, got "
                             f"{channel!r}.")
        parts = source_parts(self.templates, self.activations, self.components,
                             len(self.sources))[:, 0]
        gains = None if self.gains is None else self.gains[:, int(channel)].view(-1, 1, 1)
        return source_masks(parts, mask_power / self.spectrogram_power, gains=gains,
                            n_bins=self.n_fft // 2 + 1)


def _normalised(W: Tensor, H: Tensor) -> Tuple[Tensor, Tensor]:
    """Templates at unit sum, their scale moved into the activations."""
    scale = W.sum((0, 2), keepdim=True)
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    return W / safe, H * safe.view(1, -1, 1)


def _fit(model: NMFD, V: Tensor, n_iter: int, solver: str = "mu") -> NMFD:
    """``n_iter`` KL updates of ``model``. Without a stopping rule the loss is evaluated
    only at the start and the end, not every 10 updates (each costs one or two updates);
    ``solver="auto"`` (extrapolated updates) evaluates it every 3 updates, and at these counts
    gives the same stems (``recipes/drums/README.md``). Its extrapolation is Ang & Gillis's
    geometric one: after 12 updates of fixed templates' activations the stems were 1.7e-3
    from the converged ones with it, 2.8e-3 with SQUAREM (``fit``'s default) and 2.4e-3
    after 30 plain updates (the test's drum pattern, peak 1.9)."""
    extrapolation = {"extrapolation": "geometric"} if solver == "auto" else {}
    model.fit(V, beta=1, max_iter=n_iter, tol=0, check_every=n_iter, solver=solver, **extrapolation)
    return model


def _fit_activations(V: Tensor, W: Tensor, H: Tensor, n_iter: int, solver: str = "mu") -> Tensor:
    return _fit(NMFD(W=W, H=H, trainable_W=False), V, n_iter, solver).H.detach()


def _start(V: Tensor, W: Tensor) -> Tensor:
    """Constant activations ``(N, R, frames - T + 1)``: with fixed templates there is no
    symmetry to break."""
    return torch.full((V.shape[0], W.shape[1], V.shape[-1] - W.shape[2] + 1), float(V.mean()),
                      dtype=V.dtype, device=V.device)


def _fit_drum_model(V: Tensor, W: Tensor, components: Tensor, n_sources: int, *, n_iter: int,
                    n_rounds: int, n_adapt: int, n_refit: int, verbose: bool,
                    refit_last: bool = True) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
    """Steps 1 and 2 of the module docstring on ``V`` ``(channels, pieces, freq, frames)``:
    activations ``(pieces, R, frames)`` of the channels' mean, then per-source adaptation
    (without the last refit unless ``refit_last``: the chunks need the templates only).
    Returns the templates, the activations and the channel gains (None for one channel)."""
    mean = V[0] if V.shape[0] == 1 else V.mean(0)
    H = _start(mean, W)
    gains = None
    tiny = torch.finfo(V.dtype).tiny
    with tqdm(total=1 + 2 * n_rounds, disable=not verbose, desc="drums NMFD", leave=False) as bar:
        H = _fit_activations(mean, W, H, n_iter)
        bar.update(1)
        for round_ in range(n_rounds):
            # each instrument's share of every channel, summed over the channels
            parts = source_parts(W, H, components, n_sources)      # (sources, pieces, ...)
            if V.shape[0] > 1:
                gains = channel_gains(parts, V, gains)
            shares = torch.zeros_like(parts)
            for c in range(V.shape[0]):
                for p in range(parts.shape[1]):  # masks of one piece at a time
                    gain = None if gains is None else gains[:, c]
                    shares[:, p] += source_masks(parts[:, p], 1.0, gains=gain) * V[c, p]
            if V.shape[0] > 1:
                shares /= V.shape[0]
            del parts
            W, H = W.clone(), H.clone()
            for s in range(n_sources):
                mine = components == s
                if float(shares[s].sum()) <= tiny * mean.numel():
                    continue  # nothing of this source in the mixture: nothing to adapt to
                model = _fit(NMFD(W=W[:, mine], H=H[:, mine]), shares[s], n_adapt)
                W_s, H_s = _normalised(model.W.detach(), model.H.detach())
                alive = W_s.sum((0, 2)) > 0  # a template that died keeps its old shape
                W[:, mine] = torch.where(alive.view(1, -1, 1), W_s, W[:, mine])
                H[:, mine] = H_s
            del shares  # the refit needs V only
            bar.update(1)
            if refit_last or round_ + 1 < n_rounds:
                H = _fit_activations(mean, W, H, n_refit)
            bar.update(1)
    return W, H, gains


# --------------------------------------------------------------------------- the source model
class DrumNMFD(SourceModel):
    r"""The drum recipes' model of the sources: NMFD with fixed, adapted drum templates.

    A :class:`~nmfsep.separation.SourceModel` for :class:`~nmfsep.separation.Separator`
    (``Separator(front_end=STFT(...), model=DrumNMFD(templates), ...)``, which is what
    :func:`separate_drums` runs): steps 1 and 2 of the module docstring on the mixture's
    ``|X| ** spectrogram_power`` up to ``fit_bandwidth``, one fit on the channels' mean and
    a gain per source and channel. A mixture in one piece is fitted whole; a mixture in
    chunks has its templates adapted once (:meth:`prepare`) on excerpts spread over it
    (``adapt_duration``), then every chunk's activations fitted with them held fixed
    (``n_chunk`` updates, ``chunk_solver``), ``T - 1`` frames of look-ahead after each chunk.
    It validates its settings when made.

    Parameters
    ----------
    templates : Templates
        STFT NMFD templates ``(freq, R, T)`` of the drum sources (:func:`hit_templates`,
        :func:`generic_templates`); at another sample rate or STFT than the separator's they
        are mapped onto its bins.
    spectrogram_power, n_iter, n_rounds, n_adapt, n_refit, n_chunk, chunk_solver
        As in :func:`separate_drums`.
    fit_bandwidth, adapt_duration, verbose
        As in :func:`separate_drums`.

    Attributes
    ----------
    sources : tuple of str
        The templates' sources.
    power : float
        ``spectrogram_power``: the parts are in ``|X| ** power``.
    lookahead : int
        ``T - 1`` frames.
    components_ : Tensor, shape (R,)
        Index in ``sources`` of every template (after :meth:`prepare`).
    templates_ : Tensor, shape (n_fit, R, T)
        The adapted templates in the model domain, unit sum (after the first chunk, or
        :meth:`prepare` of a mixture in chunks).
    gains_ : Tensor, shape (sources, channels) or None
        The mean of the chunks' channel gains (None for one channel).

    Examples
    --------
    >>> import torch
    >>> from nmfsep.recipes import DrumNMFD, hit_templates
    >>> from nmfsep.separation import Separator
    >>> from nmfsep.transforms import STFT
    >>> sr, t = 8000, torch.arange(1600) / 8000
    >>> kick = torch.sin(2 * torch.pi * 60 * t) * torch.exp(-25 * t)
    >>> hat = torch.randn(1600, generator=torch.Generator().manual_seed(0)) * torch.exp(-80 * t)
    >>> templates = hit_templates({"kick": [kick], "hihat": [0.3 * hat]}, sr, n_fft=256, T=8,
    ...                           sources=("kick", "hihat"))
    >>> mixture = torch.cat([kick, 0.3 * hat, kick, 0.3 * hat])
    >>> separator = Separator(front_end=STFT(n_fft=256, hop_length=64),
    ...                       model=DrumNMFD(templates, n_rounds=1), chunk_duration=None)
    >>> stems = separator.separate(mixture, sr)
    >>> list(stems), bool((stems["kick"] + stems["hihat"] - mixture).abs().max() < 1e-4)
    (['kick', 'hihat'], True)
    """

    def __init__(self, templates: Templates, *, spectrogram_power: float = 1.5, n_iter: int = 40,
                 n_rounds: int = 2, n_adapt: int = 30, n_refit: int = 30,
                 n_chunk: Optional[int] = None, chunk_solver: str = "mu",
                 fit_bandwidth: Optional[float] = FIT_BANDWIDTH,
                 adapt_duration: Optional[float] = 30.0, verbose: bool = False):
        if not isinstance(templates, Templates) or templates.front_end != "stft" or \
                templates.W.dim() != 3:
            raise ParameterTypeError(
                f"templates must be STFT NMFD Templates (freq, R, T), got {templates!r}; make "
                f"them with hit_templates or 'nmfsep learn-templates FILES --recipe drums'.")
        self.templates = templates
        self.sources = templates.sources
        self.power = check_real(spectrogram_power, "spectrogram_power", low=0, low_open=True)
        self.lookahead = templates.W.shape[2] - 1
        self.n_iter = check_count(n_iter, "n_iter")
        self.n_rounds = check_count(n_rounds, "n_rounds", minimum=0)
        self.n_adapt = check_count(n_adapt, "n_adapt")
        self.n_refit = check_count(n_refit, "n_refit")
        self.n_chunk = self.n_refit if n_chunk is None else check_count(n_chunk, "n_chunk")
        if chunk_solver not in ("mu", "auto"):
            raise ParameterError(f"chunk_solver must be 'mu' or 'auto', got {chunk_solver!r}.")
        self.chunk_solver = chunk_solver
        self.fit_bandwidth = None if fit_bandwidth is None else \
            check_real(fit_bandwidth, "fit_bandwidth", low=0, low_open=True)
        self.adapt_duration = None if adapt_duration is None else \
            check_real(adapt_duration, "adapt_duration", low=0, low_open=True)
        if not isinstance(verbose, bool):
            raise ParameterTypeError(f"verbose must be True or False, got {verbose!r}.")
        self.verbose = verbose

    def __repr__(self) -> str:
        return (f"DrumNMFD({len(self.sources)} sources, {self.templates.n_components} templates "
                f"of {self.lookahead + 1} frames, spectrogram_power={self.power})")

    @property
    def gains_(self) -> Optional[Tensor]:
        return None if self._gain_sum is None else (self._gain_sum / self._n_gains)[..., 0, 0]

    def _fit_options(self) -> dict:
        return dict(n_iter=self.n_iter, n_rounds=self.n_rounds, n_adapt=self.n_adapt,
                    n_refit=self.n_refit, verbose=self.verbose)

    def prepare(self, mixture: Tensor, sample_rate: int, front, bounds) -> None:
        """The templates mapped onto ``front``'s bins up to ``fit_bandwidth``; for a mixture
        in chunks, adapted (with the channel gains) on excerpts spread over it."""
        if getattr(front, "kind", None) != "stft":
            raise ParameterError(f"DrumNMFD models an STFT: give the separator "
                                 f"front_end=STFT(...), got {front!r}.")
        settings = front.settings
        W, _, hop_length, window = templates_at_rate(self.templates, sample_rate,
                                                     settings["n_fft"], settings["hop_length"])
        if window != settings["window"]:
            raise ParameterError(f"the templates were made with the {window!r} window, the "
                                 f"front end has {settings['window']!r}.")
        tiny = torch.finfo(W.dtype).tiny
        W = W.to(mixture.device) ** self.power
        W = W / W.sum((0, 2), keepdim=True).clamp_min(tiny)
        n_fit = fitted_bins(front, sample_rate, self.fit_bandwidth)
        if n_fit < W.shape[0]:  # the band's bins only, the templates at unit sum there
            W = W[:n_fit] / W[:n_fit].sum((0, 2), keepdim=True).clamp_min(tiny)
        self.components_ = torch.tensor(self.templates.components, device=mixture.device)
        self.templates_, self._adapted, self._gains = W, False, None
        self._gain_sum, self._n_gains = None, 0
        self._n_channels = mixture.shape[0]
        if len(bounds) > 1:
            # templates (and channel gains) adapted once, on excerpts spread over the mixture;
            # T - 1 frames after each let hits near its end use whole templates
            pieces = excerpts(mixture, sample_rate, self.adapt_duration, hop_length,
                              self.lookahead * hop_length)
            # contiguous: from torch.stft's frames-major layout every NMFD fit would copy its
            # V (strided passes are up to 2.4x slower), and the adaptation runs several fits
            V = front.analyse(pieces.reshape(-1, pieces.shape[-1]))[0].contiguous()
            V = V[:, :n_fit].abs().pow_(self.power)
            V = V.view(mixture.shape[0], -1, *V.shape[1:])  # (channels, pieces, freq, frames)
            del pieces
            self.templates_, _, self._gains = _fit_drum_model(
                V, W, self.components_, len(self.sources), **self._fit_options(),
                refit_last=False)
            self._adapted = True
        return None

    def parts(self, magnitude: Tensor) -> SourceParts:
        """The sources' parts of one chunk's ``|X|`` ``(channels, n_fit, frames)``: the whole
        model (steps 1 and 2) in one piece, the activations alone with adapted templates."""
        V = magnitude.contiguous().pow_(self.power)  # see prepare: one copy for all the fits
        W, components, n_sources = self.templates_, self.components_, len(self.sources)
        if not self._adapted:  # in one piece: the model of the whole mixture
            V = V.unsqueeze(1)  # (channels, one piece, freq, frames)
            W, H, gains = _fit_drum_model(V, W, components, n_sources, **self._fit_options())
            self.templates_, self._adapted = W, True
            parts = source_parts(W, H, components, n_sources)
            gains = None if self._n_channels == 1 else channel_gains(parts, V, gains)
        else:
            gains = self._gains
            mean = V if self._n_channels == 1 else V.mean(0, keepdim=True)
            if mean.any():
                H = _fit_activations(mean, W, _start(mean, W), self.n_chunk, self.chunk_solver)
                parts = source_parts(W, H, components, n_sources)
                if self._n_channels > 1:  # from the previous chunk's gains
                    gains = channel_gains(parts, V.unsqueeze(1), gains)
            else:  # silence: no activity (the masks split it equally), the gains kept
                H = _start(mean, W).zero_()
                parts = source_parts(W, H, components, n_sources)
            del mean
        del V
        self._gains = gains
        if gains is not None:
            self._gain_sum = gains if self._gain_sum is None else self._gain_sum + gains
            self._n_gains += 1
        return SourceParts(parts, gains, H)


def separate_drums(
    mixture,
    sample_rate: int,
    *,
    hits: HitsLike = None,
    templates: Union[Templates, str, os.PathLike, None] = None,
    n_fft: Optional[int] = None,
    hop_length: Optional[int] = None,
    T: int = 16,
    spectrogram_power: float = 1.5,
    n_iter: int = 40,
    n_rounds: int = 2,
    n_adapt: int = 30,
    n_refit: int = 30,
    n_chunk: Optional[int] = None,
    chunk_solver: str = "mu",
    mask_power: float = 2.0,
    fit_bandwidth: Optional[float] = FIT_BANDWIDTH,
    chunk_duration: Optional[float] = 30.0,
    adapt_duration: Optional[float] = 30.0,
    device: Union[str, torch.device, None] = None,
    verbose: bool = False,
    return_model: bool = False,
    stems: bool = True,
):
    r"""Separate a drum mixture into kick, snare and hi-hat (or the templates' sources).

    See the module docstring for the method. Give the kit's isolated ``hits`` (recipe
    ``"drums"``), or ``templates``; with neither, the generic templates shipped with nmfsep
    are used (recipe ``"drums-generic"``).

    Parameters
    ----------
    mixture : Tensor or ndarray, shape (channels, samples) or (samples,)
        The drum mixture at ``sample_rate``.
    sample_rate : int
        Sampling rate in Hz.
    hits : mapping, sequence of paths, or a folder, optional
        Isolated hits of the kit, ``{"kick": [...], "snare": [...], "hihat": [...]}`` or
        files named by instrument (see :func:`hit_templates`); other velocity layers than the
        mixture's are fine.
    templates : Templates or path, optional
        NMFD templates ``(freq, R, T)`` (from :func:`hit_templates`, :func:`generic_templates`
        or ``nmfsep learn-templates``); at another sample rate they are mapped onto the
        mixture's STFT bins.
    n_fft, hop_length : int, optional
        STFT sizes with ``hits``: default 1024 / 256 at 22.05 kHz (the same durations at other
        rates). Taken from ``templates`` otherwise.
    T : int, default 16
        Template length in frames with ``hits``.
    spectrogram_power : float, default 1.5
        Exponent ``p`` of the modelled spectrogram ``|X| ** p``.
    n_iter : int, default 40
        Iterations of the first activation fit.
    n_rounds : int, default 2
        Rounds of template adaptation (0: templates held fixed throughout). The defaults
        (40 + 2 x (30 + 30) updates) score within 0.07 dB of 50 + 3 x (30 + 50) on the
        benchmark's drums3 split (14.80 against 14.87 dB) in 55 % of the updates.
    n_adapt : int, default 30
        Iterations of each instrument's template adaptation per round.
    n_refit : int, default 30
        Iterations of the activation refit after each round, and of every chunk's
        activations (see ``chunk_duration``).
    n_chunk : int, optional
        Iterations of every chunk's activations (default ``n_refit``).
    chunk_solver : {"mu", "auto"}, default "mu"
        Solver of every chunk's activations: ``"auto"`` takes extrapolated multiplicative
        updates (:mod:`nmfsep.fitting`): with the generic templates 12 of them give
        the stems of 30 plain ones in 0.6x the CPU time on one thread, but they run on one
        thread only (no gain on two).
    mask_power : float, default 2.0
        Exponent of the soft masks on magnitudes (2: Wiener-like, 1: ratio masks).
    fit_bandwidth : float or None, default :data:`FIT_BANDWIDTH` (11025 Hz)
        The model is fitted to the bins up to this frequency only (where drums differ from
        each other); above it every frame's masks are those of the band's top octave. At
        44.1 kHz this halves the fit's work, with the same stems within 0.02 dB SI-SDR on
        the stereo example upsampled to 44.1 kHz (the model's templates then cover the band
        only); at 22.05 kHz and under it changes nothing. ``None`` fits every bin.
    chunk_duration : float or None, default 30.0
        Mixtures longer than this many seconds are separated in chunks (consecutive chunks
        share :data:`CHUNK_OVERLAP` seconds, cross-faded; a last piece shorter than half a
        chunk joins the one before, so a mixture up to 1.5 chunks long is one piece): the
        templates are adapted once (steps 1 and 2) on excerpts of the mixture
        (``adapt_duration``), then every chunk's activations are fitted with them held
        fixed (``n_refit`` updates from the constant start, with the chunk's next ``T - 1``
        frames in view; 40 or 60 change the stems of a 3-minute drum recording by 0.01 dB,
        20 lose 0.03-0.04 dB), and its masks and inverse STFT computed. Memory then stays
        bounded however long the mixture (the mixture and the stems aside), and the work is
        less than half of the fit in one piece (a 3-minute stereo drum recording at
        44.1 kHz: about 18 against 43 CPU seconds). ``None``: the whole mixture in one
        piece.
    adapt_duration : float or None, default 30.0
        Seconds of a chunked mixture that the templates are adapted on: excerpts of
        :data:`EXCERPT_DURATION` seconds spread evenly from its start to its end (on the
        model's batch axis; a multichannel mixture's gains are first fitted on them too).
        ``None``, or at least the mixture's length: the whole mixture (its spectrogram then
        grows with it). On a 3-minute stereo drum
        recording (``benchmarks/end_to_end.py``) the stems score 14.77 dB SI-SDR with 30 s
        against 14.83 dB for the template adaptation on the whole song (with 40 updates per
        chunk: 15 s 14.69, 30 s 14.78, 60 s 14.75 dB).
    device : str or torch.device, optional
        Where to compute (default: the mixture's device); stems return to the mixture's.
    verbose : bool, default False
        Show a progress bar.
    return_model : bool, default False
        Also return the fitted :class:`DrumModel` (activations for onset detection).
    stems : bool, default True
        False: fit the model only, with no masks or inverse STFTs (what onset detection
        needs; on a 3-minute song they are a fifth of the work); ``None`` stands for the
        stems.

    Returns
    -------
    dict of str to Tensor
        ``{source: (channels, samples)}`` in the order of the sources (``"kick"``,
        ``"snare"``, ``"hihat"``), same dtype and length as the mixture, summing to it.
        With ``return_model=True``, ``(stems, model)``.

    Raises
    ------
    TypeError, ValueError
        On an invalid mixture, hits, templates or settings.

    Examples
    --------
    >>> import torch
    >>> sr = 8000
    >>> g = torch.Generator().manual_seed(0)
    >>> t = torch.arange(1600) / sr
    >>> kick = torch.sin(2 * torch.pi * 60 * t) * torch.exp(-25 * t)
    >>> hat = torch.randn(1600, generator=g) * torch.exp(-80 * t) * 0.3
    >>> mixture = torch.zeros(2 * sr)
    >>> for start in range(0, 2 * sr - 1600, 4000):
    ...     mixture[start:start + 1600] += kick
    ...     mixture[start + 2000:start + 3600] += hat
    >>> stems = separate_drums(mixture, sr, hits={"kick": [kick], "hihat": [hat]}, n_fft=256,
    ...                        T=8, n_rounds=1)
    >>> sorted(stems), stems["kick"].shape
    (['hihat', 'kick'], torch.Size([1, 16000]))
    >>> bool((stems["kick"] + stems["hihat"] - mixture).abs().max() < 1e-4)
    True
    """
    sample_rate = check_sample_rate(sample_rate)
    waveform = check_audio(mixture if isinstance(mixture, Tensor) else torch.as_tensor(mixture),
                           name="mixture")
    if waveform.ndim > 2:
        raise ParameterError(f"mixture must have shape (samples,) or (channels, samples), got "
                         f"{tuple(waveform.shape)}.")
    T = check_count(T, "T")
    mask_power = check_real(mask_power, "mask_power", low=0, low_open=True)
    templates = drum_templates(hits, templates, sample_rate, n_fft=n_fft, hop_length=hop_length,
                               T=T)
    model = DrumNMFD(templates, spectrogram_power=spectrogram_power, n_iter=n_iter,
                     n_rounds=n_rounds, n_adapt=n_adapt, n_refit=n_refit, n_chunk=n_chunk,
                     chunk_solver=chunk_solver, fit_bandwidth=fit_bandwidth,
                     adapt_duration=adapt_duration, verbose=verbose)
    # the STFT the templates ask for at this rate (DrumNMFD maps them onto its bins)
    _, n_fft, hop_length, window = templates_at_rate(templates, sample_rate, n_fft, hop_length)
    n_samples = waveform.shape[-1]
    if n_samples <= n_fft // 2:
        raise ParameterError(f"the mixture has {n_samples} samples; n_fft={n_fft} needs more than "
                         f"{n_fft // 2}.")
    separator = Separator(front_end=STFT(n_fft=n_fft, hop_length=hop_length, window=window),
                          model=model, mask_power=mask_power, chunk_duration=chunk_duration,
                          chunk_overlap=CHUNK_OVERLAP, verbose=verbose, device=device)
    signal = waveform.reshape(-1, n_samples).float()
    if stems:
        estimates = separator.separate(signal, sample_rate)
        shape = (-1, n_samples) if waveform.ndim == 2 else (1, n_samples)
        stems = {source: estimates[source].reshape(shape).to(dtype=waveform.dtype)
                 for source in model.sources}
        del estimates
    else:
        separator.fit(signal, sample_rate)
        stems = None
    if not return_model:
        return stems
    gains = model.gains_
    result = DrumModel(model.sources, model.components_.cpu(), model.templates_.cpu(),
                       separator.activations_.cpu(), sample_rate, n_fft, hop_length, model.power,
                       None if gains is None else gains.cpu())
    return stems, result


# --------------------------------------------------------------------------- recipes
def _drums_recipe(mixture, sample_rate, *, templates=None, hits=None, seed=None, device=None,
                  verbose=False, **settings):
    # deterministic: fixed (or loaded) templates and a constant start, so no seed is used
    return separate_drums(mixture, sample_rate, hits=hits, templates=templates, device=device,
                          verbose=verbose, **settings)


def _drums_generic_recipe(mixture, sample_rate, *, templates=None, hits=None, seed=None,
                          device=None, verbose=False, **settings):
    if hits is not None:
        raise ParameterError("the 'drums-generic' recipe uses no hits; use the 'drums' recipe "
                         "to separate with the kit's hits.")
    return separate_drums(mixture, sample_rate, templates=templates, device=device,
                          verbose=verbose, **settings)


register_recipe(
    "drums", _drums_recipe, sources=DRUM_SOURCES, uses_hits=True, uses_templates=True,
    fallback="the generic drum templates shipped with nmfsep (--hits with the kit's own "
             "isolated hits fit it better)",
    description="kick / snare / hi-hat with NMFD templates from the kit's isolated hits "
                "(--hits), or from --templates; without either, the generic templates",
    settings=settings_of(separate_drums),
)
register_recipe(
    "drums-generic", _drums_generic_recipe, sources=DRUM_SOURCES, uses_hits=False,
    uses_templates=True, fallback="the generic drum templates shipped with nmfsep",
    description="kick / snare / hi-hat with the generic drum templates shipped with nmfsep "
                "(no hits of the kit needed)",
    # the generic templates make every update ~8x a kit's: on long mixtures the templates
    # adapt on 20 s of excerpts and every chunk takes 20 updates (within 0.03 dB of 30 s and
    # 30 updates on the 3-minute benchmark, see the README)
    settings=settings_of(separate_drums, **GENERIC_CHUNK_FIT),
)
