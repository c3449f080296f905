r"""Drum onsets on disk: JSON, CSV and General-MIDI drum tracks.

:func:`save_onsets` writes the onsets of :func:`nmfsep.recipes.drum_onsets`
(``{instrument: onset times in seconds}``) in the formats of :data:`ONSET_FORMATS`:

* ``onsets.json``: ``{"kick": [0.25, 0.75, ...], "snare": [...], "hihat": [...]}`` and
  nothing else at the top level (the layout onset scorers read);
* ``onsets.csv``: a ``time,instrument`` header, then one row per onset sorted by time
  (seconds with 6 decimals);
* ``drums.mid``: a Standard MIDI File written by :func:`write_drum_midi` (format 0, one
  track, 480 ticks per quarter note, General-MIDI drum notes of :data:`GM_DRUM_NOTES` on
  channel 10), read back by :func:`read_drum_midi`.

Every file is written atomically (a temporary file in the same folder, then
:func:`os.replace`) and an existing file is only replaced with ``overwrite=True``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
import os
import re
import struct
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .._errors import ParameterError, ParameterTypeError
from .._pipeline._files import write_atomically

__all__ = ["GM_DRUM_NOTES", "ONSET_FORMATS", "save_onsets", "write_drum_midi", "read_drum_midi"]

PathLike = Union[str, os.PathLike]

#: General-MIDI percussion key of each instrument name (notes on MIDI channel 10).
GM_DRUM_NOTES: Dict[str, int] = {
    "kick": 36,         # Bass Drum 1
    "snare": 38,        # Acoustic Snare
    "hihat": 42,        # Closed Hi-Hat
    "hihat_open": 46,   # Open Hi-Hat
    "tom": 45,          # Low Tom
    "crash": 49,        # Crash Cymbal 1
    "ride": 51,         # Ride Cymbal 1
    # the cymbals of drum_onsets' kit templates (crash, ride, china, splash in one source);
    # last, so that key 49 reads back as "cymbal"
    "cymbal": 49,       # Crash Cymbal 1
}

#: The formats of :func:`save_onsets` and the file each one writes.
ONSET_FORMATS: Dict[str, str] = {"json": "onsets.json", "csv": "onsets.csv", "mid": "drums.mid"}

TICKS_PER_QUARTER = 480
#: Length of each written note in seconds (drum hits have no meaningful duration).
NOTE_SECONDS = 0.05
DEFAULT_VELOCITY = 100
_DRUM_CHANNEL = 9  # channel 10, counted from 0 in the status byte
_DEFAULT_TEMPO = 500_000  # microseconds per quarter note (120 bpm) when a file sets none
_MAX_TICK = 0x0FFFFFFF  # the largest variable-length quantity (4 bytes)


# --------------------------------------------------------------------------- validation
def _times(value, what: str) -> np.ndarray:
    """A 1-D float64 array of finite, non-negative seconds, or a ValueError saying why not."""
    if isinstance(value, torch.Tensor) and value.dtype != torch.bool:
        value = value.detach().to("cpu", torch.float64)
    if isinstance(value, (str, bytes, Mapping)):
        raise ParameterTypeError(f"{what} must be a sequence of seconds, got {type(value).__name__}.")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as err:
        raise ParameterTypeError(f"{what} must be a sequence of seconds: {err}") from err
    if array.dtype == bool or not (np.issubdtype(array.dtype, np.integer)
                                   or np.issubdtype(array.dtype, np.floating)):
        raise ParameterTypeError(f"{what} must hold numbers of seconds, got {array.dtype} values.")
    array = array.astype(np.float64)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise ParameterError(f"{what} must be one-dimensional, got shape {tuple(array.shape)}.")
    bad = ~np.isfinite(array) | (array < 0)
    if bad.any():
        raise ParameterError(f"{what} must be finite, non-negative seconds; got "
                         f"{array[bad][0]!r} at position {int(np.flatnonzero(bad)[0])}.")
    return array


def _onsets(onsets) -> Dict[str, np.ndarray]:
    if not isinstance(onsets, Mapping):
        raise ParameterTypeError("onsets must be a mapping {instrument: onset times in seconds} "
                        f"(as returned by drum_onsets), got {type(onsets).__name__}.")
    checked = {}
    for name, times in onsets.items():
        if not isinstance(name, str) or not name.strip():
            raise ParameterTypeError(f"instrument names must be non-empty strings, got {name!r}.")
        checked[name] = _times(times, f"onsets[{name!r}]")
    return checked


def _velocities(velocities, onsets: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """MIDI velocities 1..127 of every onset (``DEFAULT_VELOCITY`` where none is given)."""
    result = {name: np.full(len(times), DEFAULT_VELOCITY, dtype=np.int64)
              for name, times in onsets.items()}
    if velocities is None:
        return result
    if not isinstance(velocities, Mapping):
        raise ParameterTypeError("velocities must be a mapping {instrument: values in [0, 1]}, got "
                        f"{type(velocities).__name__}.")
    for name, values in velocities.items():
        if name not in onsets:
            raise ParameterError(f"velocities has instrument {name!r}, which onsets does not have "
                             f"(onsets has {sorted(onsets)}).")
        if isinstance(values, torch.Tensor):
            values = values.detach().to("cpu", torch.float64)
        try:
            array = np.asarray(values, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as err:
            raise ParameterTypeError(f"velocities[{name!r}] must be numbers in [0, 1]: {err}") from err
        if array.size != onsets[name].size:
            raise ParameterError(f"velocities[{name!r}] has {array.size} values for "
                             f"{onsets[name].size} onsets; give one per onset.")
        if not (np.isfinite(array) & (array >= 0) & (array <= 1)).all():
            raise ParameterError(f"velocities[{name!r}] must be numbers in [0, 1] (1: loudest).")
        result[name] = 1 + np.rint(array * 126).astype(np.int64)
    return result


def _path(path, what: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise ParameterTypeError(f"{what} must be a file path, got {type(path).__name__}.")
    return Path(os.fspath(path))


def _refuse_existing(paths: Sequence[Path], overwrite: bool) -> None:
    if overwrite:
        return
    for path in paths:
        if os.path.lexists(path):
            raise FileExistsError(f"'{path}' already exists; pass overwrite=True (--overwrite) "
                                  f"to replace it.")


def _write_files(contents: Mapping[Path, bytes]) -> None:
    """Write every file all-or-nothing (:func:`nmfsep._pipeline._files.write_atomically`)."""
    write_atomically({target: (lambda temporary, data=data: temporary.write_bytes(data))
                      for target, data in contents.items()})


# --------------------------------------------------------------------------- MIDI
def _vlq(value: int) -> bytes:
    """``value`` as a MIDI variable-length quantity (7 bits a byte, most significant first)."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _tempo(tempo_bpm) -> int:
    """Microseconds per quarter note of ``tempo_bpm`` (the 24-bit value a file stores)."""
    if isinstance(tempo_bpm, bool) or not isinstance(tempo_bpm, numbers.Real) \
            or not math.isfinite(tempo_bpm) or tempo_bpm <= 0:
        raise ParameterError(f"tempo_bpm must be a positive number of beats per minute, "
                         f"got {tempo_bpm!r}.")
    micros = round(60_000_000 / tempo_bpm)
    if not 1 <= micros <= 0xFFFFFF:
        raise ParameterError(f"tempo_bpm {tempo_bpm!r} is outside what a MIDI file can store "
                         f"(about 3.58 to 60000000 beats per minute).")
    return micros


def _note_of(name: str) -> int:
    """The General-MIDI key of an instrument: a :data:`GM_DRUM_NOTES` name, or ``note_<n>``
    (what :func:`read_drum_midi` calls the keys not in the table)."""
    if name in GM_DRUM_NOTES:
        return GM_DRUM_NOTES[name]
    match = re.fullmatch(r"note_(\d{1,3})", name)
    if match and int(match.group(1)) <= 127:
        return int(match.group(1))
    raise ParameterError(f"no General-MIDI drum note for instrument {name!r}; known instruments: "
                     f"{', '.join(sorted(GM_DRUM_NOTES))} (or note_<0-127> for another key).")


def _midi_bytes(onsets: Dict[str, np.ndarray], velocities: Dict[str, np.ndarray], micros: int,
                track_name: Optional[str]) -> bytes:
    ticks_per_second = TICKS_PER_QUARTER * 1_000_000 / micros
    note_ticks = max(1, round(NOTE_SECONDS * ticks_per_second))
    notes = {name: _note_of(name) for name in onsets}
    # (tick, order, message): note-offs (order 0) sort before note-ons (order 1) of a tick
    events: List[Tuple[int, int, int, bytes]] = []
    for name, times in onsets.items():
        ticks = np.rint(times * ticks_per_second).astype(np.int64)
        if ticks.size and ticks.max() + note_ticks > _MAX_TICK:
            raise ParameterError(f"onsets[{name!r}] reaches {times.max():.0f} s; a MIDI file at "
                             f"this tempo ends at {_MAX_TICK / ticks_per_second:.0f} s.")
        order = np.argsort(ticks, kind="stable")
        ticks, velocity = ticks[order], velocities[name][order]
        keep = np.ones(len(ticks), dtype=bool)
        keep[1:] = ticks[1:] != ticks[:-1]  # two onsets on one tick are one note
        for i in np.flatnonzero(~keep):      # the louder one's velocity
            j = i - 1
            while not keep[j]:
                j -= 1
            velocity[j] = max(velocity[j], velocity[i])
        ticks, velocity = ticks[keep], velocity[keep]
        # a note ends NOTE_SECONDS later, or where the next hit of the same note begins
        ends = np.minimum(ticks + note_ticks, np.append(ticks[1:], np.iinfo(np.int64).max))
        note = notes[name]
        for start, end, vel in zip(ticks.tolist(), ends.tolist(), velocity.tolist()):
            events.append((start, 1, note, bytes([0x90 | _DRUM_CHANNEL, note, vel])))
            events.append((end, 0, note, bytes([0x80 | _DRUM_CHANNEL, note, 0])))
    events.sort(key=lambda event: event[:3])

    track = bytearray()
    if track_name:
        name_bytes = track_name.encode("utf-8")
        track += b"\x00\xff\x03" + _vlq(len(name_bytes)) + name_bytes
    track += b"\x00\xff\x51\x03" + micros.to_bytes(3, "big")
    previous = 0
    for tick, _, _, message in events:
        track += _vlq(tick - previous) + message
        previous = tick
    track += b"\x00\xff\x2f\x00"  # end of track
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_QUARTER)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def write_drum_midi(
    onsets: Mapping[str, object],
    path: PathLike,
    *,
    velocities: Optional[Mapping[str, object]] = None,
    tempo_bpm: float = 120.0,
    overwrite: bool = False,
    track_name: Optional[str] = None,
) -> Path:
    r"""Write drum onsets as a General-MIDI drum track (Standard MIDI File).

    The file is format 0 (one track) at 480 ticks per quarter note with one tempo event.
    Each onset is a note-on on channel 10 at the tick ``round(seconds * ticks_per_second)``
    (``ticks_per_second = 480 * tempo_bpm / 60`` with the tempo as the file stores it, in
    whole microseconds per quarter note: 960 at 120 bpm, about 1 ms a tick), with
    the note of :data:`GM_DRUM_NOTES` (kick 36, snare 38, closed hi-hat 42, ...) and a
    note-off 50 ms later (earlier if the same note is hit again). Two onsets of one
    instrument on the same tick become one note.

    Parameters
    ----------
    onsets : mapping of str to sequence of float
        ``{instrument: onset times in seconds}`` (e.g. from
        :func:`nmfsep.recipes.drum_onsets`); the instruments are keys of
        :data:`GM_DRUM_NOTES` or ``"note_<n>"`` for another General-MIDI drum key ``n``.
        Tensors, arrays and lists are accepted, in any order.
    path : str or PathLike
        The ``.mid`` file to write (its folder is created if missing).
    velocities : mapping of str to sequence of float, optional
        ``{instrument: one value per onset in [0, 1]}``, mapped linearly onto MIDI
        velocities 1..127; instruments not given (and all without ``velocities``) get 100.
    tempo_bpm : float, default 120.0
        Tempo written into the file. It sets the tick grid (the times are kept in seconds,
        whatever the tempo).
    overwrite : bool, default False
        Replace an existing ``path``; otherwise an existing file is an error.
    track_name : str, optional
        Written as the track's name (a meta event), e.g. the audio file transcribed.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    TypeError, ValueError
        On onsets that are not a mapping of non-negative finite seconds, an instrument
        without a General-MIDI note, velocities outside [0, 1] or a bad tempo.
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.

    See Also
    --------
    read_drum_midi : the inverse.
    save_onsets : JSON, CSV and MIDI at once.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> path = write_drum_midi({"kick": [0.0, 0.5], "hihat": [0.25]}, folder / "beat.mid",
    ...                        velocities={"kick": [1.0, 0.5]})
    >>> path.read_bytes()[:4]
    b'MThd'
    >>> read_drum_midi(path)
    {'kick': [0.0, 0.5], 'hihat': [0.25]}
    >>> write_drum_midi({"cowbell": [1.0]}, folder / "bell.mid")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
        ...
    nmfsep.ParameterError: no General-MIDI drum note for instrument 'cowbell'; known instruments: crash,
    cymbal, hihat, hihat_open, kick, ride, snare, tom (or note_<0-127> for another key).
    """
    path = _path(path, "path")
    checked = _onsets(onsets)
    data = _midi_bytes(checked, _velocities(velocities, checked), _tempo(tempo_bpm),
                       _track_name(track_name))
    _refuse_existing([path], overwrite)
    _write_files({path: data})
    return path


def _track_name(track_name) -> Optional[str]:
    if track_name is not None and not isinstance(track_name, str):
        raise ParameterTypeError(f"track_name must be a string, got {type(track_name).__name__}.")
    return track_name


class _Reader:
    """Bytes of a MIDI file, read from the front, with errors that say where they ran out."""

    def __init__(self, data: bytes, path: Path):
        self.data, self.pos, self.path = data, 0, path

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ParameterError(f"'{self.path}' is not a valid MIDI file: it is truncated (it "
                             f"ends in the middle of a chunk or an event).")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def vlq(self) -> int:
        value = 0
        for _ in range(4):
            b = self.byte()
            value = (value << 7) | (b & 0x7F)
            if not b & 0x80:
                return value
        raise ParameterError(f"'{self.path}' is not a valid MIDI file: a variable-length number "
                         f"is longer than 4 bytes (byte {self.pos}).")


def _track_events(track: bytes, path: Path):
    """``(tick, kind, payload)`` of a track: ``("tempo", micros)`` and ``("on", note)`` for
    note-ons on channel 10 with a velocity above 0."""
    reader = _Reader(track, path)
    tick, status = 0, None
    while reader.pos < len(track):
        tick += reader.vlq()
        first = reader.byte()
        if first == 0xFF:  # meta event
            kind, length = reader.byte(), reader.vlq()
            payload = reader.take(length)
            if kind == 0x51 and length == 3:
                yield tick, "tempo", int.from_bytes(payload, "big")
            elif kind == 0x2F:
                return
            continue
        if first in (0xF0, 0xF7):  # system exclusive
            reader.take(reader.vlq())
            continue
        if first & 0x80:
            status = first
            data = reader.byte()
        elif status is None:
            raise ParameterError(f"'{path}' is not a valid MIDI file: a data byte without a status "
                             f"(running status) at the start of a track.")
        else:  # running status: ``first`` is the first data byte
            data = first
        kind = status >> 4
        if kind in (0x8, 0x9, 0xA, 0xB, 0xE):
            second = reader.byte()
        elif kind in (0xC, 0xD):
            second = None
        else:
            raise ParameterError(f"'{path}' is not a valid MIDI file: unexpected status byte "
                             f"0x{status:02X}.")
        if kind == 0x9 and (status & 0x0F) == _DRUM_CHANNEL and second:
            yield tick, "on", data


def read_drum_midi(path: PathLike) -> Dict[str, List[float]]:
    r"""Drum onsets of a MIDI file: the inverse of :func:`write_drum_midi`.

    Reads Standard MIDI Files of format 0 or 1 (all tracks merged), with tempo changes and
    running status, and returns the note-on times of the drum notes on channel 10.

    Parameters
    ----------
    path : str or PathLike
        A Standard MIDI File (``.mid``).

    Returns
    -------
    dict of str to list of float
        ``{instrument: onset times in seconds, increasing}`` for the instruments with notes,
        named as in :data:`GM_DRUM_NOTES` (``"kick"``, ``"snare"``, ``"hihat"``, ...), in
        order of their first note; other drum notes appear as ``"note_<number>"``. Times are
        those of the tick grid (within half a tick, about 0.5 ms at 120 bpm, of the written
        ones).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a Standard MIDI File or is truncated.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "beat.mid"
    >>> _ = write_drum_midi({"snare": [0.5, 1.5], "kick": [0.0, 1.0]}, path, tempo_bpm=100)
    >>> read_drum_midi(path)
    {'kick': [0.0, 1.0], 'snare': [0.5, 1.5]}
    """
    path = _path(path, "path")
    data = path.read_bytes()
    if data[:4] != b"MThd":
        raise ParameterError(f"'{path}' is not a Standard MIDI File (it does not start with 'MThd').")
    reader = _Reader(data, path)
    reader.take(4)
    length = struct.unpack(">I", reader.take(4))[0]
    if length < 6:
        raise ParameterError(f"'{path}' is not a valid MIDI file: its header is {length} bytes long.")
    fmt, n_tracks, division = struct.unpack(">HHH", reader.take(6))
    reader.take(length - 6)
    if fmt not in (0, 1):
        raise ParameterError(f"'{path}' is a format {fmt} MIDI file; only formats 0 and 1 "
                         f"(simultaneous tracks) can be read.")
    tempos: List[Tuple[int, int]] = []
    notes: List[Tuple[int, int]] = []
    tracks = 0
    while reader.pos < len(data) and tracks < n_tracks:
        kind, size = reader.take(4), struct.unpack(">I", reader.take(4))[0]
        chunk = reader.take(size)
        if kind != b"MTrk":  # unknown chunks are skipped, as the standard asks
            continue
        tracks += 1
        for tick, what, value in _track_events(chunk, path):
            (tempos if what == "tempo" else notes).append((tick, value))

    if division & 0x8000:  # SMPTE: frames per second x ticks per frame, no tempo
        fps = 256 - (division >> 8)
        fps = 29.97 if fps == 29 else fps
        ticks_per_second = fps * (division & 0xFF)
        if ticks_per_second <= 0:
            raise ParameterError(f"'{path}' is not a valid MIDI file: bad time division.")
        seconds = lambda tick: tick / ticks_per_second  # noqa: E731
    else:
        if division == 0:
            raise ParameterError(f"'{path}' is not a valid MIDI file: 0 ticks per quarter note.")
        # the tempo map: seconds at each tempo change, then linear up to the next one
        changes = [(0, _DEFAULT_TEMPO)] + sorted(tempos, key=lambda change: change[0])
        starts = [(0, 0.0, _DEFAULT_TEMPO)]
        for tick, micros in changes[1:]:
            start_tick, start_s, current = starts[-1]
            starts.append((tick, start_s + (tick - start_tick) * current / 1e6 / division, micros))

        def seconds(tick: int) -> float:
            for start_tick, start_s, micros in reversed(starts):
                if tick >= start_tick:
                    return start_s + (tick - start_tick) * micros / 1e6 / division
            return 0.0  # pragma: no cover - starts begins at tick 0

    names = {note: name for name, note in GM_DRUM_NOTES.items()}
    result: Dict[str, List[float]] = {}
    for tick, note in sorted(notes, key=lambda event: event[0]):
        result.setdefault(names.get(note, f"note_{note}"), []).append(seconds(tick))
    return result


# --------------------------------------------------------------------------- files
def _formats(formats) -> List[str]:
    if isinstance(formats, str):
        formats = [formats]
    try:
        chosen = list(dict.fromkeys(formats))
    except TypeError:
        raise ParameterTypeError(f"formats must be a sequence of format names, got {formats!r}.") from None
    if not chosen:
        raise ParameterError(f"formats is empty; choose from {', '.join(ONSET_FORMATS)}.")
    for fmt in chosen:
        if fmt not in ONSET_FORMATS:
            raise ParameterError(f"unknown onset format {fmt!r}; choose from "
                             f"{', '.join(ONSET_FORMATS)}.")
    return chosen


def _json_bytes(onsets: Dict[str, np.ndarray]) -> bytes:
    lines = [f"  {json.dumps(name)}: {json.dumps(sorted(times.tolist()))}"
             for name, times in onsets.items()]
    return ("{\n" + ",\n".join(lines) + ("\n" if lines else "") + "}\n").encode("utf-8")


def _csv_bytes(onsets: Dict[str, np.ndarray]) -> bytes:
    rows = sorted((float(t), position, name)
                  for position, (name, times) in enumerate(onsets.items()) for t in times)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["time", "instrument"])
    for time, _, name in rows:
        writer.writerow([f"{time:.6f}", name])
    return text.getvalue().encode("utf-8")


def save_onsets(
    onsets: Mapping[str, object],
    out_dir: PathLike,
    *,
    formats: Sequence[str] = ("json", "csv", "mid"),
    overwrite: bool = False,
    sample_rate: Optional[int] = None,
    source: Optional[PathLike] = None,
) -> Dict[str, Path]:
    r"""Write drum onsets as JSON, CSV and/or MIDI into a folder.

    Parameters
    ----------
    onsets : mapping of str to sequence of float
        ``{instrument: onset times in seconds}``, e.g. from
        :func:`nmfsep.recipes.drum_onsets` (tensors, arrays or lists; any order).
    out_dir : str or PathLike
        Folder of the files (created if missing).
    formats : sequence of str, default ("json", "csv", "mid")
        Which files to write (see :data:`ONSET_FORMATS`):

        * ``"json"`` -> ``onsets.json``: ``{"kick": [seconds, ...], ...}``, every instrument
          (also those without onsets), times increasing, nothing else at the top level;
        * ``"csv"`` -> ``onsets.csv``: header ``time,instrument``, one row per onset sorted
          by time, seconds with 6 decimals;
        * ``"mid"`` -> ``drums.mid``: a General-MIDI drum track (:func:`write_drum_midi`;
          the instruments must be keys of :data:`GM_DRUM_NOTES`).
    overwrite : bool, default False
        Replace existing files. Otherwise any existing target is an error, raised before
        anything is written.
    sample_rate : int, optional
        Sampling rate in Hz of the transcribed audio; recorded with ``source`` in the MIDI
        track's name.
    source : str or PathLike, optional
        The transcribed audio file; its name becomes the MIDI track's name.

    Returns
    -------
    dict of str to Path
        The file written for each format.

    Raises
    ------
    TypeError, ValueError
        On onsets that are not a mapping of non-negative finite seconds, an unknown format,
        or (with ``"mid"``) an instrument without a General-MIDI note.
    FileExistsError
        If a target exists and ``overwrite`` is False; nothing is written then.

    Examples
    --------
    >>> import tempfile, pathlib, torch
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "song"
    >>> onsets = {"kick": torch.tensor([0.0, 0.5]), "snare": torch.tensor([0.25]),
    ...           "hihat": torch.tensor([], dtype=torch.float64)}
    >>> paths = save_onsets(onsets, folder)
    >>> sorted(p.name for p in paths.values())
    ['drums.mid', 'onsets.csv', 'onsets.json']
    >>> print(paths["csv"].read_text(), end="")
    time,instrument
    0.000000,kick
    0.250000,snare
    0.500000,kick
    >>> import json; json.loads(paths["json"].read_text())
    {'kick': [0.0, 0.5], 'snare': [0.25], 'hihat': []}
    >>> save_onsets(onsets, folder, formats=["json"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    FileExistsError: '...onsets.json' already exists; pass overwrite=True (--overwrite) to replace it.
    """
    checked = _onsets(onsets)
    chosen = _formats(formats)
    out_dir = _path(out_dir, "out_dir")
    if sample_rate is not None and (isinstance(sample_rate, bool)
                                    or not isinstance(sample_rate, numbers.Integral)
                                    or sample_rate <= 0):
        raise ParameterError(f"sample_rate must be a positive integer number of Hz, got {sample_rate!r}.")
    if source is not None:
        source = _path(source, "source")
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"out_dir '{out_dir}' is a file; give a folder.")

    contents: Dict[Path, bytes] = {}
    for fmt in chosen:
        target = out_dir / ONSET_FORMATS[fmt]
        if fmt == "json":
            contents[target] = _json_bytes(checked)
        elif fmt == "csv":
            contents[target] = _csv_bytes(checked)
        else:
            name = "nmfsep drum onsets"
            if source is not None:
                name += f" of {source.name}"
            if sample_rate is not None:
                name += f" ({sample_rate} Hz)"
            contents[target] = _midi_bytes(checked, _velocities(None, checked), _tempo(120.0),
                                           name)
    _refuse_existing(list(contents), overwrite)
    _write_files(contents)
    return {fmt: out_dir / ONSET_FORMATS[fmt] for fmt in chosen}
