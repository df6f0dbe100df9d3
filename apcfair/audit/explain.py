"""Explanations: SHAP contributions, adverse-action reason codes, counterfactual suggestions.

SHAP needs the model, so :func:`shap_contributions` is the one function of the audit
subpackage that takes a model; everything downstream (reason codes) takes arrays, so
contributions from any source can be used (:meth:`Contributions.from_array`).

Orientation is explicit: a **positive contribution pushes towards default**, i.e. against
approval, whatever the model's own class order. Reason codes for a declined applicant are
the largest positive contributions; protected attributes are never given as reasons.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from apcfair._io import to_jsonable
from apcfair._optional import require
from apcfair._summary import Summary
from apcfair.audit._options import ExplainerKind, Polarity, check_option
from apcfair.audit._result import JSONResultMixin, frame
from apcfair.audit._validate import approve, check_cutoff, check_score
from apcfair.audit.plots import new_axes
from apcfair.audit.stats import rng_from


@dataclass(frozen=True)
class Contributions(JSONResultMixin):
    """Per-applicant feature contributions, positive = towards default (against approval).

    Parameters
    ----------
    values, base_value, feature_names, output
        As the attributes; usually built by :func:`shap_contributions` or
        :meth:`from_array`.

    Attributes
    ----------
    values : numpy.ndarray, shape (n, p)
        Contributions in ``output`` units.
    base_value : float
        Model output at the baseline (expected value), same orientation.
    feature_names : list of str
        Column names of ``values``.
    output : str
        Units, e.g. "log-odds of default".

    Examples
    --------
    >>> from apcfair.audit import Contributions
    >>> c = Contributions.from_array([[0.5, -0.2], [0.1, 0.3]], ["dti", "income"], base_value=-2.0)
    >>> c.to_frame()  # doctest: +NORMALIZE_WHITESPACE
       dti  income
    0  0.5    -0.2
    1  0.1     0.3
    >>> c.global_importance()  # doctest: +NORMALIZE_WHITESPACE
      feature  mean_abs_contribution
    0     dti                   0.30
    1  income                   0.25

    Contributions to an approval score are flipped so that positive = towards default:

    >>> Contributions.from_array([[0.5, -0.2]], ["dti", "income"], polarity="approval").values.tolist()
    [[-0.5, 0.2]]
    """

    values: np.ndarray
    base_value: float
    feature_names: list[str]
    output: str = "log-odds of default"

    @classmethod
    def from_array(cls, values, feature_names: Sequence[str], *, base_value: float = 0.0,
                   polarity: Polarity = "pd", output: str = "model output") -> Contributions:
        """Wrap precomputed contributions (e.g. from another SHAP run).

        Parameters
        ----------
        values : array-like, shape (n, p)
            Contributions to the model output.
        feature_names : sequence of str
            One name per column.
        base_value : float, default 0.0
            Baseline output.
        polarity : {"pd", "approval"}, default "pd"
            ``"pd"`` if a larger output means riskier, ``"approval"`` if it means better
            (then the signs are flipped).
        output : str
            Units, for display.
        """
        check_option("polarity", polarity, Polarity)
        v = np.asarray(values, dtype=float)
        if v.ndim != 2 or v.shape[1] != len(feature_names):
            raise ValueError(f"values must be (n, {len(feature_names)}) to match feature_names, got {v.shape}.")
        sign = 1.0 if polarity == "pd" else -1.0
        return cls(values=sign * v, base_value=sign * float(base_value), feature_names=list(map(str, feature_names)),
                   output=output if polarity == "pd" else f"minus {output}")

    def to_frame(self) -> pd.DataFrame:
        """Contributions as a DataFrame (one column per feature)."""
        return pd.DataFrame(self.values, columns=self.feature_names)

    def by_source(self, groups: Mapping[str, str] | None = None) -> pd.DataFrame:
        """Contributions summed per source feature (``groups``: encoded column -> source feature)."""
        df = self.to_frame()
        return df.T.groupby(lambda c: groups.get(c, c), sort=False).sum().T if groups else df

    def global_importance(self, groups: Mapping[str, str] | None = None) -> pd.DataFrame:
        """Mean absolute contribution per feature (or per source feature with ``groups``)."""
        imp = self.by_source(groups).abs().mean().sort_values(ascending=False)
        return pd.DataFrame({"feature": imp.index, "mean_abs_contribution": imp.to_numpy()})

    def summary(self, top: int = 15) -> Summary:
        """Size, units and the ``top`` features by mean absolute contribution.

        Returns
        -------
        apcfair._summary.Summary
            Text (a ``str``) that renders as an HTML table in a notebook.
        """
        n, p = self.values.shape
        return Summary.from_blocks("Contributions (positive = towards default)", [
            f"{n:,} applicants, {p} features; units: {self.output}; base value {self.base_value:.4g}",
            (f"Top {min(top, p)} features", self.global_importance().head(top)),
        ])

    def to_json_dict(self) -> dict:
        """JSON-ready dictionary (NaN -> null)."""
        return to_jsonable({"values": self.values, "base_value": self.base_value,
                            "feature_names": self.feature_names, "output": self.output})

    @classmethod
    def from_json_dict(cls, d) -> Contributions:
        """Rebuild contributions from :meth:`to_json_dict` output."""
        values = np.array(d["values"], dtype=float).reshape(-1, len(d["feature_names"]))
        return cls(values=values, base_value=float(d["base_value"]), feature_names=list(d["feature_names"]),
                   output=d.get("output", "log-odds of default"))

    def plot_importance(self, top: int = 15, groups: Mapping[str, str] | None = None, ax=None):
        """Horizontal bars of the mean absolute contribution.

        Returns
        -------
        matplotlib.axes.Axes
        """
        ax = ax if ax is not None else new_axes((6, 0.3 * top + 1))
        imp = self.global_importance(groups).head(top)
        ax.barh(imp["feature"][::-1], imp["mean_abs_contribution"][::-1], color="#4477aa")
        ax.set_xlabel(f"mean |contribution| ({self.output})")
        ax.tick_params(axis="y", labelsize=8)
        return ax


def _is_tree(model) -> bool:
    name = type(model).__module__ + "." + type(model).__name__
    return (hasattr(model, "estimators_") or hasattr(model, "tree_") or hasattr(model, "booster_")
            or "lightgbm" in name or "xgboost" in name or "catboost" in name)


def _explainer_kind(model) -> str:
    """"tree" or "linear" by the model's attributes."""
    if _is_tree(model):
        return "tree"
    if hasattr(model, "coef_"):
        return "linear"
    raise ValueError(f"cannot tell whether {type(model).__name__} is a tree or linear model: pass "
                     "kind='tree' or kind='linear' (other models are not supported here).")


def shap_contributions(model, X, *, kind: ExplainerKind = "auto", polarity: Polarity = "pd", background=None,
                       feature_names: Sequence[str] | None = None, max_background: int = 200,
                       random_state=0) -> Contributions:
    """SHAP contributions of a tree or linear binary classifier, oriented towards default.

    Parameters
    ----------
    model : fitted classifier
        Tree ensemble (scikit-learn, LightGBM, XGBoost) or linear model with ``coef_``.
    X : array-like or DataFrame, shape (n, p)
        The (encoded) rows to explain, as the model sees them.
    kind : {"auto", "tree", "linear"}, default "auto"
        Explainer family; "auto" picks by the model's attributes.
    polarity : {"pd", "approval"}, default "pd"
        ``"pd"`` if the model's positive class (``classes_[1]``) is default; ``"approval"``
        if it is "good" (then the contributions are negated so that positive = towards
        default).
    background : array-like, optional
        Background rows for the linear explainer (default: up to ``max_background`` rows
        of ``X`` drawn with ``random_state``).
    feature_names : sequence of str, optional
        Names of the columns (default: ``X.columns`` or ``x0, x1, ...``).
    max_background : int, default 200
        Size of the default background sample.
    random_state : int, Generator or None, default 0
        Seed of the background sample.

    Returns
    -------
    Contributions
        In log-odds units for classifiers with a logistic link.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"income": rng.normal(60, 15, 500), "dti": rng.uniform(0, 0.6, 500),
    ...                   "age": rng.integers(20, 70, 500)})
    >>> logit = -1 - 0.04 * (X["income"] - 60) + 4 * (X["dti"] - 0.3)
    >>> y = (rng.random(500) < 1 / (1 + np.exp(-logit))).astype(int)
    >>> model = LogisticRegression().fit(X, y)   # classes_[1] is default: polarity "pd"
    >>> from apcfair.audit import shap_contributions
    >>> contrib = shap_contributions(model, X)
    >>> contrib.values.shape, contrib.feature_names, contrib.output
    ((500, 3), ['income', 'dti', 'age'], 'log-odds of default')
    >>> contrib.global_importance()["feature"].tolist()  # age barely matters here
    ['dti', 'income', 'age']
    """
    shap = require("shap", "shap_contributions (SHAP explanations)")  # optional extra: apcfair[explain]

    check_option("kind", kind, ExplainerKind)
    check_option("polarity", polarity, Polarity)
    names = list(feature_names) if feature_names is not None else (
        list(map(str, X.columns)) if isinstance(X, pd.DataFrame) else [f"x{j}" for j in range(np.shape(X)[1])])
    Xa = X.to_numpy(dtype=float) if isinstance(X, pd.DataFrame) else np.asarray(X, dtype=float)
    if kind == "auto":
        kind = _explainer_kind(model)
    if kind == "tree":
        explainer = shap.TreeExplainer(model)
    else:
        if background is None:
            rng = rng_from(random_state)
            take = rng.choice(len(Xa), size=min(max_background, len(Xa)), replace=False)
            background = Xa[np.sort(take)]
        explainer = shap.LinearExplainer(model, np.asarray(background, dtype=float))
    ex = explainer(Xa)
    vals = np.asarray(ex.values, dtype=float)
    base = np.asarray(ex.base_values, dtype=float)
    if vals.ndim == 3:  # (n, p, classes)
        vals, base = vals[:, :, 1], base[..., 1] if base.ndim > 1 else base
    base_value = float(np.ravel(base)[0]) if np.size(base) else 0.0
    return Contributions.from_array(vals, names, base_value=base_value, polarity=polarity,
                                    output="log-odds of default" if polarity == "pd" else "log-odds of good")


def feature_groups(encoded_names: Sequence[str], source_features: Sequence[str]) -> dict[str, str]:
    """Map encoded column names (e.g. one-hot ``cat__purpose_car``) to their source feature.

    A name maps to the longest source feature ``f`` such that the name, without a
    ``"num__"``/``"cat__"``-style transformer prefix, equals ``f`` or starts with ``f + "_"``.
    Unmatched names map to themselves.

    Parameters
    ----------
    encoded_names : sequence of str
        Column names after encoding.
    source_features : sequence of str
        Original feature names.

    Returns
    -------
    dict
        ``{encoded_name: source_feature}`` for every encoded name.

    Examples
    --------
    >>> from apcfair.audit import feature_groups
    >>> feature_groups(["num__income", "cat__purpose_car", "cat__purpose_tv", "other"],
    ...                ["income", "purpose"])  # doctest: +NORMALIZE_WHITESPACE
    {'num__income': 'income', 'cat__purpose_car': 'purpose', 'cat__purpose_tv': 'purpose',
     'other': 'other'}
    """
    src = sorted(map(str, source_features), key=len, reverse=True)
    out = {}
    for name in map(str, encoded_names):
        bare = name.split("__", 1)[1] if "__" in name else name
        out[name] = next((f for f in src if bare == f or bare.startswith(f + "_")), name)
    return out


@dataclass(frozen=True)
class ReasonCodes(JSONResultMixin):
    """Adverse-action reasons: top factors that lowered each applicant's decision.

    Parameters
    ----------
    table, excluded, notes
        As the attributes; produced by :func:`reason_codes`.

    Attributes
    ----------
    table : pandas.DataFrame
        ``applicant, rank, feature, contribution, value`` (value when data were given).
    excluded : pandas.DataFrame
        Protected features that contribute to the model: ``feature, mean_abs_contribution,
        applicants_where_top_k`` -- never given as reasons, but their presence in the model is
        itself an audit finding.
    notes : tuple of str
        Findings to report (e.g. a protected attribute the model uses).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"income": rng.normal(60, 15, 500), "dti": rng.uniform(0, 0.6, 500),
    ...                   "age": rng.integers(20, 70, 500)})
    >>> logit = -1 - 0.04 * (X["income"] - 60) + 4 * (X["dti"] - 0.3)
    >>> y = (rng.random(500) < 1 / (1 + np.exp(-logit))).astype(int)
    >>> model = LogisticRegression().fit(X, y)   # classes_[1] is default: polarity "pd"
    >>> from apcfair.audit import reason_codes, shap_contributions
    >>> rc = reason_codes(shap_contributions(model, X), rows=[0, 1, 2], k=2,
    ...                   protected=["age"], data=X.round(2))
    >>> rc.for_applicant(0)
    ['dti (value: 0.5)']
    >>> rc.excluded["feature"].tolist()
    ['age']
    >>> print(rc.summary())  # doctest: +ELLIPSIS
    Most frequent reasons (count of applicants):
      dti: 2
    NOTE: the model uses protected attribute 'age' ...
    """

    table: pd.DataFrame
    excluded: pd.DataFrame
    notes: tuple[str, ...] = field(default_factory=tuple)

    def for_applicant(self, applicant) -> list[str]:
        """The reasons of one applicant, most important first."""
        sub = self.table[self.table["applicant"] == applicant].sort_values("rank")
        out = []
        for _, r in sub.iterrows():
            v = f" (value: {r['value']})" if "value" in r and pd.notna(r.get("value")) else ""
            out.append(f"{r['feature']}{v}")
        return out

    def summary(self) -> Summary:
        """Most frequent reasons and the protected features found in the model.

        Returns
        -------
        apcfair._summary.Summary
            Text (a ``str``) that renders as HTML in a notebook.
        """
        lines = ["Most frequent reasons (count of applicants):"]
        top = self.table[self.table["rank"] == 1]["feature"].value_counts()
        lines += [f"  {f}: {c}" for f, c in top.items()]
        lines += [f"NOTE: {n}" for n in self.notes]
        return Summary.from_blocks("", ["\n".join(lines)])

    def to_json_dict(self) -> dict:
        """JSON-ready dictionary (NaN -> null)."""
        return to_jsonable({"table": self.table, "excluded": self.excluded, "notes": list(self.notes)})

    @classmethod
    def from_json_dict(cls, d) -> ReasonCodes:
        """Rebuild reason codes from :meth:`to_json_dict` output."""
        return cls(table=frame(d["table"]), excluded=frame(d["excluded"]), notes=tuple(d.get("notes") or ()))


def reason_codes(contributions: Contributions, *, rows=None, k: int = 4, protected: Sequence[str] = (),
                 groups: Mapping[str, str] | None = None, data: pd.DataFrame | None = None,
                 min_contribution: float = 0.0) -> ReasonCodes:
    """Per-applicant adverse-action reason codes, never naming a protected attribute.

    Parameters
    ----------
    contributions : Contributions
        Oriented contributions (positive = towards default).
    rows : array-like of int or bool, optional
        Applicants to explain (positions), e.g. the declined ones; default all.
    k : int, default 4
        Reasons per applicant (fewer if fewer factors lowered the decision).
    protected : sequence of str
        Source features that must never be given as reasons (e.g. age, sex, foreign worker).
    groups : dict, optional
        Encoded column -> source feature (see :func:`feature_groups`); contributions of
        one-hot columns are summed per source feature.
    data : DataFrame, optional
        Original (un-encoded) rows, aligned with ``contributions``, to show each reason's value.
    min_contribution : float, default 0.0
        Only contributions above this count as reasons.

    Returns
    -------
    ReasonCodes
        The reasons per applicant, the protected features left out and notes.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"income": rng.normal(60, 15, 500), "dti": rng.uniform(0, 0.6, 500),
    ...                   "age": rng.integers(20, 70, 500)})
    >>> logit = -1 - 0.04 * (X["income"] - 60) + 4 * (X["dti"] - 0.3)
    >>> y = (rng.random(500) < 1 / (1 + np.exp(-logit))).astype(int)
    >>> model = LogisticRegression().fit(X, y)   # classes_[1] is default: polarity "pd"
    >>> from apcfair.audit import reason_codes, shap_contributions
    >>> rc = reason_codes(shap_contributions(model, X), rows=[0, 1, 2], k=2, protected=["age"])
    >>> rc.table[["applicant", "rank", "feature"]]  # doctest: +NORMALIZE_WHITESPACE
       applicant  rank feature
    0          0     1     dti
    1          1     1     dti
    >>> "age" in set(rc.table["feature"])  # a protected attribute is never a reason
    False
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}.")
    df = contributions.by_source(groups)
    n = len(df)
    if rows is None:
        idx = np.arange(n)
    else:
        r = np.asarray(rows)
        idx = np.flatnonzero(r) if r.dtype == bool else r.astype(int)
    if data is not None and len(data) != n:
        raise ValueError(f"data has {len(data)} rows but contributions have {n}.")
    protected = [str(p) for p in protected]
    prot_cols = [p for p in protected if p in df.columns]
    table = _reason_table(df.drop(columns=prot_cols), idx, k, min_contribution, data)
    excluded, notes = _protected_findings(df, idx, prot_cols, k, min_contribution)
    unknown = [p for p in protected if p not in df.columns]
    if unknown:
        notes.append(f"protected feature(s) {unknown} are not model inputs (good); proxies may still carry them")
    return ReasonCodes(table=table, excluded=excluded, notes=tuple(notes))


def _reason_table(allowed: pd.DataFrame, idx: np.ndarray, k: int, min_contribution: float,
                  data: pd.DataFrame | None) -> pd.DataFrame:
    """Up to ``k`` reasons per applicant: the largest contributions above ``min_contribution``."""
    names = list(allowed.columns)
    vals = allowed.to_numpy()[idx]
    order = np.argsort(-vals, axis=1, kind="stable")[:, :k]
    recs = []
    for i, row in enumerate(idx):
        rank = 0
        for j in order[i]:
            c = vals[i, j]
            if not c > min_contribution:
                break
            rank += 1
            rec = {"applicant": int(row), "rank": rank, "feature": names[j], "contribution": float(c)}
            if data is not None and names[j] in data.columns:
                rec["value"] = data.iloc[row][names[j]]
            recs.append(rec)
    return pd.DataFrame(recs, columns=["applicant", "rank", "feature", "contribution"]
                        + (["value"] if data is not None else []))


def _protected_findings(df: pd.DataFrame, idx: np.ndarray, prot_cols: list[str], k: int,
                        min_contribution: float) -> tuple[pd.DataFrame, list[str]]:
    """How much each protected model input contributes, and for how many it would be a top-``k`` reason."""
    rows, notes = [], []
    if not prot_cols:
        return pd.DataFrame(rows, columns=["feature", "mean_abs_contribution", "applicants_where_top_k"]), notes
    full = df.to_numpy()[idx]
    kth = np.sort(np.where(np.isfinite(full), full, -np.inf), axis=1)[:, -min(k, full.shape[1])]
    for p in prot_cols:
        col = full[:, list(df.columns).index(p)]
        would = int(np.sum((col > min_contribution) & (col >= kth)))
        mean_abs = float(np.mean(np.abs(col))) if len(col) else 0.0
        rows.append({"feature": p, "mean_abs_contribution": mean_abs, "applicants_where_top_k": would})
        if mean_abs > 0:
            notes.append(f"the model uses protected attribute {p!r} (mean |contribution| {mean_abs:.3g}); it is "
                         f"never given as a reason, but it would have been a top-{k} reason for {would} of "
                         f"{len(idx)} applicants: review whether it may be used at all")
    return pd.DataFrame(rows, columns=["feature", "mean_abs_contribution", "applicants_where_top_k"]), notes


# ---------------------------------------------------------------------------------------
# counterfactuals
def _bounded(values, lower, upper):
    return [v for v in values if (lower is None or v >= lower) and (upper is None or v <= upper)]


def _fractions(fractions) -> list[float]:
    """Relative changes, smallest first (default 10%, 20%, 30%, 50%)."""
    return sorted(float(f) for f in fractions) or [0.1, 0.2, 0.3, 0.5]


def decrease(*fractions: float, lower: float | None = None) -> Callable:
    """Candidate values ``v * (1 - f)`` for each fraction, smallest change first (not below ``lower``).

    Parameters
    ----------
    *fractions : float
        Relative decreases, e.g. ``0.1`` for 10% less.
    lower : float, optional
        Smallest allowed value.

    Returns
    -------
    callable
        ``value -> list of candidate values``, for :func:`counterfactuals`.

    Examples
    --------
    >>> from apcfair.audit import decrease
    >>> decrease(0.5, 0.1)(100.0)
    [90.0, 50.0]
    >>> decrease(0.1, 0.5, lower=60)(100.0)
    [90.0]
    """
    fr = _fractions(fractions)
    return lambda v: _bounded([v * (1 - f) for f in fr], lower, None)


def increase(*fractions: float, upper: float | None = None) -> Callable:
    """Candidate values ``v * (1 + f)`` for each fraction, smallest change first (not above ``upper``).

    Parameters
    ----------
    *fractions : float
        Relative increases, e.g. ``0.1`` for 10% more.
    upper : float, optional
        Largest allowed value.

    Returns
    -------
    callable
        ``value -> list of candidate values``, for :func:`counterfactuals`.

    Examples
    --------
    >>> from apcfair.audit import increase
    >>> [round(v, 2) for v in increase(0.2, 0.1)(100.0)]
    [110.0, 120.0]
    >>> [round(v, 2) for v in increase(0.1, 0.2, upper=115)(100.0)]
    [110.0]
    """
    fr = _fractions(fractions)
    return lambda v: _bounded([v * (1 + f) for f in fr], None, upper)


def shift(*steps: float, lower: float | None = None, upper: float | None = None) -> Callable:
    """Candidate values ``v + s`` for each step, in the order given, within ``[lower, upper]``.

    Parameters
    ----------
    *steps : float
        Absolute changes, tried in the order given.
    lower, upper : float, optional
        Allowed range of the result.

    Returns
    -------
    callable
        ``value -> list of candidate values``, for :func:`counterfactuals`.

    Examples
    --------
    >>> from apcfair.audit import shift
    >>> shift(-12, -24)(36)  # e.g. a shorter term
    [24, 12]
    >>> shift(-1, 1, lower=0)(0.5)
    [1.5]
    """
    return lambda v: _bounded([v + s for s in steps], lower, upper)


def borderline_rejections(score, cutoff: float, *, polarity: Polarity = "pd", band: float = 0.1) -> np.ndarray:
    """Positions of rejected applicants within ``band`` of the cut-off.

    Parameters
    ----------
    score : array-like
        Scores.
    cutoff : float
        Cut-off.
    polarity : {"pd", "approval"}, default "pd"
        Score direction.
    band : float, default 0.1
        Largest distance to the cut-off.

    Returns
    -------
    numpy.ndarray of int
        Positions of the borderline rejections.

    Examples
    --------
    >>> import numpy as np
    >>> from apcfair.audit import borderline_rejections
    >>> pd_ = np.array([0.05, 0.22, 0.28, 0.45, 0.21])
    >>> borderline_rejections(pd_, cutoff=0.2, band=0.05).tolist()  # rejected iff PD >= 0.2
    [1, 4]
    >>> borderline_rejections(1 - pd_, cutoff=0.8, polarity="approval", band=0.1).tolist()
    [1, 2, 4]
    """
    check_option("polarity", polarity, Polarity)
    s = check_score(score, polarity)
    c = check_cutoff(cutoff, polarity)
    return np.flatnonzero(~approve(s, c, polarity) & (np.abs(s - c) <= band))


def counterfactuals(predict: Callable, X: pd.DataFrame, rows, *, actions: Mapping[str, Callable | Sequence],
                    cutoff: float, polarity: Polarity = "pd", protected: Sequence[str] = ()) -> pd.DataFrame:
    """Single-feature actionable changes that would turn a rejection into an approval.

    For each applicant and each actionable feature the candidate values are tried in order
    (smallest change first); the first that flips the decision is reported. Protected
    features can never be actions. Changes are suggestions about the model, not promises:
    the applicant must actually be able to make them (e.g. a smaller loan, a shorter term).

    Parameters
    ----------
    predict : callable
        ``predict(DataFrame) -> scores`` in the given polarity (e.g. a pipeline's
        ``lambda d: pipe.predict_proba(d)[:, 1]``).
    X : DataFrame
        Applicants (un-encoded, as ``predict`` expects them).
    rows : array-like of int
        Positions of the applicants to explain (e.g. :func:`borderline_rejections`).
    actions : dict
        Feature -> candidate values (a sequence) or a callable ``value -> candidates``
        (see :func:`decrease`, :func:`increase`, :func:`shift`).
    cutoff : float
        Cut-off of the score.
    polarity : {"pd", "approval"}, default "pd"
        Score direction.
    protected : sequence of str
        Features that must never be changed.

    Returns
    -------
    pandas.DataFrame
        ``applicant, feature, current, suggested, step, score_before, score_after, flips``;
        one row per applicant and feature (``flips`` False and ``suggested`` None where no
        candidate flips the decision).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> from apcfair.audit import borderline_rejections, counterfactuals, decrease, increase
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"income": rng.normal(60, 15, 500), "dti": rng.uniform(0, 0.6, 500),
    ...                   "age": rng.integers(20, 70, 500)})
    >>> logit = -1 - 0.04 * (X["income"] - 60) + 4 * (X["dti"] - 0.3)
    >>> y = (rng.random(500) < 1 / (1 + np.exp(-logit))).astype(int)
    >>> model = LogisticRegression().fit(X, y)
    >>> def predict(d):
    ...     return model.predict_proba(d)[:, 1]
    >>> rows = borderline_rejections(predict(X), cutoff=0.3, band=0.02)[:2]
    >>> cf = counterfactuals(predict, X, rows, cutoff=0.3, protected=["age"],
    ...                      actions={"dti": decrease(0.1, 0.2, 0.3, lower=0),
    ...                               "income": increase(0.1, 0.2)})
    >>> cf[["applicant", "feature", "flips"]]  # doctest: +NORMALIZE_WHITESPACE
       applicant feature  flips
    0          4     dti   True
    1          4  income   True
    2         17     dti   True
    3         17  income   True
    >>> bool((cf["score_after"] < 0.3).all())
    True
    """
    check_option("polarity", polarity, Polarity)
    c = check_cutoff(cutoff, polarity)
    if not isinstance(X, pd.DataFrame):
        raise ValueError("X must be a DataFrame with the features predict() expects.")
    bad = sorted(set(map(str, actions)) & set(map(str, protected)))
    if bad:
        raise ValueError(f"counterfactuals never change protected attributes: remove {bad} from actions.")
    missing = sorted(set(actions) - set(X.columns))
    if missing:
        raise ValueError(f"actions name feature(s) {missing} that are not columns of X.")
    rows = np.asarray(rows, dtype=int)
    if rows.size == 0:
        return pd.DataFrame(columns=["applicant", "feature", "current", "suggested", "step", "score_before",
                                     "score_after", "flips"])
    before = np.asarray(predict(X.iloc[rows]), dtype=float)
    variants, meta = _single_feature_variants(X, rows, actions)
    after = np.asarray(predict(pd.concat(variants, ignore_index=True)), dtype=float) if variants else np.array([])
    return _first_flips(meta, before, after, approve(after, c, polarity))


def _single_feature_variants(X: pd.DataFrame, rows: np.ndarray, actions: Mapping) -> tuple[list, list]:
    """One copy of an applicant's row per candidate value of each action, with what was changed."""
    variants, meta = [], []
    for i, r in enumerate(rows):
        row = X.iloc[[r]]
        for f, act in actions.items():
            cur = row[f].iloc[0]
            cands = list(act(cur)) if callable(act) else [v for v in act if v != cur]
            for step, v in enumerate(cands, start=1):
                mod = row.copy()
                mod[f] = v
                variants.append(mod)
                meta.append((i, int(r), f, cur, v, step))
    return variants, meta


def _first_flips(meta: list, before: np.ndarray, after: np.ndarray, approved: np.ndarray) -> pd.DataFrame:
    """Per applicant and feature, the first candidate (smallest change) that is approved."""
    found: dict[tuple[int, str], dict] = {}
    for (i, r, f, cur, v, step), sc, a in zip(meta, after, approved, strict=True):
        key = (r, f)
        if key not in found:
            found[key] = {"applicant": r, "feature": f, "current": cur, "suggested": None, "step": None,
                          "score_before": float(before[i]), "score_after": float("nan"), "flips": False}
        if a and not found[key]["flips"]:
            found[key].update(suggested=v, step=step, score_after=float(sc), flips=True)
    return pd.DataFrame(list(found.values()))
