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

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nmfsep.io import load
from nmfsep.recipes import learn_instrument_dictionaries, separate_supervised
from nmfsep.separation import write_stems

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # recipes/_report.py, shared by the recipe scripts
from _report import markdown_table  # noqa: E402

TASK = "piano_bass"
STEMS = ("piano", "bass")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=HERE.parents[2] / "shared" / "bench" / "data")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--out", type=Path, default=None,
                        help="estimates folder (default: a temporary one)")
    parser.add_argument("--config", type=Path, default=HERE / "config.json")
    args = parser.parse_args()
    config = json.loads(args.config.read_text())
    out = args.out or Path(tempfile.mkdtemp(prefix="nmfsep_pb_"))
    task_dir = args.data / args.split / TASK

    start = time.perf_counter()
    train, train_rate = {}, None
    for stem in STEMS:
        train[stem], train_rate = load(task_dir / "train" / f"{stem}.wav")
    dictionaries = learn_instrument_dictionaries(train, train_rate, **config["dictionaries"])
    dictionaries.save(out / "dictionaries.pt", overwrite=True)
    learning = time.perf_counter() - start
    print(f"dictionaries {tuple(dictionaries.W.shape)} in {learning:.1f} s", file=sys.stderr)

    seconds = {}
    for mix_dir in sorted(task_dir.glob("mix*")):
        mixture, sample_rate = load(mix_dir / "mixture.wav")
        start = time.perf_counter()
        stems = separate_supervised(mixture, sample_rate, dictionaries, **config["separation"])
        seconds[mix_dir.name] = time.perf_counter() - start
        write_stems(stems, out / args.split / TASK / mix_dir.name, sample_rate, overwrite=True)
        print(f"{mix_dir.name}: {seconds[mix_dir.name]:.1f} s", file=sys.stderr)
    scores = out / "scores.json"
    subprocess.run([sys.executable, str(args.data.parent / "score.py"), str(out), "--ref",
                    str(args.data), "--splits", args.split, "--tasks", TASK, "--json", str(scores)],
                   check=True, stdout=subprocess.DEVNULL)
    atoms = {s: len(c) for s, c in dictionaries.source_components.items()}
    print(f"### {TASK}, {args.split} split (exemplar atoms {atoms}, learned in {learning:.1f} s)\n")
    print(markdown_table(json.loads(scores.read_text()), seconds, STEMS))


if __name__ == "__main__":
    main()
