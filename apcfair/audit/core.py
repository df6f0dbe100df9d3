"""The fairness audit: arrays in, an immutable :class:`AuditResult` out."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from apcfair._io import to_jsonable
from apcfair._provenance import provenance
from apcfair.audit._options import GapMethod, Polarity, check_option
from apcfair.audit._validate import (
    INTERSECTION_SEP,
    AuditInput,
    check_score,
    intersect,
    prepare,
    risk_key,
)
from apcfair.audit.groups import (
    GAP_LABELS,
    GAP_SPECS,
    check_thresholds,
    compute_gaps,
    counts_for,
    group_rows,
    metric_frame,
    power_rows,
    score_metrics,
    tests_rows,
)
from apcfair.audit.metrics import (
    CONVENTIONS,
    calibration_table,
    performance,
    rates,
    roc_points,
)
from apcfair.audit.stats import bootstrap_counts, rng_from

_GROUP_COLS = ["attribute", "group", "n", "n_default", "n_creditworthy", "base_rate", "approval_rate",
               "approval_rate_ci_low", "approval_rate_ci_high", "tpr", "tpr_ci_low", "tpr_ci_high", "fpr",
               "precision", "accuracy", "default_rate_approved", "avg_score", "auc", "ece", "brier", "small"]
_RATE_METRICS = ("approval_rate", "tpr", "fpr", "precision", "accuracy", "base_rate",
                 "default_rate_approved", "avg_score", "auc", "ece", "brier")


def _jsonable(obj):
    """Recursively convert to JSON-ready Python objects (NaN -> None)."""
    return to_jsonable(obj)


def _check_settings(min_group_size, n_boot, ci, n_bins):
    if not isinstance(min_group_size, (int, np.integer)) or min_group_size < 1:
        raise ValueError(f"min_group_size must be a positive integer, got {min_group_size!r}.")
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ValueError(f"n_boot must be a non-negative integer (0 skips the intervals), got {n_boot!r}.")
    if not 0 < float(ci) < 1:
        raise ValueError(f"ci must be in (0, 1), e.g. 0.95; got {ci!r}.")
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 2:
        raise ValueError(f"n_bins must be an integer >= 2, got {n_bins!r}.")


def _intersections(attrs: dict, intersections) -> list[tuple[str, ...]]:
    names = list(attrs)
    if intersections is True:
        if len(names) < 2:
            return []
        combos = [c for k in range(2, len(names) + 1) for c in itertools.combinations(names, k)]
        return combos
    if not intersections:
        return []
    if isinstance(intersections, str):
        raise ValueError("intersections must be True/False or a list of attribute-name tuples, "
                         f"got the string {intersections!r}.")
    return [tuple(c) for c in intersections]


def _attribute_tables(inp: AuditInput, name: str, labels: pd.Categorical, *, min_group_size, thresholds,
                      n_boot, ci, n_bins, rng, mask=None, fairlearn_by_group=None):
    """Group rows (Fairlearn rates + count-based intervals), gaps for one attribute.

    ``fairlearn_by_group`` is a ``MetricFrame.by_group`` slice to take the rates from (for
    strata, where one frame with ``control_features`` serves every stratum).
    """
    counts = counts_for(inp, labels, mask)
    groups = list(labels.categories)
    present = counts.sum(1) > 0
    counts, groups = counts[present], [g for g, p in zip(groups, present, strict=True) if p]
    boot = bootstrap_counts(counts, n_boot, rng) if n_boot else None
    rows = group_rows(counts, groups, boot, ci, min_group_size)
    if fairlearn_by_group is None:
        fairlearn_by_group = metric_frame(inp, labels, mask=mask).by_group
    rows = _merge_fairlearn(rows, fairlearn_by_group)
    sm = score_metrics(inp, labels, n_bins=n_bins, mask=mask).set_index("group")
    for c in sm.columns:
        rows[c] = sm[c].reindex(rows["group"]).to_numpy(dtype=float)
    rows.insert(0, "attribute", name)
    eligible = rows["n"].to_numpy() >= min_group_size
    gaps = pd.DataFrame(compute_gaps(counts, groups, eligible, thresholds, boot, ci))
    gaps.insert(0, "attribute", name)
    return counts, rows, gaps


def _merge_fairlearn(rows: pd.DataFrame, mf_by_group: pd.DataFrame) -> pd.DataFrame:
    """Take the rates from Fairlearn's ``MetricFrame.by_group`` (same values as the cells)."""
    fl = mf_by_group.copy()
    fl.index = fl.index.astype(str)
    out = rows.set_index("group")
    for col in fl.columns:
        if col == "n":
            continue
        out[col] = fl[col].reindex(out.index).astype(float)
    return out.reset_index()


@dataclass(frozen=True)
class AuditResult:
    """Result of :func:`audit`: tidy tables, gaps with intervals, tests, plots, JSON and HTML.

    Parameters
    ----------
    performance, overall, by_group, gaps, tests, power, calibration, roc, by_stratum, gaps_by_stratum, comparison, caveats, settings, conventions, provenance
        As the attributes; produced by :func:`audit` or :meth:`load`.

    Attributes
    ----------
    performance : dict
        ``auc, gini, ks, brier, ece, n, default_rate`` of the score (NaN without a score).
    overall : pandas.DataFrame
        One row of population rates (``n, base_rate, approval_rate, tpr, fpr, precision,
        accuracy, default_rate_approved``).
    by_group : pandas.DataFrame
        One row per attribute and group (intersections included), with bootstrap intervals for
        approval rate and TPR and ``small = n < min_group_size``.
    gaps : pandas.DataFrame
        One row per attribute and gap (``dir, spd, eod, eo, ppd, accuracy_gap``) with value,
        interval, threshold, pass/fail and the groups compared.
    tests : pandas.DataFrame
        Decision-vs-group tests per attribute (chi-square / Fisher), Cramer's V.
    power : pandas.DataFrame
        Minimum detectable gaps per group, with notes for groups too small to detect the
        threshold gap.
    calibration : pandas.DataFrame
        Reliability tables, overall and per group of each protected attribute.
    roc : pandas.DataFrame
        ROC points (as rejection shares), overall and per group.
    by_stratum, gaps_by_stratum : pandas.DataFrame or None
        The same group rows and gaps within each stratum of the control feature.
    comparison : pandas.DataFrame or None
        Performance and gaps of the audited score beside extra scores given in ``compare``.
    caveats : tuple of str
        Data caveats carried into every output.
    settings, conventions, provenance : dict
        Settings used, the favourable-outcome conventions, library versions.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> group = rng.choice(["A", "B"], 2000, p=[0.7, 0.3])
    >>> risk = rng.normal(0, 1, 2000) + 0.4 * (group == "B")
    >>> y = (rng.random(2000) < 1 / (1 + np.exp(-(risk - 2)))).astype(int)
    >>> pd_ = 1 / (1 + np.exp(-(risk - 2)))     # a calibrated PD; approve iff PD < 0.2
    >>> from apcfair.audit import AuditResult, audit
    >>> result = audit(pd_, y, group, cutoff=0.2, n_boot=200)
    >>> result.attributes
    ['group']
    >>> gap = result.gap("group", "dir")   # disparate impact ratio, B vs A
    >>> round(gap["value"], 2), gap["status"], gap["low_group"]
    (0.82, 'PASS', 'B')
    >>> result.difference("approval_rate").round(2)  # doctest: +NORMALIZE_WHITESPACE
      attribute         metric  value high_group low_group
    0     group  approval_rate   0.14          A         B
    >>> print(result.summary().splitlines()[0])
    Fairness audit (favourable outcome: creditworthy = no default; favourable decision: approved)
    >>> path = result.save(pathlib.Path(tempfile.mkdtemp()) / "audit.json")
    >>> AuditResult.load(path).gaps.shape == result.gaps.shape
    True
    >>> result.to_html().startswith("<!DOCTYPE html>")
    True
    """

    performance: dict
    overall: pd.DataFrame
    by_group: pd.DataFrame
    gaps: pd.DataFrame
    tests: pd.DataFrame
    power: pd.DataFrame
    calibration: pd.DataFrame
    roc: pd.DataFrame
    by_stratum: pd.DataFrame | None = None
    gaps_by_stratum: pd.DataFrame | None = None
    comparison: pd.DataFrame | None = None
    caveats: tuple[str, ...] = ()
    settings: dict = field(default_factory=dict)
    conventions: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ accessors
    @property
    def attributes(self) -> list[str]:
        """Audited attributes, intersections last."""
        return list(dict.fromkeys(self.by_group["attribute"]))

    def gap(self, attribute: str, name: str) -> dict:
        """One gap row as a dict, e.g. ``result.gap("sex", "dir")``."""
        sel = self.gaps[(self.gaps["attribute"] == attribute) & (self.gaps["gap"] == name)]
        if sel.empty:
            raise ValueError(f"no gap {name!r} for attribute {attribute!r}; attributes: {self.attributes}, "
                             f"gaps: {list(GAP_SPECS)}.")
        return sel.iloc[0].to_dict()

    def _groups_of(self, attribute, include_small):
        df = self.by_group if attribute is None else self.by_group[self.by_group["attribute"] == attribute]
        if attribute is not None and df.empty:
            raise ValueError(f"unknown attribute {attribute!r}; audited: {self.attributes}.")
        return df if include_small else df[~df["small"]]

    def difference(self, metric: str = "approval_rate", *, method: GapMethod = "between_groups",
                   reference: str | Mapping[str, str] | None = None, attribute: str | None = None,
                   include_small: bool = False) -> pd.DataFrame:
        """Differences of a group rate, like Fairlearn's ``MetricFrame.difference``.

        Parameters
        ----------
        metric : str, default "approval_rate"
            A column of ``by_group`` (``approval_rate, tpr, fpr, precision, accuracy, ...``).
        method : {"between_groups", "to_overall", "to_reference"}
            ``between_groups``: highest minus lowest group per attribute (unsigned);
            ``to_overall``: each group minus the population rate (signed);
            ``to_reference``: each group minus the reference group (signed).
        reference : str or dict, optional
            Reference group (per attribute as a dict) for ``method="to_reference"``; a
            string is used for every attribute that has such a group.
        attribute : str, optional
            Restrict to one attribute.
        include_small : bool, default False
            Include groups below ``min_group_size``.

        Returns
        -------
        pandas.DataFrame
            ``attribute, metric, value, high_group, low_group`` (between groups) or
            ``attribute, group, metric, value, reference`` (signed methods).
        """
        return self._contrast(metric, method, reference, attribute, include_small, ratio=False)

    def ratio(self, metric: str = "approval_rate", *, method: GapMethod = "between_groups",
              reference: str | Mapping[str, str] | None = None, attribute: str | None = None,
              include_small: bool = False) -> pd.DataFrame:
        """Ratios of a group rate (``between_groups``: lowest / highest, the disparate impact ratio).

        Parameters are as for :meth:`difference`; signed methods give ``group / reference``.
        """
        return self._contrast(metric, method, reference, attribute, include_small, ratio=True)

    def _contrast(self, metric, method, reference, attribute, include_small, ratio):
        check_option("method", method, GapMethod)
        if metric not in self.by_group.columns or metric in ("attribute", "group", "small"):
            raise ValueError(f"metric={metric!r} is not a group rate; choose one of {list(_RATE_METRICS)}.")
        df = self._groups_of(attribute, include_small)
        rows = []
        for attr, sub in df.groupby("attribute", sort=False):
            x = sub.set_index("group")[metric].astype(float).dropna()
            if method == "between_groups":
                if len(x) < 2:
                    rows.append({"attribute": attr, "metric": metric, "value": np.nan,
                                 "high_group": None, "low_group": None})
                    continue
                hi, lo = x.idxmax(), x.idxmin()
                val = (x[lo] / x[hi] if x[hi] > 0 else np.nan) if ratio else x[hi] - x[lo]
                rows.append({"attribute": attr, "metric": metric, "value": float(val),
                             "high_group": hi, "low_group": lo})
                continue
            if method == "to_overall":
                ref_val, ref_name = float(self.overall[metric].iloc[0]), "overall"
            else:
                if reference is None:
                    raise ValueError("method='to_reference' needs reference=<group> or {attribute: group}.")
                ref_name = reference.get(attr) if isinstance(reference, Mapping) else reference
                if ref_name is None or ref_name not in x.index:
                    if isinstance(reference, Mapping) and attr not in reference:
                        continue
                    if not isinstance(reference, Mapping) and attribute is None:
                        continue
                    raise ValueError(f"reference group {ref_name!r} not found for attribute {attr!r}; "
                                     f"groups: {list(x.index)}.")
                ref_val = float(x[ref_name])
            for g, v in x.items():
                val = (v / ref_val if ref_val > 0 else np.nan) if ratio else v - ref_val
                rows.append({"attribute": attr, "group": g, "metric": metric, "value": float(val),
                             "reference": ref_name})
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ text / JSON
    def summary(self) -> str:
        """A plain-text report: performance, groups, gaps with intervals, tests, caveats."""
        s = self.settings
        lines = ["Fairness audit (favourable outcome: creditworthy = no default; favourable decision: approved)"]
        ov = self.overall.iloc[0]
        rule = (f"approved iff PD < {s.get('cutoff')}" if s.get("polarity") == "pd"
                else f"approved iff score >= {s.get('cutoff')}") if s.get("cutoff") is not None \
            else "decisions given"
        lines.append(f"{int(ov['n']):,} applicants, default rate {ov['base_rate']:.1%}, approval rate "
                     f"{ov['approval_rate']:.1%}; {rule}; min group size {s.get('min_group_size')}")
        p = self.performance
        if np.isfinite(p.get("auc", np.nan)):
            lines.append("Performance: " + "  ".join(
                f"{k.upper()} {p[k]:.4f}" for k in ("auc", "gini", "ks", "brier", "ece")
                if p.get(k) is not None and np.isfinite(p[k])))
        for c in self.caveats:
            lines.append(f"CAVEAT: {c}")
        cols = ["group", "n", "base_rate", "approval_rate", "tpr", "fpr", "precision", "accuracy"]
        for attr in self.attributes:
            lines.append("")
            lines.append(f"== {attr} ==")
            sub = self.by_group[self.by_group["attribute"] == attr]
            tab = sub[cols].copy()
            tab["small"] = np.where(sub["small"], "SMALL", "")
            lines.append(tab.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
            g = self.gaps[self.gaps["attribute"] == attr]
            for _, r in g.iterrows():
                ci_ = (f" [{r['ci_low']:.3f}, {r['ci_high']:.3f}]" if np.isfinite(r["ci_low"]) else "")
                val = f"{r['value']:.3f}" if np.isfinite(r["value"]) else "n/a"
                pair = f" ({r['low_group']} vs {r['high_group']})" if r["low_group"] is not None else ""
                lines.append(f"  {r['gap']:<13}{val:>8}{ci_:<20} {r['status']:<5}{pair}")
            t = self.tests[self.tests["attribute"] == attr]
            for _, r in t.iterrows():
                lines.append(f"  test {r['outcome']}: {r['test']} stat {r['statistic']:.3f}, p {r['p_value']:.4g}, "
                             f"Cramer's V {r['cramers_v']:.3f}")
            pw = self.power[(self.power["attribute"] == attr) & (self.power["note"] != "")]
            for _, r in pw.iterrows():
                lines.append(f"  power: {r['group']} (n={r['n']}): min detectable approval gap "
                             f"{r['mde_approval_rate']:.3f}, TPR gap {r['mde_tpr']:.3f}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-ready dictionary (NaN -> null) with the contract keys of ``audit.json``."""
        def by_attr(df, drop=("attribute",)):
            return {a: _jsonable(sub.drop(columns=list(drop))) for a, sub in df.groupby("attribute", sort=False)}

        gaps = {}
        for attr, sub in self.gaps.groupby("attribute", sort=False):
            gaps[attr] = {}
            for _, r in sub.iterrows():
                d = _jsonable(r.drop(labels=["attribute", "gap"]).to_dict())
                d["ci"] = [d.pop("ci_low"), d.pop("ci_high")]
                d["ci_level"] = self.settings.get("ci")
                d["rule"] = ("fails if value < threshold" if r["kind"] == "ratio"
                             else "fails if |value| > threshold")
                d["description"] = GAP_LABELS[r["gap"]]
                gaps[attr][r["gap"]] = d
        strata = None
        if self.by_stratum is not None:
            strata = {"control": self.settings.get("control"), "groups": {}, "gaps": {}}
            for st, sub in self.by_stratum.groupby("stratum", sort=False):
                strata["groups"][str(st)] = by_attr(sub.drop(columns=["stratum"]))
            for st, sub in self.gaps_by_stratum.groupby("stratum", sort=False):
                strata["gaps"][str(st)] = by_attr(sub.drop(columns=["stratum"]))
        conv = dict(self.conventions)
        return _jsonable({
            "conventions": conv,
            "caveats": list(self.caveats),
            "performance": self.performance,
            "overall": self.overall.iloc[0].to_dict(),
            "groups": by_attr(self.by_group),
            "gaps": gaps,
            "tests": by_attr(self.tests),
            "power": by_attr(self.power),
            "strata": strata,
            "calibration": _jsonable(self.calibration),
            "roc": _jsonable(self.roc),
            "comparison": None if self.comparison is None else _jsonable(self.comparison),
            "settings": self.settings,
            "provenance": self.provenance,
        })

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as JSON."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False))
        return path

    @classmethod
    def from_dict(cls, d: Mapping) -> AuditResult:
        """Rebuild a result from :meth:`to_dict` output (e.g. a saved ``audit.json``)."""
        def frame(by_attr):
            parts = [pd.DataFrame(rows).assign(attribute=a) for a, rows in (by_attr or {}).items()]
            if not parts:
                return pd.DataFrame()
            df = pd.concat(parts, ignore_index=True)
            return df[["attribute"] + [c for c in df.columns if c != "attribute"]]

        def nan(df):
            return df.apply(lambda c: c.astype(float) if c.dtype == object and
                            c.map(lambda v: v is None or isinstance(v, (int, float))).all()
                            and not c.map(lambda v: isinstance(v, bool)).any() else c)

        gap_rows = []
        for attr, gs in d["gaps"].items():
            for name, g in gs.items():
                r = {k: v for k, v in g.items() if k not in ("ci", "ci_level", "rule", "description")}
                r.update(attribute=attr, gap=name, ci_low=g["ci"][0], ci_high=g["ci"][1])
                gap_rows.append(r)
        gaps = pd.DataFrame(gap_rows)
        for c in ("value", "ci_low", "ci_high", "threshold"):
            gaps[c] = gaps[c].astype(float)
        by_stratum = gaps_by_stratum = None
        if d.get("strata"):
            by_stratum = pd.concat([frame(v).assign(stratum=s) for s, v in d["strata"]["groups"].items()],
                                   ignore_index=True)
            gaps_by_stratum = pd.concat([frame(v).assign(stratum=s) for s, v in d["strata"]["gaps"].items()],
                                        ignore_index=True)
        perf = {k: (np.nan if v is None else v) for k, v in d["performance"].items()}
        return cls(
            performance=perf,
            overall=nan(pd.DataFrame([d["overall"]])),
            by_group=nan(frame(d["groups"])),
            gaps=gaps,
            tests=nan(frame(d["tests"])),
            power=nan(frame(d["power"])),
            calibration=nan(pd.DataFrame(d.get("calibration") or [])),
            roc=nan(pd.DataFrame(d.get("roc") or [])),
            by_stratum=by_stratum,
            gaps_by_stratum=gaps_by_stratum,
            comparison=None if d.get("comparison") is None else nan(pd.DataFrame(d["comparison"])),
            caveats=tuple(d.get("caveats") or ()),
            settings=dict(d.get("settings") or {}),
            conventions=dict(d.get("conventions") or {}),
            provenance=dict(d.get("provenance") or {}),
        )

    @classmethod
    def load(cls, path: str | Path) -> AuditResult:
        """Read a result written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))

    # ------------------------------------------------------------------ plots / HTML
    def plot_fairness(self, metric: str = "approval_rate", attribute: str | None = None, ax=None):
        """Bar chart of a group rate with bootstrap intervals; small groups hatched."""
        from apcfair.audit.plots import plot_group_metric

        return plot_group_metric(self, metric=metric, attribute=attribute, ax=ax)

    def plot_gaps(self, attribute: str | None = None, ax=None):
        """Gaps with intervals against their pass/fail thresholds."""
        from apcfair.audit.plots import plot_gaps

        return plot_gaps(self, attribute=attribute, ax=ax)

    def plot_roc(self, attribute: str | None = None, ax=None):
        """ROC curve overall (and per group of ``attribute``)."""
        from apcfair.audit.plots import plot_roc

        return plot_roc(self, attribute=attribute, ax=ax)

    def plot_calibration(self, attribute: str | None = None, ax=None):
        """Reliability diagram overall (and per group of ``attribute``)."""
        from apcfair.audit.plots import plot_calibration

        return plot_calibration(self, attribute=attribute, ax=ax)

    def to_html(self, title: str = "Fairness audit") -> str:
        """Self-contained HTML report (plots embedded as base64 PNG)."""
        from apcfair.audit.html import audit_html

        return audit_html(self, title=title)


def _comparison(inp: AuditInput, main_name: str, compare: Mapping, attrs: dict, *, cutoff, polarity,
                min_group_size, thresholds, n_boot, ci, n_bins, rng) -> pd.DataFrame:
    rows = []
    scores = {main_name: inp.score, **{str(k): v for k, v in compare.items()}}
    for name, sc in scores.items():
        s = check_score(sc, polarity, name=f"compare[{name!r}]") if name != main_name else sc
        if len(s) != len(inp.y):
            raise ValueError(f"length mismatch: compare[{name!r}] has {len(s):,} rows, y has {len(inp.y):,}.")
        sub = AuditInput(y=inp.y, approved=(s < cutoff if polarity == "pd" else s >= cutoff), score=s,
                         pd=None, attrs=attrs, control=None, control_name=None, cutoff=cutoff, polarity=polarity)
        perf = performance(inp.y, s, polarity=polarity, n_bins=n_bins)
        ov = rates(counts_for(sub, pd.Categorical(np.zeros(len(s), dtype=int).astype(str))).sum(0))
        for k in ("auc", "gini", "ks", "brier", "ece"):
            rows.append({"score": name, "attribute": "overall", "metric": k, "value": perf[k]})
        for k in ("approval_rate", "accuracy", "default_rate_approved", "tpr"):
            rows.append({"score": name, "attribute": "overall", "metric": k, "value": float(ov[k])})
        for attr, lab in attrs.items():
            _, _, gaps = _attribute_tables(sub, attr, lab, min_group_size=min_group_size, thresholds=thresholds,
                                           n_boot=n_boot, ci=ci, n_bins=n_bins, rng=rng)
            for _, g in gaps.iterrows():
                rows.append({"score": name, "attribute": attr, "metric": g["gap"], "value": g["value"],
                             "ci_low": g["ci_low"], "ci_high": g["ci_high"], "status": g["status"]})
    return pd.DataFrame(rows)


def audit(score=None, y=None, groups=None, *, decision=None, cutoff: float | None = 0.5,
          polarity: Polarity = "pd", control=None, intersections: bool | Sequence[Sequence[str]] = True,
          min_group_size: int = 30, thresholds: Mapping[str, float] | None = None, n_boot: int = 1000,
          ci: float = 0.95, n_bins: int = 10, compare: Mapping[str, object] | None = None,
          score_name: str = "score", caveats: Sequence[str] = (), random_state=0) -> AuditResult:
    """Audit credit decisions for group fairness.

    Arrays in, never models. The favourable outcome is explicit: ``y = 1`` means default, a
    creditworthy applicant has ``y = 0``, and approval is the favourable decision. For a PD
    score, an applicant is approved iff ``score < cutoff``; for an approval score
    (``polarity="approval"``, higher = better) iff ``score >= cutoff``.

    Parameters
    ----------
    score : array-like, optional
        Score per applicant. Required unless ``decision`` is given.
    y : array-like
        Observed outcome, ``1 = default``.
    groups : Series, DataFrame, dict of array-likes or array-like
        Protected attribute(s); each needs at least two groups and no missing labels.
    decision : array-like, optional
        Decisions as given (``1 = approved``), e.g. after overrides; then ``cutoff`` only
        documents the score's cut-off.
    cutoff : float, default 0.5
        Score cut-off.
    polarity : {"pd", "approval"}, default "pd"
        Score direction; PD scores must lie in [0, 1].
    control : array-like or Series, optional
        A control feature (e.g. vintage year): every table is repeated within its strata.
    intersections : bool or list of tuples, default True
        ``True`` adds every combination of two or more attributes; or name them.
    min_group_size : int, default 30
        Groups smaller than this are flagged ``small`` and left out of the gaps.
    thresholds : dict, optional
        Override pass/fail thresholds (defaults: ``dir`` 0.80, the differences 0.10).
    n_boot : int, default 1000
        Bootstrap replicates (within-group); 0 skips the intervals.
    ci : float, default 0.95
        Interval level.
    n_bins : int, default 10
        Equal-width PD bins for calibration and ECE.
    compare : dict of array-likes, optional
        Extra scores (same polarity and cut-off, e.g. an unbiased-by-design model) shown
        beside the audited score in ``comparison``.
    score_name : str, default "score"
        Name of the audited score in ``comparison``.
    caveats : sequence of str
        Data caveats carried into every output (summary, JSON, HTML).
    random_state : int, numpy Generator or None, default 0
        Seed for the bootstrap and Monte-Carlo tests.

    Returns
    -------
    AuditResult
        Group tables, gaps with intervals and pass/fail, tests, power notes, calibration
        and ROC data.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> group = rng.choice(["A", "B"], 2000, p=[0.7, 0.3])
    >>> risk = rng.normal(0, 1, 2000) + 0.4 * (group == "B")
    >>> y = (rng.random(2000) < 1 / (1 + np.exp(-(risk - 2)))).astype(int)
    >>> pd_ = 1 / (1 + np.exp(-(risk - 2)))     # a calibrated PD; approve iff PD < 0.2
    >>> from apcfair.audit import audit
    >>> result = audit(pd_, y, group, cutoff=0.2, n_boot=200)
    >>> result.by_group[["group", "n", "approval_rate", "tpr"]].round(2)  # doctest: +NORMALIZE_WHITESPACE
      group     n  approval_rate   tpr
    0     A  1394           0.73  0.79
    1     B   606           0.60  0.67
    >>> result.gaps[["gap", "value", "threshold", "status"]].round(2)  # doctest: +NORMALIZE_WHITESPACE
                gap  value  threshold status
    0           dir   0.82        0.8   PASS
    1           spd   0.14        0.1   FAIL
    2           eod   0.12        0.1   FAIL
    3            eo   0.16        0.1   FAIL
    4           ppd   0.01        0.1   PASS
    5  accuracy_gap   0.07        0.1   PASS

    Several attributes (intersections are added) and a second score side by side:

    >>> age = rng.choice(["<40", "40+"], 2000)
    >>> both = audit(pd_, y, {"group": group, "age": age}, cutoff=0.2, n_boot=0,
    ...              compare={"challenger": 0.9 * pd_})
    >>> both.attributes
    ['group', 'age', 'group & age']
    >>> both.comparison["score"].unique().tolist()
    ['score', 'challenger']
    """
    check_option("polarity", polarity, Polarity)
    _check_settings(min_group_size, n_boot, ci, n_bins)
    thr = check_thresholds(thresholds)
    inp = prepare(score, y, groups, decision=decision, cutoff=cutoff, polarity=polarity, control=control)
    rng = rng_from(random_state)
    attrs = dict(inp.attrs)
    for combo in _intersections(inp.attrs, intersections):
        name, lab = intersect(inp.attrs, combo)
        attrs[name] = lab
    kw = {"min_group_size": min_group_size, "thresholds": thr, "n_boot": n_boot, "ci": ci, "n_bins": n_bins,
          "rng": rng}

    by_group, gaps, tests, power = [], [], [], []
    for name, lab in attrs.items():
        counts, rows, g = _attribute_tables(inp, name, lab, **kw)
        by_group.append(rows)
        gaps.append(g)
        present = list(rows["group"])
        for t in tests_rows(counts, rng):
            tests.append({"attribute": name, **t})
        pw = power_rows(counts, present, thr["spd"], thr["eod"])
        pw.insert(0, "attribute", name)
        power.append(pw)
    by_group = pd.concat(by_group, ignore_index=True)
    by_group = by_group[[c for c in _GROUP_COLS if c in by_group.columns]]
    gaps = pd.concat(gaps, ignore_index=True)

    allc = counts_for(inp, pd.Categorical(np.zeros(len(inp.y), dtype=int).astype(str))).sum(0)
    ov = rates(allc)
    overall = pd.DataFrame([{"n": int(len(inp.y)), "n_default": int(inp.y.sum()),
                             **{k: float(ov[k]) for k in ("base_rate", "approval_rate", "tpr", "fpr", "precision",
                                                          "accuracy", "default_rate_approved")},
                             "avg_score": float(np.mean(inp.score)) if inp.score is not None else np.nan}])
    if inp.score is not None:
        perf = performance(inp.y, inp.score, polarity=polarity, n_bins=n_bins)
        risk = risk_key(inp.score, polarity)
    else:
        perf = {k: np.nan for k in ("auc", "gini", "ks", "brier", "ece")}
        perf.update(n=int(len(inp.y)), default_rate=float(inp.y.mean()))
        risk = None

    calib, roc = [], []
    if inp.pd is not None:
        calib.append(calibration_table(inp.y, inp.pd, n_bins).assign(attribute="overall", group="all"))
    if risk is not None:
        roc.append(roc_points(inp.y, risk).assign(attribute="overall", group="all"))
    for name, lab in inp.attrs.items():
        codes = np.asarray(lab.codes)
        for k, g in enumerate(lab.categories):
            m = codes == k
            if inp.pd is not None:
                calib.append(calibration_table(inp.y[m], inp.pd[m], n_bins).assign(attribute=name, group=g))
            if risk is not None and len(np.unique(inp.y[m])) == 2:
                roc.append(roc_points(inp.y[m], risk[m]).assign(attribute=name, group=g))
    calibration = pd.concat(calib, ignore_index=True) if calib else pd.DataFrame()
    roc_df = pd.concat(roc, ignore_index=True) if roc else pd.DataFrame()

    by_stratum = gaps_by_stratum = None
    if inp.control is not None:
        bs, gs = [], []
        ccodes = np.asarray(inp.control.codes)
        for name, lab in attrs.items():
            # one Fairlearn frame with control_features serves every stratum
            fl = metric_frame(inp, lab, control=inp.control).by_group
            for k, st in enumerate(inp.control.categories):
                m = ccodes == k
                if not m.any():
                    continue
                _, rows, g = _attribute_tables(inp, name, lab, mask=m, fairlearn_by_group=fl.loc[st], **kw)
                bs.append(rows.assign(stratum=st))
                gs.append(g.assign(stratum=st))
        by_stratum = pd.concat(bs, ignore_index=True)
        by_stratum = by_stratum[["stratum"] + [c for c in _GROUP_COLS if c in by_stratum.columns]]
        gaps_by_stratum = pd.concat(gs, ignore_index=True)
        gaps_by_stratum = gaps_by_stratum[["stratum"] + [c for c in gaps_by_stratum.columns if c != "stratum"]]

    comparison = None
    if compare:
        if inp.score is None or inp.cutoff is None:
            raise ValueError("compare needs the audited score and its cutoff.")
        comparison = _comparison(inp, score_name, compare, inp.attrs, cutoff=inp.cutoff, polarity=polarity,
                                 **kw)

    settings = {
        "cutoff": inp.cutoff, "polarity": polarity, "decisions_given": decision is not None,
        "attributes": list(inp.attrs), "intersections": [a for a in attrs if a not in inp.attrs],
        "control": inp.control_name, "min_group_size": int(min_group_size), "thresholds": thr,
        "n_boot": int(n_boot), "ci": float(ci), "n_bins": int(n_bins),
        "random_state": random_state if isinstance(random_state, (int, type(None))) else "generator",
        "bootstrap": "within-group multinomial on confusion cells, percentile intervals",
        "intersection_separator": INTERSECTION_SEP,
    }
    conventions = dict(CONVENTIONS)
    conventions["decision_rule"] = (CONVENTIONS["decision_rule_pd"] if polarity == "pd"
                                    else CONVENTIONS["decision_rule_approval"])
    return AuditResult(
        performance=perf, overall=overall, by_group=by_group, gaps=gaps,
        tests=pd.DataFrame(tests), power=pd.concat(power, ignore_index=True),
        calibration=calibration, roc=roc_df, by_stratum=by_stratum, gaps_by_stratum=gaps_by_stratum,
        comparison=comparison, caveats=tuple(str(c) for c in caveats), settings=settings,
        conventions=conventions, provenance=provenance(settings),
    )
