"""``apcfair unbiased``: the unbiased-by-design procedure from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLE = ("apcfair unbiased --data synth/loans.parquet --restricted minority,sex,age "
           "--credit bureau_score,interest_rate,total_deposits --out unbiased/ --horizon 36 --seed 0")


def _cols(text: str) -> list[str]:
    cols = [c.strip() for c in text.split(",") if c.strip()]
    if not cols:
        raise argparse.ArgumentTypeError("give at least one column name")
    return cols


def add_parser(sub) -> None:
    """Register the ``unbiased`` subcommand."""
    from apcfair.cli import add_data_arguments

    text = ("Unbiased by design (Breeden & Leonova 2021): APC offsets -> restricted model -> credit model "
            "with the restricted score as offset -> forecasts with the restricted term zeroed, and the cost.")
    p = sub.add_parser("unbiased", help="the unbiased-by-design procedure and its measured cost",
                       description=text, epilog=f"example:\n  {EXAMPLE}",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_arguments(p)
    p.add_argument("--restricted", required=True, type=_cols, help="comma-separated restricted (protected) inputs")
    p.add_argument("--credit", required=True, type=_cols, help="comma-separated credit inputs")
    p.add_argument("--protected", type=_cols, default=None,
                   help="attributes to measure dependence on (default: the restricted inputs)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--horizon", type=int, default=36, help="forecast horizon in months (default 36)")
    p.add_argument("--seed", type=int, default=0, help="random seed (split, APC draws, trees)")
    p.add_argument("--apc", default=None, help="reuse the APC fit in this folder (apc_result.nc from 'apcfair apc')")
    p.add_argument("--no-gbm", action="store_true", help="skip the boosted-tree variants")
    p.add_argument("--bins", type=int, default=10, help="quantile bins for numeric inputs (0 = linear)")
    p.add_argument("--approval-rate", type=float, default=0.8, help="share approved for the adverse impact ratio")
    p.set_defaults(func=run)


def write_unbiased_outputs(result, folder: Path) -> None:
    """comparison.json, cost_of_fairness.json, forecasts.parquet, coefficient tables and plots."""
    import matplotlib.pyplot as plt

    from apcfair._io import write_json

    write_json(folder / "comparison.json", result.comparison_records())
    write_json(folder / "cost_of_fairness.json", {
        "cost_of_fairness": result.cost_of_fairness, "calibrating_constant": result.calibrating_constant,
        "restricted_centre": result.restricted_centre, "settings": result.settings, "timings": result.timings,
        "lineage": result.lineage, "provenance": result.provenance,
        "apc_identification": result.apc_result.identification["text"]})
    result.forecasts.to_parquet(folder / "forecasts.parquet", index=False)
    # logit scores relative to the APC offset, one column per model (e.g. for apcfair stress --scores)
    result.account_scores.to_parquet(folder / "account_scores.parquet", index=False)
    for name, table in result.coefficient_tables.items():
        table.to_csv(folder / f"coefficients_{name}.csv", index=False)
    result.dependence_table.to_csv(folder / "dependence.csv", index=False)
    (folder / "unbiased_summary.txt").write_text(result.summary() + "\n")
    axes = result.plot_roc()
    axes[0].figure.savefig(folder / "roc.png", dpi=110, bbox_inches="tight")
    plt.close(axes[0].figure)
    for fname, fn in (("dependence.png", result.plot_dependence), ("calibration.png", result.plot_calibration)):
        ax = fn()
        ax.figure.savefig(folder / fname, dpi=110, bbox_inches="tight")
        plt.close(ax.figure)


def run(args) -> int:
    """Run ``apcfair unbiased``."""
    from apcfair._io import atomic_output_dir
    from apcfair.apc import APCResult
    from apcfair.cli import UserError, load_from_args
    from apcfair.unbiased import UnbiasedByDesign

    portfolio = load_from_args(args)
    apc = None
    if args.apc:
        path = Path(args.apc)
        path = path / "apc_result.nc" if path.is_dir() else path
        if not path.exists():
            raise UserError(f"--apc {args.apc}: no apc_result.nc there; run 'apcfair apc --out DIR' first")
        apc = APCResult.load(path)
    ubd = UnbiasedByDesign(restricted=args.restricted, credit=args.credit, protected=args.protected,
                           horizon=args.horizon, bins=args.bins or None, gbm=not args.no_gbm,
                           approval_rate=args.approval_rate, random_state=args.seed, progress=True)
    result = ubd.fit(portfolio, apc_result=apc).result_
    with atomic_output_dir(args.out) as tmp:
        write_unbiased_outputs(result, tmp)
        if apc is None:
            from apcfair.cli import write_apc_outputs

            write_apc_outputs(result.apc_result, tmp)
    print(result.summary())
    print(f"wrote {Path(args.out) / 'comparison.json'}")
    return 0
