"""``python -m data_synth OUT_DIR [options]``: write a synthetic portfolio to a folder."""

from __future__ import annotations

import argparse
import sys

from data_synth.config import SynthConfig
from data_synth.generate import write_portfolio


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, generate and write; user mistakes give one error line and exit 2."""
    ap = argparse.ArgumentParser(prog="python -m data_synth",
                                 description="Write a synthetic credit-card portfolio with known truth.")
    ap.add_argument("out_dir", help="folder for loans.parquet, truth.json, macro_history.csv, ...")
    ap.add_argument("--n-accounts", type=int, default=146_500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", default="2005-01", help="first origination month (YYYY-MM)")
    ap.add_argument("--end", default="2019-12", help="last observed month (YYYY-MM)")
    ap.add_argument("--proxy-strength", type=float, default=0.3)
    ap.add_argument("--credit-effect-scale", type=float, default=1.0)
    ap.add_argument("--default-rate-target", type=float, default=0.06)
    ap.add_argument("--panel", action="store_true", help="also write panel.parquet (small portfolios)")
    args = ap.parse_args(argv)
    try:
        cfg = SynthConfig(n_accounts=args.n_accounts, seed=args.seed, start=args.start, end=args.end,
                          proxy_strength=args.proxy_strength,
                          credit_effect_scale=args.credit_effect_scale,
                          default_rate_target=args.default_rate_target)
        paths = write_portfolio(args.out_dir, cfg, panel=args.panel)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
