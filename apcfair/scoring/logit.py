"""Panel logistic regression with fixed offsets ("APC scoring", Breeden & Leonova 2021, 4.2).

    logit PD_i(a, t) = F(a) + H(t) + r_i + b0 + x_i' beta [+ beta_v(i)]

``F(a) + H(t)`` (an :class:`~apcfair.scoring.OffsetTable`) and the optional per-account
offset ``r_i`` (e.g. the restricted model's score) enter with coefficient 1; the
intercept, the attribute effects and optional vintage dummies are estimated.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.linalg as la
from scipy.special import expit
from scipy.stats import norm
from threadpoolctl import threadpool_limits

from apcfair._base import (
    FORMAT_VERSION,
    JSONModelMixin,
    ParamsMixin,
    check_fitted,
    check_kind,
    jsonable,
)
from apcfair._options import check_option
from apcfair._provenance import provenance
from apcfair.errors import DataValidationError
from apcfair.offsets import OffsetTable
from apcfair.portfolio import Portfolio
from apcfair.scoring._base import restore_fit_counts
from apcfair.scoring._data import (
    VINTAGE,
    Source,
    account_frame,
    account_mask,
    as_source,
    attribute_frame,
    check_attributes,
    check_offset,
    expand_account_months,
    per_account,
    resolve_method,
)
from apcfair.scoring._engine import (
    MonthPass,
    cholesky_or_raise,
    collapse_units,
    newton,
    weighted_gram,
)
from apcfair.scoring._predict import OffsetPredictMixin
from apcfair.scoring.binning import AttributeBinner, HandleUnknown, unique_rows

LogitMethod = Literal["auto", "accounts", "glm"]
INTERCEPT = "(Intercept)"


class OffsetLogit(OffsetPredictMixin, JSONModelMixin, ParamsMixin):
    """Logistic regression of account-month defaults with fixed APC offsets.

    Parameters
    ----------
    bins : int or None, default 10
        Quantile bins (plus an NA bin) for numeric attributes; ``None`` enters numeric
        attributes linearly. See :class:`~apcfair.scoring.AttributeBinner`.
    numeric : sequence of str
        Numeric attributes that enter linearly.
    categorical : sequence of str
        Attributes treated as levels even if numeric.
    cuts : mapping, optional
        Explicit cut points per attribute.
    reference : mapping, optional
        Reference level per attribute (default: the first level).
    vintage_dummies : bool, default False
        Add one dummy per vintage (reference: the first vintage), as in the paper's
        equation (3).
    method : {"auto", "accounts", "glm"}
        ``"accounts"``: streamed Newton on per-account sums (attributes fixed per
        account; never builds an account-month design). ``"glm"``: glum's
        ``GeneralizedLinearRegressor`` on account-month rows (materialised for
        loan-level data), needed for time-varying panel attributes. ``"auto"``:
        ``"accounts"`` unless a panel attribute changes within an account.
    handle_unknown : {"error", "reference"}
        Unseen levels (and unseen missing values) at prediction time.
    min_bin_defaults : int, default 5
        Before fitting, bins and levels with fewer than this many defaults (or
        non-defaults) among the training rows the bins are learned from (accounts,
        or account-months for time-varying attributes) are merged, so that no
        coefficient runs off to infinity (quasi-separation): quantile bins with their
        adjacent bin, sparse categories into ``"other"`` (or the reference), a sparse NA
        bin into the reference level. Vintage dummies are levels like any other.
        ``0`` disables merging. See :class:`~apcfair.scoring.AttributeBinner`; the
        merges are in ``binner_.merges_`` and :meth:`summary`.
    tol : float
        Convergence tolerance on the largest Newton step (relative to ``1 + max|beta|``).
    max_iter : int
        Maximum Newton (or glum IRLS) iterations.
    chunk_rows : int
        Account-months per chunk in the streamed pass.

    Attributes
    ----------
    coef_ : pandas.Series
        Estimates by term, ``"(Intercept)"`` first.
    cov_ : pandas.DataFrame
        Covariance matrix (inverse of the Hessian at the estimate).
    coef_table_ : pandas.DataFrame
        ``term, estimate, std_error, z, p_value`` (Wald tests), like the paper's
        Tables 2-4.
    binner_ : AttributeBinner
        Bins and levels learned from the training accounts.
    offset_ : OffsetTable
        The offset used in fitting (default for predictions).
    loglik_ : float
        Log-likelihood at the estimate.
    n_iter_, converged_ : int, bool
        Newton (or glum) iterations and convergence.
    method_ : str
        ``"accounts"`` or ``"glm"``.
    n_accounts_, n_account_months_, n_defaults_ : int
        Training sample sizes.
    lineage_ : Lineage
        The portfolio's lineage plus the training-sample step.

    Notes
    -----
    Standard errors come from the inverse of the observed (= expected, canonical
    link) information, as in ``statsmodels.GLM(..., family=Binomial(), offset=...)``
    fitted to the materialised account-month panel, which this estimator reproduces.

    Bins are learned from one row per account when attributes are fixed per account,
    and from account-month rows when they vary over time.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from apcfair.scoring import OffsetLogit, OffsetTable
    >>> rng = np.random.default_rng(0)
    >>> n = 4000
    >>> v = 24_000 + rng.integers(0, 12, n)
    >>> grade = rng.choice(["A", "B", "C"], n)
    >>> hazard = 0.01 * np.select([grade == "A", grade == "B"], [1.0, 2.0], 4.0)
    >>> life = np.minimum(rng.geometric(hazard), 36)
    >>> loans = pd.DataFrame({"vintage": v, "first_month": v + 1, "last_month": v + life,
    ...                       "default": (life < 36).astype(int), "grade": grade})
    >>> model = OffsetLogit().fit(loans, ["grade"])
    >>> model.coef_table_["term"].tolist()
    ['(Intercept)', 'grade B', 'grade C']
    """

    def __init__(self, bins: int | None = 10, *, numeric: Sequence[str] = (),
                 categorical: Sequence[str] = (), cuts: Mapping[str, Sequence[float]] | None = None,
                 reference: Mapping[str, Any] | None = None, vintage_dummies: bool = False,
                 method: LogitMethod = "auto", handle_unknown: HandleUnknown = "error",
                 min_bin_defaults: int = 5, tol: float = 1e-9, max_iter: int = 100,
                 chunk_rows: int = 1 << 18):
        self.bins = bins
        self.numeric = numeric
        self.categorical = categorical
        self.cuts = cuts
        self.reference = reference
        self.vintage_dummies = vintage_dummies
        self.method = method
        self.handle_unknown = handle_unknown
        self.min_bin_defaults = min_bin_defaults
        self.tol = tol
        self.max_iter = max_iter
        self.chunk_rows = chunk_rows

    # ------------------------------------------------------------------ fit
    def _new_binner(self, columns: list[str]) -> AttributeBinner:
        cat = tuple(self.categorical) + ((VINTAGE,) if self.vintage_dummies else ())
        return AttributeBinner(self.bins, columns=columns, numeric=tuple(self.numeric), categorical=cat,
                               cuts=self.cuts, reference=self.reference,
                               handle_unknown=self.handle_unknown,
                               min_bin_defaults=self.min_bin_defaults)

    def fit(self, data: Portfolio | pd.DataFrame, attributes: Sequence[str],
            offset: OffsetTable | None = None, account_offset=None,
            accounts=None) -> OffsetLogit:
        """Estimate the intercept and attribute effects with the offsets held fixed.

        Parameters
        ----------
        data : Portfolio or pandas.DataFrame
            A portfolio (loan-level or panel), or a frame shaped like
            ``Portfolio.loans`` (``vintage, first_month, last_month, default`` as integer
            period codes plus attributes) or ``Portfolio.panel``.
        attributes : sequence of str
            Attribute columns (at origination for loan-level data).
        offset : OffsetTable, optional
            ``F(a) + H(t)``; default zero.
        account_offset : array-like of float, optional
            A second fixed offset per account (e.g. the restricted model's score), one
            value per row of ``portfolio.loans``.
        accounts : array-like of bool or int, optional
            Training accounts (mask or positions over ``portfolio.loans``); default all.

        Returns
        -------
        OffsetLogit
            ``self``.
        """
        check_option("method", self.method, LogitMethod)
        t_start = time.perf_counter()
        attributes = check_attributes(attributes)
        offset = check_offset(offset)
        src = as_source(data)
        n_all = src.n_accounts
        mask = account_mask(accounts, n_all)
        r_all = per_account(account_offset, n_all, "account_offset")
        if not mask.any():
            raise DataValidationError(["accounts= selects no account; nothing to fit."])
        static, method = resolve_method(src, mask, attributes, self.method, "glm")

        idx = np.flatnonzero(mask)
        spells = src.spells.take(idx)
        v, a0, a1 = spells.vintage, spells.first_age, spells.last_age
        d = spells.defaulted.astype(np.int64)
        r = r_all[idx]

        binner = self._new_binner(attributes + ([VINTAGE] if self.vintage_dummies else []))
        if static:
            acc = attribute_frame(account_frame(src).iloc[idx], attributes, self.vintage_dummies,
                                  src.freq)
            binner.fit(acc, d)
        else:
            rows_frame = src.panel.loc[mask[src.panel["account"].to_numpy()]]
            binner.fit(attribute_frame(rows_frame, attributes, self.vintage_dummies, src.freq),
                       rows_frame["default"].to_numpy(np.int64))
        names = [INTERCEPT, *binner.term_names_]
        self.binner_ = binner

        with threadpool_limits(limits=1, user_api="blas"):
            if method == "accounts":
                enc = binner.encode(acc)
                first, inv = unique_rows(enc.row_key(binner.n_levels_))
                D = binner.design_from(enc.take(first), intercept=True)
                units = collapse_units(inv, v, a0, a1, d, r)
                mpass = MonthPass(units, offset, chunk_rows=self.chunk_rows)
                beta0 = np.zeros(D.shape[1])
                rows_total = float(units.count @ mpass.n_months)
                rate = min(max(float(d.sum()) / rows_total, 1e-8), 1 - 1e-8)
                mean_off = mpass.offset_sum / mpass.n_rows if mpass.n_rows else 0.0
                beta0[0] = np.log(rate / (1 - rate)) - mean_off
                res = newton(D, units, mpass, beta0, names, tol=self.tol, max_iter=self.max_iter)
                beta, hessian, ll, n_iter, conv = res.beta, res.hessian, res.loglik, res.n_iter, res.converged
                n_rows = int(rows_total)
                self.n_units_ = units.n_units
                self.n_design_rows_ = D.shape[0]
            else:
                beta, hessian, ll, n_iter, conv, n_rows = self._fit_glm(
                    src, mask, static, binner, attributes, offset, r_all, names)
        with threadpool_limits(limits=1, user_api="blas"):
            cov = la.cho_solve(cholesky_or_raise(hessian, names), np.eye(len(names)))
        self._set_results(names, beta, cov, ll, n_iter, conv, method, offset, src.freq)
        self.attributes_ = attributes
        self.n_accounts_ = int(mask.sum())
        self.n_account_months_ = n_rows
        self.n_defaults_ = int(d.sum())
        self.has_account_offset_ = account_offset is not None
        lineage = src.lineage
        n_out = int(mask.sum())
        lineage = lineage.add("offset logit training accounts", "accounts", n_all, n_out,
                              {"not in accounts= (training) mask": n_all - n_out})
        self.lineage_ = lineage
        self.fit_seconds_ = time.perf_counter() - t_start
        return self

    def _fit_glm(self, src: Source, mask, static, binner, attributes, offset, r_all, names):
        from glum import GeneralizedLinearRegressor  # heavy: only for method='glm'

        if src.panel is not None:
            p = src.panel.loc[mask[src.panel["account"].to_numpy()]]
            account = p["account"].to_numpy()
            age = p["age"].to_numpy(np.int64)
            period = p["month"].to_numpy(np.int64)
            y = p["default"].to_numpy(np.float64)
            if static:
                acc = attribute_frame(account_frame(src), attributes, self.vintage_dummies, src.freq)
                enc = binner.encode(acc).take(account)
            else:
                enc = binner.encode(attribute_frame(p, attributes, self.vintage_dummies, src.freq))
        else:
            rows = expand_account_months(src.loans, accounts=mask)
            account = rows["account"].to_numpy()
            age, period = rows["age"].to_numpy(), rows["period"].to_numpy()
            y = rows["default"].to_numpy(np.float64)
            acc = attribute_frame(src.loans, attributes, self.vintage_dummies, src.freq)
            enc = binner.encode(acc).take(account)
        off = offset(age, period) + r_all[account]
        X = binner.categorical_frame(enc)
        glm = GeneralizedLinearRegressor(
            family="binomial", alpha=0, drop_first=True, fit_intercept=True,
            gradient_tol=1e-12, step_size_tol=1e-14, max_iter=self.max_iter,
        )
        if X.shape[1] == 0:  # intercept only: a column of ones, no separate intercept
            glm.set_params(fit_intercept=False)
            glm.fit(pd.DataFrame({INTERCEPT: np.ones(len(y))}), y, offset=off)
            beta = np.asarray(glm.coef_, dtype=np.float64)
        else:
            glm.fit(X, y, offset=off)
            lookup = {}
            for col in binner.columns_:
                spec = binner.specs_[col]
                if spec.kind == "numeric":
                    lookup[col] = col
                else:
                    for lab in spec.term_labels():
                        lookup[f"{col}[{lab}]"] = f"{col} {lab}"
            coef = dict(zip([lookup[f] for f in glm.feature_names_], glm.coef_, strict=True))
            beta = np.array([glm.intercept_] + [coef[t] for t in names[1:]])
        # exact Hessian at the estimate, on distinct design rows
        first, inv = unique_rows(enc.row_key(binner.n_levels_))
        D = binner.design_from(enc.take(first), intercept=True)
        eta = off + (D @ beta)[inv]
        pr = expit(eta)
        w = np.bincount(inv, weights=pr * (1 - pr), minlength=D.shape[0])
        hessian = weighted_gram(D, w)
        ll = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
        n_iter = int(np.max(np.atleast_1d(getattr(glm, "n_iter_", 0))))
        conv = n_iter < self.max_iter
        self.n_design_rows_ = D.shape[0]
        return beta, hessian, ll, n_iter, conv, len(y)

    def _set_results(self, names, beta, cov, ll, n_iter, conv, method, offset, freq) -> None:
        se = np.sqrt(np.clip(np.diag(cov), 0, None))
        z = beta / se
        self.coef_ = pd.Series(beta, index=names, name="estimate")
        self.intercept_ = float(beta[0])
        self.cov_ = pd.DataFrame(cov, index=names, columns=names)
        self.coef_table_ = pd.DataFrame(
            {"term": names, "estimate": beta, "std_error": se, "z": z,
             "p_value": 2 * norm.sf(np.abs(z))}
        )
        self.loglik_ = float(ll)
        self.n_iter_ = int(n_iter)
        self.converged_ = bool(conv)
        self.method_ = method
        self.offset_ = offset
        self.freq_ = freq

    # ------------------------------------------------------------------ predict
    def _design(self, frame: pd.DataFrame):
        X = attribute_frame(frame, self.attributes_, self.vintage_dummies, self.freq_)
        return self.binner_.design(X, intercept=True)

    def predict_account_score(self, data: Portfolio | pd.DataFrame) -> np.ndarray:
        """The score ``s = b0 + x' beta`` (vintage dummies included if fitted), no offsets.

        Parameters
        ----------
        data : Portfolio or pandas.DataFrame
            A portfolio (one score per account, in the order of ``portfolio.loans``;
            panel portfolios use each account's first month) or a frame with the
            attribute columns (one score per row; ``vintage`` needed with vintage
            dummies).

        Returns
        -------
        numpy.ndarray
        """
        check_fitted(self)
        frame = account_frame(as_source(data)) if isinstance(data, Portfolio) else data
        return np.asarray(self._design(frame) @ self.coef_.to_numpy()).ravel()

    def summary(self) -> str:
        """Plain-text coefficient table with fit statistics."""
        check_fitted(self)
        t = self.coef_table_
        w = max(12, *(len(s) for s in t["term"]))
        head = [
            "Offset logit (fixed F(a) + H(t)"
            + (" + account offset" if getattr(self, "has_account_offset_", False) else "") + ")",
            f"  method: {self.method_}   accounts: {self.n_accounts_:,}   account-months: "
            f"{self.n_account_months_:,}   defaults: {self.n_defaults_:,}",
            f"  log-likelihood: {self.loglik_:.4f}   iterations: {self.n_iter_}   "
            f"converged: {self.converged_}",
            "",
            f"{'term':<{w}}  {'estimate':>11}  {'std.error':>10}  {'z':>8}  {'Pr(>|z|)':>10}",
            "-" * (w + 47),
        ]
        body = [
            f"{r.term:<{w}}  {r.estimate:>11.4g}  {r.std_error:>10.4g}  {r.z:>8.3f}  "
            f"{r.p_value:>10.3g}"
            for r in t.itertuples()
        ]
        merges = self.binner_.merges_
        if len(merges):
            body += ["", f"Merged sparse levels (fewer than {self.binner_.min_bin_defaults} "
                         "training defaults or non-defaults):"]
            body += [f"  {r.attribute} {r.level} <- {r.merged_from}" for r in merges.itertuples()]
        return "\n".join(head + body)

    def __str__(self) -> str:
        return self.summary() if hasattr(self, "coef_") else repr(self)

    # ------------------------------------------------------------------ io
    def _settings(self) -> dict:
        s = self.get_params()
        s["numeric"] = list(s["numeric"])
        s["categorical"] = list(s["categorical"])
        s["cuts"] = {k: list(map(float, v)) for k, v in (s["cuts"] or {}).items()} or None
        s["reference"] = dict(s["reference"]) if s["reference"] else None
        return jsonable(s)

    def to_dict(self) -> dict:
        """JSON-ready dictionary: settings, bins, coefficients, covariance, offsets, lineage."""
        check_fitted(self)
        settings = self._settings()
        return jsonable(
            {
                "kind": "OffsetLogit",
                "format_version": FORMAT_VERSION,
                "settings": settings,
                "provenance": provenance(settings),
                "attributes": self.attributes_,
                "freq": self.freq_,
                "binner": self.binner_.to_dict(),
                "terms": list(self.coef_.index),
                "coef": self.coef_.to_numpy(),
                "cov": self.cov_.to_numpy(),
                "offset": self.offset_.to_dict(),
                "fit": {
                    "method": self.method_, "loglik": self.loglik_, "n_iter": self.n_iter_,
                    "converged": self.converged_, "n_accounts": self.n_accounts_,
                    "n_account_months": self.n_account_months_, "n_defaults": self.n_defaults_,
                    "has_account_offset": self.has_account_offset_,
                },
                "lineage": self.lineage_.to_dict(),
            }
        )

    @classmethod
    def from_dict(cls, d: Mapping) -> OffsetLogit:
        """Rebuild a fitted model from :meth:`to_dict` output."""
        d = dict(d)
        check_kind(d, "OffsetLogit")
        s = dict(d["settings"])
        obj = cls(s.pop("bins"), **s)
        obj.binner_ = AttributeBinner.from_dict(d["binner"])
        obj.attributes_ = list(d["attributes"])
        fit = d["fit"]
        obj._set_results(list(d["terms"]), np.asarray(d["coef"], dtype=float),
                         np.asarray(d["cov"], dtype=float), fit["loglik"], fit["n_iter"],
                         fit["converged"], fit["method"], OffsetTable.from_dict(d["offset"]), d["freq"])
        restore_fit_counts(obj, fit, d["lineage"])
        return obj
