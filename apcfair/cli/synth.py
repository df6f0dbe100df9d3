"""``apcfair synth``: a synthetic portfolio with known truth."""

from __future__ import annotations

import argparse
from pathlib import Path

from apcfair.cli._common import (
    MAX_ACCOUNTS,
    UserError,
    add_out_argument,
    bounded_int,
    parser_kwargs,
    seed,
)

EXAMPLE = ("apcfair synth --accounts 20000 --seed 1 --out synth/\n"
           "  apcfair synth --accounts 1465000 --partitions 16 --out big/   # written part by part: big/loans/part-*.parquet")
_MAX_TOTAL = 1_000_000_000  # with --partitions: each part at most MAX_ACCOUNTS


def _month(text: str) -> str:
    import re

    if not re.fullmatch(r"(19|20|21)\d\d-(0[1-9]|1[0-2])", text.strip()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a month: write YYYY-MM, e.g. 2019-12")
    return text.strip()


def add_parser(sub):
    """Register ``synth``."""
    p = sub.add_parser("synth", **parser_kwargs("Write a synthetic portfolio with known truth.", example=EXAMPLE))
    p.add_argument("--accounts", type=bounded_int(1, _MAX_TOTAL, what="accounts"), default=146_500,
                   help=f"number of accounts, 1 to {MAX_ACCOUNTS:,} in one file; more with --partitions, at most "
                        f"{MAX_ACCOUNTS:,} per part (default 146,500)")
    p.add_argument("--partitions", type=bounded_int(1, 100_000, what="partitions"), default=None, metavar="P",
                   help="write a partitioned Parquet data set (OUT/loans/part-*.parquet, account_truth/, panel/) "
                        "generated part by part, never holding the whole book in memory: part k draws its accounts "
                        "from its own random stream of --seed, the truth (environment, macro, zips, F, G, mu) is "
                        "shared; --partitions 1 equals the one-file output (default: one file per table)")
    p.add_argument("--seed", type=seed, default=0, help="random seed (deterministic output)")
    add_out_argument(p, force=False)
    p.add_argument("--panel", action="store_true",
                   help="also write the account-month panel (panel.parquet; the borrower's age is borrower_age)")
    p.add_argument("--start", type=_month, default="2005-01", help="first origination month, YYYY-MM")
    p.add_argument("--end", type=_month, default="2019-12", help="end of the observation window, YYYY-MM")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Run ``apcfair synth``."""
    from apcfair._io import atomic_output_dir
    from data_synth import SynthConfig, write_portfolio

    if args.end <= args.start:
        raise UserError(f"--start {args.start} --end {args.end}: the window must end after it starts")
    parts = getattr(args, "partitions", None)
    limit = MAX_ACCOUNTS * (parts or 1)
    if args.accounts > limit:
        raise UserError(f"--accounts {args.accounts:,}: at most {MAX_ACCOUNTS:,} accounts per "
                        f"{'part' if parts else 'file'}; pass --partitions {-(-args.accounts // MAX_ACCOUNTS)} or more")
    if parts is not None and parts > args.accounts:
        raise UserError(f"--partitions {parts}: more parts than --accounts {args.accounts}")
    cfg = SynthConfig(n_accounts=args.accounts, seed=args.seed, start=args.start, end=args.end)
    with atomic_output_dir(args.out) as tmp:
        if parts is None:
            paths = write_portfolio(tmp, cfg, panel=args.panel)
        else:
            from data_synth.partitioned import write_partitioned

            paths = write_partitioned(tmp, cfg, partitions=parts, panel=args.panel)
    for k in paths:
        print(f"wrote {Path(args.out) / Path(str(paths[k])).name}")
    args.summary = {"accounts": args.accounts, "seed": args.seed, "files": sorted(Path(str(v)).name
                                                                                 for v in paths.values())}
    return 0
