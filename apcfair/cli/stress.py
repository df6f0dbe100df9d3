"""``apcfair stress``: macro scenarios -> environment -> PD paths of the book, with fan charts."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from apcfair.cli import _common as opt
from apcfair.cli._common import (
    add_apc_arguments,
    add_data_arguments,
    add_out_argument,
    apc_model_from_args,
    load_apc_result,
    load_from_args,
    parser_kwargs,
    split_names,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

EXAMPLE = """examples:
  apcfair stress --data synth/loans.parquet --macro synth/macro_history.csv \\
      --scenarios synth/scenarios.csv --out stress/ --horizon 36
  apcfair stress --data synth/loans.parquet --apc apc/ --out stress-rw/   # random walk only
  apcfair unbiased --data synth/loans.parquet --restricted age,sex --credit bureau_score --out unbiased/
  apcfair stress --data synth/loans.parquet --apc unbiased/ --scores unbiased/account_scores.parquet \\
      --macro synth/macro_history.csv --scenarios synth/scenarios.csv --out stress-scored/ \\
      --drivers unemployment_change:+,gdp_growth:-

drivers: NAME:+ (a higher value raises default risk) or NAME:- ; a coefficient of the wrong sign or
  with p > 0.05 is a warning in the console, stress.json ("drivers", "warnings") and the summary
  (--on-wrong-sign drop|error to drop it or stop). Without --drivers every column of --macro is a
  driver and each gets the warning that its sign was not checked.
refusal: a portfolio whose histories look incomplete (most accounts seen in one month, gaps,
  closure rate per month above 0.2) exits with code 2 and one line why; --force (the shared flag,
  which also allows writing into a used --out) projects it with the warning recorded in stress.json.

  apcfair stress --data loans.parquet --macro UNRATE.csv A191RL1Q225SBEA.csv \
      --scenarios 2026_supervisory_baseline.csv 2026_supervisory_severely_adverse.csv \
      --drivers unemployment_rate:diff12:+,real_gdp_growth:- --driver-trend hold --out stress-fed/

transformations: NAME:diffN (change over N months), pctN / yoy (percent change over N / 12 months),
  logdiffN (100 x log change), lagN (N months earlier), log; left to right (hpi:yoy,lag3:-). They run on the
  raw monthly series (scenarios: the history followed by the scenario path) and are recorded in stress.json
  (drivers[].transform, definitions.driver_transforms).
driver trend: --driver-trend extend (default) extends each driver's least-squares line over the fit window
  into the scenario; hold freezes it at its last in-window value. Shown in the summary and stress.json.

files:
  --macro      CSV  month,<driver columns>            (YYYY-MM, a date, or YYYY-Qn); or FRED downloads as
               they come (DATE or observation_date, one column per series id). Several files: merged by month.
  --scenarios  CSV  scenario,month,<driver columns>   (several named paths in one file); or the Federal
               Reserve's supervisory tables (Scenario Name, Date like '2026 Q1', one column per variable such as
               'Unemployment rate'; one file per scenario; names become baseline, severely_adverse, ...).
  Names match across layouts: unemployment_rate = UNRATE = 'Unemployment rate', real_gdp_growth =
  A191RL1Q225SBEA = 'Real GDP growth'. Quarterly values are expanded to months (--quarterly hold|interpolate).
  Without --macro/--scenarios the environment is continued by its random walk.
  --scores     CSV or Parquet  account_id,<score columns>  (e.g. account_scores.parquet of
               `apcfair unbiased`): logit score per account relative to the APC offset,
               used instead of the APC vintage effect G(v). Every account of --data needs a
               score; extra accounts in the file are ignored and counted in stress.json ("scores").
  --score-column  default credit_restricted_mean: the credit model's score with the restricted
               (protected) term replaced by its calibrating constant, i.e. unbiased by design
               at the right portfolio level. credit_restricted_zero is the same score with the
               restricted term zeroed as such (same ranking, level shifted by the constant).

writes DIR/stress.json, stress_months.csv, account_cumulative_pd.parquet, fan_chart.png,
fan_chart_by_scenario.png, environment_scenarios.png, macro_model.txt (and macro_model_fit.png)"""

HELP = "Stress test: macro scenarios for the environment H(t) and PD paths of the book with bands."


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``stress``."""
    p = sub.add_parser("stress", **parser_kwargs(HELP, epilog=EXAMPLE))
    add_data_arguments(p)
    p.add_argument("--macro", metavar="FILE", nargs="+", action="extend",
                   help="macro history: month, <driver columns>; FRED downloads as they come (DATE or "
                   "observation_date, one column per series id); several files are merged by month")
    p.add_argument("--scenarios", metavar="FILE", nargs="+", action="extend",
                   help="scenarios: scenario, month, <driver columns>, or the Federal Reserve's supervisory "
                   "tables (Scenario Name, Date like 2026 Q1, one column per variable; one file per scenario)")
    add_out_argument(p)
    p.add_argument("--horizon", type=opt.horizon_months, default=36, help="forecast horizon in months (default 36; 36 = 12 quarters on quarterly data)")
    p.add_argument("--seed", type=opt.seed, default=0, help="random seed")
    p.add_argument("--apc", metavar="DIR", help="reuse the APC fit of a folder that produced offsets "
                   "(`apcfair apc --out DIR` or `apcfair unbiased --out DIR`; an `unbiased` folder that itself "
                   "reused --apc points to that fit) or the .nc file, instead of fitting the APC model")
    add_apc_arguments(p, ["--engine", "--draws", "--identification", "--period-slope"],
                      note="used when fitting the APC model (not with --apc)")
    p.add_argument("--drivers", metavar="NAME[:TRANSFORM...][:+|-][,...]",
                   help="driver columns with declared transformations and expected sign, e.g. "
                   "unemployment_rate:diff12:+,real_gdp_growth:- or hpi:yoy,lag3:- (diffN, pctN, yoy, logdiffN, "
                   "lagN, log; +: a higher driver raises default risk). A name matches a FRED series id or a "
                   "supervisory column (unemployment_rate = UNRATE = 'Unemployment rate'). Default: every "
                   "column of --macro as it is, with a warning per driver that its sign was not checked")
    p.add_argument("--driver-trend", default="extend", choices=["extend", "hold"],
                   help="drivers' trends beyond the fit window: extend each driver's window line into the "
                   "scenario (default; H rises only with drivers above their extended trend) or hold it at its "
                   "last in-window value (constant drivers then leave H on its own line)")
    p.add_argument("--on-wrong-sign", default="warn", choices=["warn", "drop", "error"],
                   help="a driver whose coefficient has the wrong sign: warn (default; in the console, "
                   "stress.json and the summary), drop it and refit, or stop")
    p.add_argument("--lags", default="0", help="comma-separated driver lags in months (default 0)")
    p.add_argument("--no-seasonality", action="store_true", help="no month-of-year dummies")
    p.add_argument("--method", default="ols", choices=["ols", "arimax"],
                   help="macro regression: OLS with HAC errors (default) or regression with AR(1) errors")
    p.add_argument("--quarterly", default="hold", choices=["hold", "interpolate"],
                   help="how quarterly macro values become monthly (default: hold within the quarter)")
    p.add_argument("--no-new-vintages", action="store_true", help="project the existing book only")
    p.add_argument("--new-volume", type=opt.positive_float, help="new accounts per month (default: last year's average)")
    p.add_argument("--scores", metavar="FILE",
                   help="CSV/Parquet with account_id and a logit score column (e.g. account_scores.parquet "
                   "from `apcfair unbiased`): per-account scores replace the APC vintage effect")
    p.add_argument("--score-column", metavar="NAME", default="credit_restricted_mean",
                   help="score column of --scores (default credit_restricted_mean: credit model, restricted "
                   "term at its calibrating constant; credit_restricted_zero: restricted term zeroed)")
    p.add_argument("--precision", default="float32", choices=["float32", "float64"],
                   help="floating-point type of the draws x months x groups arrays (default float32: every "
                   "reported number moves far less than its Monte Carlo error; sums and results are float64)")
    p.add_argument("--extrapolation", default="hold", choices=["hold", "random_walk"],
                   help="F at older ages and G of new vintages beyond the APC grid (default hold)")
    p.set_defaults(func=run)
    return p


def _int_list(text: str, name: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(x) for x in text.split(",") if x.strip() != "")
    except ValueError:
        raise ValueError(f"{name} {text!r}: give comma-separated integers, e.g. 0,3,6") from None
    if not vals:
        raise ValueError(f"{name} {text!r}: give at least one integer")
    return vals


def _examples(ids, k: int = 3) -> str:
    return ", ".join(repr(x.item() if hasattr(x, "item") else x) for x in list(ids)[:k])


def _id_key(ids: pd.Series) -> pd.Series:
    """account_id values comparable across files (integral floats from CSV become integers)."""
    import pandas as pd

    if pd.api.types.is_float_dtype(ids) and ids.notna().all() and (ids % 1 == 0).all():
        return ids.astype("int64")
    return ids


def _read_scores(path: str, column: str, loans: pd.DataFrame) -> tuple[np.ndarray, dict]:
    """Scores from ``path`` in the row order of ``loans`` and what was matched and ignored."""
    import numpy as np
    import pandas as pd

    from apcfair.portfolio import read_table

    table = read_table(path)
    where = f"--scores {path}"
    if "account_id" not in table.columns:
        raise ValueError(f"{where}: no column 'account_id' (columns: {', '.join(map(str, table.columns))})")
    if column not in table.columns:
        others = [str(c) for c in table.columns if c != "account_id"]
        raise ValueError(f"{where}: no column {column!r} (--score-column); score columns there: "
                         f"{', '.join(others) or 'none'}")
    ids = _id_key(table["account_id"])
    if ids.isna().any():
        raise ValueError(f"{where}: {int(ids.isna().sum())} row(s) have no account_id")
    dup = ids.duplicated(keep=False)
    if dup.any():
        d = ids[dup].unique()
        raise ValueError(f"{where}: {len(d)} account_id(s) appear more than once (e.g. {_examples(d)}); "
                         "give one score per account")
    want = _id_key(loans["account_id"])
    if pd.api.types.is_numeric_dtype(ids) != pd.api.types.is_numeric_dtype(want):
        ids, want = ids.astype(str), want.astype(str)  # e.g. numeric ids in one file, text in the other
    pos = pd.Index(ids).get_indexer(want)
    miss = pos < 0
    if miss.any():
        raise ValueError(f"{where}: no score for {int(miss.sum()):,} of the {len(loans):,} account(s) of the "
                         f"portfolio (e.g. account_id {_examples(loans['account_id'].to_numpy()[miss])})")
    try:
        values = pd.to_numeric(table[column]).to_numpy(float)[pos]
    except (ValueError, TypeError):
        raise ValueError(f"{where}: column {column!r} is not numeric (give logit scores)") from None
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValueError(f"{where}: column {column!r} has {int(bad.sum()):,} missing or infinite score(s) for "
                         f"accounts of the portfolio (e.g. account_id "
                         f"{_examples(loans['account_id'].to_numpy()[bad])})")
    info = {"file": str(path), "column": column, "matched": len(loans), "ignored": len(table) - len(loans),
            "definition": "logit score per account relative to the APC offset, replacing the APC vintage "
                          "effect G(v); accounts in the file but not in the portfolio are ignored"}
    return values, info


def run(args) -> int:
    """Run ``apcfair stress``."""
    from apcfair import layout
    from apcfair._io import atomic_output_dir
    from apcfair.forecast import (
        MacroModel,
        StressTest,
        random_walk_projection,
        read_macro_history,
        read_scenarios,
    )
    from apcfair.outputs import write_stress_outputs
    from apcfair.portfolio.periods import horizon_in_periods

    if args.horizon < 1:
        raise ValueError(f"--horizon {args.horizon}: must be at least 1")
    if bool(args.macro) != bool(args.scenarios):
        raise ValueError("give both --macro and --scenarios, or neither (random-walk scenario only)")
    from apcfair.forecast.transforms import parse_drivers

    lags = _int_list(args.lags, "--lags")
    specs = parse_drivers(split_names(args.drivers)) if args.drivers else None
    raw = None if specs is None else list(dict.fromkeys(s.name for s in specs))
    # read the small files first so that their mistakes surface before any fitting
    history = scenarios = None
    if args.macro:
        history = read_macro_history(args.macro, drivers=raw, quarterly=args.quarterly)
        scenarios = read_scenarios(args.scenarios, drivers=history.attrs["drivers"], quarterly=args.quarterly)
    portfolio = load_from_args(args)
    # --horizon is in months everywhere (36 = 12 quarters on quarterly data); the stages count periods
    horizon = horizon_in_periods(args.horizon, portfolio.freq, name="--horizon")
    if portfolio.freq != "M":
        print(f"horizon: {args.horizon} months = {horizon} quarters", file=sys.stderr)
    scores, scores_info = None, None
    if args.scores:  # matched before any fitting so that a wrong file fails fast
        scores, scores_info = _read_scores(args.scores, args.score_column, portfolio.loans)
    stress_test = StressTest(horizon=horizon, new_vintages=not args.no_new_vintages,
                             new_volume=args.new_volume, extrapolation=args.extrapolation,
                             on_incomplete="warn" if getattr(args, "force", False) else "error",
                             precision=args.precision, random_state=args.seed)
    stress_test.check_history(portfolio)  # refuse a row-sampled panel before any fitting
    if args.apc:
        apc = load_apc_result(_apc_path(args.apc))
    else:
        if scores is not None:
            print("apcfair: warning: --scores without --apc: the scores are relative to the offsets of the APC "
                  "fit they were estimated with; pass --apc with the folder that wrote them", file=sys.stderr)
        apc = apc_model_from_args(args).fit(portfolio.cells()).result_
    macro = None
    if history is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # printed below, once, with the result
            macro = MacroModel(drivers=None if specs is None else [s.declaration for s in specs],
                               on_wrong_sign=args.on_wrong_sign, lags=lags, driver_trend=args.driver_trend,
                               seasonality=not args.no_seasonality, method=args.method,
                               random_state=args.seed).fit(apc, history).result_
        projection = macro.project(scenarios, horizon, random_state=args.seed)
    else:
        projection = random_walk_projection(apc, horizon, random_state=args.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # recorded in the result and printed below
        stress_test.set_params(credible_level=apc.credible_level)
        result = stress_test.fit(portfolio, apc, projection, account_scores=scores).result_
    out = Path(args.out)
    with atomic_output_dir(out) as tmp:
        write_stress_outputs(result, tmp, projection=projection, macro=macro, extra={"scores": scores_info})
    print(result.summary())
    if scores_info is not None:
        print(f"account scores: {scores_info['column']!r} from {scores_info['file']} for "
              f"{scores_info['matched']:,} accounts ({scores_info['ignored']:,} extra in the file ignored)")
    for w in result.warnings:
        print(f"apcfair: WARNING: {w}", file=sys.stderr)
    print(f"wrote {out / layout.STRESS_JSON}")
    return 0


def _apc_path(path: str) -> Path:
    """The APC result file behind ``--apc``: ``apc_result.nc`` in the folder, or, for a folder of
    `apcfair unbiased` that reused another fit, the fit its JSON files record."""
    import json

    from apcfair import layout

    p = Path(path)
    if not p.is_dir() or (p / layout.APC_RESULT).exists():
        return p
    for name in (layout.COST_OF_FAIRNESS, layout.COMPARISON, layout.UNBIASED_RESULT_JSON):
        f = p / name
        if not f.exists():
            continue
        d = json.loads(f.read_text())
        found = _recorded_apc(d.get("settings", {}) if isinstance(d, dict) else {})
        if found is None and isinstance(d, dict):
            found = _recorded_apc(d)
        if found is not None:
            q = Path(found)
            q = q if q.is_absolute() else (p / q)
            return q
    if (p / layout.COST_OF_FAIRNESS).exists() or (p / layout.COMPARISON).exists():
        raise FileNotFoundError(
            f"--apc {path}: this `apcfair unbiased` folder has no {layout.APC_RESULT} and records no APC fit "
            "(it reused another fit with --apc): pass that fit's folder with --apc")
    return p


def _recorded_apc(d: dict) -> str | None:
    """A recorded APC source in a JSON mapping (``apc``, ``apc_source``, ``apc_result``)."""
    for key in ("apc_source", "apc_result", "apc"):
        v = d.get(key)
        if isinstance(v, str) and v:
            return v
    return None
