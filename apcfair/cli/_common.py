"""What the commands share: the parser class and help format, option validators, the
data options, the APC model options (declared once), loading, exit codes and the one
error handler.

Only the standard library is imported here at module level, so that ``apcfair --help``
stays fast; each command imports the library inside its ``run`` function.

Exit codes (also in ``apcfair --help``): see :data:`EXIT_CODES`.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import errno
import io
import json
import logging
import math
import os
import signal
import sys
import threading
import time
import traceback
import warnings
from pathlib import Path

from apcfair._optional import MissingDependencyError
from apcfair.errors import ApcfairError, FitError

# ----------------------------------------------------------------------------- exit codes
EXIT_OK = 0
#: ``audit --fail-on-gap``: the run worked and a fairness gap failed its threshold.
EXIT_GAP_FAILED = 1
#: A usage error (unknown option, value out of range) or invalid data (the data contract,
#: a refused projection): the message names the option, column or file and the fix.
EXIT_USAGE = 2
#: An input file or folder does not exist or cannot be opened.
EXIT_INPUT = 3
#: The output cannot be written (disk full, no permission).
EXIT_OUTPUT = 4
#: A model fit or computation failed on data that passed validation (or ran out of memory).
EXIT_FIT = 5
#: The environment lacks something the command needs: an optional package is not installed
#: (:class:`~apcfair._optional.MissingDependencyError`; the message names the pip command).
EXIT_SETUP = 6
#: A bug in apcfair (an unexpected error); rerun with ``-v`` for the traceback and report it.
EXIT_INTERNAL = 70
#: Interrupted by Ctrl-C (SIGINT); nothing half-written is left.
EXIT_INTERRUPTED = 130
#: Stopped by SIGTERM; nothing half-written is left.
EXIT_TERMINATED = 143

#: Every exit code of ``apcfair`` and its meaning.
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success",
    EXIT_GAP_FAILED: "audit --fail-on-gap: a fairness gap failed its threshold",
    EXIT_USAGE: "usage error or invalid data (the message names the option, column or file and the fix)",
    EXIT_INPUT: "an input file or folder is missing or cannot be opened",
    EXIT_OUTPUT: "the output cannot be written (disk full, permissions)",
    EXIT_FIT: "a model fit or computation failed (or ran out of memory)",
    EXIT_SETUP: "setup: an optional package is not installed (the message names the pip command)",
    EXIT_INTERNAL: "internal error (a bug): rerun with -v for the traceback and report it",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); no partial output is left",
    EXIT_TERMINATED: "terminated (SIGTERM); no partial output is left",
}


class UserError(Exception):
    """A mistake in the command line or the data: printed as one line, exit code 2."""

    exit_code = EXIT_USAGE


class InputFileError(UserError, FileNotFoundError):
    """An input file or folder is missing or cannot be opened: exit code 3."""

    exit_code = EXIT_INPUT


class OutputError(UserError):
    """The output cannot be written: exit code 4."""

    exit_code = EXIT_OUTPUT


#: Exceptions that are the user's to fix: printed as ``apcfair: error: ...``, exit code 2
#: (3 for a missing or unreadable input file; see :func:`classify_error`).
USER_ERRORS = (UserError, ApcfairError, ValueError, FileNotFoundError, KeyError, TypeError)


# ----------------------------------------------------------------------------- bounds
#: Largest forecast horizon in months (30 years, the longest common credit term); memory
#: and time grow with it (accounts x months x draws).
MAX_HORIZON_MONTHS = 360
#: Largest number of posterior draws (per chain) and of NUTS chains.
MAX_DRAWS = 100_000
MAX_CHAINS = 64
#: Largest synthetic portfolio (accounts).
MAX_ACCOUNTS = 5_000_000
#: Largest number of bootstrap replicates.
MAX_BOOT = 100_000
#: Default largest number of distinct groups of an audited attribute (``--max-levels``).
DEFAULT_MAX_LEVELS = 50


# ----------------------------------------------------------------------------- parser
class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Epilogs as written; every option's help ends with its default (unless it says it)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if ("default" not in text.lower() and action.option_strings and default is not argparse.SUPPRESS
                and default not in (None, False, []) and not action.required):
            text += " (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    """``argparse`` with one-line errors (``apcfair: error: ...``, exit code 2).

    An option declared without help text gets one listing its choices, so that every
    option's help states what it takes and its default.
    """

    def error(self, message):  # noqa: D102 - argparse API
        command = self.prog.split(" ", 1)[1] if " " in self.prog else ""
        where = f"{command}: " if command else ""
        self.exit(EXIT_USAGE, f"apcfair: error: {where}{message}. See `{self.prog} --help`.\n")

    def add_argument(self, *args, **kwargs):  # noqa: D102 - argparse API
        if kwargs.get("help") is None and args and str(args[0]).startswith("-") and "choices" in kwargs:
            kwargs["help"] = "one of " + ", ".join(map(str, kwargs["choices"]))
        return super().add_argument(*args, **kwargs)


def global_options(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """``-q/--quiet``, ``-v/--verbose`` and ``--json``, before or after the command name."""
    d = (lambda value: argparse.SUPPRESS) if suppress else (lambda value: value)
    parser.add_argument("-q", "--quiet", action="store_true", default=d(False),
                        help="print only warnings and errors: no progress bars, no result text")
    parser.add_argument("-v", "--verbose", action="count", default=d(0),
                        help="more detail: -v progress messages, -vv debug messages and tracebacks")
    parser.add_argument("--json", action="store_true", default=d(False),
                        help="print one JSON summary on stdout (command, exit code, error, files written, "
                             "key numbers); human-readable text goes to stderr")


_GLOBAL = Parser(add_help=False)
global_options(_GLOBAL, suppress=True)


def parser_kwargs(help_text: str, *, description: str | None = None, example: str | None = None,
                  epilog: str | None = None) -> dict:
    """Keyword arguments of ``subparsers.add_parser``: help, description, example epilog, global options."""
    if example is not None:
        epilog = f"example:\n  {example}"
    return {"help": help_text, "description": description or help_text, "epilog": epilog,
            "formatter_class": HelpFormatter, "parents": [_GLOBAL]}


# ----------------------------------------------------------------------------- validators
def bounded_int(lo: int | None = None, hi: int | None = None, *, what: str = "") -> callable:
    """An ``argparse`` ``type=``: an integer in ``[lo, hi]``, checked before any work.

    Examples
    --------
    >>> horizon = bounded_int(1, 360, what="months")
    >>> horizon("36")
    36
    >>> horizon("100000")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: 100000 is too large: at most 360 months
    """
    unit = f" {what}" if what else ""

    def parse(text: str) -> int:
        try:
            value = int(str(text).replace("_", "").replace(",", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if lo is not None and value < lo:
            raise argparse.ArgumentTypeError(f"{value} is too small: at least {lo}{unit}")
        if hi is not None and value > hi:
            raise argparse.ArgumentTypeError(f"{value} is too large: at most {hi:,}{unit}")
        return value

    parse.__name__ = "integer"
    return parse


positive_int = bounded_int(1)
positive_int.__doc__ = "An integer >= 1 (``argparse`` ``type=``)."
nonnegative_int = bounded_int(0)
nonnegative_int.__doc__ = "An integer >= 0 (``argparse`` ``type=``)."
#: ``--horizon``: 1 to :data:`MAX_HORIZON_MONTHS` months.
horizon_months = bounded_int(1, MAX_HORIZON_MONTHS, what="months")
#: ``--draws``: 10 (bands need several draws) to :data:`MAX_DRAWS`.
draws = bounded_int(10, MAX_DRAWS, what="draws")
#: ``--chains``: 1 to :data:`MAX_CHAINS`.
chains = bounded_int(1, MAX_CHAINS, what="chains")
#: ``--seed``: a non-negative integer (numpy's seeds).
seed = bounded_int(0, None)


def finite_float(text: str) -> float:
    """A finite number (``argparse`` ``type=``): not ``nan`` or ``inf``.

    Examples
    --------
    >>> finite_float("0.25")
    0.25
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (``argparse`` ``type=``)."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be greater than 0")
    return value


def fraction(text: str) -> float:
    """A share strictly between 0 and 1 (``argparse`` ``type=``), e.g. ``--approval-rate 0.8``.

    Examples
    --------
    >>> fraction("0.8")
    0.8
    >>> fraction("2")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: 2.0 is not a share: give a number between 0 and 1 (exclusive), e.g. 0.8
    """
    value = finite_float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not a share: give a number between 0 and 1 (exclusive), "
                                         "e.g. 0.8")
    return value


def probability(text: str) -> float:
    """A number in ``[0, 1]`` (``argparse`` ``type=``)."""
    value = finite_float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not a probability: give a number from 0 to 1")
    return value


def encoding(text: str) -> str:
    """A text encoding Python knows (``argparse`` ``type=``), e.g. ``latin-1`` or ``cp1252``."""
    try:
        return codecs.lookup(text).name
    except LookupError:
        raise argparse.ArgumentTypeError(f"unknown encoding {text!r}; e.g. utf-8, latin-1, cp1252") from None


def output_folder(text: str) -> str:
    """An output folder (``argparse`` ``type=``): refused before any work when it cannot be one.

    It may exist (a folder) or not; it must not be an existing file, and the nearest
    existing folder above it must be writable.
    """
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is an existing file, not a folder; give a folder path")
    parent = path
    while not parent.exists():
        if parent.parent == parent:
            break
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r}: {str(parent)!r} is a file, so no folder can be made there")
    if parent.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text!r}: no permission to write in {str(parent)!r}")
    return text


def input_folder(text: str) -> str:
    """An existing folder to read (``argparse`` ``type=``)."""
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not a folder" if path.exists() else f"no folder {text!r}")
    return text


def check_input_file(path: str, option: str = "--data") -> Path:
    """``path`` must be a readable file, a folder of Parquet files or a glob; :class:`InputFileError` otherwise."""
    p = Path(path)
    if any(ch in str(path) for ch in "*?[") and not p.exists():
        return p  # a glob of a partitioned data set: apcfair.portfolio.partitioned checks it matches
    if not p.exists():
        near = ""
        if p.parent.is_dir():
            similar = sorted(q.name for q in p.parent.iterdir() if q.suffix.lower() in {".csv", ".parquet", ".pq"})
            near = f"; data files there: {', '.join(similar[:5])}" if similar else ""
        raise InputFileError(f"{option} {path}: no such file{near}. Fix: check the path.")
    if p.is_dir() and not p.name.lower().endswith((".parquet", ".pq")) and not any(
            q.suffix.lower() in (".parquet", ".pq") for q in p.rglob("*")):
        raise InputFileError(f"{option} {path}: is a folder, not a data file. Fix: give the .csv or .parquet file "
                             "inside it.")
    if not os.access(p, os.R_OK):
        raise InputFileError(f"{option} {path}: no permission to read it. Fix: check the file's permissions.")
    return p


def add_out_argument(p: argparse.ArgumentParser, help_text: str = "output folder", *, force: bool = True,
                     **kwargs) -> None:
    """``--out`` (required; an existing file is refused before any work), ``--report`` and ``--force``.

    ``--force`` (with ``force=True``) writes into a folder that holds results of other data
    (see :data:`apcfair.layout.DATA_FINGERPRINT`).
    """
    p.add_argument("--out", required=True, type=output_folder, help=help_text, **kwargs)
    p.add_argument("--report", action="store_true",
                   help="also write OUT/report.html with this command's part of the model report")
    if force:
        p.add_argument("--force", action="store_true",
                       help="write into --out even if it holds results of other data (they would then mix in "
                            "report.html, which refuses them without --force)")


def add_data_arguments(p: argparse.ArgumentParser, required: bool = True) -> None:
    """``--data`` plus the options that say how to read it."""
    p.add_argument("--data", required=required, help="loan-level or panel data (.csv or .parquet)")
    p.add_argument("--format", default="auto", choices=["auto", "loans", "panel"],
                   help="input format (default: detect from the columns)")
    p.add_argument("--map", action="append", default=[], metavar="YOURS=OURS",
                   help="rename a column, e.g. --map acct=account_id (repeatable; the column must exist and the "
                        "new name must not)")
    p.add_argument("--freq", default="M", choices=["M", "Q"], help="monthly (M) or quarterly (Q) periods")
    p.add_argument("--on-invalid", default="raise", choices=["raise", "exclude"],
                   help="stop on invalid rows (default) or exclude them, counted in the lineage")
    p.add_argument("--date-format", action="append", default=[], metavar="[COLUMN=]FORMAT",
                   help="how dates are written, for all date columns or one (repeatable): iso, yyyymm, yyyymmdd, "
                        "quarter, dd/mm/yyyy, mm/dd/yyyy, month-name, code, excel, unix, unix_ms or a strftime "
                        "pattern (default: detected once per column and reported in the lineage)")
    p.add_argument("--encoding", type=encoding, default=None,
                   help="text encoding of a CSV file, e.g. latin-1 or cp1252 (default: UTF-8)")
    p.add_argument("--exit-column", default=None, metavar="COL",
                   help="column saying how each account leaves (default: a column named 'exit' if any): values "
                        "default, payoff, closed or censored, any case; empty = inferred. Without one, an account "
                        "without default whose last month is before the data's last month counts as paid off "
                        "(a competing exit), one still there at the end as censored")
    p.add_argument("--payoff-codes", type=split_names, default=None, metavar="C,P",
                   help="status codes of the exit column that mean paid off / closed by the borrower, e.g. "
                        "--exit-column status --payoff-codes C,P (a card panel's status C); other codes then mean "
                        "'still open'")
    p.add_argument("--closed-codes", type=split_names, default=None, metavar="X,...",
                   help="status codes of the exit column that mean closed otherwise (e.g. by the lender)")


def _file_columns(path: Path, enc: str | None) -> list[str] | None:
    """The column names of a CSV or Parquet file from its header, or ``None`` if unknown."""
    import csv
    import gzip

    from apcfair.portfolio.partitioned import dataset_files

    try:
        path = (dataset_files(path) or [path])[0]  # a partitioned data set: its first part
    except ApcfairError:
        return None
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding=enc or "utf-8-sig", newline="") as fh:
            return next(csv.reader([fh.readline()]), None)
    except Exception:  # the reader says what is wrong with the file
        return None


def parse_map(items, columns=None) -> dict[str, str]:
    """``--map YOURS=OURS`` items as a dict, checked against the file's ``columns`` when known.

    Examples
    --------
    >>> parse_map(["acct=account_id"], ["acct", "default"])
    {'acct': 'account_id'}
    >>> parse_map(["bureau_score=default"], ["bureau_score", "default"])
    Traceback (most recent call last):
    apcfair.cli._common.UserError: --map bureau_score=default: the data already have a column 'default'; map onto a new name, or drop or rename 'default' first
    """
    mapping: dict[str, str] = {}
    for item in items or ():
        if "=" not in item:
            raise UserError(f"--map {item!r}: write it as YOUR_COLUMN=CONTRACT_COLUMN")
        k, v = (x.strip() for x in item.split("=", 1))
        if not k or not v:
            raise UserError(f"--map {item!r}: write it as YOUR_COLUMN=CONTRACT_COLUMN (both names)")
        if k in mapping:
            raise UserError(f"--map {item}: {k!r} is mapped twice")
        if v in mapping.values():
            raise UserError(f"--map {item}: two columns are mapped onto {v!r}")
        mapping[k] = v
    if columns is not None:
        cols = list(columns)
        for k, v in mapping.items():
            if k not in cols:
                shown = ", ".join(map(str, cols[:20])) + (" ..." if len(cols) > 20 else "")
                raise UserError(f"--map {k}={v}: the data have no column {k!r} (columns: {shown})")
            if v != k and v in cols and v not in mapping:
                raise UserError(f"--map {k}={v}: the data already have a column {v!r}; map onto a new name, "
                                f"or drop or rename {v!r} first")
    return mapping


def parse_date_format(items) -> str | dict[str, str] | None:
    """``--date-format`` items: one format for every date column, or ``{column: format}``."""
    items = list(items or ())
    if not items:
        return None
    plain = [i for i in items if "=" not in i or i.startswith("%")]
    keyed = [i for i in items if i not in plain]
    if plain and (keyed or len(plain) > 1):
        raise UserError(f"--date-format {items}: give one FORMAT for all date columns, or COLUMN=FORMAT items")
    if plain:
        return plain[0]
    return {k.strip(): v.strip() for k, v in (i.split("=", 1) for i in keyed)}


def load_from_args(args, *, accounts: bool = False):
    """Read and validate the portfolio named by ``--data`` (file checks first, then ``--map``).

    ``--data`` is one file or a partitioned Parquet data set (a folder or a glob). With
    ``--backend dask`` (:func:`add_backend_arguments`) the parts are validated and counted as
    Dask tasks and a :class:`~apcfair.portfolio.partitioned.PartitionedPortfolio` is returned
    (lineage, ``describe()``, ``cells()``; with ``accounts=True`` also the per-account columns,
    ``to_portfolio()``); otherwise a :class:`~apcfair.portfolio.Portfolio`.
    """
    from apcfair.portfolio import load_portfolio
    from apcfair.portfolio.partitioned import (
        dataset_files,
        load_partitioned,
        load_partitioned_portfolio,
    )

    options = load_options(args)
    enc = getattr(args, "encoding", None)
    if uses_dask(args):
        with dask_client(args) as client:
            return load_partitioned(args.data, client=client, accounts=accounts, **options)
    if dataset_files(args.data) is not None:
        return load_partitioned_portfolio(args.data, **options)
    return load_portfolio(args.data, encoding=enc, **options)


def load_options(args) -> dict:
    """The reading options of ``--data`` (file checks first, then ``--map``), as :func:`load_from_args` uses them."""
    path = check_input_file(args.data, "--data")
    mapping = parse_map(args.map, _file_columns(path, getattr(args, "encoding", None)) if args.map else None)
    return {"format": args.format, "columns": mapping, "freq": args.freq, "on_invalid": args.on_invalid,
            "date_format": parse_date_format(getattr(args, "date_format", None)), **exit_options(args)}


def uses_dask(args) -> bool:
    """Whether ``--backend dask`` (or ``--scheduler``) was given."""
    return getattr(args, "backend", "memory") == "dask" or bool(getattr(args, "scheduler", None))


def add_backend_arguments(p: argparse.ArgumentParser) -> None:
    """``--backend memory|dask``, ``--workers N`` and ``--scheduler ADDRESS`` (where the data passes run)."""
    g = p.add_argument_group("where it runs (large or partitioned data)")
    g.add_argument("--backend", default="memory", choices=["memory", "dask"],
                   help="memory (default): read everything into this process; dask: validate and count cells part "
                        "by part of a partitioned Parquet data set (--data a folder or glob) as Dask tasks, "
                        "gathering only lineage, cells and counts (needs the dask extra: "
                        'pip install "apcfair[dask]")')
    g.add_argument("--workers", type=bounded_int(1, 1024, what="workers"), default=2,
                   help="worker processes of the local Dask cluster started for --backend dask (default 2; one "
                        "thread each)")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="use an existing Dask cluster, e.g. tcp://10.0.0.5:8786, instead of starting a local one "
                        "(implies --backend dask)")


@contextlib.contextmanager
def dask_client(args):
    """A ``dask.distributed`` client for ``--backend dask``: the ``--scheduler`` cluster or a local one."""
    from apcfair._optional import require

    distributed = require("dask.distributed", "--backend dask")
    logging.getLogger("distributed").setLevel(logging.ERROR)
    if getattr(args, "scheduler", None):
        try:
            client = distributed.Client(args.scheduler, timeout=30)
        except (OSError, ValueError) as exc:
            raise UserError(f"--scheduler {args.scheduler}: cannot connect to a Dask scheduler there ({_one_line(str(exc))}). "
                            "Fix: check the address (tcp://HOST:PORT) and that the scheduler runs, or leave "
                            "--scheduler out to start a local cluster (--workers N)") from None
        with client:
            yield client
        return
    with distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        yield client


def exit_options(args) -> dict:
    """``exit_column`` / ``exit_codes`` for :func:`~apcfair.portfolio.load_portfolio` from
    ``--exit-column``, ``--payoff-codes`` and ``--closed-codes``.

    Examples
    --------
    >>> import argparse
    >>> exit_options(argparse.Namespace(exit_column="status", payoff_codes=["C", "P"], closed_codes=None))
    {'exit_column': 'status', 'exit_codes': {'C': 'payoff', 'P': 'payoff'}}
    >>> exit_options(argparse.Namespace())
    {}
    """
    codes = {c: "payoff" for c in getattr(args, "payoff_codes", None) or ()}
    codes.update({c: "closed" for c in getattr(args, "closed_codes", None) or ()})
    out = {}
    if getattr(args, "exit_column", None):
        out["exit_column"] = args.exit_column
    if codes:
        out["exit_codes"] = codes
    return out


def data_options(args) -> dict:
    """The options that shape the portfolio read from ``--data`` (part of its fingerprint)."""
    out = {k: getattr(args, k) for k in ("format", "map", "freq", "on_invalid", "date_format", "encoding")
           if hasattr(args, k)}
    # exit options only when given, so fingerprints of runs without them are unchanged
    out.update({k: v for k in ("exit_column", "payoff_codes", "closed_codes") if (v := getattr(args, k, None))})
    return out


def split_names(text: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]`` (comma-separated names of an option)."""
    return [c.strip() for c in str(text).split(",") if c.strip()]


def show_progress(args) -> bool:
    """Progress bars only on a terminal, and not with ``--quiet`` or ``--json``."""
    if getattr(args, "quiet", False) or getattr(args, "json", False):
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


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
    "--period-slope": ({"type": finite_float, "default": 0.0,
                        "help": "environment slope per period with fixed_period_slope"}, "period_slope"),
    "--likelihood": ({"default": None, "choices": ["binomial", "poisson"],
                      "help": "default by input: binomial for accounts at risk (--data), Poisson for an "
                              "events/exposure table (--cells)"}, "likelihood"),
    "--rw-order": ({"type": int, "default": 2, "choices": [1, 2],
                  "help": "order of the random-walk priors: 2 smooths slopes (default), 1 levels"}, "rw_order"),
    "--overdispersion": ({"action": "store_true", "help": "add a cell-level random effect"}, "overdispersion"),
    "--draws": ({"type": draws, "default": 1000, "help": "posterior draws (per chain for NUTS)"}, "n_draws"),
    "--chains": ({"type": chains, "default": 4, "help": "NUTS chains"}, "nuts_chains"),
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
    if params.get("period_slope") and params.get("identification") != "fixed_period_slope":
        raise UserError(f"--period-slope {params['period_slope']} is used only with --identification "
                        "fixed_period_slope; add that option or drop the slope")
    return APCModel(**params, random_state=args.seed, progress=progress and show_progress(args))


def load_apc_result(path: str, *, attrition: bool = False):
    """The APC result of ``--apc``: a folder written by ``apcfair apc --out DIR`` or the file itself.

    A file that is not an APC result written by apcfair (random bytes, another netCDF
    file, damaged metadata) is refused with one line naming it and the fix. With
    ``attrition=True`` the pair ``(result, attrition)`` is returned: the attrition fit
    (exits other than default) from ``apc_attrition_result.nc`` beside it, checked the same
    way, or ``None`` when the folder has none.
    """
    from apcfair import layout

    p = Path(path)
    if p.is_dir():
        p = p / layout.APC_RESULT
    if not p.exists():
        raise InputFileError(f"--apc {path}: {str(p)!r} does not exist (run `apcfair apc --out DIR` first)")
    result = _load_apc_file(path, p)
    if not attrition:
        return result
    q = p.parent / layout.APC_ATTRITION_RESULT
    return result, (_load_apc_file(path, q) if q.exists() else None)


def _load_apc_file(path: str, p: Path):
    """One APC result file of ``--apc path``, refused with the fix when foreign, damaged or not finite."""
    from apcfair.apc import APCResult

    try:
        result = APCResult.load(p)
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # xarray/scipy/json raise many types for a foreign or damaged file
        what = f"{type(exc).__name__}: {str(exc)[:120]}" if str(exc) else type(exc).__name__
        raise UserError(f"--apc {path}: {str(p)!r} is not an APC result written by apcfair ({what}). Fix: "
                        "rerun `apcfair apc --out DIR` and pass that folder") from None
    import numpy as np  # light once the result is loaded

    bad = [name for name, draws in result.draws.items() if not np.isfinite(np.asarray(draws, float)).all()]
    if bad:  # checked before any work: a projection from NaN draws would be an all-null result
        raise UserError(f"--apc {path}: the draws of {', '.join(sorted(bad))} in {str(p)!r} are not all finite "
                        "(a damaged or failed fit). Fix: rerun `apcfair apc --out DIR` and pass that folder")
    return result


# ----------------------------------------------------------------------------- data fingerprint
def data_fingerprint(args) -> dict | None:
    """What the results of this run come from: ``--data``'s content hash and the reading options."""
    data = getattr(args, "data", None)
    if not data or not Path(data).exists():
        return None
    from apcfair._io import file_fingerprint

    fp = file_fingerprint(data)
    options = data_options(args)
    key = json.dumps([fp["bytes"], fp["blake2b"], options], sort_keys=True, default=str)
    import hashlib

    return {**fp, "options": options, "key": hashlib.blake2b(key.encode(), digest_size=8).hexdigest()}


def read_fingerprints(folder: str | Path) -> list[dict]:
    """The data sets recorded in ``folder``'s fingerprint file (empty when none or unreadable)."""
    from apcfair import layout

    path = Path(folder) / layout.DATA_FINGERPRINT
    try:
        content = json.loads(path.read_text())
        return [d for d in content.get("datasets", []) if isinstance(d, dict) and "key" in d]
    except (OSError, ValueError, AttributeError, RecursionError):
        return []


def _describe(d: dict) -> str:
    cmds = ", ".join(sorted(set(d.get("commands", [])))) or "?"
    return f"{d.get('path')} ({d.get('bytes', 0):,} bytes, blake2b {str(d.get('blake2b'))[:12]}, by apcfair {cmds})"


def check_no_mix(folder: str | Path, *, force: bool = False, option: str = "--out") -> None:
    """Refuse a report over results of more than one data set (unless ``force``)."""
    sets = read_fingerprints(folder)
    if len(sets) > 1 and not force:
        listed = "; ".join(_describe(d) for d in sets)
        raise UserError(f"{option} {folder} holds results of {len(sets)} different data sets ({listed}); a report "
                        "would mix them. Fix: rerun the commands on one data set into a new folder, or pass --force")


def _check_out_data(args, fp: dict | None) -> None:
    """Before any work: refuse to write results of other data into a folder (unless ``--force``)."""
    out = getattr(args, "out", None)
    if fp is None or not out or getattr(args, "force", None) is None:
        return
    others = [d for d in read_fingerprints(out) if d["key"] != fp["key"]]
    if others and not args.force:
        raise UserError(f"--out {out} already holds results of other data: {_describe(others[0])}; this run reads "
                        f"{fp['path']} ({fp['bytes']:,} bytes, blake2b {fp['blake2b'][:12]}). Fix: choose a new "
                        "--out folder, or pass --force to write here anyway")


def _snapshot(folder) -> dict[str, tuple[int, int]]:
    try:
        return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in Path(folder).iterdir() if p.is_file()}
    except OSError:
        return {}


def _record_data(args, fp: dict | None, before: dict, after: dict) -> list[str]:
    """Record which files this run wrote from which data in ``--out``'s fingerprint file."""
    from apcfair import layout

    written = sorted(k for k, v in after.items() if before.get(k) != v and k != layout.DATA_FINGERPRINT)
    out = getattr(args, "out", None)
    if fp is None or not out or not written or not Path(out).is_dir():
        return written
    sets = []
    for d in read_fingerprints(out):
        d["files"] = [f for f in d.get("files", []) if f not in written and f in after]
        if d["key"] == fp["key"]:
            fp = {**fp, "files": d["files"], "commands": d.get("commands", [])}
        elif d["files"]:
            sets.append(d)
    mine = {**fp, "files": sorted({*fp.get("files", []), *written}),
            "commands": sorted({*fp.get("commands", []), args.command})}
    doc = {"definition": "the data each result file in this folder was computed from: path, size in bytes, "
                         "BLAKE2b-128 hash of the file's bytes and the reading options; `apcfair report` refuses "
                         "a folder with more than one data set", "datasets": [mine, *sets]}
    from apcfair._io import write_json

    write_json(Path(out) / layout.DATA_FINGERPRINT, doc)
    return written


# ----------------------------------------------------------------------------- errors
class Terminated(BaseException):
    """SIGTERM, turned into an exception so that temporary folders are removed."""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _os_message(exc: OSError) -> str:
    name = exc.filename or ""
    reason = exc.strerror or str(exc)
    return f"{name!s}: {reason}" if name else reason


def classify_error(exc: BaseException, args=None) -> tuple[int, str] | None:
    """``(exit code, one-line message)`` for an exception, or ``None`` to let it propagate."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, "interrupted; no partial output was left behind"
    if isinstance(exc, Terminated):
        return EXIT_TERMINATED, "terminated (SIGTERM); no partial output was left behind"
    if isinstance(exc, SystemExit | GeneratorExit):
        return None
    if isinstance(exc, UserError):
        return exc.exit_code, _one_line(exc)
    if isinstance(exc, FitError):
        return EXIT_FIT, _one_line(exc)
    if isinstance(exc, MissingDependencyError):
        return EXIT_SETUP, _one_line(exc)
    if isinstance(exc, MemoryError):
        return EXIT_FIT, ("out of memory. Fix: use a smaller --horizon, --draws or portfolio (or a machine with "
                          "more memory)")
    if isinstance(exc, RecursionError):
        return EXIT_USAGE, ("an input is nested too deeply to read (a damaged or hostile JSON or model file?). "
                            "Fix: regenerate the file with apcfair")
    if isinstance(exc, OSError):
        out = str(getattr(args, "out", "") or "")
        writing = exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG) or bool(
            out and exc.filename and str(Path(exc.filename).resolve()).startswith(str(Path(out).resolve().parent)))
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return EXIT_OUTPUT, (f"no space left on the device while writing {exc.filename or out}; nothing was "
                                 "written. Fix: free space or choose another --out folder")
        if writing or isinstance(exc, NotADirectoryError) and out:
            return EXIT_OUTPUT, f"cannot write {_os_message(exc)}. Fix: choose another --out folder"
        if isinstance(exc, IsADirectoryError):
            return EXIT_INPUT, f"{_os_message(exc)}: a folder where a file was expected. Fix: give the file's path"
        if isinstance(exc, FileNotFoundError) and not exc.filename:
            return EXIT_INPUT, _one_line(exc)
        return EXIT_INPUT, f"cannot read {_os_message(exc)}. Fix: check the path and its permissions"
    if isinstance(exc, UnicodeError):
        return EXIT_USAGE, f"a text file is not in the expected encoding ({_one_line(exc)[:160]}). Fix: --encoding"
    name = type(exc).__name__
    if name in ("LinAlgError", "SamplingError", "FloatingPointError") or isinstance(exc, FloatingPointError):
        return EXIT_FIT, (f"the model fit failed ({name}: {_one_line(exc)[:200]}). Fix: check that the data have "
                          "defaults in enough vintages and ages, or try another --engine")
    if isinstance(exc, KeyError):
        return EXIT_USAGE, f"missing column or key {exc.args[0]!r}" if exc.args else "missing column or key"
    if isinstance(exc, ApcfairError | ValueError | TypeError):
        return EXIT_USAGE, _one_line(exc) or name
    if isinstance(exc, Exception):
        return EXIT_INTERNAL, (f"internal error ({name}: {_one_line(exc)[:200]}). Rerun with -v for the "
                               "traceback and report it")
    return None


def _end_progress_line() -> None:
    """Close open progress bars so that an error starts on its own line."""
    tqdm = sys.modules.get("tqdm")
    if tqdm is not None:
        for bar in list(getattr(tqdm.tqdm, "_instances", ())):
            with contextlib.suppress(Exception):
                bar.close()
    with contextlib.suppress(Exception):
        if sys.stderr.isatty():
            sys.stderr.write("\r\033[K")


@contextlib.contextmanager
def _sigterm_as_exception():
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(signum)

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):  # not allowed here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _logging(args, stream):
    """The ``apcfair`` logger at the level of ``-q``/``-v``; warnings as ``apcfair: warning: ...`` lines."""
    verbose = getattr(args, "verbose", 0) or 0
    level = logging.WARNING if getattr(args, "quiet", False) or not verbose else (
        logging.INFO if verbose == 1 else logging.DEBUG)
    logger = logging.getLogger("apcfair")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("apcfair: %(levelname)s: %(message)s"))
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    seen: list[str] = []

    def show(message, category, filename, lineno, file=None, line=None):
        text = _one_line(message)
        seen.append(text)
        print(f"apcfair: warning: {text}", file=stream)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = show
            yield seen
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed command (and ``--report``) under the one error handler.

    Every failure prints one line ``apcfair: error: ...`` on stderr (its own line, after any
    progress bar) and returns its exit code (:data:`EXIT_CODES`); tracebacks only with
    ``-vv`` or for internal errors with ``-v``. Human-readable text goes to stdout, to
    stderr with ``--json`` (stdout then holds one JSON summary) and nowhere with ``-q`` (also
    with ``--json``).
    """
    stderr, stdout = sys.stderr, sys.stdout
    want_json = bool(getattr(args, "json", False))
    # -q silences the text whatever else is asked (with --json the summary still goes to stdout)
    human = io.StringIO() if getattr(args, "quiet", False) else (stderr if want_json else stdout)
    started = time.perf_counter()
    args.summary = {}
    code, message, written, fp = EXIT_OK, None, [], None
    with _logging(args, stderr) as seen_warnings, _sigterm_as_exception():
        try:
            with contextlib.redirect_stdout(human):
                fp = data_fingerprint(args)
                _check_out_data(args, fp)
                before = _snapshot(args.out) if getattr(args, "out", None) else {}
                code = int(args.func(args) or 0)
                if code in (EXIT_OK, EXIT_GAP_FAILED) and getattr(args, "out", None):
                    written = _record_data(args, fp, before, _snapshot(args.out))
                if code == EXIT_OK and getattr(args, "report", False):
                    from apcfair.report import write_report

                    check_no_mix(args.out, force=bool(getattr(args, "force", False)))
                    print(f"wrote {write_report(args.out)}")
        except BaseException as exc:  # noqa: BLE001 - the one place that turns errors into exit codes
            found = classify_error(exc, args)
            if found is None:
                raise
            code, message = found
            _end_progress_line()
            verbose = getattr(args, "verbose", 0) or 0
            if verbose >= 2 or (verbose and code in (EXIT_INTERNAL, EXIT_FIT)):
                traceback.print_exception(exc, file=stderr)
            print(f"apcfair: error: {message}", file=stderr)
    if want_json:
        summary = {"command": getattr(args, "command", None), "exit_code": code,
                   "status": "ok" if code in (EXIT_OK, EXIT_GAP_FAILED) else "error", "error": message,
                   "meaning": EXIT_CODES.get(code), "warnings": seen_warnings,
                   "out": getattr(args, "out", None), "files_written": written,
                   "data": None if fp is None else {k: fp[k] for k in ("path", "bytes", "blake2b")},
                   "seconds": round(time.perf_counter() - started, 3), "summary": args.summary}
        from apcfair._io import to_jsonable

        print(json.dumps(to_jsonable(summary)), file=stdout)
    return code
