"""Separate a benchmark split with the recipes and write estimates for ``score.py``.

Runs, through :func:`nmfsep.recipes.run_recipe` (what ``nmfsep separate --recipe NAME``
does: the registered recipe with its settings, ``nmfsep recipes --settings``; ``--config
FILE`` changes some, as for the scripts of ``recipes/``), on any folder laid out like
``../shared/bench/data``
(``ROOT/<split>/<task>/<mixNNN>/{mixture.wav, meta.json}``):

=====================  ==============================  ====================================
task                   recipe                          side material passed
=====================  ==============================  ====================================
``drums3``             1 ``drums``                     the kit's hits (``meta.json``)
                       2 ``drums-generic`` (--no-hits) none: generic templates
``drums_vs_harmonic``  3 ``drums-harmonic``            the kit's hits (none with --no-hits)
``piano_bass``         4 ``piano-bass``                dictionaries learned from
                                                       ``piano_bass/train/<stem>.wav``
=====================  ==============================  ====================================

Estimates go to ``OUT/<split>/<task>/<mixNNN>/<stem>.wav`` and the seconds per mixture to
``OUT/<split>/<task>/timing.json``; score them with
``python ../shared/bench/score.py OUT --tasks ...``. Recipes that are not registered are
skipped with a note. Hits are passed as ``{stem: [files]}`` from the kit's ``hits.json``
(``<task>_stem``) when there is one, else as the list of files in ``meta.json``. The
piano / bass dictionaries are learned once per split as ``recipes/piano-bass/run.py`` learns
them (:func:`nmfsep.recipes.learn_instrument_dictionaries`, its settings), saved to
``OUT/<split>/piano_bass/dictionaries.pt`` and passed as ``templates`` (the learning time is
printed apart). The side material is read by ``recipes/_common.py``, the recipe scripts'
runner.

Usage::

    .venv/bin/python benchmarks/separation.py --data ../shared/bench/data --split dev --out EST
    .venv/bin/python benchmarks/separation.py --data ../shared/bench/data --split dev \\
        --out EST_generic --no-hits --tasks drums3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import traceback
from pathlib import Path

import torch

from nmfsep.recipes import RECIPES, run_recipe

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes"))  # the scripts' runner
from _common import kit_hits, learn_dictionaries, load_overrides

TASKS = ("drums3", "drums_vs_harmonic", "piano_bass")


def recipe_for(task: str, no_hits: bool) -> str:
    if task == "drums3":
        return "drums-generic" if no_hits else "drums"
    return {"drums_vs_harmonic": "drums-harmonic", "piano_bass": "piano-bass"}[task]


def save_dictionaries(task_dir: Path, out_file: Path) -> Path:
    """Dictionaries of every ``train/<stem>.wav`` of the task, saved to ``out_file``."""
    dictionaries, seconds = learn_dictionaries(task_dir)
    dictionaries.save(out_file, overwrite=True)
    print(f"{task_dir.name}: dictionaries of {list(dictionaries.sources)} learned in "
          f"{seconds:.2f} s -> {out_file}")
    return out_file


def side_material(task: str, mix_dir: Path, meta: dict, no_hits: bool):
    """The ``hits`` argument of the task's recipe (None when it gets none)."""
    if task == "piano_bass" or no_hits:
        return None
    return kit_hits(mix_dir, meta, task)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="benchmark data folder")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--out", type=Path, required=True, help="estimates folder")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--no-hits", action="store_true",
                        help="no kit hits: recipe 2 for drums3, recipe 3 without hits")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--config", type=Path, default=None,
                        help="JSON {recipe: {setting: value}}: settings to change")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    names = [recipe_for(task, args.no_hits) for task in args.tasks]
    settings = load_overrides(args.config, [n for n in names if n in RECIPES])  # before any work

    failures = 0
    for task in args.tasks:
        name = recipe_for(task, args.no_hits)
        task_dir = args.data / args.split / task
        mixes = sorted(p for p in task_dir.glob("mix*") if p.is_dir()) if task_dir.is_dir() else []
        if not mixes:
            print(f"{task}: no mixtures under {task_dir}, skipped")
            continue
        if name not in RECIPES:
            print(f"{task}: recipe {name!r} is not registered (known: {sorted(RECIPES)}), skipped")
            continue
        seconds = {}
        templates = None
        if task == "piano_bass":
            (args.out / args.split / task).mkdir(parents=True, exist_ok=True)
            templates = save_dictionaries(task_dir, args.out / args.split / task / "dictionaries.pt")
        for mix_dir in mixes:
            meta = json.loads((mix_dir / "meta.json").read_text())
            hits = side_material(task, mix_dir, meta, args.no_hits)
            out_dir = args.out / args.split / task / mix_dir.name
            start = time.perf_counter()
            try:
                run_recipe(name, mix_dir / "mixture.wav", out_dir, hits=hits, templates=templates,
                           overwrite=True, device=args.device, verbose=False,
                           settings=settings[name])
            except Exception:  # one failing mixture must not hide the others' results
                failures += 1
                print(f"{task}/{mix_dir.name}: {name} failed:\n{traceback.format_exc()}",
                      file=sys.stderr)
                continue
            seconds[mix_dir.name] = time.perf_counter() - start
            n_side = sum(len(v) for v in hits.values()) if isinstance(hits, dict) else len(hits or ())
            side = "" if hits is None else f", {n_side} side files"
            print(f"{task}/{mix_dir.name}: {name}{side}: {seconds[mix_dir.name]:.2f} s", flush=True)
        if seconds:
            (args.out / args.split / task).mkdir(parents=True, exist_ok=True)
            (args.out / args.split / task / "timing.json").write_text(json.dumps(
                dict(recipe=name, no_hits=args.no_hits, threads=torch.get_num_threads(),
                     seconds=seconds), indent=1))
            values = list(seconds.values())
            print(f"{task}: {name}: {len(values)} mixtures, {statistics.mean(values):.2f} s per "
                  f"mixture (median {statistics.median(values):.2f}, max {max(values):.2f})")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
