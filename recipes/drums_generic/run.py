"""Recipe 2 on the benchmark: kick / snare / hi-hat with the generic templates shipped with
nmfsep (no hits of the kit).

Runs ``recipes/drums_with_hits/run.py`` (same options, same tables) with this folder's
``config.json`` and ``README.md``::

    python recipes/drums_generic/run.py [--data ../shared/bench/data] [--out EST] [--readme]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recipes/_common.py
from _common import run_drums_recipe

if __name__ == "__main__":
    raise SystemExit(run_drums_recipe(Path(__file__).resolve().parent))
