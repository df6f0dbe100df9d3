"""``apcfair audit --model/--sample`` on a file whose group column is categorical (Parquet dictionary).

A level present only in the rows left out by ``--model``/``--sample`` is dropped for the audit,
so the audit equals the one of the same file with the group column as text (the library itself
still refuses a categorical with an empty level: tests/audit/test_validation.py).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from apcfair.cli.main import main


def _forecasts_like(n: int = 1200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sample = np.where(rng.random(n) < 0.5, "in", "out")
    sex = rng.choice(["F", "M"], n).astype(object)
    sex[(sample == "in") & (rng.random(n) < 0.05)] = "X"  # a level found only in-sample
    one = pd.DataFrame({"account_id": np.arange(n), "sample": sample, "sex": sex,
                        "defaulted_within_horizon": rng.integers(0, 2, n)})
    frames = [one.assign(model=m, cum_pd_exposure=rng.random(n)) for m in ("credit", "credit_restricted_zero")]
    return pd.concat(frames, ignore_index=True)


def test_subset_drops_levels_of_the_rows_left_out(tmp_path):
    text = _forecasts_like()
    cat = text.assign(sex=pd.Categorical(text["sex"], categories=["F", "M", "X"]),
                      model=pd.Categorical(text["model"]), sample=pd.Categorical(text["sample"]))
    outs = {}
    for name, df in (("text", text), ("categorical", cat)):
        path = tmp_path / f"{name}.parquet"
        df.to_parquet(path, index=False)
        out = tmp_path / f"audit_{name}"
        rc = main(["audit", "--data", str(path), "--model", "credit_restricted_zero", "--sample", "out",
                   "--score", "cum_pd_exposure", "--outcome", "defaulted_within_horizon", "--group", "sex",
                   "--n-boot", "20", "--outputs", "json", "--out", str(out)])
        assert rc in (0, 1)
        d = json.loads((out / "audit.json").read_text().replace(str(path), "DATA"))
        d["provenance"].pop("created_utc")
        outs[name] = d
    assert pd.read_parquet(tmp_path / "categorical.parquet")["sex"].dtype.name == "category"
    assert [g["group"] for g in outs["categorical"]["groups"]["sex"]] == ["F", "M"]
    assert outs["categorical"] == outs["text"]
