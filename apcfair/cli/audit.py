"""``apcfair audit``: fairness audit of a scored file, written as JSON and HTML.

User mistakes raise ``ValueError`` with one clear message.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from apcfair.cli._common import (
    DEFAULT_MAX_LEVELS,
    MAX_BOOT,
    add_out_argument,
    bounded_int,
    finite_float,
    parser_kwargs,
    positive_int,
    seed,
    split_names,
)

EXAMPLE = """\
example:
  apcfair audit --data scored.parquet --score pd --outcome default \\
      --group sex,age_band --cutoff 0.2 --control vintage_year --out audit_2024q4

  writes audit_2024q4/audit.json (keys: conventions, performance, groups, gaps, tests, ...)
  and audit_2024q4/audit.html (self-contained, plots embedded).

  apcfair audit --data unbiased/forecasts.parquet --model credit_restricted_mean --sample out \
      --score cum_pd_exposure --outcome defaulted_within_horizon --group minority --cutoff 0.1 --out audit_oos

  audits one model of `apcfair unbiased`'s forecasts (one row per account and model there), out of
  sample, with the PD and the outcome on one definition (both censored by payoff and the data end).

conventions: outcome 1 = default (unfavourable); approved = PD < cutoff (--polarity pd, the
default) or score >= cutoff (--polarity approval); TPR = P(approved | creditworthy),
FPR = P(approved | default). Gaps fail when the disparate impact ratio < 0.80 or a
difference exceeds 0.10 in absolute value. A rate on fewer than --min-rate-denominator
applicants of its own denominator (e.g. an FPR on 2 defaulters) is reported as insufficient
data and left out of the gaps; a gap with fewer than two groups left says INSUFFICIENT, no verdict.
"""


def add_parser(sub) -> argparse.ArgumentParser:
    """Add the ``audit`` subcommand to an ``argparse`` subparsers object.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        From ``parser.add_subparsers()``.

    Returns
    -------
    argparse.ArgumentParser
        The subcommand's parser (``func`` default set to :func:`run`).
    """
    p = sub.add_parser("audit", **parser_kwargs(
        "fairness audit of credit scores or decisions (JSON + HTML)", epilog=EXAMPLE,
        description="Audit a scored applicant file for group fairness: performance (AUC, Gini, KS, Brier), "
                    "group rates, gaps with bootstrap intervals and pass/fail flags, chi-square tests, power "
                    "notes; per attribute, intersections and strata of a control feature."))
    p.add_argument("--data", required=True, metavar="FILE", help="CSV or Parquet file, one row per applicant")
    p.add_argument("--score", metavar="COL", help="score column (PD by default; see --polarity)")
    p.add_argument("--decision", metavar="COL",
                   help="optional column of final decisions (1 = approved), used instead of score < cutoff")
    p.add_argument("--outcome", required=True, metavar="COL", help="outcome column, 1 = default, 0 = good")
    p.add_argument("--group", required=True, metavar="COL[,COL...]",
                   help="protected attribute column(s), comma-separated; intersections are added")
    p.add_argument("--cutoff", type=finite_float, default=0.5,
                   help="score cut-off (default 0.5; within [0, 1] for --polarity pd)")
    p.add_argument("--polarity", choices=["pd", "approval"], default="pd",
                   help="pd: higher = riskier, approved iff score < cutoff (default); "
                        "approval: higher = better, approved iff score >= cutoff")
    p.add_argument("--model", metavar="NAME",
                   help="keep the rows whose 'model' column is NAME (forecasts.parquet of `apcfair unbiased` has one "
                        "row per account and model; a file with several models is refused without it)")
    p.add_argument("--sample", choices=["in", "out"], default=None,
                   help="keep the rows whose 'sample' column is in (estimation) or out (held out); default all")
    p.add_argument("--control", metavar="COL", help="control feature (e.g. vintage year): repeat within strata")
    p.add_argument("--min-group-size", type=positive_int, default=30,
                   help="groups smaller than this are flagged and left out of the gaps (default 30)")
    p.add_argument("--min-rate-denominator", type=positive_int, default=None, metavar="N",
                   help="a rate enters a gap only when its own denominator reaches N: applicants for the approval "
                        "rate, creditworthy applicants for TPR, defaulters for FPR, approved applicants for precision; "
                        "below it the rate is reported as insufficient data and the gap gets no verdict when fewer "
                        "than two groups are left (default: --min-group-size)")
    p.add_argument("--max-levels", type=bounded_int(2, 10_000), default=DEFAULT_MAX_LEVELS,
                   help="refuse a --group or --control column with more distinct values than this, checked before "
                        f"any work (an identifier is not a group; default {DEFAULT_MAX_LEVELS})")
    p.add_argument("--seed", type=seed, default=0, help="random seed of the bootstrap (default 0)")
    p.add_argument("--n-boot", type=bounded_int(0, MAX_BOOT, what="replicates"), default=1000,
                   help=f"bootstrap replicates, 0 (none) to {MAX_BOOT:,} (default 1000)")
    p.add_argument("--file-type", "--format", dest="format", choices=["auto", "csv", "parquet"], default="auto",
                   help="file type of --data (default: from the file extension, .csv or .parquet; --format is the "
                        "old name)")
    p.add_argument("--outputs", choices=["both", "json", "html"], default="both",
                   help="which outputs to write (default both: audit.json and audit.html)")
    p.add_argument("--no-intersections", action="store_true", help="do not add intersections of the groups")
    p.add_argument("--caveat", action="append", default=None, metavar="TEXT",
                   help="data caveat to carry into the outputs (repeatable)")
    p.add_argument("--fail-on-gap", action="store_true",
                   help="exit with status 1 when any gap fails its threshold")
    add_out_argument(p, "output folder (replaced atomically)", metavar="DIR", force=False)
    p.set_defaults(func=run)
    return p


def _need(df, col, what):
    if col not in df.columns:
        cols = ", ".join(map(str, df.columns[:30])) + (" ..." if len(df.columns) > 30 else "")
        raise ValueError(f"{what} column {col!r} is not in the data; columns: {cols}")
    return df[col]


def _check_out(out: Path) -> None:
    """``--out`` may be new, empty or an earlier audit folder (it is replaced as a whole)."""
    from apcfair import layout

    if out.exists():
        if not out.is_dir():
            raise ValueError(f"--out {str(out)!r} exists and is a file; give a folder path.")
        entries = list(out.iterdir())
        if entries and not (out / layout.AUDIT_JSON).exists() and not (out / layout.AUDIT_HTML).exists():
            raise ValueError(f"--out {str(out)!r} exists and is not an apcfair audit folder; refusing to replace "
                             "it. Choose a new folder.")


def _read_data(path: Path, in_fmt: str):
    import pandas as pd

    from apcfair.portfolio import read_table

    try:
        if in_fmt == "auto":
            return read_table(path)
        if not path.exists():
            raise FileNotFoundError(f"data file {str(path)!r} does not exist")
        return pd.read_csv(path) if in_fmt == "csv" else pd.read_parquet(path)
    except FileNotFoundError as e:
        raise ValueError(str(e)) from None
    except (OSError, ImportError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise ValueError(f"cannot read --data {str(path)!r} as {in_fmt}: {e}") from None


def _one_model(df, model: str | None, sample: str | None, data):
    """The rows of one model (and sample) of a file with a ``model`` column (``forecasts.parquet``).

    Several models in one file are refused without ``--model`` (each account would be
    counted once per model), with the models listed. Categorical (Parquet dictionary) columns
    lose the levels found only in the rows left out, so a group column read as categorical
    audits as its text would (no empty groups).
    """
    if model is None and "model" in df.columns and df["model"].nunique() > 1:
        names = ", ".join(map(str, df["model"].unique()))
        raise ValueError(f"--data {str(data)!r} holds forecasts of {df['model'].nunique()} models ({names}), one row "
                         "per account and model; pick one with --model NAME (e.g. --model credit_restricted_mean)")
    for option, col, value in (("--model", "model", model), ("--sample", "sample", sample)):
        if value is None:
            continue
        if col not in df.columns:
            raise ValueError(f"{option} {value} needs a {col!r} column, which --data {str(data)!r} does not have")
        keep = df[col].astype(str) == value
        if not keep.any():
            have = ", ".join(map(str, df[col].unique()))
            raise ValueError(f"{option} {value!r} matches no row of --data {str(data)!r}; its {col}s: {have}")
        df = df.loc[keep].reset_index(drop=True)
        for c in df.columns:  # a dictionary (categorical) column keeps the levels of the rows left out
            if df[c].dtype.name == "category":
                df[c] = df[c].cat.remove_unused_categories()
    return df


def _check_definitions(path: Path, score: str | None, outcome: str | None) -> None:
    """Warn when a ``forecasts.parquet`` score and outcome do not share one definition.

    ``cum_pd`` runs over the full horizon and ignores payoff and the end of the data,
    while ``defaulted_within_horizon`` is censored by both: comparing them shows a
    miscalibration that is not there. ``cum_pd_exposure`` and
    ``cum_pd_unconditional_observed_window`` are over the outcome's window.
    """
    import json
    import warnings

    if path.suffix.lower() != ".parquet" or not path.exists():
        return
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
        defs = json.loads(meta.get(b"apcfair.columns", b"{}"))
    except (OSError, ValueError):
        return
    same_definition = ("cum_pd_exposure", "cum_pd_unconditional_observed_window")
    if outcome == "defaulted_within_horizon" and score in defs and score not in same_definition:
        warnings.warn(f"--score {score} is not on the definition of --outcome {outcome} (censored by payoff and "
                      f"the end of the data), so the audit's calibration (mean PD vs default rate) is off by definition: "
                      f"{defs[score]}. Use --score cum_pd_exposure to compare expected with observed defaults on one "
                      "definition (or cum_pd_unconditional_observed_window, default before payoff over the same window)",
                      UserWarning, stacklevel=2)


def run(args: argparse.Namespace) -> int:
    """Run the audit described by parsed arguments.

    Parameters
    ----------
    args : argparse.Namespace
        ``data, score, outcome, group, out`` and optionally ``decision, cutoff, polarity,
        control, min_group_size, min_rate_denominator, seed, n_boot, format`` (input: auto, csv, parquet), ``outputs``
        (both, json, html), ``no_intersections, caveat, fail_on_gap``.

    Returns
    -------
    int
        0 on success (1 with ``--fail-on-gap`` when a gap fails; a gap without a verdict for
        insufficient data does not fail).

    Raises
    ------
    ValueError
        For user mistakes (missing file or column, bad values), with one clear message.
    """
    import numpy as np

    from apcfair import layout
    from apcfair._io import atomic_output_dir
    from apcfair.audit import audit
    from apcfair.audit._options import InputFormat, OutputFormat, Polarity, check_option
    from apcfair.audit._validate import check_group_levels, check_outcome, check_score
    from apcfair.outputs import write_audit_outputs

    g = lambda name, default=None: getattr(args, name, default)  # noqa: E731
    for req in ("data", "outcome", "group", "out"):
        if not g(req):
            raise ValueError(f"--{req.replace('_', '-')} is required.")
    if not g("score") and not g("decision"):
        raise ValueError("--score is required (or --decision with a column of final decisions).")
    polarity = g("polarity", "pd") or "pd"
    check_option("--polarity", polarity, Polarity)
    fmt = g("outputs", "both") or "both"
    check_option("--outputs", fmt, OutputFormat)
    in_fmt = g("format", "auto") or "auto"
    check_option("--format", in_fmt, InputFormat)
    out = Path(g("out"))
    _check_out(out)  # before any work
    df = _read_data(Path(g("data")), in_fmt)
    if len(df) == 0:
        raise ValueError(f"--data {g('data')!r} has no rows.")
    df = _one_model(df, g("model"), g("sample"), g("data"))
    _check_definitions(Path(g("data")), g("score"), g("outcome"))
    y_col = _need(df, g("outcome"), "--outcome")
    y = check_outcome(y_col.to_numpy(), name=f"outcome column {g('outcome')!r}")
    score = None
    if g("score"):
        score = check_score(_need(df, g("score"), "--score").to_numpy(), polarity,
                            name=f"score column {g('score')!r}")
    decision = _need(df, g("decision"), "--decision").to_numpy() if g("decision") else None
    group_cols = split_names(g("group"))
    if not group_cols:
        raise ValueError("--group needs at least one column name.")
    if len(set(group_cols)) != len(group_cols):
        raise ValueError(f"--group lists a column twice: {group_cols}.")
    groups = {c: _need(df, c, "--group") for c in group_cols}
    control = _need(df, g("control"), "--control") if g("control") else None
    max_levels = g("max_levels", DEFAULT_MAX_LEVELS) or DEFAULT_MAX_LEVELS
    for c, col in groups.items():  # an ID-like column would run for hours
        check_group_levels(col, f"--group column {c!r}", max_levels, option="--max-levels")
    if control is not None:
        check_group_levels(control, f"--control column {g('control')!r}", max_levels, option="--max-levels")
    res = audit(score, y, groups, decision=decision, cutoff=g("cutoff", 0.5), polarity=polarity, control=control,
                intersections=not g("no_intersections", False), min_group_size=g("min_group_size", 30),
                min_rate_denominator=g("min_rate_denominator"),
                n_boot=g("n_boot", 1000), random_state=g("seed", 0), caveats=g("caveat") or ())
    given = {"data": str(g("data")), "rows": int(len(df)), "score": g("score"), "decision": g("decision"),
             "outcome": g("outcome"), "group": group_cols, "control": g("control"), "model": g("model"),
             "sample": g("sample")}
    files = {"both": (layout.AUDIT_JSON, layout.AUDIT_HTML), "json": (layout.AUDIT_JSON,),
             "html": (layout.AUDIT_HTML,)}[fmt]
    with atomic_output_dir(out, replace=True) as tmp:
        write_audit_outputs(res, tmp, files=files, title=f"Fairness audit: {Path(g('data')).name}",
                            extra={"input": given})
    n_fail = int(np.sum(res.gaps["status"] == "FAIL"))
    n_insufficient = int(np.sum(res.gaps["status"] == "INSUFFICIENT"))
    written = " and ".join(f"{out / f}" for f in (layout.AUDIT_JSON, layout.AUDIT_HTML) if (out / f).exists())
    print(f"wrote {written}: {n_fail} of {len(res.gaps)} gaps fail their threshold"
          + (f"; {n_insufficient} have no verdict (insufficient data: fewer than two groups whose rate rests on "
             f">= {res.settings['min_rate_denominator']} applicants)" if n_insufficient else ""))
    args.summary = {"gaps": int(len(res.gaps)), "gaps_failing": n_fail, "gaps_insufficient_data": n_insufficient,
                    "rows": int(len(df))}
    return 1 if (g("fail_on_gap", False) and n_fail) else 0
