"""The catalogue of bad and unusual inputs a user meets (issue 15: what users meet).

One table for the command line and one for the API. Each row is an input and what it must
give: the exit status (CLI) or the exception class (API) and the words the message must hold
(the problem and its fix, in the CLI's words on the command line), or the right result. The
CLI rows run in-process through :func:`nmfsep._apps.cli.main`; a few run through a real
``python -m nmfsep`` subprocess at the end (each costs an interpreter start).

Families: audio input (missing, folder, unreadable, truncated, corrupt), outputs (existing,
unwritable, all-or-nothing, full disk), the first hour (recipes listed with what they need,
the generic-templates note, devices, evaluate on separate's folder, progress and --quiet).
"""

import errno
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Sequence

import numpy as np
import pytest
import soundfile as sf
import torch

from nmfsep import ParameterError
from nmfsep._apps.cli import main

RATE = 16000
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# --------------------------------------------------------------------------- inputs
@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    """Files of every kind the rows use, made once: a drum mixture with its references, a
    truncated copy, a corrupt file, a folder, a plain file where a folder is expected."""
    folder = tmp_path_factory.mktemp("inputs")
    t = np.arange(1600) / RATE
    kick = np.zeros(RATE, np.float32)
    hihat = np.zeros(RATE, np.float32)
    noise = np.random.default_rng(0).standard_normal(400)
    for start in range(0, RATE - 1600, 4000):
        kick[start:start + 1600] += 0.5 * np.sin(2 * np.pi * 60 * t) * np.exp(-30 * t)
        hihat[start + 2000:start + 2400] += 0.1 * noise
    mixture = kick + hihat
    sf.write(folder / "song.wav", mixture, RATE)
    references = folder / "references"
    references.mkdir()
    for name, source in (("kick", kick), ("hihat", hihat), ("snare", np.zeros_like(kick))):
        sf.write(references / f"{name}.wav", source, RATE)
    sf.write(references / "mixture.wav", mixture, RATE)
    data = (folder / "song.wav").read_bytes()
    (folder / "cut.wav").write_bytes(data[: len(data) // 2])
    (folder / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(range(256)) * 8)
    sf.write(folder / "silent.wav", np.zeros(RATE, np.float32), RATE)
    with_nan = mixture.copy()
    with_nan[100] = np.nan
    sf.write(folder / "nan.wav", with_nan, RATE, subtype="FLOAT")
    sf.write(folder / "empty.wav", np.zeros((0, 1), np.float32), RATE)
    (folder / "notes.wav").write_text("not audio")
    (folder / "a_folder").mkdir()
    (folder / "a_file").write_text("not a folder")
    return {k: str(v) for k, v in dict(
        song=folder / "song.wav", cut=folder / "cut.wav", corrupt=folder / "corrupt.wav",
        silent=folder / "silent.wav", nan=folder / "nan.wav", empty=folder / "empty.wav",
        notes=folder / "notes.wav",
        folder=folder / "a_folder", file=folder / "a_file", references=references).items()}


def _run_main(argv: Sequence[str], capsys):
    try:
        status = main(list(argv))
    except SystemExit as stop:  # usage errors exit through argparse
        status = stop.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# --------------------------------------------------------------------------- CLI table
@dataclass
class Case:
    argv: List[str]
    status: int
    words: List[str]                                   # in stdout + stderr
    absent: List[str] = field(default_factory=list)    # never in stdout + stderr
    existing: List[str] = field(default_factory=list)  # files made before the command
    outputs: List[str] = field(default_factory=list)   # the files the command must leave
    root_ok: bool = True                               # meaningful when run as root


SEPARATE = ["separate", "{song}", "--out", "{out}"]
CLI_CASES = {
    # audio input
    "missing mixture": Case(["separate", "{out}/nope.wav", "--recipe", "drums", "--out", "{out}"],
                            1, ["mixture not found", "nope.wav"]),
    "folder as mixture": Case(["separate", "{folder}", "--recipe", "drums", "--out", "{out}"], 1,
                              ["is a folder", "pass the audio file"], ["not found"]),
    "truncated mixture": Case(["separate", "{cut}", "--recipe", "drums-generic", "--out", "{out}"],
                              1, ["truncated", "promises 16000 frames", "--allow-truncated"],
                              outputs=[]),
    "truncated mixture accepted": Case(
        ["-q", "separate", "{cut}", "--recipe", "drums-generic", "--out", "{out}",
         "--allow-truncated"], 0, [], outputs=["cut/kick.wav", "cut/snare.wav", "cut/hihat.wav"]),
    "corrupt mixture": Case(["separate", "{corrupt}", "--recipe", "drums", "--out", "{out}"], 1,
                            ["could not decode", "corrupt.wav"], ["Traceback"]),
    "silent mixture": Case(["separate", "{silent}", "--recipe", "drums", "--out", "{out}"], 1,
                           ["is silent", "nothing to separate"], ["allow_silent"]),
    "mixture with NaN": Case(["separate", "{nan}", "--recipe", "drums-harmonic", "--out",
                              "{out}"], 1, ["nan.wav", "1 NaN or Inf sample"]),
    "mixture without samples": Case(["separate", "{empty}", "--recipe", "drums", "--out",
                                     "{out}"], 1, ["empty.wav", "no audio samples"]),
    "text file as mixture": Case(["separate", "{notes}", "--recipe", "drums", "--out", "{out}"],
                                 1, ["could not decode", "notes.wav", "not audio"]),
    "corrupt file to plot": Case(["plot", "{corrupt}", "--out", "{out}/x.png"], 1,
                                 ["could not decode", "corrupt.wav"]),
    "truncated file to transcribe": Case(["transcribe", "{cut}", "--out", "{out}"], 1,
                                         ["truncated", "--allow-truncated"]),
    # outputs
    "out under a file": Case(["separate", "{song}", "--recipe", "drums", "--out", "{file}/stems"],
                             1, ["'{file}' is a file"]),
    "out nobody may write": Case(["separate", "{song}", "--recipe", "drums", "--out",
                                  "/proc/1/nmfsep-stems"], 1, ["cannot write to --out"]),
    "existing stems": Case(SEPARATE + ["--recipe", "drums-generic"], 1,
                           ["already exists", "pass --overwrite"], ["overwrite=True"],
                           existing=["song/kick.wav"], outputs=["song/kick.wav"]),
    "existing onsets": Case(["transcribe", "{song}", "--drums-only", "--out", "{out}"], 1,
                            ["already exists", "--overwrite"], ["overwrite=True"],
                            existing=["song/onsets.json"]),
    "templates to an unwritable place": Case(
        ["learn-templates", "{song}", "--out", "/proc/1/kit.pt"], 1,
        ["cannot write to --out's folder"]),
    # the first hour
    "recipes": Case(["recipes"], 0, ["drums  ->  kick, snare, hihat", "drums-harmonic",
                                     "piano-bass", "--templates required", "--hits optional",
                                     "generic drum templates", "stereo"]),
    "drums without hits": Case(SEPARATE + ["--recipe", "drums"], 0,
                               ["no hits or templates given: using the generic drum templates"],
                               outputs=["song/kick.wav", "song/snare.wav", "song/hihat.wav"]),
    "drums-harmonic shows progress": Case(SEPARATE + ["--recipe", "drums-harmonic"], 0,
                                          ["drums/harmonic cascade"],
                                          outputs=["song/drums.wav", "song/harmonic.wav"]),
    "quiet means quiet": Case(["-q"] + SEPARATE + ["--recipe", "drums-harmonic"], 0, [],
                              ["cascade", "no hits or templates"],
                              outputs=["song/drums.wav", "song/harmonic.wav"]),
    "unknown recipe": Case(SEPARATE + ["--recipe", "drumz"], 1,
                           ["unknown recipe 'drumz'", "drums-generic"]),
    "hits to a recipe without": Case(SEPARATE + ["--recipe", "drums-generic", "--hits", "{song}"],
                                     1, ["takes no hits", "'drums'"]),
    "piano-bass without templates": Case(SEPARATE + ["--recipe", "piano-bass"], 1,
                                         ["--templates"]),
    "meta device": Case(SEPARATE + ["--recipe", "drums", "--device", "meta"], 2,
                        ["--device 'meta'", "holds no data", "use cpu"], ["Tensor.item"]),
    "unknown device": Case(SEPARATE + ["--recipe", "drums", "--device", "banana"], 2,
                          ["not a torch device"]),
    "missing GPU": Case(SEPARATE + ["--recipe", "drums", "--device", "cuda:7"], 2,
                        ["--device 'cuda:7'"]),
    "evaluate the folder separate wrote": Case(
        ["evaluate", "{out}", "{references}"], 0, ["mean     kick", "mean     ALL"],
        existing=["song/kick.wav", "song/snare.wav", "song/hihat.wav"]),
}


def _fill(text: str, paths: dict) -> str:
    return text.format(**paths)


@pytest.mark.parametrize("name", list(CLI_CASES))
def test_cli_catalogue(name, inputs, tmp_path, capsys):
    case = CLI_CASES[name]
    paths = dict(inputs, out=str(tmp_path / "out"))
    for relative in case.existing:  # e.g. the stems of an earlier run
        target = tmp_path / "out" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.suffix == ".wav":
            sf.write(target, sf.read(inputs["song"])[0] * 0.5, RATE)
        else:
            target.write_text("{}")
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*") if p.is_file()}
    if name == "missing GPU" and torch.cuda.is_available() and torch.cuda.device_count() > 7:
        pytest.skip("this machine has 8 GPUs")
    status, out, err = _run_main([_fill(a, paths) for a in case.argv], capsys)
    text = out + err
    assert status == case.status, text
    for words in case.words:
        assert _fill(words, paths) in text, text
    for words in case.absent:
        assert words not in text, text
    assert "Traceback" not in text
    if status != 0:  # the error is one line, the last, and nothing half-written is left
        lines = err.strip().splitlines()
        assert [line for line in lines if "error:" in line] == lines[-1:], err
        after = {p for p in (tmp_path / "out").rglob("*") if p.is_file()}
        assert after == set(before), "a failed command changed the output folder"
        assert all(p.stat().st_mtime_ns == before[p] for p in after)
    for relative in case.outputs:
        written = tmp_path / "out" / relative
        assert written.is_file(), relative
        if status == 0:
            audio, rate = sf.read(written)
            assert rate == RATE and np.isfinite(audio).all() and len(audio) > 0
    leftovers = [p for p in tmp_path.rglob("*.tmp")]
    assert leftovers == []


def test_cli_stems_of_a_truncated_mixture_have_its_length(inputs, tmp_path, capsys):
    status, _, err = _run_main(["separate", inputs["cut"], "--recipe", "drums-generic", "--out",
                                str(tmp_path), "--allow-truncated"], capsys)
    assert status == 0
    assert "warning:" in err and "truncated" in err and "allow_truncated" not in err
    held = sf.info(inputs["cut"]).frames
    for source in ("kick", "snare", "hihat"):
        assert sf.info(tmp_path / "cut" / f"{source}.wav").frames == held


def test_separate_help_lists_the_recipes(capsys):
    with pytest.raises(SystemExit):
        main(["separate", "--help"])
    out = capsys.readouterr().out
    from nmfsep.recipes import RECIPES

    for name in RECIPES:
        assert f"\n{name}  ->  " in out
    assert "needs: --templates required" in out


# --------------------------------------------------------------------------- API table
def _api_cases(folder: Path):
    from nmfsep._pipeline._files import write_atomically
    from nmfsep.io import load, save
    from nmfsep.recipes import get_recipe, run_recipe, save_onsets
    from nmfsep.separation import Templates, write_stems

    existing = folder / "existing.wav"
    sf.write(existing, np.zeros(100, np.float32), RATE)
    (folder / "onsets.json").write_text("{}")

    def full_disk(temporary):
        raise OSError(errno.ENOSPC, "No space left on device")

    templates = Templates(torch.rand(5, 2), ("a", "b"), (0, 1), RATE, "stft",
                          dict(n_fft=8, hop_length=2, window="hann"))
    return {
        # audio input
        "load a folder": (lambda: load(folder), IsADirectoryError, ["is a folder"]),
        "load a missing file": (lambda: load(folder / "no.wav"), FileNotFoundError,
                                ["not found", "no.wav"]),
        "load a truncated file": (lambda: load(folder / "cut.wav"), ParameterError,
                                  ["truncated", "allow_truncated=True"]),
        "load a corrupt file": (lambda: load(folder / "corrupt.wav"), ParameterError,
                                ["could not decode", "corrupt.wav"]),
        "run_recipe on a folder": (lambda: run_recipe("drums", folder, folder / "out"),
                                   IsADirectoryError, ["mixture", "is a folder"]),
        "run_recipe into a file": (lambda: run_recipe("drums", folder / "song.wav",
                                                      existing / "out"),
                                   NotADirectoryError, ["existing.wav' is a file"]),
        "unknown recipe": (lambda: get_recipe("drumz"), ParameterError,
                           ["unknown recipe", "drums-harmonic"]),
        # outputs
        "save over a file": (lambda: save(existing, torch.zeros(1, 10), RATE), FileExistsError,
                             ["already exists", "overwrite=True"]),
        "stems with NaN": (lambda: write_stems({"a": torch.zeros(1, 9),
                                                "b": torch.full((1, 9), float("nan"))},
                                               folder / "stems", RATE),
                           ParameterError, ["NaN"]),
        "templates over a file": (lambda: templates.save(existing), FileExistsError,
                                  ["already exists", "overwrite=True"]),
        "onsets over a file": (lambda: save_onsets({"kick": [0.5]}, folder, formats=["json"]),
                               FileExistsError, ["onsets.json", "already exists"]),
        "full disk": (lambda: write_atomically({folder / "full" / "kick.wav": full_disk}),
                      OSError, ["disk is full", "kick.wav"]),
    }


API_NAMES = ["load a folder", "load a missing file", "load a truncated file",
             "load a corrupt file", "run_recipe on a folder", "run_recipe into a file",
             "unknown recipe", "save over a file", "stems with NaN", "templates over a file",
             "onsets over a file", "full disk"]


@pytest.mark.parametrize("name", API_NAMES)
def test_api_catalogue(name, inputs, tmp_path):
    folder = tmp_path
    for key in ("song", "cut", "corrupt"):
        (folder / Path(inputs[key]).name).write_bytes(Path(inputs[key]).read_bytes())
    call, error, words = _api_cases(folder)[name]
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    with pytest.raises(error) as caught:
        call()
    assert type(caught.value) is error  # the exact class, not a parent
    for text in words:
        assert text in str(caught.value), str(caught.value)
    after = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    assert after == before  # nothing written, no temporary left


def test_api_truncated_file_with_the_flag_gives_the_samples_there(inputs):
    from nmfsep.io import load

    with pytest.warns(UserWarning, match="truncated"):
        waveform, rate = load(inputs["cut"], allow_truncated=True)
    whole, _ = load(inputs["song"])
    held = waveform.shape[1]
    assert rate == RATE and 7900 < held < 8000
    assert torch.allclose(waveform, whole[:, :held], atol=1e-4)  # 16-bit PCM


# --------------------------------------------------------------------------- subprocess
def test_cli_catalogue_through_a_real_process(inputs, tmp_path):
    """Exit statuses and one-line messages as a shell sees them, a few cases per process."""
    def nmfsep(*argv):
        return subprocess.run([sys.executable, "-m", "nmfsep", *argv], capture_output=True,
                              text=True, timeout=300)

    meta = nmfsep("separate", inputs["song"], "--recipe", "drums", "--out", str(tmp_path),
                  "--device", "meta")
    assert meta.returncode == 2 and "holds no data" in meta.stderr
    folder = nmfsep("separate", inputs["folder"], "--recipe", "drums", "--out", str(tmp_path))
    assert folder.returncode == 1
    assert folder.stderr.strip().splitlines() == [
        f"nmfsep separate: error: mixture '{inputs['folder']}' is a folder, not a file; pass the "
        f"audio file(s) inside it (e.g. '{Path(inputs['folder']) / '*.wav'}')."]
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- reproducible
def test_the_same_seed_gives_byte_identical_files(inputs, tmp_path, capsys):
    runs = []
    for run in ("first", "second"):
        argv = ["-q", "--seed", "3", "separate", inputs["song"], "--recipe", "drums",
                "--out", str(tmp_path / run)]
        assert _run_main(argv, capsys)[0] == 0
        runs.append({p.relative_to(tmp_path / run): p.read_bytes()
                     for p in sorted((tmp_path / run).rglob("*.wav"))})
    assert len(runs[0]) == 3 and runs[0] == runs[1]
    # the time of writing that libsndfile puts in float WAVs' PEAK chunk is cleared
    for data in runs[0].values():
        at = data.index(b"PEAK")
        assert at < data.index(b"data") and data[at + 12:at + 16] == bytes(4)

    from nmfsep.separation import Templates

    templates = Templates(torch.rand(5, 2), ("a", "b"), (0, 1), RATE, "stft",
                          dict(n_fft=8, hop_length=2, window="hann"))
    # each save goes through its own temporary file name: the bytes must not depend on it
    saved = [templates.save(tmp_path / f"kit_{k}.pt").read_bytes() for k in range(2)]
    assert saved[0] == saved[1]
    assert torch.equal(Templates.load(tmp_path / "kit_0.pt").W, templates.W)

    images = []
    for k in range(2):
        target = tmp_path / f"song_{k}.svg"
        assert _run_main(["-q", "plot", inputs["song"], "--out", str(target)], capsys)[0] == 0
        images.append(target.read_bytes())
    assert images[0] == images[1]
