r"""Invertible constant-Q transform (CQT) built on nonstationary Gabor frames.

The transform follows Velasco, Holighaus, Dörfler and Grill (2011), *Constructing an
invertible constant-Q transform with nonstationary Gabor frames* (the NSGT of the MATLAB
CQT toolbox, ``nsgcqwin`` / ``nsgtf_real`` / ``nsigtf_real`` / ``nsdual``), in its
*fully rasterised* form: every bin is sampled with the same hop, so the coefficients are a
plain ``(..., n_bins, n_frames)`` matrix whose magnitude is what NMF, NMF2D and SI-PLCA
factorise (a pitch shift by one semitone is a shift by ``bins_per_octave / 12`` rows).

How it works
------------
The whole (zero-padded) signal is Fourier transformed once. Bin ``k`` is a Hann window in
*frequency* centred on ``f_k = fmin * 2 ** (k / b)`` (``b = bins_per_octave``) with
bandwidth ``bw_k = f_k * (2 ** (1 / b) - 2 ** (-1 / b)) + gamma`` Hz, so neighbouring
windows overlap and cover ``[f_0, f_top]`` without gaps. The spectrum under a window is
brought back to time with an inverse FFT of ``n_frames`` points: that bin's frames.
Because ``hop_length <= sample_rate / (widest bandwidth)``, no window is longer than
``n_frames`` FFT bins: the frame is *painless* (Daubechies, Grossmann and Meyer 1986), its
frame operator is diagonal in frequency and the canonical dual windows are
``g_k / sum_j |g_j| ** 2`` (the sum running over all windows, the two complementary ones
below included). Inversion is therefore exact up to rounding (about 300 dB SNR in
float64, 130 dB in float32) for any signal length.

The bins cannot hold what lies below the lowest bin or above the highest one. Two
complementary windows complete the frame: ``1 - g_0`` below ``f_0`` and ``1 - g_top``
above ``f_top`` (so 1 outside the bins' band and 0 between ``f_0`` and ``f_top``). Their
part of the signal is returned as a *residual waveform* by ``return_residual=True`` and
added back by :func:`icqt`: ``icqt(c) + residual`` is the signal, and the residual is zero
for a signal whose spectrum lies in ``[f_0, f_top]``.

Memory
------
A frame (:class:`CQTFrame`) holds three ``(n_bins, n_frames)`` tables (FFT index, window,
dual window) and one ``(n_fft // 2 + 1,)`` residual filter; the transform itself needs the
spectrum of the padded signal and the coefficients. All are
``O(n_bins * n_frames + length)`` numbers, a constant times the size of the output
(``n_frames ~ length / hop_length``), so the whole signal is transformed in one pass
without slicing. Measured for a 10-minute 44.1 kHz track with 84 bins in float32: 185 MB
of coefficients, a 331 MB frame (built in about 1 s) and a peak of about 0.85 GB above
the input.

Conventions
-----------
Frame ``m`` is centred on sample ``m * hop_length``; the signal is zero-padded at its end to
``n_frames * hop_length`` samples and treated as periodic (like the NSGT), so the first
frames of the lowest bins see a little of the end of the padded signal: pad the waveform
yourself if that matters. A sinusoid of amplitude ``A`` at a bin's centre frequency gives
coefficients of magnitude ``A`` in that bin. Coefficients keep the absolute phase (delaying
the signal by ``hop_length`` samples delays the coefficients by one frame, phase included).

Two faces, one implementation: the functions :func:`cqt`, :func:`icqt`,
:func:`cqt_frequencies` and the module :class:`CQT`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional, Tuple, Union

import torch
from torch import Tensor, nn

from .._core._validation import check_count
from .._errors import ParameterError, ParameterTypeError
from ._checks import SIGNAL_DTYPES, check_finite, check_sample_rate, check_signal_type

__all__ = ["CQT", "CQTFrame", "cqt", "cqt_frequencies", "icqt"]

#: Default lowest centre frequency: C1, as :func:`librosa.cqt` uses.
C1_HZ = 32.70319566257483

_SIGNAL_DTYPES = SIGNAL_DTYPES
_COEFF_DTYPES = (torch.complex64, torch.complex128)
_SMOOTH_PRIMES = (2, 3, 5, 7)


# --------------------------------------------------------------------------- validation
def _as_real(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterTypeError(f"{name} must be a real number, got {type(value).__name__} ({value!r}).")
    value = float(value)
    if not math.isfinite(value):
        raise ParameterError(f"{name} must be finite, got {value}.")
    return value


def _check_waveform(waveform) -> int:
    """Validate a real signal ``(..., samples)`` and return its length."""
    check_signal_type(waveform)
    if waveform.ndim < 1 or waveform.shape[-1] == 0:
        raise ParameterError(
            f"waveform is empty (shape {tuple(waveform.shape)}); the CQT needs a signal of "
            f"shape (..., samples) with at least one sample."
        )
    check_finite(waveform, "waveform")
    return waveform.shape[-1]


def _check_coefficients(coefficients) -> torch.dtype:
    """Validate complex coefficients ``(..., n_bins, n_frames)``; return their real dtype."""
    if not isinstance(coefficients, Tensor):
        raise ParameterTypeError(
            f"coefficients must be a complex torch.Tensor, got {type(coefficients).__name__}."
        )
    if coefficients.dtype not in _COEFF_DTYPES:
        raise ParameterTypeError(
            f"coefficients must be complex64 or complex128 (the output of cqt), got "
            f"{coefficients.dtype}; a magnitude has no phase and cannot be inverted directly."
        )
    if coefficients.ndim < 2:
        raise ParameterError(
            f"coefficients must have shape (..., n_bins, n_frames), got "
            f"{tuple(coefficients.shape)}."
        )
    return torch.float32 if coefficients.dtype == torch.complex64 else torch.float64


def _check_length(length) -> int:
    length = check_count(length, "length", minimum=None)
    if length < 1:
        raise ParameterError(
            f"length must be a positive number of samples (the original signal's length), "
            f"got {length}."
        )
    return length


# --------------------------------------------------------------------------- design
def _is_smooth(m: int) -> bool:
    for p in _SMOOTH_PRIMES:
        while m % p == 0:
            m //= p
    return m == 1


def _next_smooth(m: int) -> int:
    """Smallest 7-smooth integer ``>= m`` (FFT sizes with small factors are fast)."""
    while not _is_smooth(m):
        m += 1
    return m


def _previous_smooth(m: int) -> int:
    """Largest 7-smooth integer ``<= m`` (``m >= 1``)."""
    while not _is_smooth(m):
        m -= 1
    return m


def _bandwidths(frequencies: Tensor, bins_per_octave: int, gamma: float) -> Tensor:
    """Bandwidth in Hz of each bin (``nsgcqwin``): constant Q plus ``gamma``."""
    q_inverse = 2.0 ** (1.0 / bins_per_octave) - 2.0 ** (-1.0 / bins_per_octave)
    return frequencies * q_inverse + gamma


@dataclass(frozen=True)
class _Design:
    """Validated, length-independent settings of a CQT."""

    sample_rate: int
    fmin: float
    n_bins: int
    bins_per_octave: int
    gamma: float
    hop_length: int

    def frequencies(self) -> Tensor:
        return cqt_frequencies(self.n_bins, self.fmin, self.bins_per_octave)

    def n_frames(self, length: int) -> int:
        return _next_smooth(max(1, -(-length // self.hop_length)))


def _resolve_design(
    sample_rate, fmin, fmax, n_bins, bins_per_octave, gamma, hop_length
) -> _Design:
    """Validate the CQT settings and fill ``n_bins`` and ``hop_length``."""
    sample_rate = check_sample_rate(sample_rate)
    nyquist = sample_rate / 2
    bins_per_octave = check_count(bins_per_octave, "bins_per_octave", minimum=None)
    if bins_per_octave < 1:
        raise ParameterError(f"bins_per_octave must be at least 1, got {bins_per_octave}.")
    fmin = _as_real(fmin, "fmin")
    if fmin <= 0:
        raise ParameterError(
            f"fmin must be a positive frequency in Hz, got {fmin}; the content below the "
            f"lowest bin is kept in the residual, so e.g. fmin=32.7 (C1) loses nothing."
        )
    if fmin >= nyquist:
        raise ParameterError(
            f"fmin={fmin} Hz is not below the Nyquist frequency {nyquist} Hz "
            f"(sample_rate={sample_rate}); use a lower fmin."
        )
    gamma = _as_real(gamma, "gamma")
    if gamma < 0:
        raise ParameterError(
            f"gamma must be >= 0 Hz (0 gives constant Q; gamma > 0 widens the low bins), "
            f"got {gamma}."
        )
    octaves_to_nyquist = math.log2(nyquist / fmin)
    max_bins = math.floor(bins_per_octave * octaves_to_nyquist + 1e-9) + 1
    if fmax is not None and n_bins is not None:
        raise ParameterError(
            "pass either fmax or n_bins, not both: n_bins counts the bins from fmin and fmax "
            "keeps the bins whose centre is at most fmax."
        )
    if n_bins is None and fmax is None:
        n_bins = max_bins
    elif fmax is not None:
        fmax = _as_real(fmax, "fmax")
        if fmax > nyquist:
            raise ParameterError(
                f"fmax={fmax} Hz is above the Nyquist frequency {nyquist} Hz "
                f"(sample_rate={sample_rate}); use fmax <= {nyquist} or leave it None."
            )
        if fmax < fmin:
            raise ParameterError(f"fmax={fmax} Hz is below fmin={fmin} Hz; use fmax >= fmin.")
        n_bins = math.floor(bins_per_octave * math.log2(fmax / fmin) + 1e-9) + 1
    else:
        n_bins = check_count(n_bins, "n_bins", minimum=None)
        if n_bins < 1:
            raise ParameterError(f"n_bins must be at least 1, got {n_bins}.")
        if n_bins > max_bins:
            top = fmin * 2.0 ** ((n_bins - 1) / bins_per_octave)
            raise ParameterError(
                f"n_bins={n_bins} puts the highest bin at {top:.1f} Hz, above the Nyquist "
                f"frequency {nyquist} Hz; use n_bins <= {max_bins} with fmin={fmin}, "
                f"or a higher sample rate."
            )
    frequencies = cqt_frequencies(n_bins, fmin, bins_per_octave)
    bandwidths = _bandwidths(frequencies, bins_per_octave, gamma)
    # Only [0, Nyquist] exists for a real signal: windows are cut there.
    lower = (frequencies - bandwidths / 2).clamp(min=0.0)
    upper = (frequencies + bandwidths / 2).clamp(max=nyquist)
    widest = float((upper - lower).max())
    # The painless condition: every window fits in n_frames FFT bins, for any length.
    max_hop = math.floor(sample_rate / widest)
    if hop_length is None:
        hop_length = _previous_smooth(max_hop)
    else:
        hop_length = check_count(hop_length, "hop_length", minimum=None)
        if not 1 <= hop_length <= max_hop:
            raise ParameterError(
                f"hop_length must be between 1 and {max_hop} samples for these bins (the "
                f"widest bin is {widest:.1f} Hz wide and must be sampled at least at that "
                f"rate to stay exactly invertible), got {hop_length}; use a smaller "
                f"hop_length, fewer bins (lower fmax) or leave it None."
            )
    return _Design(sample_rate, fmin, n_bins, bins_per_octave, gamma, hop_length)


# --------------------------------------------------------------------------- frame
@dataclass(frozen=True, eq=False)
class CQTFrame:
    r"""Precomputed windows and dual windows of a rasterised CQT for one signal size.

    Build one with :meth:`CQTFrame.build` and pass it as ``frame=`` to :func:`cqt` and
    :func:`icqt` to transform many signals of the same length without rebuilding it
    (:class:`CQT` caches its frames). The frame depends on the length only through
    ``n_frames``: it serves every length that gives the same number of frames.

    Attributes
    ----------
    sample_rate : int
        Sampling rate in Hz, a positive whole number (``44100.0`` counts as ``44100``;
        :func:`nmfsep.io.check_sample_rate`).
    fmin : float
        Centre frequency of bin 0 in Hz.
    n_bins : int
        Number of constant-Q bins.
    bins_per_octave : int
        Bins per octave.
    gamma : float
        Bandwidth offset in Hz (0: constant Q).
    hop_length : int
        Samples between frames (the same for every bin).
    n_frames : int
        Frames per bin; the signal is zero-padded to ``n_frames * hop_length`` samples.
    frequencies : Tensor, shape (n_bins,)
        Centre frequencies in Hz (float64).
    bandwidths : Tensor, shape (n_bins,)
        Bandwidths in Hz (float64): bin ``k`` spans ``frequencies[k] +- bandwidths[k] / 2``.
    index : Tensor, shape (n_bins, n_frames)
        ``int32`` index into the one-sided spectrum of the padded signal: slot ``p`` of bin
        ``k`` holds FFT bin ``index[k, p]``, the one of its support congruent to ``p``
        modulo ``n_frames``.
    windows : Tensor, shape (n_bins, n_frames)
        Analysis windows at ``index`` (zero outside each bin's support), scaled by
        ``2 / n_fft`` so that a sinusoid of amplitude ``A`` gives coefficients of magnitude
        ``A`` at its bin's centre.
    dual_windows : Tensor, shape (n_bins, n_frames)
        Canonical dual windows at ``index``, scaled by ``n_fft / 2``.
    residual_filter : Tensor, shape (n_fft // 2 + 1,)
        Share of each FFT bin that the bins do not represent (1 below the lowest bin and
        above the highest, 0 between their centres).
    """

    sample_rate: int
    fmin: float
    n_bins: int
    bins_per_octave: int
    gamma: float
    hop_length: int
    n_frames: int
    frequencies: Tensor = dataclasses.field(repr=False)
    bandwidths: Tensor = dataclasses.field(repr=False)
    index: Tensor = dataclasses.field(repr=False)
    windows: Tensor = dataclasses.field(repr=False)
    dual_windows: Tensor = dataclasses.field(repr=False)
    residual_filter: Tensor = dataclasses.field(repr=False)

    @property
    def n_fft(self) -> int:
        """FFT size: the padded signal length ``n_frames * hop_length``."""
        return self.n_frames * self.hop_length

    @property
    def frame_rate(self) -> float:
        """Frames per second, ``sample_rate / hop_length``."""
        return self.sample_rate / self.hop_length

    @property
    def dtype(self) -> torch.dtype:
        """Real dtype of the windows (the signals' dtype)."""
        return self.windows.dtype

    @property
    def device(self) -> torch.device:
        return self.windows.device

    @classmethod
    def build(
        cls,
        sample_rate: int,
        length: int,
        *,
        fmin: float = C1_HZ,
        fmax: Optional[float] = None,
        n_bins: Optional[int] = None,
        bins_per_octave: int = 12,
        gamma: float = 0.0,
        hop_length: Optional[int] = None,
        dtype: torch.dtype = torch.float32,
        device: Optional[Union[str, torch.device]] = None,
    ) -> "CQTFrame":
        r"""Compute the frame for signals of ``length`` samples.

        Parameters
        ----------
        sample_rate, fmin, fmax, n_bins, bins_per_octave, gamma, hop_length
            As in :func:`cqt`.
        length : int
            Signal length in samples.
        dtype : torch.dtype, default torch.float32
            Dtype of the signals (float32 or float64); the windows are computed in float64
            and stored in ``dtype``.
        device : str or torch.device, optional
            Where the tables live (default CPU).

        Returns
        -------
        CQTFrame

        Examples
        --------
        >>> import torch
        >>> from nmfsep.functional import CQTFrame, cqt
        >>> frame = CQTFrame.build(22050, 22050, n_bins=84)
        >>> frame.n_bins, frame.hop_length, frame.n_frames
        (84, 48, 480)
        >>> cqt(torch.randn(22050), 22050, frame=frame).shape
        torch.Size([84, 480])
        """
        design = _resolve_design(
            sample_rate, fmin, fmax, n_bins, bins_per_octave, gamma, hop_length
        )
        return _build_frame(design, design.n_frames(_check_length(length)), dtype, device)

    def to(
        self,
        device: Optional[Union[str, torch.device]] = None,
        dtype: Optional[torch.dtype] = None,
    ) -> "CQTFrame":
        """Copy of the frame on ``device`` with windows in real ``dtype`` (float32/float64)."""
        if dtype is not None and dtype not in _SIGNAL_DTYPES:
            raise ParameterTypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}.")
        real = dict(device=device, dtype=dtype)
        return dataclasses.replace(
            self,
            frequencies=self.frequencies.to(device=device),
            bandwidths=self.bandwidths.to(device=device),
            index=self.index.to(device=device),
            windows=self.windows.to(**real),
            dual_windows=self.dual_windows.to(**real),
            residual_filter=self.residual_filter.to(**real),
        )

    def _design(self) -> _Design:
        return _Design(
            self.sample_rate, self.fmin, self.n_bins, self.bins_per_octave, self.gamma,
            self.hop_length,
        )


def _hann(frequencies: Tensor, centre: Tensor, bandwidth: Tensor) -> Tensor:
    """Hann window ``cos(pi (f - centre) / bandwidth) ** 2`` on ``|f - centre| < bw / 2``."""
    offset = (frequencies - centre) / bandwidth
    return torch.where(offset.abs() < 0.5, torch.cos(math.pi * offset) ** 2, 0.0)


def _build_frame(design: _Design, n_frames: int, dtype: torch.dtype, device) -> CQTFrame:
    """Windows, canonical duals and residual filter of ``design`` for ``n_frames`` frames.

    The float64 work is done on the windows' supports only (``O(length)`` numbers in all);
    the ``(n_bins, n_frames)`` tables are written directly in ``dtype`` on ``device``.
    """
    if dtype not in _SIGNAL_DTYPES:
        raise ParameterTypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}.")
    device = torch.device("cpu") if device is None else torch.device(device)
    f64, i64 = dict(dtype=torch.float64, device=device), dict(dtype=torch.int64, device=device)
    n_bins, n_fft = design.n_bins, n_frames * design.hop_length
    n_freqs = n_fft // 2 + 1
    resolution = design.sample_rate / n_fft  # Hz per FFT bin
    centres = design.frequencies().to(device)
    bandwidths = _bandwidths(centres, design.bins_per_octave, design.gamma)

    # Support of bin k: the FFT bins strictly inside its window, cut to [0, Nyquist]. The
    # hop bound makes it at most n_frames long (the clamp only guards against rounding and
    # drops a value of ~1e-30: the duals below are exact for whatever windows are kept).
    first = (torch.floor((centres - bandwidths / 2) / resolution).to(torch.int64) + 1).clamp(min=0)
    last = (torch.ceil((centres + bandwidths / 2) / resolution).to(torch.int64) - 1)
    last = torch.minimum(last.clamp(max=n_freqs - 1), first + n_frames - 1)
    sizes = (last - first + 1).clamp(min=0)
    owner = torch.repeat_interleave(torch.arange(n_bins, **i64), sizes)
    starts = torch.repeat_interleave(torch.cumsum(sizes, 0) - sizes, sizes)
    fft_bins = first[owner] + torch.arange(owner.numel(), **i64) - starts
    values = _hann(fft_bins * resolution, centres[owner], bandwidths[owner])
    # Rasterisation: FFT bin j of bin k goes to slot j mod n_frames of that bin's row.
    slots = owner * n_frames + fft_bins % n_frames

    # Complementary windows: 1 - (outer bin) beyond the outer centres, 0 between them,
    # i.e. 1 outside the outer supports and computed on their outer halves only.
    residual_energy = torch.zeros(n_freqs, **f64)
    residual_energy[: int(first[0])] = 1.0
    residual_energy[int(last[-1]) + 1 :] = 1.0
    bottom = slice(0, int(sizes[0]))  # the support entries of bin 0 ...
    top = slice(owner.numel() - int(sizes[-1]), None)  # ... and of the highest bin
    for part, centre, side in ((bottom, centres[0], -1.0), (top, centres[-1], 1.0)):
        outer = side * (fft_bins[part] * resolution - centre) > 0
        residual_energy[fft_bins[part][outer]] += (1 - values[part][outer]) ** 2
    # Diagonal of the frame operator (painless case): sum of squared windows per FFT bin.
    diagonal = residual_energy.index_add(0, fft_bins, values**2)
    if float(diagonal.min()) <= 1e-6:
        raise RuntimeError("internal error: the CQT windows leave a gap in frequency.")

    scale = 2.0 / n_fft  # one-sided amplitude normalisation
    duals = (values / (diagonal[fft_bins] * scale)).to(dtype)
    residual_filter = residual_energy.div_(diagonal).to(dtype)
    del residual_energy, diagonal  # free the float64 spectra before the big tables
    windows = torch.zeros(n_bins * n_frames, dtype=dtype, device=device)
    windows[slots] = (values * scale).to(dtype)
    dual_windows = torch.zeros(n_bins * n_frames, dtype=dtype, device=device)
    dual_windows[slots] = duals
    # Slot p of bin k reads the FFT bin of [first_k, first_k + n_frames) congruent to p;
    # slots outside the support (window 0) point at any valid bin.
    first32 = first.to(torch.int32)[:, None]
    index = torch.arange(n_frames, dtype=torch.int32, device=device) - first32
    index = index.remainder_(n_frames).add_(first32).clamp_(max=n_freqs - 1)
    return CQTFrame(
        sample_rate=design.sample_rate,
        fmin=design.fmin,
        n_bins=n_bins,
        bins_per_octave=design.bins_per_octave,
        gamma=design.gamma,
        hop_length=design.hop_length,
        n_frames=n_frames,
        frequencies=centres,
        bandwidths=bandwidths,
        index=index,
        windows=windows.view(n_bins, n_frames),
        dual_windows=dual_windows.view(n_bins, n_frames),
        residual_filter=residual_filter,
    )


# --------------------------------------------------------------------------- transform
def _analyse(waveform: Tensor, frame: CQTFrame, return_residual: bool):
    """Rasterised NSGT analysis of a validated ``(..., samples)`` signal."""
    length = waveform.shape[-1]
    spectrum = torch.fft.rfft(waveform, n=frame.n_fft)
    gathered = spectrum.index_select(-1, frame.index.flatten())
    # In place: index_select keeps nothing for its backward, so autograd allows it.
    gathered = gathered.unflatten(-1, (frame.n_bins, frame.n_frames)).mul_(frame.windows)
    # norm="forward" leaves this inverse FFT unscaled; the 2 / n_fft is in the windows.
    coefficients = torch.fft.ifft(gathered, norm="forward")
    if not return_residual:
        return coefficients
    residual = torch.fft.irfft(spectrum * frame.residual_filter, n=frame.n_fft)[..., :length]
    return coefficients, residual


def _synthesise(coefficients: Tensor, frame: CQTFrame, length: int) -> Tensor:
    """Canonical-dual synthesis: the in-band part of the signal, ``(..., length)``."""
    weighted = torch.fft.fft(coefficients, norm="forward").mul_(frame.dual_windows)
    spectrum = coefficients.new_zeros(*coefficients.shape[:-2], frame.n_fft // 2 + 1)
    spectrum = spectrum.index_add(-1, frame.index.flatten(), weighted.flatten(-2))
    return torch.fft.irfft(spectrum, n=frame.n_fft)[..., :length]


def _frame_for(frame, design_args: tuple, length: int, dtype, device) -> CQTFrame:
    """The given frame (checked against the signal) or a new one from the settings."""
    if frame is None:
        design = _resolve_design(*design_args)
        return _build_frame(design, design.n_frames(length), dtype, device)
    if not isinstance(frame, CQTFrame):
        raise ParameterTypeError(
            f"frame must be a CQTFrame (see CQTFrame.build), got {type(frame).__name__}."
        )
    sample_rate = _as_real(design_args[0], "sample_rate")
    if sample_rate != frame.sample_rate:
        raise ParameterError(
            f"frame was built for sample_rate={frame.sample_rate}, got sample_rate={sample_rate}."
        )
    needed = frame._design().n_frames(length)
    if needed != frame.n_frames:
        raise ParameterError(
            f"frame was built for signals of {frame.n_frames} frames, but {length} samples "
            f"need {needed}; build one for this length with "
            f"CQTFrame.build(sample_rate, {length}, ...)."
        )
    if frame.device != torch.device(device) or frame.dtype != dtype:
        frame = frame.to(device=device, dtype=dtype)
    return frame


def cqt_frequencies(
    n_bins: int,
    fmin: float = C1_HZ,
    bins_per_octave: int = 12,
    *,
    dtype: torch.dtype = torch.float64,
    device: Optional[Union[str, torch.device]] = None,
) -> Tensor:
    r"""Centre frequencies in Hz of the CQT bins, ``fmin * 2 ** (k / bins_per_octave)``.

    The same values as :func:`librosa.cqt_frequencies`.

    Parameters
    ----------
    n_bins : int
        Number of bins (``>= 1``).
    fmin : float, default 32.703 (C1)
        Centre frequency of bin 0 in Hz (``> 0``).
    bins_per_octave : int, default 12
        Bins per octave (``>= 1``).
    dtype, device
        Of the returned tensor (default float64 on the CPU).

    Returns
    -------
    Tensor, shape (n_bins,)

    Examples
    --------
    >>> from nmfsep.functional import cqt_frequencies
    >>> cqt_frequencies(3, fmin=110.0, bins_per_octave=1)
    tensor([110., 220., 440.], dtype=torch.float64)
    """
    n_bins = check_count(n_bins, "n_bins", minimum=None)
    if n_bins < 1:
        raise ParameterError(f"n_bins must be at least 1, got {n_bins}.")
    fmin = _as_real(fmin, "fmin")
    if fmin <= 0:
        raise ParameterError(f"fmin must be a positive frequency in Hz, got {fmin}.")
    bins_per_octave = check_count(bins_per_octave, "bins_per_octave", minimum=None)
    if bins_per_octave < 1:
        raise ParameterError(f"bins_per_octave must be at least 1, got {bins_per_octave}.")
    octaves = torch.arange(n_bins, dtype=torch.float64) / bins_per_octave
    return (fmin * 2.0**octaves).to(dtype=dtype, device=device)


def cqt(
    waveform: Tensor,
    sample_rate: int,
    *,
    fmin: float = C1_HZ,
    fmax: Optional[float] = None,
    n_bins: Optional[int] = None,
    bins_per_octave: int = 12,
    gamma: float = 0.0,
    hop_length: Optional[int] = None,
    return_residual: bool = False,
    frame: Optional[CQTFrame] = None,
) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    r"""Invertible constant-Q transform (rasterised nonstationary Gabor transform).

    Parameters
    ----------
    waveform : Tensor, shape (..., samples)
        Real ``float32`` or ``float64`` signal(s), on any device; leading dimensions are
        batch dimensions.
    sample_rate : int
        Sampling rate in Hz, a positive whole number (``44100.0`` counts as ``44100``;
        :func:`nmfsep.io.check_sample_rate`).
    fmin : float, default 32.703 (C1)
        Centre frequency of the lowest bin in Hz, ``0 < fmin < sample_rate / 2``.
    fmax : float, optional
        Highest centre frequency allowed in Hz (``<= sample_rate / 2``): keeps the bins
        ``fmin * 2 ** (k / bins_per_octave) <= fmax``. Give ``fmax`` or ``n_bins``, not both.
    n_bins : int, optional
        Number of bins (``>= 1``). If neither ``fmax`` nor ``n_bins`` is given the bins
        reach up to the Nyquist frequency (101 bins from C1 at 22050 Hz).
    bins_per_octave : int, default 12
        Frequency resolution; a pitch shift of ``s`` semitones moves energy by
        ``s * bins_per_octave / 12`` bins.
    gamma : float, default 0.0
        Bandwidth offset in Hz, ``bw_k = f_k / Q + gamma`` (>= 0). ``gamma = 0`` is constant
        Q; ``gamma > 0`` widens the low bins (better time resolution there, the
        "variable-Q" transform of Schörkhuber et al. 2014), leaving ``hop_length`` about
        the same.
    hop_length : int, optional
        Samples between frames, the same for all bins. At most
        ``sample_rate / (widest bandwidth)`` (the painless condition that makes the frame
        exactly invertible); by default the largest 7-smooth integer below that bound
        (48 for 84 bins from C1 at 22050 Hz).
    return_residual : bool, default False
        Also return the part of the signal that the bins do not cover (below the lowest
        centre frequency and above the highest), which :func:`icqt` needs to rebuild a
        broadband signal exactly.
    frame : CQTFrame, optional
        Precomputed frame (see :meth:`CQTFrame.build`); its settings replace ``fmin``,
        ``fmax``, ``n_bins``, ``bins_per_octave``, ``gamma`` and ``hop_length``.

    Returns
    -------
    coefficients : Tensor, shape (..., n_bins, n_frames)
        ``complex64`` for ``float32`` input, ``complex128`` for ``float64``. Frame ``m`` is
        centred on sample ``m * hop_length``; ``n_frames`` is the smallest 7-smooth integer
        ``>= ceil(samples / hop_length)`` (``CQTFrame.n_frames``).
    residual : Tensor, shape (..., samples)
        Only with ``return_residual=True``: the out-of-band part of the signal.

    Raises
    ------
    ValueError
        On an empty or non-finite signal, ``fmin <= 0``, ``fmax`` above the Nyquist
        frequency, ``n_bins < 1`` or bins beyond the Nyquist frequency, ``gamma < 0``, a
        ``hop_length`` too large to invert, or a ``frame`` built for another length.
    TypeError
        If ``waveform`` is not a float32/float64 tensor.

    Notes
    -----
    Memory and time are ``O(n_bins * n_frames + samples)`` and
    ``O(samples log samples + n_bins * n_frames log n_frames)``: one FFT of the padded signal,
    a gather and ``n_bins`` inverse FFTs of ``n_frames`` points. The transform is linear and
    differentiable (autograd flows through it), and runs wherever the input lives.

    See Also
    --------
    icqt : the inverse transform.
    CQT : the same transform as an :class:`torch.nn.Module`, with cached frames.

    Examples
    --------
    >>> import torch
    >>> from nmfsep.functional import cqt, icqt
    >>> x = torch.randn(2, 11025, dtype=torch.float64)
    >>> c, residual = cqt(x, 22050, n_bins=84, return_residual=True)
    >>> c.shape, c.dtype
    (torch.Size([2, 84, 240]), torch.complex128)
    >>> y = icqt(c, 22050, 11025, residual=residual)
    >>> bool((x - y).abs().max() < 1e-12)
    True
    """
    length = _check_waveform(waveform)
    design_args = (sample_rate, fmin, fmax, n_bins, bins_per_octave, gamma, hop_length)
    frame = _frame_for(frame, design_args, length, waveform.dtype, waveform.device)
    return _analyse(waveform, frame, bool(return_residual))


def icqt(
    coefficients: Tensor,
    sample_rate: int,
    length: int,
    *,
    fmin: float = C1_HZ,
    fmax: Optional[float] = None,
    n_bins: Optional[int] = None,
    bins_per_octave: int = 12,
    gamma: float = 0.0,
    hop_length: Optional[int] = None,
    residual: Optional[Tensor] = None,
    frame: Optional[CQTFrame] = None,
) -> Tensor:
    r"""Inverse of :func:`cqt` with the canonical dual frame (exact up to rounding).

    Use the settings of the forward transform. ``n_bins`` is read from the coefficients
    when neither ``fmax`` nor ``n_bins`` is given.

    Parameters
    ----------
    coefficients : Tensor, shape (..., n_bins, n_frames)
        ``complex64`` or ``complex128`` CQT coefficients (possibly modified, e.g. masked:
        the result is then the least-squares signal whose CQT is closest to them).
    sample_rate : int
        Sampling rate in Hz, a positive whole number (``44100.0`` counts as ``44100``;
        :func:`nmfsep.io.check_sample_rate`).
    length : int
        Number of output samples: the length of the original signal.
    fmin, fmax, n_bins, bins_per_octave, gamma, hop_length, frame
        As in :func:`cqt`.
    residual : Tensor, shape (..., length), optional
        The out-of-band part returned by ``cqt(..., return_residual=True)``; it is added to
        the output. Without it the output is the signal's part between the lowest and
        highest centre frequencies (tapering beyond them).

    Returns
    -------
    Tensor, shape (..., length)
        ``float32`` for ``complex64`` input, ``float64`` for ``complex128``.

    Raises
    ------
    ValueError
        On non-finite values, coefficients whose shape does not match the settings and
        ``length``, or a residual of the wrong shape.
    TypeError
        If ``coefficients`` is not a complex tensor.

    Examples
    --------
    >>> import torch
    >>> from nmfsep.functional import cqt, icqt
    >>> x = torch.randn(5000, dtype=torch.float64)
    >>> c, r = cqt(x, 16000, fmin=50.0, return_residual=True)
    >>> y = icqt(c, 16000, 5000, fmin=50.0, residual=r)
    >>> bool((x - y).abs().max() < 1e-12)
    True
    """
    real_dtype = _check_coefficients(coefficients)
    length = _check_length(length)
    if frame is None and fmax is None and n_bins is None:
        n_bins = coefficients.shape[-2]
    design_args = (sample_rate, fmin, fmax, n_bins, bins_per_octave, gamma, hop_length)
    frame = _frame_for(frame, design_args, length, real_dtype, coefficients.device)
    expected = (frame.n_bins, frame.n_frames)
    if tuple(coefficients.shape[-2:]) != expected:
        raise ParameterError(
            f"coefficients have {tuple(coefficients.shape[-2:])} (n_bins, n_frames) but these "
            f"settings with length={length} give {expected}; pass the settings and length "
            f"used by cqt."
        )
    check_finite(coefficients, "coefficients")
    waveform = _synthesise(coefficients, frame, length)
    if residual is None:
        return waveform
    if not isinstance(residual, Tensor) or residual.dtype not in _SIGNAL_DTYPES:
        raise ParameterTypeError("residual must be a float32/float64 tensor, the one cqt returned.")
    if tuple(residual.shape) != tuple(waveform.shape):
        raise ParameterError(
            f"residual has shape {tuple(residual.shape)} but the output has "
            f"{tuple(waveform.shape)}; pass the residual that cqt(..., return_residual=True) "
            f"returned for this signal."
        )
    check_finite(residual, "residual")
    return waveform + residual


# --------------------------------------------------------------------------- module
class CQT(nn.Module):
    r"""Invertible constant-Q transform as a module, with its inverse.

    A thin wrapper over :func:`cqt` / :func:`icqt` that validates its settings once and
    caches the :class:`CQTFrame` of the last few signal sizes (per dtype and device).

    Parameters
    ----------
    sample_rate : int
        Sampling rate in Hz, a positive whole number (``44100.0`` counts as ``44100``;
        :func:`nmfsep.io.check_sample_rate`).
    fmin, fmax, n_bins, bins_per_octave, gamma, hop_length
        As in :func:`cqt`.
    power : float, optional
        ``None`` (default) returns complex coefficients; ``1.0`` the magnitude, ``2.0`` the
        power (``|c| ** power``).
    cache_size : int, default 4
        Number of frames kept.

    Attributes
    ----------
    frequencies : Tensor, shape (n_bins,)
        Centre frequency of each bin in Hz (a non-persistent buffer).
    n_bins, hop_length : int
    frame_rate : float
        Frames per second, ``sample_rate / hop_length``.
    kind : str
        ``"cqt"``, the representation's name in :class:`~nmfsep.separation.Templates`.
    n_freqs : int
        ``n_bins`` (the front-end protocol's name).
    settings : dict
        ``fmin``, ``n_bins``, ``bins_per_octave`` and ``hop_length`` (and ``gamma`` when not
        0): what templates record and compare.

    Notes
    -----
    The module answers the front-end protocol (:class:`~nmfsep.separation.FrontEnd`),
    so ``Separator(front_end=CQT(22050, fmin=55.0))`` separates with it; the mixture must
    then be at the CQT's sample rate.

    Examples
    --------
    >>> import torch
    >>> from nmfsep.transforms import CQT
    >>> transform = CQT(22050, n_bins=84)
    >>> transform.hop_length, round(transform.frame_rate, 1)
    (48, 459.4)
    >>> x = torch.randn(2, 22050)
    >>> c, residual = transform(x, return_residual=True)   # (2, 84, 480) complex64
    >>> y = transform.inverse(c, 22050, residual=residual)
    >>> bool((x - y).abs().max() < 1e-4)
    True
    """

    frequencies: Tensor
    kind = "cqt"

    def __init__(
        self,
        sample_rate: int,
        fmin: float = C1_HZ,
        fmax: Optional[float] = None,
        n_bins: Optional[int] = None,
        bins_per_octave: int = 12,
        gamma: float = 0.0,
        hop_length: Optional[int] = None,
        power: Optional[float] = None,
        cache_size: int = 4,
    ) -> None:
        super().__init__()
        self._design = _resolve_design(
            sample_rate, fmin, fmax, n_bins, bins_per_octave, gamma, hop_length
        )
        if power is not None:
            power = _as_real(power, "power")
            if power <= 0:
                raise ParameterError(f"power must be positive (1: magnitude, 2: power), got {power}.")
        self.power = power
        self.cache_size = check_count(cache_size, "cache_size", minimum=None)
        if self.cache_size < 1:
            raise ParameterError(f"cache_size must be at least 1, got {self.cache_size}.")
        self.register_buffer("frequencies", self._design.frequencies(), persistent=False)
        self._frames: "OrderedDict[tuple, CQTFrame]" = OrderedDict()

    sample_rate = property(lambda self: self._design.sample_rate, doc="Sampling rate in Hz.")
    fmin = property(lambda self: self._design.fmin, doc="Centre frequency of bin 0 in Hz.")
    n_bins = property(lambda self: self._design.n_bins, doc="Number of bins.")
    bins_per_octave = property(lambda self: self._design.bins_per_octave, doc="Bins per octave.")
    gamma = property(lambda self: self._design.gamma, doc="Bandwidth offset in Hz.")
    hop_length = property(lambda self: self._design.hop_length, doc="Samples between frames.")

    @property
    def frame_rate(self) -> float:
        """Frames per second, ``sample_rate / hop_length``."""
        return self._design.sample_rate / self._design.hop_length

    def frame(
        self,
        length: int,
        dtype: torch.dtype = torch.float32,
        device: Optional[Union[str, torch.device]] = None,
    ) -> CQTFrame:
        """The (cached) :class:`CQTFrame` for signals of ``length`` samples."""
        n_frames = self._design.n_frames(_check_length(length))
        key = (n_frames, dtype, torch.device(device) if device is not None else torch.device("cpu"))
        frame = self._frames.get(key)
        if frame is None:
            frame = _build_frame(self._design, n_frames, dtype, key[2])
            self._frames[key] = frame
            while len(self._frames) > self.cache_size:
                self._frames.popitem(last=False)
        else:
            self._frames.move_to_end(key)
        return frame

    def forward(
        self, waveform: Tensor, return_residual: bool = False
    ) -> Union[Tensor, Tuple[Tensor, Tensor]]:
        """CQT ``(..., n_bins, n_frames)`` of ``waveform (..., samples)``; see :func:`cqt`.

        With ``return_residual=True`` also returns the out-of-band residual ``(..., samples)``.
        """
        length = _check_waveform(waveform)
        frame = self.frame(length, waveform.dtype, waveform.device)
        out = _analyse(waveform, frame, bool(return_residual))
        if self.power is None:
            return out
        coefficients, *rest = out if return_residual else (out,)
        magnitude = coefficients.abs()
        magnitude = magnitude if self.power == 1.0 else magnitude.pow(self.power)
        return (magnitude, *rest) if return_residual else magnitude

    def inverse(
        self, coefficients: Tensor, length: int, residual: Optional[Tensor] = None
    ) -> Tensor:
        """Signal ``(..., length)`` of complex coefficients; see :func:`icqt`."""
        frame = self.frame(length, _check_coefficients(coefficients), coefficients.device)
        return icqt(
            coefficients, self.sample_rate, length, residual=residual, frame=frame
        )

    @classmethod
    def from_settings(cls, sample_rate: int, *, fmin=None, n_bins=None, bins_per_octave=None,
                      hop_length=None, gamma=None, **others) -> "CQT":
        """The CQT of the string front end (``front_end="cqt"``) or of templates' settings.

        ``None`` takes the default: ``fmin`` C1 (32.7 Hz), ``n_bins`` up to the Nyquist
        frequency, 12 ``bins_per_octave``, the largest exactly invertible ``hop_length``.
        Any other setting that is not None (an STFT's ``n_fft``, ``window``) is a ValueError.
        """
        wrong = sorted(k for k, v in others.items() if v is not None)
        if wrong:
            raise ParameterError(f"{wrong} do not apply to front_end='cqt'.")
        return cls(sample_rate, fmin=C1_HZ if fmin is None else fmin, n_bins=n_bins,
                   bins_per_octave=12 if bins_per_octave is None else bins_per_octave,
                   gamma=0.0 if gamma is None else gamma, hop_length=hop_length)

    # -- the front-end protocol ------------------------------------------------------------
    @property
    def n_freqs(self) -> int:
        """Frequency bins, ``n_bins``."""
        return self.n_bins

    @property
    def settings(self) -> dict:
        """The settings templates record (see the class's attributes)."""
        settings = dict(fmin=self.fmin, n_bins=self.n_bins,
                        bins_per_octave=self.bins_per_octave, hop_length=self.hop_length)
        if self.gamma:
            settings["gamma"] = self.gamma
        return settings

    def bin_frequencies(self, sample_rate: int) -> Tensor:
        """Centre frequency of every bin in Hz, ``(n_bins,)`` float64.

        Raises
        ------
        ValueError
            If ``sample_rate`` is not the rate the CQT was designed for.
        """
        if float(sample_rate) != self.sample_rate:
            raise ParameterError(
                f"the CQT was designed for {self.sample_rate:g} Hz but the audio is at "
                f"{sample_rate} Hz; build it with CQT({sample_rate}, ...) or resample the audio."
            )
        return self.frequencies.to(torch.float64)

    def n_frames(self, length: int) -> int:
        """Frames of the CQT of a signal of ``length`` samples."""
        return self._design.n_frames(length)

    def min_length(self) -> int:
        """Fewest samples :meth:`analyse` accepts (one)."""
        return 1

    def analyse(self, waveform: Tensor) -> Tuple[Tensor, Tensor]:
        """Complex coefficients ``(..., n_bins, frames)`` of ``waveform (..., samples)`` and
        the out-of-band residual ``(..., samples)`` (complex whatever ``power`` is)."""
        length = _check_waveform(waveform)
        return _analyse(waveform, self.frame(length, waveform.dtype, waveform.device), True)

    def synthesise(self, spec: Tensor, length: int, residual: Optional[Tensor] = None) -> Tensor:
        """Waveforms ``(..., length)`` of complex coefficients, plus ``residual``."""
        return self.inverse(spec, length, residual=residual)

    def extra_repr(self) -> str:
        d = self._design
        return (
            f"sample_rate={d.sample_rate}, fmin={d.fmin:.2f}, n_bins={d.n_bins}, "
            f"bins_per_octave={d.bins_per_octave}, gamma={d.gamma}, hop_length={d.hop_length}, "
            f"power={self.power}"
        )
