r"""Transcription from factorisations: drum onsets from NMFD activations.

Drum onsets
-----------
:func:`drum_onsets` fits the drum model of :func:`~nmfsep.recipes.separate_drums`
and reads each instrument's onsets off its activations
(:meth:`~nmfsep.recipes.DrumModel.source_activations`: activations weighted by
each template's attack level, summed over the instrument's templates, in magnitude units)
with :func:`pick_onsets`:

* a peak is a frame that is the largest within ``± min_interval``;
* it must reach ``threshold`` times the instrument's largest activation (a floor relative to
  the loudest hit; :func:`drum_onsets` uses :data:`ONSET_THRESHOLDS` per instrument);
* and ``retrigger`` times the largest activation of the previous ``retrigger_window``
  seconds (an adaptive threshold: a hit that rings longer than its template makes the model
  start the template again where it ends, a small peak that this rule drops).

Then two rules on the hi-hat (:func:`struck_hihat`), for what generic templates mistake for
one:

* a hi-hat onset must be a stroke on the cymbals: the model's hi-hat and cymbal parts must
  rise there, their lowest magnitude in the :data:`RISE_WINDOW` before the onset at most
  :data:`HIHAT_RISE` of their peak at it. A closed hi-hat has died away between strokes; a
  ride cymbal rings on (its wash, played every eighth note, never falls by half), and peaks
  in a steady level are no strokes;
* with the generic templates, the hi-hat is its own instrument: some of its strokes fall
  between the kick's and the snare's. When under :data:`HIHAT_ALONE` of its onsets lie
  farther than ``min_interval`` from every kick and snare onset, what the hi-hat templates
  picked up is the bright part of those drums (beater clicks, snare wires) that the generic
  templates leave unexplained, and no hi-hat is reported. (A hi-hat played on the beat
  only, always with the kick or the snare, is then missed; with the kit's hits the rule is
  off.)
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Dict

import torch
from torch import Tensor

from nmfsep._core._validation import check_real
from nmfsep.functional import stft
from nmfsep.io import check_sample_rate
from nmfsep.nmf import NMFD

from ..._errors import ParameterError, ParameterTypeError
from . import register_recipe, settings_of
from ._kit import (
    DRUM_SOURCES,  # noqa: F401 - for users
    drum_templates,
    templates_at_rate,
)
from ._shared import excerpts
from .drums import GENERIC_CHUNK_FIT, separate_drums

__all__ = ["pick_onsets", "struck_hihat", "drum_onsets", "onset_f_measure", "ONSET_THRESHOLDS",
           "SONG_THRESHOLDS", "KIT_THRESHOLD", "ONSET_FIT", "ANALYSIS_RATE",
           "ACCOMPANIMENT_COMPONENTS", "HIHAT_RISE", "HIHAT_ALONE", "RISE_WINDOW"]


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
        raise ParameterError("activation must be a 1-D tensor (frames,).")
    if not torch.isfinite(activation).all() or (activation < 0).any():
        raise ParameterError("activation must be finite and non-negative.")
    if isinstance(frame_rate, bool) or not isinstance(frame_rate, numbers.Real) or frame_rate <= 0:
        raise ParameterError(f"frame_rate must be a positive number of frames per second, got {frame_rate!r}.")
    threshold = check_real(threshold, "threshold", low=0, high=1)
    retrigger = check_real(retrigger, "retrigger", low=0, high=1)
    retrigger_window = check_real(retrigger_window, "retrigger_window", low=0, unit="seconds")
    min_interval = check_real(min_interval, "min_interval", low=0, unit="seconds")
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
#: recipes/drum-onsets/README.md). In songs :data:`SONG_THRESHOLDS` lowers the snare's.
ONSET_THRESHOLDS = {"kick": 0.3, "snare": 0.3, "hihat": 0.05}

#: Peak-picking thresholds of :func:`drum_onsets` with the generic templates in a song
#: (``accompaniment=True``): :data:`ONSET_THRESHOLDS` with a lower snare threshold. The drum
#: extraction leaves an uneven share of every snare hit with the guitars and voices it takes
#: out (between 1 and 4 kHz, where both sound), so the snare's hits spread farther under its
#: loudest one: on the real-music dev songs the mixture's snare activation at the annotated
#: snare onsets is a median 0.06-0.41 of the drum recording's, per song, against 0.67-0.84 for
#: the kick. Snare thresholds 0.15 / 0.2 / 0.25 / 0.3 give mean onset F 0.657 / 0.658 / 0.660
#: / 0.652 in the mixtures (recipes/drum-onsets/README.md); 0.2 lies mid-plateau.
SONG_THRESHOLDS = {**ONSET_THRESHOLDS, "snare": 0.2}

#: Peak-picking threshold of :func:`drum_onsets` for every instrument with the kit's own hits
#: or templates: they fit the kit closely and leave no stray activations to skip (-20 dB;
#: on the synthetic dev split onset F 0.959 against 0.887 with :data:`ONSET_THRESHOLDS`).
KIT_THRESHOLD = 0.1

#: Fit settings of :func:`drum_onsets` (see :func:`~nmfsep.recipes.separate_drums`):
#: one round of template adaptation and shorter fits than separation needs. On the
#: real-music dev songs they give the same onset F as the separation defaults (0.827 vs 0.821
#: on drum recordings, 0.574 vs 0.569 in mixtures, 8 templates per instrument) in 80 instead
#: of 290 iterations. Songs over 45 s are fitted in chunks (``chunk_duration``) with the
#: settings of the drums-generic recipe (``GENERIC_CHUNK_FIT`` of its module:
#: templates adapted on 20 s of excerpts, 20 updates a chunk): with chunks of 10 s on every
#: dev song they give mean onset F 0.656 in mixtures and 0.941 on drum recordings, against
#: 0.653 and 0.936 with 30 s and 30 updates, in two thirds of the work.
ONSET_FIT = {"n_iter": 30, "n_rounds": 1, "n_adapt": 20, "n_refit": 30, **GENERIC_CHUNK_FIT}

#: Rate in Hz at which :func:`drum_onsets` analyses (higher rates are resampled to it): the
#: generic templates' rate; what a drum hit's onset looks like lies below 11 kHz.
ANALYSIS_RATE = 22050


def _resampled_hits(hits, sample_rate: int, rate: int):
    """Waveform hits (in a mapping) resampled to the analysis rate; paths are left to load."""
    if rate == sample_rate or not isinstance(hits, Mapping):
        return hits
    from nmfsep.io import resample  # noqa: PLC0415

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

#: Largest value of the lowest magnitude of the model's hi-hat and cymbal parts in the
#: :data:`RISE_WINDOW` before a hi-hat onset, as a fraction of their peak at the onset
#: (:func:`struck_hihat`): a stroke at least doubles what the cymbals sound (+6 dB). A closed
#: hi-hat has died away by the next stroke; a ride cymbal's wash has not. On the real-music
#: dev songs (drums alone) what the generic hi-hat templates report on Shadows' ride rises by
#: a median 4 dB, their peaks on no stroke at all by 0-5 dB, the real hi-hat strokes by a
#: median 21-39 dB per song; limits from 0.35 to 0.6 give mean onset F 0.939-0.944
#: (recipes/drum-onsets/README.md).
HIHAT_RISE = 0.5

#: Share of the hi-hat's onsets that must lie away from (farther than ``min_interval`` from)
#: every kick and snare onset for any hi-hat to be reported (:func:`struck_hihat`;
#: :func:`drum_onsets` applies it with the generic templates only). Most patterns strike the
#: hi-hat between the other drums too (eighth notes: half of its strokes); on the real-music
#: dev songs (drums alone) 0.31-0.55 of the onsets of the five songs with a hi-hat lie
#: between, 0.02-0.05 of those reported in the two without one (any value from 0.05 to 0.2
#: gives the same onsets there).
HIHAT_ALONE = 0.1

#: Seconds before a hi-hat onset over which :func:`struck_hihat` looks for the cymbals' lowest
#: level (about the time a closed hi-hat takes to die away; the peak is taken over the first
#: half of this after the onset).
RISE_WINDOW = 0.07

#: The sources whose parts :func:`struck_hihat` takes as the cymbals' sound.
_CYMBALS = ("hihat", "cymbal", "ride")


def struck_hihat(model, onsets: Mapping[str, Tensor], *, rise: float = HIHAT_RISE,
                 alone: float = HIHAT_ALONE, min_interval: float = 0.05) -> Tensor:
    r"""The hi-hat onsets of ``onsets`` that are strokes of a hi-hat (module docstring).

    Parameters
    ----------
    model : DrumModel
        The fitted model the onsets were picked from (:func:`separate_drums` with
        ``return_model=True``); its ``"hihat"`` source, and ``"cymbal"`` / ``"ride"`` if it
        has them, make the cymbals' part.
    onsets : mapping of str to Tensor
        Onset times in seconds by instrument, ``"hihat"`` among them; ``"kick"`` and
        ``"snare"`` are the other drums.
    rise : float, default :data:`HIHAT_RISE`
        Largest allowed lowest magnitude (summed over frequency, in magnitude units) of the
        cymbals' part over the :data:`RISE_WINDOW` before an onset, as a fraction of its peak
        over the next half of that; 1 keeps every onset.
    alone : float, default :data:`HIHAT_ALONE`
        Share of the kept onsets that must lie farther than ``min_interval`` from every kick
        and snare onset; under it none is kept. 0 turns the rule off.
    min_interval : float, default 0.05
        Seconds.

    Returns
    -------
    Tensor, shape (n_onsets,)
        The kept hi-hat onset times in seconds (float64).

    Examples
    --------
    >>> import torch
    >>> from nmfsep.recipes import DrumModel
    >>> W = torch.zeros(1, 2, 2)
    >>> W[0, :, 0] = 1.0                       # hi-hat and kick: one frame each
    >>> H = torch.zeros(1, 2, 20)
    >>> H[0, 0, 6:14] = 0.8                    # a ring that does not stop before frame 14
    >>> H[0, 0, [2, 8, 14]] = 1.0              # hi-hat strokes at frames 2, 8 and 14
    >>> H[0, 1, [2, 8]] = 1.0                  # kicks with the first two
    >>> # 100 frames per second, the onset of frame j at j / 100 s (n_fft 2, hop 1)
    >>> model = DrumModel(("hihat", "kick"), torch.tensor([0, 1]), W, H, 100, 2, 1, 1.0)
    >>> onsets = {"hihat": torch.tensor([0.02, 0.08, 0.14], dtype=torch.float64),
    ...           "kick": torch.tensor([0.02, 0.08], dtype=torch.float64)}
    >>> struck_hihat(model, onsets, alone=0)   # the onset on the ringing cymbal goes
    tensor([0.0200, 0.0800], dtype=torch.float64)
    >>> struck_hihat(model, onsets)            # and the others all coincide with kicks
    tensor([], dtype=torch.float64)
    """
    rise = check_real(rise, "rise", low=0, high=1)
    alone = check_real(alone, "alone", low=0, high=1)
    min_interval = check_real(min_interval, "min_interval", low=0, unit="seconds")
    if not isinstance(onsets, Mapping) or "hihat" not in onsets:
        raise ParameterError("onsets must be a mapping {instrument: onset times} with a 'hihat' "
                         "entry (as drum_onsets picks them).")
    if "hihat" not in model.sources:
        raise ParameterError(f"the model has no 'hihat' source (its sources: {model.sources}); "
                         f"pass the model the onsets were picked from.")
    times = torch.as_tensor(onsets["hihat"], dtype=torch.float64).reshape(-1)
    if times.numel() == 0:
        return times
    if rise < 1:
        cymbals = [s for s, name in enumerate(model.sources) if name in _CYMBALS]
        mine = torch.isin(model.components, torch.tensor(cymbals))
        # the cymbals' part summed over frequency: the activations convolved with the
        # templates' frame sums, (frames,)
        W = model.templates[:, mine].sum(0, keepdim=True)
        level = NMFD.reconstruct(model.activations[:, mine], W).sum((0, 1))
        level = level.double().clamp_min(0) ** (1.0 / model.spectrogram_power)
        frame_rate = model.sample_rate / model.hop_length
        back = max(1, round(RISE_WINDOW * frame_rate))
        ahead = max(1, (back + 1) // 2 + 1)
        frames = ((times - model.onset_delay) * frame_rate).round().long()
        frames = frames.clamp(0, level.numel() - 1).tolist()
        # nothing before the first frame: silence
        before = torch.stack([level[max(0, j - back):j].min() if j > 0 else level.new_zeros(())
                              for j in frames])
        peak = torch.stack([level[j:j + ahead].max() for j in frames])
        times = times[before <= rise * peak]
    others = [torch.as_tensor(onsets[name], dtype=torch.float64).reshape(-1)
              for name in ("kick", "snare") if name in onsets]
    others = torch.cat(others) if others else times.new_zeros(0)
    if alone > 0 and times.numel() and others.numel():
        between = (times[:, None] - others[None, :]).abs().amin(1) > min_interval
        if float(between.double().mean()) < alone:
            return times.new_zeros(0)
    return times


def _with_accompaniment(templates, rest: Tensor, rate: int, duration=None):
    """``templates`` (a :class:`Templates`) plus :data:`ACCOMPANIMENT_COMPONENTS`
    stationary NMFD templates of the accompaniment: KL-NMF spectra of ``rest`` (the song
    without its drums, at ``rate``) in the templates' STFT, repeated over their frames.

    With ``duration`` (seconds) the spectra come from excerpts spread over ``rest``, as the
    drum templates' adaptation does (``adapt_duration``): memory does not grow with the song
    (the whole song's fit was the peak of a long transcription)."""
    from nmfsep.nmf import NMF  # noqa: PLC0415
    from nmfsep.separation import Templates  # noqa: PLC0415

    W, n_fft, hop_length, window = templates_at_rate(templates, rate, None, None)
    pieces = excerpts(rest.reshape(1, -1), rate, duration, hop_length)[0]  # (pieces, samples)
    spectrogram = stft(pieces, n_fft=n_fft, hop_length=hop_length, window=window).abs()
    spectrogram = spectrogram.permute(1, 0, 2).reshape(spectrogram.shape[1], -1)  # (bins, frames)
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
    hihat_rise: float = HIHAT_RISE,
    hihat_alone=None,
    return_stems: bool = False,
    **separate_options,
):
    r"""Onset times of each drum instrument in a recording, from NMFD activations.

    1. Channels are summed and audio above :data:`ANALYSIS_RATE` is resampled to it.
    2. With ``accompaniment=True`` (a song: drums with bass, guitars, voice, ...) the drums
       are first taken out of the mixture by :func:`~nmfsep.recipes.hpss_cascade` (at the
       analysis rate: half the work at 44.1 kHz, the same onset F on the real-music dev
       songs): what stays behind (sustained notes, strummed chords, sung vowels) can no
       longer fire the drum templates, and :data:`ACCOMPANIMENT_COMPONENTS` spectra of that
       rest join the drum model as a source of their own, to explain what leaks through. A
       drum-only recording (``accompaniment=False``) goes on as it is.
    3. The model of :func:`~nmfsep.recipes.separate_drums` is fitted (the kit's
       ``hits``, ``templates``, or else the generic templates of a whole kit,
       ``generic_templates(full_kit=True)``: toms and cymbals get templates of their own,
       so that they are not reported as snare or hi-hat) and each instrument's onsets are
       picked from its activations (module docstring, :func:`pick_onsets`).
    4. The hi-hat keeps the onsets where the cymbals are struck, and with the generic
       templates none if it is never struck between the kick's and the snare's onsets
       (:func:`struck_hihat`).

    Parameters
    ----------
    mixture : Tensor or ndarray, shape (channels, samples) or (samples,)
        The recording.
    sample_rate : int
        Sampling rate in Hz.
    hits, templates
        As in :func:`~nmfsep.recipes.separate_drums`.
    accompaniment : bool, default True
        Whether the recording holds other instruments than drums.
    threshold : float or mapping of str to float, optional
        Peak threshold (see :func:`pick_onsets`), one for all instruments or one per
        instrument; default :data:`KIT_THRESHOLD` (0.1) with ``hits`` or ``templates``; with
        the generic templates :data:`SONG_THRESHOLDS` in a song (``accompaniment=True``) and
        :data:`ONSET_THRESHOLDS` on a drum recording (0.1 for instruments they do not name,
        ``tom`` and ``cymbal``); a mapping updates those.
    retrigger, min_interval : float
        Peak picking (see :func:`pick_onsets`); the retrigger window is the template length.
    hihat_rise : float, default :data:`HIHAT_RISE`
        The rise a hi-hat onset needs (``rise`` of :func:`struck_hihat`); 1 keeps every peak.
    hihat_alone : float, optional
        The share of hi-hat onsets between the kick's and the snare's below which no hi-hat is
        reported (``alone`` of :func:`struck_hihat`); default :data:`HIHAT_ALONE` with the
        generic templates, 0 (off) with ``hits`` or ``templates``: the kit's own kick and
        snare templates explain their bright parts, and a hi-hat played on the beat only,
        always with the kick or the snare, keeps its onsets (with the generic templates such
        a hi-hat is not reported).
    return_stems : bool, default False
        Also return the separated drum stems of the fit (at the analysis rate, summed
        channels).
    **separate_options
        Passed to :func:`~nmfsep.recipes.separate_drums` (``n_fft``, ``T``,
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
        raise ParameterTypeError(f"accompaniment must be True (a song) or False (drums alone), got "
                        f"{accompaniment!r}.")
    sample_rate = check_sample_rate(sample_rate)
    hihat_rise = check_real(hihat_rise, "hihat_rise", low=0, high=1)
    kit = hits is not None or templates is not None
    if hihat_alone is None:
        hihat_alone = 0.0 if kit else HIHAT_ALONE
    hihat_alone = check_real(hihat_alone, "hihat_alone", low=0, high=1)
    if threshold is None and kit:
        threshold = KIT_THRESHOLD
    if threshold is None or isinstance(threshold, dict):
        thresholds, default = dict(SONG_THRESHOLDS if accompaniment else ONSET_THRESHOLDS), 0.1
        thresholds.update({str(k): check_real(v, f"threshold[{k!r}]", low=0, high=1)
                           for k, v in (threshold or {}).items()})
    else:  # one threshold for every instrument
        thresholds, default = {}, check_real(threshold, "threshold", low=0, high=1)
    waveform = check_audio(mixture if isinstance(mixture, Tensor) else torch.as_tensor(mixture),
                           name="mixture")
    if waveform.ndim > 2:
        raise ParameterError(f"mixture must have shape (samples,) or (channels, samples), got "
                         f"{tuple(waveform.shape)}.")
    signal = waveform.reshape(-1, waveform.shape[-1]).float().sum(0)
    rate = sample_rate
    if rate > ANALYSIS_RATE:
        from nmfsep.io import resample  # noqa: PLC0415

        signal = resample(signal, rate, ANALYSIS_RATE)  # in blocks: torchaudio's takes 6x
        hits = _resampled_hits(hits, rate, ANALYSIS_RATE)
        rate = ANALYSIS_RATE
    rest = None
    if accompaniment:
        from .harmonic import hpss_cascade  # noqa: PLC0415

        drums = hpss_cascade(signal, rate)
        signal, rest = drums, signal - drums
    options = {**ONSET_FIT, **separate_options}
    templates = drum_templates(hits, templates, rate, n_fft=options.get("n_fft"),
                               hop_length=options.get("hop_length"), T=options.get("T", 16),
                               full_kit=True)
    if rest is not None:
        templates = _with_accompaniment(templates, rest, rate, options.get("adapt_duration"))
    # no stems unless asked for: their masks and inverse STFTs would be a fifth of the work
    stems, model = separate_drums(signal, rate, templates=templates, return_model=True,
                                  stems=return_stems, **options)
    if return_stems:
        stems.pop(ACCOMPANIMENT, None)
    strength = model.source_activations().sum(1)          # (sources, frames)
    frame_rate = model.sample_rate / model.hop_length
    window = model.templates.shape[2] * model.hop_length / model.sample_rate
    onsets = {source: pick_onsets(strength[s], frame_rate,
                                  threshold=thresholds.get(source, default),
                                  retrigger=retrigger, retrigger_window=window,
                                  min_interval=min_interval, offset=model.onset_delay)
              for s, source in enumerate(model.sources) if source != ACCOMPANIMENT}
    if "hihat" in onsets:
        onsets["hihat"] = struck_hihat(model, onsets, rise=hihat_rise, alone=hihat_alone,
                                       min_interval=min_interval)
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
    window = check_real(window, "window", low=0, unit="seconds")
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


# --------------------------------------------------------------------------- recipe
def _drum_onsets_recipe(mixture, sample_rate, *, templates=None, hits=None, seed=None,
                        device=None, verbose=False, **settings):
    # deterministic, as the drum recipes: no seed is used
    return drum_onsets(mixture, sample_rate, hits=hits, templates=templates, device=device,
                       verbose=verbose, **settings)


register_recipe(
    "drum-onsets", _drum_onsets_recipe, sources=None, uses_hits=True, uses_templates=True,
    output="onsets",
    fallback="the generic templates of a whole kit (kick, snare, hi-hat, tom, cymbal)",
    description="the onsets of each drum in a song, or with accompaniment=False in a drum "
                "recording ('nmfsep transcribe', which writes them as JSON, CSV and MIDI)",
    # the fit of ONSET_FIT: shorter than separation needs, the same onsets
    settings=settings_of(drum_onsets, separate_drums, **ONSET_FIT),
)
