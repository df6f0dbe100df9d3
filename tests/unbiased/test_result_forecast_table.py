"""The result's forecasts held as per-account arrays (issue 19, memory): same frame, same Parquet file.

Reference implementations: the former ``Forecasts.to_frame`` (the frame the result stored before; a frozen copy below) and the
former ``write_forecasts`` (the whole frame in one ``pq.write_table``), copied below. Tolerance:
exact (values, dtypes, categories, row order, the file's schema and metadata).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from apcfair.report.demo import DEMO_CREDIT, DEMO_HORIZON, DEMO_PROTECTED, DEMO_RESTRICTED
from apcfair.unbiased import procedure as procedure_module
from apcfair.unbiased.result import ForecastTable, UnbiasedResult, write_forecasts
from apcfair.unbiased.stages import FORECAST_COLUMNS, Forecasts


def _old_write_forecasts(frame: pd.DataFrame, path) -> None:
    """``write_forecasts`` before issue 19's memory work (the whole frame at once)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"apcfair.columns"] = json.dumps(FORECAST_COLUMNS).encode()
    pq.write_table(table.replace_schema_metadata(meta), path)


def _synthetic_forecasts(n: int, models: list[str], *, attrition: bool, seed: int = 0) -> Forecasts:
    rng = np.random.default_rng(seed)

    def per_model():
        return {m: rng.random(n) for m in models}

    observed = pd.DataFrame({"defaulted": rng.integers(0, 2, n), "complete": rng.random(n) < 0.7})
    return Forecasts(scores={m: rng.normal(size=n) for m in models}, window=per_model(), expected=per_model(),
                     full=per_model(), calibrating_constant=0.1, observed=observed, exposure=per_model(),
                     unconditional=per_model() if attrition else {},
                     unconditional_window=per_model() if attrition else {})


def _former_to_frame(self, account_id, in_sample: np.ndarray, attributes: pd.DataFrame | None = None) -> pd.DataFrame:
    """``Forecasts.to_frame`` as it was before issue 19's memory work (a frozen copy: the reference).

    One row per account and model.

    Columns: ``account_id, sample, model, cum_pd, cum_pd_observed_window,
    defaulted_within_horizon`` (as before), then ``cum_pd_exposure`` (the model's
    probability of the observed outcome, see :attr:`exposure`), ``complete_horizon``
    (the whole horizon lies inside the data window), with an attrition model
    ``cum_pd_unconditional`` and ``cum_pd_unconditional_observed_window`` (default
    before any other exit; see :attr:`unconditional`), and the columns of
    ``attributes`` (the protected attributes). The definitions are in
    :data:`FORECAST_COLUMNS` (written into the Parquet file's metadata). ``sample``
    and ``model`` are categorical (one byte a row instead of a Python string: 291 ->
    141 MiB in memory at 146,500 accounts with the demo's attributes; group by them
    with ``observed=True``).
    """
    order = self.models
    n = len(in_sample)
    frame = pd.DataFrame({
        "account_id": np.tile(np.asarray(account_id), len(order)),
        "sample": pd.Categorical.from_codes(np.tile((~np.asarray(in_sample, dtype=bool)).astype(np.int8),
                                                    len(order)), categories=["in", "out"]),
        "model": pd.Categorical.from_codes(np.repeat(np.arange(len(order), dtype=np.int8), n),
                                           categories=order),
        "cum_pd": np.concatenate([self.full[m] for m in order]),
        "cum_pd_observed_window": np.concatenate([self.window[m] for m in order]),
        "defaulted_within_horizon": np.tile(self.observed["defaulted"].to_numpy(), len(order)),
    })
    if self.exposure:
        frame["cum_pd_exposure"] = np.concatenate([self.exposure[m] for m in order])
    if self.unconditional:
        frame["cum_pd_unconditional"] = np.concatenate([self.unconditional[m] for m in order])
        frame["cum_pd_unconditional_observed_window"] = np.concatenate(
            [self.unconditional_window[m] for m in order])
    frame["complete_horizon"] = np.tile(self.observed["complete"].to_numpy(bool), len(order))
    if attributes is not None:
        for col in attributes.columns:
            if col not in frame.columns:
                frame[col] = np.tile(attributes[col].to_numpy(), len(order))
    return frame


@pytest.mark.parametrize("attrition", [True, False])
def test_table_equals_the_former_frame_and_file(tmp_path, attrition):
    models = ["credit", "restricted", "credit_with_restricted_offset", "credit_restricted_zero",
              "credit_restricted_mean"]
    n = 257
    fc = _synthetic_forecasts(n, models, attrition=attrition)
    rng = np.random.default_rng(1)
    account_id = np.array([f"A{i:05d}" for i in rng.permutation(n)], dtype=object)
    in_sample = rng.random(n) < 0.5
    attrs = pd.DataFrame({"sex": rng.choice(["F", "M"], n).astype(object), "minority": rng.integers(0, 2, n),
                          "black_frac": rng.random(n),
                          "cum_pd": np.zeros(n)})  # a name the table already has: skipped, as before
    table = ForecastTable.from_forecasts(fc, account_id, in_sample, attrs)
    before = _former_to_frame(fc, account_id, in_sample, attrs)
    pd.testing.assert_frame_equal(table.to_frame(), before, check_exact=True)
    assert list(table.to_frame().dtypes) == list(before.dtypes)
    assert len(table) == len(before) == n * len(models)
    assert table.columns == list(before.columns)
    for m in models:  # one model's column, without the long frame
        np.testing.assert_array_equal(table.column("cum_pd_exposure", m),
                                      before.loc[before["model"] == m, "cum_pd_exposure"].to_numpy())
    np.testing.assert_array_equal(table.column("sex"), attrs["sex"].to_numpy())
    with pytest.raises(ValueError, match="differs by model"):
        table.column("cum_pd")
    frame = table.to_frame()  # a new frame each time: changing it leaves the result's arrays alone
    frame.loc[:, "cum_pd"] = -1.0
    frame.loc[:, "sex"] = "X"
    frame.loc[:, "account_id"] = "none"
    pd.testing.assert_frame_equal(table.to_frame(), before, check_exact=True)
    # the file: written model by model, read back as the whole frame written at once
    old, new = tmp_path / "old.parquet", tmp_path / "new.parquet"
    _old_write_forecasts(before, old)
    write_forecasts(table, new)
    assert pq.ParquetFile(new).metadata.num_row_groups == len(models)
    # probabilities without dictionary pages (they would fall back in every row group and
    # make the file larger than the one-group file); the labels keep theirs
    group = pq.ParquetFile(new).metadata.row_group(0)
    encodings = {group.column(i).path_in_schema: group.column(i).encodings for i in range(group.num_columns)}
    assert not any("DICTIONARY" in e for e in encodings["cum_pd"])
    assert any("DICTIONARY" in e for e in encodings["model"])
    s_old, s_new = pq.read_schema(old), pq.read_schema(new)
    assert s_new.equals(s_old, check_metadata=True)
    assert json.loads(s_new.metadata[b"apcfair.columns"]) == FORECAST_COLUMNS
    back_old, back_new = pd.read_parquet(old), pd.read_parquet(new)
    pd.testing.assert_frame_equal(back_new, back_old, check_exact=True)
    assert list(back_new["model"].cat.categories) == models
    assert pa.parquet.read_table(new).equals(pa.parquet.read_table(old))
    # a DataFrame is still accepted, and a loaded table holds the frame read
    write_forecasts(before, tmp_path / "frame.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "frame.parquet"), back_old, check_exact=True)
    loaded = ForecastTable.from_frame(back_new)
    assert loaded.to_frame() is back_new and loaded.models == models
    np.testing.assert_array_equal(loaded.column("cum_pd", "restricted"), fc.full["restricted"])


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A fitted procedure on 3,000 synthetic accounts, with the stage Forecasts it assembled."""
    from apcfair import load_portfolio
    from apcfair.unbiased import UnbiasedByDesign
    from data_synth import SynthConfig, generate_portfolio

    portfolio = load_portfolio(generate_portfolio(SynthConfig(n_accounts=3000, seed=3)).loans)
    seen = {}
    original = procedure_module.UnbiasedByDesign._result_of

    def spy(self, portfolio, in_sample, apc_result, models, gbms, forecasts, *args, **kwargs):
        seen.update(forecasts=forecasts, in_sample=in_sample)
        return original(self, portfolio, in_sample, apc_result, models, gbms, forecasts, *args, **kwargs)

    procedure_module.UnbiasedByDesign._result_of = spy
    try:
        result = UnbiasedByDesign(restricted=DEMO_RESTRICTED, credit=DEMO_CREDIT, protected=DEMO_PROTECTED,
                                  horizon=DEMO_HORIZON, random_state=0).fit(portfolio).result_
    finally:
        procedure_module.UnbiasedByDesign._result_of = original
    return portfolio, result, seen


def test_result_forecasts_equal_the_former_frame(fitted, tmp_path):
    portfolio, result, seen = fitted
    loans = portfolio.loans
    before = _former_to_frame(seen["forecasts"], loans["account_id"].to_numpy(), seen["in_sample"],
                                        loans[DEMO_PROTECTED])
    now = result.forecasts
    pd.testing.assert_frame_equal(now, before, check_exact=True)
    assert now is not result.forecasts  # built on access: the result holds the arrays only
    assert not any(isinstance(v, pd.DataFrame) and len(v) == len(now) for v in vars(result).values())
    # save / load: the file reads back as the frame, written model by model
    folder = result.save(tmp_path / "saved")
    assert pq.ParquetFile(folder / "forecasts.parquet").metadata.num_row_groups == len(result.forecast_table.models)
    back = UnbiasedResult.load(folder)
    pd.testing.assert_frame_equal(back.forecasts, pd.read_parquet(folder / "forecasts.parquet"), check_exact=True)
    old = tmp_path / "old.parquet"
    _old_write_forecasts(before, old)
    pd.testing.assert_frame_equal(back.forecasts, pd.read_parquet(old), check_exact=True)
    assert pq.read_schema(folder / "forecasts.parquet").equals(pq.read_schema(old), check_metadata=True)


def test_cli_audit_of_the_file_gives_the_same_numbers(fitted, tmp_path):
    """``apcfair audit --data forecasts.parquet --model credit_restricted_zero --sample out ...`` on the
    file written model by model and on the file written whole: the same audit.json."""
    from apcfair.cli.main import main

    portfolio, result, seen = fitted
    new = tmp_path / "new" / "forecasts.parquet"
    new.parent.mkdir()
    write_forecasts(result.forecast_table, new)
    old = tmp_path / "old" / "forecasts.parquet"
    old.parent.mkdir()
    _old_write_forecasts(result.forecasts, old)
    outs = {}
    for name, path in (("old", old), ("new", new)):
        out = tmp_path / f"audit_{name}"
        rc = main(["audit", "--data", str(path), "--model", "credit_restricted_zero", "--sample", "out",
                   "--score", "cum_pd_exposure", "--outcome", "defaulted_within_horizon", "--group", "sex,minority",
                   "--n-boot", "50", "--outputs", "json", "--out", str(out)])
        assert rc in (0, 1)
        outs[name] = json.loads((out / "audit.json").read_text().replace(str(path), "DATA"))
        outs[name]["provenance"].pop("created_utc")
    assert outs["new"] == outs["old"]
    assert outs["new"]["performance"]["auc"] > 0.5
