"""Cell aggregation by counting equals brute-force aggregation of the materialised panel."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from apcfair.portfolio import Portfolio, cumulative_default_curves, monthly_pd_curves
from apcfair.portfolio.periods import format_period


@st.composite
def loan_tables(draw):
    n = draw(st.integers(1, 40))
    rows = []
    for i in range(n):
        v = draw(st.integers(24228, 24240))
        life = draw(st.integers(1, 15))
        entry = draw(st.integers(1, life))
        d = draw(st.booleans())
        delayed = draw(st.booleans())
        choices = ["", "Default", "default"] if d else ["", "payoff", "CLOSED", " censored ", "Payoff"]
        rows.append((i, v, v + life, int(d), v + entry if delayed else None, draw(st.sampled_from(choices))))
    df = pd.DataFrame(rows, columns=["account_id", "o", "l", "default", "f", "x"])
    out = pd.DataFrame({
        "account_id": df["account_id"],
        "origination": format_period(df["o"]),
        "last_month": format_period(df["l"]),
        "default": df["default"],
        "first_month": [None if pd.isna(x) else format_period([int(x)])[0] for x in df["f"]],
    })
    if draw(st.booleans()):  # with a recorded exit column, or exits inferred from last_month
        out["exit"] = df["x"]
    return out


def brute_force(loans: pd.DataFrame, data: pd.DataFrame) -> pd.DataFrame:
    """Materialise account-months from the raw table; the exit read or inferred by hand."""
    end = loans["last_month"].max()
    raw = data.set_index("account_id")
    rows = []
    for r in loans.itertuples():
        recorded = str(raw.loc[r.account_id].get("exit", "") or "").strip().lower()
        other_exit = (not r.default) and (recorded in ("payoff", "closed")
                                          or (recorded == "" and r.last_month < end))
        for t in range(r.first_month, r.last_month + 1):
            last = t == r.last_month
            rows.append((r.vintage, t - r.vintage, t, int(r.default and last), int(other_exit and last)))
    panel = pd.DataFrame(rows, columns=["vintage", "age", "period", "d", "x"])
    g = panel.groupby(["vintage", "age", "period"], as_index=False).agg(
        defaults=("d", "sum"), at_risk=("d", "size"), attrition=("x", "sum"))
    return g.sort_values(["vintage", "age"]).reset_index(drop=True)


@settings(max_examples=60, deadline=None)
@given(loan_tables())
def test_loan_cells_equal_brute_force(df):
    p = Portfolio.from_loans(df)
    got = p.cells().table
    want = brute_force(p.loans, df)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_dtype=False)


@settings(max_examples=30, deadline=None)
@given(loan_tables())
def test_panel_input_gives_the_same_cells(df):
    p = Portfolio.from_loans(df)
    rows = []
    for r in p.loans.itertuples():
        for t in range(r.first_month, r.last_month + 1):
            last = t == r.last_month
            rows.append((r.account_id, t, r.vintage, int(r.default and last), r.exit if last else ""))
    panel = pd.DataFrame(rows, columns=["account_id", "month", "origination", "default", "exit"])
    panel["month"] = format_period(panel["month"])
    panel["origination"] = format_period(panel["origination"])
    q = Portfolio.from_panel(panel)
    pd.testing.assert_frame_equal(q.cells().table, p.cells().table, check_dtype=False)


def test_cells_csv_layout(tmp_path):
    df = pd.DataFrame({"account_id": [1, 2], "origination": ["2019-01", "2019-01"],
                       "last_month": ["2019-03", "2019-02"], "default": [0, 1]})
    cells = Portfolio.from_loans(df).cells()
    cells.to_csv(tmp_path / "cells.csv")
    out = pd.read_csv(tmp_path / "cells.csv")
    assert list(out.columns) == ["vintage", "age", "period", "defaults", "at_risk", "attrition"]
    assert out["attrition"].tolist() == [0, 0]  # account 1 reaches the data's last month: censored
    assert out["vintage"].tolist() == ["2019-01", "2019-01"]
    assert out["period"].tolist() == ["2019-02", "2019-03"]
    assert "aggregate to 2 (vintage, age) cells" in cells.lineage.steps[-1].stage


def test_kaplan_meier_matches_cell_product_limit(rng):
    n = 3000
    v = rng.integers(24228, 24240, n)
    life = rng.integers(1, 30, n)
    d = rng.random(n) < 0.3
    df = pd.DataFrame({"account_id": np.arange(n), "origination": format_period(v),
                       "last_month": format_period(v + life), "default": d.astype(int)})
    p = Portfolio.from_loans(df)
    km = cumulative_default_curves(p, by="year")
    cells = p.cells().table
    by_age = cells.groupby("age")[["defaults", "at_risk"]].sum()
    plim = 1 - np.cumprod(1 - by_age["defaults"] / by_age["at_risk"])
    k = km.set_index("age")["cum_default"]
    common = k.index.intersection(plim.index)
    # discrete-time KM on monthly ages is exactly the product-limit over cells
    np.testing.assert_allclose(k.loc[common].to_numpy(), plim.loc[common].to_numpy(), atol=1e-10)
    curves = monthly_pd_curves(p.cells())
    assert set(curves.columns) == {"group", "age", "defaults", "at_risk", "pd"}
