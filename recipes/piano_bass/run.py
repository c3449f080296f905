"""Recipe 4 on the benchmark: piano versus bass with dictionaries learned from ``train/``.

Learns one exemplar dictionary per instrument from the isolated notes in
``piano_bass/train/<instrument>.wav`` (:func:`nmfsep.recipes.learn_instrument_dictionaries`),
saves it as ``OUT/dictionaries.pt``, separates every mixture of the ``piano_bass`` task
(:func:`nmfsep.recipes.separate_supervised`) with the settings of ``config.json``, writes
``OUT/<split>/piano_bass/<mix>/<stem>.wav``, scores them with the benchmark's ``score.py``
and prints a Markdown table (per mixture and mean SDR / SIR / SAR, seconds per mixture).

    python recipes/piano_bass/run.py
    python recipes/piano_bass/run.py --data ../shared/bench/data --out /tmp/est
"""

import sys
import time
from pathlib import Path

from nmfsep.io import load
from nmfsep.recipes import learn_instrument_dictionaries, separate_supervised

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # recipes/_common.py and _report.py, shared by the scripts
from _common import parse_benchmark_args, score_estimates, separate_mixtures  # noqa: E402
from _report import markdown_table  # noqa: E402

TASK = "piano_bass"
STEMS = ("piano", "bass")


def main():
    args, config, out = parse_benchmark_args(__doc__, HERE, "nmfsep_pb_")
    task_dir = args.data / args.split / TASK

    start = time.perf_counter()
    train, train_rate = {}, None
    for stem in STEMS:
        train[stem], train_rate = load(task_dir / "train" / f"{stem}.wav")
    dictionaries = learn_instrument_dictionaries(train, train_rate, **config["dictionaries"])
    dictionaries.save(out / "dictionaries.pt", overwrite=True)
    learning = time.perf_counter() - start
    print(f"dictionaries {tuple(dictionaries.W.shape)} in {learning:.1f} s", file=sys.stderr)

    seconds = separate_mixtures(
        task_dir, out / args.split / TASK,
        lambda mixture, rate: separate_supervised(mixture, rate, dictionaries,
                                                  **config["separation"]))
    records = score_estimates(args.data, args.split, TASK, out)
    atoms = {s: len(c) for s, c in dictionaries.source_components.items()}
    print(f"### {TASK}, {args.split} split (exemplar atoms {atoms}, learned in {learning:.1f} s)\n")
    print(markdown_table(records, seconds, STEMS))


if __name__ == "__main__":
    main()
