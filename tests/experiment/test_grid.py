"""Grid parsing and validation (no procedure runs), resumability with a stand-in task."""

from __future__ import annotations

import pandas as pd
import pytest

from apcfair.experiment import ExperimentGrid, parse_grid_option
from apcfair.experiment import runner as runner_mod
from apcfair.experiment.grid import seed_for, synth_kwargs


def test_parse_types_and_dotted_knobs():
    assert parse_grid_option("proxy_strength=0,0.5,1") == ("proxy_strength", [0.0, 0.5, 1.0])
    assert parse_grid_option("n_accounts=1000,2000") == ("n_accounts", [1000, 2000])
    assert parse_grid_option("score_centring=portfolio") == ("score_centring", ["portfolio"])
    kw = synth_kwargs({"protected_effect.minority": 0.0})
    assert kw["protected_effect"] == {"minority": 0.0, "male": 0.1, "age_per_decade": -0.1}


@pytest.mark.parametrize("text, words", [
    ("proxy=0,1", "unknown knob 'proxy'"),
    ("protected_effect.majority=1", "unknown knob"),
    ("seed=1,2", "cannot be varied"),
    ("proxy_strength", "KNOB=v1,v2"),
    ("proxy_strength=a", "not a float"),
    ("n_accounts=1.5", "not a int"),
])
def test_bad_options_name_the_problem(text, words):
    with pytest.raises(ValueError, match=words):
        parse_grid_option(text)


def test_every_cell_is_validated_before_any_work():
    with pytest.raises(ValueError, match="proxy_strength=2.0 must be in"):
        ExperimentGrid({"proxy_strength": [0.0, 2.0]}, seeds=1, accounts=1000)
    with pytest.raises(ValueError, match="both varied"):
        ExperimentGrid({"proxy_strength": [0.0]}, fixed={"proxy_strength": 1.0})
    with pytest.raises(ValueError, match="repeats a value"):
        ExperimentGrid({"proxy_strength": [0.0, 0.0]})


def test_seeds_depend_on_seed_and_cell():
    a, b = {"proxy_strength": 0.0}, {"proxy_strength": 1.0}
    assert seed_for(0, a) == seed_for(0, dict(a))
    assert len({seed_for(0, a), seed_for(1, a), seed_for(0, b)}) == 3
    g = ExperimentGrid({"proxy_strength": [0.0, 1.0]}, seeds=2, accounts=1000)
    assert g.config(a, 1).seed == seed_for(1, a) and g.config(a, 1).n_accounts == 1000


def _fake_task(grid, cell, seed, procedure, out):
    from pathlib import Path

    calls.append((tuple(cell.items()), seed))
    frame = pd.DataFrame({**{k: [v] * 2 for k, v in cell.items()}, "seed": seed, "model": ["credit", "credit"],
                          "metric": ["auc_out", "corr_minority"], "value": [0.7 + seed / 100, 0.1]})
    path = runner_mod.part_path(Path(out), cell, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return 0.0


calls: list = []


def test_resumable_second_run_does_nothing_and_gives_identical_parquet(tmp_path, monkeypatch):
    monkeypatch.setattr(runner_mod, "run_task", _fake_task)
    calls.clear()
    g = ExperimentGrid({"proxy_strength": [0.0, 1.0], "protected_effect.minority": [0.0, 0.8]}, seeds=2,
                       accounts=1000)
    first = runner_mod.run_experiment(g, tmp_path, progress=False)
    assert first["ran"] == 8 and len(calls) == 8
    data = (tmp_path / "experiment.parquet").read_bytes()
    # an interrupted run: one part lost -> only that one is rerun
    runner_mod.part_path(tmp_path, g.cells()[1], 1).unlink()
    again = runner_mod.run_experiment(g, tmp_path, progress=False)
    assert again["ran"] == 1 and again["skipped"] == 7
    third = runner_mod.run_experiment(g, tmp_path, progress=False)
    assert third["ran"] == 0 and len(calls) == 9
    assert (tmp_path / "experiment.parquet").read_bytes() == data
    table = pd.read_parquet(tmp_path / "experiment.parquet")
    assert list(table.columns) == ["proxy_strength", "protected_effect.minority", "seed", "model", "metric", "value"]
    summary = third["summary"]
    assert len(summary["cells"]) == 4
    auc = summary["cells"][0]["models"]["credit"]["auc_out"]
    assert auc["n_seeds"] == 2 and auc["mean"] == pytest.approx(0.705)


def test_cli_refuses_bad_knob_before_work(tmp_path):
    from apcfair.cli.main import main

    code = main(["experiment", "--grid", "proxy=0,1", "--out", str(tmp_path / "x")])
    assert code == 2
    assert not (tmp_path / "x").exists()
