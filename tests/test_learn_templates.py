"""'nmfsep learn-templates': files grouped into sources, the recipe deciding what is learned,
and the examples of its --help run as written."""

import glob
import math
import os
import shlex
from pathlib import Path

import pytest
import torch

from nmfsep._apps.cli import build_parser, main
from nmfsep.io import save
from nmfsep.recipes import (
    RECIPES,
    group_recordings,
    learn_instrument_dictionaries,
    learn_templates_cli,
    register_recipe,
    source_of_file,
)
from nmfsep.separation import Templates

SR = 8000
AUDIO_EXAMPLES = Path(__file__).resolve().parents[1] / "audio_examples"


def tone(frequency: float, seconds: float = 0.5) -> torch.Tensor:
    t = torch.arange(round(seconds * SR)) / SR
    return (0.5 * torch.sin(2 * math.pi * frequency * t) * torch.exp(-3 * t))[None]


def test_source_of_file():
    assert source_of_file("hits/hh_closed_1.wav") == "hihat"
    assert source_of_file("Piano_C4.wav") == "piano"
    assert source_of_file("train/bass.flac") == "bass"
    assert source_of_file("guitar-2.wav") == "guitar"
    assert source_of_file("01.wav") is None


def test_group_recordings_rules(tmp_path):
    piano = [save(tmp_path / "piano" / f"{p}.wav", tone(200 + p), SR) for p in (60, 62)]
    bass = [save(tmp_path / "bass" / f"{p}.wav", tone(50 + p), SR) for p in (40,)]
    (tmp_path / "piano" / "readme.txt").write_text("not audio")
    # a folder per source, one name per argument
    assert group_recordings([tmp_path / "piano", tmp_path / "bass"], ["piano", "bass"]) == \
        {"piano": piano, "bass": bass}
    # one name for every file (a shell glob of one instrument)
    assert group_recordings(piano + bass, ["keys"]) == {"keys": piano + bass}
    # one name per file argument; names may repeat
    assert group_recordings([piano[0], bass[0], piano[1]], ["a", "b", "a"]) == \
        {"a": [piano[0], piano[1]], "b": bass}
    # no names: from the file names
    named = [Path(f) for f in ("kick_0.wav", "piano_C4.wav", "bd-1.wav")]
    assert group_recordings(named) == {"kick": [named[0], named[2]], "piano": [named[1]]}
    with pytest.raises(ValueError, match="2 names for 3 FILE arguments"):
        group_recordings(piano + bass, ["a", "b"])
    with pytest.raises(ValueError, match="'60.wav' names no source"):
        group_recordings([tmp_path / "piano"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no audio"):
        group_recordings([tmp_path / "empty"], ["x"])
    with pytest.raises(ValueError, match="non-empty"):
        group_recordings(piano, [""])


def test_the_recipe_decides_what_is_learned(tmp_path):
    files = [save(tmp_path / name, tone(f), SR)
             for name, f in (("kick_0.wav", 60), ("snare_0.wav", 200), ("hh_0.wav", 3000))]
    drums = Templates.load(learn_templates_cli(files, tmp_path / "kit.pt", verbose=False))
    assert drums.W.dim() == 3 and drums.sources == ("kick", "snare", "hihat")
    # other instruments: the supervised recipe's dictionaries, exactly the API's
    duo = [save(tmp_path / "low.wav", tone(110), SR), save(tmp_path / "high.wav", tone(880), SR)]
    learned = Templates.load(learn_templates_cli(duo, tmp_path / "duo.pt", verbose=False))
    api = learn_instrument_dictionaries({"low": tone(110), "high": tone(880)}, SR)
    assert learned.sources == ("low", "high")
    torch.testing.assert_close(learned.W, api.W)
    # an explicit recipe wins; another rate resamples the files
    forced = learn_templates_cli(files, tmp_path / "d.pt", recipe="piano-bass", sample_rate=16000,
                                 verbose=False)
    assert Templates.load(forced).W.dim() == 2 and Templates.load(forced).sample_rate == 16000
    with pytest.raises(ValueError, match="unknown recipe"):
        learn_templates_cli(files, tmp_path / "x.pt", recipe="nope", verbose=False)
    register_recipe("no-templates-example", lambda mixture, rate, **options: {"all": mixture})
    try:
        with pytest.raises(ValueError, match="takes no templates; recipes that do: drum-onsets, drums"):
            learn_templates_cli(files, tmp_path / "x.pt", recipe="no-templates-example",
                                verbose=False)
    finally:
        del RECIPES["no-templates-example"]
    with pytest.raises(FileExistsError, match="overwrite"):
        learn_templates_cli(files, tmp_path / "kit.pt", verbose=False)
    assert not (tmp_path / "x.pt").exists()


def _help_examples(command: str):
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    epilog = subparsers.choices[command].epilog
    return [line.strip() for line in epilog.split("examples:")[1].splitlines()
            if line.strip().startswith(f"nmfsep {command} ")]


def test_help_examples_run_as_written(tmp_path, monkeypatch, capsys):
    """Every 'nmfsep learn-templates' line of the --help, run in a folder that holds what it
    names (the repository's audio_examples, and note files), with the shell's glob."""
    (tmp_path / "audio_examples").symlink_to(AUDIO_EXAMPLES, target_is_directory=True)
    for name, pitches in (("piano", (60, 64, 67)), ("bass", (36, 40))):
        for pitch in pitches:
            save(tmp_path / "notes" / name / f"{pitch}.wav",
                 tone(440 * 2 ** ((pitch - 69) / 12)), SR)
    monkeypatch.chdir(tmp_path)
    examples = _help_examples("learn-templates")
    assert len(examples) >= 4
    for line in examples:
        argv = [a for word in shlex.split(line)[1:]
                for a in (sorted(glob.glob(word)) if glob.has_magic(word) else [word])]
        assert main(argv) == 0, (line, capsys.readouterr().err)
        out = Path(argv[argv.index("--out") + 1])
        templates = Templates.load(out)
        names = argv[argv.index("--sources") + 1:] if "--sources" in argv else []
        names = names[:next((k for k, a in enumerate(names) if a.startswith("-")), len(names))]
        expected = {"kit.pt": ("hihat", "kick", "snare"),
                    "piano_bass.pt": ("bass", "piano")}.get(out.name, tuple(names))
        assert templates.sources == expected, line
        assert templates.W.dim() == (3 if out.name == "kit.pt" else 2), line
    assert os.path.exists("piano_bass.pt")  # the separate example's --templates
