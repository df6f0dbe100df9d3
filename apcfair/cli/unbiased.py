"""``apcfair unbiased``: the unbiased-by-design procedure from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from apcfair.cli import _common as opt
from apcfair.cli._common import (
    add_backend_arguments,
    add_data_arguments,
    add_out_argument,
    load_apc_result,
    load_from_args,
    parser_kwargs,
    split_names,
)

EXAMPLE = ("apcfair unbiased --data synth/loans.parquet --restricted minority,sex,age "
           "--credit bureau_score,interest_rate,total_deposits --out unbiased/ --horizon 36 --seed 0")


def _cols(text: str) -> list[str]:
    cols = split_names(text)
    if not cols:
        raise argparse.ArgumentTypeError("give at least one column name")
    return cols


def _gbm_params(text: str | None) -> dict | None:
    """``--gbm-params``: JSON text or the path of a JSON file."""
    import json

    if not text:
        return None
    path = Path(text)
    try:
        params = json.loads(path.read_text() if path.is_file() else text)
    except json.JSONDecodeError as e:
        raise ValueError(f"--gbm-params {text!r} is neither a JSON object nor a JSON file: {e}") from None
    if not isinstance(params, dict):
        raise ValueError(f"--gbm-params must be a JSON object of OffsetGBM settings; got {params!r}")
    return params


def add_parser(sub):
    """Register ``unbiased``."""
    text = ("Unbiased by design (Breeden & Leonova 2021): APC offsets -> restricted model -> credit model "
            "with the restricted score as offset -> forecasts with the restricted term zeroed, and the cost.")
    p = sub.add_parser("unbiased", **parser_kwargs("the unbiased-by-design procedure and its measured cost",
                                                   description=text, example=EXAMPLE))
    add_data_arguments(p)
    p.add_argument("--restricted", required=True, type=_cols, help="comma-separated restricted (protected) inputs")
    p.add_argument("--credit", required=True, type=_cols, help="comma-separated credit inputs")
    p.add_argument("--protected", type=_cols, default=None,
                   help="attributes to measure dependence on (default: the restricted inputs)")
    add_out_argument(p)
    p.add_argument("--horizon", type=opt.horizon_months, default=36,
                   help="forecast horizon in months (default 36; 36 = 12 quarters on quarterly data)")
    p.add_argument("--seed", type=opt.seed, default=0, help="random seed (split, APC draws, trees, bootstrap)")
    p.add_argument("--split", choices=["random", "time"], default="random",
                   help="random: accounts by a stable hash of id and seed (default); time: out of time")
    p.add_argument("--holdout-from", default=None, metavar="YYYY-MM",
                   help="with --split time: first held-out vintage (estimation on earlier vintages)")
    p.add_argument("--test-size", type=opt.fraction, default=0.5, help="share of accounts held out with --split random")
    p.add_argument("--backfit", type=opt.nonnegative_int, default=0, help="backfitting rounds of the APC functions (default 0)")
    p.add_argument("--vintage-dummies", choices=["year", "month", "none"], default="year",
                   help="vintage dummies in the logit models: per year (default), per origination period "
                        "(the paper's eq. 3; sparse ones merged) or none")
    p.add_argument("--gbm-params", default=None, metavar="JSON|FILE",
                   help="boosted-tree settings as JSON text or a JSON file, e.g. '{\"num_leaves\": 15}'")
    p.add_argument("--n-boot", type=opt.bounded_int(0, 100_000, what="replicates"), default=200,
                   help="bootstrap replicates for the dependence-change interval (default 200)")
    p.add_argument("--apc", default=None,
                   help="reuse the APC fit in this folder (apc_result.nc from 'apcfair apc', and its attrition fit "
                        "apc_attrition_result.nc when there is one). A fit on all accounts lets held-out outcomes "
                        "into F and H (optimistic out-of-sample figures): warned, see --apc-refit")
    p.add_argument("--apc-refit", choices=["none", "training"], default="none",
                   help="with --apc: none = use the fit(s) as they are (default, warned); training = refit the "
                        "default and the attrition fit on the estimation accounts only with their settings. "
                        "Recorded in the results (settings.design.apc, settings.design.attrition)")
    p.add_argument("--no-attrition", action="store_true",
                   help="skip the attrition model (payoff, closure): forecasts.parquet then has only the net "
                        "cum_pd, not cum_pd_unconditional (default before any other exit)")
    p.add_argument("--no-gbm", action="store_true", help="skip the boosted-tree variants")
    p.add_argument("--bins", type=opt.bounded_int(0, 100, what="bins"), default=10, help="quantile bins for numeric inputs (0 = linear)")
    p.add_argument("--approval-rate", type=opt.fraction, default=0.8, help="share approved for the adverse impact ratio")
    add_backend_arguments(p)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Run ``apcfair unbiased``."""
    if args.apc_refit != "none" and not args.apc:
        raise opt.UserError(f"--apc-refit {args.apc_refit} refits a given APC fit: add --apc DIR, or drop it "
                            "(without --apc the APC model is fitted on the estimation accounts anyway)")
    if opt.uses_dask(args):
        if args.backfit:
            raise opt.UserError(f"--backfit {args.backfit} refits the APC functions over the account-months, which "
                                "--backend dask keeps on the workers: use --backfit 0 with it, or --backend memory")
        with opt.dask_client(args) as client:
            return _run(args, client)
    return _run(args, None)


def _run(args, client) -> int:
    from apcfair import layout
    from apcfair._io import atomic_output_dir
    from apcfair.outputs import write_apc_outputs, write_proxy_outputs, write_unbiased_outputs
    from apcfair.unbiased import UnbiasedByDesign

    backend = None
    if client is None:
        portfolio = load_from_args(args)
    else:  # one row per account here; the parts (and their account-months) stay on the workers
        from apcfair.unbiased.partitioned import DaskScores

        portfolio, backend = DaskScores.load(args.data, client, **opt.load_options(args))
    apc, attrition = load_apc_result(args.apc, attrition=True) if args.apc else (None, None)
    ubd = UnbiasedByDesign(restricted=args.restricted, credit=args.credit, protected=args.protected,
                           horizon=args.horizon, bins=args.bins or None, gbm=not args.no_gbm,
                           approval_rate=args.approval_rate, random_state=args.seed, progress=opt.show_progress(args),
                           split=args.split, holdout_from=args.holdout_from, test_size=args.test_size,
                           backfit=args.backfit, vintage_dummies=args.vintage_dummies,
                           gbm_params=_gbm_params(args.gbm_params), n_boot=args.n_boot, apc_refit=args.apc_refit,
                           attrition=not args.no_attrition)
    source = str(Path(args.apc).resolve()) if args.apc else None
    result = ubd.fit(portfolio, apc_result=apc, apc_source=source,
                     attrition_result=attrition if not args.no_attrition else None, backend=backend).result_
    note = (result.settings["design"].get("attrition") or {}).get("note")
    with atomic_output_dir(args.out) as tmp:
        write_unbiased_outputs(result, tmp)
        write_proxy_outputs(portfolio.loans, args.restricted, args.credit, tmp)  # the proxy diagnostic (Table 1)
        if apc is None or args.apc_refit == "training":  # the APC fits made on the way (default, attrition)
            write_apc_outputs(result.apc_result, tmp, attrition=result.attrition_result, attrition_note=note)
        elif result.attrition_result is not None and result.attrition_result is not attrition:
            result.attrition_result.save(Path(tmp) / layout.APC_ATTRITION_RESULT)  # fitted here, training accounts
    print(result.summary())
    if not args.no_attrition and "cum_pd_unconditional" not in result.forecast_table.columns:
        print(f"apcfair: warning: no cum_pd_unconditional in {layout.FORECASTS}: {note}", file=sys.stderr)
    print(f"wrote {Path(args.out) / layout.COMPARISON}")
    return 0
