"""The one HTML kit: Jinja2 templates, value formatting and embedded figures.

Every HTML page apcfair writes (the model report, ``audit.html``, the post-processing
what-if report) is rendered here from the templates in ``apcfair/templates``:

- one :class:`jinja2.Environment` with autoescape on, so every value put into a page is
  escaped (a ``<script>`` in a group label or a caveat comes out as text);
- the number formats, written once and used as template filters: ``count`` (thousands
  separators), ``rate`` (percent), ``auc`` (AUC-like values, 4 decimals), ``num`` (4
  significant digits), ``fixed`` (fixed decimals, optionally signed), ``pp`` (a change of
  a rate in signed percentage points) and ``interval`` (``"a [l, u]"``); tables built with :func:`table` format their cells with the same
  functions;
- figures embedded as ``data:`` URIs (:func:`data_uri`), so a page is one self-contained
  file: inline CSS, no scripts, no external sources.

Examples
--------
>>> from apcfair._html import fmt_count, fmt_interval, fmt_rate, render_string
>>> fmt_count(146500), fmt_rate(0.0321), fmt_interval(0.5, 0.4, 0.61)
('146,500', '3.2%', '0.5 [0.4, 0.61]')
>>> render_string("<p>{{ label }}: {{ n|count }} accounts, {{ r|rate(2) }}</p>",
...               label="<script>x</script>", n=12345, r=0.01234)
'<p>&lt;script&gt;x&lt;/script&gt;: 12,345 accounts, 1.23%</p>'
"""

from __future__ import annotations

import base64
import functools
import io
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

TEMPLATES = Path(__file__).parent / "templates"
NA = "n/a"

Formatter = Callable[[object], str]


# ----------------------------------------------------------------------------- formats
def _finite(x) -> float | None:
    """``x`` as a float, or None when missing (None, NA, NaN, infinite, not a number)."""
    if x is None or x is pd.NA:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def fmt_count(x, na: str = NA) -> str:
    """A count with thousands separators: ``146500 -> '146,500'``.

    >>> fmt_count(1234567), fmt_count(3.0), fmt_count(None)
    ('1,234,567', '3', 'n/a')
    """
    f = _finite(x)
    return na if f is None else f"{round(f):,}"


def fmt_rate(x, digits: int = 1, na: str = NA) -> str:
    """A rate as a percentage: ``0.0321 -> '3.2%'`` (``digits`` decimals).

    >>> fmt_rate(0.0321), fmt_rate(0.0321, 2), fmt_rate(float("nan"))
    ('3.2%', '3.21%', 'n/a')
    """
    f = _finite(x)
    return na if f is None else f"{f:.{digits}%}"


def fmt_auc(x, digits: int = 4, na: str = NA) -> str:
    """An AUC-like value (AUC, Gini, KS, correlations) to ``digits`` decimals (default 4).

    >>> fmt_auc(0.723456), fmt_auc(0.723456, 3)
    ('0.7235', '0.723')
    """
    f = _finite(x)
    return na if f is None else f"{f:.{digits}f}"


def fmt_num(x, sig: int = 4, na: str = NA) -> str:
    """A generic number to ``sig`` significant digits.

    Integers and values of ``10**sig`` or more are written in full with thousands
    separators, never in scientific notation.

    >>> fmt_num(0.0123456), fmt_num(-4.56789), fmt_num(123456.7), fmt_num(12), fmt_num(None)
    ('0.01235', '-4.568', '123,457', '12', 'n/a')
    """
    f = _finite(x)
    if f is None:
        return na
    if isinstance(x, int | np.integer) or abs(f) >= 10**sig:
        return f"{round(f):,}"
    return f"{f:.{sig}g}"


def fmt_fixed(x, digits: int = 3, sign: bool = False, na: str = NA) -> str:
    """A number with ``digits`` decimals; ``sign=True`` always writes the sign.

    >>> fmt_fixed(0.12345, 2), fmt_fixed(0.12345, 2, sign=True), fmt_fixed(-3, 1)
    ('0.12', '+0.12', '-3.0')
    """
    f = _finite(x)
    return na if f is None else f"{f:{'+' if sign else ''}.{digits}f}"


def fmt_pp(x, digits: int = 1, sign: bool = True, na: str = NA) -> str:
    """A change of a rate in percentage points: ``0.0123 -> '+1.2 pp'``.

    >>> fmt_pp(0.0123), fmt_pp(-0.004, 2), fmt_pp(None)
    ('+1.2 pp', '-0.40 pp', 'n/a')
    """
    f = _finite(x)
    return na if f is None else f"{100 * f:{'+' if sign else ''}.{digits}f} pp"


def fmt_interval(x, lower, upper, fmt: str | Formatter = "num", na: str = NA, **kwargs) -> str:
    """A value with its interval, ``"a [l, u]"``, each formatted by ``fmt`` (a format name).

    Without both bounds only the value is written.

    >>> fmt_interval(0.7234, 0.7012, 0.7456, "auc", digits=3)
    '0.723 [0.701, 0.746]'
    >>> fmt_interval(1.5, None, 2.0)
    '1.5'
    """
    f = formatter(fmt, na=na, **kwargs)
    if _finite(lower) is None or _finite(upper) is None:
        return f(x)
    return f"{f(x)} [{f(lower)}, {f(upper)}]"


FORMATS: dict[str, Formatter] = {"count": fmt_count, "rate": fmt_rate, "auc": fmt_auc, "num": fmt_num,
                                 "fixed": fmt_fixed, "pp": fmt_pp, "interval": fmt_interval}


def formatter(fmt: str | Formatter, **kwargs) -> Formatter:
    """One of :data:`FORMATS` by name (``kwargs`` bound), or a callable as it is.

    >>> formatter("auc", digits=3)(0.71234)
    '0.712'
    """
    if callable(fmt):
        return functools.partial(fmt, **kwargs) if kwargs else fmt
    if fmt not in FORMATS:
        raise ValueError(f"fmt={fmt!r} is not a format; use one of {sorted(FORMATS)} or a callable.")
    return functools.partial(FORMATS[fmt], **kwargs) if kwargs else FORMATS[fmt]


# ----------------------------------------------------------------------------- tables
@dataclass(frozen=True)
class Table:
    """A table ready for the ``table`` macro: header, formatted cells, CSS classes."""

    columns: tuple[str, ...]
    rows: tuple[tuple[tuple[str, str, str], ...], ...]  # (text, css class, hover title) per cell
    row_classes: tuple[str, ...]
    header_classes: tuple[str, ...] = ()  # "text" over columns of text

    def __len__(self) -> int:
        return len(self.rows)


STATUS_CLASSES = {"pass": "pass", "fail": "fail"}


def _is_missing(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float | np.floating) and not math.isfinite(v))


def _cell_text(v, float_format: Formatter) -> str:
    if _is_missing(v):
        return ""
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, int | np.integer):
        return fmt_count(v)
    if isinstance(v, float | np.floating):
        return float_format(v)
    return str(v)


def table(df: pd.DataFrame | None, formats: Mapping[str, str | Formatter] | None = None, *,
          float_format: str | Formatter = "num", status: str | None = None,
          shade_rows: bool = False, hover: Mapping[str, Sequence[str]] | None = None) -> Table:
    """Format a DataFrame for the ``table`` macro; every cell goes through the kit's formats.

    Parameters
    ----------
    df : pandas.DataFrame or None
        The table (index dropped). ``None`` gives an empty table.
    formats : mapping, optional
        Column -> format name or callable, for columns not formatted by type.
    float_format : str or callable
        Format of other float cells (default ``"num"``, 4 significant digits). Integers
        are counts (thousands separators); missing values are empty cells.
    status : str, optional
        A pass/fail column: its cells get class ``pass`` / ``fail`` / ``na``. Text cells
        get class ``text`` (aligned left).
    shade_rows : bool
        Also shade whole rows by ``status`` (classes ``row-pass`` / ``row-fail`` / ``row-na``).
    hover : mapping, optional
        Column -> one text per row, shown on hover (the cell's ``title``), e.g. a model's
        identifier under its human label.

    Examples
    --------
    >>> t = table(pd.DataFrame({"group": ["A"], "n": [1200], "tpr": [0.81234], "status": ["FAIL"]}),
    ...           status="status", hover={"group": ["group_a"]})
    >>> t.columns, t.rows[0]
    (('group', 'n', 'tpr', 'status'), (('A', 'text', 'group_a'), ('1,200', '', ''), ('0.8123', '', ''), ('FAIL', 'text fail', '')))
    """
    if df is None:
        return Table((), (), (), ())
    formats = dict(formats or {})
    default = formatter(float_format)
    stat = None
    if status is not None and status in df.columns:
        stat = [STATUS_CLASSES.get(str(v).lower(), "na") for v in df[status].tolist()]
    columns, header = [], []  # per column: [(text, css class), ...]; header class
    for c in df.columns:
        values = df[c].tolist()
        if c in formats:
            f = formatter(formats[c])
            texts = ["" if _is_missing(v) else f(v) for v in values]
        else:
            texts = [_cell_text(v, default) for v in values]
        classes = ["text" if isinstance(v, str) else "" for v in values]  # text aligned left
        if c == status:
            classes = [f"{k} {st}".strip() for k, st in zip(classes, stat, strict=True)]
        tips = [str(t) for t in (hover or {}).get(c, [""] * len(values))]
        columns.append(list(zip(texts, classes, tips, strict=True)))
        header.append("text" if any(isinstance(v, str) for v in values) else "")
    rows = tuple(zip(*columns, strict=True)) if columns else ()
    row_classes = tuple(f"row-{st}" if shade_rows else "" for st in stat) if stat else ("",) * len(df)
    return Table(tuple(str(c) for c in df.columns), rows, row_classes, tuple(header))


# ----------------------------------------------------------------------------- figures
def data_uri(source, *, dpi: int = 90) -> str:
    """A PNG as a ``data:image/png;base64,...`` URI.

    Parameters
    ----------
    source : path, bytes, matplotlib Figure or Axes
        A PNG file, PNG bytes, or a figure (or an axes of it), rendered at ``dpi``. A
        figure drawn through pyplot is closed after rendering.

    Examples
    --------
    >>> data_uri(b"\\x89PNG")
    'data:image/png;base64,iVBORw=='
    """
    if isinstance(source, str | os.PathLike):
        data = Path(source).read_bytes()
    elif isinstance(source, bytes):
        data = source
    else:
        fig = source if hasattr(source, "savefig") else source.figure
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
        data = buf.getvalue()
        if "matplotlib.pyplot" in sys.modules:  # free figures made through pyplot
            import matplotlib.pyplot as plt  # only when pyplot is already loaded

            plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


# ----------------------------------------------------------------------------- environment
@functools.cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment: package templates, autoescape on, the kit's filters."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(FORMATS)
    env.filters["data_uri"] = data_uri
    return env


def render(template: str, **context) -> str:
    """Render a template of ``apcfair/templates`` with ``context``."""
    return environment().get_template(template).render(**context)


def render_string(source: str, **context) -> str:
    """Render a template given as a string (same environment, filters and escaping)."""
    return environment().from_string(source).render(**context)
