r"""Transcription from factorisations: drum onsets from NMFD activations.

Drum onsets
-----------
:func:`drum_onsets` fits the drum model of :func:`~nmfsep.apps.recipes.drums.separate_drums`
and reads each instrument's onsets off its activations
(:meth:`~nmfsep.apps.recipes.drums.DrumModel.source_activations`: activations weighted by
each template's attack level, summed over the instrument's templates, in magnitude units)
with :func:`pick_onsets`:

* a peak is a frame that is the largest within ``± min_interval``;
* it must reach ``threshold`` times the instrument's largest activation (a floor relative to
  the loudest hit; :func:`drum_onsets` uses :data:`ONSET_THRESHOLDS` per instrument);
* and ``retrigger`` times the largest activation of the previous ``retrigger_window``
  seconds (an adaptive threshold: a hit that rings longer than its template makes the model
  start the template again where it ends, a small peak that this rule drops).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Dict

import torch
from torch import Tensor

from nmfsep.functional import stft

from .drums import (
    DRUM_SOURCES,  # noqa: F401 - for users
    _check_rate,
    _drum_templates,
    _templates_at_rate,
    separate_drums,
)

__all__ = ["pick_onsets", "drum_onsets", "onset_f_measure", "ONSET_THRESHOLDS", "KIT_THRESHOLD",
           "ONSET_FIT", "ANALYSIS_RATE", "ACCOMPANIMENT_COMPONENTS"]


def _fraction(value, name: str, *, allow_zero: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or value < 0 or (value == 0 and not allow_zero) or value > 1:
        raise ValueError(f"{name} must be a number in {'[0' if allow_zero else '(0'}, 1], got {value!r}.")
    return float(value)


def _seconds(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or value < 0:
        raise ValueError(f"{name} must be a non-negative number of seconds, got {value!r}.")
    return float(value)


def pick_onsets(
    activation: Tensor,
    frame_rate: float,
    *,
    threshold: float = 0.1,
    retrigger: float = 0.45,
    retrigger_window: float = 0.19,
    min_interval: float = 0.05,
    offset: float = 0.0,
) -> Tensor:
    r"""Onset times from an onset-strength curve by peak picking with adaptive thresholds.

    Parameters
    ----------
    activation : Tensor, shape (frames,)
        Non-negative onset strength (e.g. one instrument of
        :meth:`DrumModel.source_activations`).
    frame_rate : float
        Frames per second.
    threshold : float, default 0.1
        Fraction of the largest value a peak must reach (0.1: 20 dB under the loudest hit
        of the instrument, in magnitude units).
    retrigger : float, default 0.45
        Fraction of the largest value within the previous ``retrigger_window`` seconds
        (before ``min_interval``) a peak must reach; 0 turns the rule off.
    retrigger_window : float, default 0.19
        Seconds looked back by the ``retrigger`` rule (about one template length).
    min_interval : float, default 0.05
        A peak is the largest value within this many seconds on either side; two onsets
        are at least this far apart.
    offset : float, default 0.0
        Time in seconds of frame 0.

    Returns
    -------
    Tensor, shape (n_onsets,)
        Onset times in seconds (float64), increasing.

    Examples
    --------
    >>> import torch
    >>> curve = torch.zeros(100)
    >>> curve[[10, 40, 70]] = torch.tensor([1.0, 0.5, 0.02])
    >>> curve[55] = 0.1   # a re-trigger 15 frames after the hit at 40
    >>> pick_onsets(curve, frame_rate=100.0)
    tensor([0.1000, 0.4000], dtype=torch.float64)
    """
    if not isinstance(activation, Tensor) or activation.ndim != 1:
        raise ValueError("activation must be a 1-D tensor (frames,).")
    if not torch.isfinite(activation).all() or (activation < 0).any():
        raise ValueError("activation must be finite and non-negative.")
    if isinstance(frame_rate, bool) or not isinstance(frame_rate, numbers.Real) or frame_rate <= 0:
        raise ValueError(f"frame_rate must be a positive number of frames per second, got {frame_rate!r}.")
    threshold = _fraction(threshold, "threshold")
    retrigger = _fraction(retrigger, "retrigger")
    retrigger_window = _seconds(retrigger_window, "retrigger_window")
    min_interval = _seconds(min_interval, "min_interval")
    curve = activation.detach().to("cpu", torch.float64)
    empty = torch.zeros(0, dtype=torch.float64)
    if curve.numel() == 0 or float(curve.max()) <= 0:
        return empty
    curve = curve / curve.max()
    wait = max(1, round(min_interval * frame_rate))
    back = max(wait + 1, round(retrigger_window * frame_rate))
    # local maxima over ±wait frames (the first of equal neighbours)
    local_max = torch.nn.functional.max_pool1d(curve.view(1, 1, -1), 2 * wait + 1, stride=1,
                                               padding=wait).view(-1)
    candidates = torch.nonzero((curve >= local_max) & (curve >= threshold) & (curve > 0)).view(-1)
    peaks = []
    for j in candidates.tolist():
        earlier = curve[max(0, j - back):max(0, j - wait)]
        if retrigger and earlier.numel() and curve[j] < retrigger * float(earlier.max()):
            continue
        if peaks and j - peaks[-1] <= wait:
            continue
        peaks.append(j)
    if not peaks:
        return empty
    return torch.tensor(peaks, dtype=torch.float64) / frame_rate + offset


#: Peak-picking thresholds of :func:`drum_onsets` with the generic templates, by instrument
#: (fraction of the instrument's largest activation). The snare's and the kick's are high: in
#: songs what leaks through the drum extraction (bass notes, strummed chords) fires their
#: templates softly, and the snare templates also answer toms and ghost notes; the hi-hat's
#: is low: hi-hats are played with strong accents. Chosen on the real-music dev songs as one
#: setting for all (onset F against 0.1 for every instrument, with 8 templates per
#: instrument: 0.51 -> 0.61 in mixtures, 0.76 -> 0.85 on drum recordings;
#: recipes/drum_onsets/README.md).
ONSET_THRESHOLDS = {"kick": 0.3, "snare": 0.3, "hihat": 0.05}

#: Peak-picking threshold of :func:`drum_onsets` for every instrument with the kit's own hits
#: or templates: they fit the kit closely and leave no stray activations to skip (-20 dB;
#: on the synthetic dev split onset F 0.959 against 0.887 with :data:`ONSET_THRESHOLDS`).
KIT_THRESHOLD = 0.1

#: Fit settings of :func:`drum_onsets` (see :func:`~nmfsep.apps.recipes.drums.separate_drums`):
#: one round of template adaptation and shorter fits than separation needs. On the
#: real-music dev songs they give the same onset F as the separation defaults (0.827 vs 0.821
#: on drum recordings, 0.574 vs 0.569 in mixtures, 8 templates per instrument) in 80 instead
#: of 290 iterations.
ONSET_FIT = {"n_iter": 30, "n_rounds": 1, "n_adapt": 20, "n_refit": 30}

#: Rate in Hz at which :func:`drum_onsets` analyses (higher rates are resampled to it): the
#: generic templates' rate; what a drum hit's onset looks like lies below 11 kHz.
ANALYSIS_RATE = 22050


def _resampled_hits(hits, sample_rate: int, rate: int):
    """Waveform hits (in a mapping) resampled to the analysis rate; paths are left to load."""
    if rate == sample_rate or not isinstance(hits, Mapping):
        return hits
    from nmfsep.pipeline._backend import require_torchaudio  # noqa: PLC0415

    resample = require_torchaudio().functional.resample

    def one(item):
        if isinstance(item, Tensor) or hasattr(item, "__array__"):
            return resample(torch.as_tensor(item).float(), sample_rate, rate)
        return item

    return {source: [one(i) for i in (items if isinstance(items, (list, tuple)) else [items])]
            for source, items in hits.items()}


#: Templates of the accompaniment that :func:`drum_onsets` adds to the drum model of a song
#: (partially-fixed NMF, Wu & Lerch 2015): what the drum extraction leaves of bass notes,
#: chords and voices gets a source of its own instead of firing drum templates. On the
#: real-music dev songs 2 / 4 / 8 of them give mean onset F 0.634 / 0.648 / 0.642 in mixtures
#: (0.628 without).
ACCOMPANIMENT_COMPONENTS = 4

#: The name of that source (never reported).
ACCOMPANIMENT = "accompaniment"


def _with_accompaniment(templates, rest: Tensor, rate: int):
    """``templates`` (a :class:`Templates`) plus :data:`ACCOMPANIMENT_COMPONENTS`
    stationary NMFD templates of the accompaniment: KL-NMF spectra of ``rest`` (the song
    without its drums, at ``rate``) in the templates' STFT, repeated over their frames."""
    from nmfsep.nmf import NMF  # noqa: PLC0415
    from nmfsep.separation import Templates  # noqa: PLC0415

    W, n_fft, hop_length, window = _templates_at_rate(templates, rate, None, None)
    spectrogram = stft(rest, n_fft=n_fft, hop_length=hop_length, window=window).abs()
    if float(spectrogram.sum()) <= 0:  # nothing besides the drums
        return templates
    model = NMF((spectrogram.shape[1], spectrogram.shape[0]), ACCOMPANIMENT_COMPONENTS, seed=0)
    model.fit(spectrogram.t().contiguous(), beta=1, max_iter=50)
    spectra = model.W.detach().clamp_min(0)
    spectra = spectra / spectra.sum(0).clamp_min(torch.finfo(spectra.dtype).tiny)
    T = W.shape[2]
    extra = (spectra[:, :, None] / T).expand(-1, -1, T).to(W.dtype)
    return Templates(torch.cat([W, extra], 1), tuple(templates.sources) + (ACCOMPANIMENT,),
                     tuple(templates.components) + (len(templates.sources),) * extra.shape[1],
                     rate, "stft", dict(n_fft=n_fft, hop_length=hop_length, window=window))


def drum_onsets(
    mixture,
    sample_rate: int,
    *,
    hits=None,
    templates=None,
    accompaniment: bool = True,
    threshold=None,
    retrigger: float = 0.45,
    min_interval: float = 0.05,
    return_stems: bool = False,
    **separate_options,
):
    r"""Onset times of each drum instrument in a recording, from NMFD activations.

    1. With ``accompaniment=True`` (a song: drums with bass, guitars, voice, ...) the drums
       are first taken out of the mixture by :func:`~nmfsep.recipes.hpss_cascade`: what
       stays behind (sustained notes, strummed chords, sung vowels) can no longer fire the
       drum templates, and :data:`ACCOMPANIMENT_COMPONENTS` spectra of that rest join the
       drum model as a source of their own, to explain what leaks through. A drum-only
       recording (``accompaniment=False``) goes on as it is.
    2. Channels are summed and audio above :data:`ANALYSIS_RATE` is resampled to it.
    3. The model of :func:`~nmfsep.apps.recipes.drums.separate_drums` is fitted (the kit's
       ``hits``, ``templates``, or else the generic templates of a whole kit,
       ``generic_templates(full_kit=True)``: toms and cymbals get templates of their own,
       so that they are not reported as snare or hi-hat) and each instrument's onsets are
       picked from its activations (module docstring, :func:`pick_onsets`).

    Parameters
    ----------
    mixture : Tensor or ndarray, shape (channels, samples) or (samples,)
        The recording.
    sample_rate : int
        Sampling rate in Hz.
    hits, templates
        As in :func:`~nmfsep.apps.recipes.drums.separate_drums`.
    accompaniment : bool, default True
        Whether the recording holds other instruments than drums.
    threshold : float or mapping of str to float, optional
        Peak threshold (see :func:`pick_onsets`), one for all instruments or one per
        instrument; default :data:`KIT_THRESHOLD` (0.1) with ``hits`` or ``templates``,
        :data:`ONSET_THRESHOLDS` with the generic templates (0.1 for instruments it does not
        name, ``tom`` and ``cymbal``).
    retrigger, min_interval : float
        Peak picking (see :func:`pick_onsets`); the retrigger window is the template length.
    return_stems : bool, default False
        Also return the separated drum stems of the fit (at the analysis rate, summed
        channels).
    **separate_options
        Passed to :func:`~nmfsep.apps.recipes.drums.separate_drums` (``n_fft``, ``T``,
        ``n_rounds``, ...); they override :data:`ONSET_FIT`.

    Returns
    -------
    dict of str to Tensor
        ``{instrument: onset times in seconds, (n_onsets,) float64}`` for every source of the
        model (with the generic templates ``kick``, ``snare``, ``hihat``, ``tom``,
        ``cymbal``); with ``return_stems=True``, ``(onsets, stems)``.

    Examples
    --------
    >>> import torch
    >>> sr = 8000
    >>> g = torch.Generator().manual_seed(0)
    >>> t = torch.arange(1600) / sr
    >>> kick = torch.sin(2 * torch.pi * 60 * t) * torch.exp(-25 * t)
    >>> hat = torch.randn(1600, generator=g) * torch.exp(-80 * t) * 0.3
    >>> mixture = torch.zeros(2 * sr)
    >>> for start in (800, 4800, 8800, 12800):
    ...     mixture[start:start + 1600] += kick
    >>> mixture[2800:4400] += hat
    >>> onsets = drum_onsets(mixture, sr, hits={"kick": [kick], "hihat": [hat]}, n_fft=256,
    ...                      T=8, n_rounds=1, accompaniment=False)
    >>> onsets["kick"].round(decimals=2)
    tensor([0.1000, 0.6000, 1.1000, 1.6000], dtype=torch.float64)
    >>> onsets["hihat"].round(decimals=2)
    tensor([0.3500], dtype=torch.float64)
    """
    from nmfsep.io import check_audio  # noqa: PLC0415

    if not isinstance(accompaniment, bool):
        raise TypeError(f"accompaniment must be True (a song) or False (drums alone), got "
                        f"{accompaniment!r}.")
    sample_rate = _check_rate(sample_rate)
    if threshold is None and (hits is not None or templates is not None):
        threshold = KIT_THRESHOLD
    if threshold is None or isinstance(threshold, dict):
        thresholds, default = dict(ONSET_THRESHOLDS), 0.1
        thresholds.update({str(k): _fraction(v, f"threshold[{k!r}]")
                           for k, v in (threshold or {}).items()})
    else:  # one threshold for every instrument
        thresholds, default = {}, _fraction(threshold, "threshold")
    waveform = check_audio(mixture if isinstance(mixture, Tensor) else torch.as_tensor(mixture),
                           name="mixture")
    if waveform.ndim > 2:
        raise ValueError(f"mixture must have shape (samples,) or (channels, samples), got "
                         f"{tuple(waveform.shape)}.")
    signal = waveform.reshape(-1, waveform.shape[-1]).float().sum(0)
    rest = None
    if accompaniment:
        from .harmonic import hpss_cascade  # noqa: PLC0415

        drums = hpss_cascade(signal, sample_rate)
        signal, rest = drums, signal - drums
    rate = sample_rate
    if rate > ANALYSIS_RATE:
        from nmfsep.pipeline._backend import require_torchaudio  # noqa: PLC0415

        resample = require_torchaudio().functional.resample
        signal = resample(signal, rate, ANALYSIS_RATE)
        rest = None if rest is None else resample(rest, rate, ANALYSIS_RATE)
        hits = _resampled_hits(hits, rate, ANALYSIS_RATE)
        rate = ANALYSIS_RATE
    options = {**ONSET_FIT, **separate_options}
    templates = _drum_templates(hits, templates, rate, n_fft=options.get("n_fft"),
                                hop_length=options.get("hop_length"), T=options.get("T", 16),
                                full_kit=True)
    if rest is not None:
        templates = _with_accompaniment(templates, rest, rate)
    stems, model = separate_drums(signal, rate, templates=templates, return_model=True,
                                  **options)
    stems.pop(ACCOMPANIMENT, None)
    strength = model.source_activations().sum(1)          # (sources, frames)
    frame_rate = model.sample_rate / model.hop_length
    window = model.templates.shape[2] * model.hop_length / model.sample_rate
    onsets = {source: pick_onsets(strength[s], frame_rate,
                                  threshold=thresholds.get(source, default),
                                  retrigger=retrigger, retrigger_window=window,
                                  min_interval=min_interval, offset=model.onset_delay)
              for s, source in enumerate(model.sources) if source != ACCOMPANIMENT}
    return (onsets, stems) if return_stems else onsets


def onset_f_measure(reference, estimate, window: float = 0.05) -> Dict[str, float]:
    r"""Precision, recall and F-measure of onset times within ``± window`` seconds.

    Each reference onset matches at most one estimate (greedy on the closest pairs, which
    is optimal for increasing sequences when ``window`` is shorter than half the smallest
    gap), as in MIREX onset evaluation.

    Parameters
    ----------
    reference, estimate : sequence of float or Tensor
        Onset times in seconds.
    window : float, default 0.05
        Tolerance in seconds.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f_measure`` (1.0 when both are empty), and the counts
        ``matched``, ``n_reference``, ``n_estimate``.

    Examples
    --------
    >>> onset_f_measure([0.1, 0.5, 1.0], [0.11, 0.52, 0.7])["f_measure"]
    0.6666666666666666
    """
    window = _seconds(window, "window")
    ref = sorted(float(t) for t in torch.as_tensor(reference, dtype=torch.float64).reshape(-1))
    est = sorted(float(t) for t in torch.as_tensor(estimate, dtype=torch.float64).reshape(-1))
    pairs = sorted((abs(r - e), i, j) for i, r in enumerate(ref) for j, e in enumerate(est)
                   if abs(r - e) <= window)
    used_ref, used_est = set(), set()
    for _, i, j in pairs:
        if i not in used_ref and j not in used_est:
            used_ref.add(i)
            used_est.add(j)
    matched = len(used_ref)
    if not ref and not est:
        precision = recall = f_measure = 1.0
    else:
        precision = matched / len(est) if est else 0.0
        recall = matched / len(ref) if ref else 0.0
        f_measure = 2 * precision * recall / (precision + recall) if matched else 0.0
    return dict(precision=precision, recall=recall, f_measure=f_measure, matched=matched,
                n_reference=len(ref), n_estimate=len(est))
