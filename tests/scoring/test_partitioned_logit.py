"""The offset logit fitted with its account-month passes per part equals the in-memory fit (1e-10)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apcfair.offsets import OffsetTable
from apcfair.portfolio import load_portfolio
from apcfair.portfolio.periods import to_period_code
from apcfair.scoring import OffsetLogit
from apcfair.scoring.partitioned import fit_offset_logit_parts
from data_synth import SynthConfig, generate_portfolio

ATTRS = ["bureau_score", "interest_rate", "subcategory", "sex"]


@pytest.fixture(scope="module")
def book():
    sp = generate_portfolio(SynthConfig(n_accounts=6000, seed=21))
    loans = load_portfolio(sp.loans).loans
    t = sp.truth
    offset = OffsetTable(age_min=1, lifecycle=np.asarray(t["lifecycle"]["value"]) + t["mu"],
                         period_min=int(to_period_code([t["environment"]["month"][0]])[0]),
                         environment=np.asarray(t["environment"]["value"]))
    return loans, offset


@pytest.mark.parametrize("backend", ["memory", "dask"])
def test_coefficients_equal_the_in_memory_fit(book, backend, request):
    loans, offset = book
    rng = np.random.default_rng(3)
    r = rng.normal(0, 0.3, len(loans))  # a per-account offset (the restricted model's score, say)
    whole = OffsetLogit(method="accounts", vintage_dummies=False).fit(loans, ATTRS, offset, account_offset=r)
    blocks = np.array_split(np.arange(len(loans)), 3)
    client = request.getfixturevalue("dask_client") if backend == "dask" else None
    parts = fit_offset_logit_parts(OffsetLogit(), [loans.iloc[b] for b in blocks], ATTRS, offset,
                                   account_offset=[r[b] for b in blocks], client=client)
    assert parts.newton.converged
    assert list(parts.coef.index) == list(whole.coef_.index)
    np.testing.assert_allclose(parts.coef.to_numpy(), whole.coef_.to_numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(parts.newton.loglik, whole.loglik_, rtol=1e-12)
    cov = np.linalg.inv(parts.newton.hessian)
    np.testing.assert_allclose(cov, whole.cov_.to_numpy(), rtol=1e-8, atol=1e-14)


@pytest.mark.filterwarnings("ignore:sparse levels merged")  # the same merge in both fits
@pytest.mark.parametrize("backend", ["memory", "dask"])
def test_parquet_parts_read_where_they_are_fitted(tmp_path, backend, request):
    from data_synth.partitioned import write_partitioned

    paths = write_partitioned(tmp_path, SynthConfig(n_accounts=3000, seed=4), partitions=3)
    loans = load_portfolio(pd.read_parquet(paths["loans"])).loans
    offset = OffsetTable(age_min=1, lifecycle=np.full(200, -5.0), period_min=loans["first_month"].min(),
                         environment=np.zeros(200))
    whole = OffsetLogit(method="accounts").fit(loans, ATTRS, offset)
    client = request.getfixturevalue("dask_client") if backend == "dask" else None
    parts = fit_offset_logit_parts(OffsetLogit(), paths["loans"], ATTRS, offset, client=client)
    np.testing.assert_allclose(parts.coef.to_numpy(), whole.coef_.to_numpy(), rtol=0, atol=1e-10)
