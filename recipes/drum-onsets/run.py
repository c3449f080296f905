"""Recipe `drum-onsets` on the benchmark: drum onsets per instrument from NMFD activations,
with the kit's hits.

Runs the drum recipes' script of ``recipes/_common.py`` (as ``recipes/drums/run.py``): the
registered recipe ``drum-onsets`` with the kit's hits and ``accompaniment=False`` (``nmfsep
transcribe --hits HITS --drums-only``), and ``drums`` for the stems::

    python recipes/drum-onsets/run.py [--data ../shared/bench/data] [--out EST] [--readme]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recipes/_common.py
from _common import run_drum_recipe

if __name__ == "__main__":
    raise SystemExit(run_drum_recipe(Path(__file__).resolve().parent, __doc__, "drums"))
