"""``apcfair validate``: check data against the data contract and print the lineage."""

from __future__ import annotations

from apcfair.cli._common import (
    add_backend_arguments,
    add_data_arguments,
    load_from_args,
    parser_kwargs,
)

EXAMPLE = ("apcfair validate --data synth/loans.parquet\n"
           "  apcfair validate --data synth/loans/ --backend dask --workers 2   # a partitioned data set")


def add_parser(sub):
    """Register ``validate``."""
    p = sub.add_parser("validate", **parser_kwargs(
        "Check data against the data contract and print the lineage report.", example=EXAMPLE))
    add_data_arguments(p)
    add_backend_arguments(p)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Run ``apcfair validate``."""
    import json

    from apcfair._io import to_jsonable

    portfolio = load_from_args(args)
    described = to_jsonable(portfolio.describe())
    print(portfolio.lineage.summary())
    print(json.dumps(described, indent=2))
    args.summary = described
    return 0
