"""The ``apcfair`` command line: a thin layer over the public API.

User mistakes print one line ``apcfair: error: ...`` and exit with code 2; output
folders are written to a temporary folder and moved into place only when complete.
Every command is one module of this package with ``add_parser(subparsers)`` and
``run(args) -> int``, listed in :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import sys

from apcfair.cli import apc, audit, demo, experiment, report, stress, synth, unbiased, validate, vintage
from apcfair.cli._common import run_command

#: The commands, in the order ``apcfair --help`` lists them.
COMMANDS = (synth, validate, vintage, apc, audit, unbiased, stress, demo, report, experiment)


def build_parser() -> argparse.ArgumentParser:
    """The full ``apcfair`` parser."""
    from apcfair import __version__

    parser = argparse.ArgumentParser(
        prog="apcfair",
        description="Vintage APC models, unbiased-by-design credit scores, fairness audit and stress tests.",
        epilog="Start here:  apcfair demo --out apcfair-demo",
    )
    parser.add_argument("--version", action="version", version=f"apcfair {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``apcfair`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    return run_command(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
