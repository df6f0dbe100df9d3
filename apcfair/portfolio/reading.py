"""Reading CSV and Parquet files without losing information, and saying how each column was typed.

CSV files are read as text and each column is then typed by rules that never lose
information (pandas' own inference turns zip code ``04872`` into the number 4872 and
account ids with a missing value into floats):

* digit strings with a leading zero anywhere in the column (``04872``): **text**;
* a name that marks a code (``zip``, ``zip5``, ``zipcode``, ``postcode``, ``postal_code``,
  ``fips``, ``geoid``, ``tract``, ``ssn``, ``iban``): **text**;
* a name that marks an identifier (``id``, ``account_id``, ``customer_key``,
  ``loan_number`` ...): **integer** if every value is a plain integer, else **text**
  (never a float);
* otherwise integers (no missing values) are **integer**, numbers **number** (float),
  ``True``/``False`` **boolean** and anything else **text**; integers too long for 64
  bits stay text.

A CSV file and a Parquet file of the same table therefore give the same frame. Empty
files, header-only files, non-UTF-8 text, directories and unreadable files raise one
:class:`~apcfair.errors.DataValidationError` naming the path and the fix.
"""

from __future__ import annotations

import csv
import gzip
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from apcfair.errors import DataValidationError

_CODE_WORD = re.compile(r"^(zip\d*|zipcode|postcode|postal|fips|geoid|tract|ssn|iban)$")
_ID_WORDS = {"id", "ids", "key", "uuid", "account", "acct", "number", "no", "nr"}
_SEPARATORS = (",", ";", "\t", "|")
_SAMPLE = 200
_INT = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class ReadInfo:
    """How a file was read: column types, encoding and separator notes."""

    column_types: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def _words(name) -> list[str]:
    s = re.sub(r"([a-z])([A-Z])", r"\1_\2", str(name)).lower()
    return [w for w in re.split(r"[^a-z0-9]+", s) if w]


def identifier_kind(name) -> str | None:
    """``"code"`` (always text), ``"id"`` (integer or text, never float) or ``None``.

    Parameters
    ----------
    name : str
        A column name.

    Returns
    -------
    str or None

    Examples
    --------
    >>> from apcfair.portfolio.reading import identifier_kind
    >>> identifier_kind("zip5"), identifier_kind("account_id"), identifier_kind("bureau_score")
    ('code', 'id', None)
    >>> identifier_kind("postal_code"), identifier_kind("customerId"), identifier_kind("paid")
    ('code', 'id', None)
    """
    words = _words(name)
    if any(_CODE_WORD.match(w) for w in words):
        return "code"
    if words and words[-1] in _ID_WORDS:
        return "id"
    return None


def type_text_column(name, raw: pd.Series) -> tuple[pd.Series, str]:
    """Type one column read as text (see the module docstring for the rules).

    Parameters
    ----------
    name : str
        Column name (decides identifier handling).
    raw : pandas.Series
        Text values with ``NaN`` for missing ones.

    Returns
    -------
    (pandas.Series, str)
        The typed column and how it was typed (``"integer"``, ``"number"``,
        ``"boolean"``, ``"text"``, with the reason in brackets where a rule applied).

    Examples
    --------
    >>> import pandas as pd
    >>> from apcfair.portfolio.reading import type_text_column
    >>> type_text_column("branch", pd.Series(["04872", "12345"]))[1]
    "text (leading zeros kept, e.g. '04872')"
    >>> s, how = type_text_column("account_id", pd.Series(["7", "12", None]))
    >>> s.tolist(), how
    (['7', '12', nan], 'text (identifier with missing values)')
    >>> s, how = type_text_column("score", pd.Series(["1.5", None]))
    >>> s.tolist(), how
    ([1.5, nan], 'number')
    """
    col = pa.array(raw.astype(object).where(raw.notna(), None).to_numpy(), type=pa.string())
    values, how = _type_arrow(name, col)
    return pd.Series(values, index=raw.index, name=raw.name), how


def _all(mask) -> bool:
    return bool(pc.all(mask).as_py() is not False)


def _any(mask) -> bool:
    return bool(pc.any(mask).as_py())


def _text(col: pa.Array) -> np.ndarray:
    out = np.asarray(col.to_pandas(), dtype=object)
    if col.null_count:
        out[col.is_null().to_numpy(zero_copy_only=False)] = np.nan  # missing text is NaN, as in pandas
    return out


def _floats(stripped: pa.Array, sample: list[str]) -> np.ndarray | None:
    """Arrow's correctly rounded parser (a CSV written by pandas reads back bit-identical)."""
    try:
        for v in sample:  # a failing Arrow cast is slow: rule out text columns first
            float(v)
        return pc.cast(stripped, pa.float64()).to_numpy(zero_copy_only=False)
    except (ValueError, pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _ints(stripped: pa.Array) -> pa.Array | str | None:
    """int64 values; ``"too long"`` for integers beyond 64 bits; ``None`` if not all integers."""
    try:
        return pc.cast(stripped, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    if not _all(pc.match_substring_regex(stripped, r"^[+-]?\d+$")):
        return None
    if _any(pc.greater(pc.utf8_length(stripped), 18)):
        return "too long"
    return pc.cast(pc.utf8_ltrim(stripped, characters="+"), pa.int64())  # Arrow refuses "+5"


def _type_arrow(name, col: pa.Array) -> tuple[np.ndarray, str]:
    """Type one text column (an Arrow string array).

    Vectorised Arrow compute over the rows, a handful of passes for the common columns; a
    sample of the values first rules out the slow failing casts.
    """
    kind = identifier_kind(name)
    if col.null_count == len(col):
        return np.full(len(col), np.nan), "number (all values missing)"
    stripped = pc.utf8_trim_whitespace(col)
    zero = pc.starts_with(stripped, "0")
    if _any(zero):
        lead = pc.and_(zero, pc.and_(pc.utf8_is_digit(stripped), pc.greater(pc.utf8_length(stripped), 1)))
        if _any(lead):
            example = pc.filter(stripped, lead)[0].as_py()
            return _text(col), f"text (leading zeros kept, e.g. {example!r})"
    if kind == "code":
        return _text(col), "text (identifier-like name)"
    complete = col.null_count == 0
    sample = pc.drop_null(stripped)[:_SAMPLE].to_pylist()
    ints = _ints(stripped) if all(_INT.fullmatch(v) for v in sample) else None
    if isinstance(ints, str):
        return _text(col), "text (integers too long for a 64-bit number)"
    if ints is not None:
        if complete:
            return ints.to_numpy(zero_copy_only=False), "integer (identifier)" if kind else "integer"
        if kind == "id":
            return _text(col), "text (identifier with missing values)"
        return pc.cast(ints, pa.float64()).to_numpy(zero_copy_only=False), "number (integers with missing values)"
    if kind == "id":
        return _text(col), "text (identifier)"
    floats = _floats(stripped, sample)
    if floats is not None:
        return floats, "number"
    if complete and all(v.lower() in ("true", "false") for v in sample):
        low = pc.utf8_lower(stripped)
        if _all(pc.is_in(low, pa.array(["true", "false"]))):
            return pc.equal(low, "true").to_numpy(zero_copy_only=False), "boolean"
    return _text(col), "text"


def dtype_description(s: pd.Series) -> str:
    """How a column of a DataFrame is typed, in the words of :func:`type_text_column`."""
    dt = s.dtype
    if pd.api.types.is_bool_dtype(dt):
        return "boolean"
    if pd.api.types.is_integer_dtype(dt):
        return "integer"
    if pd.api.types.is_float_dtype(dt):
        return "number"
    if isinstance(dt, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_datetime64_any_dtype(dt):
        return "date"
    return "text"


def _first_line(path: Path, encoding: str) -> str:
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding=encoding, newline="") as fh:
        return fh.readline()


def _sniff_separator(header: str) -> str:
    if "," in header:
        return ","
    counts = {s: header.count(s) for s in _SEPARATORS}
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] else ","


def _decode_error(path: Path, err: UnicodeDecodeError, encoding: str) -> DataValidationError:
    if err.object[:2] in (b"\xff\xfe", b"\xfe\xff"):
        hint = "it starts like UTF-16: encoding='utf-16' (CLI: --encoding utf-16)"
    else:
        hint = "e.g. encoding='latin-1' or encoding='cp1252' (CLI: --encoding latin-1)"
    return DataValidationError([
        f"data file {str(path)!r} is not {encoding} text (byte 0x{err.object[err.start]:02x} at "
        f"position {err.start} cannot be decoded). Fix: pass the file's encoding, {hint}, or save "
        "it as UTF-8."
    ])


def read_csv_typed(path: Path, encoding: str | None = None) -> tuple[pd.DataFrame, ReadInfo]:
    """Read a CSV file as text, then type each column without losing information.

    Parameters
    ----------
    path : pathlib.Path
        The file (``.csv``, ``.txt``, optionally gzip-compressed).
    encoding : str, optional
        Text encoding; default UTF-8 (a byte-order mark is skipped).

    Returns
    -------
    (pandas.DataFrame, ReadInfo)
    """
    enc = encoding or "utf-8-sig"
    shown = encoding or "UTF-8"
    notes = []
    try:
        header = _first_line(path, enc)
    except UnicodeDecodeError as err:
        raise _decode_error(path, err, shown) from None
    except (OSError, EOFError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise DataValidationError([f"cannot read data file {str(path)!r}: {reason}. Fix: check that it "
                                   "is a readable CSV file (permissions, compression)."]) from None
    if not header.strip():
        raise DataValidationError([
            f"data file {str(path)!r} is empty (no header line). Fix: write the table with a header "
            "row (account_id, origination, last_month, default, ... or account_id, month, default, ...)."
        ])
    sep = _sniff_separator(header)
    if sep != ",":
        notes.append(f"{path.name}: columns separated by {sep!r} (detected from the header line)")
    if encoding:
        notes.append(f"{path.name}: read with encoding {encoding!r}")
    names = next(csv.reader([header], delimiter=sep))
    names = [n if n else f"Unnamed: {i}" for i, n in enumerate(names)]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataValidationError([f"data file {str(path)!r} repeats the column name(s) {repeated}. Fix: "
                                   "give every column a unique name."])
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=encoding or "utf8", column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=True),
        )
    except UnicodeDecodeError as err:
        raise _decode_error(path, err, shown) from None
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        msg = str(err).strip().splitlines()[0]
        if "UTF8" in msg:
            raise _decode_error(path, _find_decode_error(path, enc), shown) from None
        raise DataValidationError([f"data file {str(path)!r} is not a well-formed CSV table ({msg}). "
                                   "Fix: check the separator and the quoting of text fields."]) from None
    types: dict[str, str] = {}
    out = {}
    for name, col in zip(names, table.columns, strict=True):
        out[name], types[name] = _type_arrow(name, col.combine_chunks())
    return pd.DataFrame(out, columns=names), ReadInfo(types, tuple(notes))


def _find_decode_error(path: Path, encoding: str) -> UnicodeDecodeError:
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    try:
        data.decode(encoding)
    except UnicodeDecodeError as err:
        return err
    return UnicodeDecodeError(encoding, data[:1], 0, 1, "invalid data")


def _release_arrow_memory() -> None:
    """Hand Arrow's freed reader buffers back to the system: its allocator keeps them in a
    pool otherwise (38 MiB after reading the paper-scale loans file, ~170 MiB at 3x)."""
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except (ImportError, AttributeError):  # pragma: no cover - older pyarrow
        pass


def read_any(path: str | Path, encoding: str | None = None) -> tuple[pd.DataFrame, ReadInfo]:
    """Read a CSV or Parquet file (by extension) with :class:`ReadInfo`.

    See :func:`apcfair.portfolio.read_table`, which returns only the frame.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist")
    if path.is_dir():
        raise DataValidationError([f"data path {str(path)!r} is a folder, not a file. Fix: give the "
                                   "path of the CSV or Parquet file inside it."])
    suffixes = "".join(path.suffixes).lower()
    if ".parquet" in suffixes or suffixes.endswith(".pq"):
        try:
            df = pd.read_parquet(path)
            _release_arrow_memory()
        except PermissionError as err:
            raise DataValidationError([f"cannot read data file {str(path)!r}: {err.strerror}. Fix: "
                                       "check the file's permissions."]) from None
        except Exception as err:  # pyarrow raises many types for a broken file
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise DataValidationError([f"cannot read data file {str(path)!r} as Parquet ({first}). "
                                       "Fix: check that it is a complete Parquet file, or give a CSV "
                                       "file with a .csv name."]) from None
        if encoding:
            notes = (f"{path.name}: encoding={encoding!r} ignored (Parquet stores its own)",)
        else:
            notes = ()
        return df, ReadInfo({str(c): dtype_description(df[c]) for c in df.columns}, notes)
    if ".csv" in suffixes or ".txt" in suffixes:
        if path.stat().st_size == 0:
            raise DataValidationError([f"data file {str(path)!r} is empty (0 bytes). Fix: write the "
                                       "table with a header row and one row per account (or account-month)."])
        try:
            return read_csv_typed(path, encoding)
        except PermissionError as err:
            raise DataValidationError([f"cannot read data file {str(path)!r}: {err.strerror}. Fix: "
                                       "check the file's permissions."]) from None
    raise ValueError(f"cannot tell the format of {str(path)!r}: use a .csv or .parquet file")
