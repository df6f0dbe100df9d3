"""``apcfair vintage``: (vintage, age) cells and empirical vintage curves.

Cumulative default is shown on two definitions: the cumulative incidence of default with
payoff/closure as a competing exit (Aalen–Johansen) and ``1 - KM`` with payoff censored
(default net of attrition). Exits other than default are read from an exit column
(``--exit-column``, ``--payoff-codes``, ``--closed-codes``) or inferred: an account
without default whose last month is before the data's last month paid off.
"""

from __future__ import annotations

from pathlib import Path

from apcfair.cli._common import (
    add_backend_arguments,
    add_data_arguments,
    add_out_argument,
    load_from_args,
    parser_kwargs,
)

EXAMPLE = "apcfair vintage --data synth/loans.parquet --out vintage/"


def add_parser(sub):
    """Register ``vintage``."""
    p = sub.add_parser("vintage", **parser_kwargs(
        "Aggregate to (vintage, age) cells (defaults, at-risk, attrition = payoffs/closures) and plot "
        "empirical vintage curves: cumulative default as incidence with payoff competing (Aalen–Johansen) "
        "and as 1 - KM with payoff censored, and the cumulative incidence of payoff.", example=EXAMPLE))
    add_data_arguments(p)
    add_backend_arguments(p)
    add_out_argument(p)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Run ``apcfair vintage``."""
    from apcfair import layout
    from apcfair._io import atomic_output_dir
    from apcfair.outputs import write_vintage_outputs

    loaded = load_from_args(args, accounts=True)
    cells = loaded.cells()  # with --backend dask: counted per part and summed
    # the curves need per-account spells only (with --backend dask: the gathered core columns)
    portfolio = loaded.to_portfolio() if hasattr(loaded, "to_portfolio") else loaded
    with atomic_output_dir(args.out) as tmp:
        write_vintage_outputs(portfolio, tmp, cells=cells)
    print(portfolio.lineage.summary())
    print(f"{cells.n_cells:,} cells written to {Path(args.out) / layout.CELLS}")
    args.summary = {"cells": int(cells.n_cells), "accounts": int(portfolio.n_accounts)}
    at = _pooled_at_horizon(portfolio)
    if at:
        print(f"Cumulative default by {at['horizon']} {at['unit']} on book, all vintages pooled: "
              f"{at['cif_default']:.2%} of accounts default before any other exit (incidence, payoff competing); "
              f"{at['km_cum_default']:.2%} as 1 - KM (payoff censored); {at['cif_attrition']:.2%} pay off or "
              "close first")
        args.summary["pooled_at_horizon"] = at
    return 0


def _pooled_at_horizon(portfolio) -> dict | None:
    """Both cumulative-default definitions and the payoff incidence at 36 months (12 quarters),
    all vintages pooled; ``None`` when no account is observed that long."""
    from apcfair.portfolio import aalen_johansen, kaplan_meier

    horizon = 36 if portfolio.freq == "M" else 12
    spells = portfolio.spells()
    aj = aalen_johansen(spells)
    km = kaplan_meier(spells)
    if aj["age"].max() < horizon:
        return None
    a = aj[aj["age"] <= horizon].iloc[-1]
    k = km[km["age"] <= horizon].iloc[-1]
    return {"horizon": horizon, "unit": "months" if portfolio.freq == "M" else "quarters",
            "cif_default": float(a["cif_default"]), "cif_attrition": float(a["cif_attrition"]),
            "km_cum_default": float(k["cum_default"])}
