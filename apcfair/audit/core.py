"""The fairness audit: arrays in, an immutable :class:`AuditResult` out.

:func:`audit` runs in named stages -- the attributes and their intersections, the group
tables and gaps of each attribute, the population row and score performance, the
calibration and ROC curves, the strata of the control feature and the comparison with
other scores -- each a function of validated arrays (:class:`~apcfair.audit._validate.AuditInput`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from apcfair._io import to_jsonable
from apcfair._provenance import provenance
from apcfair._summary import Summary
from apcfair.audit import plots as audit_plots
from apcfair.audit._options import GapMethod, Polarity, check_option
from apcfair.audit._result import JSONResultMixin, frame, nulls_to_nan
from apcfair.audit._validate import (
    INTERSECTION_SEP,
    AuditInput,
    check_score,
    intersect,
    prepare,
    risk_key,
)
from apcfair.audit.groups import (
    CONDITIONAL_RATES,
    GAP_LABELS,
    GAP_SPECS,
    INSUFFICIENT,
    RATE_DENOMINATORS,
    check_thresholds,
    compute_gaps,
    counts_for,
    excluded_text,
    group_rows,
    power_rows,
    score_metrics,
    tests_rows,
)
from apcfair.audit.html import audit_html
from apcfair.audit.metrics import (
    CONVENTIONS,
    calibration_table,
    highest_and_lowest,
    impact_ratio,
    performance,
    rates,
    roc_points,
)
from apcfair.audit.stats import BOOTSTRAP_METHOD, bootstrap_counts, rng_from

_GROUP_COLS = ["attribute", "group", "n", "n_default", "n_creditworthy", "base_rate", "approval_rate",
               "approval_rate_ci_low", "approval_rate_ci_high", "tpr", "tpr_ci_low", "tpr_ci_high", "fpr",
               "precision", "accuracy", "default_rate_approved", "avg_score", "auc", "ece", "brier", "small",
               "n_approved", "tpr_status", "fpr_status", "precision_status"]
_RATE_METRICS = ("approval_rate", "tpr", "fpr", "precision", "accuracy", "base_rate",
                 "default_rate_approved", "avg_score", "auc", "ece", "brier")
_OVERALL_RATES = ("base_rate", "approval_rate", "tpr", "fpr", "precision", "accuracy", "default_rate_approved")
_SCORE_METRICS = ("auc", "gini", "ks", "brier", "ece")
_TITLE = "Fairness audit (favourable outcome: creditworthy = no default; favourable decision: approved)"


def _check_settings(min_group_size, n_boot, ci, n_bins, min_rate_denominator=1):
    if not isinstance(min_group_size, (int, np.integer)) or min_group_size < 1:
        raise ValueError(f"min_group_size must be a positive integer, got {min_group_size!r}.")
    if not isinstance(min_rate_denominator, (int, np.integer)) or min_rate_denominator < 1:
        raise ValueError(f"min_rate_denominator must be a positive integer (or None: min_group_size), "
                         f"got {min_rate_denominator!r}.")
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
        return [c for k in range(2, len(names) + 1) for c in itertools.combinations(names, k)]
    if not intersections:
        return []
    if isinstance(intersections, str):
        raise ValueError("intersections must be True/False or a list of attribute-name tuples, "
                         f"got the string {intersections!r}.")
    return [tuple(c) for c in intersections]


def _one_group(n: int) -> pd.Categorical:
    """Every applicant in one group (the population row)."""
    return pd.Categorical(np.zeros(n, dtype=int).astype(str))


def _attribute_tables(inp: AuditInput, name: str, labels: pd.Categorical, *, min_group_size, min_rate_denominator,
                      thresholds, n_boot, ci, n_bins, rng, mask=None):
    """Group rows (rates and intervals from the confusion cells), gaps for one attribute."""
    counts = counts_for(inp, labels, mask)
    groups = list(labels.categories)
    present = counts.sum(1) > 0
    counts, groups = counts[present], [g for g, p in zip(groups, present, strict=True) if p]
    boot = bootstrap_counts(counts, n_boot, rng) if n_boot else None
    rows = group_rows(counts, groups, boot, ci, min_group_size, min_rate_denominator)
    # Fairlearn's base rate, 1 - mean(y_true): the rates of a MetricFrame on the cells are these
    # count ratios bit for bit (tests/audit/test_groups.py compares with metric_frame)
    rows["base_rate"] = 1.0 - rows["n_creditworthy"].to_numpy() / rows["n"].to_numpy()
    sm = score_metrics(inp, labels, n_bins=n_bins, mask=mask).set_index("group")
    for c in sm.columns:
        rows[c] = sm[c].reindex(rows["group"]).to_numpy(dtype=float)
    rows.insert(0, "attribute", name)
    eligible = rows["n"].to_numpy() >= min_group_size
    gaps = pd.DataFrame(compute_gaps(counts, groups, eligible, thresholds, boot, ci, min_rate_denominator))
    gaps.insert(0, "attribute", name)
    return counts, rows, gaps


# ---------------------------------------------------------------------------------------
# contrasts of a group rate (AuditResult.difference / ratio)
def _contrast_value(value: float, reference: float, ratio: bool) -> float:
    return impact_ratio(value, reference) if ratio else float(value - reference)


def _between_groups(attr: str, metric: str, x: pd.Series, ratio: bool) -> dict:
    """Highest minus lowest group, or lowest over highest."""
    pair = highest_and_lowest(x.to_numpy())
    if pair is None:
        return {"attribute": attr, "metric": metric, "value": np.nan, "high_group": None, "low_group": None}
    hi, lo = pair
    value = impact_ratio(x.iloc[lo], x.iloc[hi]) if ratio else float(x.iloc[hi] - x.iloc[lo])
    return {"attribute": attr, "metric": metric, "value": value, "high_group": x.index[hi],
            "low_group": x.index[lo]}


def _reference_group(attr: str, x: pd.Series, reference, attribute: str | None) -> str | None:
    """The reference group of ``attr``; None where it is absent and the attribute is skipped."""
    if reference is None:
        raise ValueError("method='to_reference' needs reference=<group> or {attribute: group}.")
    name = reference.get(attr) if isinstance(reference, Mapping) else reference
    if name is not None and name in x.index:
        return name
    if isinstance(reference, Mapping) and attr not in reference:
        return None
    if not isinstance(reference, Mapping) and attribute is None:
        return None
    raise ValueError(f"reference group {name!r} not found for attribute {attr!r}; groups: {list(x.index)}.")


# ---------------------------------------------------------------------------------------
# the audit.json layout
def _by_attribute(df: pd.DataFrame) -> dict:
    """``{attribute: records without the attribute column}``."""
    return {a: to_jsonable(sub.drop(columns=["attribute"])) for a, sub in df.groupby("attribute", sort=False)}


def _from_by_attribute(by_attr: Mapping | None) -> pd.DataFrame:
    # one frame from all records (concatenating per-attribute frames warns when a column is all-NA in one)
    records = [{"attribute": a, **row} for a, rows in (by_attr or {}).items() for row in rows]
    if not records:
        return pd.DataFrame()
    df = pd.DataFrame.from_records(records)
    return df[["attribute"] + [c for c in df.columns if c != "attribute"]]


_GAP_JSON_ONLY = ("ci", "ci_level", "rule", "description")


def _gaps_to_json(gaps: pd.DataFrame, ci_level) -> dict:
    """``{attribute: {gap: {value, ci: [low, high], ci_level, rule, description, ...}}}``."""
    out: dict = {}
    for attr, sub in gaps.groupby("attribute", sort=False):
        out[attr] = {}
        for _, r in sub.iterrows():
            d = to_jsonable(r.drop(labels=["attribute", "gap"]).to_dict())
            d["ci"] = [d.pop("ci_low"), d.pop("ci_high")]
            d["ci_level"] = ci_level
            d["rule"] = "fails if value < threshold" if r["kind"] == "ratio" else "fails if |value| > threshold"
            d["description"] = GAP_LABELS[r["gap"]]
            out[attr][r["gap"]] = d
    return out


def _gaps_from_json(gaps: Mapping) -> pd.DataFrame:
    rows = []
    for attr, by_name in gaps.items():
        for name, g in by_name.items():
            r = {k: v for k, v in g.items() if k not in _GAP_JSON_ONLY}
            r.update(attribute=attr, gap=name, ci_low=g["ci"][0], ci_high=g["ci"][1])
            rows.append(r)
    out = pd.DataFrame(rows)
    for c in ("value", "ci_low", "ci_high", "threshold"):
        out[c] = out[c].astype(float)
    # the column order of compute_gaps: the interval right after the value
    first = ["attribute", "gap", "kind", "value", "ci_low", "ci_high"]
    return out[[c for c in first if c in out.columns] + [c for c in out.columns if c not in first]]


def _strata_to_json(by_stratum: pd.DataFrame, gaps_by_stratum: pd.DataFrame, control) -> dict:
    def per_stratum(df):
        return {str(st): _by_attribute(sub.drop(columns=["stratum"])) for st, sub in df.groupby("stratum", sort=False)}

    return {"control": control, "groups": per_stratum(by_stratum), "gaps": per_stratum(gaps_by_stratum)}


def _strata_from_json(strata: Mapping) -> tuple[pd.DataFrame, pd.DataFrame]:
    def stacked(per_stratum):
        df = pd.concat([_from_by_attribute(v).assign(stratum=s) for s, v in per_stratum.items()],
                       ignore_index=True)
        # audit() orders the rows by attribute, then stratum; the file by stratum, then attribute
        order = {a: i for i, a in enumerate(dict.fromkeys(df["attribute"]))}
        df = df.iloc[np.argsort(df["attribute"].map(order).to_numpy(), kind="stable")].reset_index(drop=True)
        return nulls_to_nan(df[["stratum"] + [c for c in df.columns if c != "stratum"]])

    return stacked(strata["groups"]), stacked(strata["gaps"])


# ---------------------------------------------------------------------------------------
# summary blocks
def _decision_rule_text(settings: Mapping) -> str:
    cutoff = settings.get("cutoff")
    if cutoff is None:
        return "decisions given"
    return f"approved iff PD < {cutoff}" if settings.get("polarity") == "pd" else f"approved iff score >= {cutoff}"


def _gap_table(gaps: pd.DataFrame) -> pd.DataFrame:
    def ci(r):
        return f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]" if np.isfinite(r["ci_low"]) else ""

    return pd.DataFrame({
        "gap": gaps["gap"],
        "value": [f"{v:.3f}" if np.isfinite(v) else "n/a" for v in gaps["value"]],
        "ci": [ci(r) for _, r in gaps.iterrows()],
        "status": gaps["status"],
        "compared": [f"{r['low_group']} vs {r['high_group']}" if r["low_group"] is not None else ""
                     for _, r in gaps.iterrows()],
    })


def _excluded_lines(gaps: pd.DataFrame, minimum) -> list[str]:
    """One line per gap that left groups out or has no verdict, naming them and why."""
    lines = []
    for _, r in gaps.iterrows():
        text = excluded_text(r.get("excluded"), minimum)
        if r["status"] == INSUFFICIENT:
            lines.append(f"{r['gap']}: {r['note']}; left out: {text}")
        elif text:
            lines.append(f"{r['gap']}: left out of the gap: {text}")
    return lines


def _insufficient_column(rows: pd.DataFrame) -> list[str]:
    """Per group, the conditional rates resting on too few applicants, e.g. ``fpr (2 defaulters)``."""
    out = []
    for _, r in rows.iterrows():
        parts = [f"{m} ({int(r[RATE_DENOMINATORS[m][1]]):,} {RATE_DENOMINATORS[m][0].split()[-1]})"
                 for m in CONDITIONAL_RATES if r.get(f"{m}_status") == "insufficient"]
        out.append(", ".join(parts))
    return out


def _test_and_power_lines(tests: pd.DataFrame, power: pd.DataFrame) -> list[str]:
    lines = [f"test {r['outcome']}: {r['test']} stat {r['statistic']:.3f}, p {r['p_value']:.4g}, "
             f"Cramer's V {r['cramers_v']:.3f}" for _, r in tests.iterrows()]
    lines += [f"power: {r['group']} (n={r['n']}): min detectable approval gap {r['mde_approval_rate']:.3f}, "
              f"TPR gap {r['mde_tpr']:.3f}" for _, r in power[power["note"] != ""].iterrows()]
    return lines


@dataclass(frozen=True)
class AuditResult(JSONResultMixin):
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
    >>> sorted(result.to_json_dict())[:4]
    ['calibration', 'caveats', 'comparison', 'conventions']
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
            Include groups below ``min_group_size`` and rates whose denominator is below
            ``min_rate_denominator`` (``<metric>_status == "insufficient"``).

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
        The ratio is :func:`~apcfair.audit.metrics.impact_ratio`, as in the ``dir`` gap.
        """
        return self._contrast(metric, method, reference, attribute, include_small, ratio=True)

    def _contrast(self, metric, method, reference, attribute, include_small, ratio):
        check_option("method", method, GapMethod)
        if metric not in self.by_group.columns or metric in ("attribute", "group", "small"):
            raise ValueError(f"metric={metric!r} is not a group rate; choose one of {list(_RATE_METRICS)}.")
        groups = self._groups_of(attribute, include_small)
        if not include_small and f"{metric}_status" in groups.columns:  # rates on too few applicants
            groups = groups[groups[f"{metric}_status"] != "insufficient"]
        rows = []
        for attr, sub in groups.groupby("attribute", sort=False):
            x = sub.set_index("group")[metric].astype(float).dropna()
            if method == "between_groups":
                rows.append(_between_groups(attr, metric, x, ratio))
                continue
            if method == "to_overall":
                ref_name, ref_val = "overall", float(self.overall[metric].iloc[0])
            else:
                ref_name = _reference_group(attr, x, reference, attribute)
                if ref_name is None:
                    continue
                ref_val = float(x[ref_name])
            rows += [{"attribute": attr, "group": g, "metric": metric, "value": _contrast_value(v, ref_val, ratio),
                      "reference": ref_name} for g, v in x.items()]
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ summary / JSON
    def summary(self) -> Summary:
        """Performance, groups, gaps with intervals, tests and caveats.

        Returns
        -------
        apcfair._summary.Summary
            Text (a ``str``) that renders as HTML tables in a notebook.
        """
        s, ov, p = self.settings, self.overall.iloc[0], self.performance
        minimum = s.get("min_rate_denominator")
        head = [f"{int(ov['n']):,} applicants, default rate {ov['base_rate']:.1%}, approval rate "
                f"{ov['approval_rate']:.1%}; {_decision_rule_text(s)}; min group size {s.get('min_group_size')}"
                + (f"; a rate enters a gap only when its denominator is >= {minimum} (else: insufficient data, "
                   "no verdict)" if minimum is not None else "")]
        if np.isfinite(p.get("auc", np.nan)):
            head.append("Performance: " + "  ".join(f"{k.upper()} {p[k]:.4f}" for k in _SCORE_METRICS
                                                    if p.get(k) is not None and np.isfinite(p[k])))
        head += [f"CAVEAT: {c}" for c in self.caveats]
        blocks: list = ["\n".join(head)]
        cols = ["group", "n", "base_rate", "approval_rate", "tpr", "fpr", "precision", "accuracy"]
        for attr in self.attributes:
            sub = self.by_group[self.by_group["attribute"] == attr]
            groups = sub[cols].assign(small=np.where(sub["small"], "SMALL", ""))
            if "tpr_status" in sub.columns:
                groups["insufficient data"] = _insufficient_column(sub)
            gaps = self.gaps[self.gaps["attribute"] == attr]
            blocks += [(f"== {attr} ==", groups), (f"gaps by {attr}", _gap_table(gaps))]
            lines = _excluded_lines(gaps, minimum) + _test_and_power_lines(
                self.tests[self.tests["attribute"] == attr], self.power[self.power["attribute"] == attr])
            if lines:
                blocks.append("\n".join(lines))
        return Summary.from_blocks(_TITLE, blocks, float_format=".3f")

    def to_json_dict(self) -> dict:
        """JSON-ready dictionary (NaN -> null) with the contract keys of ``audit.json``."""
        strata = (None if self.by_stratum is None else
                  _strata_to_json(self.by_stratum, self.gaps_by_stratum, self.settings.get("control")))
        return to_jsonable({
            "conventions": dict(self.conventions),
            "caveats": list(self.caveats),
            "performance": self.performance,
            "overall": self.overall.iloc[0].to_dict(),
            "groups": _by_attribute(self.by_group),
            "gaps": _gaps_to_json(self.gaps, self.settings.get("ci")),
            "tests": _by_attribute(self.tests),
            "power": _by_attribute(self.power),
            "strata": strata,
            "calibration": to_jsonable(self.calibration),
            "roc": to_jsonable(self.roc),
            "comparison": None if self.comparison is None else to_jsonable(self.comparison),
            "settings": self.settings,
            "provenance": self.provenance,
        })

    def to_dict(self) -> dict:
        """The same as :meth:`to_json_dict` (the former name, kept for existing callers)."""
        return self.to_json_dict()

    @classmethod
    def from_json_dict(cls, d: Mapping) -> AuditResult:
        """Rebuild a result from :meth:`to_json_dict` output (e.g. a saved ``audit.json``)."""
        by_stratum, gaps_by_stratum = _strata_from_json(d["strata"]) if d.get("strata") else (None, None)
        return cls(
            performance={k: (np.nan if v is None else v) for k, v in d["performance"].items()},
            overall=frame([d["overall"]]),
            by_group=nulls_to_nan(_from_by_attribute(d["groups"])),
            gaps=_gaps_from_json(d["gaps"]),
            tests=nulls_to_nan(_from_by_attribute(d["tests"])),
            power=nulls_to_nan(_from_by_attribute(d["power"])),
            calibration=frame(d.get("calibration")),
            roc=frame(d.get("roc")),
            by_stratum=by_stratum,
            gaps_by_stratum=gaps_by_stratum,
            comparison=None if d.get("comparison") is None else frame(d["comparison"]),
            caveats=tuple(d.get("caveats") or ()),
            settings=dict(d.get("settings") or {}),
            conventions=dict(d.get("conventions") or {}),
            provenance=dict(d.get("provenance") or {}),
        )

    # ------------------------------------------------------------------ plots / HTML
    def plot_fairness(self, metric: str = "approval_rate", attribute: str | None = None, ax=None):
        """Bar chart of a group rate with bootstrap intervals; small groups hatched."""
        return audit_plots.plot_group_metric(self, metric=metric, attribute=attribute, ax=ax)

    def plot_gaps(self, attribute: str | None = None, ax=None):
        """Gaps with intervals against their pass/fail thresholds."""
        return audit_plots.plot_gaps(self, attribute=attribute, ax=ax)

    def plot_roc(self, attribute: str | None = None, ax=None):
        """ROC curve overall (and per group of ``attribute``)."""
        return audit_plots.plot_roc(self, attribute=attribute, ax=ax)

    def plot_calibration(self, attribute: str | None = None, ax=None):
        """Reliability diagram overall (and per group of ``attribute``)."""
        return audit_plots.plot_calibration(self, attribute=attribute, ax=ax)

    def to_html(self, title: str = "Fairness audit") -> str:
        """Self-contained HTML report (plots embedded as base64 PNG)."""
        return audit_html(self, title=title)

# ---------------------------------------------------------------------------------------
# the stages of audit()
def _all_attributes(inp: AuditInput, intersections) -> dict[str, pd.Categorical]:
    """The protected attributes followed by the intersections asked for."""
    attrs = dict(inp.attrs)
    for combo in _intersections(inp.attrs, intersections):
        name, labels = intersect(inp.attrs, combo)
        attrs[name] = labels
    return attrs


def _group_stage(inp: AuditInput, attrs: dict, kw: dict):
    """Group rows, gaps, decision-vs-group tests and power notes of every attribute."""
    thr = kw["thresholds"]
    by_group, gaps, tests, power = [], [], [], []
    for name, labels in attrs.items():
        counts, rows, g = _attribute_tables(inp, name, labels, **kw)
        by_group.append(rows)
        gaps.append(g)
        tests += [{"attribute": name, **t} for t in tests_rows(counts, kw["rng"])]
        pw = power_rows(counts, list(rows["group"]), thr["spd"], thr["eod"])
        pw.insert(0, "attribute", name)
        power.append(pw)
    by_group = pd.concat(by_group, ignore_index=True)
    by_group = by_group[[c for c in _GROUP_COLS if c in by_group.columns]]
    return by_group, pd.concat(gaps, ignore_index=True), pd.DataFrame(tests), pd.concat(power, ignore_index=True)


def _overall_row(inp: AuditInput) -> pd.DataFrame:
    """The population's rates in one row."""
    ov = rates(counts_for(inp, _one_group(len(inp.y))).sum(0))
    return pd.DataFrame([{"n": int(len(inp.y)), "n_default": int(inp.y.sum()),
                          **{k: float(ov[k]) for k in _OVERALL_RATES},
                          "avg_score": float(np.mean(inp.score)) if inp.score is not None else np.nan}])


def _score_performance(inp: AuditInput, polarity: str, n_bins: int) -> dict:
    """Discrimination and calibration of the score (NaN when only decisions were given)."""
    if inp.score is not None:
        return performance(inp.y, inp.score, polarity=polarity, n_bins=n_bins)
    perf = {k: np.nan for k in _SCORE_METRICS}
    perf.update(n=int(len(inp.y)), default_rate=float(inp.y.mean()))
    return perf


def _curves(inp: AuditInput, n_bins: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reliability tables and ROC points, overall and per group of each protected attribute."""
    risk = None if inp.score is None else risk_key(inp.score, inp.polarity)
    calib, roc = [], []
    if inp.pd is not None:
        calib.append(calibration_table(inp.y, inp.pd, n_bins).assign(attribute="overall", group="all"))
    if risk is not None:
        roc.append(roc_points(inp.y, risk).assign(attribute="overall", group="all"))
    for name, labels in inp.attrs.items():
        codes = np.asarray(labels.codes)
        for k, g in enumerate(labels.categories):
            m = codes == k
            if inp.pd is not None:
                calib.append(calibration_table(inp.y[m], inp.pd[m], n_bins).assign(attribute=name, group=g))
            if risk is not None and len(np.unique(inp.y[m])) == 2:
                roc.append(roc_points(inp.y[m], risk[m]).assign(attribute=name, group=g))
    return (pd.concat(calib, ignore_index=True) if calib else pd.DataFrame(),
            pd.concat(roc, ignore_index=True) if roc else pd.DataFrame())


def _strata_stage(inp: AuditInput, attrs: dict, kw: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Group rows and gaps of every attribute within each stratum of the control feature."""
    group_parts, gap_parts = [], []
    stratum_codes = np.asarray(inp.control.codes)
    for name, labels in attrs.items():
        for k, stratum in enumerate(inp.control.categories):
            m = stratum_codes == k
            if not m.any():
                continue
            _, rows, g = _attribute_tables(inp, name, labels, mask=m, **kw)
            group_parts.append(rows.assign(stratum=stratum))
            gap_parts.append(g.assign(stratum=stratum))
    by_stratum = pd.concat(group_parts, ignore_index=True)
    by_stratum = by_stratum[["stratum"] + [c for c in _GROUP_COLS if c in by_stratum.columns]]
    gaps = pd.concat(gap_parts, ignore_index=True)
    return by_stratum, gaps[["stratum"] + [c for c in gaps.columns if c != "stratum"]]


def _comparison(inp: AuditInput, main_name: str, compare: Mapping, kw: dict) -> pd.DataFrame:
    """Performance and gaps of the audited score beside the extra scores, at the same cut-off."""
    cutoff, polarity = inp.cutoff, inp.polarity
    rows = []
    scores = {main_name: inp.score, **{str(k): v for k, v in compare.items()}}
    for name, sc in scores.items():
        s = check_score(sc, polarity, name=f"compare[{name!r}]") if name != main_name else sc
        if len(s) != len(inp.y):
            raise ValueError(f"length mismatch: compare[{name!r}] has {len(s):,} rows, y has {len(inp.y):,}.")
        sub = AuditInput(y=inp.y, approved=(s < cutoff if polarity == "pd" else s >= cutoff), score=s,
                         pd=None, attrs=inp.attrs, control=None, control_name=None, cutoff=cutoff,
                         polarity=polarity)
        perf = performance(inp.y, s, polarity=polarity, n_bins=kw["n_bins"])
        ov = rates(counts_for(sub, _one_group(len(s))).sum(0))
        rows += [{"score": name, "attribute": "overall", "metric": k, "value": perf[k]} for k in _SCORE_METRICS]
        rows += [{"score": name, "attribute": "overall", "metric": k, "value": float(ov[k])}
                 for k in ("approval_rate", "accuracy", "default_rate_approved", "tpr")]
        for attr, labels in inp.attrs.items():
            _, _, gaps = _attribute_tables(sub, attr, labels, **kw)
            rows += [{"score": name, "attribute": attr, "metric": g["gap"], "value": g["value"],
                      "ci_low": g["ci_low"], "ci_high": g["ci_high"], "status": g["status"]}
                     for _, g in gaps.iterrows()]
    return pd.DataFrame(rows)


def _settings(inp: AuditInput, attrs: dict, *, decision, thresholds, min_group_size, min_rate_denominator, n_boot,
              ci, n_bins, random_state) -> dict:
    return {
        "cutoff": inp.cutoff, "polarity": inp.polarity, "decisions_given": decision is not None,
        "attributes": list(inp.attrs), "intersections": [a for a in attrs if a not in inp.attrs],
        "control": inp.control_name, "min_group_size": int(min_group_size),
        "min_rate_denominator": int(min_rate_denominator), "thresholds": thresholds,
        "n_boot": int(n_boot), "ci": float(ci), "n_bins": int(n_bins),
        "random_state": random_state if isinstance(random_state, (int, type(None))) else "generator",
        "bootstrap": BOOTSTRAP_METHOD,
        "intersection_separator": INTERSECTION_SEP,
    }


def _conventions(polarity: str) -> dict:
    conventions = dict(CONVENTIONS)
    conventions["decision_rule"] = (CONVENTIONS["decision_rule_pd"] if polarity == "pd"
                                    else CONVENTIONS["decision_rule_approval"])
    return conventions


def audit(score=None, y=None, groups=None, *, decision=None, cutoff: float | None = 0.5,
          polarity: Polarity = "pd", control=None, intersections: bool | Sequence[Sequence[str]] = True,
          min_group_size: int = 30, min_rate_denominator: int | None = None,
          thresholds: Mapping[str, float] | None = None, n_boot: int = 1000,
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
    min_rate_denominator : int, optional
        Smallest count a rate may rest on to enter a gap (default: ``min_group_size``, i.e.
        30). Each rate has its own denominator: applicants for the approval rate and
        accuracy, creditworthy applicants for TPR, defaulters for FPR, approved applicants for
        precision. A group of 1,000 with 2 defaulters has an FPR of 0, 0.5 or 1 -- noise, not
        a disparity -- so a rate below the minimum is shown with its denominator
        (``by_group``: ``tpr_status`` etc. ``"insufficient"``), left out of the gap and listed
        in the gap's ``excluded``; a gap with fewer than two groups left gets status
        ``"INSUFFICIENT"`` and no verdict. Why 30: one applicant moves a rate by at most
        ``1 / denominator``, 0.033 at 30 -- a third of the default 0.10 threshold -- so no
        verdict hinges on one or two applicants. It is a floor, not a power guarantee: the
        intervals and the ``power`` table say how precise the remaining gaps are.
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
    if min_rate_denominator is None:
        min_rate_denominator = min_group_size
    _check_settings(min_group_size, n_boot, ci, n_bins, min_rate_denominator)
    thr = check_thresholds(thresholds)
    inp = prepare(score, y, groups, decision=decision, cutoff=cutoff, polarity=polarity, control=control)
    if compare and (inp.score is None or inp.cutoff is None):
        raise ValueError("compare needs the audited score and its cutoff.")
    attrs = _all_attributes(inp, intersections)
    kw = {"min_group_size": min_group_size, "min_rate_denominator": min_rate_denominator, "thresholds": thr, "n_boot": n_boot, "ci": ci, "n_bins": n_bins,
          "rng": rng_from(random_state)}
    by_group, gaps, tests, power = _group_stage(inp, attrs, kw)
    calibration, roc = _curves(inp, n_bins)
    by_stratum, gaps_by_stratum = _strata_stage(inp, attrs, kw) if inp.control is not None else (None, None)
    comparison = _comparison(inp, score_name, compare, kw) if compare else None
    settings = _settings(inp, attrs, decision=decision, thresholds=thr, min_group_size=min_group_size,
                         min_rate_denominator=min_rate_denominator, n_boot=n_boot, ci=ci, n_bins=n_bins,
                         random_state=random_state)
    return AuditResult(
        performance=_score_performance(inp, polarity, n_bins), overall=_overall_row(inp), by_group=by_group,
        gaps=gaps, tests=tests, power=power, calibration=calibration, roc=roc, by_stratum=by_stratum,
        gaps_by_stratum=gaps_by_stratum, comparison=comparison, caveats=tuple(str(c) for c in caveats),
        settings=settings, conventions=_conventions(polarity), provenance=provenance(settings),
    )
