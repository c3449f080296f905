"""Recipe `piano-bass` on the benchmark: piano versus bass with dictionaries learned from
``train/``.

Learns one exemplar dictionary per instrument from the isolated notes in
``piano_bass/train/<instrument>.wav`` (:func:`nmfsep.recipes.learn_instrument_dictionaries`,
as ``nmfsep learn-templates --recipe piano-bass``), saves it as ``OUT/dictionaries.pt``,
separates every mixture of the ``piano_bass`` task with the registered recipe ``piano-bass``
(:func:`nmfsep.recipes.separate_supervised` with its settings, what ``nmfsep separate --recipe
piano-bass --templates OUT/dictionaries.pt`` runs), writes
``OUT/<split>/piano_bass/<mix>/<stem>.wav``, scores them with the benchmark's ``score.py`` and
prints a Markdown table (per mixture and mean SDR / SIR / SAR, seconds per mixture)::

    python recipes/piano-bass/run.py
    python recipes/piano-bass/run.py --data ../shared/bench/data --out /tmp/est
"""

import sys
from pathlib import Path

from nmfsep.recipes import get_recipe

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # recipes/_common.py
from _common import (  # noqa: E402
    learn_dictionaries,
    load_overrides,
    markdown_table,
    mixture_folders,
    parse_args,
    report,
    score_estimates,
    separate_mixtures,
    setup_note,
)

NAME, TASK, STEMS = "piano-bass", "piano_bass", ("piano", "bass")


def main():
    args = parse_args(__doc__, HERE)
    settings = load_overrides(args.config, [NAME])
    task_dir = args.data / args.split / TASK
    dictionaries, learning = learn_dictionaries(task_dir)
    dictionaries.save(args.out / "dictionaries.pt", overwrite=True)
    print(f"dictionaries {tuple(dictionaries.W.shape)} in {learning:.1f} s", file=sys.stderr)
    recipe = get_recipe(NAME)
    seconds = separate_mixtures(
        mixture_folders(args.data, args.split, TASK), args.out / args.split / TASK,
        lambda mixture, rate: recipe(mixture, rate, templates=dictionaries,
                                     settings=settings[NAME]))
    records = score_estimates(args.data, args.split, TASK, args.out)
    atoms = {s: len(c) for s, c in dictionaries.source_components.items()}
    report(f"### {TASK}, {args.split} split (exemplar atoms {atoms}, learned in "
           f"{learning:.1f} s)\n\n{setup_note(args, settings)}\n\n"
           + markdown_table(records, seconds, STEMS), HERE, args)


if __name__ == "__main__":
    main()
