"""``apcfair apc``: fit the Bayesian age-period-cohort model to a portfolio or a cell table."""

from __future__ import annotations

from pathlib import Path

from apcfair.cli import _common as opt
from apcfair.cli._common import (
    UserError,
    add_apc_arguments,
    add_backend_arguments,
    add_data_arguments,
    add_out_argument,
    apc_model_from_args,
    load_from_args,
    parser_kwargs,
)

EXAMPLE = ("apcfair apc --data synth/loans.parquet --out apc/ --engine laplace --seed 0\n"
           "  apcfair apc --cells lung.csv --age age_group --period period_group --events cases "
           "--exposure person_years --engine ml --out apc/")


def add_parser(sub):
    """Register ``apc``."""
    p = sub.add_parser("apc", **parser_kwargs("Fit the Bayesian age-period-cohort model.", example=EXAMPLE))
    add_data_arguments(p, required=False)
    add_backend_arguments(p)
    cells = p.add_argument_group("cell table (instead of --data): one row per age group x period group")
    cells.add_argument("--cells", help="events/exposure table (.csv or .parquet); labels are the left ends of "
                                       "the intervals in the table's own units")
    cells.add_argument("--age", default="age", help="age column (default: age)")
    cells.add_argument("--period", default="period", help="period column (default: period)")
    cells.add_argument("--cohort", default=None, help="cohort column (used when there is no period column)")
    cells.add_argument("--events", default="events", help="events column (default: events)")
    cells.add_argument("--exposure", default="exposure",
                       help="exposure column (default: exposure; absent: exposure 1, a response-only table)")
    cells.add_argument("--age-width", type=opt.positive_int, default=None,
                       help="age interval width (default: detected); a whole multiple M of the period width is "
                            "allowed (5-year ages with 1-year periods: M = 5, bamp's periods_per_agegroup; "
                            "cohorts step by one period, M * (I - 1) + J of them)")
    cells.add_argument("--period-width", type=opt.positive_int, default=None, help="period interval width (default: detected)")
    add_out_argument(p)
    add_apc_arguments(p)
    p.add_argument("--seed", type=opt.seed, default=0, help="random seed")
    p.set_defaults(func=run)
    return p


def load_cells_from_args(args):
    """The :class:`~apcfair.portfolio.CellTable` named by ``--cells``."""
    from apcfair.portfolio import read_cell_table

    return read_cell_table(args.cells, age=args.age, period=args.period, cohort=args.cohort, events=args.events,
                           exposure=args.exposure, age_width=args.age_width, period_width=args.period_width,
                           likelihood=args.likelihood)


def run(args) -> int:
    """Run ``apcfair apc``."""
    from apcfair import layout
    from apcfair._io import atomic_output_dir
    from apcfair.apc.attrition import try_fit_attrition
    from apcfair.outputs import write_apc_outputs

    if (args.data is None) == (args.cells is None):
        raise UserError("give one input: --data (loans or panel) or --cells (an events/exposure table)")
    data = load_cells_from_args(args) if args.cells is not None else load_from_args(args).cells()
    model = apc_model_from_args(args, progress=True)
    result = model.fit(data).result_
    attrition, attrition_note = try_fit_attrition(model, data) if args.cells is None else (None, None)
    with atomic_output_dir(args.out) as tmp:
        write_apc_outputs(result, tmp, attrition=attrition, attrition_note=attrition_note)
    print(result.summary())
    if attrition is not None:
        print(f"attrition model (exits other than default): fitted to {int(attrition.cells['defaults'].sum()):,} "
              f"payoffs/closures; functions in {layout.APC_JSON} under 'attrition'")
    elif attrition_note is not None:
        print(f"attrition model: {attrition_note}")
    print(f"wrote {Path(args.out) / layout.APC_JSON}")
    return 0
