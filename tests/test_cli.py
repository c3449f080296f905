"""Command line: help, evaluate's numbers, plot's files, one-line errors, the recipes' wiring."""

import json
import math
import subprocess
import sys
import types

import matplotlib

matplotlib.use("Agg")

import matplotlib.image
import pytest
import torch

from nmfsep import __version__
from nmfsep._apps.cli import main
from nmfsep.io import save

RATE = 8000
COMMANDS = ("separate", "learn-templates", "evaluate", "plot", "transcribe")


def _noise(n_sources, n_samples, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n_sources, n_samples, generator=g, dtype=torch.float64)


def _one_line_error(captured, *fragments):
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def tone(tmp_path):
    t = torch.arange(RATE) / RATE
    return save(tmp_path / "tone.wav", 0.5 * torch.sin(2 * math.pi * 440 * t), RATE)


# --------------------------------------------------------------------------- help
def test_help_lists_the_commands_and_examples(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command in out
    assert "examples:" in out and "--seed" in out and "--device" in out
    for command in COMMANDS:
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "examples:" in capsys.readouterr().out


def test_python_dash_m_and_version():
    done = subprocess.run([sys.executable, "-m", "nmfsep", "--version"], capture_output=True,
                          text=True)
    assert done.returncode == 0 and done.stdout.strip() == f"nmfsep {__version__}"


def test_no_command_is_a_usage_error(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err


# --------------------------------------------------------------------------- evaluate
def test_evaluate_prints_the_right_numbers_and_writes_json(tmp_path, capsys):
    fast_bss_eval = pytest.importorskip("fast_bss_eval")
    names = ["bass", "drums"]
    expected = {}
    for k, mix in enumerate(["mix000", "mix001"]):
        refs = _noise(2, 3000, seed=k).float()
        ests = (refs + 0.3 * refs.flip(0) + 0.2 * _noise(2, 3000, seed=10 + k)).float()
        for name, r, e in zip(names, refs, ests):
            save(tmp_path / "ref" / mix / f"{name}.wav", r, RATE)
            save(tmp_path / "est" / mix / f"{name}.wav", e, RATE)
        sdr, sir, sar = fast_bss_eval.bss_eval_sources(
            refs.double(), ests.double(), filter_length=512, compute_permutation=False, clamp_db=100.0)
        expected[mix] = {"sdr": sdr, "sir": sir, "sar": sar}

    scores = tmp_path / "scores.json"
    argv = ["evaluate", str(tmp_path / "est"), str(tmp_path / "ref"), "--json", str(scores), "--quiet"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["mixture", "source", "SDR", "SIR", "SAR", "SI-SDR"]
    for mix in expected:
        for j, name in enumerate(names):
            line = next(row for row in lines if row.startswith(mix) and row.split()[1] == name)
            assert line.split()[2:5] == [f"{float(expected[mix][m][j]):.2f}" for m in ("sdr", "sir", "sar")]
    assert lines[-1].split()[:2] == ["mean", "ALL"]
    mean_sdr = sum(float(e["sdr"].sum()) for e in expected.values()) / 4
    assert float(lines[-1].split()[2]) == pytest.approx(mean_sdr, abs=0.006)

    document = json.loads(scores.read_text())
    assert len(document["rows"]) == 4
    assert document["rows"][0]["sdr"] == pytest.approx(float(expected["mix000"]["sdr"][0]), abs=1e-6)
    assert document["means"]["ALL"]["n"] == 4

    # the JSON file is not overwritten without --overwrite
    before = scores.read_text()
    assert main(argv) == 1
    _one_line_error(capsys.readouterr(), "already exists", "--overwrite")
    assert scores.read_text() == before
    assert main(argv + ["--overwrite"]) == 0


def test_evaluate_bad_input_is_one_line(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "est"), str(tmp_path / "ref")]) == 1
    _one_line_error(capsys.readouterr(), "nmfsep evaluate: error:", "not a folder")
    save(tmp_path / "ref" / "a.wav", torch.ones(100) * 0.1, RATE)
    (tmp_path / "est").mkdir()
    (tmp_path / "est" / "a.wav").write_text("not audio")
    assert main(["evaluate", str(tmp_path / "est"), str(tmp_path / "ref")]) == 1
    _one_line_error(capsys.readouterr(), "could not decode")
    with pytest.raises(ValueError, match="could not decode"):
        main(["--debug", "evaluate", str(tmp_path / "est"), str(tmp_path / "ref")])


# --------------------------------------------------------------------------- plot
def test_plot_writes_a_png_and_refuses_to_overwrite(tmp_path, tone, capsys):
    out = tmp_path / "tone.png"
    assert main(["plot", str(tone), "--out", str(out), "--quiet"]) == 0
    pixels = matplotlib.image.imread(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pixels.std() > 0.1 and pixels.shape[0] > 300
    before = out.read_bytes()
    assert main(["plot", str(tone), "--out", str(out)]) == 1
    _one_line_error(capsys.readouterr(), "already exists", "--overwrite")
    assert out.read_bytes() == before
    assert main(["plot", str(tone), "--out", str(out), "--overwrite", "--kind", "cqt", "-q"]) == 0
    assert out.read_bytes() != before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_plot_many_files_into_a_folder(tmp_path, tone, capsys):
    other = save(tmp_path / "other.flac", 0.1 * _noise(1, RATE, 0).float(), RATE)
    assert main(["plot", str(tone), str(other), "--out", str(tmp_path / "plots"),
                 "--y-axis", "log", "--n-fft", "512", "--hop-length", "128"]) == 0
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "other_spectrogram.png", "tone_spectrogram.png"]
    assert "tone_spectrogram.png" in capsys.readouterr().err  # what was written, unless -q
    assert main(["plot", str(tone), str(other), "--out", str(tmp_path / "x.png")]) == 2
    _one_line_error(capsys.readouterr(), "must be a folder")


def test_plot_bad_input_is_one_line(tmp_path, capsys):
    assert main(["plot", str(tmp_path / "missing.wav"), "--out", str(tmp_path / "x.png")]) == 1
    _one_line_error(capsys.readouterr(), "nmfsep plot: error:", "not found", "missing.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....garbage")
    assert main(["plot", str(bad), "--out", str(tmp_path / "x.png")]) == 1
    _one_line_error(capsys.readouterr(), "could not decode")
    assert not (tmp_path / "x.png").exists()


# --------------------------------------------------------------------------- recipes' wiring
def test_separate_without_recipes_exits_2(tmp_path, tone, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "nmfsep.recipes", None)  # as if the module did not exist
    assert main(["separate", str(tone), "--recipe", "any", "--out", str(tmp_path / "o")]) == 2
    _one_line_error(capsys.readouterr(), "nmfsep.recipes")
    assert main(["learn-templates", str(tone), "--out", str(tmp_path / "t.pt")]) == 2
    _one_line_error(capsys.readouterr(), "nmfsep.recipes")


@pytest.fixture
def fake_recipes(monkeypatch):
    calls = []
    module = types.ModuleType("nmfsep.recipes")

    def run_recipe(name, mixture_path, out_dir, **options):
        calls.append(("run_recipe", name, mixture_path, out_dir, options))
        if name == "fails" or mixture_path.stem == "bad":
            raise FileExistsError(f"'{out_dir / 'a.wav'}' already exists; pass overwrite=True")
        return {"a": out_dir / f"a.{options['fmt']}"}

    def learn_templates_cli(files, out, **options):
        calls.append(("learn_templates_cli", files, out, options))
        return out

    module.run_recipe, module.learn_templates_cli = run_recipe, learn_templates_cli
    monkeypatch.setitem(sys.modules, "nmfsep.recipes", module)
    return calls


def test_separate_calls_run_recipe_per_mixture(tmp_path, tone, fake_recipes, capsys):
    other = save(tmp_path / "other.wav", torch.zeros(10), RATE)
    hits = [save(tmp_path / f"hit{k}.wav", torch.zeros(10), RATE) for k in range(2)]
    out = tmp_path / "sep"
    assert main(["--seed", "3", "separate", str(tone), str(other), "--recipe", "drums",
                 "--hits", *map(str, hits), "--out", str(out), "--format", "flac",
                 "--device", "cpu", "--quiet"]) == 0
    assert [(c[1], c[2].name, c[3]) for c in fake_recipes] == [
        ("drums", "tone.wav", out / "tone"), ("drums", "other.wav", out / "other")]
    assert fake_recipes[0][4] == {"templates": None, "hits": hits, "overwrite": False, "fmt": "flac",
                                  "seed": 3, "device": "cpu", "verbose": False,
                                  "allow_truncated": False}
    assert capsys.readouterr().err == ""  # --quiet after the command name is honoured too


def test_separate_errors(tmp_path, tone, fake_recipes, capsys):
    templates = save(tmp_path / "t.wav", torch.zeros(10), RATE)
    assert main(["separate", str(tone), "--recipe", "fails", "--templates", str(templates),
                 "--out", str(tmp_path / "o")]) == 1
    _one_line_error(capsys.readouterr(), "already exists")
    assert main(["separate", str(tone), "--recipe", "x", "--out", str(tmp_path / "o"),
                 "--templates", str(tmp_path / "missing.pt")]) == 1
    _one_line_error(capsys.readouterr(), "templates file not found")
    with pytest.raises(SystemExit) as exit_info:  # --templates and --hits exclude each other
        main(["separate", str(tone), "--recipe", "x", "--out", "o", "--templates", "a", "--hits", "b"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["separate", str(tone), "--recipe", "x", "--out", "o", "--format", "mp3"])
    assert exit_info.value.code == 2
    with pytest.raises(FileExistsError):
        main(["separate", str(tone), "--recipe", "fails", "--out", str(tmp_path / "o"), "--debug"])


def test_learn_templates_calls_the_recipes(tmp_path, tone, fake_recipes, capsys):
    out = tmp_path / "kit.pt"
    assert main(["learn-templates", str(tone), "--sources", "tone", "--out", str(out),
                 "--seed", "7"]) == 0
    name, files, target, options = fake_recipes[0]
    assert (name, files, target) == ("learn_templates_cli", [tone], out)
    assert options == {"sources": ["tone"], "recipe": None, "sample_rate": None,
                       "overwrite": False, "seed": 7, "device": None, "verbose": True}
    assert "kit.pt" in capsys.readouterr().err
    out.write_bytes(b"x")
    assert main(["learn-templates", str(tone), "--out", str(out)]) == 1
    _one_line_error(capsys.readouterr(), "already exists")


def test_separate_expands_a_hits_folder_and_goes_on_after_a_bad_file(tmp_path, tone, fake_recipes,
                                                                     capsys):
    kit = tmp_path / "kit"
    hits = [save(kit / f"{name}.wav", torch.zeros(10), RATE) for name in ("snare", "kick")]
    (kit / "notes.txt").write_text("not a hit")
    bad = save(tmp_path / "bad.wav", torch.zeros(10), RATE)
    assert main(["separate", str(bad), str(tone), "--recipe", "drums", "--hits", str(kit),
                 "--out", str(tmp_path / "o")]) == 1
    assert [c[2].name for c in fake_recipes] == ["bad.wav", "tone.wav"]  # tone still separated
    assert fake_recipes[1][4]["hits"] == sorted(hits)
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line for line in lines if "error" in line] == [
        lines[0], "nmfsep separate: error: 1 of 2 mixtures failed (see above)."]
    assert "bad.wav" in lines[0] and "already exists" in lines[0]
    assert any("tone.wav: a ->" in line for line in lines)
