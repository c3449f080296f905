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

The defaults (93 ms windows with a quarter hop, i.e. STFT 2048 / 512 at 22.05 kHz; exemplars
every 256 samples; beta = 0.5; Wiener masks of power 2) were chosen on the benchmark's dev
split; see ``recipes/piano_bass/README.md`` for the measurements.
"""

from __future__ import annotations

import math
import numbers
import os
from typing import Dict, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor

from nmfsep.apps.recipes import register_recipe
from nmfsep.core._validation import check_count
from nmfsep.functional import stft
from nmfsep.io import check_audio
from nmfsep.separation import Separator, Templates, learn_templates

__all__ = ["learn_instrument_dictionaries", "separate_supervised", "default_stft",
           "DICTIONARY_METHODS"]

#: Ways :func:`learn_instrument_dictionaries` builds a dictionary.
DICTIONARY_METHODS = ("exemplars", "nmf")

Waveforms = Union[Tensor, np.ndarray, Sequence[Union[Tensor, np.ndarray]]]


def _as_waveform_list(label: str, examples) -> list:
    """``examples`` (a waveform or a list of them) as mono ``(samples,)`` float tensors;
    ``label`` names them in error messages (e.g. ``"train['piano']"``)."""
    if isinstance(examples, (Tensor, np.ndarray)):
        examples = [examples]
    if not isinstance(examples, Sequence) or isinstance(examples, (str, bytes)) or not examples:
        raise TypeError(
            f"{label} must be a waveform or a non-empty list of waveforms (tensors of shape "
            f"(samples,) or (channels, samples)), got {type(examples).__name__}; load files "
            f"with nmfsep.io.load first."
        )
    waveforms = []
    for k, item in enumerate(examples):
        if not isinstance(item, (Tensor, np.ndarray)):
            raise TypeError(f"{label}[{k}] must be a tensor or array, got {type(item).__name__}.")
        waveform = check_audio(torch.as_tensor(item), name=f"{label}[{k}]")
        if waveform.ndim > 2:
            raise ValueError(f"{label}[{k}] must have shape (samples,) or (channels, samples), "
                             f"got {tuple(waveform.shape)}.")
        # dictionaries are spectra: channels are averaged
        waveforms.append(waveform.reshape(-1, waveform.shape[-1]).mean(0).float())
    return waveforms


def default_stft(sample_rate: int) -> Dict[str, int]:
    """The recipes' STFT at ``sample_rate``: 93 ms windows (2048 at 22.05 kHz), hop a quarter.

    ``n_fft`` is the power of two closest to 93 ms, so 44.1 kHz gives 4096 / 1024 and
    16 kHz 1024 / 256 (the bass partials stay resolved whatever the rate).

    Examples
    --------
    >>> default_stft(22050), default_stft(44100)["n_fft"]
    ({'n_fft': 2048, 'hop_length': 512}, 4096)
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real) or \
            not sample_rate > 0:
        raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate!r}.")
    n_fft = 2 ** max(4, round(math.log2(2048 * sample_rate / 22050)))
    return dict(n_fft=n_fft, hop_length=n_fft // 4)


def _stft_settings(sample_rate, n_fft, hop_length, window) -> Dict[str, object]:
    """Validated ``n_fft``, ``hop_length`` and ``window``; None takes :func:`default_stft`."""
    defaults = default_stft(sample_rate)
    n_fft = defaults["n_fft"] if n_fft is None else check_count(n_fft, "n_fft")
    hop_length = n_fft // 4 if hop_length is None else check_count(hop_length, "hop_length")
    if not isinstance(window, str):
        raise TypeError(f"window must be a window name such as 'hann', got {window!r}.")
    return dict(n_fft=n_fft, hop_length=hop_length, window=window.lower())


def _exemplars(waveforms, n_fft: int, hop_length: int, window: str, threshold_db: float,
               max_exemplars: Optional[int]) -> Tensor:
    """Unit-sum magnitude frames ``(freq, R)`` within ``threshold_db`` of the loudest frame."""
    frames = []
    for waveform in waveforms:
        if waveform.shape[-1] <= n_fft // 2:
            raise ValueError(f"a training waveform has {waveform.shape[-1]} samples; n_fft={n_fft} "
                             f"needs more than {n_fft // 2}.")
        frames.append(stft(waveform, n_fft, hop_length, window=window).abs())
    spectra = torch.cat(frames, -1)
    level = spectra.sum(0)
    keep = level >= level.max() * 10.0 ** (-threshold_db / 20.0)
    spectra, level = spectra[:, keep], level[keep]
    if max_exemplars is not None and spectra.shape[1] > max_exemplars:
        # evenly spaced in time: keeps every note of a scale, deterministically
        index = torch.linspace(0, spectra.shape[1] - 1, max_exemplars).round().long()
        spectra, level = spectra[:, index], level[index]
    return spectra / level


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
        raise TypeError(
            "train must be a non-empty mapping {instrument: waveforms}, e.g. "
            "{'piano': [piano_notes], 'bass': [bass_notes]}."
        )
    if method not in DICTIONARY_METHODS:
        raise ValueError(f"method must be one of {DICTIONARY_METHODS}, got {method!r}.")
    waveforms = {source: _as_waveform_list(f"train[{source!r}]", examples)
                 for source, examples in train.items()}
    settings = _stft_settings(sample_rate, n_fft, hop_length, window)
    if method == "nmf":
        return learn_templates(
            waveforms, sample_rate=sample_rate, **settings,
            n_components_per_source=check_count(n_components, "n_components"),
            beta=beta, max_iter=max_iter, seed=seed, verbose=verbose,
        )
    threshold_db = float(threshold_db)
    if not (math.isfinite(threshold_db) and threshold_db > 0):
        raise ValueError(f"threshold_db must be a positive number of dB, got {threshold_db}.")
    if max_exemplars is not None:
        max_exemplars = check_count(max_exemplars, "max_exemplars")
    exemplar_settings = dict(settings, hop_length=max(1, settings["hop_length"] // 2)
                             if exemplar_hop_length is None
                             else check_count(exemplar_hop_length, "exemplar_hop_length"))
    blocks, components = [], []
    for index, source in enumerate(waveforms):
        W = _exemplars(waveforms[source], threshold_db=threshold_db, max_exemplars=max_exemplars,
                       **exemplar_settings)
        blocks.append(W)
        components += [index] * W.shape[1]
    return Templates(torch.cat(blocks, 1), tuple(waveforms), tuple(components), sample_rate,
                     "stft", settings)


def separate_supervised(
    mixture: Tensor,
    sample_rate: int,
    dictionaries: Union[Templates, str],
    *,
    beta: float = 0.5,
    max_iter: int = 100,
    tol: float = 1e-4,
    mask_power: float = 2.0,
    seed: Optional[int] = 0,
    device: Union[str, torch.device, None] = None,
    verbose: bool = False,
) -> Dict[str, Tensor]:
    r"""Separate a mixture into the instruments of ``dictionaries``.

    The dictionaries are held fixed; the activations of all atoms are fitted to the
    mixture's STFT magnitude by minimising the beta-divergence, and each instrument's part of
    the model gives a soft mask (:class:`nmfsep.separation.Separator` does the work).

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
        Iterations of the activation fit.
    tol : float, default 1e-4
        Relative loss decrease under which the fit stops early.
    mask_power : float, default 2.0
        Exponent of the soft masks (2: Wiener-like, 1: ratio masks).
    seed : int, optional
        Seed of the activations' random start.
    device : str or torch.device, optional
        Where to compute (default: the mixture's device).
    verbose : bool, default False
        Progress bar of the fit.

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
    separator = Separator(templates=dictionaries, beta=beta, max_iter=max_iter, tol=tol,
                          mask_power=mask_power, seed=seed, device=device, verbose=verbose)
    return separator.separate(mixture, sample_rate)


# --------------------------------------------------------------------------- recipe
def _piano_bass_recipe(mixture, sample_rate, *, templates=None, hits=None, seed=None,
                       device=None, verbose=False):
    if templates is None:
        raise ValueError(
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
        raise ValueError(
            f"the 'piano-bass' recipe separates with dictionaries of spectra (freq, R), got "
            f"NMFD templates {tuple(templates.W.shape)} made for the drum recipes; learn them "
            f"with 'nmfsep learn-templates FILES --recipe piano-bass' or nmfsep.recipes."
            f"learn_instrument_dictionaries.")
    return separate_supervised(mixture, sample_rate, templates, seed=0 if seed is None else seed,
                               device=device, verbose=verbose)


register_recipe(
    "piano-bass", _piano_bass_recipe, sources=None, uses_templates=True, requires_templates=True,
    description="supervised NMF: fixed exemplar dictionaries of each instrument (--templates, "
                "from learn_instrument_dictionaries), beta = 0.5, Wiener masks",
)
