"""Scoring new applicants with a saved unbiased-by-design fit (``apcfair score``).

The fit is read from the JSON that :meth:`UnbiasedResult.save
<apcfair.unbiased.UnbiasedResult.save>` and ``apcfair unbiased`` write
(``unbiased_result.json``: the score models' bins and coefficients or trees, the offsets
``mu + F(a) + H(t) + b (t - a)`` with G's linear trend ``b``, and the settings). Nothing is
pickled. Each applicant needs an origination month (to place it on the environment path)
and the credit inputs; restricted inputs are never needed, because the forecasts that may
decide have the restricted term zeroed (``credit_restricted_zero``) or replaced by the
calibrated constant (``credit_restricted_mean``).

The environment path is the one of the training run's forecasts: H(t) as estimated over
the data window, held at its recent seasonally adjusted level beyond it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from apcfair._base import load_json
from apcfair.forecast.cumulative import HorizonGrid
from apcfair.offsets import OffsetTable
from apcfair.scoring import OffsetGBM, OffsetLogit

#: Models ``apcfair score`` can score (those that do not need the restricted inputs).
SCORABLE = ("credit", "credit_restricted_zero", "credit_restricted_mean", "gbm_credit", "gbm_credit_restricted_zero")


def training_inputs(frame: pd.DataFrame) -> dict:
    """What the training inputs looked like: numeric ``[min, max]`` or the categories seen."""
    out = {}
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            out[col] = {"kind": "numeric", "min": float(s.min()), "max": float(s.max()),
                        "missing_seen": bool(s.isna().any())}
        else:
            out[col] = {"kind": "categorical", "values": sorted(map(str, s.dropna().unique())),
                        "missing_seen": bool(s.isna().any())}
    return out


def check_applicants(frame: pd.DataFrame, inputs: dict) -> list[str]:
    """Problems of an applicant file against the training inputs (one line each).

    Missing columns raise; unseen categories (scored as the reference level), values
    outside the training range (scored in the end bins) and missing values where
    training had none are reported.
    """
    missing = [c for c in inputs if c not in frame.columns]
    if missing:
        raise ValueError(f"the applicant file lacks the credit input column(s) {missing}; the model was "
                         f"trained on {list(inputs)}")
    notes = []
    for col, spec in inputs.items():
        s = frame[col]
        na = int(s.isna().sum())
        if na and not spec["missing_seen"]:
            notes.append(f"{col}: {na} missing values; training had none (scored as the reference level)")
        if spec["kind"] == "numeric":
            v = pd.to_numeric(s, errors="coerce")
            lo, hi = int((v < spec["min"]).sum()), int((v > spec["max"]).sum())
            if lo or hi:
                notes.append(f"{col}: {lo} values below the training minimum {spec['min']:g} and {hi} above the "
                             f"training maximum {spec['max']:g} (scored in the end bins, an extrapolation)")
        else:
            seen = set(spec["values"])
            unseen = s.dropna().astype(str)
            unseen = unseen[~unseen.isin(seen)]
            if len(unseen):
                notes.append(f"{col}: {len(unseen)} values of categories unseen in training, e.g. "
                             f"{sorted(unseen.unique())[:3]} (scored as the reference level)")
    return notes


def load_fit(folder: str | Path) -> dict:
    """The saved fit (``unbiased_result.json`` in ``folder``, or that file itself)."""
    path = Path(folder)
    path = path if path.suffix.lower() == ".json" else path / "unbiased_result.json"
    if not path.exists():
        raise ValueError(f"no saved unbiased fit at {str(path)!r}; run 'apcfair unbiased --out DIR' first")
    return load_json(path, "UnbiasedResult")


def score_applicants(fit: dict, applicants: pd.DataFrame, *, vintage: np.ndarray,
                     models=SCORABLE) -> tuple[pd.DataFrame, list[str]]:
    """Cumulative PD over the training horizon for each applicant and scorable model.

    Parameters
    ----------
    fit : dict
        From :func:`load_fit`.
    applicants : pandas.DataFrame
        ``account_id`` and the credit inputs.
    vintage : numpy.ndarray of int
        Origination period code per applicant (the data's frequency).
    models : sequence of str
        Which of :data:`SCORABLE` to score (those the fit has).

    Returns
    -------
    tuple of (pandas.DataFrame, list of str)
        ``account_id, model, cum_pd`` (long), and the validation notes.
    """
    settings = fit["settings"]
    design = settings.get("design", {})
    if fit.get("offsets") is None or "credit_inputs" not in design:
        raise ValueError("this saved fit predates scoring support (no offsets or training inputs); refit it")
    notes = check_applicants(applicants, design["credit_inputs"])
    data = applicants.copy()
    groups = design.get("vintage_groups") or {}
    vcol = {"year": "vintage year", "month": "vintage period"}.get(design.get("vintage_dummies"), None)
    if vcol and groups:
        mapped = pd.Series(vintage).astype(str).map(groups)
        n_new = int(mapped.isna().sum())
        if n_new:
            notes.append(f"{n_new} applicants originate in vintages not in training: their vintage dummy is the "
                         "reference group's")
        data[vcol] = mapped.fillna("__unseen__").to_numpy(dtype=object)
    offsets = OffsetTable.from_dict(fit["offsets"])
    horizon = design.get("horizon", {}).get("periods", settings["horizon"])
    beyond = int(np.max(vintage)) + horizon - offsets.period_max
    if beyond > 0:
        notes.append(f"the horizon runs {beyond} periods beyond the saved environment path; H(t) is held at its "
                     "last level there")
    grid = HorizonGrid(vintage, offsets, horizon)
    md = fit["models"]

    def logit(name):
        return OffsetLogit.from_dict(md[name]).predict_account_score(data)

    scores: dict = {}
    if md.get("credit"):
        scores["credit"] = logit("credit")
    if md.get("credit_with_restricted_offset"):
        c = logit("credit_with_restricted_offset")
        scores["credit_restricted_zero"] = c
        scores["credit_restricted_mean"] = c + fit["calibrating_constant"]
    if md.get("gbm_credit"):
        scores["gbm_credit"] = OffsetGBM.from_dict(md["gbm_credit"]).predict_account_score(data)
    if md.get("gbm"):
        scores["gbm_credit_restricted_zero"] = OffsetGBM.from_dict(md["gbm"]).predict_account_score(data)
    order = [m for m in models if m in scores]
    ids = applicants["account_id"].to_numpy()
    out = pd.DataFrame({"account_id": np.tile(ids, len(order)), "model": np.repeat(order, len(ids)),
                        "cum_pd": np.concatenate([grid.cumulative(scores[m]) for m in order])})
    return out, notes
