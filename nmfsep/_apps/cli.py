"""The ``nmfsep`` command line (also ``python -m nmfsep``).

Each subcommand is a small handler that validates its paths and calls the public API:

* ``separate`` -> :func:`nmfsep.recipes.run_recipe`, once per mixture;
* ``recipes`` -> :func:`nmfsep.recipes.recipe_table` (the recipes and what each needs);
* ``transcribe`` -> the ``"drum-onsets"`` recipe (:func:`nmfsep.recipes.drum_onsets` with
  its settings) then :func:`nmfsep.recipes.save_onsets`, once per mixture;
* ``stream`` -> :func:`nmfsep.recipes.drum_stream` (a
  :class:`~nmfsep.separation.StreamingSeparator`) block by block, then
  :func:`nmfsep.separation.write_stems` and :func:`nmfsep.recipes.save_onsets`;
* ``learn-templates`` -> :func:`nmfsep.recipes.learn_templates_cli`;
* ``evaluate`` -> :func:`nmfsep.evaluation.evaluate_dirs`;
* ``plot`` -> :mod:`nmfsep.plot` (activations, templates and masks: of the model
  :func:`nmfsep.recipes.separate_drums` returns with ``return_model=True``).

Errors caused by the input (a missing file, unreadable audio, an output that already exists)
are printed as one line on stderr and give exit status 1; usage errors and missing optional
components give 2. ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Callable, List, Optional, Sequence

from .._errors import NmfsepError

__all__ = ["build_parser", "main"]

PROG = "nmfsep"
#: Output formats of ``separate``.
AUDIO_FORMATS = ("wav", "flac")
#: Output formats of ``transcribe`` (those of :func:`nmfsep.recipes.save_onsets`).
ONSET_FORMATS = ("json", "csv", "mid")
#: What ``plot`` can draw: spectrograms, and the drum model a recipe fits to the audio.
SPECTROGRAM_KINDS = ("spectrogram", "cqt")
MODEL_KINDS = ("activations", "templates", "masks")
PLOT_KINDS = SPECTROGRAM_KINDS + MODEL_KINDS
#: Recipes whose fitted model ``plot`` draws (:func:`nmfsep.recipes.separate_drums`).
MODEL_RECIPES = ("drums", "drums-generic")
_IMAGE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")
# No date of writing in the image files: the same plot gives the same bytes.
_REPRODUCIBLE_METADATA = {"pdf": {"CreationDate": None}, "svg": {"Date": None}}
_TRUNCATED_HELP = ("read audio files that hold fewer samples than their header promises (an "
                   "interrupted copy or download), with a warning; by default they are refused")


class CommandError(NmfsepError):
    """An error the user can fix; printed as one line. ``status`` is the exit code."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


# --------------------------------------------------------------------------- parser
_DESCRIPTION = """\
Audio source separation with non-negative factorisations (NMF, NMFD, PLCA, ...).

Separate mixtures with a recipe, transcribe drum onsets, learn templates from
isolated sounds, score estimates against references (SDR/SIR/SAR/SI-SDR) and
plot spectrograms."""

_EPILOG = """\
examples:
  nmfsep recipes                      # what each separation recipe needs
  nmfsep separate song.wav --recipe drums --hits kick.wav snare.wav hihat.wav --out stems/
  nmfsep transcribe song.wav --hits kick.wav snare.wav hihat.wav --out onsets/
  nmfsep learn-templates kick.wav snare.wav hihat.wav --sources kick snare hihat --out kit.pt
  nmfsep evaluate stems/ references/ --json scores.json
  nmfsep plot song.wav --kind cqt --out song.png

'nmfsep COMMAND --help' explains each command."""

_SEPARATE_EPILOG = """\
Each mixture's sources are written to OUT/<mixture name>/<source>.<format>, the
layout 'nmfsep evaluate' reads. Existing files are kept unless --overwrite: a
rerun skips the mixtures whose stems all exist and separates the others.

examples:
  nmfsep separate drums_mix.wav --recipe drums --hits audio_examples/hits/ --out stems/
  nmfsep separate a.wav b.wav --recipe drums --hits kick.wav snare.wav hihat.wav --out stems/
  nmfsep separate song.wav --recipe RECIPE --templates kit.pt --out stems/ --format flac
  nmfsep separate song.wav --recipe drums-generic --set n_iter=20 --out stems/"""

_TRANSCRIBE_EPILOG = """\
Each mixture's kick, snare and hi-hat onsets are written to OUT/<mixture name>/:
onsets.json ({"kick": [seconds, ...], "snare": [...], "hihat": [...]}), onsets.csv
(time,instrument rows sorted by time) and drums.mid (General-MIDI drums on channel
10: kick 36, snare 38, closed hi-hat 42). Without --hits or --templates the generic
templates of a whole kit shipped with nmfsep are used, and tom (45) and cymbal (49)
onsets are written too. A song is first split into drums and the rest (the
drums-harmonic recipe's cascade) unless --drums-only. Existing files are kept unless
--overwrite.

examples:
  nmfsep transcribe song.wav --out onsets/
  nmfsep transcribe drums_mix.wav --hits audio_examples/hits/ --drums-only --out onsets/
  nmfsep transcribe a.wav b.wav --templates kit.pt --formats json mid --out onsets/
  nmfsep transcribe song.wav --set threshold=0.2 --out onsets/"""

#: Recipes ``stream`` runs, and the longest and shortest --block.
STREAM_RECIPES = ("drums", "drums-generic")
STREAM_BLOCKS = (32, 8192)

_STREAM_EPILOG = """\
MIXTURE is fed to a streaming separator (fixed drum templates, activations fitted
frame by frame, soft masks, overlap-add) --block samples at a time, as a sound card
delivers them: the output does not depend on the block size, and each stem sample
depends on at most one STFT window (<= 50 ms) of later input. The stems are written
delay compensated (aligned with the mixture) to OUT/<mixture name>/<source>.<format>,
and the onsets its triggers found, as they would fire live, to onsets.json, onsets.csv
and drums.mid there. --recipe drums uses --hits or --templates (else the generic
templates), drums-generic the generic templates.

--live separates the default input device until Ctrl-C or --seconds, prints each
trigger as it fires, and writes the take's stems and onsets to OUT/live/. It needs
the optional 'sounddevice' package and an input device, and is not covered by the
tests.

examples:
  nmfsep stream drums.wav --recipe drums --hits audio_examples/hits/ --out streamed/
  nmfsep stream drums.wav --recipe drums-generic --block 128 --out streamed/
  nmfsep stream --live --recipe drums --hits kit/ --seconds 30 --out takes/"""

_LEARN_EPILOG = """\
What is learned is what --recipe separates with: the drum recipes (and transcribe,
stream) take NMFD templates, one per isolated hit; piano-bass (any instruments) takes
exemplar dictionaries, the training frames of every instrument, as the API's
nmfsep.recipes.learn_instrument_dictionaries makes them. Without --recipe: drums when
every source is kick, snare or hihat, else piano-bass.

Which source a FILE is: without --sources, its name says it (kick_0.wav -> kick,
hh_1.wav -> hihat, piano_C4.wav and train/piano.wav -> piano); one --sources name
names every FILE; one name per FILE argument names that argument, where a folder counts
as one (a folder per source). A folder stands for the audio files inside it.

examples:
  nmfsep learn-templates audio_examples/hits/ --out kit.pt
  nmfsep learn-templates audio_examples/piano_bass_train/ --out piano_bass.pt
  nmfsep separate audio_examples/piano_bass_mix.wav --recipe piano-bass --templates piano_bass.pt --out stems/
  nmfsep learn-templates notes/piano/ notes/bass/ --sources piano bass --out duo.pt
  nmfsep learn-templates notes/piano/*.wav --sources piano --recipe piano-bass --out piano.pt"""

_EVALUATE_EPILOG = """\
Files are paired by folder and name: EST_DIR/<mix>/<source>.wav is scored against
REF_DIR/<mix>/<source>.wav (any depth of <mix>, or flat: EST_DIR/<source>.wav).
The folder 'separate' wrote for one mixture also pairs with one mixture's references:
'nmfsep separate mixture.wav --out stems/' then 'nmfsep evaluate stems/ song_refs/'.
All reference sources of a folder except 'mixture' need an estimate.

Metrics (dB, higher is better): SDR/SIR/SAR are BSS Eval v4 source metrics with
512-tap distortion filters on the full signal (fast_bss_eval, no permutation);
SI-SDR is the zero-mean scale-invariant SDR. All are clamped to +-100 dB.

examples:
  nmfsep evaluate separated/ data/dev/drums3
  nmfsep evaluate separated/ references/ --sources kick snare --json scores.json
  nmfsep evaluate long_est/ long_ref/ --chunk-seconds 10        # bounded memory"""

_PLOT_EPILOG = """\
With one AUDIO file and an --out ending in .png/.pdf/.svg/.jpg, that file is
written; otherwise --out is a folder that receives <audio name>_<kind>.png.

--kind activations, templates and masks separate the AUDIO with --recipe (drums,
with --hits or --templates or else the generic templates; drums-generic) as
'nmfsep separate' does, and draw its fitted model: the activation of every
template over time, the adapted templates (freq x frames, one block each), or
each source's soft mask (over the fitted band), of the AUDIO's mono mix.

examples:
  nmfsep plot song.wav --out song.png
  nmfsep plot song.wav --kind spectrogram --y-axis log --n-fft 4096 --out song.pdf
  nmfsep plot separated/mix000/*.wav --kind cqt --out plots/
  nmfsep plot drums_mix.wav --kind activations --hits audio_examples/hits/ --out act.png
  nmfsep plot drums_mix.wav --kind masks --recipe drums-generic --out masks.png"""


class _CommandParser(argparse.ArgumentParser):
    """A subcommand's parser whose ``--help`` may end with text made when it is shown
    (``more_help()``: e.g. the recipe list, which needs the heavy recipe modules)."""

    more_help: Optional[Callable[[], str]] = None

    def format_help(self) -> str:
        text = super().format_help()
        if self.more_help is not None:
            try:
                text += "\n" + self.more_help() + "\n"
            except ImportError:  # the help itself must not fail
                pass
        return text


def _recipe_help() -> str:
    from .recipes import recipe_table  # noqa: PLC0415

    return "recipes (also 'nmfsep recipes'):\n" + recipe_table()


def _add_global_options(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """The options every command takes, before or after the command name.

    Subcommands get them with ``SUPPRESS`` defaults so that a value given before the command
    name is not reset by the subparser's default.
    """
    default = (lambda value: value) if top_level else (lambda value: argparse.SUPPRESS)
    group = parser.add_argument_group("global options")
    group.add_argument("-q", "--quiet", action="store_true", default=default(False),
                       help="print only results and errors (no progress bars or notes)")
    group.add_argument("--seed", type=int, metavar="N", default=default(None),
                       help="seed of the random initialisations, for reproducible results")
    group.add_argument("--device", metavar="DEVICE", default=default(None),
                       help="torch device to compute on, e.g. cpu, cuda, cuda:1 (default: cpu)")
    group.add_argument("--debug", action="store_true", default=default(False),
                       help="show the full traceback of errors")


_HITS_HELP = ("isolated hits of the kit, named by instrument (kick_0.wav, snare_0.wav, "
              "hihat_0.wav, ...), or a folder of them")


def _add_settings_argument(parser, recipe: str) -> None:
    """``--set NAME=VALUE``, repeatable: a setting of the recipe to change."""
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        dest="settings",
                        help=f"change a setting of {recipe} (repeatable); VALUE is read as JSON "
                             f"(20, 0.5, null, true, \"text\") or else as text; 'nmfsep recipes "
                             f"--settings' lists them")


def _recipe_settings(args, recipe) -> dict:
    """The ``--set`` values as ``{name: value}``, checked against ``recipe``'s settings
    (:meth:`nmfsep.recipes.Recipe.resolve`); a CommandError (status 2) names the valid ones."""
    settings = {}
    for item in args.settings:
        name, equals, text = item.partition("=")
        if not equals or not name.strip():
            raise CommandError(f"--set takes NAME=VALUE, got {item!r}.", status=2)
        try:
            settings[name.strip()] = json.loads(text)
        except ValueError:  # not JSON: a string such as a method's name
            settings[name.strip()] = text
    try:
        recipe.resolve(settings)
    except ValueError as err:
        raise CommandError(f"--set: {err}", status=2) from None
    return settings


def _add_kit_arguments(parser, *, hits: str = _HITS_HELP, when: str = "") -> None:
    """The mutually exclusive ``--hits`` / ``--templates`` of the commands that take a kit
    (``when`` prefixes both helps)."""
    kit = parser.add_mutually_exclusive_group()
    kit.add_argument("--hits", nargs="+", type=Path, metavar="FILE", help=when + hits)
    kit.add_argument("--templates", type=Path, metavar="FILE",
                     help=when + "templates learned with 'nmfsep learn-templates'")


def _add_command(commands, name: str, handler: Callable, *, summary: str, description: str,
                 epilog: str) -> argparse.ArgumentParser:
    """A subcommand's parser, run by ``handler``; the global options are added last by
    :func:`build_parser`, so that the command's own options come first in its usage line."""
    command = commands.add_parser(name, help=summary, description=description, epilog=epilog,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    command.set_defaults(handler=handler)
    return command


def build_parser() -> argparse.ArgumentParser:
    """The ``nmfsep`` argument parser (subcommands ``separate``, ``transcribe``,
    ``learn-templates``, ``evaluate``, ``plot``)."""
    from .. import __version__  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog=PROG, description=_DESCRIPTION, epilog=_EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _add_global_options(parser, top_level=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands",
                                     parser_class=_CommandParser)

    separate = _add_command(
        commands, "separate", _separate, summary="separate mixtures into sources with a recipe",
        description="Separate each MIXTURE into sources with a separation recipe.",
        epilog=_SEPARATE_EPILOG)
    separate.add_argument("mixtures", nargs="+", metavar="MIXTURE", type=Path,
                          help="audio file(s) to separate (wav, flac, ogg, aiff, mp3)")
    separate.add_argument("--recipe", required=True, metavar="NAME",
                          help="separation recipe to run (listed below and by 'nmfsep recipes')")
    separate.more_help = _recipe_help
    _add_kit_arguments(separate, hits="isolated one-shot recordings of the sources (e.g. drum "
                                      "hits), or a folder of them")
    separate.add_argument("--out", "-o", required=True, type=Path, metavar="DIR",
                          help="output folder; sources go to DIR/<mixture name>/")
    separate.add_argument("--format", choices=AUDIO_FORMATS, default="wav",
                          help="audio format of the sources (default: wav, 32-bit float)")
    _add_settings_argument(separate, "the recipe")
    separate.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    separate.add_argument("--allow-truncated", action="store_true", help=_TRUNCATED_HELP)
    separate.add_argument("--distributed", action="store_true",
                          help="split the mixtures across the ranks of a torchrun launch; each "
                               "mixture's folder appears only when complete and finished ones are "
                               "skipped, so rerunning resumes (see docs/distributed.md)")

    transcribe = _add_command(
        commands, "transcribe", _transcribe,
        summary="write the drum onsets of mixtures as JSON, CSV and MIDI",
        description="Find the kick, snare and hi-hat onsets of each MIXTURE (from NMFD "
                    "activations)\nand write them as JSON, CSV and a General-MIDI drum track.",
        epilog=_TRANSCRIBE_EPILOG)
    transcribe.add_argument("mixtures", nargs="+", metavar="MIXTURE", type=Path,
                            help="audio file(s) to transcribe (wav, flac, ogg, aiff, mp3)")
    transcribe.add_argument("--out", "-o", required=True, type=Path, metavar="DIR",
                            help="output folder; onsets go to DIR/<mixture name>/")
    _add_kit_arguments(transcribe)
    transcribe.add_argument("--drums-only", action="store_true",
                            help="the mixtures hold drums only (no accompaniment to model)")
    transcribe.add_argument("--formats", nargs="+", choices=ONSET_FORMATS,
                            default=list(ONSET_FORMATS), metavar="FORMAT",
                            help="files to write: json, csv, mid (default: all three)")
    _add_settings_argument(transcribe, "the drum-onsets recipe")
    transcribe.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    transcribe.add_argument("--allow-truncated", action="store_true", help=_TRUNCATED_HELP)

    stream = _add_command(
        commands, "stream", _stream,
        summary="separate drums block by block, as in real time, with triggers",
        description="Separate each MIXTURE into kick, snare and hi-hat block by block, as in "
                    "real time,\nand write the stems and the onsets of the drum triggers.",
        epilog=_STREAM_EPILOG)
    stream.add_argument("mixtures", nargs="*", metavar="MIXTURE", type=Path,
                        help="audio file(s) to stream (none with --live)")
    stream.add_argument("--recipe", required=True, choices=STREAM_RECIPES,
                        help="drums: the kit's --hits or --templates; drums-generic: the "
                             "generic templates")
    _add_kit_arguments(stream)
    stream.add_argument("--out", "-o", required=True, type=Path, metavar="DIR",
                        help="output folder; stems and onsets go to DIR/<mixture name>/")
    stream.add_argument("--block", type=int, default=512, metavar="N",
                        help=f"samples per block, {STREAM_BLOCKS[0]} to {STREAM_BLOCKS[1]} "
                             f"(default: 512; the output does not depend on it)")
    stream.add_argument("--format", choices=AUDIO_FORMATS, default="wav",
                        help="audio format of the stems (default: wav, 32-bit float)")
    stream.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    stream.add_argument("--live", action="store_true",
                        help="separate the sound card's default input instead of files "
                             "(needs the optional 'sounddevice' package)")
    stream.add_argument("--seconds", type=float, metavar="S",
                        help="with --live: stop after S seconds (default: at Ctrl-C)")

    learn = _add_command(
        commands, "learn-templates", _learn_templates,
        summary="learn spectral templates from isolated sounds",
        description="Learn spectral templates from FILES of isolated sources and save them.",
        epilog=_LEARN_EPILOG)
    learn.add_argument("files", nargs="+", metavar="FILE", type=Path,
                       help="audio files of isolated sources (one-shot hits, notes, stems), or "
                            "folders of them")
    learn.add_argument("--out", "-o", required=True, type=Path, metavar="FILE",
                       help="where to save the templates (e.g. kit.pt)")
    learn.add_argument("--sources", nargs="+", metavar="NAME",
                       help="one source name for all FILEs, or one per FILE argument (default: "
                            "from the file names)")
    learn.add_argument("--recipe", metavar="NAME",
                       help="the recipe the templates are for (default: drums when the sources "
                            "are drums, else piano-bass)")
    learn.add_argument("--sample-rate", type=int, metavar="HZ",
                       help="rate of the templates, that of the mixtures (default: the first "
                            "file's)")
    learn.add_argument("--overwrite", action="store_true", help="replace an existing --out")

    evaluate = _add_command(
        commands, "evaluate", _evaluate, summary="score estimated sources against references",
        description="Print SDR/SIR/SAR/SI-SDR per mixture and source, then the means.",
        epilog=_EVALUATE_EPILOG)
    evaluate.add_argument("est_dir", type=Path, metavar="EST_DIR", help="folder of estimates")
    evaluate.add_argument("ref_dir", type=Path, metavar="REF_DIR", help="folder of references")
    evaluate.add_argument("--sources", nargs="+", metavar="NAME",
                          help="evaluate only these sources (default: all references)")
    evaluate.add_argument("--json", type=Path, metavar="FILE",
                          help="also write the rows and means to this JSON file")
    evaluate.add_argument("--chunk-seconds", type=float, metavar="S",
                          help="evaluate over chunks of S seconds (bounded memory on long files)")
    evaluate.add_argument("--aggregate", choices=("global", "median"), default="global",
                          help="combine chunks by energy (global, default) or by median (museval)")
    evaluate.add_argument("--filter-length", type=int, default=512, metavar="N",
                          help="taps of the BSS Eval distortion filters (default: 512)")
    evaluate.add_argument("--overwrite", action="store_true", help="replace an existing --json")

    plot = _add_command(
        commands, "plot", _plot,
        summary="draw the spectrogram of audio files, or the model a recipe fits to them",
        description="Draw a spectrogram (STFT or constant-Q) of each AUDIO file, or the\n"
                    "activations, templates or masks a drum recipe fits to it.",
        epilog=_PLOT_EPILOG)
    plot.add_argument("audio", nargs="+", type=Path, metavar="AUDIO", help="audio file(s)")
    plot.add_argument("--out", "-o", required=True, type=Path, metavar="PATH",
                      help="image file (one AUDIO) or folder")
    plot.add_argument("--kind", choices=PLOT_KINDS, default="spectrogram",
                      help="spectrogram: STFT magnitude in dB; cqt: constant-Q transform; "
                           "activations, templates, masks: of the --recipe's fitted model")
    plot.add_argument("--recipe", choices=MODEL_RECIPES,
                      help="with --kind activations/templates/masks: the recipe whose model is "
                           "drawn (default: drums)")
    _add_kit_arguments(plot, when="with --recipe drums: ")
    plot.add_argument("--y-axis", choices=("linear", "log"), default="linear",
                      help="frequency axis of --kind spectrogram (default: linear)")
    plot.add_argument("--n-fft", type=int, default=2048, metavar="N",
                      help="STFT size in samples (default: 2048)")
    plot.add_argument("--hop-length", type=int, default=512, metavar="N",
                      help="STFT hop in samples (default: 512)")
    plot.add_argument("--bins-per-octave", type=int, default=12, metavar="N",
                      help="CQT resolution (default: 12)")
    plot.add_argument("--dpi", type=int, default=150, help="image resolution (default: 150)")
    plot.add_argument("--overwrite", action="store_true", help="replace existing images")
    plot.add_argument("--allow-truncated", action="store_true", help=_TRUNCATED_HELP)

    listing = _add_command(
        commands, "recipes", _list_recipes,
        summary="list the recipes, what each needs and (--settings) their settings",
        description="List the recipes of 'nmfsep separate --recipe NAME' (and drum-onsets, the\n"
                    "one 'nmfsep transcribe' runs): the sources each writes and whether it needs\n"
                    "--hits or --templates; with --settings, each recipe's settings and values.",
        epilog="examples:\n  nmfsep recipes\n  nmfsep recipes --settings drums")
    listing.add_argument("names", nargs="*", metavar="NAME",
                         help="recipes to show with --settings (default: all)")
    listing.add_argument("--settings", action="store_true",
                         help="list each recipe's settings and their values (what --set changes)")

    for command in commands.choices.values():  # last: each command's own options come first
        _add_global_options(command, top_level=False)
        # its options, for saying the API's keywords in messages as options (_cli_words)
        command.set_defaults(cli_options=frozenset(
            option for action in command._actions for option in action.option_strings))
    return parser


# --------------------------------------------------------------------------- helpers
def _check_inputs(paths: Sequence[Path], what: str) -> None:
    from .._pipeline._files import check_readable_file  # noqa: PLC0415

    for path in paths:
        try:
            check_readable_file(path, what)
        except OSError as err:  # missing, a folder, or not readable: one line, status 1
            raise CommandError(_one_line(err)) from None


def _check_out_folder(folder: Path, option: str = "--out") -> None:
    """Refuse an output folder that cannot be written before any work is done."""
    from .._pipeline._files import check_writable_folder  # noqa: PLC0415

    try:
        check_writable_folder(folder, option)
    except OSError as err:
        raise CommandError(_one_line(err)) from None


def _check_outputs(paths: Sequence[Path], overwrite: bool) -> None:
    if overwrite:
        return
    existing = [p for p in paths if p.exists()]
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise CommandError(f"'{existing[0]}'{more} already exists; pass --overwrite to replace it.")


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """``write(temporary)`` next to ``path``, then move it into place in one step."""
    from .._pipeline._files import write_atomically  # noqa: PLC0415

    write_atomically({path: write})


def _recipes(args):
    """``nmfsep.recipes``, or a CommandError (status 2) saying why it cannot be imported
    (e.g. torchaudio missing or broken: the message names the fix)."""
    import importlib  # noqa: PLC0415

    try:
        # Imported here: it is heavy, and only the commands that separate or plot need it.
        return importlib.import_module("nmfsep.recipes")
    except ImportError as err:
        raise CommandError(f"'{PROG} {args.command}' cannot run: {err}", status=2) from err


def _note(args, message: str) -> None:
    if not args.quiet:
        print(message, file=sys.stderr)


# --------------------------------------------------------------------------- handlers
def _expand_hits(paths: Sequence[Path]) -> List[Path]:
    """Hit files as given, with each folder replaced by the audio files inside it (sorted)."""
    from .evaluation import _audio_files  # noqa: PLC0415 - the same listing rule as evaluate

    files: List[Path] = []
    for path in paths:
        if not path.exists():
            raise CommandError(f"hit file not found: '{path}'")
        if path.is_dir():
            inside = sorted(_audio_files(path).values())
            if not inside:
                raise CommandError(f"--hits folder '{path}' holds no audio files.")
            files.extend(inside)
        else:
            files.append(path)
    return files


def _check_mixture_names(mixtures: Sequence[Path], out: Path) -> None:
    """Each mixture's outputs go to OUT/<mixture name>/: the names must differ."""
    names = [m.stem for m in mixtures]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise CommandError(
            f"several mixtures are named '{clashes[0]}'; their outputs would collide in "
            f"'{out / clashes[0]}'. Rename them or run one command per folder.")


def _each_mixture(args, command: str, work: Callable[[Path], None],
                  mixtures: Optional[Sequence[Path]] = None) -> int:
    """Run ``work`` on every mixture of ``mixtures`` (default ``args.mixtures``). With several
    files one bad file does not stop the others: each failure is one line on stderr, and the
    command fails at the end; a single file (or ``--debug``) raises as it is."""
    mixtures = args.mixtures if mixtures is None else mixtures
    failed = 0
    for mixture in mixtures:
        try:
            work(mixture)
        except Exception as err:
            if args.debug or len(mixtures) == 1:
                raise
            failed += 1
            print(f"{PROG} {command}: error: {mixture}: {_error_line(args, err)}",
                  file=sys.stderr)
    if failed:
        raise CommandError(f"{failed} of {len(mixtures)} mixtures failed (see above).")
    return 0


def _mixtures_and_hits(args):
    """Check the mixtures, the templates file and the output names of a command that takes
    mixtures; the hit files expanded from ``--hits`` (or None)."""
    _check_inputs(args.mixtures, "mixture")
    if args.templates is not None:
        _check_inputs([args.templates], "templates file")
    hits = _expand_hits(args.hits) if args.hits else None
    _check_mixture_names(args.mixtures, args.out)
    return hits


def _list_recipes(args) -> int:
    recipes = _recipes(args)
    if not args.settings:
        if args.names:
            raise CommandError("recipe names go with --settings.", status=2)
        print(recipes.recipe_table())
        return 0
    try:
        chosen = [recipes.get_recipe(name) for name in args.names or sorted(recipes.RECIPES)]
    except ValueError as err:
        raise CommandError(str(err), status=2) from None
    for recipe in chosen:
        print(f"{recipe.name}:")
        for name, value in recipe.settings.items():
            try:
                text = json.dumps(value)
            except TypeError:  # not JSON (e.g. a Templates object): as Python shows it
                text = repr(value)
            print(f"  {name} = {text}")
    return 0


def _separate(args) -> int:
    hits = _mixtures_and_hits(args)
    _check_out_folder(args.out)
    recipes = _recipes(args)
    # --set, checked before any work; without it run_recipe uses the recipe's own settings
    options = {}
    if args.settings:
        options["settings"] = _recipe_settings(args, recipes.get_recipe(args.recipe))
    if args.distributed:
        return _separate_distributed(args, recipes, hits, options)
    todo, missing = _mixtures_to_separate(args, _stem_names(args, recipes))
    if not todo:
        return 0

    def separate_one(mixture: Path) -> None:
        if mixture in missing:  # a partial set: not done, but its files are not replaced
            present, absent = missing[mixture]
            more = f" (and {len(present) - 1} more)" if len(present) > 1 else ""
            raise CommandError(
                f"'{args.out / mixture.stem / present[0]}'{more} already exists but the set "
                f"of stems is incomplete ({', '.join(absent)} missing); pass --overwrite to "
                f"separate '{mixture.name}' again.")
        written = recipes.run_recipe(
            args.recipe, mixture, args.out / mixture.stem, templates=args.templates,
            hits=hits, overwrite=args.overwrite, fmt=args.format, seed=args.seed,
            device=args.device, verbose=not args.quiet, allow_truncated=args.allow_truncated,
            **options)
        for source, path in written.items():
            _note(args, f"{mixture}: {source} -> {path}")

    return _each_mixture(args, "separate", separate_one, todo)


def _stem_names(args, recipes) -> Optional[List[str]]:
    """The file names ``separate`` writes for each mixture, when known before any work: one
    per source of the recipe, else of ``--templates`` (e.g. piano-bass); None otherwise."""
    try:
        recipe = recipes.get_recipe(args.recipe)
    except (AttributeError, ValueError):  # an unknown recipe: run_recipe says so
        return None
    sources = recipe.sources
    if sources is None and args.templates is not None:
        from ..separation import Templates  # noqa: PLC0415

        try:
            sources = Templates.load(args.templates).sources
        except (OSError, ValueError):  # the recipe says what is wrong with the file
            return None
    return None if sources is None else [f"{source}.{args.format}" for source in sources]


def _mixtures_to_separate(args, names: Optional[Sequence[str]]):
    """``(mixtures to separate, {mixture: (stem files present, missing)})``: a rerun resumes.
    Without --overwrite a mixture whose stems all exist is skipped, with a note; one with only
    some (a stem deleted since) is not done, and is refused when its turn comes."""
    if args.overwrite or names is None:
        return list(args.mixtures), {}
    todo, missing = [], {}
    for mixture in args.mixtures:
        folder = args.out / mixture.stem
        absent = [name for name in names if not (folder / name).exists()]
        if not absent:
            _note(args, f"skipped {mixture}: stems exist in '{folder}'; --overwrite to redo")
            continue
        todo.append(mixture)
        if len(absent) < len(names):
            missing[mixture] = ([name for name in names if name not in absent], absent)
    return todo, missing


def _separate_distributed(args, recipes, hits, options) -> int:
    from .batch import separate_many  # noqa: PLC0415

    def run(mixture, folder):
        # the folder is a fresh staging folder, renamed into place when complete
        recipes.run_recipe(args.recipe, mixture, folder, templates=args.templates, hits=hits,
                           overwrite=True, fmt=args.format, seed=args.seed, device=args.device,
                           verbose=False, allow_truncated=args.allow_truncated, **options)

    report = separate_many(args.mixtures, args.out, run, distributed=True, verbose=not args.quiet)
    for mixture, reason in report.failed.items():
        print(f"{PROG} separate: error: {mixture}: {reason}", file=sys.stderr)
    _note(args, f"{len(report.written)} separated, {len(report.skipped)} already done, "
                f"{len(report.failed)} failed")
    if report.failed:
        raise CommandError(f"{len(report.failed)} of {len(args.mixtures)} mixtures failed (see above).")
    return 0


def _transcribe(args) -> int:
    hits = _mixtures_and_hits(args)
    if args.out.exists() and not args.out.is_dir():
        raise CommandError(f"--out '{args.out}' is a file; give a folder.")
    _check_out_folder(args.out)
    recipe = _recipes(args).get_recipe("drum-onsets")
    settings = _recipe_settings(args, recipe)
    if args.drums_only:
        if settings.get("accompaniment", False):
            raise CommandError("--drums-only and --set accompaniment=true contradict each other.",
                               status=2)
        settings["accompaniment"] = False
    from .. import io  # noqa: PLC0415
    from .onsets_io import ONSET_FORMATS as FILE_NAMES  # noqa: PLC0415
    from .onsets_io import save_onsets  # noqa: PLC0415

    formats = list(dict.fromkeys(args.formats))
    _check_outputs([args.out / m.stem / FILE_NAMES[f] for m in args.mixtures for f in formats],
                   args.overwrite)  # before any work
    if args.seed is not None:
        import torch  # noqa: PLC0415

        torch.manual_seed(args.seed)

    def transcribe_one(mixture: Path) -> None:
        start = time.perf_counter()
        folder = args.out / mixture.stem
        waveform, sample_rate = io.load(mixture, allow_truncated=args.allow_truncated)
        onsets = recipe(waveform, sample_rate, settings=settings, hits=hits,
                        templates=args.templates, device=args.device, verbose=not args.quiet)
        save_onsets(onsets, folder, formats=formats, overwrite=args.overwrite,
                    sample_rate=sample_rate, source=mixture)
        if not args.quiet:
            counts = ", ".join(f"{name} {len(times)}" for name, times in onsets.items())
            print(f"{mixture}: {counts} onsets -> {folder}{os.sep} "
                  f"({time.perf_counter() - start:.1f} s)")

    return _each_mixture(args, "transcribe", transcribe_one)


def _stream_api(args):
    """``(drum_stream, trigger_times, write_stems, save_onsets)``, or a CommandError
    (status 2) saying why they are unavailable."""
    try:
        from ..recipes import drum_stream, save_onsets  # noqa: PLC0415
        from ..separation import trigger_times, write_stems  # noqa: PLC0415
    except ImportError as err:
        raise CommandError(f"'{PROG} stream' cannot run: {err}", status=2) from err
    return drum_stream, trigger_times, write_stems, save_onsets


def _stream(args) -> int:
    low, high = STREAM_BLOCKS
    if not low <= args.block <= high:
        raise CommandError(f"--block must be {low} to {high} samples, got {args.block}.",
                           status=2)
    if args.recipe == "drums-generic" and (args.hits or args.templates):
        raise CommandError("--recipe drums-generic uses the generic templates; pass --hits or "
                           "--templates with --recipe drums.", status=2)
    if args.live:
        if args.mixtures:
            raise CommandError("--live separates the sound card's input; give no MIXTURE.",
                               status=2)
        return _stream_live(args)
    if args.seconds is not None:
        raise CommandError("--seconds goes with --live.", status=2)
    if not args.mixtures:
        raise CommandError("give a MIXTURE file to stream, or --live.", status=2)
    hits = _mixtures_and_hits(args)
    drum_stream, trigger_times, write_stems, save_onsets = _stream_api(args)
    from .. import io  # noqa: PLC0415
    from .onsets_io import ONSET_FORMATS as FILE_NAMES  # noqa: PLC0415
    from .recipes.drums import DRUM_SOURCES  # noqa: PLC0415

    names = [f"{s}.{args.format}" for s in DRUM_SOURCES] + list(FILE_NAMES.values())
    _check_outputs([args.out / m.stem / n for m in args.mixtures for n in names],
                   args.overwrite)  # before any work

    def stream_one(mixture: Path) -> None:
        folder = args.out / mixture.stem
        waveform, sample_rate = io.load(mixture)
        separator = drum_stream(sample_rate, hits=hits, templates=args.templates)
        start = time.perf_counter()
        stems, triggers = separator.separate(waveform, block_size=args.block,
                                             return_triggers=True)
        seconds = time.perf_counter() - start
        write_stems(stems, folder, sample_rate, overwrite=args.overwrite,
                    extension=args.format)
        save_onsets(trigger_times(triggers, separator.sources), folder,
                    overwrite=args.overwrite, sample_rate=sample_rate, source=mixture)
        if not args.quiet:
            duration = waveform.shape[-1] / sample_rate
            print(f"{mixture}: blocks of {args.block}, look-ahead "
                  f"{1000 * separator.lookahead_seconds:.1f} ms, {len(triggers)} triggers "
                  f"(latency <= {1000 * separator.trigger_latency_seconds:.1f} ms), "
                  f"{duration / max(seconds, 1e-9):.1f}x real time -> {folder}{os.sep}")

    return _each_mixture(args, "stream", stream_one)


def _stream_live(args) -> int:  # pragma: no cover - needs a sound card
    import queue  # noqa: PLC0415

    try:
        import sounddevice  # noqa: PLC0415
    except ImportError as err:
        raise CommandError("--live needs the optional 'sounddevice' package "
                           "(pip install sounddevice) and an audio input device.",
                           status=2) from err
    import torch  # noqa: PLC0415

    hits = _expand_hits(args.hits) if args.hits else None
    if args.templates is not None:
        _check_inputs([args.templates], "templates file")
    drum_stream, trigger_times, write_stems, save_onsets = _stream_api(args)
    folder = args.out / "live"
    sample_rate = int(sounddevice.query_devices(kind="input")["default_samplerate"])
    separator = drum_stream(sample_rate, hits=hits, templates=args.templates)
    blocks: "queue.Queue" = queue.Queue()
    out, triggers = [], []
    _note(args, f"listening at {sample_rate} Hz in blocks of {args.block} (look-ahead "
                f"{1000 * separator.lookahead_seconds:.1f} ms); Ctrl-C stops")
    start = time.monotonic()
    try:
        with sounddevice.InputStream(samplerate=sample_rate, channels=1, blocksize=args.block,
                                     dtype="float32",
                                     callback=lambda data, *_: blocks.put(data[:, 0].copy())):
            while args.seconds is None or time.monotonic() - start < args.seconds:
                try:
                    block = blocks.get(timeout=0.5)
                except queue.Empty:
                    continue
                out.append(separator.process(torch.from_numpy(block)))
                for trigger in separator.pop_triggers():
                    triggers.append(trigger)
                    print(f"{trigger.time:9.3f} s  {trigger.source:<8} strength "
                          f"{trigger.strength:.3g} (+{1000 * (trigger.known_at - trigger.time):.0f}"
                          f" ms)", flush=True)
    except KeyboardInterrupt:
        pass
    if not out:
        raise CommandError("no audio came from the input device.")
    stems = torch.cat(out, -1)[..., separator.lookahead:]  # delay compensated
    write_stems(dict(zip(separator.sources, stems)), folder, sample_rate,
                overwrite=args.overwrite, extension=args.format)
    save_onsets(trigger_times(triggers, separator.sources), folder, overwrite=args.overwrite,
                sample_rate=sample_rate)
    _note(args, f"{stems.shape[-1] / sample_rate:.1f} s, {len(triggers)} triggers -> {folder}{os.sep}")
    return 0


def _learn_templates(args) -> int:
    _check_inputs([f for f in args.files if not f.is_dir()], "audio file")
    if args.sample_rate is not None and args.sample_rate < 1:
        raise CommandError(f"--sample-rate must be a positive number of Hz, got "
                           f"{args.sample_rate}.", status=2)
    _check_outputs([args.out], args.overwrite)
    _check_out_folder(args.out.parent, "--out's folder")
    recipes = _recipes(args)
    written = recipes.learn_templates_cli(
        args.files, args.out, sources=args.sources, recipe=args.recipe,
        sample_rate=args.sample_rate, overwrite=args.overwrite, seed=args.seed,
        device=args.device, verbose=not args.quiet)
    _note(args, f"templates -> {written if written is not None else args.out}")
    return 0


def _json_ready(value):
    """Rows/means with NaN as null, so the file is strict JSON."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _evaluate(args) -> int:
    from ..evaluation import evaluate_dirs, format_table  # noqa: PLC0415

    if args.json is not None:
        _check_outputs([args.json], args.overwrite)
        _check_out_folder(args.json.parent, "--json's folder")
    rows, means = evaluate_dirs(
        args.est_dir, args.ref_dir, sources=args.sources, filter_length=args.filter_length,
        chunk_seconds=args.chunk_seconds, aggregate=args.aggregate,
        verbose=not args.quiet and sys.stderr.isatty())  # no progress bars in logs
    print(format_table(rows, means))
    if args.json is not None:
        document = {"rows": [_json_ready(r) for r in rows], "means": _json_ready(means)}
        _write_atomically(args.json, lambda tmp: tmp.write_text(
            json.dumps(document, indent=1, allow_nan=False) + "\n"))
        _note(args, f"scores -> {args.json}")
    return 0


def _plot_targets(audio: Sequence[Path], out: Path, kind: str) -> List[Path]:
    if len(audio) == 1 and out.suffix.lower() in _IMAGE_SUFFIXES:
        return [out]
    if out.suffix.lower() in _IMAGE_SUFFIXES:
        raise CommandError(f"with {len(audio)} AUDIO files, --out must be a folder, not "
                           f"the image '{out}'.", status=2)
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out '{out}' is a file; give a folder or an image name ending in "
                           f"{', '.join(_IMAGE_SUFFIXES)}.", status=2)
    targets = [out / f"{path.stem}_{kind}.png" for path in audio]
    duplicates = sorted({t.name for t in targets if targets.count(t) > 1})
    if duplicates:
        raise CommandError(f"several AUDIO files would be drawn to '{out / duplicates[0]}'; "
                           f"plot them into different folders.", status=2)
    return targets


def _plot(args) -> int:
    _check_inputs(args.audio, "audio file")
    for name in ("n_fft", "hop_length", "bins_per_octave", "dpi"):
        if getattr(args, name) < 1:
            raise CommandError(f"--{name.replace('_', '-')} must be a positive integer, got "
                               f"{getattr(args, name)}.", status=2)
    hits = None
    if args.kind in MODEL_KINDS:
        args.recipe = args.recipe or "drums"
        if args.recipe == "drums-generic" and args.hits:
            raise CommandError("--recipe drums-generic uses the generic templates; pass --hits "
                               "with --recipe drums.", status=2)
        if args.templates is not None:
            _check_inputs([args.templates], "templates file")
        hits = _expand_hits(args.hits) if args.hits else None
    elif args.recipe or args.hits or args.templates:
        raise CommandError(f"--recipe, --hits and --templates go with --kind "
                           f"{', '.join(MODEL_KINDS)} (the model a recipe fits), not with "
                           f"--kind {args.kind}.", status=2)
    targets = _plot_targets(args.audio, args.out, args.kind)
    _check_outputs(targets, args.overwrite)
    _check_out_folder(targets[0].parent)

    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")  # files only: never open a window
    matplotlib.rcParams["svg.hashsalt"] = PROG  # SVG ids from a fixed salt: same plot, same bytes
    import matplotlib.pyplot as plt  # noqa: PLC0415

    from .. import functional, io, plot, transforms  # noqa: PLC0415

    for path, target in zip(args.audio, targets):
        waveform, rate = io.load(path, mono=True, allow_truncated=args.allow_truncated)
        title = f"{path.name} ({rate} Hz)"
        if args.kind in MODEL_KINDS:
            drawn = _plot_model(args, plot, waveform, rate, hits, title)
        elif args.kind == "cqt":
            transform = transforms.CQT(rate, bins_per_octave=args.bins_per_octave, power=1.0)
            drawn = plot.spectrogram(transform(waveform[0]), sample_rate=rate,
                                     hop_length=transform.hop_length, y_axis="cqt",
                                     frequencies=transform.frequencies, title=title)
        else:
            spec = functional.magnitude(functional.stft(
                waveform[0], n_fft=args.n_fft, hop_length=args.hop_length))
            drawn = plot.spectrogram(spec, sample_rate=rate, hop_length=args.hop_length,
                                     y_axis=args.y_axis, title=title)
        figure = drawn if hasattr(drawn, "savefig") else drawn.figure  # a Figure or an Axes
        try:
            fmt = target.suffix.lower().lstrip(".") or "png"
            _write_atomically(target, lambda tmp: figure.savefig(
                tmp, dpi=args.dpi, format=fmt, metadata=_REPRODUCIBLE_METADATA.get(fmt)))
        finally:
            plt.close(figure)
        _note(args, f"{path} -> {target}")
    return 0


def _plot_model(args, plot, waveform, rate: int, hits, title: str):
    """Draw ``--kind`` of the drum model that ``--recipe`` fits to ``waveform``
    (:func:`nmfsep.recipes.separate_drums` with ``return_model=True``, as the recipe runs it);
    returns the Axes or Figure drawn on."""
    import torch  # noqa: PLC0415

    recipes = _recipes(args)
    _, model = recipes.separate_drums(waveform, rate, hits=hits, templates=args.templates,
                                      device=args.device, verbose=not args.quiet,
                                      return_model=True, **recipes.get_recipe(args.recipe).settings)
    counts = torch.bincount(model.components, minlength=len(model.sources)).tolist()
    names = [model.sources[c] if counts[c] == 1 else
             f"{model.sources[c]} {int((model.components[:r] == c).sum())}"
             for r, c in enumerate(model.components.tolist())]  # kick, or kick 0, kick 1
    # the model's bins: the STFT's up to the fitted band (see DrumModel.masks)
    frequencies = torch.arange(model.templates.shape[0]) * (rate / model.n_fft)
    if args.kind == "activations":
        return plot.activations(model.activations, sample_rate=rate,
                                hop_length=model.hop_length, names=names, title=title)
    if args.kind == "templates":
        return plot.templates(model.templates, frequencies=frequencies, y_axis=args.y_axis,
                              names=names, db=True, colorbar=True, title=title)
    # the STFT frames of the mixture, without the padding the fit adds after its end
    n_frames = waveform.shape[-1] // model.hop_length + 1
    masks = model.masks()[..., :n_frames]
    figure = plot.masks(dict(zip(model.sources, masks)), sample_rate=rate,
                        hop_length=model.hop_length, frequencies=frequencies,
                        y_axis=args.y_axis)
    figure.suptitle(title)
    return figure


# --------------------------------------------------------------------------- entry point
def _one_line(err: BaseException) -> str:
    text = str(err)
    if isinstance(err, OSError) and err.strerror and err.filename is None:
        text = err.strerror  # nmfsep's own OSError(errno, message): no "[Errno N]" prefix
    text = " ".join(text.split())
    return text or type(err).__name__


# "pass overwrite=True (--overwrite on the command line)" -> "pass --overwrite": the API's
# keyword arguments in messages, said as the options of the command that was run.
_KEYWORD = re.compile(r"\b([a-z][a-z0-9_]*)=(True\b|[^\s,;)]+)"
                      r"(?: \((--[a-z0-9-]+)(?: on the command line)?\))?")


# A sentence such as " Pass allow_silent=True to accept silence."
_API_ADVICE = re.compile(r"(?:(?<=\.) |^)Pass ([a-z][a-z0-9_]*)=True\b[^.]*\.(?= |$)")


def _error_line(args, err: BaseException) -> str:
    """``err`` as one line in the words of the command that was run (:func:`_cli_words`)."""
    return _cli_words(_one_line(err), getattr(args, "cli_options", frozenset()))


def _cli_words(message: str, options) -> str:
    """``message`` with each ``name=True`` / ``name=value`` whose ``--name`` is in ``options``
    as ``--name`` / ``--name value``, and without the sentences that advise passing a keyword
    the command has no option for (advice for the API, not for the command line)."""

    def option(match):
        flag = match.group(3) or "--" + match.group(1).replace("_", "-")
        if flag not in options:
            return match.group(0)
        return flag if match.group(2) == "True" else f"{flag} {match.group(2)}"

    def advice(match):
        flag = "--" + match.group(1).replace("_", "-")
        return match.group(0) if flag in options else ""

    return _KEYWORD.sub(option, _API_ADVICE.sub(advice, message)).strip()


def _check_device(parser: argparse.ArgumentParser, device: str) -> None:
    """A usage error unless ``device`` names a torch device that can compute here."""
    import torch  # noqa: PLC0415

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        parser.error(f"--device {device!r} is not a torch device (try cpu or cuda:0)")
    if parsed.type == "cpu":
        return
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            parser.error(f"--device {device!r}: this machine has no CUDA GPU that torch can "
                         f"use; use --device cpu")
        if parsed.index is not None and parsed.index >= count:
            parser.error(f"--device {device!r}: there are only {count} CUDA GPU(s) "
                         f"(cuda:0 to cuda:{count - 1})")
        return
    if parsed.type == "mps" and torch.backends.mps.is_available():
        return
    parser.error(f"--device {device!r} cannot run a separation (a {parsed.type!r} device "
                 f"{'holds no data' if parsed.type == 'meta' else 'is not available here'}); "
                 f"use cpu or cuda")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``nmfsep`` command line; returns the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 when the input is at fault (missing or unreadable file, existing
        output, bad audio), 2 on usage errors or missing optional components, 130 on Ctrl-C.

    Examples
    --------
    >>> from nmfsep.cli import main
    >>> main(["--version"])                                  # doctest: +SKIP
    nmfsep 0.1.0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.device is not None:
        _check_device(parser, args.device)
    from .._pipeline._files import Terminated  # noqa: PLC0415

    def show_warning(message, category, filename, lineno, file=None, line=None):
        if not args.quiet:
            print(f"{PROG}: warning: {_error_line(args, message)}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show_warning
        try:
            return args.handler(args)
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted", file=sys.stderr)
            return 130
        except Terminated as err:  # SIGTERM while writing: the clean-up has run
            print(f"{PROG}: terminated", file=sys.stderr)
            return 128 + err.signum
        except CommandError as err:
            if args.debug:
                raise
            print(f"{PROG} {args.command}: error: {_error_line(args, err)}", file=sys.stderr)
            return err.status
        except Exception as err:  # one line for the user; --debug for the traceback
            if args.debug:
                raise
            expected = isinstance(err, (OSError, ValueError, TypeError, ImportError))
            hint = ("" if expected else
                    f" ({type(err).__name__}; run with --debug for the traceback)")
            status = 2 if isinstance(err, ImportError) else 1
            print(f"{PROG} {args.command}: error: {_error_line(args, err)}{hint}",
                  file=sys.stderr)
            return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
