"""Recipe 4: supervised separation of instruments with dictionaries learned from training audio.

Every instrument gets a dictionary of spectra taken from recordings of that instrument alone
(e.g. isolated notes). The mixture's magnitude spectrogram is explained by all dictionaries
together, held fixed, and only the activations are fitted (beta-divergence NMF); each
instrument's part of the model gives a Wiener-like soft mask.

Two ways to build a dictionary:

* ``method="exemplars"`` (default): the training frames themselves, every frame within
  ``threshold_db`` of the loudest one, scaled to unit sum. A frame holds a whole note's
  spectrum (all its partials with their true balance), so another instrument's notes are hard
  to imitate by combining atoms: on the benchmark this separates piano from bass about
  2 dB better than NMF-learned dictionaries of any size we tried.
* ``method="nmf"``: ``n_components`` spectra per instrument learned by KL-NMF
  (:func:`nmfsep.separation.learn_templates`); smaller, hence faster, but less specific.

The recipe is a :class:`~nmfsep.separation.Separator` of the dictionaries' STFT and the
source model :class:`SupervisedNMF`, which fits the activations of every chunk.

The defaults (93 ms windows with a quarter hop, i.e. STFT 2048 / 512 at 22.05 kHz; exemplars
every 256 samples; beta = 0.5; Wiener masks of power 2) were chosen on the benchmark's dev
split; see ``recipes/piano-bass/README.md`` for the measurements.
"""

from __future__ import annotations

import math
import os
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from nmfsep._apps.recipes import register_recipe, settings_of
from nmfsep._core._validation import check_beta, check_count, check_real
from nmfsep.io import check_audio
from nmfsep.nmf import NMF
from nmfsep.separation import Separator, SourceModel, SourceParts, Templates, learn_templates
from nmfsep.transforms import STFT

from ..._errors import ParameterError, ParameterTypeError
from ._shared import (
    CHUNK_OVERLAP,
    as_waveform_list,
    channel_gains,
    default_stft,
    exemplars,
    source_parts,
    stft_settings,
)

__all__ = ["learn_instrument_dictionaries", "separate_supervised", "SupervisedNMF",
           "default_stft", "DICTIONARY_METHODS"]

#: Ways :func:`learn_instrument_dictionaries` builds a dictionary.
DICTIONARY_METHODS = ("exemplars", "nmf")

Waveforms = Union[Tensor, np.ndarray, Sequence[Union[Tensor, np.ndarray]]]


def learn_instrument_dictionaries(
    train: Mapping[str, Waveforms],
    sample_rate: int,
    *,
    n_fft: Optional[int] = None,
    hop_length: Optional[int] = None,
    window: str = "hann",
    method: str = "exemplars",
    threshold_db: float = 40.0,
    exemplar_hop_length: Optional[int] = None,
    max_exemplars: Optional[int] = None,
    n_components: int = 64,
    beta: float = 1.0,
    max_iter: int = 200,
    seed: Optional[int] = 0,
    verbose: bool = False,
) -> Templates:
    r"""Learn one spectral dictionary per instrument from recordings of it alone.

    Parameters
    ----------
    train : mapping of str to waveform or list of waveforms
        ``{instrument: recordings}``; a waveform is a tensor or array of shape ``(samples,)``
        or ``(channels, samples)`` at ``sample_rate`` (channels are averaged). Isolated notes
        over the instrument's range work best.
    sample_rate : int
        Sampling rate in Hz of the recordings (and of the mixtures to separate).
    n_fft, hop_length, window
        STFT settings; the mixtures are analysed with the same ones. Default
        :func:`default_stft` (2048 / 512 at 22.05 kHz).
    method : {"exemplars", "nmf"}, default "exemplars"
        ``"exemplars"``: the training frames themselves (see the module docstring);
        ``"nmf"``: ``n_components`` spectra per instrument learned by NMF.
    threshold_db : float, default 40.0
        Exemplars only: frames quieter than the loudest frame of the instrument by more than
        this many dB (of the summed magnitude) are left out (silence, note tails).
    exemplar_hop_length : int, optional
        Exemplars only: hop between the training frames taken, default ``hop_length // 2``.
        Denser exemplars follow each note's evolution more closely (on the benchmark hop 256
        instead of 512 gains 0.2 dB, for twice the atoms).
    max_exemplars : int, optional
        Exemplars only: keep at most this many frames per instrument, evenly spaced in time
        (fewer atoms separate faster, slightly less well). Default: all.
    n_components : int, default 64
        NMF only: spectra per instrument.
    beta : float, default 1.0
        NMF only: beta-divergence of the dictionary learning.
    max_iter : int, default 200
        NMF only: iterations.
    seed : int, optional
        NMF only: seed of the initialisation.
    verbose : bool, default False
        NMF only: progress bars.

    Returns
    -------
    Templates
        ``W (n_fft // 2 + 1, R)`` unit-sum spectra, ``sources`` the instruments in the order
        of ``train``, with the STFT settings and ``sample_rate``. Save it with
        ``Templates.save(path)`` (``torch.save``) and read it back with ``Templates.load``.

    Raises
    ------
    TypeError
        If ``train`` is not a mapping of waveforms.
    ValueError
        On an unknown ``method``, bad settings, or a silent, non-finite or too short recording.

    See Also
    --------
    separate_supervised : separate a mixture with the dictionaries.

    Examples
    --------
    >>> import torch
    >>> sr = 8000
    >>> t = torch.arange(sr) / sr
    >>> low = torch.sin(2 * torch.pi * 110 * t)
    >>> high = torch.sin(2 * torch.pi * 880 * t)
    >>> dictionaries = learn_instrument_dictionaries({"low": [low], "high": [high]}, sr,
    ...                                             n_fft=512, hop_length=128)
    >>> dictionaries.sources, dictionaries.W.shape[0]
    (('low', 'high'), 257)
    """
    if not isinstance(train, Mapping) or not train:
        raise ParameterTypeError(
            "train must be a non-empty mapping {instrument: waveforms}, e.g. "
            "{'piano': [piano_notes], 'bass': [bass_notes]}."
        )
    if method not in DICTIONARY_METHODS:
        raise ParameterError(f"method must be one of {DICTIONARY_METHODS}, got {method!r}.")
    waveforms = {source: as_waveform_list(f"train[{source!r}]", examples)
                 for source, examples in train.items()}
    settings = stft_settings(sample_rate, n_fft, hop_length, window)
    if method == "nmf":
        return learn_templates(
            waveforms, sample_rate=sample_rate, **settings,
            n_components_per_source=check_count(n_components, "n_components"),
            beta=beta, max_iter=max_iter, seed=seed, verbose=verbose,
        )
    threshold_db = float(threshold_db)
    if not (math.isfinite(threshold_db) and threshold_db > 0):
        raise ParameterError(f"threshold_db must be a positive number of dB, got {threshold_db}.")
    if max_exemplars is not None:
        max_exemplars = check_count(max_exemplars, "max_exemplars")
    exemplar_settings = dict(settings, hop_length=max(1, settings["hop_length"] // 2)
                             if exemplar_hop_length is None
                             else check_count(exemplar_hop_length, "exemplar_hop_length"))
    blocks, components = [], []
    for index, source in enumerate(waveforms):
        W = exemplars(waveforms[source], threshold_db=threshold_db, max_exemplars=max_exemplars,
                       **exemplar_settings)
        blocks.append(W)
        components += [index] * W.shape[1]
    return Templates(torch.cat(blocks, 1), tuple(waveforms), tuple(components), sample_rate,
                     "stft", settings)


def _fit_activations(V: Tensor, W: Tensor, *, beta: float, max_iter: int, tol: float,
                     check_every: int = 5) -> Tuple[Tensor, int]:
    """Activations ``H (R, M)`` of fixed atoms ``W (K, R)`` for ``V (K, M)`` ≈ ``W H`` and the
    number of iterations run: an :class:`~nmfsep.nmf.NMF` with ``W`` held fixed, fitted with
    ``solver="auto"`` (multiplicative updates with safeguarded extrapolation,
    :mod:`nmfsep.fitting`) until the loss falls by under ``tol`` of the initial loss
    in ``check_every`` iterations. The extrapolation is Ang & Gillis's geometric one, not
    ``fit``'s default SQUAREM: on the benchmark's dev mixtures (thousands of atoms, 20-25
    iterations) SQUAREM's losses ended 1-4 % higher, the stems 0.3-0.4 dB lower.

    Every frame starts from its own level, the same for all atoms (with fixed atoms there is no
    symmetry to break)."""
    start = (V.sum(0, keepdim=True) / W.sum()).expand(W.shape[1], -1)
    model = NMF(W=W, H=start.t().contiguous(), trainable_W=False)
    n_iter = model.fit(V.t().contiguous(), beta=beta, tol=tol, max_iter=max_iter,
                       check_every=check_every, solver="auto", extrapolation="geometric")
    return model.H.detach().t(), n_iter


def _interpolate_frames(H: Tensor, every: int, frames: int) -> Tensor:
    """Activations ``(..., frames)`` from those of every ``every``-th frame ``(..., n)``:
    linear in between, the last fitted frame's after it.

    Examples
    --------
    >>> _interpolate_frames(torch.tensor([[0.0, 2.0, 4.0]]), 2, 6)
    tensor([[0., 1., 2., 3., 4., 4.]])
    """
    if every == 1:
        return H
    position = torch.arange(frames, device=H.device, dtype=H.dtype) / every
    left = position.floor().long().clamp_(max=H.shape[-1] - 1)
    right = (left + 1).clamp_(max=H.shape[-1] - 1)
    weight = (position - left).clamp_(0, 1)
    return H[..., left] * (1 - weight) + H[..., right] * weight


class SupervisedNMF(SourceModel):
    r"""The piano-bass recipe's model of the sources: NMF with fixed dictionaries.

    A :class:`~nmfsep.separation.SourceModel` for :class:`~nmfsep.separation.Separator`
    (``Separator(front_end=STFT(...), model=SupervisedNMF(dictionaries), ...)``, which is
    what :func:`separate_supervised` runs). Every chunk's magnitude up to ``fit_bandwidth``
    is explained by all dictionaries together, held fixed: the activations of every
    ``fit_every``-th frame are fitted to the channels' mean (beta-divergence,
    ``solver="auto"``) and interpolated in between, and every source's part takes a gain
    per channel. Chunks start on the fitted frames' grid (``chunk_alignment``), so a chunk
    fits the frames the whole mixture would. It validates its settings when made.

    Parameters
    ----------
    dictionaries : Templates
        Spectra ``(freq, R)`` of every instrument, from :func:`learn_instrument_dictionaries`,
        for the separator's STFT.
    beta, max_iter, tol, fit_bandwidth, fit_every
        As in :func:`separate_supervised`.

    Attributes
    ----------
    sources : tuple of str
        The instruments.
    chunk_alignment : int
        ``fit_every``.
    n_iter_ : list of int
        Iterations of every chunk's fit (0 for a chunk silent in the band).

    Examples
    --------
    >>> import torch
    >>> from nmfsep.recipes import SupervisedNMF, learn_instrument_dictionaries
    >>> from nmfsep.separation import Separator
    >>> from nmfsep.transforms import STFT
    >>> sr, t = 8000, torch.arange(16000) / 8000
    >>> low, high = torch.sin(2 * torch.pi * 110 * t), torch.sin(2 * torch.pi * 880 * t)
    >>> dictionaries = learn_instrument_dictionaries({"low": low, "high": high}, sr,
    ...                                             n_fft=512, hop_length=128)
    >>> separator = Separator(front_end=STFT(n_fft=512, hop_length=128),
    ...                       model=SupervisedNMF(dictionaries, max_iter=30))
    >>> stems = separator.separate(0.5 * low + 0.2 * high, sr)
    >>> error = (stems["low"][0] - 0.5 * low).pow(2).sum() / (0.5 * low).pow(2).sum()
    >>> bool(error < 1e-4)  # -40 dB
    True
    """

    def __init__(self, dictionaries: Templates, *, beta: float = 0.5, max_iter: int = 100,
                 tol: float = 1e-2, fit_bandwidth: Optional[float] = 5500.0, fit_every: int = 3):
        if not isinstance(dictionaries, Templates) or dictionaries.W.dim() != 2:
            raise ParameterTypeError("dictionaries must be Templates of spectra (freq, R) from "
                                     "learn_instrument_dictionaries, or the path of a saved one.")
        self.dictionaries = dictionaries
        self.sources = dictionaries.sources
        self.beta = check_beta(beta)
        self.max_iter = check_count(max_iter, "max_iter")
        self.chunk_alignment = self.fit_every = check_count(fit_every, "fit_every")
        self.tol = check_real(tol, "tol", low=0)
        if fit_bandwidth is not None:
            fit_bandwidth = float(fit_bandwidth)
            if not (math.isfinite(fit_bandwidth) and fit_bandwidth > 0):
                raise ParameterError(f"fit_bandwidth must be a positive number of Hz, got "
                                     f"{fit_bandwidth}.")
        self.fit_bandwidth = fit_bandwidth

    def __repr__(self) -> str:
        return (f"SupervisedNMF({self.sources}, {self.dictionaries.n_components} atoms, "
                f"beta={self.beta}, fit_every={self.fit_every})")

    def prepare(self, mixture: Tensor, sample_rate: int, front, bounds) -> None:
        """The dictionaries on the mixture's device; a front end of other bins is refused."""
        if self.dictionaries.sample_rate != sample_rate:
            raise ParameterError(f"the dictionaries were learned at {self.dictionaries.sample_rate} "
                                 f"Hz, the mixture is at {sample_rate} Hz: resample it (or learn "
                                 f"new ones).")
        if front.n_freqs != self.dictionaries.W.shape[0]:
            raise ParameterError(f"the dictionaries have {self.dictionaries.W.shape[0]} bins, the "
                                 f"front end {front.n_freqs}: use their STFT settings "
                                 f"{self.dictionaries.settings}.")
        self._W = self.dictionaries.W.to(device=mixture.device, dtype=torch.float32)
        self._components = torch.as_tensor(self.dictionaries.components, device=mixture.device)
        self.n_iter_ = []
        return None

    def parts(self, magnitude: Tensor) -> SourceParts:
        """Every instrument's part ``(sources, 1, n_fit, frames)`` of one chunk's ``|X|``, and
        its gains in every channel."""
        channels, n_fit, frames = magnitude.shape
        n_sources = len(self.sources)
        W = self._W[:n_fit]
        magnitude = magnitude[..., ::self.fit_every]
        # one fit for all channels, on their mean magnitude (a source's spectrum is the same
        # in every channel up to its level there)
        V = magnitude.mean(0)
        if not V.any():  # silence in the band: shared equally
            self.n_iter_.append(0)
            return SourceParts(magnitude.new_zeros((n_sources, 1, n_fit, frames)))
        H, n_iter = _fit_activations(V, W, beta=self.beta, max_iter=self.max_iter, tol=self.tol)
        self.n_iter_.append(n_iter)
        gains = None
        if channels > 1:  # each source's level in each channel (its panning), as the drum recipes
            gains = channel_gains(source_parts(W[:, :, None], H[None], self._components, n_sources),
                                  magnitude[:, None])
        H = _interpolate_frames(H[None], self.fit_every, frames)  # (1, R, frames), all channels
        return SourceParts(source_parts(W[:, :, None], H, self._components, n_sources), gains)


def separate_supervised(
    mixture: Tensor,
    sample_rate: int,
    dictionaries: Union[Templates, str],
    *,
    beta: float = 0.5,
    max_iter: int = 100,
    tol: float = 1e-2,
    mask_power: float = 2.0,
    fit_bandwidth: Optional[float] = 5500.0,
    fit_every: int = 3,
    chunk_duration: Optional[float] = 60.0,
    seed: Optional[int] = 0,
    device: Union[str, torch.device, None] = None,
    verbose: bool = False,
) -> Dict[str, Tensor]:
    r"""Separate a mixture into the instruments of ``dictionaries``.

    The dictionaries are held fixed; the activations of all atoms are fitted to the
    mixture's STFT magnitude by minimising the beta-divergence (an :class:`~nmfsep.nmf.NMF`
    with ``W`` fixed, ``fit(solver="auto")``: multiplicative updates with safeguarded
    extrapolation), and each instrument's part of the model gives a soft mask applied to the
    complex STFT.

    Channels share one fit, on the mean of their magnitudes; every channel then takes each
    instrument's part times a gain per chunk (the drum recipes' instantaneous mixing model,
    KL updates of the gains alone), so that a panned instrument's mask is larger in the
    channel where it is louder. The recipe is a :class:`~nmfsep.separation.Separator` of the
    dictionaries' STFT and the source model :class:`SupervisedNMF`. Long
    mixtures are separated ``chunk_duration`` seconds at a time (1 s overlaps, cross-faded,
    chunks starting on the fitted frames' grid): with the atoms fixed every frame is
    its own problem, so memory stays that of one chunk besides the audio.

    Parameters
    ----------
    mixture : Tensor, shape (channels, samples) or (samples,)
        The mixture at ``sample_rate``.
    sample_rate : int
        Sampling rate in Hz; must be the dictionaries' rate.
    dictionaries : Templates or path
        From :func:`learn_instrument_dictionaries` (or a file written by its ``save``).
    beta : float, default 0.5
        Beta-divergence of the fit. Values between 0.5 and 1 suit magnitude spectrograms:
        below 1 the quiet partials of the quieter instrument count more than with KL (on the
        benchmark the bass gains 0.7 dB from beta = 0.5).
    max_iter : int, default 100
        Most iterations of the activation fit.
    tol : float, default 1e-2
        The fit stops when the loss falls by less than this fraction of its initial value in
        5 iterations (``NMF.fit``'s rule; 20-25 iterations on the benchmark); 0 runs
        ``max_iter`` unless the loss stops falling.
    mask_power : float, default 2.0
        Exponent of the soft masks (2: Wiener-like, 1: ratio masks).
    fit_bandwidth : float or None, default 5500.0
        Fit only the bins up to this frequency in Hz; the bins above take the mean masks of
        the band's top octave (a piano's and a bass's notes are told apart by their partials
        under it; 2500 Hz loses 1 dB on the benchmark). None: all bins.
    fit_every : int, default 3
        Fit the activations of every ``fit_every``-th frame only and interpolate them
        linearly in between: with the hop a quarter of the window, frames three hops apart
        still overlap and the notes' activations change little between them (on the
        benchmark every frame, every 2nd and every 3rd give 12.95 dB, every 4th 12.87).
    chunk_duration : float or None, default 60.0
        Separate mixtures longer than this many seconds in chunks of it (a last piece under
        half a chunk joins the one before); None: in one piece. On 3 minutes of stereo
        44.1 kHz audio with two threads, 60 s chunks took 16 CPU s against 21 for 30 s ones
        (larger products) and 15 for 90 s ones, for 100 and 300 MiB more memory.
    seed : int, optional
        Unused (the activations start from every frame's level); kept for the recipes' interface.
    device : str or torch.device, optional
        Where to compute (default: the mixture's device).
    verbose : bool, default False
        Print the number of chunks and of iterations run in each.

    Returns
    -------
    dict of str to Tensor
        ``{instrument: (channels, samples)}`` in the dictionaries' order; the instruments sum
        to the mixture.

    Examples
    --------
    >>> import torch
    >>> sr = 8000
    >>> t = torch.arange(2 * sr) / sr
    >>> low, high = torch.sin(2 * torch.pi * 110 * t), torch.sin(2 * torch.pi * 880 * t)
    >>> dictionaries = learn_instrument_dictionaries({"low": low, "high": high}, sr,
    ...                                             n_fft=512, hop_length=128)
    >>> stems = separate_supervised(0.5 * low + 0.2 * high, sr, dictionaries, max_iter=30)
    >>> sorted(stems), stems["low"].shape
    (['high', 'low'], torch.Size([1, 16000]))
    """
    if isinstance(dictionaries, (str, os.PathLike)):
        dictionaries = Templates.load(dictionaries)
    mask_power = check_real(mask_power, "mask_power", low=0, low_open=True)
    model = SupervisedNMF(dictionaries, beta=beta, max_iter=max_iter, tol=tol,
                          fit_bandwidth=fit_bandwidth, fit_every=fit_every)
    waveform = check_audio(torch.as_tensor(mixture), name="mixture")
    if waveform.ndim > 2:
        raise ParameterError(f"mixture must have shape (samples,) or (channels, samples), got "
                         f"{tuple(waveform.shape)}.")
    settings = dictionaries.settings
    if dictionaries.sample_rate != sample_rate:
        raise ParameterError(f"the dictionaries were learned at {dictionaries.sample_rate} Hz, the "
                         f"mixture is at {sample_rate} Hz: resample it (or learn new ones).")
    n_fft, hop, window = settings["n_fft"], settings["hop_length"], settings.get("window", "hann")
    n_samples = waveform.shape[-1]
    if n_samples <= n_fft // 2:
        raise ParameterError(f"the mixture has {n_samples} samples; n_fft={n_fft} needs "
                         f"more than {n_fft // 2}.")
    separator = Separator(front_end=STFT(n_fft, hop, window=window), model=model,
                          mask_power=mask_power, chunk_duration=chunk_duration,
                          chunk_overlap=CHUNK_OVERLAP, device=device)
    stems = separator.separate(waveform.reshape(-1, n_samples).float(), sample_rate)
    if verbose:
        print(f"piano-bass: {separator.n_chunks_} chunk(s), iterations {model.n_iter_}")
    shape = tuple(waveform.shape) if waveform.ndim == 2 else (1, n_samples)
    return {name: stems[name].to(dtype=waveform.dtype).reshape(shape) for name in model.sources}


# --------------------------------------------------------------------------- recipe
def _piano_bass_recipe(mixture, sample_rate, *, templates=None, hits=None, seed=None,
                       device=None, verbose=False, **settings):
    if templates is None:
        raise ParameterError(
            "the 'piano-bass' recipe separates with dictionaries learned from recordings of "
            "each instrument alone: build them with nmfsep.recipes."
            "learn_instrument_dictionaries({'piano': [...], 'bass': [...]}, sample_rate), save "
            "them with .save('dictionaries.pt') and pass that file as templates (--templates); "
            "on the command line: 'nmfsep learn-templates piano/ bass/ --sources piano bass "
            "--out dictionaries.pt'.")
    if isinstance(templates, (str, os.PathLike)):
        templates = Templates.load(templates)
    # NMFD hit templates (the drum recipes') would separate, and badly: say so instead
    if isinstance(templates, Templates) and templates.W.dim() != 2:
        raise ParameterError(
            f"the 'piano-bass' recipe separates with dictionaries of spectra (freq, R), got "
            f"NMFD templates {tuple(templates.W.shape)} made for the drum recipes; learn them "
            f"with 'nmfsep learn-templates FILES --recipe piano-bass' or nmfsep.recipes."
            f"learn_instrument_dictionaries.")
    return separate_supervised(mixture, sample_rate, templates, seed=0 if seed is None else seed,
                               device=device, verbose=verbose, **settings)


register_recipe(
    "piano-bass", _piano_bass_recipe, sources=None, uses_templates=True, requires_templates=True,
    description="supervised NMF: fixed exemplar dictionaries of each instrument (--templates, "
                "from learn_instrument_dictionaries), beta = 0.5, Wiener masks",
    settings=settings_of(separate_supervised),
)
