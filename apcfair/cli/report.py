"""``apcfair report``: assemble ``report.html`` from the results in an output folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from apcfair.cli._common import UserError

EXAMPLE = "apcfair report --out unbiased/"


def add_parser(sub):
    """Register ``report``."""
    p = sub.add_parser(
        "report", help="assemble report.html from the results in an output folder",
        description="Build a self-contained HTML report from the JSON results and plots that apcfair "
                    "subcommands wrote into a folder.",
        epilog=f"example:\n  {EXAMPLE}", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="folder with apcfair results")
    p.add_argument("--title", default="apcfair model report")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Run ``apcfair report``."""
    from apcfair.report import write_report

    folder = Path(args.out)
    if not folder.is_dir():
        raise UserError(f"--out {args.out}: no such folder")
    print(f"wrote {write_report(folder, title=args.title)}")
    return 0
