"""The one atomic writer (nmfsep._pipeline._files) and the input / output checks.

All-or-nothing sets, clean-up on errors, SIGINT and SIGTERM, stale temporary files of killed
runs, a full disk, unreadable inputs and unwritable outputs. The subprocess tests kill real
processes; the rest run in-process.
"""

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from nmfsep._pipeline import _files
from nmfsep._pipeline._files import (
    TEMPORARY_NAME,
    Terminated,
    check_readable_file,
    check_writable_folder,
    remove_stale_temporaries,
    temporary_name,
    write_atomically,
)
from nmfsep.separation import write_stems

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False


def _leftovers(folder):
    return sorted(p.name for p in folder.rglob("*") if TEMPORARY_NAME.match(p.name))


def _dead_pid() -> int:
    """The pid of a process that has ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_set_is_written_whole_and_a_failing_writer_leaves_nothing(tmp_path):
    a, b = tmp_path / "out" / "a.txt", tmp_path / "out" / "b.txt"
    assert write_atomically({a: lambda t: t.write_text("A"), b: lambda t: t.write_text("B")}) \
        == [a, b]
    assert (a.read_text(), b.read_text()) == ("A", "B")

    def broken(temporary):
        temporary.write_text("half")
        raise RuntimeError("encoder failed")

    c = tmp_path / "new" / "deeper" / "c.txt"
    with pytest.raises(RuntimeError, match="encoder failed"):
        write_atomically({a: lambda t: t.write_text("A2"), c: broken})
    assert a.read_text() == "A"  # the first file of the set was not replaced
    assert not (tmp_path / "new").exists()  # folders made for the set are removed again
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("signum, raised", [(signal.SIGTERM, Terminated),
                                            (signal.SIGINT, KeyboardInterrupt)])
def test_a_signal_while_writing_removes_the_temporaries_and_restores_handlers(
        tmp_path, signum, raised):
    # Python's own SIGINT handler, as in a terminal: a job started in the background by a
    # shell inherits SIGINT ignored, which write_atomically rightly leaves ignored
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _signal_while_writing(tmp_path, signum, raised)
    finally:
        signal.signal(signal.SIGINT, previous)


def _signal_while_writing(tmp_path, signum, raised):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def interrupted(temporary):
        temporary.write_bytes(b"x" * 1000)
        os.kill(os.getpid(), signum)  # the handler runs before the next line
        time.sleep(5)  # pragma: no cover - only reached if the signal was not turned into an error

    with pytest.raises(raised):
        write_atomically({tmp_path / "kick.wav": lambda t: t.write_text("k"),
                          tmp_path / "snare.wav": interrupted})
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert {s: signal.getsignal(s) for s in before} == before


def test_a_signal_during_the_renames_waits_until_the_set_is_complete(tmp_path, monkeypatch):
    replace = os.replace
    calls = []

    def replace_then_signal(source, target):
        calls.append(target)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        replace(source, target)

    monkeypatch.setattr(_files.os, "replace", replace_then_signal)
    targets = [tmp_path / f"{name}.txt" for name in ("kick", "snare", "hihat")]
    with pytest.raises(Terminated):
        write_atomically({t: (lambda tmp, n=t.stem: tmp.write_text(n)) for t in targets})
    assert [t.read_text() for t in targets] == ["kick", "snare", "hihat"]
    assert _leftovers(tmp_path) == []


def test_stale_temporaries_of_dead_processes_are_removed_by_the_next_write(tmp_path):
    dead = tmp_path / f".kick.wav.nmfsep-{_dead_pid()}-0123abcd.tmp"
    alive = tmp_path / f".snare.wav.nmfsep-{os.getppid()}-0123abcd.tmp"  # a running process
    unrelated = tmp_path / ".kick.wav.tmp"
    older_version = tmp_path / ".hihat.wav.0123456789ab.tmp"  # nmfsep's names before pids
    for path in (dead, alive, unrelated, older_version):
        path.write_text("partial")
    write_atomically({tmp_path / "kick.wav": lambda t: t.write_text("done")})
    assert not dead.exists() and not older_version.exists()
    assert alive.exists() and unrelated.exists()
    assert remove_stale_temporaries(tmp_path) == []  # nothing more to remove
    assert TEMPORARY_NAME.match(temporary_name(tmp_path / "kick.wav").name)


def test_a_full_disk_is_named_with_the_path(tmp_path):
    def full(temporary):
        raise OSError(errno.ENOSPC, "No space left on device")

    target = tmp_path / "stems" / "kick.wav"
    with pytest.raises(OSError, match=r"disk is full.*stems[/\\]kick\.wav") as caught:
        write_atomically({target: full})
    assert caught.value.errno == errno.ENOSPC
    assert not target.parent.exists()


def test_a_libsndfile_failure_on_a_full_disk_is_named(tmp_path, monkeypatch):
    # libsndfile reports a full disk as "System error": the free space tells
    class FullDisk(sf.SoundFile):
        def write(self, data):
            raise RuntimeError("Error : System error.")

    monkeypatch.setattr(sf, "SoundFile", FullDisk)
    monkeypatch.setattr(_files.shutil, "disk_usage",
                        lambda folder: type("usage", (), {"free": 4096})())
    with pytest.raises(OSError, match=r"disk is full.*kick\.wav"):
        write_stems({"kick": torch.zeros(1, 80), "snare": torch.zeros(1, 80)}, tmp_path, 8000)
    assert list(tmp_path.iterdir()) == []


def test_write_stems_is_all_or_nothing(tmp_path):
    stems = {"kick": torch.zeros(1, 800), "snare": torch.full((1, 800), float("nan"))}
    with pytest.raises(ValueError, match="NaN"):  # checked before anything is written
        write_stems(stems, tmp_path, 8000)
    assert list(tmp_path.iterdir()) == []
    stems["snare"] = torch.ones(1, 800) * 0.5
    written = write_stems(stems, tmp_path, 8000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kick.wav", "snare.wav"]
    assert np.allclose(sf.read(written["snare"])[0], 0.5)


def test_input_checks_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="mixture not found"):
        check_readable_file(tmp_path / "nope.wav", "mixture")
    with pytest.raises(IsADirectoryError, match=r"is a folder.*pass the audio file"):
        check_readable_file(tmp_path, "mixture")
    locked = tmp_path / "locked.wav"
    locked.write_bytes(b"RIFF")
    locked.chmod(0)
    if ROOT:  # root reads anything: check the message with open() refusing
        with pytest.MonkeyPatch.context() as patch:
            def refuse(*args, **kwargs):
                raise PermissionError(errno.EACCES, "Permission denied")
            patch.setattr("builtins.open", refuse)
            with pytest.raises(PermissionError, match=r"permission denied.*locked\.wav.*chmod"):
                check_readable_file(locked, "mixture")
    else:
        with pytest.raises(PermissionError, match=r"permission denied.*locked\.wav.*chmod"):
            check_readable_file(locked, "mixture")


def test_output_checks_name_the_problem(tmp_path):
    assert check_writable_folder(tmp_path / "new" / "stems") == tmp_path / "new" / "stems"
    assert not (tmp_path / "new").exists()  # checking creates nothing
    a_file = tmp_path / "file.txt"
    a_file.write_text("")
    with pytest.raises(NotADirectoryError, match=r"file\.txt' is a file"):
        check_writable_folder(a_file / "stems", "--out")
    with pytest.raises(PermissionError, match=r"cannot write to --out"):
        check_writable_folder("/proc/1/nmfsep-stems", "--out")  # no one creates files there
    if not ROOT:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(PermissionError, match=r"cannot write to --out.*locked"):
            check_writable_folder(locked / "stems", "--out")


@pytest.fixture(scope="module")
def drum_mixture(tmp_path_factory):
    """Two seconds of a synthetic kick / hi-hat pattern at 16 kHz."""
    folder = tmp_path_factory.mktemp("mixture")
    rate = 16000
    t = np.arange(2000) / rate
    mixture = np.zeros(2 * rate, np.float32)
    for start in range(0, 2 * rate - 2000, 4000):
        mixture[start:start + 2000] += 0.5 * np.sin(2 * np.pi * 60 * t) * np.exp(-30 * t)
        mixture[start + 2000:start + 2600] += 0.1 * np.random.default_rng(start).standard_normal(600)
    path = folder / "song.wav"
    sf.write(path, mixture, rate)
    return path


def _run(code, *args, **kwargs):
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def test_sigterm_while_separate_writes_leaves_nothing(tmp_path, drum_mixture):
    # nmfsep separate in a subprocess, its stem encoder slowed down so that SIGTERM surely
    # arrives while the stems are written
    started = tmp_path / "writing"
    process = _run("""
        import pathlib, sys, time
        import soundfile
        class Slow(soundfile.SoundFile):  # the stems' encoder: each block written, then a pause
            def write(self, data):
                super().write(data)
                pathlib.Path(sys.argv[1]).touch()
                time.sleep(30)
        soundfile.SoundFile = Slow
        from nmfsep._apps.cli import main
        sys.exit(main(["separate", sys.argv[2], "--recipe", "drums-generic", "--out", sys.argv[3]]))
    """, started, drum_mixture, tmp_path / "stems")
    deadline = time.monotonic() + 120
    while not started.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started.exists(), process.communicate()
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "nmfsep: terminated" in err
    assert not (tmp_path / "stems").exists()  # no stem, no temporary, not even the folders


def test_a_rerun_after_sigkill_cleans_up_and_writes_every_stem(tmp_path, drum_mixture):
    folder = tmp_path / "stems" / "song"
    started = tmp_path / "writing"
    process = _run("""
        import pathlib, sys, time
        from nmfsep._pipeline._files import write_atomically
        def first(temporary):
            temporary.write_bytes(b"RIFF" * 1000)
        def second(temporary):
            temporary.write_bytes(b"RIFF" * 10)
            pathlib.Path(sys.argv[1]).touch()
            time.sleep(60)
        folder = pathlib.Path(sys.argv[2])
        write_atomically({folder / "kick.wav": first, folder / "snare.wav": second})
    """, started, folder)
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started.exists(), process.communicate()
    process.kill()
    process.wait()
    left = _leftovers(folder)
    assert len(left) == 2 and not (folder / "kick.wav").exists()  # killed: nothing in place

    rerun = subprocess.run([sys.executable, "-m", "nmfsep", "-q", "separate", str(drum_mixture),
                            "--recipe", "drums-generic", "--out", str(tmp_path / "stems")],
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["hihat.wav", "kick.wav", "snare.wav"]
    stems = [sf.read(folder / f"{s}.wav")[0] for s in ("kick", "snare", "hihat")]
    mixture = sf.read(drum_mixture)[0]
    assert np.abs(sum(stems) - mixture).max() < 1e-3 * np.abs(mixture).max()  # masks sum to 1


def test_a_killed_batch_runs_staging_folder_is_removed_and_the_file_redone(tmp_path):
    from nmfsep._apps.batch import separate_many

    stale = tmp_path / f".song.nmfsep-{_dead_pid()}-89abcdef.tmp"
    (stale / "kick.wav").parent.mkdir()
    (stale / "kick.wav").write_text("half a stem")
    mixture = tmp_path / "song.wav"
    mixture.write_text("mixture")

    def run(mixture_path, folder):
        (Path(folder) / "kick.wav").write_text("stem")

    report = separate_many([mixture], tmp_path, run, verbose=False)
    assert report.ok and list(report.written) == [str(mixture)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song", "song.wav"]
    assert (tmp_path / "song" / "kick.wav").read_text() == "stem"
