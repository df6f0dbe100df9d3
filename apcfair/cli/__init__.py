"""The ``apcfair`` command line: one module per command (see :mod:`apcfair.cli.main`).

Nothing in the library imports this package; it sits on the top floor.
"""

from apcfair.cli._common import UserError
from apcfair.cli.main import build_parser, main

__all__ = ["UserError", "build_parser", "main"]
