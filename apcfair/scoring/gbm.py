"""Gradient-boosted trees with fixed APC offsets ("APC + SGB", Breeden & Leonova 2021, 4.4).

    logit PD_i(a, t) = F(a) + H(t) + r_i + f(x_i)

``f`` is a LightGBM ensemble; the offsets are fixed. Two exact ways to fit it:

``"accounts"`` (attributes fixed per account)
    One LightGBM row per account with a custom objective: the gradient and Hessian of
    account ``i`` are ``sum_a (p_ia - y_ia)`` and ``sum_a p_ia (1 - p_ia)``, computed each
    round by one pass over the account-months (:meth:`MonthPass.gradient
    <apcfair.scoring._engine.MonthPass.gradient>`: the odds ``exp(s_i) exp(o_ia)`` with
    ``exp(o)`` cached, no likelihood; about 17 ms per round over 3.1 M account-months).
    Since all months of an account fall in the same leaf, the split gains and leaf
    values equal those of training on account-month rows; memory is one row per
    account. Row-count settings (``min_child_samples``, bagging) then count accounts.
``"rows"``
    One LightGBM row per account-month with ``init_score`` = offset (needed for
    time-varying panel attributes). The feature matrix is materialised as ``float32``:
    at the paper's scale (6.1 M account-months x 10 attributes) about 240 MB.

LightGBM's ``predict`` does not add ``init_score`` back; :meth:`OffsetGBM.predict_logit`
adds the offsets itself.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

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
from apcfair.portfolio.portfolio import require_columns
from apcfair.scoring._base import restore_fit_counts
from apcfair.scoring._data import (
    account_frame,
    account_mask,
    as_source,
    check_attributes,
    check_offset,
    expand_account_months,
    per_account,
    resolve_method,
)
from apcfair.scoring._engine import MonthPass, collapse_units
from apcfair.scoring._predict import OffsetPredictMixin
from apcfair.scoring.binning import (
    _examples,
    _py,
    compose_key,
    lookup,
    unique_rows,
)

GBMMethod = Literal["auto", "accounts", "rows"]
GBMUnknown = Literal["error", "missing"]


def _fingerprint(X: np.ndarray) -> str:
    """A hash of a feature matrix's values (NaN-safe: compares bytes)."""
    import hashlib

    return hashlib.blake2b(np.ascontiguousarray(X, dtype=np.float64).tobytes(), digest_size=16).hexdigest()


def train_with_scores(lgb, params: dict, dtrain, rounds: int):
    """``lgb.train`` that also returns the training rows' final raw scores.

    LightGBM accumulates every training row's score as it boosts (the scores a custom
    objective receives); an evaluation callback on the training set reads them after the
    last round, so the training rows need not be predicted again. With a custom
    objective the scores start at 0 (no init score, no boost from average), as ``predict``'s
    raw score does.

    Returns
    -------
    booster : lightgbm.Booster
    scores : numpy.ndarray
        Raw score of each training row after the last round (a copy).
    """
    kept: dict = {}

    def keep(preds, _data):
        kept["scores"] = preds
        return "kept_training_scores", 0.0, False

    booster = lgb.train({**params, "metric": "None"}, dtrain, num_boost_round=rounds,
                        valid_sets=[dtrain], valid_names=["training"], feval=keep)
    if "scores" not in kept:                  # no round ran: every score is the start, 0
        return booster, np.zeros(dtrain.num_data())
    return booster, np.array(kept["scores"], dtype=np.float64, copy=True)


class FeatureEncoder:
    """Numeric attributes as floats (NaN kept), categorical ones as integer codes.

    Parameters
    ----------
    categorical : sequence of str
        Attributes treated as categories even if numeric. Non-numeric columns are
        always categorical.
    handle_unknown : {"error", "missing"}
        Category values not seen in training: raise, or treat as missing.
    """

    def __init__(self, categorical: Sequence[str] = (), handle_unknown: GBMUnknown = "error"):
        self.categorical = tuple(categorical)
        self.handle_unknown = handle_unknown

    def fit(self, data: pd.DataFrame, columns: Sequence[str]) -> FeatureEncoder:
        """Learn which columns are categorical and their levels."""
        columns = list(columns)
        require_columns(data, columns)
        problems = []
        self.columns_ = columns
        self.levels_: dict[str, list] = {}
        for c in columns:
            s = data[c]
            if len(s) and s.isna().all():
                problems.append(f"column {c!r}: all {len(s):,} training rows are missing (NaN). "
                                f"Fix: drop {c!r} from attributes=[...] or fill it.")
                continue
            numeric = (pd.api.types.is_numeric_dtype(s.dtype)
                       and not pd.api.types.is_bool_dtype(s.dtype)
                       and not isinstance(s.dtype, pd.CategoricalDtype))
            if numeric and c not in self.categorical:
                x = s.to_numpy(dtype=np.float64)
                if np.isinf(x).any():
                    problems.append(f"column {c!r}: {int(np.isinf(x).sum()):,} infinite values. "
                                    "Fix: replace them (missing values are fine).")
                continue
            vals = s.dropna()
            levels = pd.unique(vals).tolist()
            try:
                levels = sorted(levels)
            except TypeError:
                levels = sorted(levels, key=str)
            self.levels_[c] = [_py(v) for v in levels]
        if problems:
            raise DataValidationError(problems)
        return self

    @property
    def categorical_(self) -> list[str]:
        """Categorical attributes."""
        return [c for c in self.columns_ if c in self.levels_]

    def transform(self, data: pd.DataFrame) -> np.ndarray:
        """``(n, k)`` float64 features (category codes for categorical columns)."""
        require_columns(data, self.columns_)
        out = np.empty((len(data), len(self.columns_)), dtype=np.float64)
        problems = []
        for j, c in enumerate(self.columns_):
            s = data[c]
            if c in self.levels_:
                codes = lookup(s, self.levels_[c]).astype(np.float64)
                unknown = (codes < 0) & s.notna().to_numpy()
                if unknown.any() and self.handle_unknown == "error":
                    problems.append(
                        f"column {c!r}: {int(unknown.sum()):,} rows have categories not seen in "
                        f"training (e.g. {_examples(s[unknown])}). Fix: map them to training "
                        "categories or fit with handle_unknown='missing'.")
                codes[codes < 0] = np.nan
                out[:, j] = codes
            else:
                x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
                bad = np.isnan(x) & s.notna().to_numpy()
                if bad.any():
                    problems.append(f"column {c!r}: {int(bad.sum()):,} values are not numbers "
                                    f"(e.g. {_examples(s[bad])}). Fix: clean them.")
                out[:, j] = x
        if problems:
            raise DataValidationError(problems)
        return out

    def to_dict(self) -> dict:
        """JSON-ready dictionary."""
        return jsonable({"categorical": list(self.categorical), "handle_unknown": self.handle_unknown,
                         "columns": self.columns_, "levels": self.levels_})

    @classmethod
    def from_dict(cls, d: Mapping) -> FeatureEncoder:
        """Rebuild from :meth:`to_dict` output."""
        obj = cls(d["categorical"], d["handle_unknown"])
        obj.columns_ = list(d["columns"])
        obj.levels_ = {k: list(v) for k, v in d["levels"].items()}
        return obj


class OffsetGBM(OffsetPredictMixin, JSONModelMixin, ParamsMixin):
    """LightGBM boosted trees on top of fixed offsets ``F(a) + H(t)`` (+ ``r_i``).

    Parameters
    ----------
    n_estimators : int
        Boosting rounds.
    learning_rate : float
        Shrinkage.
    num_leaves, max_depth : int
        Tree size.
    min_child_samples : int
        Minimum rows (accounts with ``method="accounts"``, account-months with
        ``"rows"``) per leaf.
    min_sum_hessian_in_leaf : float
        Minimum sum of ``p (1 - p)`` per leaf, roughly the expected number of defaults:
        the same regulariser in both methods.
    subsample, subsample_freq : float, int
        Bagging fraction and frequency (stochastic gradient boosting; rows are accounts
        or account-months depending on the method).
    colsample_bytree : float
        Feature fraction per tree.
    reg_lambda : float
        L2 penalty on leaf values.
    max_bin : int
        Histogram bins per numeric feature.
    categorical : sequence of str
        Attributes treated as categories even if numeric.
    method : {"auto", "accounts", "rows"}
        See the module docstring; ``"auto"`` uses ``"accounts"`` unless a panel
        attribute changes within an account.
    handle_unknown : {"error", "missing"}
        Unseen categories at prediction time.
    random_state : int
        Seed of every random choice in LightGBM.
    num_threads : int
        LightGBM threads (results are deterministic for a given value). The default 1:
        on a shared 2-core machine 2 threads cost about 6x the CPU time (OpenMP waiting)
        for identical trees (measured at 36,625 accounts).
    chunk_rows : int
        Account-months per chunk in the streamed pass (``"accounts"``) where it takes the
        likelihood pass's arithmetic (log-odds near the clamp at 700).
    **params
        Further LightGBM parameters (they override the above).

    Attributes
    ----------
    booster_ : lightgbm.Booster
        The fitted ensemble (raw scores exclude every offset).
    encoder_ : FeatureEncoder
    offset_ : OffsetTable
    method_ : str
    n_accounts_, n_account_months_, n_defaults_ : int
    feature_importance_ : pandas.DataFrame
        ``feature, gain, splits``.
    lineage_ : Lineage

    Examples
    --------
    Accounts of three grades with monthly default hazards of 1%, 2% and 4%, observed
    for at most 36 months (no APC offset here, so the offset is zero):

    >>> import numpy as np, pandas as pd
    >>> from apcfair.scoring import OffsetGBM
    >>> rng = np.random.default_rng(0)
    >>> n = 4000
    >>> v = 24_000 + rng.integers(0, 12, n)
    >>> grade = rng.choice(["A", "B", "C"], n)
    >>> hazard = 0.01 * np.select([grade == "A", grade == "B"], [1.0, 2.0], 4.0)
    >>> life = np.minimum(rng.geometric(hazard), 36)
    >>> loans = pd.DataFrame({"vintage": v, "first_month": v + 1, "last_month": v + life,
    ...                       "default": (life < 36).astype(int), "grade": grade})
    >>> gbm = OffsetGBM(n_estimators=200, learning_rate=0.1, random_state=0).fit(loans, ["grade"])
    >>> gbm.method_, gbm.n_accounts_
    ('accounts', 4000)
    >>> score = pd.Series(gbm.predict_account_score(loans)).groupby(grade).mean()
    >>> bool(score["A"] < score["B"] < score["C"])  # riskier grades score higher
    True
    >>> gbm.feature_importance_["feature"].tolist()
    ['grade']
    >>> gbm.predict_pd(loans).shape  # one PD per account-month
    (98880,)
    """

    _fitted_attribute = "booster_"

    def __init__(self, n_estimators: int = 300, learning_rate: float = 0.05, num_leaves: int = 15,
                 max_depth: int = -1, min_child_samples: int = 20,
                 min_sum_hessian_in_leaf: float = 1.0, subsample: float = 0.8,
                 subsample_freq: int = 1, colsample_bytree: float = 1.0, reg_lambda: float = 0.0,
                 max_bin: int = 255, *, categorical: Sequence[str] = (),
                 method: GBMMethod = "auto", handle_unknown: GBMUnknown = "error",
                 random_state: int = 0, num_threads: int = 1, chunk_rows: int = 1 << 18,
                 **params):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.min_sum_hessian_in_leaf = min_sum_hessian_in_leaf
        self.subsample = subsample
        self.subsample_freq = subsample_freq
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.max_bin = max_bin
        self.categorical = categorical
        self.method = method
        self.handle_unknown = handle_unknown
        self.random_state = random_state
        self.num_threads = num_threads
        self.chunk_rows = chunk_rows
        self.params = params

    def _lgb_params(self) -> dict:
        p = {
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "min_data_in_leaf": self.min_child_samples,
            "min_sum_hessian_in_leaf": self.min_sum_hessian_in_leaf,
            "bagging_fraction": self.subsample,
            "bagging_freq": self.subsample_freq if self.subsample < 1 else 0,
            "feature_fraction": self.colsample_bytree,
            "lambda_l2": self.reg_lambda,
            "max_bin": self.max_bin,
            "seed": self.random_state,
            "num_threads": self.num_threads,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
        }
        p.update(self.params or {})
        return p

    def fit(self, data: Portfolio | pd.DataFrame, attributes: Sequence[str],
            offset: OffsetTable | None = None, account_offset=None, accounts=None) -> OffsetGBM:
        """Boost trees on the attributes with the offsets held fixed.

        Parameters
        ----------
        data : Portfolio or pandas.DataFrame
            As in :meth:`OffsetLogit.fit <apcfair.scoring.OffsetLogit.fit>`.
        attributes : sequence of str
            Attribute columns.
        offset : OffsetTable, optional
            ``F(a) + H(t)``; default zero.
        account_offset : array-like of float, optional
            Second fixed offset per account (e.g. the restricted model's score).
        accounts : array-like of bool or int, optional
            Training accounts; default all.

        Returns
        -------
        OffsetGBM
            ``self``.
        """
        import lightgbm as lgb  # optional and slow to import: only when boosting

        check_option("method", self.method, GBMMethod)
        check_option("handle_unknown", self.handle_unknown, GBMUnknown)
        t_start = time.perf_counter()
        attributes = check_attributes(attributes)
        if not attributes:
            raise ValueError("OffsetGBM needs at least one attribute.")
        offset = check_offset(offset)
        src = as_source(data)
        n_all = src.n_accounts
        mask = account_mask(accounts, n_all)
        if not mask.any():
            raise DataValidationError(["accounts= selects no account; nothing to fit."])
        r_all = per_account(account_offset, n_all, "account_offset")
        static, method = resolve_method(src, mask, attributes, self.method, "rows")
        idx = np.flatnonzero(mask)
        loans = src.loans
        spells = src.spells.take(idx)
        v, a0, a1 = spells.vintage, spells.first_age, spells.last_age
        d = spells.defaulted.astype(np.int64)
        r = r_all[idx]
        enc = FeatureEncoder(self.categorical, self.handle_unknown)
        params = self._lgb_params()
        rounds = int(params.pop("n_estimators", self.n_estimators))
        if static:
            acc = account_frame(src).iloc[idx].reset_index(drop=True)
            enc.fit(acc, attributes)
            X_acc = enc.transform(acc)
        else:
            rows_frame = src.panel.loc[mask[src.panel["account"].to_numpy()]]
            enc.fit(rows_frame, attributes)
        cat_idx = [attributes.index(c) for c in enc.categorical_]
        ds_params = {k: params[k] for k in ("max_bin", "verbosity", "seed", "num_threads")
                     if k in params}

        if method == "accounts":
            key = compose_key([pd.factorize(X_acc[:, j])[0] for j in range(X_acc.shape[1])])
            first, inv = unique_rows(key)
            units = collapse_units(inv, v, a0, a1, d, r)
            mpass = MonthPass(units, offset, chunk_rows=self.chunk_rows)
            uoa = units.unit_of_account

            # every account its own unit (continuous attributes): no gathers each round
            identity = units.n_units == len(uoa) and bool(np.array_equal(uoa, np.arange(len(uoa))))

            def objective(preds, _dataset):
                # LightGBM's own accumulated raw scores (no re-prediction); gradient-only pass
                preds = np.asarray(preds)
                if identity:
                    sum_p, sum_w = mpass.gradient(preds)
                    return sum_p - units.default, sum_w
                sum_p, sum_w = mpass.gradient(preds[units.rep])
                return (sum_p - units.default)[uoa], sum_w[uoa]

            dtrain = lgb.Dataset(X_acc, label=d.astype(np.float64), feature_name=attributes,
                                 categorical_feature=cat_idx, params=ds_params,
                                 free_raw_data=True)
            booster, train_scores = train_with_scores(lgb, {**params, "objective": objective}, dtrain, rounds)
            n_rows = int(units.count @ mpass.n_months)
        else:
            if src.panel is not None:
                p = src.panel.loc[mask[src.panel["account"].to_numpy()]]
                account = p["account"].to_numpy()
                age, period = p["age"].to_numpy(np.int64), p["month"].to_numpy(np.int64)
                y = p["default"].to_numpy(np.float64)
                if static:
                    pos = np.full(n_all, -1, dtype=np.intp)
                    pos[idx] = np.arange(len(idx))
                    X = X_acc[pos[account]].astype(np.float32)
                else:
                    X = enc.transform(p).astype(np.float32)
            else:
                rows = expand_account_months(loans, accounts=mask)
                pos = np.full(n_all, -1, dtype=np.intp)
                pos[idx] = np.arange(len(idx))
                account = rows["account"].to_numpy()
                age, period = rows["age"].to_numpy(), rows["period"].to_numpy()
                y = rows["default"].to_numpy(np.float64)
                X = X_acc.astype(np.float32)[pos[account]]
            init = offset(age, period) + r_all[account]
            dtrain = lgb.Dataset(X, label=y, init_score=init, feature_name=attributes,
                                 categorical_feature=cat_idx, params=ds_params,
                                 free_raw_data=True)
            booster = lgb.train({**params, "objective": "binary"}, dtrain,
                                num_boost_round=rounds)
            train_scores = None               # per account-month there, with the offsets inside
            n_rows = len(y)
        self.booster_ = booster
        self.encoder_ = enc
        self.offset_ = offset
        self.method_ = method
        self.attributes_ = attributes
        self.freq_ = src.freq
        self.n_accounts_ = len(idx)
        self.n_account_months_ = n_rows
        self.n_defaults_ = int(d.sum())
        self.has_account_offset_ = account_offset is not None
        self.lineage_ = src.lineage.add("boosted trees training accounts", "accounts", n_all,
                                        len(idx), {"not in accounts= (training) mask": n_all - len(idx)})
        self._keep_training_scores(idx, train_scores, X_acc if train_scores is not None else None, n_all)
        self.fit_seconds_ = time.perf_counter() - t_start
        return self

    # ------------------------------------------------------------------ results
    @property
    def feature_importance_(self) -> pd.DataFrame:
        """Total gain and number of splits per attribute."""
        check_fitted(self, "booster_")
        return pd.DataFrame({
            "feature": self.attributes_,
            "gain": self.booster_.feature_importance("gain"),
            "splits": self.booster_.feature_importance("split"),
        }).sort_values("gain", ascending=False, ignore_index=True)

    def predict_account_score(self, data: Portfolio | pd.DataFrame) -> np.ndarray:
        """Raw ensemble score ``f(x)`` per account (per row for frames), without offsets.

        Combine it with offsets for forecasts: ``logit PD = F(a) + H(t) + r + f(x)``.

        On the data the model was fitted on, the training accounts are not predicted
        again: their scores are LightGBM's own accumulated training scores, kept by the
        ``"accounts"`` fit (the same trees summed in the same order as ``predict``; equal
        bit for bit, tested to 1e-12), and only the other accounts (e.g. the out-of-sample
        half) are predicted. The kept scores are used only when the rows at the training
        accounts' positions carry the fit's encoded attributes (a hash of the feature
        matrix); otherwise, and for ``"rows"`` fits and loaded models, every row is
        predicted.
        """
        check_fitted(self, "booster_")
        frame = account_frame(as_source(data)) if isinstance(data, Portfolio) else data
        X = self.encoder_.transform(frame)
        kept = getattr(self, "training_scores_", None)
        if (kept is None or len(frame) != self.n_fit_accounts_
                or _fingerprint(X[self.training_accounts_]) != self._training_fingerprint):
            return self.booster_.predict(X, raw_score=True, num_threads=self.num_threads)
        out = np.empty(len(frame))
        rest = np.ones(len(frame), dtype=bool)
        rest[self.training_accounts_] = False
        out[self.training_accounts_] = kept
        if rest.any():
            out[rest] = self.booster_.predict(X[rest], raw_score=True, num_threads=self.num_threads)
        return out

    def _keep_training_scores(self, accounts: np.ndarray, scores: np.ndarray | None, X: np.ndarray | None,
                              n_accounts: int) -> None:
        """Keep the training accounts (positions in the fit data), their final raw scores and
        a hash of their feature matrix, for :meth:`predict_account_score`."""
        self.training_accounts_ = accounts if scores is not None else None
        self.training_scores_ = scores
        self._training_fingerprint = _fingerprint(X) if scores is not None else None
        self.n_fit_accounts_ = n_accounts

    def summary(self) -> str:
        """Plain-text description of the fit and the feature importance."""
        check_fitted(self, "booster_")
        fi = self.feature_importance_
        lines = [
            "Boosted trees with fixed F(a) + H(t)"
            + (" + account offset" if self.has_account_offset_ else ""),
            f"  method: {self.method_}   trees: {self.booster_.num_trees()}   accounts: "
            f"{self.n_accounts_:,}   account-months: {self.n_account_months_:,}   defaults: "
            f"{self.n_defaults_:,}",
            "",
            f"{'feature':<24} {'gain':>12} {'splits':>8}",
        ]
        lines += [f"{r.feature:<24} {r.gain:>12.4g} {r.splits:>8d}" for r in fi.itertuples()]
        return "\n".join(lines)

    # ------------------------------------------------------------------ io
    def to_dict(self) -> dict:
        """JSON-ready dictionary; the ensemble as LightGBM's text model format."""
        check_fitted(self, "booster_")
        settings = jsonable({**self.get_params(), "categorical": list(self.categorical)})
        return jsonable({
            "kind": "OffsetGBM",
            "format_version": FORMAT_VERSION,
            "settings": settings,
            "provenance": provenance(settings),
            "attributes": self.attributes_,
            "freq": self.freq_,
            "encoder": self.encoder_.to_dict(),
            "offset": self.offset_.to_dict(),
            "model": self.booster_.model_to_string(),
            "fit": {"method": self.method_, "n_accounts": self.n_accounts_,
                    "n_account_months": self.n_account_months_, "n_defaults": self.n_defaults_,
                    "has_account_offset": self.has_account_offset_},
            "lineage": self.lineage_.to_dict(),
        })

    @classmethod
    def from_dict(cls, d: Mapping) -> OffsetGBM:
        """Rebuild a fitted model from :meth:`to_dict` output."""
        import lightgbm as lgb  # optional and slow to import: only when boosting

        d = dict(d)
        check_kind(d, "OffsetGBM")
        obj = cls(**d["settings"])
        obj.booster_ = lgb.Booster(model_str=d["model"])
        obj.encoder_ = FeatureEncoder.from_dict(d["encoder"])
        obj.offset_ = OffsetTable.from_dict(d["offset"])
        obj.attributes_ = list(d["attributes"])
        obj.freq_ = d["freq"]
        fit = d["fit"]
        obj.method_ = fit["method"]
        restore_fit_counts(obj, fit, d["lineage"])
        return obj
