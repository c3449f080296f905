"""Short-time Fourier transform and its inverse, built on torchaudio.

Spectrograms follow torchaudio's layout ``(..., freq, frames)`` with ``freq = n_fft // 2 + 1``
(one-sided); any leading dimensions (batch, channels) pass through. Everything here is
differentiable and works for ``float32`` and ``float64`` signals.

Two faces, one implementation: the functions :func:`stft`, :func:`istft`, :func:`magnitude`
and the module :class:`STFT`, whose ``forward`` / ``inverse`` call the functions.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from .._core._validation import check_count, check_real
from .._errors import ParameterError, ParameterTypeError
from ._backend import require_torchaudio
from ._checks import SIGNAL_DTYPES, check_finite, check_sample_rate, check_signal_type

__all__ = [
    "DEFAULT_N_FFT",
    "DEFAULT_WINDOW",
    "STFT",
    "WINDOWS",
    "frames_to_time",
    "istft",
    "magnitude",
    "n_fft_for_duration",
    "stft",
    "stft_frequencies",
]

#: Window names accepted by ``window=`` (periodic windows, as librosa and torchaudio use).
WINDOWS = ("hann", "hamming", "blackman", "bartlett", "boxcar")
#: The one STFT default set: ``n_fft`` and window of :func:`stft`, :class:`STFT` and of the
#: string front end (``Separator(front_end="stft")``); the hop defaults to a quarter of the
#: window everywhere (:func:`stft`). Recipes that scale the window with the sample rate take
#: its size from :func:`n_fft_for_duration`.
DEFAULT_N_FFT = 2048
DEFAULT_WINDOW = "hann"

_WINDOW_FUNCTIONS = {
    "hann": torch.hann_window,
    "hamming": torch.hamming_window,
    "blackman": torch.blackman_window,
    "bartlett": torch.bartlett_window,
}

_PAD_MODES = ("reflect", "constant", "replicate", "circular")
_SIGNAL_DTYPES = SIGNAL_DTYPES
_SPEC_DTYPES = (torch.complex64, torch.complex128)

WindowLike = Union[str, Tensor]


# --------------------------------------------------------------------------- validation
def _resolve_sizes(n_fft, hop_length, win_length) -> tuple[int, int, int]:
    """Validate the frame sizes and fill the torchaudio/librosa defaults.

    ``win_length`` defaults to ``n_fft`` and ``hop_length`` to ``win_length // 4``.
    """
    n_fft = check_count(n_fft, "n_fft", minimum=None)
    if n_fft < 2:
        raise ParameterError(f"n_fft must be at least 2, got {n_fft}.")
    win_length = n_fft if win_length is None else check_count(win_length, "win_length", minimum=None)
    if not 1 <= win_length <= n_fft:
        raise ParameterError(
            f"win_length must be between 1 and n_fft={n_fft}, got {win_length}; "
            f"leave it as None to use win_length=n_fft."
        )
    hop_length = max(win_length // 4, 1) if hop_length is None else check_count(hop_length, "hop_length", minimum=None)
    if not 1 <= hop_length <= win_length:
        raise ParameterError(
            f"hop_length must be between 1 and win_length={win_length}, got {hop_length}: "
            f"a hop longer than the window skips samples and cannot be inverted."
        )
    return n_fft, hop_length, win_length


def _resolve_window(window: WindowLike, win_length: int, dtype: torch.dtype, device) -> Tensor:
    """Return the analysis window as a ``(win_length,)`` tensor of ``dtype`` on ``device``."""
    if isinstance(window, str):
        name = window.lower()
        if name == "boxcar":
            return torch.ones(win_length, dtype=dtype, device=device)
        if name not in _WINDOW_FUNCTIONS:
            raise ParameterError(f"unknown window {window!r}; use one of {WINDOWS} or a tensor.")
        return _WINDOW_FUNCTIONS[name](win_length, periodic=True, dtype=dtype, device=device)
    if not isinstance(window, Tensor):
        raise ParameterTypeError(
            f"window must be a name in {WINDOWS} or a 1-D tensor, got {type(window).__name__}."
        )
    if window.ndim != 1 or window.shape[0] != win_length:
        raise ParameterError(
            f"window must be a 1-D tensor of length win_length={win_length}, "
            f"got shape {tuple(window.shape)}."
        )
    if window.is_complex() or not window.is_floating_point():
        raise ParameterTypeError(f"window must be a real floating-point tensor, got {window.dtype}.")
    if not torch.isfinite(window).all():
        raise ParameterError("window contains NaN or Inf values.")
    return window.to(dtype=dtype, device=device)


def _check_pad_mode(pad_mode) -> str:
    if pad_mode not in _PAD_MODES:
        raise ParameterError(f"pad_mode must be one of {_PAD_MODES}, got {pad_mode!r}.")
    return pad_mode


def _check_waveform(waveform, n_fft: int, center: bool, pad_mode: str) -> None:
    check_signal_type(waveform)
    if waveform.ndim < 1:
        raise ParameterError("waveform must have at least one dimension (..., samples).")
    length = waveform.shape[-1]
    # Reflect padding of n_fft // 2 needs more samples than the pad; without centring a
    # frame needs a full n_fft samples.
    if center:
        needed = n_fft // 2 + 1 if pad_mode == "reflect" else 1
    else:
        needed = n_fft
    if length < needed:
        how = (
            f"center=True with pad_mode={pad_mode!r}" if center else "center=False"
        )
        raise ParameterError(
            f"waveform has {length} samples but n_fft={n_fft} with {how} needs at least "
            f"{needed}; use a smaller n_fft or pad the signal."
        )
    check_finite(waveform, "waveform")


def _check_spec(spec, n_fft: Optional[int]) -> int:
    """Validate a one-sided complex spectrogram and return ``n_fft`` (inferred if None)."""
    if not isinstance(spec, Tensor):
        raise ParameterTypeError(f"spec must be a complex torch.Tensor, got {type(spec).__name__}.")
    if spec.dtype not in _SPEC_DTYPES:
        raise ParameterTypeError(
            f"spec must be complex64 or complex128 (the output of stft), got {spec.dtype}; "
            f"a magnitude spectrogram has no phase and cannot be inverted directly."
        )
    if spec.ndim < 2 or spec.shape[-1] < 1:
        raise ParameterError(
            f"spec must have shape (..., freq, frames) with at least one frame, "
            f"got {tuple(spec.shape)}."
        )
    n_freqs = spec.shape[-2]
    if n_fft is None:
        n_fft = 2 * (n_freqs - 1)
    else:
        n_fft = check_count(n_fft, "n_fft", minimum=None)
        if n_freqs != n_fft // 2 + 1:
            raise ParameterError(
                f"spec has {n_freqs} frequency bins but n_fft={n_fft} gives "
                f"{n_fft // 2 + 1}; pass the n_fft used for the forward transform."
            )
    return n_fft


# --------------------------------------------------------------------------- functions
def stft(
    waveform: Tensor,
    n_fft: int = DEFAULT_N_FFT,
    hop_length: Optional[int] = None,
    win_length: Optional[int] = None,
    window: WindowLike = DEFAULT_WINDOW,
    center: bool = True,
    pad_mode: str = "reflect",
    normalized: Union[bool, str] = False,
) -> Tensor:
    r"""Complex short-time Fourier transform of a (batch of) signal(s).

    Parameters
    ----------
    waveform : Tensor, shape (..., samples)
        Real ``float32`` or ``float64`` signal(s); leading dimensions are batch dimensions.
    n_fft : int, default 2048
        FFT size in samples (at least 2); gives ``n_fft // 2 + 1`` frequency bins.
    hop_length : int, optional
        Samples between successive frames, ``1 <= hop_length <= win_length``.
        Defaults to ``win_length // 4``.
    win_length : int, optional
        Window length in samples, ``1 <= win_length <= n_fft`` (zero-padded on both sides
        to ``n_fft``). Defaults to ``n_fft``.
    window : str or Tensor, default "hann"
        One of :data:`WINDOWS` (periodic) or a real tensor of shape ``(win_length,)``.
    center : bool, default True
        Pad ``n_fft // 2`` samples on both sides so that frame ``t`` is centred on sample
        ``t * hop_length``.
    pad_mode : str, default "reflect"
        Padding used when ``center=True`` (see :func:`torch.nn.functional.pad`).
    normalized : bool or str, default False
        torchaudio's normalisation: ``"window"`` (or ``True``) divides by the window's L2
        norm, ``"frame_length"`` by ``sqrt(n_fft)``.

    Returns
    -------
    Tensor, shape (..., n_fft // 2 + 1, frames)
        ``complex64`` for ``float32`` input, ``complex128`` for ``float64``. With
        ``center=True`` ``frames = 1 + samples // hop_length``; otherwise
        ``1 + (samples - n_fft) // hop_length``.

    Raises
    ------
    ValueError
        On ``n_fft < 2``, a hop or window length out of range, a signal too short for one
        frame, or NaN/Inf samples.
    TypeError
        If ``waveform`` is not a float32/float64 tensor.

    See Also
    --------
    istft : the inverse transform.
    STFT : the same transform as an :class:`torch.nn.Module`.

    Examples
    --------
    >>> import torch
    >>> from nmfsep.functional import stft
    >>> spec = stft(torch.randn(2, 16000), n_fft=512, hop_length=128)
    >>> spec.shape, spec.dtype
    (torch.Size([2, 257, 126]), torch.complex64)
    """
    n_fft, hop_length, win_length = _resolve_sizes(n_fft, hop_length, win_length)
    _check_waveform(waveform, n_fft, center, _check_pad_mode(pad_mode))
    window = _resolve_window(window, win_length, waveform.dtype, waveform.device)
    torchaudio = require_torchaudio()
    return torchaudio.functional.spectrogram(
        waveform,
        pad=0,
        window=window,
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=win_length,
        power=None,
        normalized=normalized,
        center=center,
        pad_mode=pad_mode,
        onesided=True,
    )


def istft(
    spec: Tensor,
    n_fft: Optional[int] = None,
    hop_length: Optional[int] = None,
    win_length: Optional[int] = None,
    window: WindowLike = DEFAULT_WINDOW,
    center: bool = True,
    normalized: Union[bool, str] = False,
    length: Optional[int] = None,
) -> Tensor:
    r"""Inverse short-time Fourier transform (least-squares overlap-add).

    Use the same ``n_fft``, ``hop_length``, ``win_length``, ``window``, ``center`` and
    ``normalized`` as the forward :func:`stft`.

    Parameters
    ----------
    spec : Tensor, shape (..., n_fft // 2 + 1, frames)
        One-sided ``complex64`` or ``complex128`` spectrogram.
    n_fft : int, optional
        FFT size; inferred as ``2 * (freq - 1)`` when None (pass it for an odd ``n_fft``).
    hop_length, win_length, window, center, normalized
        As in :func:`stft`.
    length : int, optional
        Number of output samples; pass the original signal length for an exact round trip.
        Defaults to what the frames cover (``(frames - 1) * hop_length`` with ``center=True``).

    Returns
    -------
    Tensor, shape (..., samples)
        ``float32`` for ``complex64`` input, ``float64`` for ``complex128``.

    Raises
    ------
    ValueError
        On mismatching frequency bins, NaN/Inf values, a window/hop pair that violates the
        nonzero overlap-add (NOLA) condition, or a single centred frame without ``length``.
    TypeError
        If ``spec`` is not a complex tensor.

    Examples
    --------
    >>> import torch
    >>> from nmfsep.functional import stft, istft
    >>> x = torch.randn(16000, dtype=torch.float64)
    >>> y = istft(stft(x, n_fft=512, hop_length=128), n_fft=512, hop_length=128, length=16000)
    >>> bool((x - y).abs().max() < 1e-10)
    True
    """
    n_fft = _check_spec(spec, n_fft)
    n_fft, hop_length, win_length = _resolve_sizes(n_fft, hop_length, win_length)
    if length is not None:
        length = check_count(length, "length", minimum=None)
        if length < 1:
            raise ParameterError(f"length must be a positive number of samples, got {length}.")
    elif center and spec.shape[-1] < 2:
        raise ParameterError(
            "a single centred frame covers no complete samples; pass length= (the number "
            "of samples of the original signal)."
        )
    check_finite(spec, "spec")
    real_dtype = torch.float32 if spec.dtype == torch.complex64 else torch.float64
    window = _resolve_window(window, win_length, real_dtype, spec.device)
    torchaudio = require_torchaudio()
    try:
        return torchaudio.functional.inverse_spectrogram(
            spec,
            length=length,
            pad=0,
            window=window,
            n_fft=n_fft,
            hop_length=hop_length,
            win_length=win_length,
            normalized=normalized,
            center=center,
            onesided=True,
        )
    except RuntimeError as err:
        if "window overlap add" not in str(err):
            raise
        raise ParameterError(
            f"the window with win_length={win_length} and hop_length={hop_length} "
            f"(center={center}) violates the nonzero overlap-add (NOLA) condition, so the "
            f"signal cannot be recovered; use a smaller hop_length, or with center=False a "
            f"window whose ends are non-zero (e.g. 'hamming')."
        ) from err


def magnitude(spec: Tensor, power: float = 1.0) -> Tensor:
    r"""Magnitude spectrogram ``|spec| ** power``.

    Parameters
    ----------
    spec : Tensor, shape (..., freq, frames)
        Complex spectrogram (a real one is treated by its absolute value).
    power : float, default 1.0
        Exponent, ``> 0``: 1 gives the magnitude, 2 the power spectrogram.

    Returns
    -------
    Tensor, shape (..., freq, frames)
        Real, non-negative, of the matching real dtype.

    Examples
    --------
    >>> import torch
    >>> from nmfsep.functional import magnitude
    >>> magnitude(torch.tensor([3 + 4j]), power=2.0)
    tensor([25.])
    """
    if not isinstance(spec, Tensor):
        raise ParameterTypeError(f"spec must be a torch.Tensor, got {type(spec).__name__}.")
    if not (spec.is_complex() or spec.is_floating_point()):
        raise ParameterTypeError(f"spec must be a complex or floating-point tensor, got {spec.dtype}.")
    power = float(power)
    if not (math.isfinite(power) and power > 0):
        raise ParameterError(f"power must be a positive finite number, got {power}.")
    mag = spec.abs()
    return mag if power == 1.0 else mag.pow(power)


def stft_frequencies(
    sample_rate: int,
    n_fft: int,
    *,
    dtype: Optional[torch.dtype] = None,
    device: Optional[torch.device] = None,
) -> Tensor:
    r"""Centre frequency in Hz of each STFT bin, ``k * sample_rate / n_fft``.

    Parameters
    ----------
    sample_rate : int
        Sampling rate in Hz, a positive whole number (``44100.0`` counts as ``44100``;
        :func:`nmfsep.io.check_sample_rate`).
    n_fft : int
        FFT size (at least 2).
    dtype, device
        Of the returned tensor (default: torch's default dtype, CPU).

    Returns
    -------
    Tensor, shape (n_fft // 2 + 1,)
        Frequencies from 0 Hz up to (and for even ``n_fft`` including) ``sample_rate / 2``.

    Examples
    --------
    >>> from nmfsep.functional import stft_frequencies
    >>> stft_frequencies(16000, 8)
    tensor([   0., 2000., 4000., 6000., 8000.])
    """
    n_fft, _, _ = _resolve_sizes(n_fft, None, None)
    sample_rate = check_sample_rate(sample_rate)
    return torch.fft.rfftfreq(n_fft, d=1.0 / sample_rate, dtype=dtype, device=device)


def n_fft_for_duration(seconds: float, sample_rate: int) -> int:
    r"""FFT size of windows of about ``seconds`` at ``sample_rate``: the power of two closest
    to ``seconds * sample_rate`` samples (at least 16).

    How the recipes keep a window's duration at every sample rate, so that their frequency
    resolution does not change with the rate (the hop is then ``n_fft // 4``, the default).

    Parameters
    ----------
    seconds : float
        Window duration in seconds (``> 0``).
    sample_rate : int
        Sampling rate in Hz, a positive whole number (``44100.0`` counts as ``44100``;
        :func:`nmfsep.io.check_sample_rate`).

    Returns
    -------
    int
        ``2 ** max(4, round(log2(seconds * sample_rate)))``: 2048 for 93 ms at 22.05 kHz,
        4096 at 44.1 kHz.
    """
    sample_rate = check_sample_rate(sample_rate)
    seconds = check_real(seconds, "seconds", low=0, low_open=True, unit="s")
    return 2 ** max(4, round(math.log2(seconds * sample_rate)))


def frames_to_time(
    frames: Union[int, Sequence[int], Tensor],
    sample_rate: int,
    hop_length: int,
    n_fft: Optional[int] = None,
) -> Tensor:
    r"""Time in seconds of STFT frame indices, ``frames * hop_length / sample_rate``.

    Follows :func:`librosa.frames_to_time`: with ``center=True`` (the default of
    :func:`stft`) frame ``t`` is centred on sample ``t * hop_length``; for frames computed
    with ``center=False`` pass ``n_fft`` to add the half-window offset ``n_fft // 2``.

    Parameters
    ----------
    frames : int, sequence of int or Tensor
        Frame indices.
    sample_rate : int
        Sampling rate in Hz, a positive whole number (``44100.0`` counts as ``44100``;
        :func:`nmfsep.io.check_sample_rate`).
    hop_length : int
        Samples between frames (``>= 1``).
    n_fft : int, optional
        FFT size, only for non-centred frames.

    Returns
    -------
    Tensor
        ``float64`` times in seconds, the shape of ``frames``.

    Examples
    --------
    >>> from nmfsep.functional import frames_to_time
    >>> frames_to_time([0, 1, 2], sample_rate=16000, hop_length=160)
    tensor([0.0000, 0.0100, 0.0200], dtype=torch.float64)
    """
    sample_rate = check_sample_rate(sample_rate)
    hop_length = check_count(hop_length, "hop_length", minimum=None)
    if hop_length < 1:
        raise ParameterError(f"hop_length must be at least 1, got {hop_length}.")
    offset = 0 if n_fft is None else check_count(n_fft, "n_fft", minimum=None) // 2
    frames = torch.as_tensor(frames)
    if frames.is_complex() or frames.is_floating_point() or frames.dtype == torch.bool:
        raise ParameterTypeError(f"frames must be integer frame indices, got {frames.dtype}.")
    samples = frames.to(torch.float64) * hop_length + offset
    return samples / sample_rate


# --------------------------------------------------------------------------- module
class STFT(nn.Module):
    r"""Short-time Fourier transform as a module, with its inverse.

    A thin wrapper over :func:`stft` / :func:`istft` that validates its settings once and
    keeps the window as a (non-persistent) buffer, so ``.to(device)`` moves it. It answers
    the front-end protocol (:class:`~nmfsep.separation.FrontEnd`), so
    ``Separator(front_end=STFT(n_fft=1024, hop_length=256))`` separates with it.

    Parameters
    ----------
    n_fft, hop_length, win_length, window, center, pad_mode, normalized
        As in :func:`stft`.

    Attributes
    ----------
    kind : str
        ``"stft"``, the representation's name in :class:`~nmfsep.separation.Templates`.
    n_freqs : int
        Frequency bins, ``n_fft // 2 + 1``.
    settings : dict
        ``n_fft``, ``hop_length`` and ``window`` (the window's name, ``"custom"`` for a
        tensor), plus ``win_length``, ``center``, ``pad_mode`` and ``normalized`` where
        they differ from the defaults: what templates record and compare.

    Examples
    --------
    >>> import torch
    >>> from nmfsep.transforms import STFT
    >>> transform = STFT(n_fft=512, hop_length=128)
    >>> x = torch.randn(2, 4000)
    >>> spec = transform(x)                       # (2, 257, 32) complex64
    >>> y = transform.inverse(spec, length=4000)  # (2, 4000)
    >>> bool((x - y).abs().max() < 1e-5)
    True
    """

    window: Tensor
    kind = "stft"

    def __init__(
        self,
        n_fft: int = DEFAULT_N_FFT,
        hop_length: Optional[int] = None,
        win_length: Optional[int] = None,
        window: WindowLike = DEFAULT_WINDOW,
        center: bool = True,
        pad_mode: str = "reflect",
        normalized: Union[bool, str] = False,
    ) -> None:
        super().__init__()
        self.n_fft, self.hop_length, self.win_length = _resolve_sizes(
            n_fft, hop_length, win_length
        )
        self.center = bool(center)
        self.pad_mode = _check_pad_mode(pad_mode)
        self.normalized = normalized
        dtype = window.dtype if isinstance(window, Tensor) else torch.get_default_dtype()
        self.register_buffer(
            "window", _resolve_window(window, self.win_length, dtype, None), persistent=False
        )
        self._window_name = window.lower() if isinstance(window, str) else "custom"

    @classmethod
    def from_settings(cls, sample_rate: Optional[int] = None, *, n_fft=None, hop_length=None,
                      window=None, **others) -> "STFT":
        """The STFT of the string front end (``front_end="stft"``) or of templates' settings.

        ``None`` takes the default (:data:`DEFAULT_N_FFT`, a quarter-window hop,
        :data:`DEFAULT_WINDOW`); the window must be a name of :data:`WINDOWS`.
        ``sample_rate`` is not needed (the STFT works at any rate); ``win_length``,
        ``center``, ``pad_mode`` and ``normalized`` pass through; any other setting that is
        not None (a CQT's ``fmin``, ``n_bins``, ``bins_per_octave``) is a ValueError.
        """
        extra = {k: others.pop(k) for k in ("win_length", "center", "pad_mode", "normalized")
                 if k in others}
        wrong = sorted(k for k, v in others.items() if v is not None)
        if wrong:
            raise ParameterError(f"{wrong} do not apply to front_end='stft'.")
        window = DEFAULT_WINDOW if window is None else window
        if not isinstance(window, str) or window.lower() not in WINDOWS:
            raise ParameterError(f"window must be one of {WINDOWS}, got {window!r}.")
        return cls(n_fft=DEFAULT_N_FFT if n_fft is None else n_fft, hop_length=hop_length,
                   window=window.lower(), **extra)

    # -- the front-end protocol ------------------------------------------------------------
    @property
    def n_freqs(self) -> int:
        """Frequency bins, ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def settings(self) -> dict:
        """The settings templates record (see the class's attributes)."""
        settings = dict(n_fft=self.n_fft, hop_length=self.hop_length, window=self._window_name)
        # the others only when not the default: templates saved before compare equal
        for name, value, default in (("win_length", self.win_length, self.n_fft),
                                     ("center", self.center, True),
                                     ("pad_mode", self.pad_mode, "reflect"),
                                     ("normalized", self.normalized, False)):
            if value != default:
                settings[name] = value
        return settings

    def bin_frequencies(self, sample_rate: int) -> Tensor:
        """Centre frequency of every bin in Hz at ``sample_rate``, ``(n_freqs,)`` float64."""
        return stft_frequencies(sample_rate, self.n_fft, dtype=torch.float64)

    def n_frames(self, length: int) -> int:
        """Frames of the spectrogram of a signal of ``length`` samples."""
        if self.center:
            return 1 + length // self.hop_length
        return 1 + (length - self.n_fft) // self.hop_length

    def min_length(self) -> int:
        """Fewest samples :meth:`analyse` accepts (reflect padding needs ``n_fft // 2 + 1``,
        an uncentred frame ``n_fft``)."""
        if not self.center:
            return self.n_fft
        return self.n_fft // 2 + 1 if self.pad_mode == "reflect" else 1

    def analyse(self, waveform: Tensor) -> Tuple[Tensor, None]:
        """Complex spectrogram ``(..., n_freqs, frames)`` of ``waveform (..., samples)``, and
        None: the STFT represents the whole signal (no residual)."""
        return self(waveform), None

    def synthesise(self, spec: Tensor, length: int, residual: Optional[Tensor] = None) -> Tensor:
        """Waveforms ``(..., length)`` of a complex spectrogram ``(..., n_freqs, frames)``,
        plus ``residual`` ``(..., length)`` if given."""
        waveform = self.inverse(spec, length)
        return waveform if residual is None else waveform + residual

    def _settings(self) -> dict:
        return dict(
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=self.center,
            normalized=self.normalized,
        )

    def forward(self, waveform: Tensor) -> Tensor:
        """Complex spectrogram ``(..., n_fft // 2 + 1, frames)`` of ``waveform (..., samples)``."""
        return stft(waveform, pad_mode=self.pad_mode, **self._settings())

    def inverse(self, spec: Tensor, length: Optional[int] = None) -> Tensor:
        """Signal ``(..., samples)`` of a complex spectrogram; see :func:`istft`."""
        return istft(spec, length=length, **self._settings())

    def extra_repr(self) -> str:
        return (
            f"n_fft={self.n_fft}, hop_length={self.hop_length}, win_length={self.win_length}, "
            f"center={self.center}, pad_mode={self.pad_mode!r}, normalized={self.normalized!r}"
        )
