"""Recipe 5 on the benchmark: drum onsets per instrument from the NMFD activations of
recipe 1.

Runs ``recipes/drums_with_hits/run.py`` (same options, same tables) with this folder's
``config.json`` and ``README.md``::

    python recipes/drum_onsets/run.py [--data ../shared/bench/data] [--out EST] [--readme]
"""

import importlib.util
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("drums_run", HERE.parent / "drums_with_hits" / "run.py")
_runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_runner)

if __name__ == "__main__":
    raise SystemExit(_runner.main(HERE))
