"""Cell-table input, safe defaults, the deviance table, model comparison and ArviZ export."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from apcfair.apc import APCModel, APCResult
from apcfair.errors import DataValidationError
from apcfair.portfolio import CellTable, read_cell_table
from tests.apc.fixtures import published

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "apc_reference"
BELGIAN = SHARED / "belgian_lung_cancer_female_1955_1974.csv"
needs_shared = pytest.mark.skipif(not BELGIAN.exists(), reason="shared reference data not beside the repo")
COLUMNS = {"age": "age_group", "period": "period_group", "events": "cases", "exposure": "person_years"}


def _belgian() -> CellTable:
    return read_cell_table(BELGIAN, **COLUMNS)


def _annual_table(n_age=8, n_period=40, seed=0, width=1, start=1960):
    """Poisson table on a grid of ``width`` units with a smooth truth and no seasonality."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_age):
        for j in range(n_period):
            age, period = 20 + width * i, start + width * j
            rate = np.exp(-7 + 0.25 * i + 0.1 * np.sin(j / 5))
            rows.append((float(age), period, rng.poisson(rate * 1e5), 1e5))
    return pd.DataFrame(rows, columns=["age", "period", "events", "exposure"])


@needs_shared
def test_belgian_deviance_table_reproduces_published_values():
    res = APCModel(engine="ml", random_state=0, n_draws=200).fit(_belgian()).result_
    table = res.deviance_table().set_index("model")
    for model, (dev, df) in published.BELGIAN_DEVIANCE.items():
        assert table.loc[model, "deviance"] == pytest.approx(dev, abs=published.DEVIANCE_TOL), model
        assert table.loc[model, "df"] == df, model
    assert table.loc["A", "df"] == 33  # 44 cells - 11 age levels
    tests = {(t["model"], t["against"]): t for t in res.diagnostics["lr_tests"]}
    drift = tests[("A", "Ad")]
    assert drift["df"] == 1 and drift["lr_statistic"] == pytest.approx(
        table.loc["A", "deviance"] - table.loc["Ad", "deviance"], abs=1e-9)
    assert tests[("AC", "APC")]["df"] == 2 and tests[("PC", "APC")]["df"] == 9
    # the APC model of the deviance table is the engine's own ML fit
    assert res.diagnostics["deviance"] == pytest.approx(table.loc["APC", "deviance"], abs=1e-6)


@needs_shared
def test_belgian_ml_outputs_are_the_mle():
    res = APCModel(engine="ml", random_state=0, n_draws=1000).fit(_belgian()).result_
    fitted = (res.cells["fitted_rate"] * res.cells["at_risk"]).sum()
    # Poisson ML with an intercept: fitted counts sum to the observed total exactly
    assert fitted == pytest.approx(published.BELGIAN_CASES, abs=1e-6)
    dd = res.second_differences("environment")
    np.testing.assert_allclose(dd["mean"], [e for e, _ in published.BELGIAN_PERIOD_DD], atol=published.DD_TOL)
    np.testing.assert_allclose(dd["sd"], [s for _, s in published.BELGIAN_PERIOD_DD], rtol=0.08)  # 1000 draws
    assert dd["index"].tolist() == [1960, 1965]
    assert res.settings["likelihood"] == "poisson"
    assert "Poisson" in res.diagnostics["likelihood_reason"]
    assert res.format_labels("lifecycle")[:2] == [25, 30]
    assert res.format_labels("vintage")[0] == 1880  # cohort = period - age


def test_float_labels_and_year_labels_on_a_five_year_grid():
    df = _annual_table(n_age=6, n_period=8, width=5)
    assert df["age"].dtype == float
    ct = read_cell_table(df)
    assert ct.width == 5 and ct.table["age"].max() - ct.table["age"].min() == 5
    ml = APCModel(engine="ml", random_state=0, n_draws=100).fit(ct).result_
    assert len(ml.lifecycle) == 6 and len(ml.environment) == 8 and len(ml.vintage) == 13
    lap = APCModel(random_state=0, n_draws=100).fit(df).result_  # a raw epi-layout frame works too
    assert len(lap.lifecycle) == 6 and lap.settings["seasonal_period"] is None
    # legacy layout with float labels (was an IndexError after the fit)
    legacy = ct.table[["age", "vintage", "period", "defaults", "at_risk"]].astype(float)
    res = APCModel(engine="ml", likelihood="poisson", n_draws=50).fit(legacy, freq="M").result_
    assert res.cells["age"].dtype == np.int64


def test_annual_tables_get_no_month_of_year_effects():
    res = APCModel(random_state=0, n_draws=100).fit(read_cell_table(_annual_table(n_period=40))).result_
    assert res.settings["seasonal_period"] is None and res.seasonal_effects() is None


def test_response_only_table_and_cohort_column():
    df = _annual_table(n_age=5, n_period=6).drop(columns="exposure")
    ct = read_cell_table(df)
    assert (ct.table["at_risk"] == 1).all() and any("exposure 1" in n for n in ct.notes)
    df["cohort"] = df["period"] - df["age"]
    by_cohort = read_cell_table(df.drop(columns="period"), period=None, cohort="cohort")
    pd.testing.assert_frame_equal(by_cohort.table[["age", "vintage", "period"]], ct.table[["age", "vintage", "period"]])


def test_unequal_widths_duplicates_and_bad_labels_are_refused_with_the_fix():
    df = pd.DataFrame([(a, p, 1, 10.0) for a in (25, 30, 35) for p in range(1970, 1976)],
                      columns=["age", "period", "events", "exposure"])
    assert read_cell_table(df).periods_per_age == 5  # bamp's periods_per_agegroup (tests/apc/test_unequal_widths.py)
    wider_periods = pd.DataFrame([(a, p, 1, 10.0) for a in (25, 26, 27) for p in (1970, 1975, 1980)],
                                 columns=["age", "period", "events", "exposure"])
    with pytest.raises(DataValidationError, match="1 wide but periods 5 wide.*whole multiple.*aggregate"):
        read_cell_table(wider_periods)
    with pytest.raises(DataValidationError, match="5 wide but periods 2 wide"):
        read_cell_table(df[df["period"] % 2 == 0])
    with pytest.raises(DataValidationError, match="not a multiple"):
        read_cell_table(df, period_width=2)
    with pytest.raises(DataValidationError, match="Lexis triangles"):
        read_cell_table(pd.concat([df, df]), period_width=1, age_width=1)
    bad = df.assign(age=df["age"] + 0.5)
    with pytest.raises(DataValidationError, match="not whole numbers"):
        read_cell_table(bad)
    with pytest.raises(DataValidationError, match="no column"):
        read_cell_table(df, events="cases")


def test_levels_without_events_are_dropped_by_ml_and_flagged():
    df = _annual_table(n_age=6, n_period=6, width=5)
    ct = read_cell_table(df)
    t = ct.table.copy()
    oldest = t["vintage"] == t["vintage"].min()  # the first cohort has a single cell
    t.loc[oldest, "defaults"] = 0
    ct = CellTable(t, ct.width, ct.origins)
    with pytest.warns(RuntimeWarning, match="not estimable"):
        ml = APCModel(engine="ml", random_state=0, n_draws=100).fit(ct).result_
    assert ml.diagnostics["levels_without_events"] == {"vintage": [int(t.loc[oldest, "vintage"].iloc[0])]}
    assert len(ml.cells) == len(t) - 1 and np.isfinite(ml.cells["fitted_rate"]).all()
    assert np.abs(ml.vintage["mean"]).max() < 5
    lap = APCModel(random_state=0, n_draws=100).fit(ct).result_
    assert len(lap.cells) == len(t) and any("without events" in w for w in lap.diagnostics["warnings"])


def test_model_comparison_drift_and_inference_data(tmp_path):
    import arviz as az

    ct = read_cell_table(_annual_table(n_age=6, n_period=10))
    res = APCModel(random_state=0, n_draws=300).fit(ct).result_
    mc = res.model_comparison()
    assert mc["pd"] > 0 and mc["dic"] == pytest.approx(mc["deviance_at_mean"] + 2 * mc["pd"])
    assert np.isfinite(mc["waic"])
    idata = res.to_inference_data()
    assert idata.posterior["F"].dims == ("chain", "draw", "age")
    assert idata.posterior["G"].dims == ("chain", "draw", "cohort")
    assert idata.log_likelihood["y"].shape == (1, 300, 60)
    # drift: identified, the same under another identification
    other = APCModel(random_state=0, n_draws=300, identification="no_vintage_trend").fit(ct).result_
    for w in ("equal", "events", "exposure"):
        assert res.drift(w)["mean"] == pytest.approx(other.drift(w)["mean"], abs=1e-9)
    from apcfair.outputs import write_apc_outputs

    write_apc_outputs(res, tmp_path)
    assert az.from_netcdf(tmp_path / "apc_idata.nc").posterior["H"].dims == ("chain", "draw", "period")
    with open(tmp_path / "apc_result.nc", "rb") as fh:
        assert fh.read(4) == b"\x89HDF"  # netCDF4
    assert az.from_netcdf(tmp_path / "apc_result.nc") is not None
    loaded = APCResult.load(tmp_path / "apc_result.nc")
    assert loaded.format_labels("vintage") == res.format_labels("vintage")
    payload = json.loads((tmp_path / "apc.json").read_text())
    assert set(payload["model_comparison"]) >= {"deviance_at_mean", "pd", "dic", "waic"}
    assert payload["likelihood"]["used"] == "poisson"


def test_old_netcdf3_results_still_load(tmp_path):
    import xarray as xr

    res = APCModel(random_state=0, n_draws=50).fit(read_cell_table(_annual_table(n_age=5, n_period=5))).result_
    path = res.save(tmp_path / "new.nc")
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        ds = ds.load()
    meta = str(ds["apcfair_meta"].item())
    old = ds.drop_vars("apcfair_meta").assign_attrs(apcfair_meta=meta)
    old.to_netcdf(tmp_path / "old.nc", engine="scipy")  # the format-1 layout
    back = APCResult.load(tmp_path / "old.nc")
    np.testing.assert_allclose(back.draws["lifecycle"], res.draws["lifecycle"])


@needs_shared
def test_cli_cells_writes_deviance_table(tmp_path):
    out = tmp_path / "apc"
    args = [sys.executable, "-m", "apcfair.cli", "apc", "--cells", str(BELGIAN), "--engine", "ml", "--draws", "200",
            "--out", str(out)] + [x for k, v in COLUMNS.items() for x in (f"--{k}", v)]
    run = subprocess.run(args, capture_output=True, text=True, env={"MPLBACKEND": "Agg", **__import__("os").environ})
    assert run.returncode == 0, run.stderr
    payload = json.loads((out / "apc.json").read_text())
    assert [r["model"] for r in payload["deviance_table"]] == ["APC", "AP", "AC", "PC", "Ad", "A"]
    assert payload["deviance_table"][0]["df"] == 18 and "lr_tests" in payload
    assert (out / "apc_idata.nc").exists()


def test_laplace_ccd_gives_continuous_precision_draws():
    ct = read_cell_table(_annual_table(n_age=6, n_period=10))
    res = APCModel(random_state=0, n_draws=400).fit(ct).result_
    d = res.diagnostics
    assert d["grid_points"] == 1 + 2 * 3 + 2**3 and "central composite" in d["design"]
    tau = res.draws["precision_environment"]
    assert len(np.unique(tau)) > 300  # split-normal draws, not 27 grid values
    assert sum(d["grid_weights"]) == pytest.approx(1.0)


@pytest.mark.slow
@needs_shared
def test_laplace_precision_quantiles_approach_nuts():
    """Belgian table, RW2: Laplace (CCD + split-normal) 95% precision quantiles vs NUTS."""
    ct = _belgian()
    lap = APCModel(random_state=0, n_draws=2000).fit(ct).result_
    nuts = APCModel(engine="nuts", random_state=0, n_draws=1000, nuts_chains=2, target_accept=0.95).fit(ct).result_
    for c in ("lifecycle", "vintage", "environment"):
        q_lap = np.quantile(np.log(lap.draws[f"precision_{c}"]), [0.025, 0.975])
        q_nuts = np.quantile(np.log(nuts.draws[f"precision_{c}"]), [0.025, 0.975])
        np.testing.assert_allclose(q_lap, q_nuts, atol=np.log(2.0), err_msg=c)  # within a factor 2
