"""``apcfair score``: score new applicants with a saved unbiased-by-design fit."""

from __future__ import annotations

from pathlib import Path

from apcfair.cli._common import parser_kwargs

EXAMPLE = "apcfair score --model unbiased/ --data applicants.csv --out scores.parquet"


def add_parser(sub):
    """Register ``score``."""
    text = ("Cumulative PD over the training horizon for new applicants, from the models 'apcfair unbiased' "
            "saved (restricted term zeroed, or the calibrated constant; traditional models for comparison). "
            "The environment path is the training run's. The applicant file is checked against the training "
            "inputs: unseen categories and out-of-range values are reported.")
    p = sub.add_parser("score", **parser_kwargs("score new applicants with a saved unbiased-by-design fit",
                                                description=text, example=EXAMPLE))
    p.add_argument("--model", required=True, metavar="DIR", help="output folder of 'apcfair unbiased'")
    p.add_argument("--data", required=True, metavar="FILE",
                   help="CSV or Parquet: account_id, the origination month and the credit inputs")
    p.add_argument("--origination", default=None, metavar="COL",
                   help="origination month column (default: 'origination', else 'vintage' period codes)")
    p.add_argument("--out", required=True, metavar="FILE.parquet", help="output Parquet file")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Run ``apcfair score``."""
    import numpy as np

    from apcfair.portfolio import read_table
    from apcfair.portfolio.periods import to_period_code
    from apcfair.unbiased.applicants import load_fit, score_applicants

    if Path(args.out).suffix.lower() not in (".parquet", ".pq"):
        raise ValueError(f"--out {args.out!r}: apcfair score writes Parquet; name the file *.parquet")
    fit = load_fit(args.model)
    freq = fit["settings"].get("design", {}).get("freq", "M")
    data = read_table(Path(args.data))
    if "account_id" not in data.columns:
        raise ValueError(f"--data {args.data!r} has no 'account_id' column")
    col = args.origination or ("origination" if "origination" in data.columns else "vintage")
    if col not in data.columns:
        raise ValueError(f"--data {args.data!r} has no origination column {col!r}; name it with --origination")
    vintage = (data[col].to_numpy(np.int64) if col == "vintage" and np.issubdtype(data[col].dtype, np.integer)
               else to_period_code(data[col], freq, column=col))
    out, notes = score_applicants(fit, data, vintage=np.asarray(vintage, dtype=np.int64))
    for note in notes:
        print(f"warning: {note}")
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    out.to_parquet(tmp, index=False)
    tmp.replace(path)
    print(f"wrote {path}: {out['account_id'].nunique()} applicants x {out['model'].nunique()} models "
          f"(cum_pd over the training horizon)")
    return 0
