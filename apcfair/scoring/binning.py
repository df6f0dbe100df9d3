"""Attribute binning and the design matrix of the score models.

Numeric attributes are cut into quantile bins with a separate ``NA`` bin (as in the
paper's Tables 2-4: ``"Median.Age (33.1, 36.4]"``, ``"Median.Age NA"``); categorical
attributes keep their levels; selected numeric attributes can enter linearly. One level
per binned/categorical attribute is the reference (dropped from the design). Bins and
levels are learned in :meth:`AttributeBinner.fit` and applied unchanged to new data.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from apcfair._base import ParamsMixin, check_fitted, check_kind, jsonable
from apcfair._options import check_option
from apcfair.errors import DataValidationError
from apcfair.portfolio.portfolio import require_columns

HandleUnknown = Literal["error", "reference"]
ColumnKind = Literal["binned", "categorical", "numeric"]

_N_EXAMPLES = 3
_N_ALIAS_SHOWN = 5
_KEEP_DIGITS = 6  # quantile cuts with at most this many significant digits are kept exactly


# ---------------------------------------------------------------------- helpers
def _fmt(x: float) -> str:
    """The shortest decimal text that reads back as exactly ``x`` (no rounding)."""
    if not np.isfinite(x):
        return "Inf" if x > 0 else "-Inf"
    return np.format_float_positional(float(x), unique=True, trim="-")


def _interval_labels(cuts: Sequence[float]) -> list[str]:
    """``(-Inf, c1]``, ``(c1, c2]``, ..., ``(cm, Inf]`` with the cut points written exactly.

    Each edge is the shortest decimal that reads back as the stored cut point, so a label
    never shows a rounded edge (a cut at 112,500 reads ``112500``, never ``112000``).

    Examples
    --------
    >>> _interval_labels([90000.0, 112500.0])
    ['(-Inf, 90000]', '(90000, 112500]', '(112500, Inf]']
    """
    edges = ["-Inf", *(_fmt(c) for c in cuts), "Inf"]
    return [f"({lo}, {hi}]" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]


def _round_cut(c: float, above: float, digits: int) -> float:
    """The cut with the fewest significant digits (at least ``digits``) in ``[c, above)``.

    A cut written with at most ``_KEEP_DIGITS`` (6) significant digits is kept as it is
    (``112500`` stays ``112500``); a longer one (a continuous measurement) moves. Values up to ``c`` stay below the cut and ``above`` (the next training value) stays
    above it, so every training value keeps its bin; the label of the result is short
    and exact. ``c`` itself when no shorter number fits.

    Examples
    --------
    >>> _round_cut(33.1415926, 33.2, 3), _round_cut(112500.0, 150000.0, 3), _round_cut(0.5, 0.6, 3)
    (33.15, 112500.0, 0.5)
    """
    from decimal import ROUND_CEILING, Decimal

    if not (np.isfinite(c) and np.isfinite(above)) or c == 0:
        return float(c)
    q = Decimal(repr(float(c)))
    if len(q.normalize().as_tuple().digits) <= _KEEP_DIGITS:  # a short training value: keep it
        return float(c)
    for d in range(max(int(digits), 1), 18):
        step = Decimal(1).scaleb(q.adjusted() - d + 1)
        r = float(q.quantize(step, rounding=ROUND_CEILING))
        if c <= r < above:
            return r
    return float(c)


def _merge_empty_bins(cuts: list[float], x: np.ndarray) -> list[float]:
    """Drop cut points until every bin holds at least one training value."""
    cuts = list(cuts)
    while cuts:
        counts = np.bincount(np.searchsorted(cuts, x, side="left"), minlength=len(cuts) + 1)
        empty = np.flatnonzero(counts == 0)
        if len(empty) == 0:
            break
        del cuts[min(int(empty[0]), len(cuts) - 1)]
    return cuts


def _fails(defaults: int, rows: int, m: int) -> bool:
    """Whether a level has fewer than ``m`` defaults or fewer than ``m`` non-defaults."""
    return defaults < m or rows - defaults < m


def _sparse_groups(defaults: Sequence[int], counts: Sequence[int], m: int) -> list[list[int]]:
    """Adjacent bins merged until each has ``m`` defaults and ``m`` non-defaults.

    Repeatedly the sparsest failing group (smallest ``min(defaults, non-defaults)``,
    the lowest one on ties) is merged with the adjacent group that has fewer of the
    scarce outcome (fewer defaults if it lacks defaults, else fewer non-defaults; then
    fewer rows; then the lower one), until every group qualifies or one is left.
    """
    groups = [[i] for i in range(len(counts))]
    d = [int(x) for x in defaults]
    n = [int(x) for x in counts]
    while len(groups) > 1:
        fail = [i for i in range(len(groups)) if _fails(d[i], n[i], m)]
        if not fail:
            break
        i = min(fail, key=lambda g: (min(d[g], n[g] - d[g]), g))
        scarce = d if d[i] < m else [nn - dd for nn, dd in zip(n, d, strict=True)]
        nbrs = [j for j in (i - 1, i + 1) if 0 <= j < len(groups)]
        j = min(nbrs, key=lambda g: (scarce[g], n[g], g))
        lo, hi = min(i, j), max(i, j)
        groups[lo:hi + 1] = [groups[lo] + groups[hi]]
        d[lo:hi + 1] = [d[lo] + d[hi]]
        n[lo:hi + 1] = [n[lo] + n[hi]]
    return groups


def _py(v: Any) -> Any:
    """A JSON-safe Python scalar for a category value."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool | int | float | str):
        return v
    return str(v)


def lookup(values: pd.Series, levels: Sequence) -> np.ndarray:
    """Position of each value in ``levels`` (``-1`` for missing or unknown values).

    Values are factorised first, so the Python-level normalisation runs once per
    distinct value, not once per row.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if len(uniques) == 0:
        return np.full(len(values), -1, dtype=np.int64)
    pos = pd.Index(list(levels), dtype=object).get_indexer(
        pd.Index([_py(u) for u in uniques], dtype=object))
    return np.where(codes >= 0, pos[np.maximum(codes, 0)], -1).astype(np.int64)


def compose_key(columns: Sequence[np.ndarray]) -> np.ndarray:
    """One ``int64`` per row, equal exactly for identical rows of ``columns``.

    Mixed radix over the columns' value ranges; when the product of the ranges would pass
    ``2**62``, the key built so far is first re-coded densely by hashing (``pd.factorize``,
    linear time), so the key stays 1-D at any number of columns (a 2-D key needed a
    lexicographic sort: ~16x slower at 73,000 rows x 6 columns).

    Examples
    --------
    >>> import numpy as np
    >>> big = np.array([0, 2**40, 0, 2**40])
    >>> key = compose_key([big, big, np.array([1, 1, 1, 2])])
    >>> key.ndim, len(set(key.tolist())), bool(key[0] == key[2])
    (1, 3, True)
    """
    cols = [np.asarray(c, dtype=np.int64) for c in columns]
    if not cols:
        return np.zeros(0, dtype=np.int64)
    key = np.zeros(len(cols[0]), dtype=np.int64)
    size = 1                                   # the key's values lie in [0, size)
    for c in cols:
        lo = int(c.min()) if len(c) else 0
        span = int(c.max()) - lo + 1 if len(c) else 1
        if float(size) * float(span) >= 2.0**62:
            key = pd.factorize(key)[0].astype(np.int64)
            size = int(key.max()) + 1 if len(key) else 1
            if float(size) * float(span) >= 2.0**62:   # a column alone too wide: re-code it too
                c, lo = pd.factorize(c)[0].astype(np.int64), 0
                span = int(c.max()) + 1 if len(c) else 1
        key *= span
        key += c - lo
        size *= span
    return key


def _examples(values) -> str:
    vals = pd.unique(pd.Series(values).astype("string").fillna("<NA>"))[:_N_EXAMPLES]
    return ", ".join(repr(str(v)) for v in vals)


@dataclass
class ColumnSpec:
    """How one attribute is encoded.

    Attributes
    ----------
    name : str
        Column name.
    kind : {"binned", "categorical", "numeric"}
        Quantile bins, levels, or linear passthrough.
    labels : list of str
        Level labels in code order (binned/categorical), the NA level last if present.
    cuts : list of float
        Interior cut points of the bins (``binned``): bins ``(-inf, c1], (c1, c2], ...,
        (cm, inf)``.
    values : list
        Category values in code order (``categorical``, without NA).
    has_na : bool
        Whether the training data had missing values (then an NA level exists).
    reference : int
        Code of the reference level (dropped from the design); ``-1`` for numeric.
    counts : list of int
        Training rows per level.
    value_codes : list of int
        Level code of each entry of ``values`` (``categorical`` after merging sparse
        levels; empty means value ``i`` is level ``i``). The first ``n`` entries of
        ``values`` are one member of each of the ``n`` non-NA levels, in code order.
    na_into : int
        Code that missing values take when a sparse NA level was merged into the
        reference (then ``has_na`` is false); ``-1`` otherwise.
    defaults : list of int
        Training defaults per level (empty when fitted without outcomes).
    merges : list of dict
        ``{"level": label, "from": [training labels]}`` for each level made of merged
        sparse levels (see ``min_bin_defaults`` of :class:`AttributeBinner`).
    """

    name: str
    kind: str
    labels: list[str] = field(default_factory=list)
    cuts: list[float] = field(default_factory=list)
    values: list = field(default_factory=list)
    has_na: bool = False
    reference: int = -1
    counts: list[int] = field(default_factory=list)
    value_codes: list[int] = field(default_factory=list)
    na_into: int = -1
    defaults: list[int] = field(default_factory=list)
    merges: list[dict] = field(default_factory=list)

    @property
    def n_levels(self) -> int:
        """Number of levels (1 for numeric)."""
        return len(self.labels) if self.kind != "numeric" else 1

    @property
    def na_code(self) -> int:
        """Code of the NA level, ``-1`` if none."""
        return len(self.labels) - 1 if self.has_na else -1

    def term_labels(self) -> list[str]:
        """Labels of the design columns of this attribute (reference removed)."""
        if self.kind == "numeric":
            return [""]
        return [lab for i, lab in enumerate(self.labels) if i != self.reference]

    def to_dict(self) -> dict:
        """JSON-ready dictionary."""
        return jsonable(
            {
                "name": self.name, "kind": self.kind, "labels": self.labels, "cuts": self.cuts,
                "values": [_py(v) for v in self.values], "has_na": self.has_na,
                "reference": self.reference, "counts": self.counts,
                "value_codes": self.value_codes, "na_into": self.na_into,
                "defaults": self.defaults,
                "merges": [{"level": m["level"], "from": list(m["from"])} for m in self.merges],
            }
        )

    @classmethod
    def from_dict(cls, d: Mapping) -> ColumnSpec:
        """Rebuild from :meth:`to_dict` output."""
        return cls(**dict(d))


@dataclass
class Encoded:
    """Attributes encoded as integer level codes and numeric values.

    Attributes
    ----------
    codes : numpy.ndarray
        ``(n, k)`` ``int32`` level codes of the binned/categorical attributes.
    numeric : numpy.ndarray
        ``(n, q)`` ``float64`` values of the passthrough attributes.
    """

    codes: np.ndarray
    numeric: np.ndarray

    @property
    def n(self) -> int:
        """Number of rows."""
        return self.codes.shape[0]

    def take(self, idx) -> Encoded:
        """Rows ``idx``."""
        return Encoded(self.codes[idx], self.numeric[idx])

    def row_key(self, n_levels: Sequence[int] | None = None) -> np.ndarray:
        """An integer key that is equal exactly for identical rows.

        A single ``int64`` per row (:func:`compose_key`).
        """
        cols = [self.codes[:, j] for j in range(self.codes.shape[1])]
        cols += [pd.factorize(self.numeric[:, j])[0] for j in range(self.numeric.shape[1])]
        if not cols:
            return np.zeros(self.n, dtype=np.int64)
        return compose_key(cols)


def unique_rows(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of one representative per distinct row of ``key`` and the inverse map.

    A 1-D key is factorised by hashing (linear time); a 2-D key is sorted.
    """
    if key.ndim == 1:
        inverse, _ = pd.factorize(key)
        inverse = inverse.astype(np.intp)
        if len(inverse) == 0:
            return np.zeros(0, dtype=np.intp), inverse
        # codes are numbered in order of first appearance
        seen = np.maximum.accumulate(inverse)
        first = np.flatnonzero(np.r_[True, inverse[1:] > seen[:-1]])
        return first, inverse
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1).astype(np.intp)


# ---------------------------------------------------------------------- the binner
class AttributeBinner(ParamsMixin):
    """Quantile bins with an NA bin for numeric attributes, levels for categorical ones.

    Parameters
    ----------
    bins : int or None, default 10
        Number of quantile bins for numeric attributes (cut points are training values,
        so no bin is empty; ties can give fewer bins). ``None`` passes every numeric
        attribute through linearly.
    columns : sequence of str, optional
        Attributes to encode, in design order. Default: every column of the data given
        to :meth:`fit`.
    numeric : sequence of str
        Numeric attributes that enter linearly instead of being binned (like
        ``original.score`` in the paper's Table 2). They must have no missing values.
    categorical : sequence of str
        Attributes treated as levels even if their dtype is numeric (e.g. a grade
        coded 1-5). Non-numeric columns are always categorical.
    cuts : mapping, optional
        ``{column: [c1, c2, ...]}`` explicit interior cut points; bins are
        ``(-inf, c1], (c1, c2], ..., (cm, inf)``. Bins without training values are merged
        with a neighbour.
    reference : mapping, optional
        ``{column: level}`` reference level (a category value, or a bin label such as
        ``"(-Inf, 33.1]"``). Default: the first level (lowest bin, first category in
        sorted order or pandas category order). The NA level is never the default
        reference.
    handle_unknown : {"error", "reference"}
        What to do with category values, or missing values, not seen in training:
        raise a :class:`~apcfair.errors.DataValidationError` (default) or treat them as
        the reference level.
    na_label : str
        Label of the missing-value level.
    digits : int
        Significant digits sought for long quantile cut points. A quantile cut is a
        training value, kept exactly when it is written with at most 6 significant digits
        (``112500``, ``33.1``); a longer one (a continuous measurement such as
        ``33.1415926``) is moved up to the number with the fewest significant digits (at
        least ``digits``) that leaves every training value in its bin (``33.15``). Labels
        always show the stored cut points exactly, never rounded (a cut at 112,500 reads
        ``(90000, 112500]``). Explicit ``cuts`` are kept as given.
    min_bin_defaults : int, default 5
        Merge sparse levels when :meth:`fit` is given the outcomes (``y``): a level
        with fewer than ``min_bin_defaults`` defaults, or fewer than
        ``min_bin_defaults`` non-defaults, among the training rows gets a coefficient
        that runs off to infinity (quasi-separation). Quantile (or explicit) bins: the
        sparsest bin is merged with the adjacent bin that has fewer of the scarce
        outcome, repeatedly, until every bin qualifies or one bin is left. Categories:
        the sparse levels are pooled into one level ``"other"``; if ``"other"`` is
        itself sparse it is merged into the reference level (into the largest
        remaining level, which becomes the reference, when the reference itself was
        sparse). A sparse NA level is merged into the reference level (missing values
        are then scored as the reference). An NA level chosen as the reference is
        never merged. ``0`` disables merging; without ``y`` nothing is merged. Merges
        are said in a ``UserWarning`` and recorded in :attr:`merges_`.
    alias_threshold : float, default 0.95
        Warn (``UserWarning``) when two levels of different attributes are near-aliased
        on the training rows: their indicator columns have ``|correlation| >=
        alias_threshold`` (nearly identical or complementary, e.g. ``"income_type
        Pensioner"`` and ``"employed_years NA"`` on the same accounts), or one is nested
        entirely in the other and the rest of the larger level has fewer than
        ``min_bin_defaults`` defaults or non-defaults (with ``y``). The pairs are in
        :attr:`aliases_`. ``1.0`` flags only exact aliases (and nesting).

    Attributes
    ----------
    columns_ : list of str
        Attributes in design order.
    specs_ : dict of str to ColumnSpec
        Encoding of each attribute.
    term_names_ : list of str
        Design column names, ``"<column> <level>"`` (``"<column>"`` for numeric).
    merges_ : pandas.DataFrame
        The merged sparse levels: ``attribute, level, merged_from, count, defaults``
        (no rows when nothing was merged).
    aliases_ : list of dict
        Near-aliased level pairs found by :meth:`fit` (see ``alias_threshold``):
        ``levels`` (two ``"<column> <level>"`` names), ``attributes``, ``corr``
        (correlation of the two indicators over the training rows) and ``text``.

    Notes
    -----
    Values outside the training range fall in the outer bins, whose labels say
    ``-Inf``/``Inf`` for that reason. A level that holds a single training value after
    merging (one bin left) contributes no design column.

    A scikit-learn transformer: ``fit(X, y=None)``, :meth:`transform` (bin labels) and
    :meth:`get_feature_names_out`, so it works inside a :class:`~sklearn.pipeline.Pipeline`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> df = pd.DataFrame({"x": [1.0, 2, 3, 4, np.nan], "g": list("abbab")})
    >>> b = AttributeBinner(bins=2, columns=["x", "g"]).fit(df)
    >>> b.term_names_
    ['x (2, Inf]', 'x NA', 'g b']
    >>> b.transform(df)["x"].tolist()
    ['(-Inf, 2]', '(-Inf, 2]', '(2, Inf]', '(2, Inf]', 'NA']

    With outcomes, sparse levels are merged (here every level needs one default and one
    non-default):

    >>> y = [0, 1, 0, 1, 0]
    >>> b = AttributeBinner(bins=2, columns=["x", "g"], min_bin_defaults=1).fit(df, y)
    >>> b.term_names_
    ['x (2, Inf]', 'g b']
    >>> b.merges_[["attribute", "level", "merged_from"]].to_numpy().tolist()
    [['x', '(-Inf, 2]', '(-Inf, 2] + NA']]
    """

    def __init__(self, bins: int | None = 10, *, columns: Sequence[str] | None = None,
                 numeric: Sequence[str] = (), categorical: Sequence[str] = (),
                 cuts: Mapping[str, Sequence[float]] | None = None,
                 reference: Mapping[str, Any] | None = None,
                 handle_unknown: HandleUnknown = "error", na_label: str = "NA",
                 digits: int = 3, min_bin_defaults: int = 5, alias_threshold: float = 0.95):
        self.bins = bins
        self.columns = columns
        self.numeric = numeric
        self.categorical = categorical
        self.cuts = cuts
        self.reference = reference
        self.handle_unknown = handle_unknown
        self.na_label = na_label
        self.digits = digits
        self.min_bin_defaults = min_bin_defaults
        self.alias_threshold = alias_threshold

    # ------------------------------------------------------------------ fit
    def fit(self, X: pd.DataFrame, y=None) -> AttributeBinner:
        """Learn bins and levels from training data.

        Parameters
        ----------
        X : pandas.DataFrame
            Training rows (usually one per account) with the ``columns`` to encode.
        y : array-like of {0, 1}, optional
            Outcome of each training row (``1`` = default). With it, levels with fewer
            than ``min_bin_defaults`` defaults or non-defaults are merged; without it
            nothing is merged.

        Returns
        -------
        AttributeBinner
            ``self``.
        """
        data = X
        y, columns = self._columns_and_outcome(data, y)
        check_option("handle_unknown", self.handle_unknown, HandleUnknown)
        if self.bins is not None and (not isinstance(self.bins, int | np.integer) or self.bins < 2):
            raise ValueError(f"bins={self.bins!r} must be an integer >= 2 or None.")
        m = self.min_bin_defaults
        if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 0:
            raise ValueError(f"min_bin_defaults={m!r} must be an integer >= 0 (0: no merging).")
        if y is not None:
            y = np.asarray(y).reshape(-1)
            if y.shape[0] != len(data):
                raise ValueError(f"y has {y.shape[0]:,} values but the data have {len(data):,} "
                                 "rows; pass one outcome per training row.")
            yf = y.astype(np.float64)
            if not np.isin(yf, (0.0, 1.0)).all():
                raise ValueError("y must hold 0 (no default) or 1 (default) for every row.")
            y = yf.astype(np.int64)
        if len(set(columns)) != len(columns):
            dup = sorted({c for c in columns if columns.count(c) > 1})
            raise ValueError(f"attributes {dup} are listed more than once.")
        require_columns(data, columns)
        unknown = [c for c in (*self.numeric, *self.categorical, *(self.cuts or {}),
                               *(self.reference or {})) if c not in columns]
        if unknown:
            raise ValueError(f"settings name column(s) {unknown} that are not among the "
                             f"attributes {columns}.")
        both = set(self.numeric) & set(self.categorical)
        if both:
            raise ValueError(f"column(s) {sorted(both)} are listed both in numeric= and categorical=.")
        specs = {}
        problems: list[str] = []
        for col in columns:
            try:
                specs[col] = self._fit_column(col, data[col], y)
            except DataValidationError as err:
                problems.extend(err.problems)
        if problems:
            raise DataValidationError(problems)
        self.columns_ = columns
        self.specs_ = specs
        self.n_rows_ = len(data)
        self._finalise()
        self._warn_merges()
        self.aliases_ = self._aliases(data, y)
        if self.aliases_:
            n_more = len(self.aliases_) - _N_ALIAS_SHOWN
            warnings.warn(
                f"near-aliased levels (measured on the {len(data):,} training rows): "
                + "; ".join(a["text"] for a in self.aliases_[:_N_ALIAS_SHOWN])
                + (f"; and {n_more} more pair(s) (aliases_)" if n_more > 0 else "")
                + ". Their coefficients are not separately identified (they can run off in opposite "
                "directions, e.g. +5 and -5, with small-looking standard errors). Fix: drop one of the "
                "attributes, or merge the levels before fitting.", UserWarning, stacklevel=2)
        return self

    def _warn_merges(self) -> None:
        """Say which sparse levels were merged (also in :attr:`merges_` and the models' summaries)."""
        merged = [(col, m) for col in self.columns_ for m in self.specs_[col].merges]
        if not merged:
            return
        text = "; ".join(f"{col!r}: {' + '.join(m['from'])} -> {m['level']}" for col, m in merged[:10])
        more = f"; and {len(merged) - 10} more (merges_)" if len(merged) > 10 else ""
        warnings.warn(f"sparse levels merged (fewer than min_bin_defaults={self.min_bin_defaults} training "
                      f"defaults or non-defaults each): {text}{more}. The merged level gets one coefficient; "
                      "see merges_ or levels_table().", UserWarning, stacklevel=3)

    def _aliases(self, data: pd.DataFrame, y: np.ndarray | None) -> list[dict]:
        """Pairs of levels of different attributes that the training rows cannot tell apart.

        Two levels are flagged when their indicator columns are nearly identical or
        complementary (``|correlation| >= alias_threshold``), or when one is nested
        entirely in the other and the rest of the larger level holds fewer than
        ``min_bin_defaults`` defaults or non-defaults (then the contrast between the two
        rests on too few defaults; only with outcomes ``y``). Reference levels count too.
        """
        cols = [c for c in self._cat_cols if self.specs_[c].n_levels >= 2]
        if len(cols) < 2 or not len(data):
            return []
        enc = self.encode(data[self.columns_])
        pos = {c: self._cat_cols.index(c) for c in cols}
        start, names, owner = {}, [], []
        for c in cols:
            start[c] = len(names)
            names += [f"{c} {lab}" for lab in self.specs_[c].labels]
            owner += [c] * self.specs_[c].n_levels
        n = enc.n
        codes = {c: enc.codes[:, pos[c]].astype(np.int64) for c in cols}
        G = np.zeros((len(names), len(names)))        # rows in both levels (joint counts by pair of attributes)
        dflt = None if y is None else np.zeros(len(names))
        for i, c in enumerate(cols):
            k, sc = self.specs_[c].n_levels, slice(start[c], start[c] + self.specs_[c].n_levels)
            G[sc, sc] = np.diag(np.bincount(codes[c], minlength=k))
            if y is not None:
                dflt[sc] = np.bincount(codes[c], weights=np.asarray(y, dtype=np.float64), minlength=k)
            for d in cols[i + 1:]:
                kd, sd = self.specs_[d].n_levels, slice(start[d], start[d] + self.specs_[d].n_levels)
                joint = np.bincount(codes[c] * kd + codes[d], minlength=k * kd).reshape(k, kd)
                G[sc, sd], G[sd, sc] = joint, joint.T
        size = np.diag(G).copy()
        m = int(self.min_bin_defaults)
        var = size * (n - size)
        own = np.asarray(owner, dtype=object)
        with np.errstate(divide="ignore", invalid="ignore"):
            corr = (G * n - np.outer(size, size)) / np.sqrt(np.outer(var, var))
        small_sz = np.minimum.outer(size, size)
        cand = (np.abs(corr) >= self.alias_threshold) | ((G == small_sz) & (np.subtract.outer(size, size) != 0))
        cand &= np.triu(own[:, None] != own[None, :], 1) & (var[:, None] > 0) & (var[None, :] > 0)
        out = []
        two = {c for c in cols if self.specs_[c].n_levels == 2}
        for p, q in zip(*np.nonzero(cand), strict=True):
            both = G[p, q]
            r = float((both * n - size[p] * size[q]) / np.sqrt(var[p] * var[q]))
            if r < 0 and (owner[p] in two or owner[q] in two):
                continue  # the other level of the two-level attribute is the same pair, positively
            if owner[p] in two and owner[q] in two and any(set(o["attributes"]) == {owner[p], owner[q]}
                                                            for o in out):
                continue  # two two-level attributes: one pair says it
            small, big = (p, q) if size[p] <= size[q] else (q, p)
            text = None
            if abs(r) >= self.alias_threshold:
                differ = int(size[p] + size[q] - 2 * both) if r > 0 else int(n - size[p] - size[q] + 2 * both)
                kind = "nearly identical" if r > 0 else "nearly complementary"
                if differ == 0:
                    kind = "identical" if r > 0 else "complementary"
                text = (f"{names[p]!r} and {names[q]!r} are {kind} (indicator correlation {r:+.3f}; "
                        f"{differ:,} rows differ)")
            elif dflt is not None and m and both == size[small] and size[big] > size[small]:
                rest_d = int(round(dflt[big] - dflt[small]))
                rest_n = int(size[big] - size[small])
                if _fails(rest_d, rest_n, m):
                    text = (f"{names[small]!r} is nested entirely in {names[big]!r}, whose other "
                            f"{rest_n:,} rows hold {rest_d:,} defaults (fewer than {m} defaults or "
                            "non-defaults)")
            if text:
                out.append({"levels": [names[p], names[q]], "attributes": [owner[p], owner[q]],
                            "corr": r, "text": text})
        out.sort(key=lambda a: -abs(a["corr"]))
        return out

    def _columns_and_outcome(self, data: pd.DataFrame, y) -> tuple[Any, list[str]]:
        """The outcome and the attributes to encode (``columns``, default every column).

        Before ``columns`` was a setting, the attribute names were the second argument
        of :meth:`fit`; a list of column names there still works for one release, with a
        warning (scikit-learn passes the outcome in that place).
        """
        if not isinstance(data, pd.DataFrame):
            raise TypeError(f"AttributeBinner needs a pandas DataFrame (the attributes by name), "
                            f"got {type(data).__name__}.")
        if (isinstance(y, list | tuple) and y and all(isinstance(c, str) for c in y)
                and set(y) <= set(data.columns)):
            warnings.warn("AttributeBinner.fit(data, columns) is deprecated: give the attributes as "
                          "AttributeBinner(columns=[...]); the second argument of fit is the outcome y.",
                          DeprecationWarning, stacklevel=3)
            return None, list(y)
        return y, list(data.columns if self.columns is None else self.columns)

    def _kind(self, col: str, s: pd.Series) -> str:
        if col in self.numeric:
            return "numeric"
        if col in self.categorical:
            return "categorical"
        is_num = pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)
        if is_num and not isinstance(s.dtype, pd.CategoricalDtype):
            if col in (self.cuts or {}):
                return "binned"
            return "numeric" if self.bins is None else "binned"
        return "categorical"

    def _fit_column(self, col: str, s: pd.Series, y: np.ndarray | None = None) -> ColumnSpec:
        kind = self._kind(col, s)
        na = s.isna().to_numpy()
        n = len(s)
        if n and na.all():
            raise DataValidationError(
                [f"column {col!r}: all {n:,} training rows are missing (NaN). Fix: drop "
                 f"{col!r} from attributes=[...] or fill it."]
            )
        if kind == "numeric":
            x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
            bad = ~np.isfinite(x)
            if bad.any():
                raise DataValidationError(
                    [f"column {col!r}: {int(bad.sum()):,} rows are missing, non-numeric or "
                     f"infinite (e.g. {_examples(s[bad])}), but {col!r} enters linearly "
                     f"(numeric=). Fix: fill them, or bin the column (remove it from "
                     f"numeric=) so that missing values get their own NA bin."]
                )
            if np.ptp(x) == 0:
                raise DataValidationError(
                    [f"column {col!r}: constant ({x[0]!r}) in all {n:,} training rows; it "
                     f"carries no information. Fix: drop it from attributes=[...]."]
                )
            return ColumnSpec(col, "numeric", counts=[n],
                              defaults=[] if y is None else [int(y.sum())])
        if kind == "binned":
            x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
            bad_txt = ~na & np.isnan(x)
            if bad_txt.any():
                raise DataValidationError(
                    [f"column {col!r}: {int(bad_txt.sum()):,} values are not numbers "
                     f"(e.g. {_examples(s[bad_txt])}). Fix: clean them or list {col!r} in "
                     f"categorical=."]
                )
            xv = x[~na]
            if self.cuts and col in self.cuts:
                cuts = sorted({float(c) for c in self.cuts[col]})
            else:
                fin = xv[np.isfinite(xv)]
                q = np.arange(1, self.bins) / self.bins
                cuts = sorted(set(np.quantile(fin, q, method="inverted_cdf").tolist())) if len(fin) else []
                cuts = [c for c in cuts if c < fin.max()] if len(fin) else []
            cuts = _merge_empty_bins(cuts, xv)
            if not (self.cuts and col in self.cuts):  # quantile cuts: short, exact, same training bins
                fin = np.unique(xv[np.isfinite(xv)])
                above = fin[np.minimum(np.searchsorted(fin, cuts, side="right"), len(fin) - 1)]
                cuts = [_round_cut(c, a if a > c else np.inf, self.digits) for c, a in zip(cuts, above, strict=True)]
            labels = _interval_labels(cuts)
            codes = np.searchsorted(cuts, xv, side="left")
            counts = np.bincount(codes, minlength=len(labels)).tolist()
            has_na = bool(na.any())
            if has_na:
                labels.append(self.na_label)
                counts.append(int(na.sum()))
            spec = ColumnSpec(col, "binned", labels=labels, cuts=[float(c) for c in cuts],
                              has_na=has_na, counts=counts)
            if y is not None:
                spec.defaults = np.bincount(codes, weights=y[~na], minlength=len(cuts) + 1)
                spec.defaults = [int(round(v)) for v in spec.defaults]
                if has_na:
                    spec.defaults.append(int(y[na].sum()))
        else:
            vals = s[~na]
            if isinstance(s.dtype, pd.CategoricalDtype):
                present = set(vals.unique().tolist())
                levels = [v for v in s.cat.categories if v in present]
            else:
                levels = pd.unique(vals).tolist()
                try:
                    levels = sorted(levels)
                except TypeError:
                    levels = sorted(levels, key=str)
            levels = [_py(v) for v in levels]
            labels = [str(v) for v in levels]
            if len(set(labels)) != len(labels):
                raise DataValidationError(
                    [f"column {col!r}: distinct values print the same ({labels[:6]}). Fix: "
                     f"convert the column to strings first."]
                )
            idx = lookup(vals, levels)
            counts = np.bincount(idx[idx >= 0], minlength=len(levels)).tolist()
            has_na = bool(na.any())
            if has_na:
                if self.na_label in labels:
                    raise DataValidationError(
                        [f"column {col!r}: has both missing values and a level called "
                         f"{self.na_label!r}. Fix: pass another na_label=."]
                    )
                labels.append(self.na_label)
                counts.append(int(na.sum()))
            spec = ColumnSpec(col, "categorical", labels=labels, values=levels,
                              has_na=has_na, counts=counts)
            if y is not None:
                dv = np.bincount(idx[idx >= 0], weights=y[~na][idx >= 0], minlength=len(levels))
                spec.defaults = [int(round(v)) for v in dv]
                if has_na:
                    spec.defaults.append(int(y[na].sum()))
        if len(spec.labels) < 2:
            raise DataValidationError(
                [f"column {col!r}: a single value ({spec.labels[0]}) in all {n:,} training "
                 f"rows; it carries no information. Fix: drop it from attributes=[...]."]
            )
        ref = self._reference_code(col, spec, strict=y is None or not self.min_bin_defaults)
        if y is not None and self.min_bin_defaults:
            spec = self._merge_sparse(spec, ref)
            if ref is None:  # a reference given by its label after merging
                spec.reference = self._reference_code(col, spec)
        else:
            spec.reference = ref
        return spec

    def _reference_code(self, col: str, spec: ColumnSpec, strict: bool = True) -> int | None:
        ref = (self.reference or {}).get(col, None)
        if ref is None:
            return 0
        if spec.kind == "categorical" and _py(ref) in spec.values:
            i = spec.values.index(_py(ref))
            return spec.value_codes[i] if spec.value_codes else i
        if str(ref) in spec.labels:
            return spec.labels.index(str(ref))
        if not strict:
            return None
        raise ValueError(f"reference[{col!r}]={ref!r} is not a level of {col!r}; levels are "
                         f"{spec.labels}.")

    def _merge_sparse(self, spec: ColumnSpec, ref0: int | None) -> ColumnSpec:
        """Merge levels with fewer than ``min_bin_defaults`` defaults or non-defaults.

        ``ref0`` is the reference code among the unmerged levels (``None``: not known
        yet; the first level is used for the merging rules). Returns a new spec with
        its reference set.
        """
        m = int(self.min_bin_defaults)
        k = len(spec.labels) - (1 if spec.has_na else 0)       # non-NA levels
        ref_na = spec.has_na and ref0 == spec.na_code
        r0 = 0 if ref0 is None or ref_na else ref0
        d, n = spec.defaults[:k], spec.counts[:k]
        new = ColumnSpec(spec.name, spec.kind, has_na=spec.has_na)
        if spec.kind == "binned":
            groups = _sparse_groups(d, n, m)
            new.cuts = [spec.cuts[g[-1]] for g in groups[:-1]]
            new.labels = (_interval_labels(new.cuts) if len(groups) < k
                          else spec.labels[:k])
        else:
            sparse = [i for i in range(k) if _fails(d[i], n[i], m)]
            keep = [i for i in range(k) if i not in sparse]
            groups = [[i] for i in keep]
            other = None
            if sparse:
                if keep and (len(sparse) == 1 or _fails(sum(d[i] for i in sparse),
                                                        sum(n[i] for i in sparse), m)):
                    # "other" stays sparse: into the reference, or the largest level
                    tgt = (keep.index(r0) if r0 in keep
                           else max(range(len(keep)), key=lambda j: (n[keep[j]], -j)))
                    groups[tgt] = groups[tgt] + sparse
                else:
                    groups.append(sparse)
                    other = len(groups) - 1
            kept_labels = {spec.labels[g[0]] for j, g in enumerate(groups) if j != other}
            other_label = next(lab for lab in ("other", *(f"other ({i})" for i in range(1, k + 2)))
                               if lab not in kept_labels and lab != self.na_label)
            new.labels = [other_label if j == other else spec.labels[g[0]]
                          for j, g in enumerate(groups)]
            new.values = [spec.values[g[0]] for g in groups] + [
                spec.values[i] for g in groups for i in g[1:]]
            if len(groups) < k:
                new.value_codes = list(range(len(groups))) + [
                    j for j, g in enumerate(groups) for _ in g[1:]]
        new.counts = [sum(n[i] for i in g) for g in groups]
        new.defaults = [sum(d[i] for i in g) for g in groups]
        members = [[spec.labels[i] for i in g] for g in groups]
        group_of = {i: j for j, g in enumerate(groups) for i in g}
        ref = group_of[r0]
        if spec.has_na:
            na_d, na_n = spec.defaults[k], spec.counts[k]
            if not ref_na and _fails(na_d, na_n, m):
                new.has_na = False
                new.na_into = ref
                new.counts[ref] += na_n
                new.defaults[ref] += na_d
                members[ref].append(spec.labels[k])
            else:
                new.labels.append(spec.labels[k])
                new.counts.append(na_n)
                new.defaults.append(na_d)
                if ref_na:
                    ref = new.na_code
        new.reference = ref
        new.merges = [{"level": new.labels[j], "from": mem}
                      for j, mem in enumerate(members) if len(mem) > 1]
        if len(new.labels) < 2:
            warnings.warn(
                f"column {spec.name!r}: sparse-level merging (min_bin_defaults={m}) merged all "
                f"{len(spec.labels)} levels into one, so the attribute drops out of the model. Its levels "
                "each have fewer than {m} defaults or non-defaults: it is too rare, an identifier-like code "
                "(e.g. a zip code; group it first) or perfectly predictive of default (check it)."
                .replace("{m}", str(m)), UserWarning, stacklevel=4)
        return new

    def _finalise(self) -> None:
        names, offsets, self._pos = [], {}, {}
        j = 0
        for col in self.columns_:
            spec = self.specs_[col]
            offsets[col] = j
            if spec.kind == "numeric":
                names.append(col)
                j += 1
                continue
            pos = np.full(spec.n_levels, -1, dtype=np.int64)
            keep = [i for i in range(spec.n_levels) if i != spec.reference]
            pos[keep] = np.arange(len(keep)) + j
            self._pos[col] = pos
            names.extend(f"{col} {lab}" for lab in spec.term_labels())
            j += len(keep)
        self.term_names_ = names
        self._cat_cols = [c for c in self.columns_ if self.specs_[c].kind != "numeric"]
        self._num_cols = [c for c in self.columns_ if self.specs_[c].kind == "numeric"]

    # ------------------------------------------------------------------ apply
    @property
    def n_terms_(self) -> int:
        """Number of design columns (without intercept)."""
        check_fitted(self, "specs_")
        return len(self.term_names_)

    @property
    def n_levels_(self) -> list[int]:
        """Levels of each binned/categorical attribute, in :attr:`Encoded.codes` order."""
        return [self.specs_[c].n_levels for c in self._cat_cols]

    def _codes_column(self, spec: ColumnSpec, s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """Codes and a mask of values without a level."""
        na = s.isna().to_numpy()
        if spec.kind == "binned":
            x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
            codes = np.searchsorted(spec.cuts, x, side="left").astype(np.int32)
            unknown = ~na & np.isnan(x)
        else:
            codes = lookup(s, spec.values).astype(np.int32)
            unknown = ~na & (codes < 0)
            if spec.value_codes:
                vc = np.asarray(spec.value_codes, dtype=np.int32)
                codes = np.where(codes >= 0, vc[np.maximum(codes, 0)], -1).astype(np.int32)
        if spec.has_na:
            codes[na] = spec.na_code
        elif spec.na_into >= 0:
            codes[na] = spec.na_into
        else:
            unknown |= na
        return codes, unknown

    def encode(self, data: pd.DataFrame) -> Encoded:
        """Level codes and numeric values of new data.

        Parameters
        ----------
        data : pandas.DataFrame
            Must contain every attribute column.

        Returns
        -------
        Encoded
        """
        check_fitted(self, "specs_")
        require_columns(data, self.columns_)
        n = len(data)
        codes = np.empty((n, len(self._cat_cols)), dtype=np.int32)
        numeric = np.empty((n, len(self._num_cols)), dtype=np.float64)
        problems = []
        for j, col in enumerate(self._cat_cols):
            spec = self.specs_[col]
            c, unknown = self._codes_column(spec, data[col])
            if unknown.any():
                if self.handle_unknown == "reference":
                    c[unknown] = spec.reference
                else:
                    n_na = int((unknown & data[col].isna().to_numpy()).sum())
                    problems.append(
                        f"column {col!r}: {int(unknown.sum()):,} rows have values not seen in "
                        f"training ({n_na:,} of them missing; e.g. {_examples(data[col][unknown])}); "
                        f"training levels: {spec.labels[:8]}{' ...' if spec.n_levels > 8 else ''}. "
                        "Fix: map them to a training level, or fit with "
                        "handle_unknown='reference' to score them as the reference level."
                    )
            codes[:, j] = c
        for j, col in enumerate(self._num_cols):
            x = pd.to_numeric(data[col], errors="coerce").to_numpy(dtype=np.float64)
            bad = ~np.isfinite(x)
            if bad.any():
                problems.append(
                    f"column {col!r}: {int(bad.sum()):,} rows are missing, non-numeric or "
                    f"infinite (e.g. {_examples(data[col][bad])}) but {col!r} enters linearly. "
                    "Fix: fill them before scoring."
                )
            numeric[:, j] = x
        if problems:
            raise DataValidationError(problems)
        return Encoded(codes, numeric)

    def design_from(self, enc: Encoded, intercept: bool = False) -> sp.csr_matrix:
        """Sparse design matrix (reference levels dropped) from encoded rows."""
        check_fitted(self, "specs_")
        n = enc.n
        rows, cols, vals = [], [], []
        shift = 1 if intercept else 0
        if intercept:
            rows.append(np.arange(n))
            cols.append(np.zeros(n, dtype=np.int64))
            vals.append(np.ones(n))
        for j, col in enumerate(self._cat_cols):
            pos = self._pos[col][enc.codes[:, j]]
            keep = pos >= 0
            rows.append(np.flatnonzero(keep))
            cols.append(pos[keep] + shift)
            vals.append(np.ones(int(keep.sum())))
        offsets = {c: i for i, c in enumerate(self.term_names_)}
        for j, col in enumerate(self._num_cols):
            rows.append(np.arange(n))
            cols.append(np.full(n, offsets[col] + shift, dtype=np.int64))
            vals.append(enc.numeric[:, j])
        shape = (n, self.n_terms_ + shift)
        if not rows:
            return sp.csr_matrix(shape)
        return sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=shape
        )

    def design(self, data: pd.DataFrame, intercept: bool = False) -> sp.csr_matrix:
        """Sparse design matrix of new data; see :meth:`design_from`."""
        return self.design_from(self.encode(data), intercept=intercept)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Bin labels (pandas ``Categorical``) and numeric passthrough values, one column per
        attribute (:meth:`get_feature_names_out`)."""
        data = X
        enc = self.encode(data)
        out = {}
        for j, col in enumerate(self._cat_cols):
            out[col] = pd.Categorical.from_codes(enc.codes[:, j], categories=self.specs_[col].labels)
        for j, col in enumerate(self._num_cols):
            out[col] = enc.numeric[:, j]
        return pd.DataFrame({c: out[c] for c in self.columns_}, index=data.index)

    def fit_transform(self, X: pd.DataFrame, y=None) -> pd.DataFrame:
        """:meth:`fit` then :meth:`transform`."""
        return self.fit(X, y).transform(X)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the :meth:`transform` columns: the attributes, in design order."""
        check_fitted(self, "specs_")
        return np.asarray(self.columns_, dtype=object)

    def categorical_frame(self, enc: Encoded) -> pd.DataFrame:
        """Encoded rows as a DataFrame of categoricals with the reference level first.

        The layout glum expects with ``drop_first=True``; numeric attributes as floats.
        Attributes left with a single level (no design column) are left out.
        """
        out = {}
        for j, col in enumerate(self._cat_cols):
            spec = self.specs_[col]
            if spec.n_levels < 2:
                continue
            order = [spec.reference] + [i for i in range(spec.n_levels) if i != spec.reference]
            perm = np.empty(spec.n_levels, dtype=np.int32)
            perm[order] = np.arange(spec.n_levels, dtype=np.int32)
            out[col] = pd.Categorical.from_codes(perm[enc.codes[:, j]],
                                                 categories=[spec.labels[i] for i in order])
        for j, col in enumerate(self._num_cols):
            out[col] = enc.numeric[:, j]
        return pd.DataFrame({c: out[c] for c in self.columns_ if c in out},
                            index=pd.RangeIndex(enc.n))

    def levels_table(self) -> pd.DataFrame:
        """One row per level: ``attribute, kind, level, count, reference, defaults, merged_from``.

        ``defaults`` is missing when the binner was fitted without outcomes;
        ``merged_from`` lists the training levels of a merged level (``" + "``-joined,
        empty otherwise).
        """
        check_fitted(self, "specs_")
        rows = []
        for col in self.columns_:
            spec = self.specs_[col]
            if spec.kind == "numeric":
                rows.append((col, "numeric", "", spec.counts[0], False,
                             spec.defaults[0] if spec.defaults else None, ""))
                continue
            merged = {m["level"]: " + ".join(m["from"]) for m in spec.merges}
            for i, lab in enumerate(spec.labels):
                rows.append((col, spec.kind, lab, spec.counts[i], i == spec.reference,
                             spec.defaults[i] if spec.defaults else None, merged.get(lab, "")))
        out = pd.DataFrame(rows, columns=["attribute", "kind", "level", "count", "reference",
                                          "defaults", "merged_from"])
        out["defaults"] = out["defaults"].astype("Int64")
        return out

    @property
    def merges_(self) -> pd.DataFrame:
        """Merged sparse levels: ``attribute, level, merged_from, count, defaults``."""
        t = self.levels_table()
        t = t.loc[t["merged_from"] != "", ["attribute", "level", "merged_from", "count", "defaults"]]
        return t.reset_index(drop=True)

    # ------------------------------------------------------------------ io
    def to_dict(self) -> dict:
        """JSON-ready dictionary of settings and fitted encodings."""
        check_fitted(self, "specs_")
        settings = self.get_params()
        settings["columns"] = None if settings["columns"] is None else list(settings["columns"])
        settings["numeric"] = list(settings["numeric"])
        settings["categorical"] = list(settings["categorical"])
        settings["cuts"] = {k: list(v) for k, v in (settings["cuts"] or {}).items()} or None
        settings["reference"] = {k: _py(v) for k, v in (settings["reference"] or {}).items()} or None
        return jsonable(
            {
                "kind": "AttributeBinner", "format_version": 1, "settings": settings,
                "columns": self.columns_, "n_rows": self.n_rows_,
                "specs": [self.specs_[c].to_dict() for c in self.columns_],
                "aliases": getattr(self, "aliases_", []),
            }
        )

    @classmethod
    def from_dict(cls, d: Mapping) -> AttributeBinner:
        """Rebuild a fitted binner from :meth:`to_dict` output."""
        check_kind(dict(d), "AttributeBinner")
        s = dict(d["settings"])
        bins = s.pop("bins")
        obj = cls(bins, **s)
        obj.columns_ = list(d["columns"])
        obj.specs_ = {sd["name"]: ColumnSpec.from_dict(sd) for sd in d["specs"]}
        obj.n_rows_ = int(d.get("n_rows", 0))
        obj.aliases_ = list(d.get("aliases", []))
        obj._finalise()
        return obj
