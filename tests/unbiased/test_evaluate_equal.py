"""``evaluate`` (the unbiased procedure's evaluation stage) gives the numbers it gave before
its speed-up (issue 19): every AUC, DeLong result, correlation, distance correlation, group
AUC, adverse impact ratio, calibration (with Kaplan-Meier and Aalen-Johansen) and bootstrap
interval of ``comparison.json`` and the dependence table.

The reference ``tests/fixtures/unbiased_evaluate/evaluate_3000.json`` was written by the
implementation before the speed-up (commit 6e4523a) from the inputs built here; see
``tests/fixtures/unbiased_evaluate/README.md``. The inputs are a ``data_synth`` portfolio
(3,000 accounts, seed 0) with synthetic forecasts (no model is fitted, so the fixture does
not move with the fitting stages), chosen to reach every branch: ties and a forecast with
few distinct values (midranks), binary attributes (int and text), a numeric attribute with
~70 levels and missing values (the discrete distance-covariance pass and subsets of
accounts), a continuous one (the O(n log n) pass) and a categorical one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from scipy.special import expit

from apcfair._io import to_jsonable

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "unbiased_evaluate" / "evaluate_3000.json"
PROTECTED = ["minority", "sex", "age", "black_frac", "race_ethnicity"]
#: Largest difference allowed, relative to max(1, |value|) (the issue asks for 1e-10).
TOLERANCE = 1e-12


def evaluation_inputs():
    """The portfolio, forecasts and estimation mask the fixture was computed from."""
    from apcfair import load_portfolio
    from apcfair.forecast.cumulative import observed_default_within
    from apcfair.unbiased.stages import Forecasts, split_accounts
    from data_synth import SynthConfig, generate_portfolio

    loans = generate_portfolio(SynthConfig(n_accounts=3000, seed=0)).loans.copy()
    rng = np.random.default_rng(19)
    loans.loc[rng.random(len(loans)) < 0.05, "age"] = np.nan           # missing on some accounts
    portfolio = load_portfolio(loans)
    loans = portfolio.loans
    n = len(loans)
    in_sample = split_accounts(n, test_size=0.5, random_state=0)
    obs = observed_default_within(loans, 36, window_end=portfolio.window[1])
    credit = -(loans["bureau_score"].to_numpy() - 700) / 60 + rng.normal(0, 0.5, n)
    minority = loans["minority"].to_numpy().astype(float)
    male = (loans["sex"] == loans["sex"].iloc[0]).to_numpy().astype(float)
    logits = {
        "credit": credit + 0.4 * minority,
        "restricted": np.round(0.4 * minority + 0.2 * male, 1),                 # four distinct values
        "credit_restricted_zero": credit,
        "gbm_credit": np.round(credit + 0.4 * minority, 1),                      # many ties
        "gbm_credit_restricted_zero": np.round(credit, 1) + rng.normal(0, 0.1, n),
    }
    share = np.clip((obs["eval_end_age"] - obs["start_age"]).to_numpy() / 36, 0, 1)
    full = {k: expit(-3.5 + v) for k, v in logits.items()}
    window = {k: v * share for k, v in full.items()}
    forecasts = Forecasts(
        scores=logits, window=window, expected={k: 0.9 * v for k, v in window.items()}, full=full,
        calibrating_constant=0.0, observed=obs, exposure={k: 0.95 * v for k, v in window.items()},
        unconditional={k: 0.8 * v for k, v in full.items()},
        unconditional_window={k: 0.8 * v for k, v in window.items()})
    return portfolio, forecasts, in_sample


def evaluation_record() -> dict:
    """``evaluate`` on :func:`evaluation_inputs`, as JSON values."""
    from apcfair.unbiased.stages import evaluate

    portfolio, forecasts, in_sample = evaluation_inputs()
    ev = evaluate(portfolio, forecasts, in_sample, horizon=36, protected=PROTECTED, approval_rate=0.8,
                  random_state=0, n_boot=50)
    return to_jsonable({"rows": ev.rows, "dependence_table": ev.dependence_table,
                        "cost_of_fairness": ev.cost_of_fairness, "costs": ev.costs})


def _assert_same(new, old, path="") -> float:
    """Same structure, keys, types and strings; numbers within TOLERANCE. Returns the largest difference."""
    if isinstance(old, dict):
        assert isinstance(new, dict) and list(new) == list(old), path
        return max([_assert_same(new[k], old[k], f"{path}/{k}") for k in old], default=0.0)
    if isinstance(old, list):
        assert isinstance(new, list) and len(new) == len(old), path
        return max([_assert_same(a, b, f"{path}[{i}]") for i, (a, b) in enumerate(zip(new, old, strict=True))], default=0.0)
    if isinstance(old, float) and not isinstance(old, bool):
        assert isinstance(new, float), (path, new, old)
        diff = abs(new - old)
        assert diff <= TOLERANCE * max(1.0, abs(old)), (path, new, old)
        return diff
    assert new == old and type(new) is type(old), (path, new, old)
    return 0.0


def test_evaluate_equals_the_implementation_before_the_speed_up():
    old = json.loads(FIXTURE.read_text())
    new = json.loads(json.dumps(evaluation_record()))
    assert len(new["rows"]) == 10 and len(new["dependence_table"]) == 50
    largest = _assert_same(new, old)
    assert math.isfinite(largest)


if __name__ == "__main__":   # writes the fixture (run with the old implementation first on PYTHONPATH)
    FIXTURE.write_text(json.dumps(evaluation_record(), indent=None, separators=(",", ":")) + "\n")
