"""``apcfair synth``: a synthetic portfolio with known truth."""

from __future__ import annotations

from pathlib import Path

from apcfair.cli._common import UserError, add_out_argument, parser_kwargs

EXAMPLE = "apcfair synth --accounts 20000 --seed 1 --out synth/"


def add_parser(sub):
    """Register ``synth``."""
    p = sub.add_parser("synth", **parser_kwargs("Write a synthetic portfolio with known truth.", example=EXAMPLE))
    p.add_argument("--accounts", type=int, default=146_500, help="number of accounts (default 146,500)")
    p.add_argument("--seed", type=int, default=0, help="random seed (deterministic output)")
    add_out_argument(p)
    p.add_argument("--panel", action="store_true", help="also write the account-month panel (panel.parquet)")
    p.add_argument("--start", default="2005-01", help="first origination month")
    p.add_argument("--end", default="2019-12", help="end of the observation window")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Run ``apcfair synth``."""
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
