"""adverse_impact_ratio from counts (factorize + bincount) equals the former per-group
boolean-mask implementation exactly, for every kind of group column users pass."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apcfair.audit.metrics import adverse_impact_ratio, impact_ratio


def _former(forecast, groups, approval_rate=0.8):
    f = np.asarray(forecast, dtype=float)
    g = pd.Series(groups).astype("string").fillna("NA").to_numpy()
    cut = float(np.quantile(f, approval_rate))
    approved = f <= cut
    group_rates = {str(k): float(approved[g == k].mean()) for k in pd.unique(g)}
    names, values = list(group_rates), np.fromiter(group_rates.values(), dtype=float)
    high, low = int(np.argmax(values)), int(np.argmin(values))
    ratio = impact_ratio(values[low], values[high])
    return {"cutoff_pd": cut, "approval_rate": approval_rate, "group_approval_rates": group_rates,
            "air": ratio, "lowest_group": names[low], "four_fifths_pass": bool(ratio >= 0.8)}


rng = np.random.default_rng(7)
N = 3000
CASES = {
    "strings with None": np.where(rng.random(N) < 0.05, None, rng.choice(["F", "M", "X"], N)).astype(object),
    "ints": rng.integers(0, 4, N),
    "floats with NaN": np.where(rng.random(N) < 0.1, np.nan, rng.integers(0, 3, N).astype(float)),
    "bools": rng.random(N) < 0.3,
    "categorical": pd.Categorical(rng.choice(["b", "a", "c"], N), categories=["c", "b", "a", "unused"]),
    "string dtype with NA": pd.array(np.where(rng.random(N) < 0.05, None, rng.choice(["x", "y"], N)), dtype="string"),
    "mixed 1 and '1' and 'NA'": np.array([1, "1", "NA", None, 2.5] * (N // 5), dtype=object),
}


@pytest.mark.parametrize("name", list(CASES))
def test_counts_equal_the_former_masks(name):
    f = rng.uniform(size=N)
    f[::7] = 0.5  # ties at the cut-off side
    new, old = adverse_impact_ratio(f, CASES[name], 0.8), _former(f, CASES[name], 0.8)
    assert new == old
    assert list(new["group_approval_rates"]) == list(old["group_approval_rates"])  # order of appearance
