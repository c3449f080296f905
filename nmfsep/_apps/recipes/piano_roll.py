"""Recipe 5b: a pitch-activation map (piano roll) from a shift-invariant model of the CQT.

On a constant-Q axis a change of pitch is a shift of the spectrum: with ``bins_per_octave``
bins per octave, partial ``h`` of a note lies ``bins_per_octave * log2(h)`` bins above its
fundamental whatever the note. :func:`piano_roll` therefore factorises the CQT magnitude with
SI-PLCA2 (or NMF2D): a few templates spanning ``n_harmonics`` partials are convolved along the
frequency axis, and the activation of a template at shift ``s`` says how loud a note whose
fundamental lies in bin ``s`` is, frame by frame.

Templates start as harmonic combs (partial ``h`` with weight ``h ** -(0.5 + r)`` in template
``r``, one bin either side for inharmonicity and mistuning) and are zero everywhere else.
Multiplicative updates and EM keep zeros at zero, so the fit adapts the partials' balance to
the instruments while every template stays harmonic with its fundamental at bin 0: the shift
of an activation *is* the fundamental's bin, and pooling the ``bins_per_octave / 12`` bins of
each semitone gives the roll. This is the harmonicity constraint of Vincent, Bertin & Badeau
(2010) applied to the shift-invariant models of Schmidt & Mørup (2006) and Smaragdis, Raj &
Shashanka (2008).

:func:`notes_to_roll`, :func:`binarize_roll` and :func:`frame_scores` turn note lists into
reference rolls and score an estimate frame by frame (the multi-pitch metric of MIREX and
``mir_eval.multipitch``, on a semitone grid).
"""

from __future__ import annotations

import math
import numbers
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from nmfsep._core._validation import check_count, check_real
from nmfsep.io import check_audio, check_sample_rate
from nmfsep.nmf import NMF2D
from nmfsep.separation import Separator, SourceModel, SourceParts
from nmfsep.transforms import CQT

from ..._errors import ParameterError
from . import register_recipe, settings_of

__all__ = ["piano_roll", "PitchActivations", "harmonic_templates", "notes_to_roll", "binarize_roll", "frame_scores",
           "midi_to_hz", "ROLL_MODELS"]

#: Shift-invariant models :func:`piano_roll` can use.
ROLL_MODELS = ("nmf2d", "siplca2")


def midi_to_hz(pitch: Union[float, Tensor]) -> Union[float, Tensor]:
    """Frequency in Hz of a MIDI pitch (A4 = 69 = 440 Hz), equal temperament.

    Examples
    --------
    >>> midi_to_hz(69), round(midi_to_hz(21), 3)
    (440.0, 27.5)
    """
    return 440.0 * 2.0 ** ((pitch - 69) / 12)


def harmonic_templates(n_components: int, bins_per_octave: int, n_harmonics: int, *,
                       spread: int = 1, dtype: torch.dtype = torch.float32) -> Tensor:
    r"""Harmonic-comb templates on a log-frequency axis, fundamental at bin 0.

    Partial ``h`` (1 to ``n_harmonics``) sits at bin ``round(bins_per_octave * log2(h))``,
    with ``spread`` bins either side; everything else is zero. Component ``r`` weights the
    partials by ``h ** -(0.5 + r)`` (a spread of spectral slopes for several timbres).

    Parameters
    ----------
    n_components : int
        Number of templates R.
    bins_per_octave : int
        Bins per octave of the CQT.
    n_harmonics : int
        Number of partials.
    spread : int, default 1
        Bins either side of each partial that may hold energy.
    dtype : torch.dtype, default torch.float32

    Returns
    -------
    Tensor, shape (1, R, K, 1)
        NMF2D templates (``C = 1`` channel, ``K = round(bins_per_octave * log2(n_harmonics))
        + spread + 1`` bins, one frame), each of unit sum.

    Examples
    --------
    >>> W = harmonic_templates(1, 12, 4, spread=0)
    >>> W.shape, torch.nonzero(W[0, 0, :, 0]).flatten().tolist()
    (torch.Size([1, 1, 25, 1]), [0, 12, 19, 24])
    """
    n_components = check_count(n_components, "n_components")
    bins_per_octave = check_count(bins_per_octave, "bins_per_octave")
    n_harmonics = check_count(n_harmonics, "n_harmonics")
    spread = check_count(spread, "spread", minimum=0)
    offsets = [round(bins_per_octave * math.log2(h)) for h in range(1, n_harmonics + 1)]
    K = offsets[-1] + spread + 1
    W = torch.zeros(1, n_components, K, 1, dtype=torch.float64)
    for r in range(n_components):
        for h, centre in enumerate(offsets, start=1):
            low, high = max(0, centre - spread), centre + spread + 1
            # the partial's weight, largest at its centre bin
            W[0, r, low:high, 0] = torch.maximum(
                W[0, r, low:high, 0], torch.full((high - low,), h ** -(0.5 + r), dtype=W.dtype)
                * torch.tensor([0.5 if b != centre else 1.0 for b in range(low, high)],
                               dtype=W.dtype))
    W /= W.sum(2, keepdim=True)
    return W.to(dtype)


def _cqt_layout(sample_rate: int, lowest_pitch: int, n_pitches: int, bins_per_octave: int,
                n_harmonics: int, spread: int) -> Tuple[float, int, int, int]:
    """``(fmin, n_bins, bins_per_semitone, K)``: the ``b`` bins of semitone ``k`` are
    ``b * k`` to ``b * k + b - 1``, placed symmetrically around the semitone's centre."""
    if bins_per_octave % 12:
        raise ParameterError(f"bins_per_octave must be a multiple of 12 (whole bins per semitone), "
                         f"got {bins_per_octave}.")
    per_semitone = bins_per_octave // 12
    K = round(bins_per_octave * math.log2(n_harmonics)) + spread + 1
    fmin = midi_to_hz(lowest_pitch) * 2.0 ** (-(per_semitone - 1) / 2 / bins_per_octave)
    n_bins = per_semitone * n_pitches + K - 1
    top = fmin * 2.0 ** ((n_bins - 1) / bins_per_octave)
    if top >= sample_rate / 2:
        highest = lowest_pitch + n_pitches - 1
        raise ParameterError(
            f"the templates of the highest pitch ({highest}) reach {top:.0f} Hz with "
            f"n_harmonics={n_harmonics}, above the Nyquist frequency {sample_rate / 2:.0f} Hz; "
            f"lower n_pitches or n_harmonics, or use a higher sample rate."
        )
    return fmin, n_bins, per_semitone, K


def piano_roll(
    mixture: Tensor,
    sample_rate: int,
    *,
    lowest_pitch: int = 24,
    n_pitches: int = 67,
    bins_per_octave: int = 24,
    n_harmonics: int = 6,
    n_components: int = 2,
    model: str = "siplca2",
    frame_rate: float = 100.0,
    learn_templates: bool = True,
    max_iter: int = 30,
    seed: Optional[int] = 0,
    verbose: bool = False,
) -> Tuple[Tensor, Tensor]:
    r"""Pitch activations of a mixture: a piano roll from NMF2D / SI-PLCA2 on the CQT.

    Parameters
    ----------
    mixture : Tensor, shape (channels, samples) or (samples,)
        The audio at ``sample_rate`` (channels are averaged).
    sample_rate : int
        Sampling rate in Hz.
    lowest_pitch : int, default 24 (C1)
        MIDI pitch of the roll's first row.
    n_pitches : int, default 67 (C1 to F#6)
        Rows of the roll, one per semitone. The highest note's ``n_harmonics`` partials must
        stay under the Nyquist frequency (a ValueError says so otherwise).
    bins_per_octave : int, default 24
        CQT resolution, a multiple of 12; two bins per semitone absorb mistuning and
        inharmonicity (36 is slower and scored lower on the benchmark).
    n_harmonics : int, default 6
        Partials per template.
    n_components : int, default 2
        Templates (timbres) shared by all pitches.
    model : {"siplca2", "nmf2d"}, default "siplca2"
        SI-PLCA2 (EM) or NMF2D with the KL divergence (the same model up to scaling; EM is
        several times faster here and scored slightly higher on the benchmark).
    frame_rate : float, default 100.0
        Frames per second of the roll: CQT frames are summed in groups of
        ``round(cqt_frame_rate / frame_rate)`` (the CQT hop is the largest invertible one).
    learn_templates : bool, default True
        Adapt the partials' weights to the audio (the combs' zeros stay zero). False keeps
        the initial ``1 / h`` combs.
    max_iter : int, default 30
        Iterations of the fit.
    seed : int, optional
        Seed of the activations' random start.
    verbose : bool, default False
        Progress bar of the fit.

    Returns
    -------
    roll : Tensor, shape (n_pitches, frames)
        Non-negative activation of each semitone in each frame (CQT magnitude units), row
        ``k`` for MIDI pitch ``lowest_pitch + k``.
    times : Tensor, shape (frames,)
        Centre of each frame in seconds (float64).

    Raises
    ------
    ValueError
        On bad settings, a pitch range beyond the Nyquist frequency, or a silent, empty or
        non-finite mixture.

    See Also
    --------
    binarize_roll, notes_to_roll, frame_scores : evaluate the roll against known notes.

    Examples
    --------
    >>> import torch
    >>> sr = 16000
    >>> t = torch.arange(sr) / sr
    >>> a4 = sum(torch.sin(2 * torch.pi * 440 * h * t) / h for h in range(1, 6))
    >>> roll, times = piano_roll(a4, sr, lowest_pitch=48, n_pitches=36, max_iter=30)
    >>> int(roll.sum(1).argmax()) + 48
    69
    """
    waveform = check_audio(torch.as_tensor(mixture), name="mixture")
    if waveform.ndim > 2:
        raise ParameterError(f"mixture must have shape (samples,) or (channels, samples), got "
                         f"{tuple(waveform.shape)}.")
    waveform = waveform.reshape(-1, waveform.shape[-1]).mean(0)
    if waveform.dtype not in (torch.float32, torch.float64):
        waveform = waveform.float()
    pitches = PitchActivations(
        sample_rate, lowest_pitch=lowest_pitch, n_pitches=n_pitches,
        bins_per_octave=bins_per_octave, n_harmonics=n_harmonics, n_components=n_components,
        model=model, frame_rate=frame_rate, learn_templates=learn_templates, max_iter=max_iter,
        seed=seed, verbose=verbose)
    # the CQT's model in one piece, no masks: the roll is what it gives
    Separator(front_end=pitches.front_end, model=pitches, chunk_duration=None,
              device="cpu").fit(waveform, pitches.sample_rate)
    return pitches.roll_, pitches.times_


class PitchActivations(SourceModel):
    r"""The piano-roll recipe's model: NMF2D / SI-PLCA2 with harmonic templates on a CQT.

    A :class:`~nmfsep.separation.SourceModel` for
    :meth:`~nmfsep.separation.Separator.fit` (what :func:`piano_roll` runs:
    ``Separator(front_end=model.front_end, model=model, chunk_duration=None).fit(mono,
    sample_rate)``): the CQT's frames are summed in groups to ``frame_rate``, the shift-invariant
    model fitted, and the roll kept. Its one source, ``"notes"``, is the whole CQT (no masks).
    The settings are :func:`piano_roll`'s, checked when it is made.

    Attributes
    ----------
    front_end : CQT
        The CQT whose bins the model's shifts cover (``sample_rate``'s).
    roll_ : Tensor, shape (n_pitches, frames)
        The pitch activations, after a fit.
    times_ : Tensor, shape (frames,)
        Centre of each of the roll's frames in seconds (float64).
    """

    sources = ("notes",)

    def __init__(self, sample_rate: int, *, lowest_pitch: int = 24, n_pitches: int = 67,
                 bins_per_octave: int = 24, n_harmonics: int = 6, n_components: int = 2,
                 model: str = "siplca2", frame_rate: float = 100.0,
                 learn_templates: bool = True, max_iter: int = 30, seed: Optional[int] = 0,
                 verbose: bool = False):
        sample_rate = check_sample_rate(sample_rate)
        if model not in ROLL_MODELS:
            raise ParameterError(f"model must be one of {ROLL_MODELS}, got {model!r}.")
        self.sample_rate = sample_rate
        self.lowest_pitch = check_count(lowest_pitch, "lowest_pitch", minimum=0)
        self.n_pitches = check_count(n_pitches, "n_pitches")
        self.bins_per_octave = check_count(bins_per_octave, "bins_per_octave", minimum=12)
        self.n_harmonics = check_count(n_harmonics, "n_harmonics")
        self.n_components = check_count(n_components, "n_components")
        self.max_iter = check_count(max_iter, "max_iter")
        self.frame_rate = check_real(frame_rate, "frame_rate", low=0, low_open=True)
        self.model, self.learn_templates, self.seed, self.verbose = (
            model, learn_templates, seed, verbose)
        self._spread = 1
        fmin, self._n_bins, self._per_semitone, self._K = _cqt_layout(
            sample_rate, self.lowest_pitch, self.n_pitches, self.bins_per_octave,
            self.n_harmonics, self._spread)
        self.front_end = CQT(sample_rate, fmin=fmin, n_bins=self._n_bins,
                             bins_per_octave=self.bins_per_octave)

    def prepare(self, mixture: Tensor, sample_rate: int, front, bounds) -> None:
        """Checks that the separator runs this model's CQT, in one piece, on one channel."""
        if front is not self.front_end:
            raise ParameterError("PitchActivations models its own CQT: give the separator "
                                 "front_end=model.front_end.")
        if len(bounds) > 1 or mixture.shape[0] != 1:
            raise ParameterError("PitchActivations fits one channel in one piece: "
                                 "chunk_duration=None and a mono mixture.")
        self._n_samples, self._dtype = mixture.shape[-1], mixture.dtype
        return None

    def parts(self, magnitude: Tensor) -> SourceParts:
        """The roll of the CQT magnitude ``(1, bins, frames)`` (kept as :attr:`roll_`); the
        whole CQT as the one source's part."""
        transform = self.front_end
        group = max(1, round(transform.frame_rate / self.frame_rate))
        # the CQT's frames cover the signal zero-padded to a fast FFT size: keep those inside it
        inside = min(magnitude.shape[-1], math.ceil(self._n_samples / transform.hop_length))
        frames = inside // group
        if frames < 1:
            raise ParameterError("the mixture is shorter than one frame of the roll; lower "
                                 "frame_rate.")
        V = magnitude[0, :, : frames * group].reshape(self._n_bins, frames, group).sum(-1)
        V = V.to(torch.float64 if self._dtype == torch.float64 else torch.float32)
        generator = torch.Generator().manual_seed(int(self.seed)) if self.seed is not None \
            else None
        W = harmonic_templates(self.n_components, self.bins_per_octave, self.n_harmonics,
                               spread=self._spread, dtype=V.dtype)
        n_shifts = self._n_bins - self._K + 1
        activations = _fit_shift_invariant(V, W, n_shifts, self.model, self.learn_templates,
                                           self.max_iter, generator, self.verbose)
        self.roll_ = activations.reshape(self.n_pitches, self._per_semitone, frames).sum(1)
        centres = torch.arange(frames, dtype=torch.float64) * group + (group - 1) / 2
        self.times_ = centres / transform.frame_rate
        return SourceParts(magnitude.unsqueeze(0))


def _fit_shift_invariant(V: Tensor, W: Tensor, n_shifts: int, model: str, learn: bool,
                         max_iter: int, generator, verbose: bool) -> Tensor:
    """Fit NMF2D / SI-PLCA2 with templates ``W (1, R, K, 1)`` to ``V (bins, frames)``;
    return the activations summed over templates, ``(n_shifts, frames)``."""
    n_bins, frames = V.shape
    R = W.shape[1]
    target = V.reshape(1, 1, n_bins, frames)
    H = 0.5 + torch.rand((1, R, n_shifts, frames), generator=generator, dtype=V.dtype)
    if model == "nmf2d":
        factorisation = NMF2D(W=W, H=H * (float(V.sum()) / H.numel()), trainable_W=learn)
        factorisation.fit(target, beta=1, max_iter=max_iter, tol=1e-5, verbose=verbose)
        return factorisation.H.detach()[0].sum(0)
    from nmfsep.plca import SIPLCA2  # noqa: PLC0415 - only this branch needs it

    factorisation = SIPLCA2(rank=R, W=W, H=H, trainable_W=learn)  # rank: a uniform Z to fit
    _, norm = factorisation.fit(target, max_iter=max_iter, tol=1e-5, verbose=verbose)
    H = factorisation.H.detach()[0] * factorisation.Z.detach().view(R, 1, 1) * float(norm)
    return H.sum(0)


# --------------------------------------------------------------------------- evaluation
def notes_to_roll(notes: Sequence[Sequence[float]], times: Tensor, *, lowest_pitch: int = 24,
                  n_pitches: int = 67) -> Tensor:
    r"""Reference roll of a note list: pitch ``p`` is on at time ``t`` if ``onset <= t < offset``.

    Parameters
    ----------
    notes : sequence of (pitch, onset, offset, ...)
        MIDI pitch and times in seconds (extra fields such as velocity are ignored).
    times : Tensor, shape (frames,)
        Frame times in seconds (e.g. from :func:`piano_roll`).
    lowest_pitch, n_pitches : int
        Rows of the roll; notes outside them are ignored.

    Returns
    -------
    Tensor of bool, shape (n_pitches, frames)

    Examples
    --------
    >>> roll = notes_to_roll([(60, 0.1, 0.3, 90)], torch.tensor([0.0, 0.1, 0.2, 0.3]),
    ...                      lowest_pitch=60, n_pitches=2)
    >>> roll.int().tolist()
    [[0, 1, 1, 0], [0, 0, 0, 0]]
    """
    times = torch.as_tensor(times, dtype=torch.float64)
    roll = torch.zeros(n_pitches, times.shape[0], dtype=torch.bool)
    for k, note in enumerate(notes):
        if len(note) < 3:
            raise ParameterError(f"notes[{k}] must be (pitch, onset, offset, ...), got {note!r}.")
        row = int(round(note[0])) - lowest_pitch
        if 0 <= row < n_pitches:
            roll[row] |= (times >= float(note[1])) & (times < float(note[2]))
    return roll


def binarize_roll(roll: Tensor, threshold_db: float = -20.0) -> Tensor:
    r"""Active cells of a roll: those within ``threshold_db`` of its largest value.

    A threshold relative to the largest activation makes the decision independent of the
    recording's level.

    Parameters
    ----------
    roll : Tensor, shape (n_pitches, frames)
        Non-negative activations.
    threshold_db : float, default -20.0
        Level in dB (of the activation, an amplitude) relative to the maximum; <= 0. -20 dB
        gave the best frame F-measure on the benchmark's piano stems (-18 to -22 within
        0.02).

    Returns
    -------
    Tensor of bool, shape (n_pitches, frames)

    Examples
    --------
    >>> binarize_roll(torch.tensor([[1.0, 0.05], [0.01, 0.5]]), threshold_db=-20).tolist()
    [[True, False], [False, True]]
    """
    if not (isinstance(threshold_db, numbers.Real) and math.isfinite(threshold_db)
            and threshold_db <= 0):
        raise ParameterError(f"threshold_db must be a finite number <= 0, got {threshold_db!r}.")
    peak = roll.max()
    if peak <= 0:
        return torch.zeros_like(roll, dtype=torch.bool)
    return roll >= peak * 10.0 ** (threshold_db / 20.0)


def frame_scores(estimate: Tensor, reference: Tensor) -> Dict[str, float]:
    r"""Frame-level multi-pitch precision, recall and F-measure on a semitone grid.

    Every (pitch, frame) cell counts: a true positive is a cell active in both rolls,
    ``precision = TP / estimated active cells``, ``recall = TP / reference active cells``,
    ``f_measure = 2 P R / (P + R)`` (MIREX multiple-F0 frame-level metrics, summed over the
    whole piece rather than averaged per frame; 0 where undefined).

    Parameters
    ----------
    estimate, reference : Tensor of bool, shape (n_pitches, frames)

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f_measure`` (floats in [0, 1]) and the counts ``tp``,
        ``fp``, ``fn``.

    Examples
    --------
    >>> est = torch.tensor([[True, True], [False, False]])
    >>> ref = torch.tensor([[True, False], [True, False]])
    >>> frame_scores(est, ref)["f_measure"]
    0.5
    """
    if estimate.shape != reference.shape:
        raise ParameterError(f"estimate {tuple(estimate.shape)} and reference "
                         f"{tuple(reference.shape)} must have the same (pitches, frames) shape.")
    estimate, reference = estimate.bool(), reference.bool()
    tp = int((estimate & reference).sum())
    fp = int((estimate & ~reference).sum())
    fn = int((~estimate & reference).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f_measure = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return dict(precision=precision, recall=recall, f_measure=f_measure, tp=tp, fp=fp, fn=fn)


# --------------------------------------------------------------------------- recipe
def _piano_roll_recipe(mixture, sample_rate, *, templates=None, hits=None, seed=None,
                       device=None, verbose=False, **settings):
    if device is not None and torch.device(device).type != "cpu":
        raise ParameterError(f"the 'piano-roll' recipe computes on the CPU, got device={device!r}.")
    return piano_roll(mixture, sample_rate, seed=0 if seed is None else seed, verbose=verbose,
                      **settings)


register_recipe(
    "piano-roll", _piano_roll_recipe, sources=None, output="roll",
    description="pitch activations (MIDI pitch x frame) of piano and bass from SI-PLCA2 on "
                "the CQT (nmfsep.recipes.piano_roll)",
    settings=settings_of(piano_roll),
)
