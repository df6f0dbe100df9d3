"""One summary object for every result: text in a terminal, HTML in a notebook.

Every result's ``summary()`` returns a :class:`Summary`. It *is* the text (a ``str``
subclass, so printing, ``in`` and concatenation work as before) and renders as HTML in
Jupyter through ``_repr_html_``, like statsmodels' ``Summary``. Build one from a title and
blocks: strings (paragraphs, printed as they are) and ``DataFrame`` tables with a caption.
The HTML form is rendered by the HTML kit (:mod:`apcfair._html`): values are escaped and
tables are the same ``table`` macro as the reports'.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

Block = str | tuple[str, pd.DataFrame] | pd.DataFrame


def _table_text(df: pd.DataFrame, float_format: str) -> str:
    return df.to_string(index=False, float_format=lambda x: format(x, float_format))


_HTML = """{% from "_macros.html" import table %}
<div class="apcfair-summary">
{% if title %}<h4>{{ title }}</h4>{% endif %}
{% for kind, caption, value in items %}
{% if kind == "table" %}{{ table(value, caption) }}{% elif kind == "pre" %}<pre>{{ value }}</pre>{% else %}<p>{{ value }}</p>{% endif %}
{% endfor %}
</div>"""


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
    def from_blocks(cls, title: str, blocks: Sequence[Block], *, float_format: str = ".4g",
                    rule_width: int | None = None) -> Summary:
        """Build a summary from a title and paragraphs / ``(caption, DataFrame)`` tables.

        Parameters
        ----------
        title : str
            First line; underlined with ``=`` (nothing when empty).
        blocks : sequence
            Paragraphs (``str``), ``DataFrame`` tables, or ``(caption, DataFrame)`` pairs.
        float_format : str
            Format spec of float cells (``format(x, float_format)``), text and HTML alike.
        rule_width : int, optional
            Width of the rule under the title in characters (default: the title's length),
            e.g. 72 for a fixed-width block like statsmodels' summaries.

        Examples
        --------
        >>> print(Summary.from_blocks("Fit", ["ok"], rule_width=10))
        Fit
        ==========
        ok
        """
        if rule_width is not None and (not isinstance(rule_width, int) or rule_width < 1):
            raise ValueError(f"rule_width={rule_width!r} is not allowed; use a positive int or None.")
        parts = [title, "=" * (rule_width or len(title))] if title else []
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
        """The summary as an HTML fragment, rendered by the HTML kit (values escaped).

        Paragraphs keep their line breaks (``<pre>`` for multi-line text, ``<p>`` otherwise);
        tables are the kit's ``table`` macro with their caption.
        """
        from apcfair._html import render_string, table  # jinja2 only when HTML is asked for

        if not self._blocks:
            return render_string("<pre>{{ text }}</pre>", text=self.as_text())
        ff = getattr(self, "_float_format", ".4g")
        items = []
        for b in self._blocks:
            if isinstance(b, tuple | pd.DataFrame):
                caption, df = b if isinstance(b, tuple) else ("", b)
                items.append(("table", caption, table(df, float_format=lambda x: format(x, ff))))
            else:
                text = str(b)
                items.append(("pre" if "\n" in text else "p", "", text))
        return render_string(_HTML, title=self._title, items=items)

    def _repr_html_(self) -> str:
        return self.as_html()
