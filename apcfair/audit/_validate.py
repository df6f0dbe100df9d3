"""Input checks shared by every audit tool.

Every user mistake raises ``ValueError`` with one message that names the argument (or
column), the number of offending rows, a few examples and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from apcfair.audit._options import Polarity, check_option

_N_EXAMPLES = 5
#: Separator between attribute names / group labels of an intersection.
INTERSECTION_SEP = " & "
#: Most distinct groups an audited attribute or control feature may have. Beyond it the
#: column is an identifier or a continuous value, not a group (an audit of a 5,000-level
#: column ran for more than 10 minutes); bin or merge it first. The command line's
#: ``--max-levels`` is stricter (default 50).
MAX_GROUP_LEVELS = 500


def _rows(mask: np.ndarray) -> str:
    idx = np.flatnonzero(mask)[:_N_EXAMPLES]
    more = ", ..." if mask.sum() > _N_EXAMPLES else ""
    return "rows " + ", ".join(map(str, idx.tolist())) + more


def as_1d(name: str, x, *, numeric: bool = False) -> np.ndarray:
    """Return ``x`` as a 1-D numpy array, or raise a clear ``ValueError``."""
    if isinstance(x, pd.DataFrame):
        if x.shape[1] != 1:
            raise ValueError(f"{name} must be one column, got a table with {x.shape[1]} columns.")
        x = x.iloc[:, 0]
    arr = np.asarray(x.to_numpy() if isinstance(x, pd.Series) else x)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}.")
    if numeric:
        if arr.dtype == bool:
            arr = arr.astype(float)
        try:
            arr = arr.astype(float)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be numeric; got values such as {arr[:3].tolist()!r}.") from None
    return arr


def check_lengths(**arrays) -> int:
    """All arrays must have the same length; return it."""
    lengths = {k: len(v) for k, v in arrays.items() if v is not None}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k} has {n:,}" for k, n in lengths.items())
        raise ValueError(
            f"length mismatch: {desc} rows. All arrays must describe the same applicants in the same order."
        )
    n = next(iter(lengths.values()))
    if n == 0:
        raise ValueError("no applicants: the arrays are empty.")
    return n


def check_outcome(y, name: str = "y") -> np.ndarray:
    """Outcomes as ``int8`` 0/1 with ``1 = default`` (unfavourable)."""
    arr = as_1d(name, y)
    if arr.dtype == bool:
        return arr.astype(np.int8)
    try:
        num = arr.astype(float)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must hold 0/1 outcomes with 1 = default (unfavourable); got values such as "
            f"{pd.unique(arr)[:4].tolist()!r}. Fix: recode, e.g. y = (status == 'bad')."
        ) from None
    nan = np.isnan(num)
    if nan.any():
        raise ValueError(
            f"{name} has {int(nan.sum()):,} missing outcomes ({_rows(nan)}). "
            "Fix: drop those applicants; an audit needs the observed outcome."
        )
    bad = ~np.isin(num, (0.0, 1.0))
    if bad.any():
        vals = pd.unique(num[bad])[:4].tolist()
        raise ValueError(
            f"{name} must hold 0/1 outcomes with 1 = default (unfavourable); {int(bad.sum()):,} rows have "
            f"other values, e.g. {vals}. Fix: recode (German credit: y = (target == 2))."
        )
    return num.astype(np.int8)


def check_score(score, polarity: str, name: str = "score") -> np.ndarray:
    """Scores as float; PD scores must lie in [0, 1]."""
    arr = as_1d(name, score, numeric=True)
    nan = ~np.isfinite(arr)
    if nan.any():
        raise ValueError(
            f"{name} has {int(nan.sum()):,} missing or infinite values ({_rows(nan)}). "
            "Fix: drop those applicants or score them before auditing."
        )
    if polarity == "pd":
        out = (arr < 0) | (arr > 1)
        if out.any():
            raise ValueError(
                f"{name} has {int(out.sum()):,} values outside [0, 1] (min {arr.min():.4g}, max {arr.max():.4g}) "
                "but polarity='pd' expects probabilities of default. Fix: pass polarity='approval' for a "
                "points-style score where higher is better, or rescale the score to a PD."
            )
    return arr


def check_decision(decision, name: str = "decision") -> np.ndarray:
    """Decisions as bool with ``True = approved`` (the favourable decision)."""
    arr = as_1d(name, decision)
    if arr.dtype == bool:
        return arr
    try:
        num = arr.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold 0/1 decisions with 1 = approved.") from None
    bad = ~np.isin(num, (0.0, 1.0))
    if bad.any():
        raise ValueError(
            f"{name} must hold 0/1 decisions with 1 = approved; {int(bad.sum()):,} rows have other values "
            f"({_rows(bad)})."
        )
    return num.astype(bool)


def check_cutoff(cutoff, polarity: str) -> float:
    """A finite cut-off; for PD scores within [0, 1]."""
    try:
        c = float(cutoff)
    except (TypeError, ValueError):
        raise ValueError(f"cutoff must be a number, got {cutoff!r}.") from None
    if not np.isfinite(c):
        raise ValueError(f"cutoff must be finite, got {cutoff!r}.")
    if polarity == "pd" and not 0.0 <= c <= 1.0:
        raise ValueError(f"cutoff={c} is outside [0, 1] but polarity='pd' means the score is a PD.")
    return c


def approve(score: np.ndarray, cutoff: float, polarity: str) -> np.ndarray:
    """The favourable decision, explicit: PD below the cut-off, or approval score at/above it.

    For ``score_approval = 1 - PD`` and ``cutoff_approval = 1 - cutoff_pd`` both rules give
    the same decisions except at exact ties with the cut-off.
    """
    return score < cutoff if polarity == "pd" else score >= cutoff


def to_pd(score: np.ndarray, polarity: str) -> np.ndarray | None:
    """The score as a probability of default, or ``None`` if it is not a probability."""
    if polarity == "pd":
        return score
    if score.min() >= 0.0 and score.max() <= 1.0:
        return 1.0 - score
    return None


def risk_key(score: np.ndarray, polarity: str) -> np.ndarray:
    """A key that increases with risk (for ranking): the PD, or the negated approval score."""
    return score if polarity == "pd" else -score


def _sorted_labels(values: pd.Series) -> list[str]:
    """Distinct values as strings, sorted by value where they sort (else in order of appearance)."""
    uniq = pd.unique(values)
    try:
        uniq = np.sort(uniq)
    except TypeError:
        pass
    return list(dict.fromkeys(str(u) for u in uniq))


def check_group_levels(values, name: str, max_levels: int = MAX_GROUP_LEVELS, *,
                       option: str | None = None) -> int:
    """Refuse a group column with more than ``max_levels`` distinct values; return the count.

    Counting is one pass over the values, so an identifier-like column is refused before
    any of the audit's work.

    Examples
    --------
    >>> check_group_levels(["a", "b", "a"], "sex")
    2
    >>> check_group_levels([str(i) for i in range(600)], "zip")
    Traceback (most recent call last):
    ValueError: zip has 600 distinct values (more than 500): it looks like an identifier or a continuous value, not a group. Fix: bin or merge it into fewer groups (e.g. age bands, regions).
    """
    k = int(pd.Series(values).nunique(dropna=True)) if not isinstance(values, pd.Categorical) else len(
        values.categories)
    if k > max_levels:
        raise ValueError(
            f"{name} has {k:,} distinct values (more than {max_levels:,}): it looks like an identifier or a "
            "continuous value, not a group. Fix: bin or merge it into fewer groups (e.g. age bands, regions)"
            + (f", or raise {option} if these really are {k:,} groups." if option else ".")
        )
    return k


def _labels(name: str, x, n: int) -> pd.Categorical:
    """Group labels as an ordered-by-appearance-of-categories string Categorical."""
    s = x if isinstance(x, pd.Series) else pd.Series(as_1d(name, x) if not isinstance(x, pd.Categorical) else x)
    if len(s) != n:
        check_lengths(**{"score/y": np.empty(n), name: s})
    s = s.reset_index(drop=True)
    check_group_levels(s, f"group column {name!r}")
    missing = s.isna().to_numpy()
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        missing |= s.astype(str).str.strip().eq("").to_numpy() & ~missing
    if missing.any():
        raise ValueError(
            f"group column {name!r} has {int(missing.sum()):,} missing or empty labels ({_rows(missing)}). "
            "Fix: drop those applicants or code them explicitly, e.g. 'unknown'."
        )
    if isinstance(s.dtype, pd.CategoricalDtype):
        counts = s.value_counts(sort=False)
        empty = counts.index[counts.to_numpy() == 0].tolist()
        if empty:
            raise ValueError(
                f"group column {name!r} has {len(empty)} empty group(s) with no applicants: {empty}. "
                "Fix: s.cat.remove_unused_categories(), or audit only the groups present."
            )
        cats = [str(c) for c in s.cat.categories]
        lab = s.astype(str)
    else:
        cats = _sorted_labels(s)
        lab = s.astype(str)
    if len(cats) < 2:
        raise ValueError(
            f"group column {name!r} has a single group ({cats[0]!r}): a fairness audit compares at least "
            "two groups. Fix: check the column or the filter applied before the audit."
        )
    return pd.Categorical(lab, categories=cats)


def check_groups(groups, n: int, name: str = "groups") -> dict[str, pd.Categorical]:
    """Protected attributes as ``{attribute: Categorical of string labels}``."""
    if groups is None:
        raise ValueError(f"{name} is required: give at least one protected attribute.")
    if isinstance(groups, pd.DataFrame):
        items = [(str(c), groups[c]) for c in groups.columns]
    elif isinstance(groups, Mapping):
        items = [(str(k), v) for k, v in groups.items()]
    elif isinstance(groups, pd.Series):
        items = [(str(groups.name) if groups.name is not None else "group", groups)]
    else:
        items = [("group", groups)]
    if not items:
        raise ValueError(f"{name} is empty: give at least one protected attribute.")
    names = [k for k, _ in items]
    if len(set(names)) != len(names):
        raise ValueError(f"{name} has duplicate attribute names: {names}.")
    for k in names:
        if INTERSECTION_SEP in k:
            raise ValueError(f"attribute name {k!r} must not contain {INTERSECTION_SEP!r}.")
    lengths = {k: len(v) for k, v in items}
    if any(m != n for m in lengths.values()):
        check_lengths(**{"score/y": np.empty(n)}, **{f"groups[{k!r}]": np.empty(m) for k, m in lengths.items()})
    return {k: _labels(k, v, n) for k, v in items}


def intersect(attrs: dict[str, pd.Categorical], names) -> tuple[str, pd.Categorical]:
    """The intersection of several attributes as one attribute (only observed combinations)."""
    names = list(names)
    missing = [a for a in names if a not in attrs]
    if missing:
        raise ValueError(f"intersection names unknown attribute(s) {missing}; known: {list(attrs)}.")
    if len(names) < 2:
        raise ValueError(f"an intersection needs at least two attributes, got {names}.")
    codes = np.zeros(len(attrs[names[0]]), dtype=np.int64)
    for a in names:
        codes = codes * len(attrs[a].categories) + attrs[a].codes
    uniq = np.unique(codes)
    labels = {}
    for u in uniq:
        parts, rest = [], int(u)
        for a in reversed(names):
            k = len(attrs[a].categories)
            parts.append(attrs[a].categories[rest % k])
            rest //= k
        labels[int(u)] = INTERSECTION_SEP.join(reversed(parts))
    lab = pd.Categorical.from_codes(np.searchsorted(uniq, codes), categories=[labels[int(u)] for u in uniq])
    return INTERSECTION_SEP.join(names), lab


@dataclass(frozen=True)
class AuditInput:
    """Validated arrays: explicit favourable outcome and decision."""

    y: np.ndarray  # 1 = default (unfavourable)
    approved: np.ndarray  # True = approved (favourable decision)
    score: np.ndarray | None  # as given
    pd: np.ndarray | None  # probability of default, when the score is a probability
    attrs: dict[str, pd.Categorical]
    control: pd.Categorical | None
    control_name: str | None
    cutoff: float | None
    polarity: str

    @property
    def creditworthy(self) -> np.ndarray:
        """The favourable true outcome (non-default), as 0/1."""
        return (1 - self.y).astype(np.int8)


def _control_labels(control, n: int, y: np.ndarray) -> tuple[pd.Categorical, str]:
    """The control feature as a string Categorical (sorted strata) and its name."""
    if isinstance(control, pd.DataFrame):
        if control.shape[1] != 1:
            raise ValueError("control must be one column (e.g. vintage year).")
        control = control.iloc[:, 0]
    name = str(control.name) if isinstance(control, pd.Series) and control.name is not None else "control"
    cs = control if isinstance(control, pd.Series) else pd.Series(as_1d("control", control))
    if len(cs) != n:
        check_lengths(y=y, control=cs)
    cs = cs.reset_index(drop=True)
    check_group_levels(cs, f"control column {name!r}")
    miss = cs.isna().to_numpy()
    if miss.any():
        raise ValueError(
            f"control column {name!r} has {int(miss.sum()):,} missing values ({_rows(miss)}). "
            "Fix: drop those applicants or code them explicitly."
        )
    return pd.Categorical(cs.astype(str), categories=_sorted_labels(cs)), name


def prepare(score, y, groups, *, decision=None, cutoff=0.5, polarity: Polarity = "pd",
            control=None) -> AuditInput:
    """Validate the audit inputs and derive the decisions."""
    check_option("polarity", polarity, Polarity)
    if score is None and decision is None:
        raise ValueError("give score (with cutoff) or decision (1 = approved): both are missing.")
    y_arr = as_1d("y", y)
    s_arr = None if score is None else as_1d("score", score)
    d_arr = None if decision is None else as_1d("decision", decision)
    n = check_lengths(score=s_arr, y=y_arr, decision=d_arr)
    y_arr = check_outcome(y_arr)
    if len(np.unique(y_arr)) < 2:
        raise ValueError(
            f"y has only {'defaults' if y_arr[0] else 'non-defaults'}: rates such as TPR and FPR need both "
            "outcomes. Fix: audit a sample that contains defaulters and non-defaulters."
        )
    if s_arr is not None:
        s_arr = check_score(s_arr, polarity)
    c = None
    if decision is not None:
        approved = check_decision(d_arr)
    else:
        c = check_cutoff(cutoff, polarity)
        approved = approve(s_arr, c, polarity)
    if decision is not None and cutoff is not None and s_arr is not None:
        c = check_cutoff(cutoff, polarity)
    attrs = check_groups(groups, n)
    ctrl, ctrl_name = (None, None) if control is None else _control_labels(control, n, y_arr)
    return AuditInput(
        y=y_arr, approved=approved, score=s_arr,
        pd=None if s_arr is None else to_pd(s_arr, polarity),
        attrs=attrs, control=ctrl, control_name=ctrl_name, cutoff=c, polarity=polarity,
    )
