"""Shared fixtures: small synthetic data with known truth."""

from __future__ import annotations

import os

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

# dcor (a test reference only: apcfair's own distance correlation is checked against it)
# compiles its numba kernels at import with cache=True. Importing it here, in the pytest
# main process before xdist starts its workers, writes the cache once; otherwise two
# workers compiling into the same cache files at the same time can abort the process.
# The workers themselves import it only in the tests that use it.
if not os.environ.get("PYTEST_XDIST_WORKER"):
    import dcor  # noqa: E402,F401,I001


V0 = 2005 * 12


def simulate_apc_cells(n_vintages=48, n_per_vintage=4000, seed=0, attrition=0.985):
    """Cells from a pure APC model with known F, G, H (no account heterogeneity).

    Window: vintages 0..n_vintages-1, periods 1..n_vintages (everything observed until
    period n_vintages). Returns the cell table and the true functions on their grids.
    """
    rng = np.random.default_rng(seed)
    amax = n_vintages
    A = np.arange(1, amax + 1)
    F = -4.8 + 0.6 * np.exp(-A / 3) + 0.5 * np.exp(-0.5 * ((A - 24) / 8) ** 2) - 0.004 * A
    V = np.arange(n_vintages)
    G = 0.3 * np.exp(-0.5 * ((V - n_vintages / 4) / 5) ** 2) + 0.002 * V
    t = np.arange(n_vintages + 1)
    H = 0.35 * np.exp(-0.5 * ((t - n_vintages / 2) / 6) ** 2) + 0.08 * np.sin(2 * np.pi * t / 12)
    rows = []
    for v in range(n_vintages):
        n = n_per_vintage
        for a in range(1, n_vintages - v + 1):
            p = expit(F[a - 1] + G[v] + H[v + a])
            d = rng.binomial(n, p)
            rows.append((v, a, v + a, d, n))
            n = int((n - d) * attrition)
            if n <= 0:
                break
    cells = pd.DataFrame(rows, columns=["vintage", "age", "period", "defaults", "at_risk"])
    # integer month codes (year * 12 + month - 1): vintage 0 is 2005-01
    cells["vintage"] += V0
    cells["period"] += V0
    return cells, {"lifecycle": F, "vintage": G, "environment": H}


@pytest.fixture(scope="session")
def apc_cells():
    return simulate_apc_cells()


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def dask_client():
    """A Dask client on an in-process local cluster of 2 workers (one thread each); skipped without dask."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        yield client
