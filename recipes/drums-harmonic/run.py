"""Recipe `drums-harmonic` on the benchmark: drums versus harmonic accompaniment, with and
without hits.

Separates every mixture of the ``drums_vs_harmonic`` task with the registered recipe
``drums-harmonic`` (:func:`nmfsep.recipes.separate_drums_harmonic` with its settings, what
``nmfsep separate --recipe drums-harmonic`` runs) -- with the kit's isolated hits listed in each
mixture's ``meta.json`` and, with ``--no-hits``, without them -- writes the stems as
``OUT/<split>/drums_vs_harmonic/<mix>/<stem>.wav``, scores them with the benchmark's
``score.py`` and prints a Markdown table (per mixture and mean SDR / SIR / SAR, seconds per
mixture)::

    python recipes/drums-harmonic/run.py                       # with hits
    python recipes/drums-harmonic/run.py --no-hits
    python recipes/drums-harmonic/run.py --data ../shared/bench/data --out /tmp/est
"""

import json
import sys
from pathlib import Path

from nmfsep.recipes import get_recipe

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # recipes/_common.py
from _common import (  # noqa: E402
    kit_hits,
    load_overrides,
    markdown_table,
    mixture_folders,
    parse_args,
    report,
    score_estimates,
    separate_mixtures,
    setup_note,
)

NAME, TASK, STEMS = "drums-harmonic", "drums_vs_harmonic", ("drums", "harmonic")


def main():
    args = parse_args(__doc__, HERE, [(
        "--no-hits", dict(action="store_true", help="separate without the kit's hits"))])
    settings = load_overrides(args.config, [NAME])
    recipe = get_recipe(NAME)

    def options_of(mix_dir):
        meta = json.loads((mix_dir / "meta.json").read_text())
        hits = None if args.no_hits else kit_hits(mix_dir, meta, TASK)
        return {"hits": hits, "settings": settings[NAME]}

    seconds = separate_mixtures(mixture_folders(args.data, args.split, TASK),
                                args.out / args.split / TASK, recipe, options_of=options_of)
    records = score_estimates(args.data, args.split, TASK, args.out)
    mode = "without hits" if args.no_hits else "with the kit's hits"
    report(f"{TASK}, {args.split} split, {mode}; {setup_note(args, settings)}\n\n"
           + markdown_table(records, seconds, STEMS), HERE, args,
           section=" without hits" if args.no_hits else " with hits")


if __name__ == "__main__":
    main()
