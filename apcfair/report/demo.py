"""The ``apcfair demo`` recipe: its settings and the statistics of its steps.

synth → validation and lineage → vintage curves → APC → unbiased-by-design comparison →
fairness audit → stress scenarios → ``report.html`` and ``results.json``. The command
(:mod:`apcfair.cli.demo`) runs the steps in this order and writes every result through
:mod:`apcfair.outputs`; this module holds what is particular to the demo: the inputs it
uses, which accounts the audit looks at, the macro drivers, and the headline numbers of
``results.json``. It writes no files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from pathlib import Path

    from apcfair.apc import APCResult
    from apcfair.audit import AuditResult
    from apcfair.forecast import MacroResult, ScenarioProjection, StressResult
    from apcfair.portfolio import Portfolio
    from apcfair.unbiased import UnbiasedResult

#: Restricted inputs of the demo: the paper's zip-level census proxies plus individual
#: protected attributes (available in synthetic data; rarely in real lending data).
DEMO_RESTRICTED = ["median_age", "mf_ratio", "persons_per_household", "asian_frac", "black_frac",
                   "native_american_frac", "native_hawaiian_frac", "hispanic_frac", "age", "sex", "race_ethnicity"]
#: Credit inputs at origination, as in the paper's Table 2.
DEMO_CREDIT = ["bureau_score", "interest_rate", "subcategory", "credit_limit", "balance_transfer",
               "total_loan_balance", "total_deposits"]
#: Attributes whose dependence on the scores is measured.
DEMO_PROTECTED = ["minority", "sex", "age"]
#: Forecast horizon in months.
DEMO_HORIZON = 36
#: Macro drivers of the environment in the stress step, with their expected signs (more
#: unemployment, more defaults; more growth, fewer): a wrong or insignificant sign is warned.
DEMO_DRIVERS = "unemployment_change:+,gdp_growth:-"
#: Share of applicants approved in the audit (the cut-off is this quantile of the PD).
DEMO_APPROVAL_RATE = 0.8
#: Resolution of the audit and stress plots of the demo.
DEMO_DPI = 100


def _age_group(age: pd.Series) -> pd.Series:
    return pd.cut(age, [0, 25, 40, 60, 200], right=False, labels=["<25", "25-39", "40-59", "60+"]).astype(str)


def demo_audit(result: UnbiasedResult, portfolio: Portfolio, seed: int,
               approval_rate: float = DEMO_APPROVAL_RATE) -> AuditResult:
    """Audit the calibrated unbiased-by-design forecast on out-of-sample accounts with a
    complete horizon, beside the traditional credit model."""
    from apcfair.audit import audit

    fc = result.forecast_table              # per-account arrays, in the portfolio's account order
    horizon = result.settings["horizon"]
    loans = portfolio.loans
    complete = (loans["vintage"].to_numpy() + horizon) <= portfolio.window[1]
    y = fc.column("defaulted_within_horizon")
    sample = fc.column("sample")
    m = complete & (sample == "out")
    score = fc.column("cum_pd", "credit_restricted_mean")[m]
    cutoff = float(np.quantile(score, approval_rate))
    groups = pd.DataFrame({"sex": loans["sex"].to_numpy()[m], "race_ethnicity": loans["race_ethnicity"].to_numpy()[m],
                           "age_group": _age_group(loans["age"]).to_numpy()[m]})
    vyear = (loans["vintage"].to_numpy()[m] // 12).astype(int)
    return audit(score, y[m], groups, cutoff=cutoff, polarity="pd", control=vyear, n_boot=1000,
                 intersections=[("sex", "race_ethnicity")],
                 compare={"traditional credit model": fc.column("cum_pd", "credit")[m]},
                 score_name="unbiased-by-design 36-month PD (restricted term at calibrated constant)",
                 caveats=["Synthetic data: protected attributes are simulated, so the audit illustrates the method."],
                 random_state=seed)


def demo_stress(result: UnbiasedResult, portfolio: Portfolio, apc: APCResult, macro_history: str | Path,
                scenarios: str | Path, horizon: int, seed: int):
    """Macro model for H(t) on the macro history, its scenarios, and the stress test of the
    book with the calibrated unbiased-by-design account scores.

    Returns
    -------
    tuple
        ``(macro_result, projection, stress_result)``.
    """
    from apcfair.forecast import MacroModel, StressTest, read_macro_history, read_scenarios

    history = read_macro_history(macro_history)
    macro: MacroResult = MacroModel(drivers=DEMO_DRIVERS, random_state=seed).fit(apc, history).result_
    projection: ScenarioProjection = macro.project(read_scenarios(scenarios))
    scores = result.account_scores["credit_restricted_mean"].to_numpy()
    stress: StressResult = StressTest(horizon=horizon, random_state=seed).fit(
        portfolio, apc, projection, account_scores=scores).result_
    return macro, projection, stress


def demo_results(portfolio: Portfolio, apc: APCResult, result: UnbiasedResult, audit: AuditResult,
                 stress: StressResult, *, timings: dict, accounts: int, seed: int, horizon: int) -> dict:
    """The headline numbers of the run (the content of ``results.json``)."""
    from apcfair._provenance import provenance

    audit_dict = audit.to_json_dict()
    stress_dict = stress.to_json_dict()
    return {
        "portfolio": portfolio.describe(),
        "lineage": portfolio.lineage.to_dict(),
        "apc": {k: v for k, v in apc.to_json_dict().items() if k not in ("lifecycle", "vintage", "environment")},
        "comparison": [{k: r[k] for k in ("model", "sample", "auc", "gini", "auc_lower", "auc_upper")}
                       for r in result.rows],
        "cost_of_fairness": result.cost_of_fairness,
        "dependence": result.dependence_table.to_dict(orient="records"),
        "audit": {k: audit_dict.get(k) for k in ("performance", "gaps", "tests")},
        "stress": {name: {"cumulative_pd": sc.get("cumulative_pd"), "peak_pd": max(sc.get("pd", [0]))}
                   for name, sc in stress_dict.get("scenarios", {}).items()},
        "timings_seconds": timings,
        "provenance": provenance({"accounts": accounts, "seed": seed, "horizon": horizon,
                                  "restricted": DEMO_RESTRICTED, "credit": DEMO_CREDIT}),
    }
