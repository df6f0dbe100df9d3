"""The ``apcfair`` command line: a thin layer over the public API.

User mistakes print one line ``apcfair: error: ...`` and exit with code 2; output
folders are written to a temporary folder and moved into place only when complete.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXAMPLES = {
    "synth": "apcfair synth --accounts 20000 --seed 1 --out synth/",
    "validate": "apcfair validate --data synth/loans.parquet",
    "vintage": "apcfair vintage --data synth/loans.parquet --out vintage/",
    "apc": "apcfair apc --data synth/loans.parquet --out apc/ --engine laplace --seed 0",
}


class UserError(Exception):
    """A mistake in the command line or the data: printed as one line."""


def _parser_kwargs(name: str, help_text: str) -> dict:
    return {
        "help": help_text,
        "description": help_text,
        "epilog": f"example:\n  {EXAMPLES[name]}" if name in EXAMPLES else None,
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }


def add_data_arguments(p: argparse.ArgumentParser, required: bool = True) -> None:
    """``--data`` plus the options that say how to read it (shared by subcommands)."""
    p.add_argument("--data", required=required, help="loan-level or panel data (.csv or .parquet)")
    p.add_argument("--format", default="auto", choices=["auto", "loans", "panel"],
                   help="input format (default: detect from the columns)")
    p.add_argument("--map", action="append", default=[], metavar="YOURS=OURS",
                   help="rename a column, e.g. --map acct=account_id (repeatable)")
    p.add_argument("--freq", default="M", choices=["M", "Q"], help="monthly (M) or quarterly (Q) periods")
    p.add_argument("--on-invalid", default="raise", choices=["raise", "exclude"],
                   help="stop on invalid rows (default) or exclude them, counted in the lineage")


def load_from_args(args):
    """Read and validate the portfolio named by ``--data``."""
    from apcfair.portfolio import load_portfolio

    mapping = {}
    for item in args.map:
        if "=" not in item:
            raise UserError(f"--map {item!r}: write it as YOUR_COLUMN=CONTRACT_COLUMN")
        k, v = item.split("=", 1)
        mapping[k.strip()] = v.strip()
    return load_portfolio(args.data, format=args.format, columns=mapping, freq=args.freq,
                          on_invalid=args.on_invalid)


# ----------------------------------------------------------------------------- synth
def _add_synth(sub):
    p = sub.add_parser("synth", **_parser_kwargs("synth", "Write a synthetic portfolio with known truth."))
    p.add_argument("--accounts", type=int, default=146_500, help="number of accounts (default 146,500)")
    p.add_argument("--seed", type=int, default=0, help="random seed (deterministic output)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--panel", action="store_true", help="also write the account-month panel (panel.parquet)")
    p.add_argument("--start", default="2005-01", help="first origination month")
    p.add_argument("--end", default="2019-12", help="end of the observation window")
    p.set_defaults(func=_run_synth)


def _run_synth(args) -> int:
    from apcfair._io import atomic_output_dir
    from data_synth import SynthConfig, write_portfolio

    if args.accounts < 1:
        raise UserError("--accounts must be at least 1")
    cfg = SynthConfig(n_accounts=args.accounts, seed=args.seed, start=args.start, end=args.end)
    with atomic_output_dir(args.out) as tmp:
        paths = write_portfolio(tmp, cfg, panel=args.panel)
    for k in paths:
        print(f"wrote {Path(args.out) / Path(str(paths[k])).name}")
    return 0


# ----------------------------------------------------------------------------- validate
def _add_validate(sub):
    p = sub.add_parser("validate", **_parser_kwargs("validate", "Check data against the data contract and print the lineage report."))
    add_data_arguments(p)
    p.set_defaults(func=_run_validate)


def _run_validate(args) -> int:
    import json

    portfolio = load_from_args(args)
    print(portfolio.lineage.summary())
    print(json.dumps(portfolio.describe(), indent=2))
    return 0


# ----------------------------------------------------------------------------- vintage
def _add_vintage(sub):
    p = sub.add_parser("vintage", **_parser_kwargs("vintage", "Aggregate to (vintage, age) cells and plot empirical vintage curves."))
    add_data_arguments(p)
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=_run_vintage)


def write_vintage_outputs(portfolio, folder: Path) -> dict:
    """``cells.csv``, ``lineage.json`` and the two vintage-curve plots into ``folder``."""
    import matplotlib.pyplot as plt

    from apcfair._io import write_json
    from apcfair.plots import plot_cumulative_default_curves, plot_monthly_pd_curves
    from apcfair.portfolio import cumulative_default_curves, monthly_pd_curves

    cells = portfolio.cells()
    cells.to_csv(folder / "cells.csv")
    write_json(folder / "lineage.json", {**cells.lineage.to_dict(), "portfolio": portfolio.describe(),
                                         "cells": cells.n_cells})
    ax = plot_monthly_pd_curves(monthly_pd_curves(cells))
    ax.figure.savefig(folder / "vintage_monthly_pd.png", dpi=110, bbox_inches="tight")
    plt.close(ax.figure)
    ax = plot_cumulative_default_curves(cumulative_default_curves(portfolio))
    ax.figure.savefig(folder / "vintage_cumulative_default.png", dpi=110, bbox_inches="tight")
    plt.close(ax.figure)
    return {"cells": cells}


def _run_vintage(args) -> int:
    from apcfair._io import atomic_output_dir

    portfolio = load_from_args(args)
    with atomic_output_dir(args.out) as tmp:
        out = write_vintage_outputs(portfolio, tmp)
    print(portfolio.lineage.summary())
    print(f"{out['cells'].n_cells:,} cells written to {Path(args.out) / 'cells.csv'}")
    return 0


# ----------------------------------------------------------------------------- apc
def _add_apc(sub):
    p = sub.add_parser("apc", **_parser_kwargs("apc", "Fit the Bayesian age-period-cohort model."))
    add_data_arguments(p)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--engine", default="laplace", choices=["laplace", "nuts", "ml"],
                   help="fast Laplace (default), exact NUTS (PyMC) or classical ML")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--identification", default="no_period_trend",
                   choices=["no_period_trend", "no_vintage_trend", "fixed_period_slope"],
                   help="how the unidentified linear trend is allocated (default: no trend in the environment)")
    p.add_argument("--period-slope", type=float, default=0.0, help="environment slope per period with fixed_period_slope")
    p.add_argument("--likelihood", default="binomial", choices=["binomial", "poisson"])
    p.add_argument("--rw-order", type=int, default=2, choices=[1, 2])
    p.add_argument("--overdispersion", action="store_true", help="add a cell-level random effect")
    p.add_argument("--draws", type=int, default=1000, help="posterior draws (per chain for NUTS)")
    p.add_argument("--chains", type=int, default=4, help="NUTS chains")
    p.set_defaults(func=_run_apc)


def fit_apc_from_args(args, portfolio):
    """Fit the APC model with the CLI's settings."""
    from apcfair.apc import APCModel

    model = APCModel(likelihood=args.likelihood, rw_order=args.rw_order, identification=args.identification,
                     period_slope=args.period_slope, engine=args.engine, overdispersion=args.overdispersion,
                     n_draws=args.draws, nuts_chains=args.chains, random_state=args.seed, progress=True)
    return model.fit(portfolio.cells()).result_


def write_apc_outputs(result, folder: Path) -> None:
    """``apc.json``, ``apc_result.nc``, ``apc_summary.txt`` and three PNG plots."""
    import matplotlib.pyplot as plt

    from apcfair._io import write_json

    write_json(folder / "apc.json", result.to_json_dict())
    result.save(folder / "apc_result.nc")
    (folder / "apc_summary.txt").write_text(result.summary() + "\n")
    axes = result.plot_components()
    axes[0].figure.savefig(folder / "apc_components.png", dpi=110, bbox_inches="tight")
    plt.close(axes[0].figure)
    for name, fn in (("apc_fitted_vintage_curves.png", result.plot_fitted_vintage_curves),
                     ("apc_residuals.png", result.plot_residual_heatmap)):
        ax = fn()
        ax.figure.savefig(folder / name, dpi=110, bbox_inches="tight")
        plt.close(ax.figure)


def _run_apc(args) -> int:
    from apcfair._io import atomic_output_dir

    portfolio = load_from_args(args)
    result = fit_apc_from_args(args, portfolio)
    with atomic_output_dir(args.out) as tmp:
        write_apc_outputs(result, tmp)
    print(result.summary())
    print(f"wrote {Path(args.out) / 'apc.json'}")
    return 0


# ----------------------------------------------------------------------------- main
_OPTIONAL_SUBCOMMANDS = (
    "apcfair.audit.cli",
    "apcfair.unbiased.cli",
    "apcfair.forecast.cli",
    "apcfair.report.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """The full ``apcfair`` parser."""
    import importlib

    from apcfair import __version__

    parser = argparse.ArgumentParser(
        prog="apcfair",
        description="Vintage APC models, unbiased-by-design credit scores, fairness audit and stress tests.",
        epilog="Start here:  apcfair demo --out apcfair-demo",
    )
    parser.add_argument("--version", action="version", version=f"apcfair {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_synth, _add_validate, _add_vintage, _add_apc):
        add(sub)
    for mod in _OPTIONAL_SUBCOMMANDS:
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("apcfair"):
                continue
            raise
        before = set(sub.choices)
        module.add_parser(sub)
        for name in set(sub.choices) - before:
            if sub.choices[name].get_default("func") is None:
                sub.choices[name].set_defaults(func=module.run)
    for name, p in sub.choices.items():
        if name not in ("report", "demo") and any("--out" in a.option_strings for a in p._actions):
            p.add_argument("--report", action="store_true",
                           help="also write OUT/report.html with this command's part of the model report")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``apcfair`` console script."""
    from apcfair.errors import ApcfairError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        code = int(args.func(args) or 0)
        if code == 0 and getattr(args, "report", False):
            from apcfair.report import write_report

            print(f"wrote {write_report(args.out)}")
        return code
    except (UserError, ApcfairError, ValueError, FileNotFoundError, KeyError) as exc:
        msg = str(exc).strip().replace("\n", " ")
        print(f"apcfair: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
