"""``UnbiasedByDesign`` on the Dask backend equals the in-memory procedure (issue 18).

The same synthetic portfolio (data_synth, 4,000 accounts) as one Parquet file, read into
memory, and as 3 Parquet parts validated on a local cluster of 2 worker processes (one
thread each) whose score-model passes run on the workers
(:class:`apcfair.unbiased.partitioned.DaskScores`). Tolerances: coefficients and standard
errors of the three logit models 1e-10 (the Newton sums are added per part, in another
order); AUCs, Ginis, cumulative PDs and scores 1e-10; the boosted trees' scores too (the
per-account gradients are the same arithmetic, so the trees are the same); cells exactly.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from apcfair import load_portfolio
from apcfair.errors import DataValidationError
from apcfair.unbiased import UnbiasedByDesign
from data_synth import SynthConfig, generate_portfolio

distributed = pytest.importorskip("distributed")

SETTINGS = {"restricted": ["minority", "sex"], "credit": ["bureau_score", "total_deposits"], "n_boot": 20,
            "gbm_params": {"n_estimators": 15}}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    base = tmp_path_factory.mktemp("unbiased_parts")
    sim = generate_portfolio(SynthConfig(n_accounts=4000, seed=5, start="2014-01"))
    sim.loans.to_parquet(base / "loans.parquet", index=False)
    (base / "parts").mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(sim.loans)), 3)):
        sim.loans.iloc[rows].to_parquet(base / "parts" / f"part-{i}.parquet", index=False)
    sim.panel().iloc[:5000].to_parquet(base / "panel.parquet", index=False)
    return base


@pytest.fixture(scope="module")
def cluster_client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        yield client


#: Over 20 s on the shared 2-core machine (two whole procedures with trees, a process cluster: ~50 s setup).
SLOW = pytest.mark.slow


@pytest.fixture(scope="module")
def fits(data, cluster_client):
    from apcfair.unbiased.partitioned import DaskScores

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        memory = UnbiasedByDesign(**SETTINGS).fit(load_portfolio(str(data / "loans.parquet"))).result_
        portfolio, backend = DaskScores.load(str(data / "parts"), cluster_client)
        dask = UnbiasedByDesign(**SETTINGS).fit(portfolio, backend=backend).result_
    return memory, dask, portfolio, backend


@SLOW
def test_logit_coefficients_equal_in_memory(fits):
    memory, dask, _, _ = fits
    assert set(memory.coefficient_tables) == {"restricted", "credit", "credit_with_restricted_offset"}
    for name, table in memory.coefficient_tables.items():
        other = dask.coefficient_tables[name]
        assert list(other["term"]) == list(table["term"]), name
        for col in ("estimate", "std_error"):
            np.testing.assert_allclose(other[col], table[col], rtol=0, atol=1e-10, err_msg=f"{name} {col}")
    assert dask.restricted_centre == pytest.approx(memory.restricted_centre, abs=1e-10)


@SLOW
def test_aucs_scores_and_forecasts_equal_in_memory(fits):
    memory, dask, _, _ = fits
    a, b = memory.comparison, dask.comparison
    assert list(a["model"]) == list(b["model"]) and "gbm_credit_restricted_zero" in set(a["model"])
    num = ["auc_in", "auc_out", "gini_in", "gini_out"]
    np.testing.assert_allclose(b[num].to_numpy(float), a[num].to_numpy(float), rtol=0, atol=1e-10)
    sa, sb = memory.account_scores, dask.account_scores
    assert list(sa.columns) == list(sb.columns)
    np.testing.assert_allclose(sb.iloc[:, 1:].to_numpy(float), sa.iloc[:, 1:].to_numpy(float), rtol=0, atol=1e-10)
    fa, fb = memory.forecasts, dask.forecasts
    cols = [c for c in fa.columns if c.startswith("cum_pd")]
    np.testing.assert_allclose(fb[cols].to_numpy(float), fa[cols].to_numpy(float), rtol=0, atol=1e-10)
    assert dask.calibrating_constant == pytest.approx(memory.calibrating_constant, abs=1e-10)


@SLOW
def test_cells_and_apc_equal_in_memory(fits, data):
    memory, dask, portfolio, backend = fits
    one = load_portfolio(str(data / "loans.parquet"))
    pd.testing.assert_frame_equal(portfolio.cells().table, one.cells().table)
    assert backend.bounds[-1] == one.n_accounts == 4000 and len(backend.parts) == 3
    np.testing.assert_array_equal(dask.apc_result.lifecycle["mean"], memory.apc_result.lifecycle["mean"])
    n = {m.n_account_months_ for m in dask.models.values() if m is not None}
    assert n == {m.n_account_months_ for m in memory.models.values() if m is not None}


def test_backfit_and_panel_refused(data, dask_client):
    from apcfair.unbiased.partitioned import DaskScores

    portfolio = load_portfolio(str(data / "loans.parquet"))
    with pytest.raises(ValueError, match="backfit=1 refits the APC functions"):
        UnbiasedByDesign(**SETTINGS, backfit=1).fit(portfolio, backend=object())
    with pytest.raises(DataValidationError, match="panel data set"):
        DaskScores.load(str(data / "panel.parquet"), dask_client)


def test_small_book_equal_in_memory_on_in_process_cluster(tmp_path, dask_client):
    """The fast check (in-process cluster of 2 workers, 1,500 accounts): coefficients to 1e-10."""
    from apcfair.unbiased.partitioned import DaskScores

    loans = generate_portfolio(SynthConfig(n_accounts=1500, seed=2, start="2015-01")).loans
    for i, rows in enumerate(np.array_split(np.arange(len(loans)), 2)):
        loans.iloc[rows].to_parquet(tmp_path / f"part-{i}.parquet", index=False)
    settings = {**SETTINGS, "gbm": False, "n_boot": 0, "attrition": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        memory = UnbiasedByDesign(**settings).fit(load_portfolio(loans)).result_
        portfolio, backend = DaskScores.load(str(tmp_path), dask_client)
        dask = UnbiasedByDesign(**settings).fit(portfolio, backend=backend).result_
    for name, table in memory.coefficient_tables.items():
        np.testing.assert_allclose(dask.coefficient_tables[name]["estimate"], table["estimate"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(dask.comparison["auc_out"], memory.comparison["auc_out"], rtol=0, atol=1e-10)
