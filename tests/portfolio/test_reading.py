"""CSV columns are typed without losing information; CSV and Parquet give the same Portfolio."""

import numpy as np
import pandas as pd
import pytest

from apcfair import load_portfolio
from apcfair.portfolio import read_table
from apcfair.portfolio.reading import identifier_kind, type_text_column
from data_synth import SynthConfig, generate_portfolio


@pytest.mark.parametrize(
    ("name", "values", "dtype", "how"),
    [
        ("zip5", ["04872", "10115"], object, "text (leading zeros kept, e.g. '04872')"),
        ("branch", ["007", "12"], object, "text (leading zeros kept, e.g. '007')"),
        ("zip", ["10115", "20095"], object, "text (identifier-like name)"),
        ("account_id", ["17", "18"], np.int64, "integer (identifier)"),
        ("account_id", ["17", None], object, "text (identifier with missing values)"),
        ("customer_id", ["A-1", "B-2"], object, "text (identifier)"),
        ("score", ["600", "650"], np.int64, "integer"),
        ("score", ["600", None], np.float64, "number (integers with missing values)"),
        ("delta", ["-5", "+3"], np.int64, "integer"),
        ("rate", ["1.5", "-2e3", None], np.float64, "number"),
        ("flag", ["True", "false"], bool, "boolean"),
        ("big", ["12345678901234567890"], object, "text (integers too long for a 64-bit number)"),
        ("note", ["1_000", "2"], object, "text"),
        ("empty", [None, None], np.float64, "number (all values missing)"),
    ],
)
def test_typing_rules(name, values, dtype, how):
    s, got = type_text_column(name, pd.Series(values, dtype=object))
    assert got == how
    assert s.dtype == dtype


def test_identifier_names():
    assert [identifier_kind(n) for n in ("postcode", "ZIP_CODE", "fips", "loan_number", "id",
                                         "accountId", "valid", "paid_amount", "zipper")] == [
        "code", "code", "code", "id", "id", "id", None, None, None]


def test_csv_and_parquet_give_the_same_portfolio(tmp_path):
    loans = generate_portfolio(SynthConfig(n_accounts=1500, seed=11)).loans
    assert loans["zip5"].str.startswith("0").any()  # the case that used to break
    loans.to_csv(tmp_path / "loans.csv", index=False)
    loans.to_parquet(tmp_path / "loans.parquet", index=False)
    a = load_portfolio(tmp_path / "loans.csv")
    b = load_portfolio(tmp_path / "loans.parquet")
    pd.testing.assert_frame_equal(a.loans, b.loans, check_exact=True)
    assert a.attributes == b.attributes
    assert a.lineage.column_types["zip5"].startswith("text (leading zeros kept")
    assert b.lineage.column_types["zip5"] == "text"
    assert a.describe()["attribute_types"]["bureau_score"] == "integer"
    # the frame itself: every column equal to what was written
    frame = read_table(tmp_path / "loans.csv")
    for c in loans.columns:
        np.testing.assert_array_equal(frame[c].to_numpy(), loans[c].to_numpy())


def test_mapped_columns_keep_their_reading_types(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("id,opened,closed,bad,zip\n1,2019-01,2019-06,0,04872\n2,2019-02,2019-09,1,10115\n")
    p = load_portfolio(path, columns={"id": "account_id", "opened": "origination", "closed": "last_month",
                                      "bad": "default"})
    assert p.loans["zip"].tolist() == ["04872", "10115"]
    assert p.lineage.column_types == {"account_id": "integer (identifier)",
                                      "zip": "text (leading zeros kept, e.g. '04872')"}
