"""``apcfair experiment``: a grid over synthetic worlds × seeds of the unbiased-by-design procedure."""

from __future__ import annotations

from pathlib import Path

from apcfair.cli import _common as opt
from apcfair.cli._common import UserError, parser_kwargs

EXAMPLE = ("apcfair experiment --grid protected_effect.minority=0,0.3,0.8 --grid proxy_strength=0,0.5,1 "
           "--seeds 5 --accounts 50000 --out experiment/ --jobs 2")


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
    p.set_defaults(func=run)
    return p


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
