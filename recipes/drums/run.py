"""Recipe `drums` on the benchmark: kick / snare / hi-hat with NMFD templates from the kit's hits.

Separates every ``drums3`` mixture with the registered recipe ``drums``
(:func:`nmfsep.recipes.separate_drums` with ``get_recipe("drums").settings``, what ``nmfsep
separate --recipe drums`` runs) and the kit's hits listed in ``meta.json``, transcribes it with
the ``drum-onsets`` recipe (``nmfsep transcribe --drums-only``), writes the stems as
``OUT/<split>/drums3/<mix>/<stem>.wav``, scores them with the benchmark's ``score.py`` and the
onsets against ``meta.json``'s ``events``, and prints Markdown tables (with ``--readme``: into
this folder's README.md)::

    python recipes/drums/run.py [--data ../shared/bench/data] [--out EST] [--readme]
    python recipes/drums/run.py --config changed.json   # {"drums": {"n_iter": 20}}
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recipes/_common.py
from _common import run_drum_recipe

if __name__ == "__main__":
    raise SystemExit(run_drum_recipe(Path(__file__).resolve().parent, __doc__, "drums"))
