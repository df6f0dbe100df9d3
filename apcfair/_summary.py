"""One summary object for every result: text in a terminal, HTML in a notebook.

Every result's ``summary()`` returns a :class:`Summary`. It *is* the text (a ``str``
subclass, so printing, ``in`` and concatenation work as before) and renders as HTML in
Jupyter through ``_repr_html_``, like statsmodels' ``Summary``. Build one from a title and
blocks: strings (paragraphs, printed as they are) and ``DataFrame`` tables with a caption.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd

Block = str | tuple[str, pd.DataFrame] | pd.DataFrame


def _table_text(df: pd.DataFrame, float_format: str) -> str:
    return df.to_string(index=False, float_format=lambda x: format(x, float_format))


class Summary(str):
    """A result summary: a string (the text form) that also renders as HTML.

    Parameters are given to :meth:`from_blocks`; ``Summary(text)`` wraps existing text.

    Examples
    --------
    >>> import pandas as pd
    >>> s = Summary.from_blocks("Demo", ["Two rows.", ("Table 1. Values", pd.DataFrame({"x": [1.0, 2.5]}))])
    >>> print(s)
    Demo
    ====
    Two rows.
    <BLANKLINE>
    Table 1. Values
      x
      1
    2.5
    >>> "<table" in s._repr_html_()
    True
    """

    _blocks: tuple = ()
    _title: str = ""

    @classmethod
    def from_blocks(cls, title: str, blocks: Sequence[Block], *, float_format: str = ".4g") -> Summary:
        """Build a summary from a title and paragraphs / ``(caption, DataFrame)`` tables."""
        parts = [title, "=" * len(title)] if title else []
        for b in blocks:
            if isinstance(b, pd.DataFrame):
                parts += [_table_text(b, float_format), ""]
            elif isinstance(b, tuple):
                caption, df = b
                parts += [caption, _table_text(df, float_format), ""]
            else:
                parts += [str(b), ""]
        out = cls("\n".join(parts).rstrip("\n"))
        out._blocks = tuple(blocks)
        out._title = title
        out._float_format = float_format
        return out

    def as_text(self) -> str:
        """The plain-text summary."""
        return str.__str__(self)

    def as_html(self) -> str:
        """The summary as an HTML fragment (values escaped)."""
        if not self._blocks:
            return f"<pre>{html.escape(self.as_text())}</pre>"
        ff = getattr(self, "_float_format", ".4g")
        out = [f"<h4>{html.escape(self._title)}</h4>"] if self._title else []
        for b in self._blocks:
            if isinstance(b, tuple | pd.DataFrame):
                caption, df = b if isinstance(b, tuple) else ("", b)
                table = df.to_html(index=False, escape=True, float_format=lambda x: format(x, ff),
                                   border=0)
                if caption:
                    table = table.replace(">", f"><caption>{html.escape(caption)}</caption>", 1)
                out.append(table)
            else:
                out.append(f"<p>{html.escape(str(b))}</p>")
        return "\n".join(out)

    def _repr_html_(self) -> str:
        return self.as_html()
