"""Recipes are defined once (issue 17): each recipe's settings live in its registry entry
(:attr:`nmfsep.recipes.Recipe.settings`), which ``nmfsep separate``, ``nmfsep transcribe``,
``recipes/<name>/run.py`` and ``benchmarks/separation.py`` read; overrides are checked against
them; the recipe folders are named as the registry names them and share one runner."""

import dataclasses
import json
import sys
from pathlib import Path

import pytest
import torch

from nmfsep.cli import main
from nmfsep.io import save
from nmfsep.recipes import (
    RECIPES,
    RUN_OPTIONS,
    get_recipe,
    register_recipe,
    run_recipe,
    separate_drums,
    settings_of,
)

ROOT = Path(__file__).resolve().parents[1]
RATE = 8000


@pytest.fixture
def recorder():
    """A registered recipe whose function records the keyword arguments it is called with and
    returns the mixture as one stem."""
    calls = []

    def record(mixture, sample_rate, *, templates=None, hits=None, seed=None, device=None,
               verbose=False, **settings):
        calls.append(settings)
        return {"all": mixture}

    def fit(x, *, n_iter=40, beta=1.0, method="mu", device=None, return_model=False):
        return x

    register_recipe("recorder-test", record, sources=("all",), description="test",
                    settings=settings_of(fit, n_iter=20))
    yield calls
    del RECIPES["recorder-test"]


# --------------------------------------------------------------------------- the registry
def test_settings_of_reads_the_keyword_defaults_but_not_the_run_options():
    def fit(x, y=3, *, n_iter=40, beta=1.0, hits=None, seed=None, verbose=False,
            return_model=False, stems=True):
        return x

    assert dict(settings_of(fit)) == {"beta": 1.0, "n_iter": 40}  # y is positional
    assert dict(settings_of(fit, beta=0.5)) == {"beta": 0.5, "n_iter": 40}
    with pytest.raises(ValueError, match="n_itr: no setting of fit; its settings: beta, n_iter"):
        settings_of(fit, n_itr=3)
    with pytest.raises(TypeError):
        settings_of(fit)["beta"] = 2.0  # read-only


def test_the_settings_of_two_functions_take_the_first_ones_defaults():
    def outer(x, *, threshold=0.1, n_iter=30, **inner):
        return x

    def inner(x, *, n_iter=40, mask_power=2.0):
        return x

    assert dict(settings_of(outer, inner)) == {"mask_power": 2.0, "n_iter": 30,
                                               "threshold": 0.1}


def test_a_recipe_runs_with_its_settings_and_overrides_are_checked(recorder):
    recipe = get_recipe("recorder-test")
    mixture = torch.ones(1, 10)
    assert recipe(mixture, RATE)["all"] is mixture
    assert recipe(mixture, RATE, settings={"beta": 0.5}, seed=3)["all"] is mixture
    recipe(mixture, RATE, n_iter=7)
    assert recorder == [{"beta": 1.0, "method": "mu", "n_iter": 20},
                        {"beta": 0.5, "method": "mu", "n_iter": 20},
                        {"beta": 1.0, "method": "mu", "n_iter": 7}]
    with pytest.raises(ValueError, match=r"unknown setting\(s\) 'n_itr' of the 'recorder-test' "
                                         r"recipe; its settings: beta, method, n_iter"):
        recipe(mixture, RATE, settings={"n_itr": 3})
    with pytest.raises(ValueError, match="hits: an argument of the run, not a setting"):
        recipe.resolve({"hits": ["kick.wav"]})
    with pytest.raises(TypeError, match="mapping of names to values"):
        recipe.resolve([("n_iter", 3)])
    assert len(recorder) == 3  # no call with a bad setting


def test_register_recipe_refuses_bad_settings_and_outputs():
    with pytest.raises(TypeError, match="settings must be a mapping"):
        register_recipe("bad-settings-test", lambda m, r: {}, settings=[("n_iter", 3)])
    with pytest.raises(ValueError, match="output must be one of"):
        register_recipe("bad-output-test", lambda m, r: {}, output="midi")
    assert "bad-settings-test" not in RECIPES and "bad-output-test" not in RECIPES


def test_run_recipe_passes_the_settings_and_checks_them_before_any_work(recorder, tmp_path):
    mixture = save(tmp_path / "mix.wav", torch.full((1, 400), 0.25), RATE)
    run_recipe("recorder-test", mixture, tmp_path / "out", settings={"method": "hals"},
               verbose=False)
    assert recorder == [{"beta": 1.0, "method": "hals", "n_iter": 20}]
    with pytest.raises(ValueError, match="unknown setting.*'solver'.*beta, method, n_iter"):
        run_recipe("recorder-test", mixture, tmp_path / "other", settings={"solver": "hals"})
    assert not (tmp_path / "other").exists() and len(recorder) == 1
    with pytest.raises(ValueError, match="the 'drum-onsets' recipe returns onsets, not stems"):
        run_recipe("drum-onsets", mixture, tmp_path / "onsets")


def test_the_drum_recipes_separate_with_their_registered_settings():
    # a kick and a hi-hat of a known kit, mixed: the recipe's stems are separate_drums' with
    # the registry's settings, and a changed setting changes them
    g = torch.Generator().manual_seed(0)
    t = torch.arange(800) / RATE
    kick = torch.sin(2 * torch.pi * 60 * t) * torch.exp(-25 * t)
    hat = torch.randn(800, generator=g) * torch.exp(-80 * t) * 0.3
    mixture = torch.zeros(1, 2 * RATE)
    for start in (400, 4400, 8400):
        mixture[0, start:start + 800] += kick
    mixture[0, 2400:3200] += hat
    hits = {"kick": [kick], "hihat": [hat]}
    recipe = get_recipe("drums")
    small = {"n_fft": 256, "T": 8, "n_rounds": 1}
    stems = recipe(mixture, RATE, hits=hits, settings=small)
    direct = separate_drums(mixture, RATE, hits=hits, **{**recipe.settings, **small})
    assert all(torch.equal(stems[s], direct[s]) for s in direct)
    changed = recipe(mixture, RATE, hits=hits, settings={**small, "mask_power": 1.0})
    assert not torch.equal(changed["kick"], stems["kick"])
    # the generic recipe's own settings: 20 updates a chunk, templates adapted on 20 s
    generic = get_recipe("drums-generic").settings
    assert (generic["n_chunk"], generic["adapt_duration"]) == (20, 20.0)
    assert {k: v for k, v in generic.items() if k not in ("n_chunk", "adapt_duration")} == \
        {k: v for k, v in recipe.settings.items() if k not in ("n_chunk", "adapt_duration")}


def test_no_recipe_takes_a_run_option_as_a_setting():
    for recipe in RECIPES.values():
        assert not set(recipe.settings) & set(RUN_OPTIONS), recipe.name


# --------------------------------------------------------------------------- the folders
def _common():
    sys.path.insert(0, str(ROOT / "recipes"))
    try:
        import _common  # recipes/ is no package: imported from its folder
    finally:
        sys.path.remove(str(ROOT / "recipes"))
    return _common


def test_every_recipe_folder_is_a_registered_recipe_and_uses_the_shared_runner():
    folders = sorted(p.parent for p in (ROOT / "recipes").glob("*/run.py"))
    shipped = {name for name, recipe in RECIPES.items()  # not those tests register
               if recipe.function.__module__.startswith("nmfsep._apps.recipes")}
    assert {f.name for f in folders} == shipped
    for folder in folders:
        script = (folder / "run.py").read_text(encoding="utf-8")
        assert "from _common import" in script, folder.name
        assert (folder / "README.md").is_file(), folder.name
        # a configuration kept in a folder only changes settings the registry has
        for config in folder.glob("*.json"):
            _common().load_overrides(config, [folder.name])
        page = ROOT / "docs" / "recipes" / f"{folder.name}.md"
        assert f'--8<-- "recipes/{folder.name}/README.md"' in page.read_text(encoding="utf-8")


def test_a_config_file_changes_settings_and_a_bad_one_says_what_is_valid(tmp_path):
    load_overrides = _common().load_overrides
    assert load_overrides(None, ["drums"]) == {"drums": dict(get_recipe("drums").settings)}
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"drums": {"n_iter": 10}}))
    settings = load_overrides(config, ["drums", "drum-onsets"])
    assert settings["drums"] == {**get_recipe("drums").settings, "n_iter": 10}
    assert settings["drum-onsets"] == dict(get_recipe("drum-onsets").settings)
    config.write_text(json.dumps({"drums": {"n_itr": 10}}))
    with pytest.raises(ValueError, match="unknown setting.*'n_itr'.*its settings: T, "):
        load_overrides(config, ["drums"])
    config.write_text(json.dumps({"piano-bass": {"beta": 1.0}}))
    with pytest.raises(ValueError, match="runs the recipe.*drums, not piano-bass"):
        load_overrides(config, ["drums"])
    config.write_text(json.dumps({"n_iter": 10}))
    with pytest.raises(ValueError, match="recipe name"):
        load_overrides(config, ["drums"])


# --------------------------------------------------------------------------- the command line
def test_the_command_line_lists_and_changes_the_settings(recorder, tmp_path, capsys):
    assert main(["recipes", "--settings", "recorder-test", "drums"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("recorder-test:\n  beta = 1.0\n  method = \"mu\"\n  n_iter = 20\n")
    assert "drums:\n" in out and "  n_iter = 40\n" in out and "  n_fft = null\n" in out
    mixture = save(tmp_path / "mix.wav", torch.full((1, 400), 0.25), RATE)
    argv = ["separate", str(mixture), "--recipe", "recorder-test", "--out", str(tmp_path / "o"),
            "-q"]
    assert main(argv + ["--set", "n_iter=5", "--set", "method=hals", "--set", "beta=null"]) == 0
    assert recorder == [{"beta": None, "method": "hals", "n_iter": 5}]
    assert main(argv + ["--set", "n_itr=5"]) == 2
    assert "--set: unknown setting(s) 'n_itr'" in capsys.readouterr().err
    assert main(argv + ["--set", "n_iter"]) == 2
    assert "--set takes NAME=VALUE" in capsys.readouterr().err
    assert len(recorder) == 1


def test_transcribe_runs_the_drum_onsets_recipe(tmp_path, monkeypatch, capsys):
    mixture = save(tmp_path / "mix.wav", torch.zeros(1, 400), RATE)
    seen = []

    def fake(mixture, sample_rate, **options):
        seen.append(options)
        return {"kick": torch.tensor([0.1], dtype=torch.float64)}

    original = get_recipe("drum-onsets")
    monkeypatch.setitem(RECIPES, "drum-onsets", dataclasses.replace(original, function=fake))
    argv = ["transcribe", str(mixture), "--out", str(tmp_path / "o"), "-q", "--formats", "json"]
    assert main(argv + ["--drums-only", "--set", "threshold=0.2"]) == 0
    assert seen[0]["accompaniment"] is False and seen[0]["threshold"] == 0.2
    assert seen[0]["n_iter"] == original.settings["n_iter"]
    assert main(argv + ["--drums-only", "--set", "accompaniment=true", "--overwrite"]) == 2
    assert "contradict" in capsys.readouterr().err
    assert len(seen) == 1
