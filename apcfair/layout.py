"""The output layout: every file name a command writes, in one place.

Writers (``apcfair.cli`` commands, :func:`apcfair.report.write_report`, ``apcfair demo``)
and readers (the HTML report) refer to files only through these names, so a file is named
once. The names are product contracts that users and scripts rely on: never rename one.
"""

from __future__ import annotations

from typing import Final

# synth
LOANS: Final = "loans.parquet"
PANEL: Final = "panel.parquet"
TRUTH: Final = "truth.json"
MACRO_HISTORY: Final = "macro_history.csv"
SCENARIOS: Final = "scenarios.csv"

# vintage
CELLS: Final = "cells.csv"
LINEAGE: Final = "lineage.json"
VINTAGE_MONTHLY_PD_PLOT: Final = "vintage_monthly_pd.png"
VINTAGE_CUMULATIVE_PLOT: Final = "vintage_cumulative_default.png"
#: Aalen–Johansen cumulative incidence of default (payoff competing) beside 1 - KM, and of payoff.
VINTAGE_INCIDENCE_PLOT: Final = "vintage_cumulative_incidence.png"
#: Tidy vintage-group curves on both definitions (``cumulative_incidence_curves``).
VINTAGE_CURVES: Final = "vintage_curves.csv"

# apc
APC_JSON: Final = "apc.json"
APC_RESULT: Final = "apc_result.nc"
APC_SUMMARY: Final = "apc_summary.txt"
APC_COMPONENTS_PLOT: Final = "apc_components.png"
APC_FITTED_CURVES_PLOT: Final = "apc_fitted_vintage_curves.png"
APC_RESIDUALS_PLOT: Final = "apc_residuals.png"
APC_IDATA: Final = "apc_idata.nc"
#: The attrition model (non-default exits: payoff, closure), an APC result like :data:`APC_RESULT`.
APC_ATTRITION_RESULT: Final = "apc_attrition_result.nc"

# unbiased
COMPARISON: Final = "comparison.json"
COST_OF_FAIRNESS: Final = "cost_of_fairness.json"
FORECASTS: Final = "forecasts.parquet"
ACCOUNT_SCORES: Final = "account_scores.parquet"
DEPENDENCE_CSV: Final = "dependence.csv"
#: One coefficient table per score model: ``COEFFICIENTS.format(name=model)``.
COEFFICIENTS: Final = "coefficients_{name}.csv"
#: Glob matching every :data:`COEFFICIENTS` file.
COEFFICIENTS_GLOB: Final = "coefficients_*.csv"
#: The whole fitted procedure (settings, models as JSON), beside forecasts and scores.
UNBIASED_RESULT_JSON: Final = "unbiased_result.json"
UNBIASED_SUMMARY: Final = "unbiased_summary.txt"
ROC_PLOT: Final = "roc.png"
DEPENDENCE_PLOT: Final = "dependence.png"
CALIBRATION_PLOT: Final = "calibration.png"
#: The proxy diagnostic (paper's Table 1): restricted x credit input correlations with intervals.
PROXY_CORRELATIONS: Final = "proxy_correlations.csv"

# audit
AUDIT_JSON: Final = "audit.json"
AUDIT_HTML: Final = "audit.html"
AUDIT_FAIRNESS_PLOT: Final = "audit_fairness.png"
AUDIT_GAPS_PLOT: Final = "audit_gaps.png"

# stress
STRESS_JSON: Final = "stress.json"
STRESS_MONTHS: Final = "stress_months.csv"
ACCOUNT_CUMULATIVE_PD: Final = "account_cumulative_pd.parquet"
MACRO_MODEL_TXT: Final = "macro_model.txt"
MACRO_MODEL_FIT_PLOT: Final = "macro_model_fit.png"
ENVIRONMENT_SCENARIOS_PLOT: Final = "environment_scenarios.png"
FAN_CHART_PLOT: Final = "fan_chart.png"
FAN_CHART_BY_SCENARIO_PLOT: Final = "fan_chart_by_scenario.png"

# report / demo
REPORT_HTML: Final = "report.html"
RESULTS_JSON: Final = "results.json"
#: Which data the results in an output folder come from (CLI; ``apcfair report`` refuses to mix).
DATA_FINGERPRINT: Final = "data_fingerprint.json"
#: Sub-folder of ``apcfair demo`` holding the synthetic input data.
DEMO_DATA: Final = "data"

# experiment
EXPERIMENT_PARQUET: Final = "experiment.parquet"
EXPERIMENT_JSON: Final = "experiment.json"
EXPERIMENT_FRONTIER_PLOT: Final = "experiment_frontier.png"
EXPERIMENT_PARETO_PLOT: Final = "experiment_pareto.png"
#: ``apcfair experiment --bootstrap``: spread of the cost and dependence change across replicates.
EXPERIMENT_BOOTSTRAP_PLOT: Final = "experiment_bootstrap.png"
