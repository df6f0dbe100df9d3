"""What the commands share: parser settings, the data options, the APC model options
(declared once), loading, user errors and the one error handler.

Only the standard library is imported here at module level, so that ``apcfair --help``
stays fast; each command imports the library inside its ``run`` function.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from apcfair.errors import ApcfairError


class UserError(Exception):
    """A mistake in the command line or the data: printed as one line."""


#: Exceptions that are the user's to fix: printed as ``apcfair: error: ...``, exit code 2.
USER_ERRORS = (UserError, ApcfairError, ValueError, FileNotFoundError, KeyError)


def parser_kwargs(help_text: str, *, description: str | None = None, example: str | None = None,
                  epilog: str | None = None) -> dict:
    """Keyword arguments of ``subparsers.add_parser``: help, description and an example epilog."""
    if example is not None:
        epilog = f"example:\n  {example}"
    return {"help": help_text, "description": description or help_text, "epilog": epilog,
            "formatter_class": argparse.RawDescriptionHelpFormatter}


def add_out_argument(p: argparse.ArgumentParser, help_text: str = "output folder", **kwargs) -> None:
    """``--out`` (required) and ``--report`` (also write the command's part of the report)."""
    p.add_argument("--out", required=True, help=help_text, **kwargs)
    p.add_argument("--report", action="store_true",
                   help="also write OUT/report.html with this command's part of the model report")


def add_data_arguments(p: argparse.ArgumentParser, required: bool = True) -> None:
    """``--data`` plus the options that say how to read it."""
    p.add_argument("--data", required=required, help="loan-level or panel data (.csv or .parquet)")
    p.add_argument("--format", default="auto", choices=["auto", "loans", "panel"],
                   help="input format (default: detect from the columns)")
    p.add_argument("--map", action="append", default=[], metavar="YOURS=OURS",
                   help="rename a column, e.g. --map acct=account_id (repeatable)")
    p.add_argument("--freq", default="M", choices=["M", "Q"], help="monthly (M) or quarterly (Q) periods")
    p.add_argument("--on-invalid", default="raise", choices=["raise", "exclude"],
                   help="stop on invalid rows (default) or exclude them, counted in the lineage")


def load_from_args(args):
    """Read and validate the portfolio named by ``--data``."""
    from apcfair.portfolio import load_portfolio

    mapping = {}
    for item in args.map:
        if "=" not in item:
            raise UserError(f"--map {item!r}: write it as YOUR_COLUMN=CONTRACT_COLUMN")
        k, v = item.split("=", 1)
        mapping[k.strip()] = v.strip()
    return load_portfolio(args.data, format=args.format, columns=mapping, freq=args.freq,
                          on_invalid=args.on_invalid)


def split_names(text: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]`` (comma-separated names of an option)."""
    return [c.strip() for c in str(text).split(",") if c.strip()]


# ----------------------------------------------------------------------------- APC options
#: The APC model options: option -> (argparse keywords, APCModel parameter). Declared once
#: for every command that fits the APC model.
APC_OPTIONS: dict[str, tuple[dict, str]] = {
    "--engine": ({"default": "laplace", "choices": ["laplace", "nuts", "ml"],
                  "help": "fast Laplace (default), exact NUTS (PyMC) or classical ML"}, "engine"),
    "--identification": ({"default": "no_period_trend",
                          "choices": ["no_period_trend", "no_vintage_trend", "fixed_period_slope"],
                          "help": "how the unidentified linear trend is allocated (default: no trend in the "
                                  "environment)"}, "identification"),
    "--period-slope": ({"type": float, "default": 0.0,
                        "help": "environment slope per period with fixed_period_slope"}, "period_slope"),
    "--likelihood": ({"default": "binomial", "choices": ["binomial", "poisson"]}, "likelihood"),
    "--rw-order": ({"type": int, "default": 2, "choices": [1, 2]}, "rw_order"),
    "--overdispersion": ({"action": "store_true", "help": "add a cell-level random effect"}, "overdispersion"),
    "--draws": ({"type": int, "default": 1000, "help": "posterior draws (per chain for NUTS)"}, "n_draws"),
    "--chains": ({"type": int, "default": 4, "help": "NUTS chains"}, "nuts_chains"),
}


def _dest(option: str) -> str:
    return option.lstrip("-").replace("-", "_")


def add_apc_arguments(p: argparse.ArgumentParser, options=tuple(APC_OPTIONS), *, note: str | None = None) -> None:
    """Add the APC model ``options`` (default all of :data:`APC_OPTIONS`) to ``p``.

    ``note`` is appended to each help text (e.g. when the options apply only when fitting).
    """
    for option in options:
        kwargs = dict(APC_OPTIONS[option][0])
        if note:
            kwargs["help"] = f"{kwargs['help']}; {note}" if "help" in kwargs else note
        p.add_argument(option, **kwargs)


def apc_model_from_args(args, *, progress: bool = False):
    """The ``APCModel`` with the APC options the command declared (the others at their defaults)."""
    from apcfair.apc import APCModel

    params = {param: getattr(args, _dest(option)) for option, (_, param) in APC_OPTIONS.items()
              if hasattr(args, _dest(option))}
    return APCModel(**params, random_state=args.seed, progress=progress)


def load_apc_result(path: str):
    """The APC result of ``--apc``: a folder written by ``apcfair apc --out DIR`` or the file itself."""
    from apcfair import layout
    from apcfair.apc import APCResult

    p = Path(path)
    if p.is_dir():
        p = p / layout.APC_RESULT
    if not p.exists():
        raise FileNotFoundError(f"--apc {path}: {str(p)!r} does not exist (run `apcfair apc --out DIR` first)")
    return APCResult.load(p)


# ----------------------------------------------------------------------------- errors
def run_command(args: argparse.Namespace) -> int:
    """Run the parsed command (and ``--report``); a user mistake prints one line and returns 2."""
    try:
        code = int(args.func(args) or 0)
        if code == 0 and getattr(args, "report", False):
            from apcfair.report import write_report

            print(f"wrote {write_report(args.out)}")
        return code
    except USER_ERRORS as exc:
        msg = str(exc).strip().replace("\n", " ")
        print(f"apcfair: error: {msg}", file=sys.stderr)
        return 2
