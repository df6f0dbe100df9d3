"""``apcfair apc``: fit the Bayesian age-period-cohort model."""

from __future__ import annotations

from pathlib import Path

from apcfair.cli._common import (
    add_apc_arguments,
    add_data_arguments,
    add_out_argument,
    apc_model_from_args,
    load_from_args,
    parser_kwargs,
)

EXAMPLE = "apcfair apc --data synth/loans.parquet --out apc/ --engine laplace --seed 0"


def add_parser(sub):
    """Register ``apc``."""
    p = sub.add_parser("apc", **parser_kwargs("Fit the Bayesian age-period-cohort model.", example=EXAMPLE))
    add_data_arguments(p)
    add_out_argument(p)
    add_apc_arguments(p)
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Run ``apcfair apc``."""
    from apcfair import layout
    from apcfair._io import atomic_output_dir
    from apcfair.outputs import write_apc_outputs

    portfolio = load_from_args(args)
    result = apc_model_from_args(args, progress=True).fit(portfolio.cells()).result_
    with atomic_output_dir(args.out) as tmp:
        write_apc_outputs(result, tmp)
    print(result.summary())
    print(f"wrote {Path(args.out) / layout.APC_JSON}")
    return 0
