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

import json
import sys
from functools import partial
from pathlib import Path

from nmfsep.recipes import separate_drums_harmonic

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # recipes/_common.py and _report.py, shared by the scripts
from _common import parse_benchmark_args, score_estimates, separate_mixtures  # noqa: E402
from _report import markdown_table  # noqa: E402

TASK = "drums_vs_harmonic"
STEMS = ("drums", "harmonic")


def main():
    args, config, out = parse_benchmark_args(__doc__, HERE, "nmfsep_dvh_", [(
        "--no-hits", dict(action="store_true", help="separate without the kit's hits"))])

    def hits_option(mix_dir):
        """``hits``: the kit's isolated hits listed in the mixture's meta.json, or None."""
        meta = json.loads((mix_dir / "meta.json").read_text())
        return {"hits": None if args.no_hits else [mix_dir / h for h in meta["hits"]]}

    seconds = separate_mixtures(args.data / args.split / TASK, out / args.split / TASK,
                                partial(separate_drums_harmonic, **config), options_of=hits_option)
    records = score_estimates(args.data, args.split, TASK, out)
    mode = "without hits" if args.no_hits else "with the kit's hits"
    print(f"### {TASK}, {args.split} split, {mode}\n")
    print(markdown_table(records, seconds, STEMS))


if __name__ == "__main__":
    main()
