"""``python -m apcfair``: the same command line as the ``apcfair`` script."""

import sys

from apcfair.cli import main

if __name__ == "__main__":
    sys.exit(main())
