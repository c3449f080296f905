r"""Block-wise (real-time) separation with fixed templates, and onset triggers from the stream.

:class:`StreamingSeparator` separates audio that arrives in blocks of any size: it keeps
the last STFT window of input, and each time a new hop of samples completes a frame it

1. takes the frame's spectrum :math:`X` (window, FFT) and :math:`V = |X|^p`;
2. fits the frame's activations :math:`h` to :math:`V \approx W^p h` with the templates held
   fixed: ``n_iter`` multiplicative updates of the beta-divergence
   (:func:`nmfsep.updates.multiplicative_update_`), warm-started from the previous
   frame's activations and over-relaxed (``update_exponent``);
3. splits :math:`X` with soft masks (:func:`nmfsep.masks.wiener_mask`'s, computed
   as a softmax: ``StreamingSeparator._masks``) of the sources' parts
   :math:`\Lambda_s = \sum_{r \in s} W^p_r h_r`;
4. inverts each source's masked spectrum (inverse FFT, window) and adds it into an
   overlap-add buffer; the oldest hop of that buffer is then complete and is emitted.

What a frame costs: about 50 torch operations on vectors of ``n_fft // 2 + 1`` bins, where
the per-operation overhead of torch's dispatch outweighs the arithmetic. So the stream's
buffers are allocated once (``_start``) and the frame's operations write into them, in
inference mode, and each step takes the fewest operations (one copy of the templates for
all products, no division by their unit column sums, the masks as one softmax);
benchmarks/README.md measures each choice.

The frame clock
---------------
Frame ``k`` covers input samples ``[(k + 1) hop - n_fft, (k + 1) hop)`` (the stream starts
with ``n_fft - hop`` samples of silence, so every sample is covered by the same number of
windows) and is computed as soon as sample ``(k + 1) hop - 1`` has arrived, whatever the
blocks the input came in. The frames, their fits and the overlap-add are the same operations
on the same numbers for any cutting of the input into blocks, so the output is bit-identical
for every block size.

Look-ahead
----------
A stem sample is complete once the last frame that covers it has been computed; that frame
ends at most ``n_fft - 1`` samples later. So the stem at sample ``n`` depends on the input up
to ``n + lookahead`` with ``lookahead = n_fft - 1`` (one window: 46 ms with the default
window), and no further (the activations are fitted causally: from the current and past
frames only). The output stream is the stems delayed by exactly ``lookahead`` samples: each
block in gives a block of the same length out, and output sample ``m`` depends on no input
after ``m``.

NMFD templates
--------------
Drum templates (:func:`~nmfsep.recipes.hit_templates`) are NMFD templates ``(freq, R, T)``:
the ``T`` frames of a hit's spectrogram. A per-frame fit sees one frame at a time, so it
uses plain NMF templates; ``nmfd="frames"`` (the default) makes each of the first
``template_frames`` frames of each hit a component of the hit's source. Every frame of a hit
-- attack, body, decay -- then has its own spectrum to match, where ``"sum"`` (the hit's
total spectrum, one component) or ``"first"`` (its attack frame) describe the whole hit with
one spectrum. On the benchmark's drums3 dev split with the kit's hits
(benchmarks/streaming.py ``--options``; benchmarks/README.md; 6 monotone updates per frame)
the mean SDR is 13.51 dB with the first 8 frames, 13.47 with all 16, 13.05 with ``"sum"``,
9.71 with ``"first"`` (offline recipe: 14.80), and onset F 0.943, 0.932, 0.899 and 0.895
(offline: 0.959). A causal NMFD -- each frame fitting only the activations that start there,
the earlier ones' continuations held fixed -- would decide a hit on its first frame alone,
whose window holds at most one hop of it.

Triggers
--------
Each frame also gives every source's level :math:`e_s = (\sum_{r \in s} |W^p_r|_1
h_r)^{1/p}` (the model's energy of the source in magnitude units, summed over channels).
Its rise :math:`d_s(k) = \max(0, e_s(k) - e_s(k - 1))` is the onset novelty; frame ``j`` is
an onset of source ``s`` when :math:`d_s(j)`

* is larger than at ``j - 1`` and at least as large as at ``j + 1`` (a peak, with one frame
  of look-ahead);
* reaches ``trigger_threshold`` times the largest novelty of the source so far (an adaptive
  threshold, as the offline :func:`~nmfsep.recipes.pick_onsets` relative to the loudest hit);
* reaches ``trigger_share`` times the largest novelty of any source in frames ``j - 1`` to
  ``j + 1``: a hit of one instrument also raises the others' levels a little (what their
  templates explain of it), a leak that this rule drops;
* reaches ``trigger_floor`` times the largest novelty of any source so far (before an
  instrument's first hit its own largest novelty is only such leaks);
* and lies more than ``trigger_interval`` seconds after the source's previous onset.

The onset is known when frame ``j + 1`` has been computed:
:attr:`StreamingSeparator.trigger_latency` samples after the onset at the latest. Onset time
``j hop``: a hit starting there first falls in frame ``j``'s window, in its last hop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor

from .._core._validation import check_beta, check_count, check_real
from .._core.updates import data_weights, multiplicative_update_
from .._errors import ParameterError, ParameterTypeError
from .io import check_audio
from .stft import _resolve_window
from .templates import Templates

__all__ = ["StreamingSeparator", "Trigger", "trigger_times", "NMFD_MODES", "MAX_LOOKAHEAD_SECONDS"]

#: How :class:`StreamingSeparator` turns NMFD templates ``(freq, R, T)`` into per-frame NMF
#: templates (module docstring).
NMFD_MODES = ("frames", "sum", "first")

#: The longest look-ahead :class:`StreamingSeparator` accepts by default (one STFT window).
MAX_LOOKAHEAD_SECONDS = 0.05


@dataclass(frozen=True)
class Trigger:
    """An onset of one source, found in the stream.

    Attributes
    ----------
    source : str
        The source (instrument) that started.
    time : float
        Onset time in seconds from the start of the stream.
    strength : float
        The onset novelty (rise of the source's level, magnitude units); a velocity.
    known_at : float
        Stream time in seconds at which it was found: the input up to there was needed.
    """

    source: str
    time: float
    strength: float
    known_at: float


def frame_templates(W: Tensor, components: Tuple[int, ...], nmfd: str,
                    template_frames: int) -> Tuple[Tensor, Tuple[int, ...]]:
    """NMF templates ``(freq, R')`` and their sources from templates ``W`` of 2 or 3 axes.

    ``W (freq, R)`` is returned as it is; NMFD templates ``(freq, R, T)`` keep their first
    ``template_frames`` frames ``T'``, which become ``R T'`` components (``nmfd="frames"``,
    component ``r T' + t`` is frame ``t`` of template ``r``), their sum (``"sum"``), or the
    first frame alone (``"first"``).
    """
    if nmfd not in NMFD_MODES:
        raise ParameterError(f"nmfd must be one of {NMFD_MODES}, got {nmfd!r}.")
    if W.dim() == 2:
        return W, tuple(components)
    W = W[:, :, :template_frames]
    if nmfd == "sum":
        return W.sum(2), tuple(components)
    if nmfd == "first":
        return W[:, :, 0], tuple(components)
    T = W.shape[2]
    return W.reshape(W.shape[0], -1), tuple(c for c in components for _ in range(T))


class StreamingSeparator:
    r"""Separate audio block by block with fixed templates (real-time capable).

    See the module docstring for the method, the frame clock and the look-ahead.

    Parameters
    ----------
    templates : Templates
        STFT magnitude templates of the sources: NMF dictionaries ``(freq, R)`` (e.g.
        :func:`~nmfsep.separation.learn_templates`) or NMFD templates ``(freq, R, T)``
        (drum hits: :func:`~nmfsep.recipes.hit_templates`,
        :func:`~nmfsep.recipes.generic_templates`), with the STFT settings (``n_fft``,
        ``hop_length``, ``window``) and sample rate of the audio to separate.
    nmfd : {"frames", "sum", "first"}, default "frames"
        How NMFD templates become per-frame templates (module docstring).
    template_frames : int, default 8
        The frames of NMFD templates used, from their first (8 frames of the drum
        templates' 11.6 ms hop: a hit's first 93 ms; its decay after that is quiet, and
        its last frame's spectrum describes it).
    spectrogram_power : float, default 1.5
        Exponent ``p`` of the modelled spectrogram ``|X| ** p`` (the templates are raised to
        it); 1.5 as the drum recipes.
    beta : float, default 1.0
        Beta-divergence of the fit (1: Kullback-Leibler).
    n_iter : int, default 4
        Multiplicative updates per frame, warm-started from the previous frame.
    update_exponent : float or None, default 1.5
        Exponent of the multiplicative updates' ratio (None: the monotone one,
        :func:`~nmfsep.updates.mu_exponent`, 1 for KL). Over-relaxed updates converge
        in fewer steps: on drums3, 4 updates at 1.5 score as 6 monotone ones (mean SDR 13.50
        against 13.51 dB, onset F 0.941 against 0.943) and 3 at 1.5 as 4.5; 2.0 oscillates
        and fires false triggers. 3 updates at 1.7 score as 4 at 1.5 (13.49 dB, F 0.942)
        for a quarter fewer updates (benchmarks/README.md).
    mask_power : float, default 2.0
        Exponent of the soft masks on magnitudes (2: Wiener-like, 1: ratio masks).
    trigger_threshold : float, default 0.1
        Fraction of a source's largest onset novelty so far that an onset must reach.
    trigger_share : float, default 0.2
        Fraction of the largest novelty of any source in the frame and its neighbours that
        an onset must reach.
    trigger_floor : float, default 0.05
        Fraction of the largest novelty of any source so far that an onset must reach.
    trigger_interval : float, default 0.05
        Seconds within which a source gives at most one onset.
    max_lookahead : float or None, default :data:`MAX_LOOKAHEAD_SECONDS`
        Refuse templates whose window makes the look-ahead longer than this many seconds
        (None: no limit).

    Attributes
    ----------
    templates : Templates
        The templates it was built with.
    sources : tuple of str
        The stems' names, in the order of the stems axis.
    sample_rate, n_fft, hop_length : int
        The STFT the templates were made with.
    W : Tensor, shape (n_fft // 2 + 1, R)
        The per-frame templates in the model's domain (``|X| ** p``, unit sum), source after
        source (in the templates' order within a source).
    components : Tensor, shape (R,)
        Source index of every template (non-decreasing).
    lookahead : int
        ``n_fft - 1``: output sample ``m`` of the stream is stem sample ``m - lookahead``,
        and stem sample ``n`` depends on no input after ``n + lookahead``.
    lookahead_seconds : float
    trigger_latency : int
        The most samples from an onset (its time) to the end of the block that reveals it.
    trigger_latency_seconds : float
    channels : int or None
        The channels of the stream (set by its first block; None before).

    Examples
    --------
    >>> import torch
    >>> from nmfsep.separation import StreamingSeparator, Templates
    >>> sr, n_fft = 8000, 256
    >>> t = torch.arange(sr) / sr
    >>> low, high = torch.sin(2 * torch.pi * 250 * t), torch.sin(2 * torch.pi * 2000 * t)
    >>> def spectrum(x):                                     # one frame's magnitude
    ...     return torch.fft.rfft(x[:n_fft] * torch.hann_window(n_fft)).abs()
    >>> templates = Templates(torch.stack([spectrum(low), spectrum(high)], 1), ("low", "high"),
    ...                       (0, 1), sr, "stft", dict(n_fft=n_fft, hop_length=64, window="hann"))
    >>> separator = StreamingSeparator(templates)
    >>> separator.lookahead, round(separator.lookahead_seconds, 4)
    (255, 0.0319)
    >>> out = torch.cat([separator.process(block) for block in (low + high).split(100)], -1)
    >>> out.shape                                            # (sources, samples), delayed
    torch.Size([2, 8000])
    >>> low_stem = out[0, separator.lookahead:]              # delay compensated
    >>> bool((low_stem[1000:] - low[1000:-255]).abs().max() < 1e-3)
    True
    """

    #: The activations' floor at the start of each frame's fit, as a fraction of the frame's
    #: level shared by the templates.
    _REGROW = 0.01

    def __init__(
        self,
        templates: Templates,
        *,
        nmfd: str = "frames",
        template_frames: int = 8,
        spectrogram_power: float = 1.5,
        beta: float = 1.0,
        n_iter: int = 4,
        update_exponent: Optional[float] = 1.5,
        mask_power: float = 2.0,
        trigger_threshold: float = 0.1,
        trigger_share: float = 0.2,
        trigger_floor: float = 0.05,
        trigger_interval: float = 0.05,
        max_lookahead: Optional[float] = MAX_LOOKAHEAD_SECONDS,
    ) -> None:
        if not isinstance(templates, Templates):
            raise ParameterTypeError(
                f"templates must be a nmfsep.separation.Templates, got {type(templates).__name__}; "
                f"wrap a dictionary W (freq, R) as Templates(W, sources, components, "
                f"sample_rate, 'stft', dict(n_fft=..., hop_length=..., window='hann'))."
            )
        if templates.front_end != "stft" or templates.W.dim() not in (2, 3):
            raise ParameterError(
                f"streaming needs STFT templates (freq, R) or (freq, R, T), got {templates!r}."
            )
        settings = templates.settings
        self.templates = templates
        self.sample_rate = templates.sample_rate
        self.n_fft = check_count(settings.get("n_fft"), "the templates' n_fft", minimum=2)
        self.hop_length = check_count(settings.get("hop_length", self.n_fft // 4), "the templates' hop_length")
        if self.hop_length > self.n_fft:
            raise ParameterError(f"the templates' hop_length ({self.hop_length}) exceeds their "
                             f"n_fft ({self.n_fft}).")
        if templates.W.shape[0] != self.n_fft // 2 + 1:
            raise ParameterError(f"the templates have {templates.W.shape[0]} frequency bins; "
                             f"n_fft={self.n_fft} needs {self.n_fft // 2 + 1}.")
        self.lookahead = self.n_fft - 1
        self.lookahead_seconds = self.lookahead / self.sample_rate
        if max_lookahead is not None:
            max_lookahead = check_real(max_lookahead, "max_lookahead", low=0, low_open=True)
            if self.lookahead_seconds > max_lookahead:
                longest = 2 ** int(math.log2(max_lookahead * self.sample_rate + 1))
                raise ParameterError(
                    f"the templates' window (n_fft={self.n_fft}) makes a look-ahead of "
                    f"{1000 * self.lookahead_seconds:.1f} ms, more than max_lookahead="
                    f"{1000 * max_lookahead:.1f} ms; make templates with n_fft <= {longest} at "
                    f"{self.sample_rate} Hz, or pass max_lookahead=None."
                )
        self.power = check_real(spectrogram_power, "spectrogram_power", low=0, low_open=True)
        self.beta = check_beta(beta)
        self.n_iter = check_count(n_iter, "n_iter")
        self.update_exponent = (None if update_exponent is None
                                else check_real(update_exponent, "update_exponent", low=0, low_open=True))
        self.mask_power = check_real(mask_power, "mask_power", low=0, low_open=True)
        # the masks' exponent on the parts (|X|^power), and the level of silence (_masks)
        self._mask_exponent = self.mask_power / self.power
        self._silence = torch.finfo(torch.float32).tiny
        self.trigger_threshold, self.trigger_share, self.trigger_floor = (
            check_real(value, name, low=0) for value, name in (
                (trigger_threshold, "trigger_threshold"), (trigger_share, "trigger_share"),
                (trigger_floor, "trigger_floor")))
        interval = check_real(trigger_interval, "trigger_interval", low=0)
        self._trigger_wait = max(1, round(interval * self.sample_rate / self.hop_length))
        # the frame after an onset's frame reveals it: (j + 2) hop samples in, onset at j hop
        self.trigger_latency = 2 * self.hop_length
        self.trigger_latency_seconds = self.trigger_latency / self.sample_rate

        template_frames = check_count(template_frames, "template_frames")
        W, components = frame_templates(templates.W.float(), templates.components, nmfd,
                                        template_frames)
        # each source's templates side by side: its part of the model is then one product
        order = sorted(range(len(components)), key=components.__getitem__)
        W, components = W[:, order].pow(self.power), tuple(components[r] for r in order)
        W = W / W.sum(0, keepdim=True).clamp_min(torch.finfo(W.dtype).tiny)
        # one copy of the templates, (R, freq), read by all the frame's products: a second
        # one for the (freq, R) products would double what a frame reads from the caches
        self._W_t = W.t().contiguous()
        self.W = self._W_t.t()
        self.sources = templates.sources
        self.components = torch.tensor(components)
        counts = [components.count(s) for s in range(len(self.sources))]
        self._source_slices = [(sum(counts[:s]), counts[s]) for s in range(len(counts))]
        self._window = _resolve_window(str(settings.get("window", "hann")), self.n_fft,
                                       torch.float32, "cpu")
        # overlap-add normaliser of the hop a frame completes: sample o of it is covered by
        # the windows at o, o + hop, o + 2 hop, ... of the frames that overlap it
        squared = self._window ** 2
        normaliser = torch.stack([squared[o::self.hop_length].sum()
                                  for o in range(self.hop_length)])
        if float(normaliser.min()) <= 1e-8:
            raise ParameterError(f"the window and hop_length={self.hop_length} leave samples "
                             f"uncovered; use a shorter hop.")
        # overlap-add with the normaliser folded in: sample t of a frame goes out multiplied
        # by window[t] / normaliser[t % hop], so a completed hop needs no division
        self._synthesis = self._window / normaliser.repeat(self.n_fft // self.hop_length + 1)[
            :self.n_fft]
        self.channels: Optional[int] = None
        self.reset()

    # ----------------------------------------------------------------------------- state
    def reset(self) -> None:
        """Start afresh: forget the input, the activations, the output and the triggers."""
        self.channels = None
        self.frames_processed = 0

    def _start(self, channels: int) -> None:
        """The state of a stream of ``channels``: its buffers, allocated once (a frame then
        allocates almost nothing: the per-frame operations write into them)."""
        S, (F, R), C = len(self.sources), self.W.shape, channels
        self.channels = channels
        # input[:, i] is sample i - (n_fft - hop) of the stream since the buffer's last
        # compaction, so the stream starts with n_fft - hop samples of silence (the frame
        # clock); frame k covers the n_fft samples from _next_frame on
        self._input = torch.zeros(C, 4 * self.n_fft)
        self._next_frame, self._input_end = 0, self.n_fft - self.hop_length
        # output: the stems delayed by the look-ahead; each frame is overlap-added from
        # _next_hop on, after which the hop from there is complete. The first lookahead
        # samples of the output stream are silence: hop - 1 zeros here, the other n_fft - hop
        # are the hops that the first frames complete before sample 0 (silenced in _frame)
        self._output = torch.zeros(S, C, 8 * self.n_fft)
        self._next_out, self._next_hop = 0, self.hop_length - 1
        self._H = torch.zeros(C, R)
        self._regrow = torch.full((F, 1), self._REGROW / R)     # V @ it: the floor, one product
        self._windowed = torch.empty(C, self.n_fft)
        self._V = torch.empty(C, F)
        self._root = torch.empty(C, F)
        self._floor = torch.empty(C, 1)
        self._model = torch.empty(C, F)
        self._positive_weight = torch.empty(C, F)
        self._negative = torch.empty(C, R)
        self._positive = torch.empty(C, R)
        self._parts = torch.empty(S, C, F)
        # parts[s] = H[:, templates of s] @ W_t[templates of s] (_frame): the three tensors
        self._part_products = [
            (self._H.narrow(1, start, count), self._W_t.narrow(0, start, count), self._parts[s])
            for s, (start, count) in enumerate(self._source_slices)]
        self._logs = torch.empty(S, C, F)
        self._mask_scale = torch.tensor(self._mask_exponent)    # multiplied without wrapping
        self._masked = torch.empty(S, C, F, dtype=torch.complex64)
        self._energy = torch.empty(S)
        self._level = [0.0] * S
        self._novelty = ([0.0] * S, [0.0] * S)                   # frames k - 2 and k - 1
        self._largest = [0.0] * S
        self._last_onset = [-(10 ** 9)] * S
        self._triggers: List[Trigger] = []

    # ----------------------------------------------------------------------------- frames
    def _fit(self, V: Tensor) -> Tensor:
        """The frame's activations ``(channels, R)``, warm-started from the previous frame's
        (updated in place). An inner solve of a few updates, like a HALS sweep inside one step,
        not a fit of :func:`~nmfsep.fitting.run_iterations`: its loss checks and bookkeeping
        would cost more than a frame's updates (four of 64 numbers), and a frame has a time
        budget (issue 16)."""
        H = self._H
        # a floor lets templates silent in the previous frame come back (a multiplicative
        # update cannot move a zero): 1 % of the frame's level shared by the templates
        floor = torch.mm(V, self._regrow, out=self._floor)
        torch.maximum(H, floor, out=H)
        for _ in range(self.n_iter):
            model = torch.mm(H, self._W_t, out=self._model)
            negative_weight, positive_weight = data_weights(
                V, model, self.beta, overwrite=True, positive_out=self._positive_weight)
            negative = torch.mm(negative_weight, self.W, out=self._negative)
            # KL (no positive weight): the positive part is W's column sums, ones (None)
            positive = (None if positive_weight is None
                        else torch.mm(positive_weight, self.W, out=self._positive))
            multiplicative_update_(H, negative, positive, beta=self.beta,
                                   exponent=self.update_exponent)
        return H

    def _frame(self, frame: Tensor, overlap: Tensor) -> None:
        """Process one frame ``(channels, n_fft)`` and overlap-add its stems into ``overlap``
        ``(S, C, n_fft)``, whose first hop is then complete."""
        # the FFT reads a buffer of its own: the same memory alignment for every frame (the
        # FFTs write new tensors: cheaper than their out= variants, which copy)
        spectrum = torch.fft.rfft(torch.mul(frame, self._window, out=self._windowed))
        V = torch.abs(spectrum, out=self._V)
        if self.power == 1.5:  # |X| sqrt|X|: a third of the time of pow's exp and log
            V.mul_(torch.sqrt(V, out=self._root))
        else:
            V.pow_(self.power)
        self._fit(V)  # updates self._H in place, which the part products read
        # parts[s, c] = sum over the templates r of source s of H[c, r] W[:, r]: a product
        # per source costs a third of one of all sources' (S, R) selection with W
        for activations, templates, part in self._part_products:
            torch.mm(activations, templates, out=part)
        masks = self._masks()
        frames = torch.fft.irfft(torch.mul(masks, spectrum, out=self._masked), n=self.n_fft)
        overlap.addcmul_(frames, self._synthesis)
        self._detect(torch.sum(self._parts, (1, 2), out=self._energy))
        self.frames_processed += 1
        start = self.frames_processed * self.hop_length - self.n_fft   # of the hop completed
        if start < 0:  # before the stream's first sample: silence, whatever the masks leaked
            overlap[..., :min(-start, self.hop_length)] = 0

    def _masks(self) -> Tensor:
        r"""The masks of the frame's parts: ``wiener_mask(parts, mask_power / power)``.

        Computed as a softmax over the sources of :math:`q \log \Lambda_s` (the same ratios
        :math:`\Lambda_s^q / \sum_j \Lambda_j^q`): 4 operations where wiener_mask's
        computation takes 9, a frame's few numbers costing their dispatch more than their
        arithmetic. Parts up to the smallest normal float count as it, so that a silent bin
        (all its parts so small) is split equally, as by wiener_mask, and no log is of 0.
        The logs of unnormalised parts round to about 1e-6 of the masks (wiener_mask's to
        1e-7; a test compares them).
        """
        logs = torch.clamp_min(self._parts, self._silence, out=self._logs).log_()
        return torch.softmax(logs.mul_(self._mask_scale), 0)

    def _detect(self, energy: Tensor) -> None:
        """Onset triggers from the sources' energies ``(S,)`` of the frame just fitted (in
        Python numbers: a few per frame, where tensor operations would cost more)."""
        levels = [max(e, 0.0) ** (1.0 / self.power) for e in energy.tolist()]
        novelty = [max(new - old, 0.0) for new, old in zip(levels, self._level)]
        self._level = levels
        self._largest = [max(a, b) for a, b in zip(self._largest, novelty)]
        before, candidate = self._novelty
        self._novelty = (candidate, novelty)
        j = self.frames_processed - 1                               # the candidate's frame
        nearby = max(max(before), max(candidate), max(novelty))
        loudest = max(self._largest)
        for s, value in enumerate(candidate):
            if (value > before[s] and value >= novelty[s] and value > 0
                    and value >= self.trigger_threshold * self._largest[s]
                    and value >= self.trigger_share * nearby
                    and value >= self.trigger_floor * loudest
                    and j - self._last_onset[s] > self._trigger_wait):
                self._last_onset[s] = j
                self._triggers.append(Trigger(
                    self.sources[s], j * self.hop_length / self.sample_rate, value,
                    (self.frames_processed + 1) * self.hop_length / self.sample_rate))

    # ----------------------------------------------------------------------------- stream
    def process(self, block) -> Tensor:
        """Separate the next block of the stream.

        Parameters
        ----------
        block : Tensor or ndarray, shape (channels, samples) or (samples,)
            The next samples of the stream, any number of them (32 to 8192 is typical of
            audio callbacks). Every block of a stream has the same channels.

        Returns
        -------
        Tensor, shape (sources, channels, samples) or (sources, samples), float32
            The stems' next samples, as many as the block's; the stems are delayed by
            :attr:`lookahead` samples (the stream's first ``lookahead`` samples are
            silence).
        """
        if (isinstance(block, Tensor) and block.dtype == torch.float32 and block.numel()
                and math.isfinite(block.sum())):
            # check_audio's checks with one sum for its finiteness pass (a sum of finite
            # samples that overflows goes to check_audio as well, which accepts it)
            waveform = block
        else:
            waveform = check_audio(block, name="block", allow_silent=True)  # says what is wrong
        if waveform.ndim not in (1, 2):
            raise ParameterError(f"a block must have shape (channels, samples) or (samples,), got "
                             f"{tuple(waveform.shape)}.")
        mono = waveform.ndim == 1
        if mono:
            waveform = waveform.unsqueeze(0)
        if self.channels is not None and waveform.shape[0] != self.channels:
            raise ParameterError(f"the stream has {self.channels} channel(s) but this block has "
                             f"{waveform.shape[0]}; call reset() to start a new stream.")
        n = waveform.shape[-1]
        # inference mode: the lowest dispatch cost per operation, and a frame is ~50 of them
        with torch.inference_mode():
            if self.channels is None:
                self._start(waveform.shape[0])
            self._take(waveform)
            frames = (self._input_end - self._next_frame - self.n_fft) // self.hop_length + 1
            self._make_room(n, frames)
            for _ in range(frames):
                self._frame(self._input.narrow(1, self._next_frame, self.n_fft),
                            self._output.narrow(2, self._next_hop, self.n_fft))
                self._next_frame += self.hop_length
                self._next_hop += self.hop_length
            out = self._output.narrow(2, self._next_out, n)
            self._next_out += n
        out = out.clone()  # outside inference mode: an ordinary tensor, not the buffer's view
        return out[:, 0] if mono else out

    def _take(self, waveform: Tensor) -> None:
        """Append ``waveform`` to the input buffer (moving the samples still needed to its
        start, or growing it, when it is full)."""
        n, end = waveform.shape[-1], self._input_end
        if end + n > self._input.shape[-1]:
            kept = self._input[:, self._next_frame:end].clone()
            size = max(self._input.shape[-1], 2 * (kept.shape[-1] + n))
            if size > self._input.shape[-1]:
                self._input = torch.zeros(self.channels, size)
            self._input[:, :kept.shape[-1]] = kept
            self._next_frame, end = 0, kept.shape[-1]
        self._input.narrow(1, end, n).copy_(waveform)  # float32 on the CPU, whatever it was
        self._input_end = end + n

    def _make_room(self, n: int, frames: int) -> None:
        """Make the output buffer hold the next ``n`` samples out and ``frames`` more frames'
        overlap-add (moving what is still to come out to its start, or growing it)."""
        end = self._next_hop + (frames - 1) * self.hop_length + self.n_fft
        if max(end, self._next_out + n) <= self._output.shape[-1]:
            return
        # what is still to come out: the samples ready and the partial sums after them
        kept = self._output[..., self._next_out:self._next_hop + self.n_fft - self.hop_length]
        kept = kept.clone()
        shift = self._next_out
        size = max(self._output.shape[-1], 2 * (end - shift), 2 * n)
        if size > self._output.shape[-1]:
            self._output = torch.zeros(*self._output.shape[:2], size)
        else:
            self._output.zero_()
        self._output[..., :kept.shape[-1]] = kept
        self._next_out, self._next_hop = 0, self._next_hop - shift

    def pop_triggers(self) -> List[Trigger]:
        """The onsets found since the last call, in the order they were found."""
        if self.channels is None:
            return []
        triggers, self._triggers = self._triggers, []
        return triggers

    def separate(self, mixture, *, block_size: int = 512,
                 return_triggers: bool = False):
        """Stream a whole recording through the separator and align the stems with it.

        The separator is reset first. The mixture is fed in blocks of ``block_size``
        followed by :attr:`lookahead` samples of silence, and the stems' delay is removed.

        Parameters
        ----------
        mixture : Tensor or ndarray, shape (channels, samples) or (samples,)
        block_size : int, default 512
            Samples per block (the result does not depend on it).
        return_triggers : bool, default False
            Also return the onsets.

        Returns
        -------
        dict of str to Tensor
            ``{source: (channels, samples)}``, float32, the mixture's length.
            With ``return_triggers=True``, ``(stems, triggers)`` with ``triggers`` a list of
            :class:`Trigger`.
        """
        waveform = check_audio(mixture, name="mixture", allow_silent=True)
        if waveform.ndim not in (1, 2):
            raise ParameterError(f"mixture must have shape (channels, samples) or (samples,), got "
                             f"{tuple(waveform.shape)}.")
        block_size = check_count(block_size, "block_size")
        waveform = waveform.reshape(-1, waveform.shape[-1])
        n = waveform.shape[-1]
        self.reset()
        padded = torch.cat([waveform.detach().to("cpu", torch.float32),
                            torch.zeros(waveform.shape[0], self.lookahead)], -1)
        out = torch.cat([self.process(block) for block in padded.split(block_size, -1)], -1)
        stems = {source: out[s, :, self.lookahead:self.lookahead + n]
                 for s, source in enumerate(self.sources)}
        if not return_triggers:
            return stems
        # onsets the silent tail would reveal after the mixture's end are not of the mixture
        triggers = [t for t in self.pop_triggers() if t.time < n / self.sample_rate]
        return stems, triggers

    def __repr__(self) -> str:
        return (f"StreamingSeparator(sources={self.sources}, components={self.W.shape[1]}, "
                f"sample_rate={self.sample_rate}, n_fft={self.n_fft}, "
                f"hop_length={self.hop_length}, lookahead={self.lookahead})")


def trigger_times(triggers, sources) -> Dict[str, Tensor]:
    """Onset times by source from triggers, for :func:`~nmfsep.recipes.save_onsets`.

    Parameters
    ----------
    triggers : iterable of Trigger
    sources : sequence of str
        Every source to list (also those without triggers), in order.

    Returns
    -------
    dict of str to Tensor
        ``{source: onset times in seconds, (n,) float64, increasing}``.

    Examples
    --------
    >>> trigger_times([Trigger("kick", 0.5, 1.0, 0.52), Trigger("kick", 0.1, 2.0, 0.12)],
    ...               ("kick", "snare"))
    {'kick': tensor([0.1000, 0.5000], dtype=torch.float64), 'snare': tensor([], dtype=torch.float64)}
    """
    return {source: torch.tensor(sorted(t.time for t in triggers if t.source == source),
                                 dtype=torch.float64) for source in sources}
