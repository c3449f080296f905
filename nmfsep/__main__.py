"""``python -m nmfsep``: the command line (see :mod:`nmfsep.apps.cli`)."""

import sys

from .apps.cli import main

if __name__ == "__main__":
    sys.exit(main())
