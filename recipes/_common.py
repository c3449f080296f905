"""Set-up shared by the benchmark recipe scripts: their options, the loop over the mixtures
and the scoring with the benchmark's ``score.py``.

The scripts import it (and ``_report.py``) after putting ``recipes/`` on ``sys.path``.
"""

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nmfsep.io import load
from nmfsep.separation import write_stems

RECIPES = Path(__file__).resolve().parent
#: The benchmark data of this checkout's workspace, ``../shared/bench/data``.
DEFAULT_DATA = RECIPES.parents[1] / "shared" / "bench" / "data"


def parse_benchmark_args(description, folder, temporary_prefix, own_options=()):
    """Parse a recipe script's command line: ``--data``, ``--split``, ``--out``, the
    script's own options, then ``--config``.

    Parameters
    ----------
    description : str
        What ``--help`` shows: the script's docstring.
    folder : Path
        The recipe's folder; ``--config`` defaults to its ``config.json``.
    temporary_prefix : str
        Name prefix of the temporary estimates folder made when ``--out`` is not given.
    own_options : sequence of (str, dict)
        The script's own options as ``(flag, keyword arguments of add_argument)``.

    Returns
    -------
    args : argparse.Namespace
    config : dict
        The ``--config`` file, parsed.
    out : Path
        ``--out``, or a new temporary folder.
    """
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split", default="dev")
    parser.add_argument("--out", type=Path, default=None,
                        help="estimates folder (default: a temporary one)")
    for flag, options in own_options:
        parser.add_argument(flag, **options)
    parser.add_argument("--config", type=Path, default=folder / "config.json")
    args = parser.parse_args()
    config = json.loads(args.config.read_text())
    out = args.out or Path(tempfile.mkdtemp(prefix=temporary_prefix))
    return args, config, out


def separate_mixtures(task_dir, out_dir, separate, options_of=None):
    """Separate the ``mixture.wav`` of every ``mix*`` folder of ``task_dir`` and write its
    stems to ``out_dir/<mix>/``.

    Parameters
    ----------
    task_dir, out_dir : Path
        The task's folder in the benchmark data, and where its estimates go.
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
    for mix_dir in sorted(task_dir.glob("mix*")):
        options = options_of(mix_dir) if options_of is not None else {}
        mixture, sample_rate = load(mix_dir / "mixture.wav")
        start = time.perf_counter()
        stems = separate(mixture, sample_rate, **options)
        seconds[mix_dir.name] = time.perf_counter() - start
        write_stems(stems, out_dir / mix_dir.name, sample_rate, overwrite=True)
        print(f"{mix_dir.name}: {seconds[mix_dir.name]:.1f} s", file=sys.stderr)
    return seconds


def score_estimates(data, split, task, out):
    """Score the estimates under ``out`` with the benchmark's ``score.py`` (next to
    ``data``); returns its records, also kept in ``out/scores.json``."""
    scores = out / "scores.json"
    subprocess.run([sys.executable, str(data.parent / "score.py"), str(out), "--ref", str(data),
                    "--splits", split, "--tasks", task, "--json", str(scores)],
                   check=True, stdout=subprocess.DEVNULL)
    return json.loads(scores.read_text())


def run_drums_recipe(folder):
    """Run ``recipes/drums_with_hits/run.py`` with ``folder``'s ``config.json`` and
    ``README.md`` (the drum recipes share that script); returns its exit status."""
    spec = importlib.util.spec_from_file_location("drums_run",
                                                  RECIPES / "drums_with_hits" / "run.py")
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    return runner.main(folder)
