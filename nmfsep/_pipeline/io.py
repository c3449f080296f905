"""Reading and writing audio files (soundfile / libsndfile), with validation.

Waveforms are tensors of shape ``(channels, samples)`` with float samples nominally in
``[-1, 1]``, as in torchaudio. Any format libsndfile reads is accepted (WAV, FLAC, OGG
Vorbis/Opus, AIFF, and MP3 with libsndfile >= 1.1); files are written atomically and never
overwrite an existing file unless ``overwrite=True``.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np
import soundfile as sf
import torch
from torch import Tensor

from .._errors import ParameterError, ParameterTypeError
from ._backend import require_torchaudio
from ._checks import check_sample_rate
from ._files import check_readable_file, write_atomically

__all__ = ["AUDIO_SUFFIXES", "AudioInfo", "check_audio", "check_sample_rate", "info", "load", "resample",
           "save"]

PathLike = Union[str, "os.PathLike[str]"]

# Subtypes that store floats; every other subtype has a fixed range and clips at ±1.
_FLOAT_SUBTYPES = frozenset({"FLOAT", "DOUBLE"})
#: Samples per channel written at once (2 MiB of stereo float32).
_WRITE_BLOCK = 2 ** 18
# The suffixes of the common audio formats and their libsndfile format names; save() writes
# other suffixes as the format of that name (.w64 -> W64) where libsndfile has one.
_SUFFIX_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".oga": "OGG", ".opus": "OGG",
                   ".aif": "AIFF", ".aiff": "AIFF", ".aifc": "AIFF", ".au": "AU", ".snd": "AU",
                   ".mp3": "MP3"}
#: Suffixes (lower case, with the dot) of the audio files that nmfsep takes from a folder
#: (hits, training recordings, evaluation's estimates and references): those of
#: ``_SUFFIX_FORMATS`` whose format this soundfile reads (``.mp3`` needs libsndfile >= 1.1).
#: The one list: every module that lists audio files reads it.
AUDIO_SUFFIXES = tuple(suffix for suffix, fmt in _SUFFIX_FORMATS.items()
                       if fmt in sf.available_formats())


@dataclass(frozen=True)
class AudioInfo:
    """What an audio file holds, read from its header.

    Attributes
    ----------
    sample_rate : int
        Samples per second per channel, in Hz.
    channels : int
        Number of channels.
    frames : int
        Number of samples per channel.
    duration : float
        Length in seconds, ``frames / sample_rate``.
    format : str
        libsndfile container name, e.g. ``"WAV"`` or ``"FLAC"``.
    subtype : str
        libsndfile sample encoding, e.g. ``"PCM_16"`` or ``"FLOAT"``.
    """

    sample_rate: int
    channels: int
    frames: int
    duration: float
    format: str
    subtype: str


# --------------------------------------------------------------------------- validation
def check_audio(waveform, *, name: str = "waveform", allow_silent: bool = False) -> Tensor:
    """Validate a waveform and return it as a tensor.

    Parameters
    ----------
    waveform : Tensor or ndarray, shape (..., samples)
        Real floating-point signal(s); typically ``(channels, samples)``.
    name : str, default "waveform"
        What to call the signal in error messages (e.g. a file path).
    allow_silent : bool, default False
        Accept an all-zero signal. It is valid audio, but nothing can be separated from it
        (and divergences such as KL are undefined on it), so it is rejected by default.

    Returns
    -------
    Tensor
        ``waveform`` itself when it is a tensor, otherwise ``torch.as_tensor(waveform)``.

    Raises
    ------
    TypeError
        If ``waveform`` is not a real floating-point tensor/array.
    ValueError
        If it has no samples, contains NaN/Inf, or is silent and ``allow_silent=False``.

    Examples
    --------
    >>> import torch
    >>> from nmfsep.io import check_audio
    >>> check_audio(torch.zeros(1, 100), name="mixture.wav")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    nmfsep.ParameterError: mixture.wav is silent (all 100 samples are zero): there is nothing to separate.
    Pass allow_silent=True to accept silence.
    >>> check_audio(torch.zeros(1, 100), allow_silent=True).shape
    torch.Size([1, 100])
    """
    if isinstance(waveform, np.ndarray):
        waveform = torch.as_tensor(waveform)
    if not isinstance(waveform, Tensor):
        raise ParameterTypeError(
            f"{name} must be a torch.Tensor or numpy array of shape (channels, samples), "
            f"got {type(waveform).__name__}."
        )
    if waveform.is_complex() or not waveform.is_floating_point():
        raise ParameterTypeError(
            f"{name} must hold real floating-point samples in [-1, 1], got {waveform.dtype}; "
            f"convert integer PCM with e.g. x.float() / 32768 for 16-bit audio."
        )
    if waveform.ndim < 1 or waveform.numel() == 0:
        raise ParameterError(
            f"{name} is empty (shape {tuple(waveform.shape)}): an audio signal needs at "
            f"least one sample."
        )
    # one pass without temporaries (torch.isfinite and any() make copies of the signal's
    # size, 1.8x a float32 song at once): NaN propagates to both ends, an Inf is one of them
    low, high = (float(v) for v in torch.aminmax(waveform.detach()))
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ParameterError(
            f"{name} contains {int((~torch.isfinite(waveform)).sum())} NaN or Inf sample(s); "
            f"repair or re-export the audio (e.g. torch.nan_to_num) before using it."
        )
    if not allow_silent and low == 0 and high == 0:
        raise ParameterError(
            f"{name} is silent (all {waveform.numel()} samples are zero): there is nothing "
            f"to separate. Pass allow_silent=True to accept silence."
        )
    return waveform


def _readable_formats() -> str:
    common = dict.fromkeys(_SUFFIX_FORMATS[suffix] for suffix in AUDIO_SUFFIXES)
    return ", ".join(common) + " (and the rest of soundfile.available_formats())"


def _open_for_reading(path: PathLike) -> tuple[Path, sf.SoundFile]:
    """Open ``path`` with libsndfile; a missing, folder or unreadable path raises
    FileNotFoundError / IsADirectoryError / PermissionError, undecodable audio ValueError."""
    path = check_readable_file(path, "audio file")
    try:
        return path, sf.SoundFile(path)
    except (sf.SoundFileError, RuntimeError) as err:
        raise ParameterError(
            f"could not decode '{path}' as audio ({err}): it is corrupt or not audio. "
            f"Readable formats: {_readable_formats()}; convert others (e.g. m4a/aac/wma) "
            f"with ffmpeg first."
        ) from err


# libsndfile's header log when the audio chunk is shorter than its size field says, e.g.
# "data : 32000 (should be 15978)"; it then reads only what is there, without an error.
_SHORT_CHUNK = re.compile(r"^\s*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
_FRAME_COUNT = re.compile(r"^\s*Frames\s*:\s*(\d+)", re.MULTILINE)
# Size fields of streamed files (written before their length was known): no promise.
_UNKNOWN_SIZES = (0, 0x7FFFFFFF, 0xFFFFFFFF)


def _truncation(path: Path, handle: sf.SoundFile, promised: int, read: int,
                allow_truncated: bool) -> None:
    """Raise (or, with ``allow_truncated``, warn) if ``read`` < ``promised`` frames."""
    if read >= promised:
        return
    rate = handle.samplerate
    message = (f"'{path}' is truncated: its header promises {promised} frames "
               f"({promised / rate:.3f} s) but the file holds {read} ({read / rate:.3f} s), "
               f"e.g. an interrupted download or copy.")
    if not allow_truncated:
        raise ParameterError(f"{message} Re-export or re-download it, or pass allow_truncated=True "
                         f"(--allow-truncated on the command line) to use the {read} frames "
                         f"that are there.")
    warnings.warn(f"{message} Using the {read} frames that are there.", UserWarning,
                  stacklevel=3)


def _promised_frames(handle: sf.SoundFile) -> int:
    """Frames the header promises: more than ``handle.frames`` when libsndfile found the audio
    chunk cut short (it then counts only the frames present)."""
    log = handle.extra_info or ""
    match = _SHORT_CHUNK.search(log)
    if match is None:
        return int(handle.frames)
    counted = _FRAME_COUNT.search(log)  # AIFF headers state the frame count itself
    if counted is not None:
        return max(int(counted.group(1)), int(handle.frames))
    claimed, present = int(match.group(1)), int(match.group(2))
    if claimed in _UNKNOWN_SIZES or handle.frames <= 0 or claimed <= present:
        return int(handle.frames)
    bytes_per_frame = max(1, round(present / handle.frames))  # a cut may end mid-frame
    return claimed // bytes_per_frame


# --------------------------------------------------------------------------- reading
def info(path: PathLike) -> AudioInfo:
    """Read an audio file's header.

    Parameters
    ----------
    path : str or PathLike
        Audio file in any format libsndfile reads.

    Returns
    -------
    AudioInfo
        ``sample_rate``, ``channels``, ``frames``, ``duration`` (seconds), ``format``,
        ``subtype``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file cannot be decoded as audio.

    Examples
    --------
    >>> import tempfile, os, torch
    >>> from nmfsep.io import info, save
    >>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> _ = save(path, torch.zeros(2, 8000), 16000)
    >>> info(path)
    AudioInfo(sample_rate=16000, channels=2, frames=8000, duration=0.5, format='WAV', subtype='FLOAT')
    """
    path, handle = _open_for_reading(path)
    with handle:
        return AudioInfo(
            sample_rate=int(handle.samplerate),
            channels=int(handle.channels),
            frames=int(handle.frames),
            duration=handle.frames / handle.samplerate,
            format=handle.format,
            subtype=handle.subtype,
        )


def load(
    path: PathLike,
    *,
    sample_rate: Optional[int] = None,
    mono: bool = False,
    dtype: torch.dtype = torch.float32,
    offset: float = 0.0,
    duration: Optional[float] = None,
    allow_truncated: bool = False,
) -> tuple[Tensor, int]:
    """Load an audio file as a ``(channels, samples)`` tensor.

    Parameters
    ----------
    path : str or PathLike
        Audio file in any format libsndfile reads (WAV, FLAC, OGG, AIFF, MP3, ...), at any
        sample rate, mono or multichannel.
    sample_rate : int, optional
        Resample to this rate in Hz (with :func:`torchaudio.functional.resample`); by
        default keep the file's rate.
    mono : bool, default False
        Average the channels into one (the channel axis is kept, of size 1).
    dtype : torch.dtype, default torch.float32
        Floating-point dtype of the result.
    offset : float, default 0.0
        Start reading this many seconds into the file.
    duration : float, optional
        Read at most this many seconds (default: to the end).
    allow_truncated : bool, default False
        Accept a file that holds fewer samples than its header promises (an interrupted
        download or copy), with a warning, and return the samples that are there. By
        default that is an error: the audio would silently be shorter than the file says.

    Returns
    -------
    waveform : Tensor, shape (channels, samples)
        Samples nominally in ``[-1, 1]``.
    sample_rate : int
        Rate of ``waveform`` in Hz.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    IsADirectoryError
        If ``path`` is a folder.
    PermissionError
        If the file may not be read.
    ValueError
        If the file is corrupt or cannot be decoded, is truncated (fewer samples than its
        header promises; see ``allow_truncated``), holds no samples (in the requested
        window), or contains NaN/Inf samples. A silent file loads fine.

    Warns
    -----
    UserWarning
        When a truncated file is read with ``allow_truncated=True``.

    Examples
    --------
    >>> import tempfile, os, torch
    >>> from nmfsep.io import load, save
    >>> path = os.path.join(tempfile.mkdtemp(), "noise.flac")
    >>> _ = save(path, 0.1 * torch.randn(2, 44100), 44100)
    >>> waveform, rate = load(path, sample_rate=22050, mono=True)
    >>> waveform.shape, rate
    (torch.Size([1, 22050]), 22050)
    """
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ParameterTypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}.")
    target_rate = None if sample_rate is None else check_sample_rate(sample_rate)
    offset = float(offset)
    if not (math.isfinite(offset) and offset >= 0):
        raise ParameterError(f"offset must be a non-negative number of seconds, got {offset}.")
    if duration is not None:
        duration = float(duration)
        if not (math.isfinite(duration) and duration > 0):
            raise ParameterError(f"duration must be a positive number of seconds, got {duration}.")

    path, handle = _open_for_reading(path)
    with handle:
        file_rate = int(handle.samplerate)
        total = int(handle.frames)
        _truncation(path, handle, _promised_frames(handle), total, allow_truncated)
        if total == 0:
            raise ParameterError(f"'{path}' contains no audio samples (0 frames).")
        start = round(offset * file_rate)
        if start >= total:
            raise ParameterError(
                f"offset={offset} s starts past the end of '{path}' "
                f"({total / file_rate:.3f} s long)."
            )
        n_frames = -1 if duration is None else round(duration * file_rate)
        if n_frames == 0:
            raise ParameterError(
                f"duration={duration} s is shorter than one sample at {file_rate} Hz."
            )
        read_dtype = "float64" if dtype == torch.float64 else "float32"
        try:
            if start:
                handle.seek(start)
            data = handle.read(n_frames, dtype=read_dtype, always_2d=True)
        except (sf.SoundFileError, RuntimeError) as err:
            raise ParameterError(f"could not decode the audio data of '{path}' ({err}): the file "
                             f"is corrupt or truncated; re-export or re-download it.") from err
        # A decoder that meets the end of the data early returns fewer frames, silently.
        # (MP3 headers hold only an estimate of the length: no promise to check.)
        if handle.format != "MPEG":
            wanted = total - start if n_frames < 0 else min(n_frames, total - start)
            _truncation(path, handle, wanted, len(data), allow_truncated)
        if len(data) == 0:
            raise ParameterError(f"'{path}' contains no audio samples (0 frames).")

    # soundfile gives (samples, channels); we use (channels, samples).
    waveform = torch.from_numpy(np.ascontiguousarray(data.T))
    check_audio(waveform, name=f"'{path}'", allow_silent=True)
    if mono:
        waveform = waveform.mean(dim=0, keepdim=True)
    if target_rate is not None and target_rate != file_rate:
        waveform = resample(waveform, file_rate, target_rate)
    return waveform.to(dtype), file_rate if target_rate is None else target_rate


#: Input samples resampled at once by :func:`resample` (30 s at 44.1 kHz; rounded down to
#: whole steps of the two rates): torchaudio's resampler takes about 6 times its input in
#: temporaries.
_RESAMPLE_BLOCK = 2 ** 20 + 2 ** 18


def resample(waveform: Tensor, orig_freq: int, new_freq: int) -> Tensor:
    """Resample audio with :func:`torchaudio.functional.resample`, in blocks.

    torchaudio's windowed-sinc resampler takes several times its input in temporaries (346
    MiB for 6 minutes of mono 44.1 kHz audio, 61 MiB): long signals are resampled in blocks
    with enough signal on both sides for the filter, so memory stays that of one block.

    Parameters
    ----------
    waveform : Tensor, shape (..., samples)
        Audio at ``orig_freq``.
    orig_freq, new_freq : int
        Sampling rates in Hz (whole numbers).

    Raises
    ------
    TypeError, ValueError
        If a rate is not a positive whole number of Hz.

    Returns
    -------
    Tensor, shape (..., ceil(samples * new_freq / orig_freq))
        The audio at ``new_freq``: torchaudio's result for the whole signal (to rounding).

    Examples
    --------
    >>> import torch
    >>> from nmfsep.io import resample
    >>> resample(torch.zeros(2, 44100), 44100, 22050).shape
    torch.Size([2, 22050])
    """
    functional = require_torchaudio().functional
    orig_freq = check_sample_rate(orig_freq, "orig_freq")
    new_freq = check_sample_rate(new_freq, "new_freq")
    if orig_freq == new_freq:
        return waveform
    gcd = math.gcd(orig_freq, new_freq)
    up, down = orig_freq // gcd, new_freq // gcd  # up input samples give down outputs
    n_samples = waveform.shape[-1]
    block = max(1, _RESAMPLE_BLOCK // up) * up
    # an output sample sees the inputs within torchaudio's filter width (6 zero crossings of
    # the lower rate, rolloff 0.99) plus one step: the margin is 4 times that, in whole steps
    reach = math.ceil(6 * up / (0.99 * min(up, down))) + up
    margin = -(-4 * reach // up) * up
    if n_samples <= block + 2 * margin:
        return functional.resample(waveform, orig_freq, new_freq)
    pieces = []
    for start in range(0, n_samples, block):
        end = min(start + block, n_samples)
        low, high = max(0, start - margin), min(n_samples, end + margin)
        out = functional.resample(waveform[..., low:high], orig_freq, new_freq)
        first = (start - low) // up * down  # start - low is a multiple of up
        count = (end - start) // up * down if end < n_samples else \
            -(-(end - start) * down // up)
        pieces.append(out[..., first:first + count])
        del out
    return torch.cat(pieces, -1)


# --------------------------------------------------------------------------- writing
def _format_for(path: Path) -> str:
    extension = path.suffix.lower()
    fmt = _SUFFIX_FORMATS.get(extension, extension.lstrip(".").upper())
    if not extension or fmt not in sf.available_formats():
        raise ParameterError(
            f"cannot tell the audio format of '{path}' from its extension; use one of "
            f".wav, .flac, .ogg, .aiff (or another format in soundfile.available_formats())."
        )
    return fmt


def _clear_peak_time(path: Path) -> None:
    """Zero the time of writing in the PEAK chunk that libsndfile puts in the header of float
    WAV and AIFF files (id, size, version, then the 32-bit timestamp), so that the same audio
    gives the same bytes."""
    with open(path, "r+b") as handle:
        header = handle.read(4096)
        audio = min((at for at in (header.find(b"data"), header.find(b"SSND")) if at >= 0),
                    default=len(header))
        at = header.find(b"PEAK", 0, audio)  # chunks before the audio only
        if at >= 12 and at + 16 <= audio:
            handle.seek(at + 12)
            handle.write(bytes(4))


def save(
    path: PathLike,
    waveform,
    sample_rate: int,
    *,
    overwrite: bool = False,
    subtype: Optional[str] = None,
) -> Path:
    """Write a waveform to an audio file, atomically.

    The data goes to a temporary file in the destination folder, which then replaces
    ``path`` in one step (:func:`os.replace`): a reader never sees a half-written file and a
    failure, Ctrl-C or SIGTERM leaves any existing file untouched (the temporary file is
    removed; those of killed runs are removed by the next write into the folder).

    Parameters
    ----------
    path : str or PathLike
        Destination; the format follows the extension (``.wav``, ``.flac``, ``.ogg``,
        ``.aiff``, ...). Missing parent folders are created.
    waveform : Tensor or ndarray, shape (samples,) or (channels, samples)
        Real floating-point samples, nominally in ``[-1, 1]``.
    sample_rate : int
        Sampling rate in Hz.
    overwrite : bool, default False
        Replace an existing file at ``path``.
    subtype : str, optional
        libsndfile sample encoding, e.g. ``"PCM_16"``, ``"PCM_24"``, ``"FLOAT"``. Defaults
        to ``"FLOAT"`` for WAV (lossless for float32 and never clips) and to soundfile's
        default otherwise (``"PCM_16"`` for FLAC, ``"VORBIS"`` for OGG).

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    ValueError
        On an empty waveform, NaN/Inf samples, an unknown extension, a subtype the format
        cannot store, or a shape that is not ``(channels, samples)``.
    OSError
        With ``errno.ENOSPC`` when the disk is full (the message names the path).

    Warns
    -----
    UserWarning
        When samples exceed ``[-1, 1]`` and ``subtype`` is not ``FLOAT``/``DOUBLE``: such
        encodings have a fixed range, so the samples are clipped to ``[-1, 1]`` (rather
        than left to wrap around). Normalise the signal or use ``subtype="FLOAT"`` to keep
        them.

    Examples
    --------
    >>> import tempfile, os, torch
    >>> from nmfsep.io import save
    >>> folder = tempfile.mkdtemp()
    >>> save(os.path.join(folder, "out", "source1.wav"), torch.zeros(16000), 16000).name
    'source1.wav'
    """
    path = Path(os.fspath(path))
    write = _audio_writer(path, waveform, sample_rate, subtype)
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"'{path}' already exists; pass overwrite=True (--overwrite on the command line) "
            f"to replace it."
        )
    write_atomically({path: write})
    return path


def _audio_writer(path: Path, waveform, sample_rate: int, subtype: Optional[str]):
    """Check a waveform and its file settings for :func:`save`; return ``write(file)``,
    which encodes it into ``file`` (for :func:`~nmfsep._pipeline._files.write_atomically`)."""
    sample_rate = check_sample_rate(sample_rate)
    waveform = check_audio(waveform, name="waveform to save", allow_silent=True)
    if waveform.ndim == 1:
        waveform = waveform.unsqueeze(0)
    if waveform.ndim != 2 or waveform.shape[0] > waveform.shape[1]:
        raise ParameterError(
            f"waveform to save must have shape (samples,) or (channels, samples), got "
            f"{tuple(waveform.shape)}; for a (samples, channels) array pass its transpose."
        )
    fmt = _format_for(path)
    if subtype is None:
        subtype = "FLOAT" if fmt == "WAV" else sf.default_subtype(fmt)
    subtype = subtype.upper()
    if not sf.check_format(fmt, subtype):
        raise ParameterError(
            f"{fmt} files cannot store subtype {subtype!r}; use one of "
            f"{sorted(sf.available_subtypes(fmt))}."
        )
    if path.is_dir():
        raise ParameterError(f"'{path}' is a folder; pass a file name such as '{path / 'out.wav'}'.")

    data = waveform.detach().cpu()
    data = data.double() if data.dtype == torch.float64 else data.float()
    data = data.numpy().T  # soundfile wants (samples, channels): a view, copied block by block
    clip = False
    if subtype not in _FLOAT_SUBTYPES:
        peak = float(np.abs(data).max())
        if peak > 1.0:
            n_clipped = int((np.abs(data) > 1.0).sum())
            warnings.warn(
                f"clipping {n_clipped} sample(s) of '{path}' to [-1, 1] (peak {peak:.3f}): "
                f"subtype {subtype} has a fixed range. Normalise the signal or save with "
                f"subtype='FLOAT' (.wav) to keep the full range.",
                UserWarning,
                stacklevel=3,
            )
            clip = True

    def write(temporary: Path) -> None:
        # in blocks: a contiguous copy of every stem at once (the writers are made before the
        # first file is written) would be the largest memory of a long separation
        try:
            with sf.SoundFile(temporary, "w", sample_rate, data.shape[1], subtype=subtype,
                              format=fmt) as handle:
                for start in range(0, data.shape[0], _WRITE_BLOCK):
                    block = data[start:start + _WRITE_BLOCK]
                    handle.write(np.clip(block, -1.0, 1.0) if clip else np.ascontiguousarray(block))
        except (sf.SoundFileError, RuntimeError) as err:
            raise ParameterError(f"could not write '{path}' as {fmt}/{subtype}: {err}") from err
        _clear_peak_time(temporary)

    return write
