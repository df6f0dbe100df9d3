"""The ``apcfair`` command line: a thin layer over the public API.

Every failure prints one line ``apcfair: error: ...`` (naming the option, column or file
and the fix) and exits with a documented code (:data:`apcfair.cli._common.EXIT_CODES`);
output folders are written to a temporary folder and moved into place only when
complete. Every command is one module of this package with ``add_parser(subparsers)`` and
``run(args) -> int``, listed in :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import sys

from apcfair.cli import (
    apc,
    audit,
    demo,
    experiment,
    report,
    score,
    stress,
    synth,
    unbiased,
    validate,
    vintage,
)
from apcfair.cli._common import (
    EXIT_CODES,
    EXIT_USAGE,
    HelpFormatter,
    Parser,
    global_options,
    run_command,
)

#: The commands, in the order ``apcfair --help`` lists them.
COMMANDS = (synth, validate, vintage, apc, audit, unbiased, score, stress, demo, report, experiment)

EPILOG = "Start here:  apcfair demo --out apcfair-demo\n\nexit codes:\n" + "\n".join(
    f"  {code:>3}  {meaning}" for code, meaning in EXIT_CODES.items())


class _VersionAction(argparse.Action):
    """``--version``: reads the installed version only when asked (importlib.metadata is
    not imported for every ``apcfair`` call)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help="show program's version number and exit"):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from apcfair import __version__

        parser.exit(message=f"apcfair {__version__}\n")


def build_parser() -> Parser:
    """The full ``apcfair`` parser."""
    parser = Parser(
        prog="apcfair",
        description="Vintage APC models, unbiased-by-design credit scores, fairness audit and stress tests.",
        epilog=EPILOG, formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``apcfair`` console script; returns the exit code.

    Parse errors (unknown option, value out of range) exit through ``SystemExit(2)`` with
    one line; everything after parsing returns its code (see ``apcfair --help``).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    return run_command(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
