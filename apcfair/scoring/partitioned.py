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

Parts are frames, or the Parquet parts of a partitioned data set, each read and validated
where it is used with the data set's global context (:mod:`apcfair.portfolio.partitioned`);
then only its attributes travel to the driver, which fits the binner on all accounts'
attributes (per-account data). Scope of this first slice: loan-level parts with attributes
fixed at origination (``method="accounts"``), an optional per-account offset. ``apcfair
unbiased --backend dask`` fits its three logit models through it
(:mod:`apcfair.unbiased.partitioned`), with :func:`fitted_logit` making each a fitted
:class:`~apcfair.scoring.OffsetLogit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.linalg as la
from threadpoolctl import threadpool_limits

from apcfair.errors import DataValidationError
from apcfair.offsets import OffsetTable
from apcfair.portfolio.lineage import Lineage
from apcfair.scoring._data import (
    VINTAGE,
    as_source,
    attribute_frame,
    check_attributes,
    check_offset,
)
from apcfair.scoring._engine import (
    MonthPass,
    NewtonResult,
    cholesky_or_raise,
    collapse_units,
    newton,
)
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
                "offset_sum": m.offset_sum, "n_rows": m.n_rows}

    def evaluate(self, s: np.ndarray):
        with threadpool_limits(limits=1, user_api="blas"):
            return self.mpass.evaluate(s)


def _load(item, context, options):
    """A part's validated loan table: a frame as given, or a Parquet part validated where it is read."""
    if isinstance(item, pd.DataFrame):
        return as_source(item)
    from apcfair.portfolio.partitioned import validate_part

    r = validate_part(str(item), context, options, keep="portfolio")
    if r.problems:
        raise DataValidationError(list(r.problems))
    return as_source(r.portfolio)


def _binner_input(src, attributes: list[str], vintage_dummies: bool):
    """What the driver needs from a part to fit the binner: per-account attributes and default flags."""
    return attribute_frame(src.loans, attributes, vintage_dummies, src.freq), src.spells.defaulted.astype(np.int64)


def _build(src, design_id, extra, offset: OffsetTable, chunk_rows: int) -> _PartPass:
    sp = src.spells
    extra = np.zeros(src.n_accounts) if extra is None else np.asarray(extra, dtype=np.float64)
    return _PartPass(design_id, sp.vintage, sp.first_age, sp.last_age, sp.defaulted.astype(np.int64), extra,
                     offset, chunk_rows)


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


def _parts(parts, client, read_options):
    """The items to load (frames, or the Parquet parts of a data set) and the data set's global context."""
    if isinstance(parts, (str, Path)):
        from apcfair.portfolio import partitioned as pt

        files = [str(f) for f in (pt.dataset_files(parts) or [Path(parts)])]
        opts = dict(read_options)
        mapping = dict(opts.pop("columns", None) or {})
        kind = opts.pop("format", "auto")
        if kind == "auto":
            kind = pt.detect_format(pd.DataFrame(columns=pt._renamed_columns(files[0], mapping)[0]))
        freq, date_format = opts.pop("freq", "M"), opts.pop("date_format", None)
        scans = pt._runner(client)(pt._Call(pt.scan_part, kind=kind, columns=mapping), files)
        context = pt.build_context(scans, kind=kind, freq=freq, date_format=date_format)
        return files, context, {"columns": mapping, "freq": freq, **opts}
    if read_options:
        raise TypeError(f"read options {sorted(read_options)} apply to a data set path, not to frames")
    return list(parts), None, {}


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
    binner : AttributeBinner, optional
        The binner fitted on all parts' attributes (what the coefficients' terms mean).
    n_accounts, n_account_months, n_defaults : int
        Training accounts, their account-months (at risk) and defaults, over all parts.
    n_design_rows : int
        Distinct design rows (the Newton step's Hessian is formed on them).
    """

    coef: pd.Series
    newton: NewtonResult
    n_units: int
    binner: object = None
    n_accounts: int = 0
    n_account_months: int = 0
    n_defaults: int = 0
    n_design_rows: int = 0


def fitted_logit(model: OffsetLogit, fit: PartsFit, attributes: Sequence[str], offset: OffsetTable | None,
                 *, freq: str = "M", lineage=None, has_account_offset: bool = False,
                 n_all: int | None = None) -> OffsetLogit:
    """A fitted :class:`OffsetLogit` (a clone of ``model``) from a part-by-part fit.

    The same fitted attributes as :meth:`OffsetLogit.fit` with ``method="accounts"``:
    binner, coefficients, covariance (the inverse Hessian at the estimate, by the same
    Cholesky solve), coefficient table, log-likelihood and counts; it predicts, summarises
    and saves like one fitted in memory.

    Parameters
    ----------
    model : OffsetLogit
        The settings the parts were fitted with.
    fit : PartsFit
        From :func:`fit_offset_logit_parts`.
    attributes : sequence of str
        The attributes fitted.
    offset : OffsetTable or None
        The offset the fit held fixed.
    freq : str
        Period frequency of the data.
    lineage : Lineage, optional
        The data's lineage (the training-accounts step is added).
    has_account_offset : bool
        Whether a per-account offset was held fixed.
    n_all : int, optional
        Accounts the training accounts were chosen from (for the lineage step).

    Returns
    -------
    OffsetLogit

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from apcfair.scoring import OffsetLogit
    >>> from apcfair.scoring.partitioned import fit_offset_logit_parts, fitted_logit
    >>> rng = np.random.default_rng(0)
    >>> v = 24_000 + rng.integers(0, 12, 600)
    >>> life = np.minimum(rng.geometric(0.02, 600), 36)
    >>> loans = pd.DataFrame({"vintage": v, "first_month": v + 1, "last_month": v + life,
    ...                       "default": (life < 36).astype(int), "grade": rng.choice(["A", "B"], 600)})
    >>> fit = fit_offset_logit_parts(OffsetLogit(), [loans.iloc[:250], loans.iloc[250:]], ["grade"])
    >>> m = fitted_logit(OffsetLogit(), fit, ["grade"], None)
    >>> whole = OffsetLogit(method="accounts").fit(loans, ["grade"])
    >>> bool(np.max(np.abs(m.predict_account_score(loans) - whole.predict_account_score(loans))) < 1e-10)
    True
    >>> bool(np.allclose(m.cov_, whole.cov_, rtol=1e-8, atol=0))
    True
    """
    out = model.__class__(**model.get_params(deep=False))
    names = list(fit.coef.index)
    res = fit.newton
    with threadpool_limits(limits=1, user_api="blas"):
        cov = la.cho_solve(cholesky_or_raise(res.hessian, names), np.eye(len(names)))
    out.binner_ = fit.binner
    out._set_results(names, res.beta, cov, res.loglik, res.n_iter, res.converged, "accounts", check_offset(offset),
                     freq)
    out.attributes_ = list(attributes)
    out.n_accounts_ = int(fit.n_accounts)
    out.n_account_months_ = int(fit.n_account_months)
    out.n_defaults_ = int(fit.n_defaults)
    out.n_units_ = int(fit.n_units)
    out.n_design_rows_ = int(fit.n_design_rows)
    out.has_account_offset_ = bool(has_account_offset)
    lin = lineage if lineage is not None else Lineage("<parts>")
    n_all = fit.n_accounts if n_all is None else int(n_all)
    out.lineage_ = lin.add("offset logit training accounts (fitted part by part)", "accounts", n_all,
                           fit.n_accounts, {"not in accounts= (training) mask": n_all - fit.n_accounts})
    out.fit_seconds_ = float("nan")
    return out


def fit_offset_logit_parts(model: OffsetLogit, parts, attributes: Sequence[str],
                           offset: OffsetTable | None = None, account_offset: Sequence | None = None,
                           client=None, **read_options) -> PartsFit:
    """Fit ``model``'s offset logit with the account-month passes run per part.

    Parameters
    ----------
    model : OffsetLogit
        Settings (binning, vintage dummies, tolerance, chunk size); not modified.
    parts : sequence of pandas.DataFrame, or str / pathlib.Path
        Validated loan tables (``Portfolio.loans`` of each part, or row blocks of one), or a
        partitioned Parquet data set (folder or glob): each part is then read and validated
        where it is used (a Dask worker) with the data set's global context, and only its
        attributes (for the binner) and per-unit sums travel to the driver.
    attributes : sequence of str
        Attribute columns (at origination).
    offset : OffsetTable, optional
        ``F(a) + H(t)``; default zero.
    account_offset : sequence of array-like, optional
        A per-account offset for each part.
    client : dask.distributed.Client, optional
        Keep each part's month pass on a Dask worker; default: all parts here.
    **read_options
        For a data set path: ``columns``, ``freq``, ``on_invalid``, ``date_format``,
        ``exit_column``, ``exit_codes`` as in :func:`~apcfair.portfolio.load_portfolio`.

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
    items, context, options = _parts(parts, client, read_options)
    if client is None:
        srcs = [_load(x, context, options) for x in items]
        inputs = [_binner_input(x, attributes, model.vintage_dummies) for x in srcs]
    else:
        srcs = client.map(_load, items, context=context, options=options, pure=False)
        inputs = client.gather(client.map(_binner_input, srcs, attributes=attributes,
                                          vintage_dummies=model.vintage_dummies, pure=False))
    binner = model._new_binner(attributes + ([VINTAGE] if model.vintage_dummies else []))
    acc = pd.concat([a for a, _ in inputs], ignore_index=True)
    d_all = np.concatenate([d for _, d in inputs])
    binner.fit(acc, d_all)
    enc = binner.encode(acc)
    first, inv = unique_rows(enc.row_key(binner.n_levels_))
    D = binner.design_from(enc.take(first), intercept=True)
    names = ["(Intercept)", *binner.term_names_]
    starts = np.cumsum([0, *(len(d) for _, d in inputs)])
    design = [inv[starts[k]:starts[k + 1]] for k in range(len(inputs))]
    extra = [None] * len(inputs) if account_offset is None else list(account_offset)
    if client is None:
        handles = [_build(x, g, r, offset, model.chunk_rows) for x, g, r in zip(srcs, design, extra, strict=True)]
        summaries = [h.summary() for h in handles]
    else:
        handles = client.map(_build, srcs, design, extra, offset=offset, chunk_rows=model.chunk_rows, pure=False)
        summaries = client.gather(client.map(_summary, handles, pure=False))
        del srcs  # the parts' loan tables are no longer needed on the workers
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
    return PartsFit(pd.Series(res.beta, index=names, name="estimate"), res, len(units.count), binner,
                    len(d_all), int(rows_total), int(d_all.sum()), D.shape[0])
