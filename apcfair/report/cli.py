"""``apcfair demo`` and ``apcfair report``."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    """Register ``demo`` and ``report``."""
    p = sub.add_parser(
        "demo", help="run the whole workflow on the built-in synthetic portfolio",
        description="synth -> validation and lineage -> APC -> unbiased-by-design comparison -> fairness audit "
                    "-> stress scenarios, written to DIR/report.html (self-contained) and DIR/results.json.",
        epilog="example:\n  apcfair demo --out apcfair-demo --accounts 146500 --seed 0",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="apcfair-demo", help="output folder (default: apcfair-demo)")
    p.add_argument("--accounts", type=int, default=146_500, help="accounts in the synthetic portfolio (default 146,500)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.set_defaults(func=run_demo_cli)
    r = sub.add_parser(
        "report", help="assemble report.html from the results in an output folder",
        description="Build a self-contained HTML report from the JSON results and plots that apcfair "
                    "subcommands wrote into a folder.",
        epilog="example:\n  apcfair report --out unbiased/", formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--out", required=True, help="folder with apcfair results")
    r.add_argument("--title", default="apcfair model report")
    r.set_defaults(func=run_report_cli)


def run_demo_cli(args) -> int:
    """Run ``apcfair demo``."""
    from apcfair.cli import UserError
    from apcfair.report.demo import run_demo

    if args.accounts < 2000:
        raise UserError("--accounts must be at least 2,000 for a meaningful demo")
    results = run_demo(args.out, accounts=args.accounts, seed=args.seed)
    out = Path(args.out)
    cost = results["cost_of_fairness"]["out"]
    print(f"Portfolio: {results['portfolio']['accounts']:,} accounts, {results['portfolio']['defaults']:,} defaults")
    for row in results["comparison"]:
        if row["sample"] == "out":
            print(f"  {row['model']:36s} out-of-sample AUC {row['auc']:.3f}  Gini {row['gini']:.3f}")
    print(f"Cost of zeroing the restricted term (out of sample): {cost['difference']:+.4f} AUC "
          f"(95% CI {cost['lower']:+.4f} to {cost['upper']:+.4f})")
    print(f"Timings (s): {results['timings_seconds']}")
    print(f"Open {out / 'report.html'}")
    return 0


def run_report_cli(args) -> int:
    """Run ``apcfair report``."""
    from apcfair.cli import UserError
    from apcfair.report import write_report

    folder = Path(args.out)
    if not folder.is_dir():
        raise UserError(f"--out {args.out}: no such folder")
    print(f"wrote {write_report(folder, title=args.title)}")
    return 0
