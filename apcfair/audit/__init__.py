"""Fairness audit and post-processing what-if tools for credit scores.

Arrays in (scores or decisions, outcomes, protected attributes, optional control feature),
result objects and HTML out. Conventions: ``y = 1`` is default (unfavourable); a
creditworthy applicant has ``y = 0``; approval is the favourable decision (for a PD score,
PD below the cut-off); TPR = P(approved | creditworthy), FPR = P(approved | default).

Main entry points
-----------------
audit
    Group metrics (via Fairlearn's ``MetricFrame``), gaps with bootstrap intervals and
    pass/fail flags, tests, power notes, intersections, strata -> :class:`AuditResult`.
performance
    AUC, Gini, KS, Brier, ECE of a score.
adverse_impact_ratio
    Group approval rates and their lowest / highest ratio when a share of the lowest PDs is
    approved (the arithmetic of the audit's ``dir`` gap, used by :mod:`apcfair.unbiased`).
EqualOpportunityThresholds, GroupCalibrator, ReviewRouter
    Post-processing what-if tools (they use the protected attribute at decision time).
shap_contributions, reason_codes, counterfactuals
    Explanations and adverse-action reasons (never a protected attribute).
revenue_foregone, intervention_roi
    Business impact with consistent arithmetic.

Every result (:class:`AuditResult`, :class:`InterventionReport`, :class:`RevenueForegone`,
:class:`ROIResult`, :class:`Contributions`, :class:`ReasonCodes`) has tidy frames,
``summary()`` (an :class:`apcfair._summary.Summary`: text that renders as HTML),
``to_json_dict()``, ``save()``/``load()`` (JSON) and, where it draws, ``plot_*(ax=None)``.
The post-processors follow scikit-learn's estimator contract (``sklearn.base.clone`` works).
"""

from apcfair.audit.core import AuditResult, audit
from apcfair.audit.explain import (
    Contributions,
    ReasonCodes,
    borderline_rejections,
    counterfactuals,
    decrease,
    feature_groups,
    increase,
    reason_codes,
    shap_contributions,
    shift,
)
from apcfair.audit.groups import DEFAULT_THRESHOLDS
from apcfair.audit.impact import (
    RevenueForegone,
    ROIResult,
    balance_after,
    intervention_roi,
    loan_interest,
    revenue_foregone,
)
from apcfair.audit.metrics import (
    CONVENTIONS,
    adverse_impact_ratio,
    calibration_table,
    expected_calibration_error,
    ks_statistic,
    performance,
)
from apcfair.audit.postprocess import (
    WHAT_IF_NOTE,
    EqualOpportunityThresholds,
    GroupCalibrator,
    InterventionReport,
    ReviewRouter,
)
from apcfair.audit.stats import contingency_test, cramers_v, min_detectable_gap

__all__ = [
    "CONVENTIONS",
    "DEFAULT_THRESHOLDS",
    "WHAT_IF_NOTE",
    "AuditResult",
    "Contributions",
    "EqualOpportunityThresholds",
    "GroupCalibrator",
    "InterventionReport",
    "ROIResult",
    "ReasonCodes",
    "RevenueForegone",
    "ReviewRouter",
    "adverse_impact_ratio",
    "audit",
    "balance_after",
    "borderline_rejections",
    "calibration_table",
    "contingency_test",
    "counterfactuals",
    "cramers_v",
    "decrease",
    "expected_calibration_error",
    "feature_groups",
    "increase",
    "intervention_roi",
    "ks_statistic",
    "loan_interest",
    "min_detectable_gap",
    "performance",
    "reason_codes",
    "revenue_foregone",
    "shap_contributions",
    "shift",
]
