"""``apcfair experiment``: a grid over synthetic worlds × seeds of the unbiased-by-design procedure."""

from __future__ import annotations

from pathlib import Path

from apcfair.cli import _common as opt
from apcfair.cli._common import UserError, parser_kwargs

EXAMPLE = ("apcfair experiment --grid protected_effect.minority=0,0.3,0.8 --grid proxy_strength=0,0.5,1 "
           "--seeds 5 --accounts 50000 --out experiment/ --jobs 2\n  apcfair experiment --bootstrap 200 --data book.csv "
           "--outcome default --restricted age,foreign_worker --credit status,duration,amount --out boot/")


def add_parser(sub):
    """Register ``experiment``."""
    p = sub.add_parser("experiment", **parser_kwargs(
        "Map what zeroing the restricted term buys and costs over a grid of synthetic worlds x seeds.",
        example=EXAMPLE))
    p.add_argument("--grid", action="append", default=[], metavar="KNOB=v1,v2,...",
                   help="a data_synth SynthConfig knob and its values (repeat for more knobs; dotted for a "
                        "mapping key, e.g. protected_effect.minority=0,0.8)")
    p.add_argument("--set", action="append", default=[], dest="fixed", metavar="KNOB=v",
                   help="hold a knob at one value in every cell (repeatable)")
    p.add_argument("--seeds", type=opt.positive_int, default=None, help="seeds per cell (default 3)")
    p.add_argument("--accounts", type=opt.bounded_int(500, 5_000_000, what="accounts"), default=None, help="accounts per portfolio (default 20,000)")
    p.add_argument("--jobs", type=opt.positive_int, default=None, help="parallel processes (default 1)")
    p.add_argument("--gbm", action="store_true", default=None, help="also fit the boosted-tree models")
    p.add_argument("--settings", default=None, metavar="FILE",
                   help="JSON settings file: {\"grid\": {knob: [values]}, \"fixed\": {...}, \"seeds\", "
                        "\"accounts\", \"jobs\", \"procedure\": {UnbiasedByDesign settings}}; options override it")
    p.add_argument("--out", required=True, help="output folder (resumable: finished cells x seeds are kept)")
    p.add_argument("--no-plots", action="store_true", help="skip the plots")
    b = p.add_argument_group("real book (bootstrap)", "instead of the synthetic grid: bootstrap replicates of one "
                             "real book (no truth: the spread of costs and dependence changes). With --outcome: a "
                             "static book (one row per account, binary outcome, no APC offset), fitted in bag and "
                             "evaluated out of bag. With --holdout-from: a loan-level book, the full procedure "
                             "with the time split")
    b.add_argument("--bootstrap", type=opt.bounded_int(2, 100_000, what="bootstrap"), default=None, metavar="N",
                   help="bootstrap replicates of --data")
    b.add_argument("--data", default=None, metavar="FILE", help="CSV or Parquet file, one row per account")
    b.add_argument("--outcome", default=None, metavar="COL", help="0/1 outcome column, 1 = default (unfavourable)")
    b.add_argument("--restricted", type=_cols, default=None, help="comma-separated restricted (protected) inputs")
    b.add_argument("--credit", type=_cols, default=None, help="comma-separated credit inputs")
    b.add_argument("--protected", type=_cols, default=None,
                   help="attributes to measure dependence on (default: the restricted inputs)")
    b.add_argument("--categorical", type=_cols, default=[], help="numeric-coded inputs to treat as categories")
    b.add_argument("--seed", type=opt.bounded_int(0, None, what="seed"), default=0, help="bootstrap seed")
    b.add_argument("--holdout-from", default=None, metavar="YYYY-MM",
                   help="loan-level book (no --outcome): the full procedure with APC offsets on each replicate, "
                        "estimated on vintages before this one and evaluated on the later ones")
    p.set_defaults(func=run)
    return p


def _cols(text: str) -> list[str]:
    import argparse

    cols = [c.strip() for c in text.split(",") if c.strip()]
    if not cols:
        raise argparse.ArgumentTypeError("give at least one column name")
    return cols


def run_bootstrap_from_args(args) -> int:
    """``apcfair experiment --bootstrap N --data FILE ...``: the real-book experiment."""
    from apcfair.experiment.bootstrap import run_bootstrap
    from apcfair.portfolio import read_table

    needed = {"--data": args.data, "--outcome or --holdout-from": args.outcome or args.holdout_from,
              "--restricted": args.restricted, "--credit": args.credit}
    missing = [k for k, v in needed.items() if not v]
    if missing:
        raise UserError(f"--bootstrap needs {', '.join(missing)}")
    clash = [k for k, v in {"--grid": args.grid, "--set": args.fixed, "--seeds": args.seeds,
                            "--accounts": args.accounts, "--gbm": args.gbm, "--settings": args.settings}.items() if v]
    if clash:
        raise UserError(f"--bootstrap runs on --data; {', '.join(clash)} belong to the synthetic grid: drop them")
    if args.outcome and args.holdout_from:
        raise UserError("--outcome (a static book) and --holdout-from (a loan-level book) exclude each other")
    path = opt.check_input_file(args.data)
    quiet = bool(getattr(args, "quiet", False))
    common = {"restricted": args.restricted, "credit": args.credit, "protected": args.protected,
              "n_boot": args.bootstrap, "seed": args.seed, "jobs": args.jobs or 1, "progress": not quiet,
              "source": str(path)}
    if args.outcome:
        res = run_bootstrap(read_table(path), args.out, outcome=args.outcome, categorical=args.categorical, **common)
    else:
        from apcfair.experiment.bootstrap import run_bootstrap_portfolio

        res = run_bootstrap_portfolio(read_table(path), args.out, holdout_from=args.holdout_from, **common)
    written = [res["parquet"], res["json"], res["proxy"]]
    if not args.no_plots:
        from apcfair.experiment.plots import write_bootstrap_plot

        written += write_bootstrap_plot(res["table"], res["summary"]["settings"].get("protected")
                                        or res["summary"]["settings"]["procedure"]["protected"], args.out)
    if not quiet:
        print(f"ran {res['ran']} bootstrap replicate(s), kept {res['skipped']} finished earlier; "
              f"{res['wall_seconds']:.1f} s")
        for w in written:
            print(f"wrote {w}")
    return 0


def settings_from_args(args) -> tuple:
    """``(ExperimentGrid, jobs, procedure settings)`` from the options and settings file."""
    import json

    from apcfair.experiment import ExperimentGrid
    from apcfair.experiment.grid import parse_grid_option

    file: dict = {}
    if args.settings:
        path = Path(args.settings)
        if not path.is_file():
            raise UserError(f"--settings {args.settings}: no such file")
        try:
            file = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise UserError(f"--settings {args.settings}: not JSON ({e})") from None
        unknown = sorted(set(file) - {"grid", "fixed", "seeds", "accounts", "jobs", "procedure"})
        if unknown:
            raise UserError(f"--settings {args.settings}: unknown key(s) {unknown}; allowed: grid, fixed, seeds, "
                            "accounts, jobs, procedure")
    grid = {k: list(v) if isinstance(v, list) else [v] for k, v in (file.get("grid") or {}).items()}
    grid.update(dict(parse_grid_option(t) for t in args.grid))
    fixed = dict(file.get("fixed") or {})
    for t in args.fixed:
        knob, values = parse_grid_option(t)
        if len(values) != 1:
            raise UserError(f"--set {t!r}: one value only")
        fixed[knob] = values[0]
    seeds = args.seeds if args.seeds is not None else file.get("seeds", 3)
    accounts = args.accounts if args.accounts is not None else file.get("accounts", 20_000)
    jobs = args.jobs if args.jobs is not None else file.get("jobs", 1)
    if int(jobs) < 1:
        raise UserError(f"--jobs {jobs}: must be at least 1")
    procedure = dict(file.get("procedure") or {})
    if args.gbm:
        procedure["gbm"] = True
    return ExperimentGrid(grid, seeds=int(seeds), accounts=int(accounts), fixed=fixed), int(jobs), procedure


def run(args) -> int:
    """Run ``apcfair experiment``."""
    from apcfair.experiment import run_experiment

    if args.bootstrap is not None:
        return run_bootstrap_from_args(args)
    if args.data or args.outcome:
        raise UserError("--data/--outcome are for the real-book experiment: add --bootstrap N")

    grid, jobs, procedure = settings_from_args(args)  # validated before any work
    quiet = bool(getattr(args, "quiet", False))
    res = run_experiment(grid, args.out, jobs=jobs, procedure=procedure, progress=not quiet)
    written = [res["parquet"], res["json"]]
    if not args.no_plots:
        from apcfair.experiment.plots import write_plots

        written += write_plots(res["table"], grid, args.out)
    if not quiet:
        print(f"ran {res['ran']} cell x seed run(s), kept {res['skipped']} finished earlier; "
              f"{res['wall_seconds']:.1f} s")
        for w in written:
            print(f"wrote {w}")
    return 0
