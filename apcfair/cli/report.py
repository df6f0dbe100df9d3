"""``apcfair report``: assemble ``report.html`` from the results in an output folder."""

from __future__ import annotations

from pathlib import Path

from apcfair.cli._common import check_no_mix, input_folder, parser_kwargs

EXAMPLE = "apcfair report --folder unbiased/"


def add_parser(sub):
    """Register ``report``."""
    p = sub.add_parser("report", **parser_kwargs(
        "assemble report.html from the results in an output folder", example=EXAMPLE,
        description="Build a self-contained HTML report from the JSON results and plots that apcfair "
                    "subcommands wrote into a folder."))
    p.add_argument("--folder", "--in", "--out", dest="folder", required=True, type=input_folder, metavar="DIR",
                   help="folder with apcfair results, read; report.html is written there (--out is the old name)")
    p.add_argument("--title", default="apcfair model report", help="title of the report")
    p.add_argument("--force", action="store_true",
                   help="build the report even if the folder holds results of different data (data_fingerprint.json)")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Run ``apcfair report``."""
    from apcfair.report import write_report

    folder = Path(args.folder)
    check_no_mix(folder, force=args.force, option="--folder")
    path = write_report(folder, title=args.title)
    print(f"wrote {path}")
    args.summary = {"report": str(path)}
    return 0
