"""``apcfair vintage``: (vintage, age) cells and empirical vintage curves."""

from __future__ import annotations

from pathlib import Path

from apcfair.cli._common import add_data_arguments, add_out_argument, load_from_args, parser_kwargs

EXAMPLE = "apcfair vintage --data synth/loans.parquet --out vintage/"


def add_parser(sub):
    """Register ``vintage``."""
    p = sub.add_parser("vintage", **parser_kwargs(
        "Aggregate to (vintage, age) cells and plot empirical vintage curves.", example=EXAMPLE))
    add_data_arguments(p)
    add_out_argument(p)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Run ``apcfair vintage``."""
    from apcfair import layout
    from apcfair._io import atomic_output_dir
    from apcfair.outputs import write_vintage_outputs

    portfolio = load_from_args(args)
    cells = portfolio.cells()
    with atomic_output_dir(args.out) as tmp:
        write_vintage_outputs(portfolio, tmp, cells=cells)
    print(portfolio.lineage.summary())
    print(f"{cells.n_cells:,} cells written to {Path(args.out) / layout.CELLS}")
    args.summary = {"cells": int(cells.n_cells), "accounts": int(portfolio.n_accounts)}
    return 0
