"""corr_changes with n_boot=0 (the CLI allows --n-boot 0): a point estimate, no interval."""

import numpy as np

from apcfair.unbiased.dependence import corr_changes


def test_no_bootstrap_gives_the_point_change_and_no_interval():
    rng = np.random.default_rng(0)
    g = rng.integers(0, 2, 500)
    base = rng.normal(size=500) + 0.5 * g
    other = base - 0.3 * g
    out = corr_changes({"traditional": base, "zeroed": other}, "traditional", g, n_boot=0)["zeroed"]
    with_boot = corr_changes({"traditional": base, "zeroed": other}, "traditional", g, n_boot=50)["zeroed"]
    assert out["difference"] == with_boot["difference"] < 0
    assert np.isnan(out["lower"]) and np.isnan(out["upper"])
    assert out["significant"] is None and "no interval" in out["method"]
