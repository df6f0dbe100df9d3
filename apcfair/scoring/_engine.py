"""The streamed account-month pass and the Newton solver of the offset logit.

With attributes fixed at origination, account ``i``'s log-odds in its month at age ``a``
is ``o(a, v_i + a) + r_i + s_i`` with a fixed offset ``o``, a fixed per-account offset
``r_i`` and the score ``s_i = x_i' beta``. The log-likelihood, its gradient and its
Hessian in ``beta`` depend on the months only through per-account sums:

    grad = sum_i x_i (d_i - sum_a p_ia),   hessian = sum_i (sum_a p_ia (1 - p_ia)) x_i x_i'.

:class:`MonthPass` computes those sums in one vectorised pass over the account-months,
chunk by chunk, without an account-month design matrix; the Newton step is then a small
weighted least-squares problem over distinct design rows. Accounts identical in
everything (design row, vintage, entry and exit age, outcome and extra offset) are
collapsed into one unit with a count first.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg as la
import scipy.sparse as sp

from apcfair.errors import DataValidationError
from apcfair.offsets import OffsetTable
from apcfair.scoring.binning import compose_key, unique_rows

_ETA_MAX = 700.0  # exp overflows above ~709; p = 1 to machine precision long before
_LOG_PRODUCT_MAX = 600.0  # the largest log of a product of (1 + odds) over months kept in float64 (max ~709)


class ConvergenceWarning(UserWarning):
    """The Newton iterations stopped before the convergence tolerance was met.

    Raised as a warning (not an error) by :class:`~apcfair.scoring.OffsetLogit` and the
    restricted/credit models built on it; the message names the last step size and the
    usual fixes (merge sparse levels, raise ``max_iter``).

    Examples
    --------
    >>> import warnings
    >>> import numpy as np, pandas as pd
    >>> from apcfair.scoring import ConvergenceWarning, OffsetLogit
    >>> rng = np.random.default_rng(0)
    >>> v = 24_000 + rng.integers(0, 12, 500)
    >>> life = np.minimum(rng.geometric(0.02, 500), 36)
    >>> loans = pd.DataFrame({"vintage": v, "first_month": v + 1, "last_month": v + life,
    ...                       "default": (life < 36).astype(int),
    ...                       "grade": rng.choice(["A", "B"], 500)})
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     model = OffsetLogit(max_iter=1).fit(loans, ["grade"])
    >>> [w.category.__name__ for w in caught]
    ['ConvergenceWarning']
    >>> model.converged_
    False
    """


@dataclass
class Units:
    """Accounts collapsed to distinct units.

    ``unit_of_account[i]`` is account ``i``'s unit; unit ``u`` stands for ``count[u]``
    identical accounts with design row ``design[u]``; ``rep[u]`` is one of them.
    """

    unit_of_account: np.ndarray
    rep: np.ndarray
    count: np.ndarray
    design: np.ndarray
    vintage: np.ndarray
    a0: np.ndarray
    a1: np.ndarray
    default: np.ndarray
    extra: np.ndarray

    @property
    def n_units(self) -> int:
        return len(self.count)


def collapse_units(design_id: np.ndarray, vintage: np.ndarray, a0: np.ndarray, a1: np.ndarray,
                   default: np.ndarray, extra: np.ndarray) -> Units:
    """Group accounts that are identical in design row, timing, outcome and extra offset."""
    extra = np.asarray(extra, dtype=np.float64)
    key = compose_key([np.asarray(design_id), vintage, a0, a1, default,
                       pd.factorize(extra)[0]])
    first, inverse = unique_rows(key)
    count = np.bincount(inverse, minlength=len(first)).astype(np.float64)
    return Units(inverse, first, count, np.asarray(design_id)[first], vintage[first], a0[first],
                 a1[first], default[first].astype(np.float64), extra[first])


class MonthPass:
    """Per-unit sums over account-months of ``p`` and ``p (1 - p)`` for given scores.

    The offsets of all account-months are computed once, laid out by month index (see
    :class:`_MonthColumns`) and cached as ``exp(offset)`` (8 bytes per account-month);
    each :meth:`gradient` or :meth:`evaluate` is one pass over them with reused buffers.
    The row layout (every unit's months together, in chunks of at most ``chunk_rows``
    rows) is built only if a pass must take the unfactored arithmetic (a log-odds near the
    clamp or an odds factor out of range).

    Parameters
    ----------
    units : Units
    offset : OffsetTable
    chunk_rows : int
        Rows per chunk of the row layout.
    """

    def __init__(self, units: Units, offset: OffsetTable, chunk_rows: int = 1 << 18):
        self.units = units
        self._offset = offset
        self.chunk_rows = chunk_rows
        n_months = (units.a1 - units.a0 + 1).astype(np.int64)
        self.n_months = n_months
        self.n_rows = int(n_months.sum())
        self.offset_last = offset(units.a1, units.vintage + units.a1) + units.extra
        self._columns = _MonthColumns(self)
        self.offset_max = self._columns.offset_max
        self.offset_min = self._columns.offset_min
        #: sum of the offsets of all account-months (by month index)
        self.offset_sum = self._columns.offset_sum
        self._rows: dict | None = None     # the row layout, on first need

    # the row layout: for the unfactored pass (and for callers that read it)
    def _row_layout(self) -> dict:
        if self._rows is not None:
            return self._rows
        units, n_months, chunk_rows = self.units, self.n_months, self.chunk_rows
        ends = np.cumsum(n_months)
        # chunk boundaries on units such that each chunk has at most chunk_rows rows
        bounds = [0]
        while bounds[-1] < units.n_units:
            start_row = ends[bounds[-1] - 1] if bounds[-1] > 0 else 0
            nxt = int(np.searchsorted(ends, start_row + chunk_rows, side="right"))
            bounds.append(max(nxt, bounds[-1] + 1))
        max_chunk = 0
        offsets = np.empty(self.n_rows)
        starts_local = []
        for u0, u1 in zip(bounds[:-1], bounds[1:], strict=True):
            r0 = int(ends[u0 - 1]) if u0 > 0 else 0
            r1 = int(ends[u1 - 1])
            n = n_months[u0:u1]
            st = np.cumsum(n) - n
            rep = np.repeat(np.arange(u1 - u0), n)
            age = units.a0[u0:u1][rep] + (np.arange(r1 - r0) - st[rep])
            period = units.vintage[u0:u1][rep] + age
            offsets[r0:r1] = self._offset(age, period) + units.extra[u0:u1][rep]
            starts_local.append(st)
            max_chunk = max(max_chunk, r1 - r0)
        self._rows = {"bounds": bounds, "offsets": offsets, "starts_local": starts_local,
                      "row_bounds": [0, *ends[np.asarray(bounds[1:]) - 1].tolist()],
                      "max_chunk": max_chunk, "buf": (np.empty(max_chunk), np.empty(max_chunk))}
        return self._rows

    @property
    def offsets(self) -> np.ndarray:
        """Offsets of every account-month in unit order (the row layout)."""
        return self._row_layout()["offsets"]

    @property
    def bounds(self) -> list[int]:
        """Unit boundaries of the row layout's chunks."""
        return self._row_layout()["bounds"]

    @property
    def row_bounds(self) -> list[int]:
        """Row boundaries of the row layout's chunks."""
        return self._row_layout()["row_bounds"]

    @property
    def starts_local(self) -> list[np.ndarray]:
        """Each chunk's units' first rows, relative to the chunk."""
        return self._row_layout()["starts_local"]

    def gradient(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-unit ``sum_a p`` and ``sum_a p (1 - p)`` at scores ``s``, without the likelihood.

        For boosting, which needs only the gradient and Hessian each round. The odds are
        ``exp(s_u) * exp(o_r)`` with ``exp(o_r)`` of every account-month computed once
        (8 bytes per account-month, on the first call): one ``exp`` per unit instead of one
        per account-month (``exp`` is ~10x the cost of the other steps). The months are
        laid out by month index (the first month of every unit, then the second of every
        unit still at risk, ...; units sorted by their number of months), so each step is
        a contiguous prefix of the units: no repeat of the scores and no segmented sums.
        The sums then differ from the unfactored pass's by a few units in the last place
        (relative 1e-15: ``exp(s + o)`` carries the rounding of ``s + o``, and the months
        are added in order rather than pairwise); :meth:`evaluate` takes the same factored
        pass, so its sums equal these bit for bit. Where a log-odds could reach the clamp at
        700, or an odds factor could under- or overflow, both take the unfactored pass.

        Parameters
        ----------
        s : numpy.ndarray
            Score of each unit.

        Returns
        -------
        sum_p, sum_w : numpy.ndarray
            Per-unit sums for one account of the unit (counts not applied).
        """
        s = np.asarray(s, dtype=np.float64)
        if not self._factored_is_safe(s, loglik=False):
            _, sum_p, sum_w = self._sums(s, loglik=False)
            return sum_p, sum_w
        _, sum_p, sum_w = self._column_sums(s, loglik=False)
        return sum_p, sum_w

    def _factored_is_safe(self, s: np.ndarray, loglik: bool) -> bool:
        """Whether the factored odds ``exp(s) exp(o)`` (and, with ``loglik``, the product of
        ``1 + odds`` over an account's months) can neither reach the clamp nor under- or
        overflow, so that :meth:`_column_sums` may replace :meth:`_sums`."""
        s_lo = float(np.min(s, initial=np.inf))
        s_hi = float(np.max(s, initial=-np.inf))
        if not (self.offset_max + s_hi <= _ETA_MAX and self.offset_min + s_lo >= -_ETA_MAX
                and -_ETA_MAX <= self.offset_min and self.offset_max <= _ETA_MAX
                and -_ETA_MAX <= s_lo and s_hi <= _ETA_MAX):
            return False
        if loglik and self.n_rows:
            # log of the product over the longest account: at most months x log(1 + largest odds)
            longest = float(self.n_months.max())
            return longest * float(np.logaddexp(0.0, self.offset_max + s_hi)) <= _LOG_PRODUCT_MAX
        return True

    def _column_sums(self, s: np.ndarray, loglik: bool) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """:meth:`_sums` by month index with factored odds (see :meth:`gradient`).

        With ``loglik`` the per-unit ``sum_a log(1 + exp(eta))`` is the log of the product of
        ``1 + odds`` over the unit's months: one ``log`` per unit instead of one ``log1p``
        per account-month (``log1p`` and ``exp`` were ~85% of the likelihood pass). Its
        rounding is absolute (about 1e-16 per month, where ``log1p`` is relative), below
        1e-12 of the log-likelihood at any size.
        """
        c = self._columns
        odds = np.exp(s)[c.order]
        acc_p, acc_w = c.acc_p, c.acc_w
        acc_p.fill(0.0)
        acc_w.fill(0.0)
        acc_l = None
        if loglik:
            acc_l = c.acc_l if c.acc_l is not None else np.empty(len(acc_p))
            c.acc_l = acc_l
            acc_l.fill(1.0)
        for j, m in enumerate(c.n_at):
            e, t, ap, aw = c.buf_e[:m], c.buf_t[:m], acc_p[:m], acc_w[:m]
            np.multiply(odds[:m], c.exp_offsets[c.col_bounds[j]:c.col_bounds[j + 1]], out=e)
            np.add(e, 1.0, out=t)               # t = 1 + odds
            if acc_l is not None:
                np.multiply(acc_l[:m], t, out=acc_l[:m])
            np.reciprocal(t, out=t)             # t = 1 - p
            np.multiply(e, t, out=e)            # e = p
            np.add(ap, e, out=ap)
            np.multiply(e, t, out=e)            # e = p (1 - p)
            np.add(aw, e, out=aw)
        n = self.units.n_units
        sum_p, sum_w = np.empty(n), np.empty(n)
        sum_p[c.order] = acc_p
        sum_w[c.order] = acc_w
        sum_l = None
        if acc_l is not None:
            sum_l = np.empty(n)
            sum_l[c.order] = np.log(acc_l)
        return sum_l, sum_p, sum_w

    def evaluate(self, s: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Log-likelihood and per-unit ``sum_a p`` and ``sum_a p (1 - p)`` at scores ``s``.

        By month index with factored odds (:meth:`gradient`'s pass plus a running product
        of ``1 + odds`` for the likelihood: no ``exp`` or ``log1p`` per account-month,
        ~4x faster at the paper's scale) where nothing can reach the clamp or overflow;
        otherwise the unfactored pass in row chunks. The two agree to a relative 1e-13.

        Parameters
        ----------
        s : numpy.ndarray
            Score of each unit.

        Returns
        -------
        loglik : float
            Log-likelihood of all accounts (unit counts applied).
        sum_p, sum_w : numpy.ndarray
            Per-unit sums for one account of the unit (counts not applied).
        """
        s = np.asarray(s, dtype=np.float64)
        if self._factored_is_safe(s, loglik=True):
            sum_l, sum_p, sum_w = self._column_sums(s, loglik=True)
        else:
            sum_l, sum_p, sum_w = self._sums(s, loglik=True)
        u = self.units
        eta_last = np.minimum(self.offset_last + s, _ETA_MAX)
        ll = float(u.count @ (u.default * eta_last - sum_l))
        return ll, sum_p, sum_w

    def _sums(self, s: np.ndarray, loglik: bool) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """Per-unit ``sum_a log(1 + exp(eta))`` (``loglik`` only), ``sum_a p``, ``sum_a p (1 - p)``."""
        u = self.units
        sum_p = np.empty(u.n_units)
        sum_w = np.empty(u.n_units)
        sum_l = np.empty(u.n_units) if loglik else None
        b_e, b_t = self._row_layout()["buf"]
        with np.errstate(over="ignore"):
            for k, (u0, u1) in enumerate(zip(self.bounds[:-1], self.bounds[1:], strict=True)):
                r0, r1 = self.row_bounds[k], self.row_bounds[k + 1]
                m = r1 - r0
                e, t = b_e[:m], b_t[:m]
                st = self.starts_local[k]
                np.add(np.repeat(s[u0:u1], self.n_months[u0:u1]), self.offsets[r0:r1], out=e)
                np.minimum(e, _ETA_MAX, out=e)
                np.exp(e, out=e)                    # e = exp(eta)
                if loglik:
                    np.log1p(e, out=t)              # log(1 + exp(eta)) = -log(1 - p)
                    np.add.reduceat(t, st, out=sum_l[u0:u1])
                np.add(e, 1.0, out=t)
                np.reciprocal(t, out=t)             # t = 1 - p
                np.multiply(e, t, out=e)            # e = p
                np.add.reduceat(e, st, out=sum_p[u0:u1])
                np.multiply(e, t, out=e)            # e = p (1 - p)
                np.add.reduceat(e, st, out=sum_w[u0:u1])
        return sum_l, sum_p, sum_w


class _MonthColumns:
    """``exp`` of the offsets laid out by month index, for the factored passes of :class:`MonthPass`.

    Units are sorted by their number of months (most first, ``order``); column ``j`` holds
    month ``j`` of the ``n_at[j]`` units that have one, a prefix of that order. The offsets
    are computed column by column (the same arithmetic per account-month as the row
    layout, so equal bit for bit), with their range and sum.
    """

    def __init__(self, mpass: MonthPass):
        units, n_months = mpass.units, mpass.n_months
        n_units = len(n_months)
        self.order = np.argsort(-n_months, kind="stable")
        longest = int(n_months.max()) if n_units else 0
        self.n_at = (n_units - np.cumsum(np.bincount(n_months, minlength=longest + 1)))[:longest].tolist()
        self.col_bounds = np.concatenate([[0], np.cumsum(self.n_at)]).tolist()
        a0, vintage, extra = units.a0[self.order], units.vintage[self.order], units.extra[self.order]
        self.exp_offsets = np.empty(mpass.n_rows)
        lo, hi, total = np.inf, -np.inf, 0.0
        for j, m in enumerate(self.n_at):
            age = a0[:m] + j
            o = mpass._offset(age, vintage[:m] + age) + extra[:m]
            lo, hi = min(lo, float(o.min())), max(hi, float(o.max()))
            total += float(o.sum())
            with np.errstate(over="ignore", under="ignore"):   # out of range: the unfactored pass is taken
                np.exp(o, out=self.exp_offsets[self.col_bounds[j]:self.col_bounds[j + 1]])
        self.offset_min, self.offset_max, self.offset_sum = lo, hi, total
        self.buf_e, self.buf_t = np.empty(n_units), np.empty(n_units)
        self.acc_p, self.acc_w = np.empty(n_units), np.empty(n_units)
        self.acc_l: np.ndarray | None = None    # the likelihood's running product, on the first evaluate()


def weighted_gram(D: sp.csr_matrix, w: np.ndarray) -> np.ndarray:
    """Dense ``D' diag(w) D`` (``w >= 0``).

    With few columns per non-zero of a row (``p <= 12 nnz/row``, e.g. binned attributes)
    row chunks of ``sqrt(w) D`` are made dense and summed by BLAS ``syrk``: about 3x
    faster than the sparse product (0.11 vs 0.35 s for 73,445 x 140 with 16 non-zeros a
    row), equal to it to a relative 1e-14 (the order of the sums). Otherwise the sparse
    product.
    """
    n, p = D.shape
    if n == 0 or p > 12 * max(D.nnz / n, 1.0):
        Dw = sp.csr_matrix(D.multiply(w[:, None]))
        return np.asarray((D.T @ Dw).todense())
    D = sp.csr_matrix(D)
    root = np.sqrt(np.asarray(w, dtype=np.float64))
    rows = max(64, (1 << 20) // p)                   # dense chunks of at most 8 MB
    gram = np.zeros((p, p), order="F")
    for r0 in range(0, n, rows):
        chunk = D[r0:r0 + rows].toarray()
        chunk *= root[r0:r0 + rows, None]
        gram = la.blas.dsyrk(1.0, chunk, beta=1.0, c=gram, trans=1, lower=1, overwrite_c=1)
    return np.tril(gram) + np.tril(gram, -1).T


def _aliased(hessian: np.ndarray, names: list[str]) -> list[str]:
    vals, vecs = np.linalg.eigh(hessian)
    tol = max(vals.max(), 1.0) * 1e-10
    bad = np.flatnonzero(vals <= tol)
    terms: set[int] = set()
    for j in bad:
        v = np.abs(vecs[:, j])
        terms.update(np.flatnonzero(v > 0.1 * v.max()).tolist())
    return [names[i] for i in sorted(terms)]


def cholesky_or_raise(hessian: np.ndarray, names: list[str]) -> tuple:
    """Cholesky factor of ``hessian``; a clear error naming aliased terms if singular."""
    try:
        return la.cho_factor(hessian, lower=True, check_finite=True)
    except (la.LinAlgError, ValueError):
        aliased = _aliased(hessian, names) if np.all(np.isfinite(hessian)) else names
        raise DataValidationError(
            [
                "the design is rank deficient: the terms "
                f"{aliased[:10]} are (nearly) linear combinations of each other or have no "
                "information (e.g. two attributes carrying the same grouping, a level with "
                "zero weight, or vintage dummies together with an attribute constant within "
                "vintages). Fix: drop one of the attributes involved or merge levels."
            ]
        ) from None


@dataclass
class NewtonResult:
    beta: np.ndarray
    hessian: np.ndarray
    gradient: np.ndarray
    loglik: float
    n_iter: int
    converged: bool


def newton(D: sp.csr_matrix, units: Units, mpass: MonthPass, beta0: np.ndarray,
           names: list[str], tol: float = 1e-9, max_iter: int = 100) -> NewtonResult:
    """Maximise the offset-logit likelihood by Newton steps with step halving.

    Parameters
    ----------
    D : scipy.sparse.csr_matrix
        Distinct design rows (intercept included), ``units.design`` indexes its rows.
    units : Units
        Collapsed accounts.
    mpass : MonthPass
        The account-month pass over ``units``.
    beta0 : numpy.ndarray
        Start values.
    names : list of str
        Term names, for messages.
    tol : float
        Convergence when the largest Newton step is below ``tol * (1 + max|beta|)``.
    max_iter : int
        Maximum number of Newton steps.

    Returns
    -------
    NewtonResult
        The Hessian is evaluated at the returned coefficients.
    """
    nd = D.shape[0]

    def state(beta):
        s = (D @ beta)[units.design]
        ll, sp_, sw = mpass.evaluate(s)
        b = np.bincount(units.design, weights=units.count * (units.default - sp_), minlength=nd)
        w = np.bincount(units.design, weights=units.count * sw, minlength=nd)
        return ll, np.asarray(D.T @ b).ravel(), w

    beta = np.asarray(beta0, dtype=np.float64).copy()
    ll, grad, w = state(beta)
    converged, it = False, 0
    for it in range(1, max_iter + 1):  # noqa: B007 - it is reported
        hessian = weighted_gram(D, w)
        step = la.cho_solve(cholesky_or_raise(hessian, names), grad)
        t = 1.0
        while True:
            cand = beta + t * step
            ll_c, grad_c, w_c = state(cand)
            if np.isfinite(ll_c) and ll_c >= ll - 1e-12 * (1.0 + abs(ll)):
                break
            t *= 0.5
            if t < 1e-10:
                # no ascent possible: we are at the optimum to machine precision
                cand, ll_c, grad_c, w_c = beta, ll, grad, w
                break
        size = float(np.max(np.abs(t * step))) if step.size else 0.0
        beta, ll, grad, w = cand, ll_c, grad_c, w_c
        if size <= tol * (1.0 + float(np.max(np.abs(beta)))):
            converged = True
            break
    hessian = weighted_gram(D, w)
    if not converged:
        big = [names[i] for i in np.argsort(-np.abs(beta))[:5] if abs(beta[i]) > 10]
        hint = (f" Terms with very large coefficients (quasi-separation: a level with no "
                f"or only defaults?): {big}." if big else "")
        warnings.warn(
            f"offset logit did not converge in {max_iter} Newton steps (last step "
            f"{size:.2e}).{hint} Merge sparse levels or raise max_iter.",
            ConvergenceWarning, stacklevel=3,
        )
    return NewtonResult(beta, hessian, grad, ll, it, converged)
