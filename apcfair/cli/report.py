"""``apcfair report``: assemble ``report.html`` from the results in an output folder."""

from __future__ import annotations

from pathlib import Path

from apcfair.cli._common import UserError, parser_kwargs

EXAMPLE = "apcfair report --out unbiased/"


def add_parser(sub):
    """Register ``report``."""
    p = sub.add_parser("report", **parser_kwargs(
        "assemble report.html from the results in an output folder", example=EXAMPLE,
        description="Build a self-contained HTML report from the JSON results and plots that apcfair "
                    "subcommands wrote into a folder."))
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
