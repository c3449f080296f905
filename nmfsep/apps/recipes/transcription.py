r"""Transcription from factorisations: drum onsets from NMFD activations.

Drum onsets
-----------
:func:`drum_onsets` fits the drum model of :func:`~nmfsep.apps.recipes.drums.separate_drums`
and reads each instrument's onsets off its activations
(:meth:`~nmfsep.apps.recipes.drums.DrumModel.source_activations`: activations weighted by
each template's attack level, summed over the instrument's templates, in magnitude units)
with :func:`pick_onsets`:

* a peak is a frame that is the largest within ``± min_interval``;
* it must reach ``threshold`` (0.1, i.e. -20 dB) times the instrument's largest activation
  (a floor relative to the loudest hit: quiet ghost notes sit around 0.2-0.3);
* and ``retrigger`` times the largest activation of the previous ``retrigger_window``
  seconds (an adaptive threshold: a hit that rings longer than its template makes the model
  start the template again where it ends, a small peak that this rule drops).
"""

from __future__ import annotations

import math
import numbers
from typing import Dict, Optional

import torch
from torch import Tensor

from .drums import DRUM_SOURCES, separate_drums  # noqa: F401 - DRUM_SOURCES for users

__all__ = ["pick_onsets", "drum_onsets", "onset_f_measure"]


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


def drum_onsets(
    mixture,
    sample_rate: int,
    *,
    hits=None,
    templates=None,
    threshold: float = 0.1,
    retrigger: float = 0.45,
    min_interval: float = 0.05,
    return_stems: bool = False,
    **separate_options,
):
    r"""Onset times of each drum instrument in a mixture, from NMFD activations.

    Fits the model of :func:`~nmfsep.apps.recipes.drums.separate_drums` (with the kit's
    ``hits``, ``templates``, or the generic templates) and picks each instrument's onsets
    from its activations (see the module docstring and :func:`pick_onsets`). Channels are
    summed.

    Parameters
    ----------
    mixture : Tensor or ndarray, shape (channels, samples) or (samples,)
        The drum mixture.
    sample_rate : int
        Sampling rate in Hz.
    hits, templates
        As in :func:`~nmfsep.apps.recipes.drums.separate_drums`.
    threshold, retrigger, min_interval : float
        Peak picking (see :func:`pick_onsets`); the retrigger window is the template length.
    return_stems : bool, default False
        Also return the separated stems (the same fit).
    **separate_options
        Passed to :func:`~nmfsep.apps.recipes.drums.separate_drums` (``n_fft``, ``T``,
        ``n_rounds``, ...).

    Returns
    -------
    dict of str to Tensor
        ``{instrument: onset times in seconds, (n_onsets,) float64}``; with
        ``return_stems=True``, ``(onsets, stems)``.

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
    ...                      T=8, n_rounds=1)
    >>> onsets["kick"].round(decimals=2)
    tensor([0.1000, 0.6000, 1.1000, 1.6000], dtype=torch.float64)
    >>> onsets["hihat"].round(decimals=2)
    tensor([0.3500], dtype=torch.float64)
    """
    stems, model = separate_drums(mixture, sample_rate, hits=hits, templates=templates,
                                  return_model=True, **separate_options)
    strength = model.source_activations().sum(1)          # (sources, frames)
    frame_rate = model.sample_rate / model.hop_length
    window = model.templates.shape[2] * model.hop_length / model.sample_rate
    onsets = {source: pick_onsets(strength[s], frame_rate, threshold=threshold,
                                  retrigger=retrigger, retrigger_window=window,
                                  min_interval=min_interval, offset=model.onset_delay)
              for s, source in enumerate(model.sources)}
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
