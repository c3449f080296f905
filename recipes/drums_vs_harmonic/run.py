"""Recipe 3 on the benchmark: drums versus harmonic accompaniment, with and without hits.

Separates every mixture of the ``drums_vs_harmonic`` task with
:func:`nmfsep.recipes.separate_drums_harmonic` and the settings of ``config.json`` -- with the
kit's isolated hits listed in each mixture's ``meta.json`` and, with ``--no-hits``, without
them -- writes the stems as ``OUT/<split>/drums_vs_harmonic/<mix>/<stem>.wav``, scores them
with the benchmark's ``score.py`` and prints a Markdown table (per mixture and mean SDR /
SIR / SAR, seconds per mixture).

    python recipes/drums_vs_harmonic/run.py                       # with hits
    python recipes/drums_vs_harmonic/run.py --no-hits
    python recipes/drums_vs_harmonic/run.py --data ../shared/bench/data --out /tmp/est
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nmfsep.io import load
from nmfsep.recipes import separate_drums_harmonic
from nmfsep.separation import write_stems

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # recipes/_report.py, shared by the recipe scripts
from _report import markdown_table  # noqa: E402

TASK = "drums_vs_harmonic"
STEMS = ("drums", "harmonic")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=HERE.parents[2] / "shared" / "bench" / "data")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--out", type=Path, default=None,
                        help="estimates folder (default: a temporary one)")
    parser.add_argument("--no-hits", action="store_true", help="separate without the kit's hits")
    parser.add_argument("--config", type=Path, default=HERE / "config.json")
    args = parser.parse_args()
    config = json.loads(args.config.read_text())
    out = args.out or Path(tempfile.mkdtemp(prefix="nmfsep_dvh_"))
    seconds = {}
    for mix_dir in sorted((args.data / args.split / TASK).glob("mix*")):
        meta = json.loads((mix_dir / "meta.json").read_text())
        mixture, sample_rate = load(mix_dir / "mixture.wav")
        hits = None if args.no_hits else [mix_dir / h for h in meta["hits"]]
        start = time.perf_counter()
        stems = separate_drums_harmonic(mixture, sample_rate, hits=hits, **config)
        seconds[mix_dir.name] = time.perf_counter() - start
        write_stems(stems, out / args.split / TASK / mix_dir.name, sample_rate, overwrite=True)
        print(f"{mix_dir.name}: {seconds[mix_dir.name]:.1f} s", file=sys.stderr)
    scores = out / "scores.json"
    subprocess.run([sys.executable, str(args.data.parent / "score.py"), str(out), "--ref",
                    str(args.data), "--splits", args.split, "--tasks", TASK, "--json", str(scores)],
                   check=True, stdout=subprocess.DEVNULL)
    mode = "without hits" if args.no_hits else "with the kit's hits"
    print(f"### {TASK}, {args.split} split, {mode}\n")
    print(markdown_table(json.loads(scores.read_text()), seconds, STEMS))


if __name__ == "__main__":
    main()
