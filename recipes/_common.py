"""The runner shared by the recipe scripts: ``recipes/<name>/run.py`` runs the recipe registered
as ``<name>`` (:func:`nmfsep.recipes.get_recipe`) on the benchmark data, scores it and prints
(with ``--readme``: writes into the folder's README.md) the tables of measured results.

A recipe's settings are :attr:`nmfsep.recipes.Recipe.settings`, the ones ``nmfsep separate``,
``nmfsep transcribe`` and ``benchmarks/separation.py`` run with; ``--config FILE`` changes
some of them for an experiment: a JSON object ``{recipe name: {setting: value}}``, checked
against the registry (an unknown recipe or setting is an error that names the valid ones).

The scripts import this module after putting ``recipes/`` on ``sys.path``;
``benchmarks/separation.py`` and ``benchmarks/streaming.py`` read the benchmark's side material
(the kit's hits, the training recordings, the reference onsets) through it as well.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from nmfsep.io import load
from nmfsep.recipes import (
    DRUM_SOURCES,
    get_recipe,
    learn_instrument_dictionaries,
    onset_f_measure,
)
from nmfsep.separation import write_stems

RECIPES = Path(__file__).resolve().parent
#: The benchmark data of this checkout's workspace, ``../shared/bench/data``.
DEFAULT_DATA = RECIPES.parents[1] / "shared" / "bench" / "data"
#: The lines around the results section of a recipe's README.md (``--readme``); a script with
#: several sections names each after "results" (``<!-- results without hits: ... -->``).
BEGIN, END = "<!-- results{}: written by run.py -->", "<!-- end of results{} -->"
METRICS = ("SDR", "SIR", "SAR")


# --------------------------------------------------------------------------- settings
def load_overrides(path, names):
    """The settings a ``--config`` file changes, checked against the registry.

    Parameters
    ----------
    path : Path or None
        A JSON object ``{recipe name: {setting: value}}``; None changes nothing.
    names : sequence of str
        The recipes the script runs.

    Returns
    -------
    dict of str to dict
        ``{name: every setting of the recipe}`` (:meth:`nmfsep.recipes.Recipe.resolve`).

    Raises
    ------
    ValueError
        On a file that is not such an object, a recipe the script does not run, or a
        setting the recipe does not have (the messages name the valid ones).
    """
    overrides = {}
    if path is not None:
        overrides = json.loads(Path(path).read_text())
        if not isinstance(overrides, dict) or not all(isinstance(v, dict)
                                                      for v in overrides.values()):
            raise ValueError(f"'{path}' must hold a JSON object {{recipe name: {{setting: "
                             f"value}}}}, got {overrides!r}.")
        unknown = sorted(set(overrides) - set(names))
        if unknown:
            raise ValueError(f"'{path}': this script runs the recipe(s) {', '.join(names)}, "
                             f"not {', '.join(unknown)}.")
    return {name: get_recipe(name).resolve(overrides.get(name)) for name in names}


def parse_args(description, folder, own_options=()):
    """Parse a recipe script's command line: ``--data``, ``--split``, ``--out``, ``--config``,
    ``--threads``, ``--readme`` and the script's own options.

    Parameters
    ----------
    description : str
        What ``--help`` shows: the script's docstring.
    folder : Path
        The recipe's folder (``--readme`` writes its README.md).
    own_options : sequence of (str, dict)
        The script's own options as ``(flag, keyword arguments of add_argument)``.

    Returns
    -------
    argparse.Namespace
        With ``out`` a new temporary folder when ``--out`` is not given.
    """
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split", default="dev")
    parser.add_argument("--out", type=Path, default=None,
                        help="estimates folder (default: a temporary one)")
    parser.add_argument("--config", type=Path, default=None,
                        help="JSON {recipe: {setting: value}}: settings to change (default: "
                             "the registered recipe's, 'nmfsep recipes --settings')")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: steady timings on a shared machine)")
    parser.add_argument("--readme", action="store_true",
                        help=f"write the tables into {folder.name}/README.md")
    for flag, options in own_options:
        parser.add_argument(flag, **options)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out = args.out or Path(tempfile.mkdtemp(prefix=f"nmfsep_{folder.name}_"))
    return args


# --------------------------------------------------------------------------- benchmark data
def mixture_folders(data, split, task):
    """The ``mix*`` folders of a task, sorted (a FileNotFoundError when there are none)."""
    folders = sorted(p for p in (Path(data) / split / task).glob("mix*") if p.is_dir())
    if not folders:
        raise FileNotFoundError(f"no mixtures under '{Path(data) / split / task}'")
    return folders


def kit_hits(mix_dir, meta, task):
    """The kit's hits that ``meta.json`` lists: ``{stem: [files]}`` by the ``<task>_stem``
    of the kit's ``hits.json`` when there is one, else the list of files; None without hits."""
    if not meta.get("hits"):
        return None
    files = [(mix_dir / h).resolve() for h in meta["hits"]]
    if not meta.get("hits_json"):
        return files
    listing = json.loads((mix_dir / meta["hits_json"]).read_text())
    folder = (mix_dir / meta["hits_json"]).resolve().parent
    grouped = {}
    for hit in listing["hits"]:
        path = folder / hit["file"]
        if hit.get(f"{task}_stem") and path in files:
            grouped.setdefault(hit[f"{task}_stem"], []).append(path)
    return grouped


def reference_onsets(mix_dir, meta):
    """``{stem: [onset seconds]}`` of ``meta.json``'s events, roles mapped to the ``drums3``
    stems by the kit's ``hits.json`` (hi-hat = closed and open)."""
    listing = json.loads((mix_dir / meta["hits_json"]).read_text())
    stem_of = {hit["role"]: hit["drums3_stem"] for hit in listing["hits"]}
    onsets = {s: [] for s in DRUM_SOURCES}
    for time_s, role, *_ in meta["events"]:
        stem = stem_of.get(role) or ("hihat" if role.startswith("hh") else role)
        onsets[stem].append(time_s)
    return onsets


def learn_dictionaries(task_dir):
    """Dictionaries (:func:`nmfsep.recipes.learn_instrument_dictionaries`, its settings: those
    of ``nmfsep learn-templates --recipe piano-bass``) of every ``train/<stem>.wav`` of a
    task; returns ``(dictionaries, seconds taken)``."""
    train, rate = {}, None
    for path in sorted((task_dir / "train").glob("*.wav")):
        train[path.stem], rate = load(path)
    if not train:
        raise FileNotFoundError(f"no training recordings in '{task_dir / 'train'}'")
    start = time.perf_counter()
    dictionaries = learn_instrument_dictionaries(train, rate)
    return dictionaries, time.perf_counter() - start


# --------------------------------------------------------------------------- running
def separate_mixtures(mixes, out_dir, separate, options_of=None):
    """Separate the ``mixture.wav`` of every folder of ``mixes`` and write its stems to
    ``out_dir/<mix>/``.

    Parameters
    ----------
    mixes : sequence of Path
        Mixture folders (:func:`mixture_folders`).
    out_dir : Path
        Where the task's estimates go.
    separate : callable
        ``separate(mixture, sample_rate, **options) -> {stem: waveform}``; only this call
        is timed.
    options_of : callable, optional
        ``options_of(mix_dir) -> dict``: per-mixture keyword arguments of ``separate``.

    Returns
    -------
    dict of str to float
        Seconds ``separate`` took on each mixture, by mixture folder name.
    """
    seconds = {}
    for mix_dir in mixes:
        options = options_of(mix_dir) if options_of is not None else {}
        mixture, sample_rate = load(mix_dir / "mixture.wav")
        start = time.perf_counter()
        stems = separate(mixture, sample_rate, **options)
        seconds[mix_dir.name] = time.perf_counter() - start
        write_stems(stems, out_dir / mix_dir.name, sample_rate, overwrite=True)
        print(f"{mix_dir.name}: {seconds[mix_dir.name]:.2f} s", file=sys.stderr)
    return seconds


def score_estimates(data, split, task, out):
    """Score the estimates under ``out`` with the benchmark's ``score.py`` (next to
    ``data``); returns its records, also kept in ``out/scores.json``."""
    scores = out / "scores.json"
    subprocess.run([sys.executable, str(Path(data).parent / "score.py"), str(out), "--ref",
                    str(data), "--splits", split, "--tasks", task, "--json", str(scores)],
                   check=True, stdout=subprocess.DEVNULL)
    return json.loads(scores.read_text())


# --------------------------------------------------------------------------- reporting
def markdown_table(records, seconds, stems, extra=None):
    """Per-mixture and mean SDR / SIR / SAR of every stem, mean SDR, the ``extra`` columns
    (``{title: {mix: value}}``, means in the last row) and seconds per mixture."""
    extra = extra or {}
    mixes = sorted({r["mix"] for r in records})
    head = (["mix"] + [f"{s} {m}" for s in stems for m in METRICS] + ["mean SDR"]
            + list(extra) + ["time (s)"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    value = {(r["mix"], r["stem"], m): r[m] for r in records for m in METRICS}
    for mix in mixes + ["mean"]:
        chosen = mixes if mix == "mean" else [mix]

        def avg(stem, metric):
            return statistics.mean(value[(x, stem, metric)] for x in chosen)

        cells = [f"{avg(s, m):.2f}" for s in stems for m in METRICS]
        mean_sdr = statistics.mean(avg(s, "SDR") for s in stems)
        more = [f"{statistics.mean(column[x] for x in chosen):.3f}" for column in extra.values()]
        time_cell = statistics.mean(seconds[x] for x in chosen)
        lines.append(f"| {mix} | " + " | ".join(cells + [f"**{mean_sdr:.2f}**"] + more)
                     + f" | {time_cell:.2f} |")
    return "\n".join(lines)


def report(text, folder, args, section=""):
    """Print the results; with ``--readme`` they also replace the section between
    :data:`BEGIN` and :data:`END` (with ``section`` after "results") of ``folder/README.md``."""
    print(text)
    if args.readme:
        readme = folder / "README.md"
        content = readme.read_text()
        first, last = BEGIN.format(section), END.format(section)
        head, begin, rest = content.partition(first)
        _, end, tail = rest.partition(last)
        if not begin or not end:
            raise ValueError(f"'{readme}' has no results section ({first} ... {last}).")
        readme.write_text(f"{head}{first}\n{text}\n{last}{tail}")


def setup_note(args, settings):
    """One line: torch, threads and the settings that differ from the registered recipes'."""
    changed = {name: {k: v for k, v in values.items() if get_recipe(name).settings[k] != v}
               for name, values in settings.items()}
    changed = {name: values for name, values in changed.items() if values}
    what = "the registered settings" + (f" except {json.dumps(changed)}" if changed else "")
    return f"torch {torch.__version__}, {args.threads} thread(s), {what}."


# --------------------------------------------------------------------------- drum recipes
def run_drum_recipe(folder, description, separation):
    """The drum recipes' script: every ``drums3`` mixture separated by the recipe
    ``separation`` (``"drums"`` with the kit's hits, ``"drums-generic"`` without) and
    transcribed by the ``"drum-onsets"`` recipe (the same hits or none; the split holds
    drums alone: ``accompaniment=False``, ``nmfsep transcribe --drums-only``); SDR / SIR /
    SAR from ``score.py``, onset F-measure within ±50 ms of ``meta.json``'s events.

    Returns the exit status.
    """
    task = "drums3"
    args = parse_args(description, folder)
    settings = load_overrides(args.config, (separation, "drum-onsets"))
    settings["drum-onsets"]["accompaniment"] = False  # a property of the split, not a choice
    separate, transcribe = get_recipe(separation), get_recipe("drum-onsets")
    use_hits = separate.uses_hits
    seconds, onset_seconds, f_measures, counts = {}, {}, {}, {}
    for mix_dir in mixture_folders(args.data, args.split, task):
        meta = json.loads((mix_dir / "meta.json").read_text())
        mixture, sample_rate = load(mix_dir / "mixture.wav")
        hits = kit_hits(mix_dir, meta, task) if use_hits else None
        start = time.perf_counter()
        stems = separate(mixture, sample_rate, hits=hits, settings=settings[separation])
        seconds[mix_dir.name] = time.perf_counter() - start
        start = time.perf_counter()
        onsets = transcribe(mixture, sample_rate, hits=hits, settings=settings["drum-onsets"])
        onset_seconds[mix_dir.name] = time.perf_counter() - start
        write_stems(stems, args.out / args.split / task / mix_dir.name, sample_rate,
                    overwrite=True)
        reference = reference_onsets(mix_dir, meta)
        scores = {s: onset_f_measure(reference[s], onsets.get(s, []), window=0.05)
                  for s in DRUM_SOURCES}
        f_measures[mix_dir.name] = {s: scores[s]["f_measure"] for s in DRUM_SOURCES}
        counts[mix_dir.name] = (sum(v["n_reference"] for v in scores.values()),
                                sum(v["n_estimate"] for v in scores.values()))
        print(f"{mix_dir.name} ({meta['kit']}): {seconds[mix_dir.name]:.2f} s + "
              f"{onset_seconds[mix_dir.name]:.2f} s", file=sys.stderr)
    records = score_estimates(args.data, args.split, task, args.out)
    mode = "the kit's hits" if use_hits else "no hits (the generic templates)"
    mean_f = {mix: statistics.mean(f.values()) for mix, f in f_measures.items()}
    text = "\n".join([
        f"Recipes `{separation}` (stems) and `drum-onsets` (onsets) on the `{task}` "
        f"{args.split} split ({len(seconds)} mixtures), with {mode}; "
        f"{setup_note(args, settings)} SDR / SIR / SAR in dB from `score.py`; onset F-measure "
        f"within ±50 ms of `meta.json`'s events; time = seconds per mixture (5 s of audio) "
        f"for the separation (STFT, fits, masks, inverse STFT).", "",
        markdown_table(records, seconds, DRUM_SOURCES, {"onset F": mean_f}), "",
        "Onsets per instrument (time = seconds per mixture of the `drum-onsets` recipe):", "",
        _onset_table(f_measures, counts, onset_seconds)])
    report(text, folder, args)
    return 0


def _onset_table(f_measures, counts, seconds):
    head = ["mix"] + [f"{s} F" for s in DRUM_SOURCES] + ["mean F", "onsets (ref / est)",
                                                         "time (s)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    mixes = sorted(f_measures)
    for mix in mixes + ["mean"]:
        chosen = mixes if mix == "mean" else [mix]
        cells = [f"{statistics.mean(f_measures[x][s] for x in chosen):.3f}" for s in DRUM_SOURCES]
        mean = statistics.mean(f_measures[x][s] for x in chosen for s in DRUM_SOURCES)
        n_ref = sum(counts[x][0] for x in chosen)
        n_est = sum(counts[x][1] for x in chosen)
        time_cell = statistics.mean(seconds[x] for x in chosen)
        lines.append(f"| {mix} | " + " | ".join(cells) + f" | **{mean:.3f}** | {n_ref} / {n_est} "
                     f"| {time_cell:.2f} |")
    return "\n".join(lines)
