"""Recipe `drums-generic` on the benchmark: kick / snare / hi-hat with the generic templates
shipped with nmfsep (no hits of the kit).

Runs the drum recipes' script of ``recipes/_common.py`` (as ``recipes/drums/run.py``) with the
registered recipe ``drums-generic`` for the stems and ``drum-onsets`` without hits for the
onsets (what ``nmfsep separate --recipe drums-generic`` and ``nmfsep transcribe --drums-only``
run)::

    python recipes/drums-generic/run.py [--data ../shared/bench/data] [--out EST] [--readme]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recipes/_common.py
from _common import run_drum_recipe

if __name__ == "__main__":
    raise SystemExit(run_drum_recipe(Path(__file__).resolve().parent, __doc__, "drums-generic"))
