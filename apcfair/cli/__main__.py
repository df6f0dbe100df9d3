"""``python -m apcfair.cli``."""

import sys

from apcfair.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
