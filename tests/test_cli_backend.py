"""``--backend memory|dask``, ``--workers``, ``--scheduler`` on validate, vintage and apc.

A partitioned data set (a folder or a glob of Parquet parts) gives the same summary,
cells and APC fit as the same rows in one file, on the memory backend and on a Dask cluster
(here an in-process cluster of 2 workers reached by ``--scheduler``; a local cluster of worker
processes started by ``--workers 2``, vintage and apc end to end are slow tests).
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from apcfair.cli import main
from data_synth import SynthConfig, generate_portfolio


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    base = tmp_path_factory.mktemp("backend")
    loans = generate_portfolio(SynthConfig(n_accounts=2000, seed=5, start="2014-01")).loans
    loans.to_parquet(base / "loans.parquet", index=False)
    (base / "parts").mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(loans)), 3)):
        loans.iloc[rows].to_parquet(base / "parts" / f"part-{i}.parquet", index=False)
    return base


@pytest.fixture(scope="module")
def scheduler(dask_client):
    return dask_client.scheduler.address


def _summary(argv, capsys) -> dict:
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    return out["summary"]


def test_validate_partitioned_equals_one_file_on_both_backends(data, scheduler, capsys):
    ref = _summary(["validate", "--data", str(data / "loans.parquet")], capsys)
    assert _summary(["validate", "--data", str(data / "parts")], capsys) == ref
    assert _summary(["validate", "--data", str(data / "parts" / "part-*.parquet"), "--backend", "dask",
                     "--scheduler", scheduler], capsys) == ref
    assert ref["accounts"] == 2000


@pytest.mark.slow  # ~30-75 s on the shared 2-core machine (plots, the APC fit twice)
def test_vintage_cells_equal_on_dask(data, scheduler, tmp_path):
    assert main(["vintage", "--data", str(data / "loans.parquet"), "--out", str(tmp_path / "m"), "-q"]) == 0
    assert main(["vintage", "--data", str(data / "parts"), "--backend", "dask", "--scheduler", scheduler,
                 "--out", str(tmp_path / "d"), "-q"]) == 0
    for name in ("cells.csv", "vintage_curves.csv"):
        assert (tmp_path / "m" / name).read_bytes() == (tmp_path / "d" / name).read_bytes(), name


@pytest.mark.slow  # ~30-75 s on the shared 2-core machine (plots, the APC fit twice)
def test_apc_fit_on_dask_cells_equals_memory(data, scheduler, tmp_path):
    common = ["--engine", "laplace", "--seed", "0", "-q"]
    assert main(["apc", "--data", str(data / "loans.parquet"), "--out", str(tmp_path / "m"), *common]) == 0
    assert main(["apc", "--data", str(data / "parts"), "--backend", "dask", "--scheduler", scheduler,
                 "--out", str(tmp_path / "d"), *common]) == 0
    m = json.loads((tmp_path / "m" / "apc.json").read_text())
    d = json.loads((tmp_path / "d" / "apc.json").read_text())
    assert m["lifecycle"] == d["lifecycle"] and m["environment"] == d["environment"]


def test_backend_dask_without_dask_names_the_extra(data, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    code = main(["validate", "--data", str(data / "parts"), "--backend", "dask"])
    assert code != 0
    assert 'pip install "apcfair[dask]"' in capsys.readouterr().err


def test_unreachable_scheduler_says_so(data, capsys):
    code = main(["validate", "--data", str(data / "parts"), "--scheduler", "not-a-scheduler-address"])
    err = capsys.readouterr().err
    assert code == 2 and "--scheduler not-a-scheduler-address: cannot connect" in err


def test_backend_options_declared_on_the_three_commands(capsys):
    for cmd in ("validate", "vintage", "apc", "unbiased"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        text = capsys.readouterr().out
        assert "--backend {memory,dask}" in text and "--workers" in text and "--scheduler ADDRESS" in text


@pytest.mark.slow
def test_local_cluster_of_worker_processes(data, capsys):
    ref = _summary(["validate", "--data", str(data / "loans.parquet")], capsys)
    assert _summary(["validate", "--data", str(data / "parts"), "--backend", "dask", "--workers", "2"],
                    capsys) == ref


UNBIASED = ["--restricted", "minority,sex", "--credit", "bureau_score,total_deposits", "--n-boot", "0",
            "--no-attrition", "--gbm-params", '{"n_estimators": 5}', "--seed", "0", "-q"]


@pytest.mark.slow  # ~30-60 s on the shared 2-core machine (the procedure twice, outputs and plots)
def test_unbiased_on_dask_equals_memory(data, scheduler, tmp_path):
    """Coefficients of the three logit models to 1e-10, AUCs to 1e-10, the APC fit (on the cells) identical."""
    import pandas as pd

    assert main(["unbiased", "--data", str(data / "loans.parquet"), "--out", str(tmp_path / "m"), *UNBIASED]) == 0
    assert main(["unbiased", "--data", str(data / "parts"), "--backend", "dask", "--scheduler", scheduler,
                 "--out", str(tmp_path / "d"), *UNBIASED]) == 0
    for name in ("restricted", "credit", "credit_with_restricted_offset"):
        m = pd.read_csv(tmp_path / "m" / f"coefficients_{name}.csv")
        d = pd.read_csv(tmp_path / "d" / f"coefficients_{name}.csv")
        assert list(m["term"]) == list(d["term"])
        np.testing.assert_allclose(d["estimate"], m["estimate"], rtol=0, atol=1e-10)
    m = json.loads((tmp_path / "m" / "comparison.json").read_text())
    d = json.loads((tmp_path / "d" / "comparison.json").read_text())
    assert [(r["model"], r["sample"]) for r in m] == [(r["model"], r["sample"]) for r in d]
    np.testing.assert_allclose([[r["auc"], r["auc_all_accounts"]] for r in d],
                               [[r["auc"], r["auc_all_accounts"]] for r in m], rtol=0, atol=1e-10)
    m, d = (json.loads((tmp_path / k / "apc.json").read_text()) for k in ("m", "d"))
    assert m["lifecycle"] == d["lifecycle"] and m["environment"] == d["environment"]  # the APC fit on equal cells


def test_unbiased_dask_refuses_backfit(data, capsys):
    code = main(["unbiased", "--data", str(data / "parts"), "--backend", "dask", "--backfit", "1",
                 "--out", "unused", *UNBIASED])
    assert code == 2 and "--backfit 1 refits the APC functions" in capsys.readouterr().err
