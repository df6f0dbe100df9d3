"""The offset logit's account-month passes run per part (in this process or on Dask), reduced.

The score model's big-data seam (issue 18): each Newton step needs, per account, the sums
over its months of ``p`` and ``p (1 - p)`` at the current coefficients
(:class:`~apcfair.scoring._engine.MonthPass`). Those sums are computed part by part --
each part's accounts collapsed to units and its account-month offsets cached where the
part lives (a Dask worker) -- and gathered as per-unit arrays; the driver forms the
gradient and the Hessian on the distinct design rows and takes the Newton step with the
very solver of :class:`~apcfair.scoring.OffsetLogit` (:func:`~apcfair.scoring._engine.newton`).

The driver holds per-account (per-unit) arrays and the attributes the binner is fitted on,
never the account-months: those stay in the parts. The coefficients equal the in-memory
fit's to rounding (the sums are added in another order, and the start value's mean offset
is over the parts' units; tested to 1e-10).

Scope of this first slice: loan-level parts with attributes fixed at origination,
``method="accounts"``, optional per-account offset; the binner is fitted on the driver on
all accounts' attributes (per-account data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from apcfair.offsets import OffsetTable
from apcfair.scoring._data import (
    VINTAGE,
    as_source,
    attribute_frame,
    check_attributes,
    check_offset,
)
from apcfair.scoring._engine import MonthPass, NewtonResult, collapse_units, newton
from apcfair.scoring.binning import unique_rows
from apcfair.scoring.logit import OffsetLogit


class _PartPass:
    """One part's units and month pass, living where the part is (a worker, or here)."""

    def __init__(self, design_id, vintage, a0, a1, default, extra, offset: OffsetTable, chunk_rows: int):
        self.units = collapse_units(design_id, vintage, a0, a1, default, extra)
        self.mpass = MonthPass(self.units, offset, chunk_rows=chunk_rows)

    def summary(self) -> dict:
        u, m = self.units, self.mpass
        return {"design": u.design, "count": u.count, "default": u.default, "n_months": m.n_months,
                "offset_sum": float(m.offsets.sum()), "n_rows": m.n_rows}

    def evaluate(self, s: np.ndarray):
        with threadpool_limits(limits=1, user_api="blas"):
            return self.mpass.evaluate(s)


def _build(args) -> _PartPass:
    return _PartPass(*args)


def _summary(part: _PartPass) -> dict:
    return part.summary()


def _evaluate(part: _PartPass, s: np.ndarray):
    return part.evaluate(s)


@dataclass
class _Units:
    """The parts' units side by side (what :func:`newton` reads: design, count, default)."""

    design: np.ndarray
    count: np.ndarray
    default: np.ndarray


class _PartsPass:
    """:meth:`MonthPass.evaluate` over all parts: scores split by part, sums gathered and joined."""

    def __init__(self, parts, bounds, client):
        self.parts, self.bounds, self.client = parts, bounds, client

    def evaluate(self, s: np.ndarray):
        pieces = [s[b0:b1] for b0, b1 in zip(self.bounds[:-1], self.bounds[1:], strict=True)]
        if self.client is None:
            out = [p.evaluate(x) for p, x in zip(self.parts, pieces, strict=True)]
        else:
            out = self.client.gather(self.client.map(_evaluate, self.parts, pieces, pure=False))
        ll = float(sum(o[0] for o in out))
        return ll, np.concatenate([o[1] for o in out]), np.concatenate([o[2] for o in out])


@dataclass(frozen=True)
class PartsFit:
    """Coefficients of the offset logit fitted part by part.

    Attributes
    ----------
    coef : pandas.Series
        Estimates by term (intercept first), as ``OffsetLogit.coef_``.
    newton : NewtonResult
        Coefficients, Hessian at them, gradient, log-likelihood, iterations, convergence.
    n_units : int
        Units over all parts (accounts identical in everything collapsed within each part).
    """

    coef: pd.Series
    newton: NewtonResult
    n_units: int


def fit_offset_logit_parts(model: OffsetLogit, parts: Sequence[pd.DataFrame], attributes: Sequence[str],
                           offset: OffsetTable | None = None, account_offset: Sequence | None = None,
                           client=None) -> PartsFit:
    """Fit ``model``'s offset logit with the account-month passes run per part.

    Parameters
    ----------
    model : OffsetLogit
        Settings (binning, vintage dummies, tolerance, chunk size); not modified.
    parts : sequence of pandas.DataFrame
        Validated loan tables (``Portfolio.loans`` of each part, or row blocks of one).
    attributes : sequence of str
        Attribute columns (at origination).
    offset : OffsetTable, optional
        ``F(a) + H(t)``; default zero.
    account_offset : sequence of array-like, optional
        A per-account offset for each part.
    client : dask.distributed.Client, optional
        Keep each part's month pass on a Dask worker; default: all parts here.

    Returns
    -------
    PartsFit

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from apcfair.scoring import OffsetLogit
    >>> from apcfair.scoring.partitioned import fit_offset_logit_parts
    >>> rng = np.random.default_rng(0)
    >>> v = 24_000 + rng.integers(0, 12, 600)
    >>> life = np.minimum(rng.geometric(0.02, 600), 36)
    >>> loans = pd.DataFrame({"vintage": v, "first_month": v + 1, "last_month": v + life,
    ...                       "default": (life < 36).astype(int), "grade": rng.choice(["A", "B"], 600)})
    >>> whole = OffsetLogit(method="accounts").fit(loans, ["grade"]).coef_
    >>> parts = fit_offset_logit_parts(OffsetLogit(), [loans.iloc[:250], loans.iloc[250:]], ["grade"])
    >>> bool(np.max(np.abs(parts.coef - whole)) < 1e-10)
    True
    """
    attributes = check_attributes(attributes)
    offset = check_offset(offset)
    srcs = [as_source(p) for p in parts]
    freq = srcs[0].freq
    binner = model._new_binner(attributes + ([VINTAGE] if model.vintage_dummies else []))
    acc = pd.concat([attribute_frame(s.loans, attributes, model.vintage_dummies, freq) for s in srcs],
                    ignore_index=True)
    d_all = np.concatenate([s.spells.defaulted.astype(np.int64) for s in srcs])
    binner.fit(acc, d_all)
    enc = binner.encode(acc)
    first, inv = unique_rows(enc.row_key(binner.n_levels_))
    D = binner.design_from(enc.take(first), intercept=True)
    names = ["(Intercept)", *binner.term_names_]
    starts = np.cumsum([0, *(s.n_accounts for s in srcs)])
    inputs = []
    for k, s in enumerate(srcs):
        sp = s.spells
        r = np.zeros(s.n_accounts) if account_offset is None else np.asarray(account_offset[k], dtype=np.float64)
        inputs.append((inv[starts[k]:starts[k + 1]], sp.vintage, sp.first_age, sp.last_age,
                       sp.defaulted.astype(np.int64), r, offset, model.chunk_rows))
    if client is None:
        handles = [_build(x) for x in inputs]
        summaries = [h.summary() for h in handles]
    else:
        handles = client.map(_build, inputs, pure=False)
        summaries = client.gather(client.map(_summary, handles, pure=False))
    units = _Units(np.concatenate([m["design"] for m in summaries]), np.concatenate([m["count"] for m in summaries]),
                   np.concatenate([m["default"] for m in summaries]))
    bounds = np.cumsum([0, *(len(m["count"]) for m in summaries)]).tolist()
    rows_total = float(sum(m["count"] @ m["n_months"] for m in summaries))
    n_rows = sum(m["n_rows"] for m in summaries)
    rate = min(max(float(d_all.sum()) / rows_total, 1e-8), 1 - 1e-8)
    beta0 = np.zeros(D.shape[1])
    beta0[0] = np.log(rate / (1 - rate)) - (sum(m["offset_sum"] for m in summaries) / n_rows if n_rows else 0.0)
    with threadpool_limits(limits=1, user_api="blas"):
        res = newton(D, units, _PartsPass(handles, bounds, client), beta0, names, tol=model.tol,
                     max_iter=model.max_iter)
    return PartsFit(pd.Series(res.beta, index=names, name="estimate"), res, len(units.count))
