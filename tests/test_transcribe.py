"""Drum onsets on disk (JSON, CSV, General-MIDI) and ``nmfsep transcribe`` end to end."""

import csv
import doctest
import json
import math
import struct
import sys
import tempfile
import types

import numpy as np
import pytest
import soundfile
import torch

from nmfsep._apps import cli, onsets_io
from nmfsep._apps.cli import main
from nmfsep._apps.recipes.drums import DrumModel
from nmfsep._apps.recipes.transcription import HIHAT_ALONE, struck_hihat
from nmfsep.recipes import (
    GM_DRUM_NOTES,
    ONSET_THRESHOLDS,
    SONG_THRESHOLDS,
    Recipe,
    drum_onsets,
    onset_f_measure,
    read_drum_midi,
    save_onsets,
    separate_drums,
    write_drum_midi,
)

TICK = 1 / 960  # seconds per tick at 120 bpm and 480 ticks per quarter note


# --------------------------------------------------------------------------- a MIDI parser
def _vlq(data, pos):
    value = 0
    while True:
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, pos


def _parse(data):
    """Header fields and ``(tick, status, data1, data2)`` / ``(tick, "meta", type, payload)``
    events of a one-track file without running status (what the writer makes)."""
    assert data[:4] == b"MThd"
    length, fmt, n_tracks, division = struct.unpack(">IHHH", data[4:14])
    assert data[14:18] == b"MTrk"
    (size,) = struct.unpack(">I", data[18:22])
    track = data[22:22 + size]
    assert len(data) == 22 + size  # nothing after the track
    events, pos, tick = [], 0, 0
    while pos < len(track):
        delta, pos = _vlq(track, pos)
        tick += delta
        status = track[pos]
        if status == 0xFF:
            kind = track[pos + 1]
            n, pos = _vlq(track, pos + 2)
            events.append((tick, "meta", kind, track[pos:pos + n]))
            pos += n
        else:
            assert status & 0x80, "the writer uses no running status"
            events.append((tick, status, track[pos + 1], track[pos + 2]))
            pos += 3
    return (length, fmt, n_tracks, division), events


# --------------------------------------------------------------------------- MIDI
def test_gm_drum_notes():
    assert GM_DRUM_NOTES == {"kick": 36, "snare": 38, "hihat": 42, "hihat_open": 46,
                             "tom": 45, "crash": 49, "ride": 51, "cymbal": 49}


def test_midi_bytes_of_one_kick_are_exact(tmp_path):
    path = write_drum_midi({"kick": [0.0]}, tmp_path / "k.mid")
    track = (b"\x00\xff\x51\x03\x07\xa1\x20"   # tempo 500000 us per quarter (120 bpm)
             b"\x00\x99\x24\x64"               # note-on, channel 10, key 36, velocity 100
             b"\x30\x89\x24\x00"               # 48 ticks (50 ms) later: note-off
             b"\x00\xff\x2f\x00")              # end of track
    assert path.read_bytes() == (b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0"
                                 + b"MTrk" + struct.pack(">I", len(track)) + track)
    # delta times as variable-length quantities: 960 ticks (1 s) = 87 40, 96000 (100 s) = 85 EE 00
    tempo = b"\x00\xff\x51\x03\x07\xa1\x20"
    assert tempo + b"\x87\x40\x99\x24\x64" in write_drum_midi(
        {"kick": [1.0]}, tmp_path / "1s.mid").read_bytes()
    assert tempo + b"\x85\xee\x00\x99\x24\x64" in write_drum_midi(
        {"kick": [100.0]}, tmp_path / "100s.mid").read_bytes()


def test_midi_round_trip_and_parsed_bytes(tmp_path):
    onsets = {"kick": torch.tensor([0.0, 1.0, 2.3456789], dtype=torch.float64),
              "snare": np.array([0.5, 1.5]),
              "hihat": [0.25, 0.7501, 1.2499, 1.75]}
    path = write_drum_midi(onsets, tmp_path / "beat.mid")
    back = read_drum_midi(path)
    assert set(back) == {"kick", "snare", "hihat"}
    for name, times in onsets.items():
        expected = np.asarray(times, dtype=np.float64)
        assert len(back[name]) == len(expected)
        assert np.abs(np.array(back[name]) - expected).max() <= TICK / 2 + 1e-12

    (length, fmt, n_tracks, division), events = _parse(path.read_bytes())
    assert (length, fmt, n_tracks, division) == (6, 0, 1, 480)
    assert [e for e in events if e[1] == "meta" and e[2] == 0x51] == [(0, "meta", 0x51, b"\x07\xa1\x20")]
    assert events[-1][1:3] == ("meta", 0x2F)
    notes = [e for e in events if e[1] != "meta"]
    assert [e[0] for e in notes] == sorted(e[0] for e in notes)  # sorted by time
    assert {e[1] for e in notes} == {0x99, 0x89}                 # channel 10 only
    ons = [(tick, key, vel) for tick, status, key, vel in notes if status == 0x99]
    assert sorted(ons) == sorted(
        [(0, 36, 100), (960, 36, 100), (2252, 36, 100), (480, 38, 100), (1440, 38, 100),
         (240, 42, 100), (720, 42, 100), (1200, 42, 100), (1680, 42, 100)])
    offs = {(tick, key) for tick, status, key, _ in notes if status == 0x89}
    assert offs == {(tick + 48, key) for tick, key, _ in ons}  # 50 ms later
    # the last kick (tick 2252) comes 524 ticks after the last hi-hat's note-off (1680 + 48):
    # the delta 0x20C as the variable-length quantity 84 0C
    assert b"\x84\x0c\x99\x24\x64" in path.read_bytes()


def test_midi_round_trip_at_another_tempo(tmp_path):
    times = [0.0, 0.0123, 0.5, 3.14159, 10.0]
    path = write_drum_midi({"ride": times}, tmp_path / "r.mid", tempo_bpm=97)
    tick = 60 / 97 / 480
    back = read_drum_midi(path)
    assert list(back) == ["ride"]
    assert np.abs(np.array(back["ride"]) - times).max() <= tick / 2 + 1e-9


def test_velocities_map_onto_1_to_127(tmp_path):
    path = write_drum_midi({"kick": [0.0, 0.5, 1.0], "snare": [0.25]}, tmp_path / "v.mid",
                           velocities={"kick": torch.tensor([0.0, 0.5, 1.0])})
    _, events = _parse(path.read_bytes())
    assert [(e[2], e[3]) for e in events if e[1] == 0x99] == [(36, 1), (38, 100), (36, 64),
                                                                (36, 127)]


def test_close_hits_of_one_note_do_not_overlap(tmp_path):
    path = write_drum_midi({"snare": [0.0, 0.02]}, tmp_path / "s.mid")
    _, events = _parse(path.read_bytes())
    notes = [(e[0], e[1]) for e in events if e[1] != "meta"]
    # the first note ends where the second begins (19 ticks), before it starts again
    assert notes == [(0, 0x99), (19, 0x89), (19, 0x99), (67, 0x89)]
    assert read_drum_midi(path) == {"snare": [0.0, 19 / 960]}


def test_reader_handles_format_1_tempo_changes_and_running_status(tmp_path):
    conductor = (b"\x00\xff\x51\x03\x07\xa1\x20"           # 120 bpm from tick 0
                 b"\x87\x40\xff\x51\x03\x0f\x42\x40"       # 60 bpm from tick 960
                 b"\x00\xff\x2f\x00")
    drums = (b"\x83\x60\x99\x24\x64"     # tick 480: kick
             b"\x83\x60\x26\x50"         # tick 960: snare (running status)
             b"\x00\x2a\x00"             # note-on velocity 0 = note-off: ignored
             b"\x00\x90\x24\x64"         # channel 1: not a drum
             b"\x83\x60\x99\x23\x64"     # tick 1440: key 35, not in the table
             b"\x00\xf0\x01\xf7"         # a system-exclusive message
             b"\x00\xff\x2f\x00")
    data = (b"MThd" + struct.pack(">IHHH", 6, 1, 2, 480)
            + b"MTrk" + struct.pack(">I", len(conductor)) + conductor
            + b"MTrk" + struct.pack(">I", len(drums)) + drums)
    path = tmp_path / "other.mid"
    path.write_bytes(data)
    assert read_drum_midi(path) == {"kick": [0.5], "snare": [1.0], "note_35": [2.0]}
    # "note_<n>" writes back to the same key
    again = write_drum_midi(read_drum_midi(path), tmp_path / "again.mid")
    assert read_drum_midi(again) == {"kick": [0.5], "snare": [1.0], "note_35": [2.0]}


def test_reader_rejects_other_files(tmp_path):
    wav = tmp_path / "a.wav"
    soundfile.write(wav, np.zeros(100), 8000)
    with pytest.raises(ValueError, match="is not a Standard MIDI File"):
        read_drum_midi(wav)
    good = write_drum_midi({"kick": [0.0, 1.0]}, tmp_path / "good.mid").read_bytes()
    cut = tmp_path / "cut.mid"
    cut.write_bytes(good[:-6])
    with pytest.raises(ValueError, match="not a valid MIDI file"):
        read_drum_midi(cut)
    with pytest.raises(FileNotFoundError):
        read_drum_midi(tmp_path / "missing.mid")


@pytest.mark.parametrize("onsets, kwargs, error, message", [
    ({"cowbell": [1.0]}, {}, ValueError, "known instruments: crash, cymbal, hihat, hihat_open, kick"),
    ({"kick": [-0.1]}, {}, ValueError, r"onsets\['kick'\] must be finite, non-negative"),
    ({"kick": [0.1, float("nan")]}, {}, ValueError, "position 1"),
    ({"kick": [[0.1]]}, {}, ValueError, "one-dimensional"),
    ({"kick": "0.1"}, {}, TypeError, "sequence of seconds"),
    ([0.1, 0.2], {}, TypeError, "must be a mapping"),
    ({1: [0.1]}, {}, TypeError, "non-empty strings"),
    ({"kick": [0.1]}, {"velocities": {"kick": [1.5]}}, ValueError, r"in \[0, 1\]"),
    ({"kick": [0.1]}, {"velocities": {"kick": [1, 1]}}, ValueError, "2 values for 1 onsets"),
    ({"kick": [0.1]}, {"velocities": {"snare": [1]}}, ValueError, "onsets does not have"),
    ({"kick": [0.1]}, {"tempo_bpm": 0}, ValueError, "tempo_bpm must be a positive number"),
    ({"kick": [0.1]}, {"tempo_bpm": 2}, ValueError, "outside what a MIDI file can store"),
    ({"kick": [1e6]}, {}, ValueError, "a MIDI file at this tempo ends at 279620 s"),
])
def test_midi_bad_inputs(tmp_path, onsets, kwargs, error, message):
    with pytest.raises(error, match=message):
        write_drum_midi(onsets, tmp_path / "x.mid", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_midi_refuses_an_existing_file(tmp_path):
    path = tmp_path / "d.mid"
    path.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="d.mid' already exists.*--overwrite"):
        write_drum_midi({"kick": [0.0]}, path)
    assert path.read_bytes() == b"keep me"
    write_drum_midi({"kick": [0.0]}, path, overwrite=True)
    assert read_drum_midi(path) == {"kick": [0.0]}


# --------------------------------------------------------------------------- save_onsets
ONSETS = {"kick": torch.tensor([0.0, 1.0], dtype=torch.float64),
          "snare": torch.tensor([0.5], dtype=torch.float64),
          "hihat": torch.tensor([1.0, 0.25, 0.1234567], dtype=torch.float64)}  # any order


def test_save_onsets_contents(tmp_path):
    paths = save_onsets(ONSETS, tmp_path / "song", sample_rate=22050, source="x/song.wav")
    assert paths == {"json": tmp_path / "song" / "onsets.json",
                     "csv": tmp_path / "song" / "onsets.csv",
                     "mid": tmp_path / "song" / "drums.mid"}
    assert json.loads(paths["json"].read_text()) == {
        "kick": [0.0, 1.0], "snare": [0.5], "hihat": [0.1234567, 0.25, 1.0]}
    assert paths["csv"].read_text() == ("time,instrument\n"
                                        "0.000000,kick\n"
                                        "0.123457,hihat\n"
                                        "0.250000,hihat\n"
                                        "0.500000,snare\n"
                                        "1.000000,kick\n"
                                        "1.000000,hihat\n")
    back = read_drum_midi(paths["mid"])
    assert set(back) == set(ONSETS)
    for name, times in ONSETS.items():
        assert np.abs(np.array(back[name]) - np.sort(times.numpy())).max() <= TICK / 2 + 1e-12
    _, events = _parse(paths["mid"].read_bytes())
    assert (0, "meta", 0x03, b"nmfsep drum onsets of song.wav (22050 Hz)") in events
    assert sorted(p.name for p in (tmp_path / "song").iterdir()) == [
        "drums.mid", "onsets.csv", "onsets.json"]  # no temporary files left


def test_save_onsets_formats_and_empty_instruments(tmp_path):
    paths = save_onsets({"kick": [], "snare": [0.5]}, tmp_path, formats=["csv", "json", "csv"])
    assert list(paths) == ["csv", "json"]
    assert not (tmp_path / "drums.mid").exists()
    assert json.loads(paths["json"].read_text()) == {"kick": [], "snare": [0.5]}
    assert list(csv.DictReader(paths["csv"].open())) == [{"time": "0.500000", "instrument": "snare"}]


@pytest.mark.parametrize("kwargs, error, message", [
    ({"formats": ["json", "midi"]}, ValueError, "unknown onset format 'midi'; choose from json, csv, mid"),
    ({"formats": []}, ValueError, "formats is empty"),
    ({"sample_rate": -1}, ValueError, "sample_rate"),
])
def test_save_onsets_bad_options(tmp_path, kwargs, error, message):
    with pytest.raises(error, match=message):
        save_onsets(ONSETS, tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_save_onsets_refuses_before_writing_anything(tmp_path):
    first = save_onsets(ONSETS, tmp_path)
    before = {p: p.read_bytes() for p in first.values()}
    with pytest.raises(FileExistsError, match="onsets.json' already exists.*--overwrite"):
        save_onsets({"kick": [3.0]}, tmp_path)
    assert {p: p.read_bytes() for p in first.values()} == before

    # only the MIDI file exists: neither the JSON nor the CSV is written
    other = tmp_path / "other"
    other.mkdir()
    (other / "drums.mid").write_bytes(b"old")
    with pytest.raises(FileExistsError, match="drums.mid"):
        save_onsets(ONSETS, other)
    assert sorted(p.name for p in other.iterdir()) == ["drums.mid"]
    assert (other / "drums.mid").read_bytes() == b"old"

    save_onsets({"kick": [3.0]}, tmp_path, overwrite=True)
    assert json.loads(first["json"].read_text()) == {"kick": [3.0]}


def test_a_failure_while_writing_leaves_no_partial_files(tmp_path, monkeypatch):
    old = save_onsets(ONSETS, tmp_path / "kept")
    before = {p: p.read_bytes() for p in old.values()}
    calls = []

    def failing_fsync(fd):
        calls.append(fd)
        if len(calls) == 2:  # the second file: the first one is already on disk
            raise OSError("disk full")

    monkeypatch.setattr(onsets_io.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        save_onsets({"kick": [3.0]}, tmp_path / "kept", overwrite=True)
    assert {p: p.read_bytes() for p in old.values()} == before  # all or nothing
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == [
        "drums.mid", "onsets.csv", "onsets.json"]

    calls.clear()
    with pytest.raises(OSError, match="disk full"):
        save_onsets(ONSETS, tmp_path / "new" / "song")
    assert not (tmp_path / "new").exists()  # the folders it made are gone again

    calls.clear()
    calls.append(None)  # the next fsync fails
    with pytest.raises(OSError, match="disk full"):
        write_drum_midi(ONSETS, tmp_path / "d.mid")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]


def test_the_docstring_examples_run(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # their files land here
    result = doctest.testmod(onsets_io, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 8 and result.failed == 0


# --------------------------------------------------------------------------- CLI
def test_cli_and_file_formats_agree():
    assert cli.ONSET_FORMATS == tuple(onsets_io.ONSET_FORMATS)


@pytest.fixture
def fake_recipes(monkeypatch):
    """A stand-in for nmfsep.recipes whose ``drum-onsets`` recipe (settings ``accompaniment``
    and ``threshold``) records its function's calls."""
    calls = []
    module = types.ModuleType("nmfsep.recipes")

    def drum_onsets(mixture, sample_rate, **options):
        calls.append((tuple(mixture.shape), sample_rate, options))
        return {"kick": torch.tensor([0.1, 0.6], dtype=torch.float64),
                "snare": torch.tensor([0.35], dtype=torch.float64),
                "hihat": torch.zeros(0, dtype=torch.float64)}

    recipe = Recipe("drum-onsets", drum_onsets, None, "", output="onsets",
                    settings=types.MappingProxyType({"accompaniment": True, "threshold": None}))
    module.get_recipe = {"drum-onsets": recipe}.__getitem__
    monkeypatch.setitem(sys.modules, "nmfsep.recipes", module)
    return calls


@pytest.fixture
def song(tmp_path):
    path = tmp_path / "song.wav"
    soundfile.write(path, np.zeros((8000, 2)), 8000, subtype="FLOAT")
    return path


def test_transcribe_wiring(tmp_path, song, fake_recipes, capsys):
    hits = tmp_path / "hits"
    hits.mkdir()
    for name in ("snare_0.wav", "kick_0.wav"):
        soundfile.write(hits / name, np.zeros(100), 8000)
    out = tmp_path / "out"
    assert main(["transcribe", str(song), "--out", str(out), "--hits", str(hits),
                 "--drums-only"]) == 0
    assert fake_recipes == [((2, 8000), 8000, {
        "hits": [hits / "kick_0.wav", hits / "snare_0.wav"], "templates": None,
        "accompaniment": False, "threshold": None, "device": None, "verbose": True})]
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{song}: kick 2, snare 1, hihat 0 onsets -> {out / 'song'}")
    assert json.loads((out / "song" / "onsets.json").read_text()) == {
        "kick": [0.1, 0.6], "snare": [0.35], "hihat": []}
    assert read_drum_midi(out / "song" / "drums.mid") == {"kick": [0.1, 0.6], "snare": [0.35]}

    templates = tmp_path / "kit.pt"
    templates.write_bytes(b"")
    assert main(["transcribe", str(song), "-o", str(tmp_path / "o2"), "--templates",
                 str(templates), "--formats", "csv", "-q", "--device", "cpu", "--set",
                 "threshold=0.2"]) == 0
    assert fake_recipes[-1][2] == {"hits": None, "templates": templates, "accompaniment": True,
                                   "threshold": 0.2, "device": "cpu", "verbose": False}
    assert capsys.readouterr().out == ""
    assert [p.name for p in (tmp_path / "o2" / "song").iterdir()] == ["onsets.csv"]


def test_transcribe_refuses_existing_outputs_before_any_work(tmp_path, song, fake_recipes, capsys):
    folder = tmp_path / "out" / "song"
    folder.mkdir(parents=True)
    (folder / "drums.mid").write_bytes(b"old")
    assert main(["transcribe", str(song), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "drums.mid' already exists" in err and "--overwrite" in err
    assert fake_recipes == []  # refused before loading or fitting anything
    assert sorted(p.name for p in folder.iterdir()) == ["drums.mid"]
    assert (folder / "drums.mid").read_bytes() == b"old"

    assert main(["transcribe", str(song), "--out", str(tmp_path / "out"), "--overwrite", "-q"]) == 0
    assert read_drum_midi(folder / "drums.mid") == {"kick": [0.1, 0.6], "snare": [0.35]}


@pytest.mark.parametrize("arguments, status, message", [
    (["missing.wav", "--out", "o"], 1, "mixture not found"),
    (["song.wav", "--out", "o", "--hits", "nohits"], 1, "hit file not found"),
    (["song.wav", "song.wav", "--out", "o"], 1, "several mixtures are named 'song'"),
    (["song.wav", "--out", "song.wav"], 1, "is a file; give a folder"),
])
def test_transcribe_bad_input_is_one_line(tmp_path, song, fake_recipes, capsys, monkeypatch,
                                          arguments, status, message):
    monkeypatch.chdir(tmp_path)
    assert main(["transcribe", *arguments]) == status
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and err.startswith("nmfsep transcribe: error:")
    assert fake_recipes == []


def test_transcribe_without_recipes_exits_2(song, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "nmfsep.recipes", None)  # as if the module did not exist
    assert main(["transcribe", str(song), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot run" in err and "nmfsep.recipes" in err
    assert not (tmp_path / "o").exists()


def test_transcribe_usage(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["transcribe", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and "--drums-only" in text and "--seed" in text
    with pytest.raises(SystemExit) as exit_info:
        main(["transcribe", "a.wav", "--out", "o", "--formats", "xml"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "transcribe" in capsys.readouterr().out


# --------------------------------------------------------------------------- end to end
SR = 22050
KICK_TIMES = [0.25, 0.75, 1.25, 1.75, 2.25, 2.75]
HIHAT_TIMES = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
SNARE_TIMES = [0.625, 1.625, 2.625]


def _kick(g):
    t = torch.arange(int(0.25 * SR)) / SR
    return torch.sin(2 * math.pi * 60 * t) * torch.exp(-20 * t)


def _hihat(g):
    t = torch.arange(int(0.1 * SR)) / SR
    noise = torch.randn(t.numel() + 1, generator=g)
    return 0.2 * (noise[1:] - noise[:-1]) * torch.exp(-60 * t)  # high-passed noise


def _snare(g):
    t = torch.arange(int(0.2 * SR)) / SR
    noise = torch.randn(t.numel() + 1, generator=g)
    return (0.2 * (noise[1:] + noise[:-1]) * torch.exp(-30 * t)  # low-passed noise
            + 0.5 * torch.sin(2 * math.pi * 200 * t) * torch.exp(-20 * t))


def test_transcribe_end_to_end(tmp_path, capsys):
    g = torch.Generator().manual_seed(1)
    mixture = torch.zeros(int(3.5 * SR))
    for times, make in ((KICK_TIMES, _kick), (HIHAT_TIMES, _hihat), (SNARE_TIMES, _snare)):
        for start in times:
            hit = make(g)  # a new noise every time
            i = round(start * SR)
            mixture[i:i + hit.numel()] += hit
    mix = tmp_path / "groove.wav"
    soundfile.write(mix, mixture.numpy(), SR, subtype="FLOAT")
    hits = tmp_path / "hits"
    hits.mkdir()
    for name, make in (("kick", _kick), ("hihat", _hihat), ("snare", _snare)):
        soundfile.write(hits / f"{name}_0.wav", make(g).numpy(), SR, subtype="FLOAT")
    out = tmp_path / "out"

    assert main(["transcribe", str(mix), "--out", str(out), "--hits",
                 *(str(hits / f"{n}_0.wav") for n in ("kick", "snare", "hihat")),
                 "--drums-only", "-q"]) == 0
    assert capsys.readouterr().out == ""
    folder = out / "groove"
    assert sorted(p.name for p in folder.iterdir()) == ["drums.mid", "onsets.csv", "onsets.json"]

    planted = {"kick": KICK_TIMES, "snare": SNARE_TIMES, "hihat": HIHAT_TIMES}
    from_json = json.loads((folder / "onsets.json").read_text())
    assert set(from_json) == {"kick", "snare", "hihat"}
    from_csv = {name: [] for name in planted}
    for row in csv.DictReader((folder / "onsets.csv").open()):
        from_csv[row["instrument"]].append(float(row["time"]))
    from_midi = read_drum_midi(folder / "drums.mid")
    for found in (from_json, from_csv, from_midi):
        for name in ("kick", "hihat", "snare"):
            scores = onset_f_measure(planted[name], found.get(name, []), window=0.03)
            assert scores["f_measure"] == 1.0, (name, found.get(name))
    # the three files hold the same onsets
    for name in planted:
        assert np.allclose(from_csv[name], from_json[name], atol=5e-7)
        assert np.allclose(from_midi.get(name, []), from_json[name], atol=TICK / 2 + 1e-9)


# --------------------------------------------------------------------------- hi-hat rules
def _one_frame_model(sources, rows):
    """A DrumModel of one-frame templates, one per source, at 100 frames per second (the onset
    of frame j at j / 100 s); ``rows[source]`` is that source's activation, (frames,)."""
    W = torch.zeros(1, len(sources), 2)
    W[0, :, 0] = 1.0
    H = torch.stack([rows[s] for s in sources])[None]
    return DrumModel(tuple(sources), torch.arange(len(sources)), W, H, 100, 2, 1, 1.0)


def _at(*frames):
    return torch.tensor(frames, dtype=torch.float64) / 100


def test_struck_hihat_drops_onsets_on_a_ringing_cymbal():
    strokes = torch.zeros(100)
    strokes[[10, 30, 50, 70]] = 1.0
    ring = torch.zeros(100)
    ring[55:70] = 0.6  # rings on up to the stroke at 70: 0.6 of its peak just before it
    onsets = {"hihat": _at(10, 30, 50, 70)}
    for owner in ("hihat", "cymbal"):  # the hi-hat's own ring or a cymbal's: both count
        rows = {"hihat": strokes + (ring if owner == "hihat" else 0), "kick": ring * 0,
                "cymbal": ring if owner == "cymbal" else ring * 0}
        model = _one_frame_model(("kick", "hihat", "cymbal"), rows)
        assert struck_hihat(model, onsets, alone=0).tolist() == _at(10, 30, 50).tolist()
        assert struck_hihat(model, onsets, rise=0.7, alone=0).tolist() == onsets["hihat"].tolist()
        assert struck_hihat(model, onsets, rise=1, alone=0).tolist() == onsets["hihat"].tolist()
    # a ringing kick is no cymbal
    model = _one_frame_model(("kick", "hihat"), {"hihat": strokes, "kick": ring})
    assert struck_hihat(model, onsets, alone=0).tolist() == onsets["hihat"].tolist()


def test_struck_hihat_needs_strokes_between_the_kick_and_the_snare():
    strokes = torch.zeros(100)
    strokes[[10, 30, 50, 70]] = 1.0
    model = _one_frame_model(("kick", "snare", "hihat"), {"kick": strokes * 0,
                                                          "snare": strokes * 0, "hihat": strokes})
    hihat = _at(10, 30, 50, 70)
    # one of the four strokes (at 70) lies farther than 50 ms from every kick and snare onset
    onsets = {"hihat": hihat, "kick": _at(12, 50), "snare": _at(33)}
    assert struck_hihat(model, onsets, alone=0.25).tolist() == hihat.tolist()
    assert struck_hihat(model, onsets, alone=0.3).numel() == 0
    assert struck_hihat(model, onsets, alone=0).tolist() == hihat.tolist()
    # without kick and snare onsets every stroke is between them
    assert struck_hihat(model, {"hihat": hihat}, alone=1).tolist() == hihat.tolist()
    assert struck_hihat(model, {"hihat": _at()}).numel() == 0
    with pytest.raises(ValueError, match="'hihat' entry"):
        struck_hihat(model, {"kick": hihat})
    with pytest.raises(ValueError, match="no 'hihat' source"):
        struck_hihat(_one_frame_model(("kick",), {"kick": strokes}), onsets)
    with pytest.raises(ValueError, match="rise"):
        struck_hihat(model, onsets, rise=1.5)


def _beats(g, beats, hihat):
    """Kick and snare on alternate beats (and a hi-hat on every beat with ``hihat``)."""
    song = torch.zeros(int(3.5 * SR))
    for k, t in enumerate(beats):
        i = round(t * SR)
        for hit in [(_kick if k % 2 == 0 else _snare)(g)] + ([_hihat(g)] if hihat else []):
            song[i:i + hit.numel()] += hit
    return song


BEATS = [0.25 + 0.25 * k for k in range(12)]


def test_generic_templates_report_no_hihat_for_kick_and_snare_alone():
    song = _beats(torch.Generator().manual_seed(2), BEATS, hihat=False)
    # the generic hi-hat templates take up the bright part of the snare: 6 peaks, all on
    # snare hits, and none of them between the kick's and the snare's
    every_peak = drum_onsets(song, SR, accompaniment=False, hihat_rise=1, hihat_alone=0)
    assert every_peak["hihat"].numel() == 6
    assert onset_f_measure(BEATS[1::2], every_peak["hihat"])["f_measure"] == 1.0
    onsets = drum_onsets(song, SR, accompaniment=False)
    assert onsets["hihat"].numel() == 0
    for name, planted in (("kick", BEATS[0::2]), ("snare", BEATS[1::2])):
        assert onset_f_measure(planted, onsets[name])["f_measure"] == 1.0, name


def test_kit_hits_keep_a_hihat_played_with_every_kick_and_snare():
    g = torch.Generator().manual_seed(2)
    song = _beats(g, BEATS, hihat=True)
    hits = {"kick": [_kick(g)], "snare": [_snare(g)], "hihat": [_hihat(g)]}
    onsets = drum_onsets(song, SR, hits=hits, accompaniment=False)
    assert onset_f_measure(BEATS, onsets["hihat"])["f_measure"] == 1.0
    # the rule of the generic templates would take it for the drums' bright part
    alone = drum_onsets(song, SR, hits=hits, accompaniment=False, hihat_alone=HIHAT_ALONE)
    assert alone["hihat"].numel() == 0
    with pytest.raises(ValueError, match="hihat_alone"):
        drum_onsets(song, SR, hits=hits, hihat_alone=-1)


def test_songs_keep_softer_snares_than_drum_recordings():
    # a soft snare between two loud ones: through the drum extraction of a song its
    # activation is 0.24 of the loudest snare's, between the song threshold (0.2) and the
    # drum recordings' (0.3)
    g = torch.Generator().manual_seed(3)
    song = torch.zeros(int(3.5 * SR))
    for t in KICK_TIMES:
        song[round(t * SR):round(t * SR) + int(0.25 * SR)] += _kick(g)
    for t, gain in zip(SNARE_TIMES, (1.0, 0.4, 1.0)):
        song[round(t * SR):round(t * SR) + int(0.2 * SR)] += gain * _snare(g)
    assert SONG_THRESHOLDS["snare"] < 0.24 < ONSET_THRESHOLDS["snare"]
    onsets = drum_onsets(song, SR)
    assert onset_f_measure(SNARE_TIMES, onsets["snare"])["f_measure"] == 1.0
    assert onset_f_measure(KICK_TIMES, onsets["kick"])["f_measure"] == 1.0
    strict = drum_onsets(song, SR, threshold=ONSET_THRESHOLDS)
    assert onset_f_measure(SNARE_TIMES[::2], strict["snare"])["f_measure"] == 1.0


@pytest.mark.parametrize("chunk_duration", [None, 2.0])  # one piece, and chunks of 2 s
def test_onsets_fit_the_model_without_stems(chunk_duration):
    g = torch.Generator().manual_seed(4)
    song = _beats(g, BEATS, hihat=True)
    hits = {"kick": [_kick(g)], "snare": [_snare(g)], "hihat": [_hihat(g)]}
    fit = dict(hits=hits, chunk_duration=chunk_duration, adapt_duration=2.0, n_rounds=1)
    stems, model = separate_drums(song, SR, return_model=True, **fit)
    nothing, same = separate_drums(song, SR, return_model=True, stems=False, **fit)
    assert nothing is None and set(stems) == {"kick", "snare", "hihat"}
    assert torch.equal(same.activations, model.activations)
    assert torch.equal(same.templates, model.templates)
    onsets, onset_stems = drum_onsets(song, SR, accompaniment=False, return_stems=True, **fit)
    assert set(onset_stems) == {"kick", "snare", "hihat"}
    alone = drum_onsets(song, SR, accompaniment=False, **fit)
    assert all(torch.equal(alone[name], onsets[name]) for name in onsets)
    assert onset_f_measure(BEATS[0::2], alone["kick"])["f_measure"] == 1.0
