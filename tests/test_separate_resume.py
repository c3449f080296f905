"""'nmfsep separate' reruns resume: mixtures whose stems all exist are skipped with a note,
the others separated; a partial set of stems is not taken for done, and never replaced
without --overwrite."""

import shutil

import pytest
import torch

from nmfsep._apps.cli import main
from nmfsep.io import load, save
from nmfsep.recipes import RECIPES, register_recipe
from nmfsep.separation import Templates

RATE = 8000


@pytest.fixture
def halves():
    """A cheap registered recipe: each of its sources is the mixture over their number (the
    sources of --templates when given, else left and right); ``calls`` names the mixtures
    it separated, by their first sample."""
    calls = []

    def recipe(mixture, sample_rate, *, templates=None, **options):
        calls.append(round(float(mixture[0, 0]), 3))
        sources = Templates.load(templates).sources if templates is not None else ("left", "right")
        return {source: mixture / len(sources) for source in sources}

    register_recipe("halves-test", recipe, sources=("left", "right"),
                    description="test")
    register_recipe("by-templates-test", recipe, uses_templates=True, description="test")
    yield calls
    del RECIPES["halves-test"], RECIPES["by-templates-test"]


def _mixtures(tmp_path):
    return [save(tmp_path / f"{name}.wav", torch.full((1, 400), level), RATE)
            for name, level in (("A", 0.25), ("B", 0.5))]


def _state(folder):
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def test_a_rerun_skips_the_mixtures_done_and_separates_the_rest(tmp_path, halves, capsys):
    a, b = _mixtures(tmp_path)
    out = tmp_path / "stems"
    argv = ["separate", str(a), str(b), "--recipe", "halves-test", "--out", str(out)]
    assert main(argv[:2] + argv[3:]) == 0  # A alone first
    assert halves == [0.25] and sorted(p.name for p in (out / "A").iterdir()) == ["left.wav", "right.wav"]
    done = _state(out / "A")
    capsys.readouterr()

    assert main(argv) == 0
    assert halves == [0.25, 0.5]  # only B separated
    err = capsys.readouterr().err
    assert f"skipped {a}: stems exist in '{out / 'A'}'; --overwrite to redo" in err
    assert "already exists" not in err
    assert _state(out / "A") == done
    left, _ = load(out / "B" / "left.wav")
    torch.testing.assert_close(left, torch.full((1, 400), 0.25))

    assert main(argv + ["--quiet"]) == 0  # all done: nothing to do, nothing said
    assert halves == [0.25, 0.5] and capsys.readouterr().err == ""

    assert main(argv + ["--overwrite", "-q"]) == 0  # --overwrite redoes both
    assert halves == [0.25, 0.5, 0.25, 0.5]


def test_an_incomplete_set_of_stems_is_not_done_and_not_replaced(tmp_path, halves, capsys):
    a, b = _mixtures(tmp_path)
    out = tmp_path / "stems"
    argv = ["separate", str(a), str(b), "--recipe", "halves-test", "--out", str(out), "-q"]
    assert main(argv) == 0
    (out / "A" / "right.wav").unlink()  # e.g. deleted by the user
    kept = _state(out / "A")
    assert main(argv) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines  # B is skipped (quietly): A is the one mixture left
    for words in ("nmfsep separate: error: '", "A/left.wav' already exists",
                  "incomplete (right.wav missing)", "pass --overwrite to separate 'A.wav' again"):
        assert words in lines[0]
    assert _state(out / "A") == kept and halves == [0.25, 0.5]  # B skipped, A untouched
    shutil.rmtree(out / "B")  # with B to do as well, A's refusal does not stop B
    assert main(argv) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith(f"nmfsep separate: error: {a}: '") and "incomplete" in lines[0]
    assert lines[1:] == ["nmfsep separate: error: 1 of 2 mixtures failed (see above)."]
    assert _state(out / "A") == kept and halves == [0.25, 0.5, 0.5]
    assert main(argv + ["--overwrite"]) == 0
    assert sorted(p.name for p in (out / "A").iterdir()) == ["left.wav", "right.wav"]


def test_the_stems_of_a_templates_recipe_are_the_templates_sources(tmp_path, halves, capsys):
    a, b = _mixtures(tmp_path)
    templates = Templates(torch.rand(9, 2), ("piano", "bass"), (0, 1), RATE, "stft",
                          dict(n_fft=16, hop_length=4, window="hann"))
    path = templates.save(tmp_path / "duo.pt")
    out = tmp_path / "stems"
    argv = ["separate", str(a), str(b), "--recipe", "by-templates-test", "--templates", str(path),
            "--out", str(out), "--format", "flac"]
    assert main(argv[:2] + argv[3:]) == 0
    assert sorted(p.name for p in (out / "A").iterdir()) == ["bass.flac", "piano.flac"]
    capsys.readouterr()
    assert main(argv) == 0
    assert halves == [0.25, 0.5] and "skipped" in capsys.readouterr().err
