"""The attrition hazard: an APC model of exits other than default (payoff, closure).

Default and attrition are competing exits. Each has its own cause-specific monthly
hazard among the accounts still open at the start of a month::

    logit PD(a, v)        = mu   + F(a)   + G(v)   + H(t)     (default; the main model)
    logit q(a, v)         = mu_q + F_q(a) + G_q(v) + H_q(t)   (attrition), t = v + a

The attrition model is the same :class:`~apcfair.apc.APCModel` (same engine, priors,
identification and :class:`~apcfair.apc.APCResult`) fitted to the cells' ``attrition``
counts (non-default exits in the cell) over the same accounts at risk. Its functions have
the default model's meaning with "exit other than default" in place of "default"; the
linear-trend identification is the same assumption, applied to attrition.

Forecasts combine the two hazards (see
:func:`apcfair.forecast.cumulative.unconditional_cumulative_pd`): without account-level
attrition scores the attrition hazard of an account is its cell's, ``expit(mu_q + F_q(a)
+ G_q(v) + H_q(t))`` (:func:`attrition_offsets`).

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> cells = pd.DataFrame([(v, a, v + a) for v in range(24) for a in range(1, 25 - v)],
...                      columns=["vintage", "age", "period"])
>>> cells["at_risk"] = 2000
>>> cells["defaults"] = rng.binomial(2000, 0.01, size=len(cells))
>>> cells["attrition"] = rng.binomial(2000, 0.02, size=len(cells))  # 2% pay off a month
>>> res = fit_attrition(APCModel(n_draws=100, random_state=0), cells, freq="M")
>>> int(res.cells["defaults"].sum()) == attrition_count(cells)  # the attrition fit counts exits
True
>>> q = attrition_offsets(res, max_age=36, last_period=60)  # logit q(a, t), held beyond the data
>>> rate = 1 / (1 + np.exp(-q(np.arange(1, 13), np.arange(1, 13))))  # vintage 0, ages 1..12
>>> bool(np.all(np.abs(rate - 0.02) < 0.005))
True
>>> fit_attrition(APCModel(n_draws=100), cells.assign(attrition=0), freq="M")
Traceback (most recent call last):
...
apcfair.errors.DataValidationError: the data hold no attrition (non-default exits: payoff, closure) ...
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from apcfair.apc.identification import HOLD_WINDOW, hold_level
from apcfair.apc.model import APCModel
from apcfair.apc.results import APCResult
from apcfair.errors import DataValidationError
from apcfair.offsets import OffsetTable
from apcfair.portfolio import Cells, Portfolio

#: The cells column with non-default exits (payoff, closure) per (vintage, age) cell.
ATTRITION_COLUMN = "attrition"

#: What the attrition functions measure, written beside them (``apc.json``).
ATTRITION_DEFINITION = (
    "attrition: exits other than default (payoff, closure) among accounts at risk; cause-specific monthly "
    "hazard q(a, v) with logit q = mu_q + F_q(a) + G_q(v) + H_q(t), t = v + a; functions on the logit scale "
    "(log-odds of a non-default exit), same identification assumption as the default model")


def attrition_count(data) -> int | None:
    """Total non-default exits in ``data``; ``None`` when the data carry no attrition column.

    Parameters
    ----------
    data : Portfolio, Cells or pandas.DataFrame
        A portfolio (aggregated to cells), its cells, or a cell table.

    Returns
    -------
    int or None

    Examples
    --------
    >>> import pandas as pd
    >>> attrition_count(pd.DataFrame({"defaults": [1, 0], "at_risk": [9, 8], "attrition": [2, 3]}))
    5
    >>> attrition_count(pd.DataFrame({"defaults": [1], "at_risk": [9]})) is None
    True
    """
    table = _table(data)
    if ATTRITION_COLUMN not in table:
        return None
    return int(pd.to_numeric(table[ATTRITION_COLUMN]).sum())


def _table(data) -> pd.DataFrame:
    if isinstance(data, Portfolio):
        data = data.cells()
    if isinstance(data, Cells):
        return data.table
    if isinstance(data, pd.DataFrame):
        return data
    raise TypeError(f"expected a Portfolio, Cells or DataFrame, got {type(data).__name__}")


def attrition_cells(data):
    """The same cells with the attrition counts as the event column (``defaults``).

    Parameters
    ----------
    data : Portfolio, Cells or pandas.DataFrame
        Cells with integer ``attrition`` counts beside ``defaults`` and ``at_risk``.

    Returns
    -------
    Cells or pandas.DataFrame
        The same kind as given (a Portfolio gives Cells, with the portfolio's lineage),
        ``defaults`` replaced by the attrition counts and ``attrition`` dropped. When the
        last period holds no non-default exit at all while earlier periods do, its cells
        are left out: where payoff is inferred from ``last_month`` before the end of the
        data, an exit in the last month cannot be told from censoring, so its zero is not an
        observation (kept, it would pull the attrition environment at the end of the data,
        the level forecasts hold, far down). That is expected when the lineage says the
        exits were inferred (no exit column) and :func:`fit_attrition` records it as a note;
        with recorded exits, or a table whose lineage does not say, it is also warned
        (``UserWarning``): recorded exits should reach the last period.

    Raises
    ------
    apcfair.errors.DataValidationError
        Without an ``attrition`` column, with negative counts, or with more exits
        (defaults + attrition) than accounts at risk in a cell.
    """
    cells, note = _attrition_cells(data)
    if note is not None and not _exits_inferred(data):
        warnings.warn(note, UserWarning, stacklevel=2)
    return cells


def _exits_inferred(data) -> bool:
    """Whether the data's lineage says the exits were inferred from ``last_month`` (no exit column)."""
    lineage = getattr(data, "lineage", None)
    notes = getattr(lineage, "notes", None) or ()
    return any(str(n).startswith("exits:") and "no exit column:" in str(n) for n in notes)


def _attrition_cells(data):
    """:func:`attrition_cells` and the note on a left-out last period (``None`` if none)."""
    if isinstance(data, Portfolio):
        data = data.cells()
    table = _table(data)
    if ATTRITION_COLUMN not in table:
        raise DataValidationError([
            f"the cells have no {ATTRITION_COLUMN!r} column (non-default exits per cell); build the cells from a "
            "portfolio (Portfolio.cells()) or add the counts"])
    attrition = pd.to_numeric(table[ATTRITION_COLUMN], errors="coerce")
    problems = []
    if attrition.isna().any() or (attrition < 0).any():
        problems.append(f"column {ATTRITION_COLUMN!r}: {int((attrition.isna() | (attrition < 0)).sum())} cells "
                        "have missing or negative counts")
    elif "defaults" in table and "at_risk" in table and (table["defaults"] + attrition > table["at_risk"]).any():
        n_bad = int((table["defaults"] + attrition > table["at_risk"]).sum())
        problems.append(f"{n_bad} cells have more exits (defaults + {ATTRITION_COLUMN}) than accounts at risk")
    if problems:
        raise DataValidationError(problems)
    out = table.drop(columns=[ATTRITION_COLUMN]).assign(defaults=attrition.astype(np.int64).to_numpy())
    note = None
    if "period" in out and len(out):
        last = out["period"] == out["period"].max()
        if out.loc[last, "defaults"].sum() == 0 and out.loc[~last, "defaults"].sum() > 0:
            note = (f"the last period has no non-default exits in {int(last.sum())} cells (an exit in the last "
                    "month of the data cannot be told from censoring when payoff is inferred from last_month): "
                    "those cells are left out of the attrition fit")
            out = out.loc[~last].reset_index(drop=True)
    return (replace(data, table=out) if isinstance(data, Cells) else out), note


def fit_attrition(model: APCModel, data, *, freq: str | None = None) -> APCResult:
    """Fit ``model``'s settings to the attrition counts of ``data``.

    ``model`` itself is not changed: a new :class:`APCModel` with the same parameters
    (engine, priors, identification, draws, seed) is fitted to
    :func:`attrition_cells`, so the attrition functions have the default model's
    identification and bands.

    Parameters
    ----------
    model : APCModel
        The default model's settings (fitted or not).
    data : Portfolio, Cells or pandas.DataFrame
        Cells with an ``attrition`` column (``Portfolio.cells()`` has one).
    freq : {"M", "Q"}, optional
        Period frequency for a raw DataFrame.

    Returns
    -------
    APCResult
        The attrition functions F_q, G_q, H_q (its ``defaults`` columns count attrition);
        ``diagnostics["notes"]`` says what was left out (a last period without exits).

    Raises
    ------
    apcfair.errors.DataValidationError
        When the data hold no non-default exits at all (no model is fitted to zeros) or
        no ``attrition`` column.

    Examples
    --------
    See the module's example (:mod:`apcfair.apc.attrition`).
    """
    cells, note = _attrition_cells(data)
    if note is not None and not _exits_inferred(data):
        warnings.warn(note, UserWarning, stacklevel=2)
    if int(_table(cells)["defaults"].sum()) == 0:
        raise DataValidationError([
            "the data hold no attrition (non-default exits: payoff, closure) in any cell; an attrition model "
            "is not fitted to zeros (every account defaults or is still open at the end of the data)"])
    result = type(model)(**model.get_params()).fit(cells, freq=freq).result_
    if note is not None:
        result = replace(result, diagnostics={**result.diagnostics,
                                              "notes": [*result.diagnostics.get("notes", []), note]})
    return result


def try_fit_attrition(model: APCModel, data, *, freq: str | None = None) -> tuple[APCResult | None, str | None]:
    """The attrition fit and ``None``, or ``None`` and why there is none (said, not raised).

    For commands that fit both hazards: the default model's outputs stand whether or not
    the data support an attrition model.

    Parameters
    ----------
    model : APCModel
        The default model's settings.
    data : Portfolio, Cells or pandas.DataFrame
        Cells with an ``attrition`` column.
    freq : {"M", "Q"}, optional
        Period frequency for a raw DataFrame.

    Returns
    -------
    result : APCResult or None
    note : str or None
        Starts with ``"skipped:"`` (no attrition column, or no exit other than default at
        all) or ``"not fitted"`` (too few exits for an APC fit, with the reason).
    """
    n_exits = attrition_count(data)
    if n_exits is None:
        return None, "skipped: the cells carry no attrition column (exits other than default are not counted)"
    if not n_exits:
        return None, ("skipped: the data hold no exits other than default (payoff, closure: default = 0 and "
                      "last_month before the end of the data, or an exit column), so there is no attrition "
                      "hazard to fit")
    try:
        return fit_attrition(model, data, freq=freq), None
    except DataValidationError as exc:
        return None, f"not fitted ({n_exits:,} exits other than default): {exc}"


def attrition_json(result: APCResult) -> dict:
    """The ``apc.json`` ``attrition`` block: functions as records, as the default functions.

    ``lifecycle``, ``vintage``, ``environment`` are lists of ``{"index", "mean", "lower",
    "upper"}`` on the logit scale (the layout of the default model's functions);
    ``intercept``, ``identification``, ``identified_slopes``, ``hyperparameters``,
    ``likelihood`` and ``credible_level`` as in the default block; ``definition`` says
    what is modelled and ``events`` counts the exits; ``note`` (only when there is one)
    says what the fit left out, e.g. a last period without exits (:func:`attrition_cells`).

    Parameters
    ----------
    result : APCResult
        The attrition fit (:func:`fit_attrition`).

    Returns
    -------
    dict
    """
    full = result.to_json_dict(fit_statistics=False)  # the block keeps no fit statistics
    keep = ("lifecycle", "vintage", "environment", "intercept", "identification", "identification_assumption",
            "identified_slopes", "hyperparameters", "likelihood", "credible_level")
    out = {k: full[k] for k in keep if k in full}
    out["definition"] = ATTRITION_DEFINITION
    out["events"] = {"non_default_exits": int(result.cells["defaults"].sum()),
                     "account_months_at_risk": int(result.cells["at_risk"].sum())}
    notes = result.diagnostics.get("notes") or []
    if notes:
        out["note"] = "; ".join(notes)
    return out


@dataclass(frozen=True, eq=False)
class AttritionOffsets:
    """Attrition logit ``mu_q + F_q(a) + G_q(v) + H_q(t)`` as a callable of ``(age, period)``.

    The vintage is ``period - age``, so the table works wherever an
    :class:`~apcfair.offsets.OffsetTable` does (e.g.
    :class:`apcfair.forecast.cumulative.HorizonGrid`). Build it with
    :func:`attrition_offsets`.

    Parameters
    ----------
    table : OffsetTable
        ``mu_q + F_q(a) + H_q(t)`` (identification-invariant; G_q's linear trend inside).
    vintage_min : int
        Vintage code of ``vintage[0]``.
    vintage : numpy.ndarray
        G_q without its linear trend per vintage; outside the grid the nearest value.
    """

    table: OffsetTable
    vintage_min: int
    vintage: np.ndarray

    def __call__(self, age, period) -> np.ndarray:
        """Attrition logit for arrays of ages and period codes (vintage = period - age)."""
        age = np.asarray(age, dtype=np.int64)
        period = np.asarray(period, dtype=np.int64)
        k = np.clip(period - age - self.vintage_min, 0, len(self.vintage) - 1)
        return self.table(age, period) + self.vintage[k]


def attrition_offsets(result: APCResult, *, max_age: int | None = None, last_period: int | None = None,
                      include_vintage: bool = True) -> AttritionOffsets:
    """Posterior-mean attrition logits for forecasts, from an attrition APC fit.

    ``mu_q + F_q(a) + H_q(t)`` comes from :meth:`APCResult.offset_table` (G_q's linear
    trend moved into F_q + H_q, so the forecast does not depend on the identification;
    beyond the window the same hold rule as the default offsets); G_q's nonlinear part is
    added by vintage (vintages after the grid hold the mean of its last 12 values). Without
    account-level attrition scores this is each account's attrition hazard on the logit
    scale.

    Parameters
    ----------
    result : APCResult
        The attrition fit (:func:`fit_attrition`).
    max_age, last_period : int, optional
        Last age and period needed (defaults: the fit's grid; beyond, values are held).
    include_vintage : bool
        Add G_q's nonlinear part (``False``: the vintage-average attrition, e.g. when an
        attrition score carries the vintage differences).

    Returns
    -------
    AttritionOffsets
        Callable ``(age, period) -> logit``.

    Examples
    --------
    See the module's example (:mod:`apcfair.apc.attrition`).
    """
    table = result.offset_table(include_intercept=True, max_age=max_age, last_period=last_period)
    codes = np.asarray(result.labels["vintage"], dtype=np.int64)
    if include_vintage:
        g = result.invariant_offset_draws()["vintage"].mean(axis=0)
        last = codes[-1]
        if last_period is not None and int(last_period) - 1 > last:
            after = np.arange(last + 1, int(last_period))
            g = np.concatenate([g, hold_level(g, codes, after, window=HOLD_WINDOW)])
    else:
        g = np.zeros(1)
    return AttritionOffsets(table=table, vintage_min=int(codes[0]), vintage=np.asarray(g, dtype=float))
