"""The experiment's grid: data_synth knobs × values, validated before any work.

A knob is a :class:`data_synth.SynthConfig` field name, dotted for a key of a mapping
field (``protected_effect.minority``, ``macro_beta.gdp_growth``). A dotted knob changes
that one key of the field's *default* mapping (so ``protected_effect.minority=0`` keeps the
default ``male`` and ``age_per_decade`` effects; set those too to remove them).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

#: SynthConfig fields that cannot be knobs: ``seed`` comes from the seed index and the cell,
#: ``macro`` is a table.
NOT_KNOBS = ("seed", "macro")

#: Mapping fields of SynthConfig and the keys a dotted knob may name.
def _mapping_keys() -> dict[str, tuple[str, ...]]:
    from data_synth.config import DEFAULT_MACRO_BETA, PROTECTED_EFFECT_KEYS

    return {"protected_effect": tuple(PROTECTED_EFFECT_KEYS), "macro_beta": tuple(DEFAULT_MACRO_BETA)}


def _field_defaults() -> dict[str, Any]:
    from data_synth import SynthConfig

    out = {}
    for f in fields(SynthConfig):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:  # type: ignore[misc]
            out[f.name] = f.default_factory()  # type: ignore[misc]
    return out


def knob_names() -> list[str]:
    """Every allowed knob name (plain fields, then dotted mapping keys).

    Examples
    --------
    >>> names = knob_names()
    >>> "proxy_strength" in names, "protected_effect.minority" in names, "seed" in names
    (True, True, False)
    """
    plain = [k for k in _field_defaults() if k not in NOT_KNOBS and k not in _mapping_keys()]
    dotted = [f"{f}.{k}" for f, keys in _mapping_keys().items() for k in keys]
    return plain + dotted


def _parse_value(knob: str, text: Any) -> Any:
    """One value of ``knob`` typed like the field's default (floats for mapping keys)."""
    if not isinstance(text, str):
        return text
    base = knob.split(".")[0]
    default = None if "." in knob else _field_defaults().get(base)
    t = text.strip()
    try:
        if isinstance(default, bool):
            if t.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return t.lower() in ("true", "1")
        if isinstance(default, int):
            return int(t)
        if isinstance(default, str):
            return t
        if t.lower() in ("none", "null") and base == "mu":
            return None
        return float(t)
    except ValueError:
        kind = type(default).__name__ if default is not None and "." not in knob else "float"
        raise ValueError(f"grid knob {knob!r}: value {text!r} is not a {kind}") from None


def parse_grid_option(text: str) -> tuple[str, list]:
    """``"KNOB=v1,v2,..."`` → ``(knob, [values])``, values typed like the knob's field.

    Examples
    --------
    >>> parse_grid_option("proxy_strength=0,0.5,1")
    ('proxy_strength', [0.0, 0.5, 1.0])
    >>> parse_grid_option("protected_effect.minority=0.8")
    ('protected_effect.minority', [0.8])
    """
    if "=" not in text:
        raise ValueError(f"--grid {text!r}: write KNOB=v1,v2,... (e.g. proxy_strength=0,0.5,1)")
    knob, values = text.split("=", 1)
    knob = knob.strip()
    check_knob(knob)
    parts = [v for v in values.split(",") if v.strip()]
    if not parts:
        raise ValueError(f"--grid {text!r}: give at least one value after '='")
    return knob, [_parse_value(knob, v) for v in parts]


def check_knob(knob: str) -> None:
    """Raise ``ValueError`` naming the allowed knobs unless ``knob`` is one."""
    if knob in NOT_KNOBS:
        raise ValueError(f"knob {knob!r} cannot be varied: seeds come from --seeds (and the cell); "
                         "macro is a table")
    allowed = knob_names()
    if knob not in allowed:
        raise ValueError(f"unknown knob {knob!r}; data_synth SynthConfig knobs are {allowed} "
                         "(dotted for a key of a mapping)")


def synth_kwargs(values: Mapping[str, Any]) -> dict[str, Any]:
    """``SynthConfig`` keyword arguments from knob values (dotted keys update the default mapping).

    Examples
    --------
    >>> kw = synth_kwargs({"proxy_strength": 1.0, "protected_effect.minority": 0.8})
    >>> kw["proxy_strength"], kw["protected_effect"]["minority"], kw["protected_effect"]["male"]
    (1.0, 0.8, 0.1)
    """
    defaults = _field_defaults()
    out: dict[str, Any] = {}
    for knob, value in values.items():
        if "." in knob:
            base, key = knob.split(".", 1)
            mapping = out.setdefault(base, dict(defaults[base] or {}) if base != "macro_beta" else _macro_beta())
            mapping[key] = float(value)
        else:
            out[knob] = value
    return out


def _macro_beta() -> dict:
    from data_synth.config import DEFAULT_MACRO_BETA

    return dict(DEFAULT_MACRO_BETA)


def seed_for(seed: int, cell: Mapping[str, Any]) -> int:
    """The one seed of every random step of a cell × seed run (a stable hash of both).

    Examples
    --------
    >>> seed_for(0, {"proxy_strength": 1.0}) == seed_for(0, {"proxy_strength": 1.0})
    True
    >>> seed_for(0, {"proxy_strength": 1.0}) != seed_for(1, {"proxy_strength": 1.0})
    True
    """
    text = json.dumps({"seed": int(seed), "cell": {k: cell[k] for k in sorted(cell)}}, sort_keys=True, default=str)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") % (2**31 - 1)


def cell_key(cell: Mapping[str, Any]) -> str:
    """A short stable name of a cell (used for its part files)."""
    text = json.dumps({k: cell[k] for k in sorted(cell)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class ExperimentGrid:
    """Knobs × values (the grid), fixed knob values, seeds and portfolio size.

    Parameters
    ----------
    grid : mapping of str to sequence
        Knob → values; the cells are their Cartesian product (first knob slowest).
    seeds : int
        Seeds per cell (seed indices ``0..seeds-1``).
    accounts : int
        Accounts per synthetic portfolio (a ``n_accounts`` knob overrides it per cell).
    fixed : mapping of str to value, optional
        Knobs held at one value in every cell (e.g. the other protected effects at 0).

    Examples
    --------
    >>> g = ExperimentGrid({"proxy_strength": [0.0, 1.0], "protected_effect.minority": [0.0, 0.8]},
    ...                    seeds=2, accounts=3000)
    >>> len(g.cells()), len(g.tasks())
    (4, 8)
    >>> g.cells()[1]
    {'proxy_strength': 0.0, 'protected_effect.minority': 0.8}
    """

    grid: Mapping[str, Sequence]
    seeds: int = 3
    accounts: int = 20_000
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    @property
    def knobs(self) -> list[str]:
        """The varied knobs, in grid order."""
        return list(self.grid)

    def cells(self) -> list[dict]:
        """Every cell as ``{knob: value}``, first knob slowest."""
        return [dict(zip(self.knobs, combo, strict=True)) for combo in itertools.product(*self.grid.values())]

    def tasks(self) -> list[tuple[dict, int]]:
        """Every (cell, seed index) pair."""
        return [(c, s) for c in self.cells() for s in range(self.seeds)]

    def config(self, cell: Mapping[str, Any], seed: int):
        """The :class:`data_synth.SynthConfig` of one cell × seed."""
        from data_synth import SynthConfig

        values = {"n_accounts": self.accounts, **dict(self.fixed), **dict(cell)}
        kwargs = synth_kwargs(values)
        return SynthConfig(seed=seed_for(seed, cell), **kwargs)

    def validate(self) -> None:
        """Check knob names, values and every cell's config; raise ``ValueError`` naming the problem."""
        if not self.grid:
            raise ValueError("give at least one --grid KNOB=v1,v2,...")
        if int(self.seeds) < 1:
            raise ValueError(f"seeds={self.seeds} must be at least 1")
        if int(self.accounts) < 100:
            raise ValueError(f"accounts={self.accounts} must be at least 100")
        for knob in [*self.fixed, *self.grid]:
            check_knob(knob)
        overlap = sorted(set(self.grid) & set(self.fixed))
        if overlap:
            raise ValueError(f"knob(s) {overlap} are both varied (--grid) and fixed (--set)")
        for knob, values in self.grid.items():
            if isinstance(values, str | bytes) or not len(values):
                raise ValueError(f"grid knob {knob!r} needs a list of values")
            if len(set(map(str, values))) != len(values):
                raise ValueError(f"grid knob {knob!r} repeats a value: {list(values)}")
        for cell in self.cells():
            try:
                self.config(cell, 0)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"cell {cell}: {exc}") from None

    def to_dict(self) -> dict:
        """JSON-ready settings."""
        return {"grid": {k: list(v) for k, v in self.grid.items()}, "seeds": int(self.seeds),
                "accounts": int(self.accounts), "fixed": dict(self.fixed)}

    @classmethod
    def from_options(cls, grid: Sequence[str], *, seeds: int, accounts: int,
                     fixed: Sequence[str] = ()) -> ExperimentGrid:
        """From ``--grid KNOB=v1,v2`` and ``--set KNOB=v`` texts."""
        g = dict(parse_grid_option(t) for t in grid)
        if len(g) != len(grid):
            raise ValueError("a knob is given twice in --grid")
        f = {}
        for t in fixed:
            knob, values = parse_grid_option(t)
            if len(values) != 1:
                raise ValueError(f"--set {t!r}: one value only")
            f[knob] = values[0]
        return cls(g, seeds=seeds, accounts=accounts, fixed=f)
