"""The unbiased-by-design procedure with the score models' account-month passes on a Dask cluster.

``apcfair unbiased --backend dask`` (issue 18). The driver holds one row per account --
attributes, spells (vintage, first and last month, outcome), scores, forecasts -- and the
cells; the account-months live only on the workers, where each part's month passes run:

- **Cells and the APC fits**: from the driver's per-account spells (the cells of loan-level
  data are counted from spells by differences, without account-months), as in memory.
- **Logit models** (restricted, credit, credit with the restricted offset):
  :func:`~apcfair.scoring.partitioned.fit_offset_logit_parts` on each part's training
  accounts; each Newton step's per-unit sums over account-months are computed on the
  workers and the step is taken on the driver. Coefficients equal the in-memory fit's to
  rounding (tested to 1e-10).
- **Boosted trees**: boosting on the driver on the per-account rows (LightGBM, the same
  custom objective as :class:`~apcfair.scoring.OffsetGBM`'s ``method="accounts"``), with
  each round's per-account gradient and Hessian -- sums over the account's months of
  ``p - y`` and ``p (1 - p)`` -- computed on the workers (one block of accounts per worker,
  its month pass cached there) and gathered. Chosen over LightGBM's Dask estimator
  because the objective is a sum over account-months with the APC offset varying by
  month: the Dask estimator would need the account-months as rows (the data this backend
  keeps off the driver, and ~40x the per-account rows), while the per-account rows are
  within the driver's bound. The per-account sums are the same arithmetic as in memory,
  so the trees are the same.
- **Forecasts, AUC, calibration and dependence**: on the driver's per-account arrays,
  exact (the same functions as in memory).

Driver memory: the per-account loan table and score arrays (about 0.2-0.5 KB per account
with a handful of attributes) plus the cells; never 8 bytes per account-month.
Backfitting (``backfit > 0``) refits the APC functions over account-months and is not
available on this backend.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from apcfair.offsets import OffsetTable
from apcfair.portfolio import Portfolio
from apcfair.scoring import OffsetGBM
from apcfair.scoring._data import account_frame, as_source
from apcfair.scoring._engine import MonthPass, collapse_units
from apcfair.scoring.binning import compose_key, unique_rows
from apcfair.scoring.gbm import FeatureEncoder, train_with_scores
from apcfair.scoring.partitioned import fit_offset_logit_parts, fitted_logit
from apcfair.unbiased.stages import ScoreModels, _logit, _untimed, attribute_part


def _training_block(loans: pd.DataFrame, mask: np.ndarray, extra: dict) -> pd.DataFrame:
    """A part's training accounts, with the driver's extra columns (vintage groups), on its worker."""
    out = loans.assign(**extra) if extra else loans
    return out.loc[mask].reset_index(drop=True)


class _GradientPart:
    """One part's boosting units and month pass, on a worker: per-account gradient and Hessian."""

    def __init__(self, key, vintage, a0, a1, default, extra, offset: OffsetTable, chunk_rows: int):
        self.units = collapse_units(key, vintage, a0, a1, default, extra)
        self.mpass = MonthPass(self.units, offset, chunk_rows=chunk_rows)

    def gradient(self, preds: np.ndarray):
        u = self.units
        sum_p, sum_w = self.mpass.gradient(preds[u.rep])
        return (sum_p - u.default)[u.unit_of_account], sum_w[u.unit_of_account]

    def n_account_months(self) -> int:
        return int(self.units.count @ self.mpass.n_months)


def _gradient(part: _GradientPart, preds: np.ndarray):
    return part.gradient(preds)


def _n_account_months(part: _GradientPart) -> int:
    return part.n_account_months()


@dataclass
class DaskScores:
    """The score models' passes over the parts of a data set held on a Dask cluster.

    Give it to :meth:`UnbiasedByDesign.fit <apcfair.unbiased.UnbiasedByDesign.fit>` as
    ``backend=``, with the per-account portfolio of :meth:`load`.

    Attributes
    ----------
    client : dask.distributed.Client
    parts : list of dask.distributed.Future
        Each part's validated loan table, on its worker.
    bounds : list of int
        Row ``bounds[k]:bounds[k + 1]`` of the driver's ``portfolio.loans`` is part ``k``.
    """

    client: object
    parts: list
    bounds: list[int]

    @classmethod
    def load(cls, data, client, **options) -> tuple[Portfolio, DaskScores]:
        """Validate a partitioned loan-level data set on the cluster; the per-account portfolio and the backend.

        ``options`` as :func:`~apcfair.portfolio.partitioned.load_partitioned`.
        """
        from apcfair.portfolio.partitioned import load_partitioned_parts

        portfolio, parts = load_partitioned_parts(data, client=client, **options)
        sizes = client.gather(client.map(len, parts, pure=False))
        return portfolio, cls(client, parts, np.cumsum([0, *sizes]).tolist())

    def _split(self, values: np.ndarray) -> list[np.ndarray]:
        b = self.bounds
        return [values[b[k]:b[k + 1]] for k in range(len(b) - 1)]

    def _blocks(self, data, in_sample: np.ndarray, extra_cols: list[str]) -> list:
        """Futures of each part's training accounts (with the driver's extra columns) on the workers."""
        if len(in_sample) != self.bounds[-1]:
            raise ValueError(f"{len(in_sample)} accounts given, the parts hold {self.bounds[-1]}")
        extras = [dict(zip(extra_cols, cols, strict=True)) for cols in
                  zip(*(self._split(np.asarray(data[c])) for c in extra_cols), strict=True)] if extra_cols \
            else [{}] * len(self.parts)
        return self.client.map(_training_block, self.parts, self._split(in_sample), extras, pure=False)

    def fit_logit(self, model, blocks, attributes: list[str], offset: OffsetTable, in_sample: np.ndarray,
                  account_offset: np.ndarray | None, portfolio: Portfolio):
        """``model`` fitted on the parts' training accounts (blocks), as a fitted :class:`OffsetLogit`."""
        t0 = time.perf_counter()
        extra = None if account_offset is None else [
            r[m] for r, m in zip(self._split(np.asarray(account_offset, dtype=np.float64)),
                                 self._split(in_sample), strict=True)]
        fit = fit_offset_logit_parts(model, blocks, attributes, offset=offset, account_offset=extra,
                                     client=self.client)
        out = fitted_logit(model, fit, attributes, offset, freq=portfolio.freq, lineage=portfolio.lineage,
                           has_account_offset=account_offset is not None, n_all=len(in_sample))
        out.fit_seconds_ = time.perf_counter() - t0
        return out

    def fit_score_models(self, data, restricted: list[str], credit: list[str], offsets: OffsetTable,
                         in_sample: np.ndarray, *, bins: int | None, vintage_cols: list[str],
                         timer=None, portfolio: Portfolio) -> ScoreModels:
        """As :func:`apcfair.unbiased.stages.fit_score_models`, the month passes on the workers."""
        stage = timer.stage if timer is not None else _untimed
        blocks = self._blocks(data, in_sample, vintage_cols)
        with stage("restricted"):
            m_restricted = self.fit_logit(_logit(bins, vintage_cols), blocks, restricted + vintage_cols, offsets,
                                          in_sample, None, portfolio)
            r_raw = attribute_part(m_restricted, data, restricted, vintage_cols)
            r_centre = float(r_raw[in_sample].mean())
            r = r_raw - r_centre
        with stage("credit"):
            m_credit = self.fit_logit(_logit(bins, vintage_cols), blocks, credit + vintage_cols, offsets, in_sample,
                                      None, portfolio)
        with stage("credit + restricted offset"):
            m_credit_r = self.fit_logit(_logit(bins, vintage_cols), blocks, credit + vintage_cols, offsets,
                                        in_sample, r, portfolio)
        return ScoreModels(m_restricted, m_credit, m_credit_r, r, r_centre)

    def fit_gbm(self, portfolio: Portfolio, credit: list[str], offsets: OffsetTable,
                restricted_score: np.ndarray | None, in_sample: np.ndarray, params: dict) -> OffsetGBM:
        """As :func:`apcfair.unbiased.stages.fit_gbm`: boosting here, each round's gradient on the workers."""
        import lightgbm as lgb

        t_start = time.perf_counter()
        model = OffsetGBM(**params)
        src = as_source(portfolio)
        n_all = src.n_accounts
        mask = np.asarray(in_sample, dtype=bool)
        idx = np.flatnonzero(mask)
        r_all = np.zeros(n_all) if restricted_score is None else np.asarray(restricted_score, dtype=np.float64)
        sp = src.spells
        d_all = sp.defaulted.astype(np.int64)
        enc = FeatureEncoder(model.categorical, model.handle_unknown)
        acc = account_frame(src).iloc[idx].reset_index(drop=True)
        enc.fit(acc, credit)
        X_acc = enc.transform(acc)
        key = compose_key([pd.factorize(X_acc[:, j])[0] for j in range(X_acc.shape[1])])
        _, inv = unique_rows(key)
        inv_all = np.zeros(n_all, dtype=inv.dtype)
        inv_all[idx] = inv
        c = self.client
        # one block of accounts per worker, not per part: each round is one task per worker (the
        # round-trip, not the gradient pass, dominates a round); per-unit sums do not depend on the blocks
        n_blocks = max(1, min(len(self.parts), len(c.nthreads()), n_all))
        edges = np.linspace(0, n_all, n_blocks + 1).astype(np.int64)

        def split(x):
            return [x[a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)]

        pieces = [split(x) for x in (inv_all, sp.vintage, sp.first_age, sp.last_age, d_all, r_all)]
        masks = split(mask)
        args = [[p[m] for p, m in zip(col, masks, strict=True)] for col in pieces]
        handles = c.map(_GradientPart, *args, offset=offsets, chunk_rows=model.chunk_rows, pure=False)
        sizes = np.cumsum([0, *(int(m.sum()) for m in masks)])
        lgb_params = model._lgb_params()
        rounds = int(lgb_params.pop("n_estimators", model.n_estimators))

        def objective(preds, _dataset):
            preds = np.asarray(preds)
            out = c.gather(c.map(_gradient, handles, [preds[a:b] for a, b in zip(sizes[:-1], sizes[1:],
                                                                                strict=True)], pure=False))
            return np.concatenate([g for g, _ in out]), np.concatenate([h for _, h in out])

        cat_idx = [credit.index(col) for col in enc.categorical_]
        ds_params = {k: lgb_params[k] for k in ("max_bin", "verbosity", "seed", "num_threads") if k in lgb_params}
        dtrain = lgb.Dataset(X_acc, label=d_all[idx].astype(np.float64), feature_name=credit,
                             categorical_feature=cat_idx, params=ds_params, free_raw_data=True)
        booster, train_scores = train_with_scores(lgb, {**lgb_params, "objective": objective}, dtrain, rounds)
        model._keep_training_scores(idx, train_scores, X_acc, n_all)
        model.booster_ = booster
        model.encoder_ = enc
        model.offset_ = offsets
        model.method_ = "accounts"
        model.attributes_ = list(credit)
        model.freq_ = src.freq
        model.n_accounts_ = len(idx)
        model.n_account_months_ = int(sum(c.gather(c.map(_n_account_months, handles, pure=False))))
        model.n_defaults_ = int(d_all[idx].sum())
        model.has_account_offset_ = restricted_score is not None
        model.lineage_ = src.lineage.add("boosted trees training accounts (gradient per part on Dask)", "accounts",
                                         n_all, len(idx), {"not in accounts= (training) mask": n_all - len(idx)})
        model.fit_seconds_ = time.perf_counter() - t_start
        return model
