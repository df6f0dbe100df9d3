"""data_synth writes a partitioned portfolio part by part; apcfair reads it as one book."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from apcfair.cli import main
from apcfair.portfolio import load_portfolio
from apcfair.portfolio.partitioned import load_partitioned
from data_synth import SynthConfig, generate_portfolio, write_portfolio
from data_synth.partitioned import part_sizes, write_partitioned

CFG = SynthConfig(n_accounts=4000, seed=7)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    base = tmp_path_factory.mktemp("synth_parts")
    return write_partitioned(base / "p3", CFG, partitions=3), write_portfolio(base / "one", CFG)


def test_one_part_is_the_unpartitioned_generator(tmp_path):
    cfg = SynthConfig(n_accounts=500, seed=3)
    paths = write_partitioned(tmp_path, cfg, partitions=1)
    pd.testing.assert_frame_equal(pd.read_parquet(paths["loans"]), generate_portfolio(cfg).loans)


def test_parts_share_the_truth_and_draw_their_own_accounts(written):
    parts, one = written
    t3, t1 = json.loads(parts["truth"].read_text()), json.loads(one["truth"].read_text())
    for key in ("lifecycle", "vintage", "environment", "payoff_hazard", "macro_beta"):
        assert t3[key] == t1[key], key  # the same F, G, H and payoff hazard as the one-file book
    pd.testing.assert_frame_equal(pd.read_csv(parts["macro_history"]), pd.read_csv(one["macro_history"]))
    assert t3["counts"]["accounts"] == 4000 and t3["partitions"]["accounts_per_part"] == [1334, 1333, 1333]
    loans = pd.read_parquet(parts["loans"])
    assert loans["account_id"].tolist() == list(range(1, 4001))
    # independent streams: parts are not copies of each other
    files = sorted(parts["loans"].iterdir())
    a, b = (pd.read_parquet(f) for f in files[:2])
    assert not np.allclose(a["bureau_score"].to_numpy()[:1333], b["bureau_score"].to_numpy()[:1333])
    # each part spreads its accounts over vintages by the same weights: within 3 of the one-file split
    ref = pd.read_parquet(one["loans"])["origination"].value_counts()
    got = loans["origination"].value_counts().reindex(ref.index)
    assert (got - ref).abs().max() <= 3
    # the realised default rate matches the one-file book's target (binomial SD at 4,000: 0.004)
    assert abs(t3["default_rate"]["realised"] - CFG.default_rate_target) < 0.015
    assert t3["counts"]["defaults"] == int(loans["default"].sum())


def test_written_data_set_reads_as_one_book(written):
    parts, _ = written
    whole = pd.read_parquet(parts["loans"])
    ref = load_portfolio(whole)
    got = load_partitioned(parts["loans"])
    pd.testing.assert_frame_equal(got.cells().table, ref.cells().table)
    assert got.describe() == ref.describe()


def test_part_sizes_and_cli(tmp_path, capsys):
    assert part_sizes(7, 7).tolist() == [1] * 7
    with pytest.raises(ValueError, match="partitions=8"):
        part_sizes(7, 8)
    out = tmp_path / "s"
    assert main(["synth", "--accounts", "600", "--partitions", "3", "--panel", "--out", str(out), "-q"]) == 0
    assert sorted(p.name for p in (out / "loans").iterdir()) == [f"part-0000{k}.parquet" for k in range(3)]
    assert len(list((out / "panel").iterdir())) == 3
    capsys.readouterr()
    assert main(["validate", "--data", str(out / "panel"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["accounts"] == 600
    assert main(["synth", "--accounts", "6000000", "--out", str(tmp_path / "big")]) != 0
    assert "--partitions 2" in capsys.readouterr().err
