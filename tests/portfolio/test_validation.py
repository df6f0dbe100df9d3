"""Every bad-input case of the data contract gets a clear message; lineage counts rows."""

import numpy as np
import pandas as pd
import pytest

from apcfair.errors import DataValidationError
from apcfair.portfolio import Portfolio, load_portfolio


def loans(**over):
    df = pd.DataFrame(
        {
            "account_id": [1, 2, 3, 4],
            "origination": ["2019-01", "2019-01", "2019-02", "2019-03"],
            "last_month": ["2019-06", "2019-12", "2019-12", "2019-05"],
            "default": [1, 0, 0, 1],
            "score": [600, 650, 700, 580],
        }
    )
    for k, v in over.items():
        df[k] = v
    return df


def panel():
    rows = []
    for acct, orig, n, d in [(1, "2019-01", 4, 1), (2, "2019-02", 5, 0)]:
        start = pd.Period(orig, "M")
        for k in range(1, n + 1):
            rows.append((acct, str(start + k), orig, int(d and k == n), acct * 10))
    return pd.DataFrame(rows, columns=["account_id", "month", "origination", "default", "x"])


def test_valid_loans_round_trip():
    p = Portfolio.from_loans(loans())
    assert p.n_accounts == 4 and p.n_defaults == 2
    assert p.attributes == ("score",)
    assert p.lineage.rows_in == 4 and p.lineage.total_excluded == {}
    # 5 + 11 + 10 + 2 performance months
    assert p.n_account_months == 28


@pytest.mark.parametrize(
    ("change", "needle", "column"),
    [
        ({"last_month": ["2018-12", "2019-12", "2019-12", "2019-05"]}, "last_month before origination", "last_month"),
        ({"origination": ["2019-01", "garbage", "2019-02", "2019-03"]}, "unparseable origination", "origination"),
        ({"last_month": ["2019-06", None, "2019-12", "2019-05"]}, "unparseable last_month", "last_month"),
        ({"account_id": [1, 1, 3, 4]}, "duplicate accounts", "account_id"),
        ({"account_id": [1, None, 3, 4]}, "missing account_id", "account_id"),
        ({"default": [1, 2, 0, 1]}, "not 0 or 1", "default"),
        ({"default": [1, -1, 0, 1]}, "not 0 or 1", "default"),
        ({"default": [1, np.nan, 0, 1]}, "not 0 or 1", "default"),
        ({"last_month": ["2019-01", "2019-12", "2019-12", "2019-05"]}, "origination month itself", "default"),
        ({"first_month": ["2018-12", None, None, None]}, "first_month on or before origination", "first_month"),
    ],
)
def test_bad_loans_name_column_count_example_and_fix(change, needle, column):
    with pytest.raises(DataValidationError) as err:
        Portfolio.from_loans(loans(**change))
    msg = str(err.value)
    assert needle in msg
    assert f"column {column!r}" in msg
    assert "Fix:" in msg and "e.g. account_id" in msg
    assert "on_invalid='exclude'" in msg
    # excluding instead of raising counts every dropped row
    p = Portfolio.from_loans(loans(**change), on_invalid="exclude")
    assert p.lineage.rows_in == 4
    assert p.n_accounts + sum(p.lineage.total_excluded.values()) == 4
    assert any(needle in k for k in p.lineage.total_excluded)


def test_missing_column_message_names_it_and_the_mapping_fix():
    with pytest.raises(DataValidationError, match=r"missing required column\(s\) \['default'\]") as err:
        Portfolio.from_loans(loans().drop(columns="default"))
    assert "columns=" in str(err.value)


def test_column_mapping_and_format_detection(tmp_path):
    df = loans().rename(columns={"last_month": "end", "default": "bad"})
    p = load_portfolio(df, columns={"end": "last_month", "bad": "default"})
    assert p.kind == "loans" and p.n_accounts == 4
    path = tmp_path / "p.parquet"
    panel().to_parquet(path)
    assert load_portfolio(path).kind == "panel"
    csv = tmp_path / "l.csv"
    loans().to_csv(csv, index=False)
    assert load_portfolio(csv).n_accounts == 4
    with pytest.raises(DataValidationError, match="cannot tell whether"):
        load_portfolio(pd.DataFrame({"a": [1]}))


def test_no_performance_accounts_are_excluded_and_counted():
    df = loans(last_month=["2019-06", "2019-12", "2019-02", "2019-05"], default=[1, 0, 0, 1])
    p = Portfolio.from_loans(df)
    assert p.n_accounts == 3
    assert p.lineage.total_excluded == {"no performance month observed (last_month equals origination)": 1}
    assert "excluded 1" in p.lineage.summary()


def test_valid_panel_and_derived_loans():
    p = Portfolio.from_panel(panel())
    assert p.kind == "panel" and p.n_accounts == 2 and p.n_account_months == 9
    row = p.loans.set_index("account_id").loc[1]
    assert row["default"] == 1 and row["last_month"] - row["vintage"] == 4


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: pd.concat([d, d.iloc[[0]]]), "duplicate another row's (account_id, month)"),
        (lambda d: pd.concat([d, pd.DataFrame([(1, "2019-06", "2019-01", 0, 10)], columns=d.columns)]),
         "after the account's default month"),
        (lambda d: d.drop(index=6), "gaps"),
        (lambda d: d.assign(default=d["default"].replace({1: 3})), "not 0 or 1"),
        (lambda d: d.assign(month=d["month"].where(d.index != 0, "2018-12")), "on or before the account's origination"),
        (lambda d: d.assign(month=d["month"].where(d.index != 0, "13/13/13")), "unparseable month"),
        (lambda d: d.assign(origination=d["origination"].where(d.index != 1, "2018-11")), "origination differs"),
    ],
)
def test_bad_panels(mutate, needle):
    bad = mutate(panel())
    with pytest.raises(DataValidationError) as err:
        Portfolio.from_panel(bad)
    assert needle in str(err.value)
    p = Portfolio.from_panel(bad, on_invalid="exclude")
    assert p.n_account_months + sum(p.lineage.steps[0].excluded.values()) == len(bad)


def test_quarterly_periods():
    df = pd.DataFrame({"account_id": [1, 2], "origination": ["2019Q1", "2019Q2"],
                       "last_month": ["2019Q4", "2020Q1"], "default": [1, 0]})
    p = Portfolio.from_loans(df, freq="Q")
    cells = p.cells().to_frame()
    assert cells["vintage"].iloc[0] == "2019-Q1"
    assert cells["age"].max() == 3


def test_bad_option_is_named():
    with pytest.raises(ValueError, match="on_invalid='drop' is not allowed"):
        Portfolio.from_loans(loans(), on_invalid="drop")


def test_panel_attribute_named_age_is_refused_with_a_fix():
    bad = panel().assign(age=40)
    with pytest.raises(DataValidationError, match="clash with apcfair's own panel columns") as err:
        Portfolio.from_panel(bad)
    assert "--map age=borrower_age" in str(err.value)
    ok = Portfolio.from_panel(bad, columns={"age": "borrower_age"})
    assert (ok.panel["age"] >= 1).all() and "borrower_age" in ok.attributes
