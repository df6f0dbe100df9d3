"""``apcfair demo``: the whole workflow on the built-in synthetic portfolio.

synth → validation and lineage → vintage curves → APC → unbiased-by-design comparison →
fairness audit → stress scenarios → ``report.html`` and ``results.json``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

#: Restricted inputs of the demo: the paper's zip-level census proxies plus individual
#: protected attributes (available in synthetic data; rarely in real lending data).
DEMO_RESTRICTED = ["median_age", "mf_ratio", "persons_per_household", "asian_frac", "black_frac",
                   "native_american_frac", "native_hawaiian_frac", "hispanic_frac", "age", "sex", "race_ethnicity"]
#: Credit inputs at origination, as in the paper's Table 2.
DEMO_CREDIT = ["bureau_score", "interest_rate", "subcategory", "credit_limit", "balance_transfer",
               "total_loan_balance", "total_deposits"]
DEMO_PROTECTED = ["minority", "sex", "age"]


def _age_group(age: pd.Series) -> pd.Series:
    return pd.cut(age, [0, 25, 40, 60, 200], right=False, labels=["<25", "25-39", "40-59", "60+"]).astype(str)


def run_audit_step(result, portfolio, folder: Path, seed: int, approval_rate: float = 0.8):
    """Audit the calibrated unbiased-by-design forecast on out-of-sample accounts with a
    complete horizon, beside the traditional credit model."""
    import matplotlib.pyplot as plt

    from apcfair._io import write_json
    from apcfair.audit import audit

    fc = result.forecasts
    horizon = result.settings["horizon"]
    loans = portfolio.loans
    complete = (loans["vintage"].to_numpy() + horizon) <= portfolio.window[1]
    wide = fc.pivot(index="account_id", columns="model", values="cum_pd").loc[loans["account_id"]]
    y = fc[fc["model"] == "credit"].set_index("account_id").loc[loans["account_id"], "defaulted_within_horizon"].to_numpy()
    sample = fc[fc["model"] == "credit"].set_index("account_id").loc[loans["account_id"], "sample"].to_numpy()
    m = complete & (sample == "out")
    score = wide["credit_restricted_mean"].to_numpy()[m]
    cutoff = float(np.quantile(score, approval_rate))
    groups = pd.DataFrame({"sex": loans["sex"].to_numpy()[m], "race_ethnicity": loans["race_ethnicity"].to_numpy()[m],
                           "age_group": _age_group(loans["age"]).to_numpy()[m]})
    vyear = (loans["vintage"].to_numpy()[m] // 12).astype(int)
    res = audit(score, y[m], groups, cutoff=cutoff, polarity="pd", control=vyear, n_boot=200,
                intersections=[("sex", "race_ethnicity")],
                compare={"traditional credit model": wide["credit"].to_numpy()[m]},
                score_name="unbiased-by-design 36-month PD (restricted term at calibrated constant)",
                caveats=["Synthetic data: protected attributes are simulated, so the audit illustrates the method."],
                random_state=seed)
    write_json(folder / "audit.json", res.to_dict())
    (folder / "audit.html").write_text(res.to_html(), encoding="utf-8")
    for name, fn in (("audit_fairness.png", res.plot_fairness), ("audit_gaps.png", res.plot_gaps)):
        try:
            ax = fn()
        except Exception:  # noqa: BLE001 - a plot must never sink the run
            continue
        ax.figure.savefig(folder / name, dpi=100, bbox_inches="tight")
        plt.close(ax.figure)
    return res


def run_stress_step(result, portfolio, apc, data_dir: Path, folder: Path, horizon: int, seed: int):
    """Macro model for H(t) on the synthetic macro history, three scenarios, fan charts."""
    import matplotlib.pyplot as plt

    from apcfair._io import write_json
    from apcfair.forecast import MacroModel, StressTest, read_macro_history, read_scenarios

    macro = read_macro_history(data_dir / "macro_history.csv")
    scenarios = read_scenarios(data_dir / "scenarios.csv")
    model = MacroModel(drivers=["unemployment_change", "gdp_growth"], random_state=seed).fit(apc, macro)
    projection = model.project(scenarios)
    scores = result.account_scores["credit_restricted_mean"].to_numpy()
    stress = StressTest(horizon=horizon, random_state=seed).fit(portfolio, apc, projection, account_scores=scores).result_
    write_json(folder / "stress.json", stress.to_json_dict())
    (folder / "macro_model.txt").write_text(model.summary() + "\n")
    for name, fn in (("fan_chart.png", stress.plot_fan_chart), ("environment_scenarios.png", projection.plot)):
        try:
            ax = fn()
        except Exception:  # noqa: BLE001
            continue
        fig = ax.figure if hasattr(ax, "figure") else np.ravel(ax)[0].figure
        fig.savefig(folder / name, dpi=100, bbox_inches="tight")
        plt.close(fig)
    return model, stress


def run_demo(out: str | Path = "apcfair-demo", accounts: int = 146_500, seed: int = 0, progress: bool = True) -> dict:
    """Run the whole workflow and write ``report.html`` and ``results.json`` into ``out``.

    Parameters
    ----------
    out : path
        Output folder (written atomically: it appears only when complete).
    accounts : int
        Size of the synthetic portfolio.
    seed : int
        Seed of every random step.
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        The content of ``results.json``.
    """
    from tqdm.auto import tqdm

    from apcfair._io import atomic_output_dir, write_json
    from apcfair._provenance import provenance
    from apcfair.apc import APCModel
    from apcfair.cli import write_apc_outputs, write_vintage_outputs
    from apcfair.portfolio import Portfolio, read_table
    from apcfair.report import write_report
    from apcfair.unbiased import UnbiasedByDesign
    from apcfair.unbiased.cli import write_unbiased_outputs
    from data_synth import SynthConfig, write_portfolio

    steps = ["synthetic portfolio", "validation and vintage curves", "APC", "unbiased by design", "fairness audit",
             "stress scenarios", "report"]
    timings: dict[str, float] = {}
    horizon = 36
    with atomic_output_dir(out) as tmp, tqdm(total=len(steps), desc="apcfair demo", disable=not progress) as bar:
        def step(name):
            bar.set_postfix_str(name)
            return time.perf_counter()

        def done(name, t):
            timings[name] = round(time.perf_counter() - t, 2)
            bar.update(1)

        t = step(steps[0])
        data_dir = tmp / "data"
        write_portfolio(data_dir, SynthConfig(n_accounts=accounts, seed=seed))
        done(steps[0], t)

        t = step(steps[1])
        portfolio = Portfolio.from_loans(read_table(data_dir / "loans.parquet"),
                                         source=str(Path(out) / "data" / "loans.parquet"))
        write_vintage_outputs(portfolio, tmp)
        done(steps[1], t)

        t = step(steps[2])
        apc = APCModel(random_state=seed).fit(portfolio.cells()).result_
        write_apc_outputs(apc, tmp)
        done(steps[2], t)

        t = step(steps[3])
        ubd = UnbiasedByDesign(restricted=DEMO_RESTRICTED, credit=DEMO_CREDIT, protected=DEMO_PROTECTED,
                               horizon=horizon, random_state=seed).fit(portfolio)
        result = ubd.result_
        write_unbiased_outputs(result, tmp)
        done(steps[3], t)

        t = step(steps[4])
        audit_res = run_audit_step(result, portfolio, tmp, seed)
        done(steps[4], t)

        t = step(steps[5])
        macro_model, stress = run_stress_step(result, portfolio, apc, data_dir, tmp, horizon, seed)
        done(steps[5], t)

        t = step(steps[6])
        audit_dict = audit_res.to_dict()
        stress_dict = stress.to_json_dict()
        results = {
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
        write_json(tmp / "results.json", results)
        write_report(tmp, title=f"apcfair demo: synthetic card portfolio ({accounts:,} accounts, seed {seed})")
        done(steps[6], t)
    return results
