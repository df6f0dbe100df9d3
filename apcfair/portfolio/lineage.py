"""Lineage: every row that enters apcfair is counted out again, with a reason."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class LineageStep:
    """One processing step: rows in, rows out and why rows were excluded."""

    stage: str
    unit: str
    rows_in: int
    rows_out: int
    excluded: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        lost = self.rows_in - self.rows_out
        if lost != sum(self.excluded.values()):
            raise AssertionError(
                f"lineage step {self.stage!r}: {lost} rows lost but "
                f"{sum(self.excluded.values())} accounted for"
            )

    def to_dict(self) -> dict:
        return {
            "stage": self.stage,
            "unit": self.unit,
            "rows_in": int(self.rows_in),
            "rows_out": int(self.rows_out),
            "excluded": {k: int(v) for k, v in self.excluded.items()},
        }


@dataclass(frozen=True)
class Lineage:
    """An append-only record of processing steps that travels with every result.

    Parameters
    ----------
    source : str
        Where the data came from.
    steps : tuple of LineageStep, optional
        Initial steps; usually empty, steps are appended with :meth:`add`.
    date_formats : dict, optional
        ``{column: how it was read}``, e.g. ``{"origination": "iso (detected)"}``.
    column_types : dict, optional
        ``{column: type}`` for the attributes, e.g. ``{"zip5": "text (leading zeros kept)"}``.
    notes : tuple of str, optional
        Anything the reader changed or decided (a dropped column, the encoding used).

    Attributes
    ----------
    source : str
        Where the data came from (a file path or ``"<DataFrame>"``).
    steps : tuple of LineageStep
        Steps in order. Each step accounts for every row lost with a reason.
    date_formats, column_types, notes
        How the input was read (see Parameters); added with :meth:`annotate`.

    Examples
    --------
    >>> from apcfair import Lineage
    >>> lin = Lineage("loans.csv").add("validate", "accounts", 10, 8, {"duplicate id": 2})
    >>> lin = lin.add("aggregate", "accounts", 8, 8)
    >>> print(lin.summary())
    Lineage of loans.csv
      validate: 10 accounts in -> 8 out
          excluded 2: duplicate id
      aggregate: 8 accounts in -> 8 out
    >>> lin.rows_in, lin.total_excluded
    (10, {'duplicate id': 2})
    >>> Lineage.from_dict(lin.to_dict()) == lin
    True
    >>> lin = lin.annotate(date_formats={"origination": "iso (detected)"},
    ...                    column_types={"zip5": "text (leading zeros kept)"})
    >>> print(lin.summary().splitlines()[-2])
      dates read: origination iso (detected)
    >>> Lineage.from_dict(lin.to_dict()) == lin
    True
    """

    source: str
    steps: tuple[LineageStep, ...] = ()
    date_formats: dict[str, str] = field(default_factory=dict)
    column_types: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def add(self, stage: str, unit: str, rows_in: int, rows_out: int,
            excluded: dict[str, int] | None = None) -> Lineage:
        """Return a new lineage with one more step."""
        excluded = {k: int(v) for k, v in (excluded or {}).items() if v}
        step = LineageStep(stage, unit, int(rows_in), int(rows_out), excluded)
        return replace(self, steps=self.steps + (step,))

    def annotate(self, *, date_formats: dict[str, str] | None = None,
                 column_types: dict[str, str] | None = None, notes=()) -> Lineage:
        """Return a new lineage with more reading information (later entries win).

        Parameters
        ----------
        date_formats : dict, optional
            ``{column: how its dates were read}``.
        column_types : dict, optional
            ``{column: how it was typed}``.
        notes : iterable of str
            Notes appended (duplicates are dropped).

        Returns
        -------
        Lineage
        """
        new_notes = tuple(dict.fromkeys((*self.notes, *notes)))
        return replace(self, date_formats={**self.date_formats, **(date_formats or {})},
                       column_types={**self.column_types, **(column_types or {})}, notes=new_notes)

    @property
    def rows_in(self) -> int:
        """Rows read from the source."""
        return self.steps[0].rows_in if self.steps else 0

    @property
    def total_excluded(self) -> dict[str, int]:
        """All exclusion reasons over all steps, with counts."""
        out: dict[str, int] = {}
        for s in self.steps:
            for k, v in s.excluded.items():
                out[k] = out.get(k, 0) + v
        return out

    def to_dict(self) -> dict:
        """JSON-ready dictionary."""
        return {
            "source": self.source,
            "rows_in": self.rows_in,
            "steps": [s.to_dict() for s in self.steps],
            "excluded": self.total_excluded,
            "date_formats": dict(self.date_formats),
            "column_types": dict(self.column_types),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Lineage:
        """Rebuild from :meth:`to_dict` output."""
        steps = tuple(
            LineageStep(s["stage"], s["unit"], s["rows_in"], s["rows_out"], dict(s["excluded"]))
            for s in d.get("steps", [])
        )
        return cls(d.get("source", ""), steps, dict(d.get("date_formats") or {}),
                   dict(d.get("column_types") or {}), tuple(d.get("notes") or ()))

    def summary(self) -> str:
        """Plain-text report: one line per step and one per exclusion reason."""
        lines = [f"Lineage of {self.source}"]
        for s in self.steps:
            lines.append(f"  {s.stage}: {s.rows_in:,} {s.unit} in -> {s.rows_out:,} out")
            for k, v in s.excluded.items():
                lines.append(f"      excluded {v:,}: {k}")
        if not any(s.excluded for s in self.steps):
            lines.append("  no rows excluded")
        if self.date_formats:
            lines.append("  dates read: " + ", ".join(f"{k} {v}" for k, v in self.date_formats.items()))
        if self.column_types:
            lines.append("  attributes typed: " + ", ".join(f"{k} {v}" for k, v in self.column_types.items()))
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()
