"""Dates are read strictly: one format per column, detected once, reported, overridable."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from apcfair.errors import DataValidationError
from apcfair.portfolio import Lineage, Portfolio, to_period_code
from apcfair.portfolio.periods import (
    DATE_FORMATS,
    check_date_format,
    detect_date_format,
    format_period,
    parse_periods,
)
from apcfair.portfolio.portfolio import current_period, plausible_window

DEC19, JAN20 = 2019 * 12 + 11, 2020 * 12


@pytest.mark.parametrize(
    ("values", "fmt", "codes"),
    [
        (["2019-12", "2020-01"], "iso", [DEC19, JAN20]),
        (["2019-12-31", "2020-01-01"], "iso", [DEC19, JAN20]),
        (["2019/12/31", "2020/1/5"], "iso", [DEC19, JAN20]),
        (["2019-12-31T23:59:59", "2020-01-01 08:00:00+01:00"], "iso", [DEC19, JAN20]),
        ([201912, 202001], "yyyymm", [DEC19, JAN20]),
        (["201912", "202001"], "yyyymm", [DEC19, JAN20]),
        ([201912.0, 202001.0], "yyyymm", [DEC19, JAN20]),
        ([20191231, 20200102], "yyyymmdd", [DEC19, JAN20]),
        (["31/12/2019", "01/01/2020"], "dd/mm/yyyy", [DEC19, JAN20]),
        (["31.12.2019", "1.1.2020"], "dd/mm/yyyy", [DEC19, JAN20]),
        (["12/31/2019", "1/2/2020"], "mm/dd/yyyy", [DEC19, JAN20]),
        (["Dec 2019", "31-Jan-2020"], "month-name", [DEC19, JAN20]),
        (["31DEC2019", "January 2020"], "month-name", [DEC19, JAN20]),
        ([DEC19, JAN20], "code", [DEC19, JAN20]),
    ],
)
def test_each_format_is_detected_and_parsed(values, fmt, codes):
    p = parse_periods(values, column="origination")
    assert p.date_format == fmt and p.how == "detected"
    assert p.codes.tolist() == codes


def test_real_dates_need_no_format():
    for values in (pd.to_datetime(["2019-12-15", "2020-01-31"]),
                   pd.Series([dt.date(2019, 12, 1), dt.datetime(2020, 1, 1)]),
                   pd.Series(pd.period_range("2019-12", periods=2, freq="M"))):
        p = parse_periods(values)
        assert p.codes.tolist() == [DEC19, JAN20] and p.describe() == "datetime (dtype)"


def test_distinct_values_are_parsed_once_and_mapped_back():
    rng = np.random.default_rng(0)
    codes = rng.integers(2005 * 12, 2020 * 12, 50_000)
    labels = np.array(format_period(np.arange(2005 * 12, 2020 * 12)), dtype=object)[codes - 2005 * 12]
    labels[::97] = None
    got = to_period_code(labels)
    want = np.where(pd.isna(labels), -1, codes)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    ("values", "needle", "fix"),
    [
        ([43466, 43497], "Excel serial day numbers", "date_format='excel'"),
        ([1546300800, 1548979200], "Unix time in seconds", "date_format='unix'"),
        ([1546300800000], "Unix time in milliseconds", "date_format='unix_ms'"),
        ([2019, 2020], "look like years", "YYYY-MM"),
        ([5, 17, 300], "neither YYYYMM", "date_format="),
        (["01/02/2020", "03/04/2020"], "no value decides it", "date_format='dd/mm/yyyy'"),
        (["31/01/2020", "01/31/2020"], "mixes day-first", "YYYY-MM-DD"),
        (["soon", "later"], "not dates in any format", "date_format="),
        ([True, False], "True/False", "YYYY-MM"),
    ],
)
def test_unreadable_columns_name_the_column_an_example_and_the_fix(values, needle, fix):
    with pytest.raises(DataValidationError) as err:
        parse_periods(values, column="origination")
    msg = str(err.value)
    assert msg.startswith("column 'origination': ") and "\n" not in msg
    assert needle in msg and "Fix:" in msg and fix in msg


def test_ambiguous_day_month_is_decided_by_another_column_or_by_date_format():
    ambiguous = ["01/02/2020", "01/03/2020"]
    assert detect_date_format(ambiguous, context=[["25/02/2020"]]) == "dd/mm/yyyy"
    assert detect_date_format(ambiguous, context=[["02/25/2020"]]) == "mm/dd/yyyy"
    assert parse_periods(ambiguous, date_format="mm/dd/yyyy").codes.tolist() == [JAN20, JAN20]
    assert parse_periods(ambiguous, date_format="DMY").describe() == "dd/mm/yyyy (given)"


def test_given_formats_excel_unix_and_strftime():
    assert parse_periods([43830], date_format="excel").codes.tolist() == [DEC19]
    assert parse_periods([1577836800], date_format="unix").codes.tolist() == [JAN20]
    assert parse_periods(["31.12.2019"], date_format="%d.%m.%Y").codes.tolist() == [DEC19]
    with pytest.raises(DataValidationError, match="no value fits date_format='yyyymm'"):
        parse_periods(["2019-12"], date_format="yyyymm")
    with pytest.raises(ValueError, match="date_format='julian' is not allowed"):
        check_date_format("julian")
    assert set(DATE_FORMATS) >= {"iso", "yyyymm", "quarter", "dd/mm/yyyy", "mm/dd/yyyy", "excel"}


def test_quarters_need_freq_q_and_months_become_quarters_with_a_note():
    with pytest.raises(DataValidationError, match=r"holds quarters .* Fix: pass freq='Q'"):
        parse_periods(["2019Q4", "2020Q1"])
    q = parse_periods(["2019Q4", "2019-Q4", "2019 Q4", "Q4 2019"], freq="Q")
    assert q.codes.tolist() == [2019 * 4 + 3] * 4 and q.note == ""
    m = parse_periods(["2019-10", "2019-12", "2020-01"], freq="Q")
    assert m.codes.tolist() == [2019 * 4 + 3, 2019 * 4 + 3, 2020 * 4]
    assert "mapped to the quarter" in m.note


def test_values_outside_the_detected_format_are_unparseable_rows():
    p = parse_periods(["2019-12", "2020-01", "12/2019", None, ""])
    assert p.date_format == "iso"
    assert p.codes.tolist() == [DEC19, JAN20, -1, -1, -1]


def test_plausible_window_cuts_at_a_ten_year_gap_and_today():
    base = np.arange(2005 * 12, 2020 * 12)
    assert plausible_window([base]) == (2005 * 12, 2019 * 12 + 11)
    lo, hi = plausible_window([np.append(base, [1919 * 12, 2099 * 12])])
    assert (lo, hi) == (2005 * 12, 2019 * 12 + 11)
    # a continuous old book is never cut, however far back it goes
    old = np.arange(1960 * 12, 2020 * 12, 60)
    assert plausible_window([old])[0] == 1960 * 12
    assert plausible_window([np.array([3000 * 12])])[1] == current_period()
    assert plausible_window([np.array([-1])]) is None


def _loans(orig, last):
    n = len(orig)
    return pd.DataFrame({"account_id": np.arange(n), "origination": orig, "last_month": last,
                         "default": np.zeros(n, dtype=int)})


def test_date_format_is_recorded_in_lineage_and_describe():
    df = _loans([201901, 201902], ["2019-06-30", "2019-12-31"])
    p = Portfolio.from_loans(df)
    assert p.lineage.date_formats == {"origination": "yyyymm (detected)", "last_month": "iso (detected)"}
    assert p.describe()["date_formats"] == p.lineage.date_formats
    assert "dates read: origination yyyymm (detected)" in p.lineage.summary()
    assert Lineage.from_dict(p.lineage.to_dict()) == p.lineage
    q = Portfolio.from_loans(df.assign(origination=["01/2019", "02/2019"]),
                             date_format={"origination": "%m/%Y"})
    assert q.loans["vintage"].tolist() == [2019 * 12, 2019 * 12 + 1]
    assert q.lineage.date_formats["origination"] == "%m/%Y (given)"
    with pytest.raises(ValueError, match="not date columns"):
        Portfolio.from_loans(df, date_format={"opened": "iso"})


def test_day_first_loans_are_read_right_whatever_the_row_order():
    rng = np.random.default_rng(5)
    n = 5000
    v = rng.integers(2015 * 12, 2019 * 12, n)
    life = rng.integers(1, 40, n)

    def dmy(codes):
        days = rng.integers(1, 29, len(codes))
        return [f"{d:02d}/{c % 12 + 1:02d}/{c // 12}" for c, d in zip(codes, days, strict=True)]

    p = Portfolio.from_loans(_loans(dmy(v), dmy(v + life)))
    assert p.lineage.date_formats["origination"] == "dd/mm/yyyy (detected)"
    np.testing.assert_array_equal(p.loans["vintage"], v)
    np.testing.assert_array_equal(p.loans["last_month"], v + life)


@pytest.mark.parametrize(("typo", "needle"), [("2099-01", "in the future"), ("1919-05", "far outside the rest")])
def test_implausible_dates_stop_or_are_excluded_and_counted(typo, needle):
    orig = format_period(np.arange(2018 * 12, 2018 * 12 + 20))
    last = format_period(np.arange(2018 * 12 + 3, 2018 * 12 + 23))
    orig[4] = typo
    with pytest.raises(DataValidationError) as err:
        Portfolio.from_loans(_loans(orig, last))
    msg = str(err.value)
    assert needle in msg and "column 'origination'" in msg and repr(typo) in msg and "Fix:" in msg
    p = Portfolio.from_loans(_loans(orig, last), on_invalid="exclude")
    assert p.n_accounts == 19 and 4 not in p.loans["account_id"].tolist()
    assert sum(v for k, v in p.lineage.total_excluded.items() if needle in k) == 1


def test_future_last_month_is_refused():
    future = format_period([current_period() + 2])[0]
    with pytest.raises(DataValidationError, match=r"column 'last_month': 1 rows have last_month dates in the future"):
        Portfolio.from_loans(_loans(["2019-01", "2019-02"], ["2019-05", future]))


def test_many_distinct_date_times_give_the_same_codes_as_few():
    # above 5,000 distinct values ISO date-times are split into date and time parts first
    rng = np.random.default_rng(2)
    ts = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 5 * 365 * 86400, 8000), unit="s")
    tricky = ["2019-1-5 08:00", "2019-12-31T25:00", "2019-12-99", "2019-12-3113:45", "2020-01-01T00:30:00+01:00"]
    values = list(ts.strftime("%Y-%m-%dT%H:%M:%S")) + tricky
    many = parse_periods(values).codes
    few = np.concatenate([parse_periods(values[i:i + 1000]).codes for i in range(0, len(values), 1000)])
    np.testing.assert_array_equal(many, few)
    assert many[-5:].tolist() == [2019 * 12, -1, -1, -1, JAN20]
    np.testing.assert_array_equal(many[:-5], ts.year * 12 + ts.month - 1)
