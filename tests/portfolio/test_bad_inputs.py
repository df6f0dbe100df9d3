"""A corpus of bad inputs, as a careless or hurried user would give them (issue 17, data side).

Every case ends in one of two ways, never a silent wrong answer:

* ``error``: one ``DataValidationError`` (or ``ValueError``) on a single line that names
  the column or the file and says what to do (``Fix:``); or
* ``ok``: a correct result, checked against the truth the case was built from (and, where
  the reader changed something, a note in the lineage).
"""

import gzip
import os

import numpy as np
import pandas as pd
import pytest

from apcfair import load_portfolio
from apcfair.errors import DataValidationError
from apcfair.portfolio import Portfolio
from apcfair.portfolio.periods import format_period
from apcfair.portfolio.portfolio import current_period
from data_synth import SynthConfig, generate_portfolio

N = 24
V = 2018 * 12 + np.arange(N) % 12  # vintages 2018-01 .. 2018-12
LAST = V + 1 + np.arange(N) % 7
DAYS = 1 + (np.arange(N) * 5) % 28  # some days above 12, so day-first vs month-first is decidable


def _fmt(codes, pattern, days=DAYS):
    return [pattern.format(y=c // 12, m=c % 12 + 1, d=d) for c, d in zip(codes, days, strict=True)]


def _loans(orig=None, last=None, **extra):
    df = pd.DataFrame({"account_id": np.arange(N),
                       "origination": format_period(V) if orig is None else orig,
                       "last_month": format_period(LAST) if last is None else last,
                       "default": (np.arange(N) % 5 == 0).astype(int)})
    for k, v in extra.items():
        df[k] = v
    return df


def _excel(codes):
    ts = pd.to_datetime(pd.DataFrame({"year": codes // 12, "month": codes % 12 + 1, "day": 1}))
    return (ts - pd.Timestamp("1899-12-30")).dt.days.to_numpy()


def _epoch(codes, unit=1):
    ts = pd.to_datetime(pd.DataFrame({"year": codes // 12, "month": codes % 12 + 1, "day": 1}))
    return ts.astype("int64").to_numpy() // 10**9 * unit


def _panel(age="none", vintage="none", freq_rows="M"):
    rows = []
    for a, (v, last) in enumerate(zip(V, LAST, strict=True)):
        for t in range(v + 1, last + 1):
            rows.append((a, format_period([t])[0], format_period([v])[0], int(t == last and a % 5 == 0), t - v))
    df = pd.DataFrame(rows, columns=["account_id", "month", "origination", "default", "mob"])
    if age == "months on book":
        df["age"] = df["mob"]
    elif age == "borrower":
        df["age"] = 30 + df["account_id"]
    if vintage == "same":
        df["vintage"] = df["origination"]
    return df.drop(columns="mob")


def _right_loans(p, v=V, last=LAST):
    got = p.loans.set_index("account_id").loc[np.arange(N)]
    return (got["vintage"].to_numpy() == v).all() and (got["last_month"].to_numpy() == last).all()


def _write(tmp_path, name, data: bytes | str):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


GOOD_CSV = "account_id,origination,last_month,default\n1,2019-01,2019-06,1\n2,2019-02,2019-12,0\n"


# --------------------------------------------------------------------------- the corpus
# id: (make(tmp_path) -> zero-argument call, expected)
#   expected = ("error", [substrings]) or ("ok", check(result) -> bool)
CASES = {
    # ---- dates: formats
    "yyyymm integers": (lambda t: lambda: Portfolio.from_loans(
        _loans(V // 12 * 100 + V % 12 + 1, LAST // 12 * 100 + LAST % 12 + 1)), ("ok", _right_loans)),
    "yyyymm strings": (lambda t: lambda: Portfolio.from_loans(
        _loans(_fmt(V, "{y}{m:02d}"), _fmt(LAST, "{y}{m:02d}"))), ("ok", _right_loans)),
    "excel serials": (lambda t: lambda: Portfolio.from_loans(_loans(orig=_excel(V))),
                      ("error", ["column 'origination'", "Excel serial", "date_format='excel'"])),
    "excel serials, date_format given": (lambda t: lambda: Portfolio.from_loans(
        _loans(_excel(V), _excel(LAST)), date_format="excel"), ("ok", _right_loans)),
    "epoch seconds": (lambda t: lambda: Portfolio.from_loans(_loans(last=_epoch(LAST))),
                      ("error", ["column 'last_month'", "Unix time in seconds", "date_format='unix'"])),
    "epoch milliseconds": (lambda t: lambda: Portfolio.from_loans(_loans(last=_epoch(LAST, 1000))),
                           ("error", ["column 'last_month'", "milliseconds"])),
    "integers that are not dates": (lambda t: lambda: Portfolio.from_loans(_loans(orig=np.arange(N) + 1)),
                                    ("error", ["column 'origination'", "neither YYYYMM"])),
    "years only": (lambda t: lambda: Portfolio.from_loans(_loans(orig=V // 12)),
                   ("error", ["column 'origination'", "look like years"])),
    "dd/mm/yyyy, decidable": (lambda t: lambda: Portfolio.from_loans(
        _loans(_fmt(V, "{d:02d}/{m:02d}/{y}"), _fmt(LAST, "{d:02d}/{m:02d}/{y}"))), ("ok", _right_loans)),
    "mm/dd/yyyy, decidable": (lambda t: lambda: Portfolio.from_loans(
        _loans(_fmt(V, "{m}/{d}/{y}"), _fmt(LAST, "{m}/{d}/{y}"))), ("ok", _right_loans)),
    "dd/mm/yyyy, ambiguous": (lambda t: lambda: Portfolio.from_loans(
        _loans(orig=_fmt(V, "01/{m:02d}/{y}"))),
        ("error", ["column 'origination'", "no value decides it", "date_format='dd/mm/yyyy'"])),
    "dd/mm/yyyy, ambiguous, decided by the other column": (lambda t: lambda: Portfolio.from_loans(
        _loans(_fmt(V, "01/{m:02d}/{y}"), _fmt(LAST, "{d:02d}/{m:02d}/{y}"))), ("ok", _right_loans)),
    "dd/mm/yyyy, ambiguous, date_format given": (lambda t: lambda: Portfolio.from_loans(
        _loans(orig=_fmt(V, "01/{m:02d}/{y}")), date_format={"origination": "dd/mm/yyyy"}),
        ("ok", _right_loans)),
    "day-first and month-first mixed": (lambda t: lambda: Portfolio.from_loans(
        _loans(orig=_fmt(V[:12], "{d:02d}/{m:02d}/{y}", DAYS[:12])
                     + _fmt(V[12:], "{m:02d}/{d:02d}/{y}", DAYS[12:]))),
        ("error", ["column 'origination'", "mixes day-first"])),
    "quarters with freq M": (lambda t: lambda: Portfolio.from_loans(
        _loans(orig=[f"{c // 12}Q{c % 12 // 3 + 1}" for c in V])),
        ("error", ["column 'origination'", "holds quarters", "freq='Q'"])),
    "quarters with freq Q": (lambda t: lambda: Portfolio.from_loans(
        _loans([f"{c // 12}-Q{c % 12 // 3 + 1}" for c in V], [f"{c // 12} Q{c % 12 // 3 + 1}" for c in LAST + 3]),
        freq="Q"), ("ok", lambda p: (p.loans["vintage"].to_numpy() == V // 12 * 4 + V % 12 // 3).all())),
    "months with freq Q": (lambda t: lambda: Portfolio.from_loans(_loans(last=format_period(LAST + 3)), freq="Q"),
                           ("ok", lambda p: (p.loans["vintage"].to_numpy() == V // 12 * 4 + V % 12 // 3).all()
                            and any("mapped to the quarter" in n for n in p.lineage.notes))),
    "monthly panel with freq Q": (lambda t: lambda: Portfolio.from_panel(_panel(), freq="Q"),
                                  ("error", ["column 'month'", "monthly dates but freq='Q'", "aggregate"])),
    "datetime64 columns": (lambda t: lambda: Portfolio.from_loans(
        _loans(pd.to_datetime(_fmt(V, "{y}-{m:02d}-{d:02d}")), pd.to_datetime(_fmt(LAST, "{y}-{m:02d}-01")))),
        ("ok", _right_loans)),
    "ISO date-times": (lambda t: lambda: Portfolio.from_loans(
        _loans(orig=_fmt(V, "{y}-{m:02d}-{d:02d}T13:45:00Z"))), ("ok", _right_loans)),
    "month names": (lambda t: lambda: Portfolio.from_loans(
        _loans(orig=[pd.Timestamp(year=c // 12, month=c % 12 + 1, day=1).strftime("%b %Y") for c in V])),
        ("ok", _right_loans)),
    "period codes": (lambda t: lambda: Portfolio.from_loans(_loans(V, LAST)), ("ok", _right_loans)),
    "two formats in one column": (lambda t: lambda: Portfolio.from_loans(
        _loans(orig=format_period(V[:20]) + _fmt(V[20:], "{m:02d}/{d:02d}/{y}", DAYS[20:]))),
        ("error", ["column 'origination'", "4 rows have an unparseable origination", "iso"])),
    "True/False as dates": (lambda t: lambda: Portfolio.from_loans(_loans(orig=np.arange(N) % 2 == 0)),
                            ("error", ["column 'origination'", "True/False"])),
    "text that is no date": (lambda t: lambda: Portfolio.from_loans(_loans(orig=["soon"] * N)),
                             ("error", ["column 'origination'", "not dates in any format"])),
    # ---- dates: plausibility
    "typo 2099": (lambda t: lambda: Portfolio.from_loans(
        _loans(orig=format_period(V[:-1]) + ["2099-01"])),
        ("error", ["column 'origination'", "in the future", "'2099-01'"])),
    "typo 2099, excluded": (lambda t: lambda: Portfolio.from_loans(
        _loans(orig=format_period(V[:-1]) + ["2099-01"]), on_invalid="exclude"),
        ("ok", lambda p: p.n_accounts == N - 1 and any("in the future" in k for k in p.lineage.total_excluded))),
    "typo 1919": (lambda t: lambda: Portfolio.from_loans(
        _loans(orig=format_period(V[:-1]) + ["1919-05"])),
        ("error", ["column 'origination'", "far outside the rest of the data", "'1919-05'"])),
    "typo 1919, excluded": (lambda t: lambda: Portfolio.from_loans(
        _loans(orig=format_period(V[:-1]) + ["1919-05"]), on_invalid="exclude"),
        ("ok", lambda p: p.n_accounts == N - 1 and p.window == (2018 * 12 + 1, int(LAST.max())))),
    "last_month after today": (lambda t: lambda: Portfolio.from_loans(
        _loans(last=format_period(LAST[:-1]) + format_period([current_period() + 3]))),
        ("error", ["column 'last_month'", "in the future"])),
    # ---- files
    "empty file": (lambda t: lambda: load_portfolio(_write(t, "loans.csv", b"")),
                   ("error", ["loans.csv", "is empty"])),
    "blank lines only": (lambda t: lambda: load_portfolio(_write(t, "loans.csv", "\n\n\n")),
                         ("error", ["loans.csv", "no header"])),
    "header only": (lambda t: lambda: load_portfolio(_write(t, "loans.csv", "account_id,origination,last_month,default\n")),
                    ("error", ["loans.csv", "no data rows"])),
    "latin-1 file": (lambda t: lambda: load_portfolio(_write(t, "loans.csv", (GOOD_CSV.replace("default\n", "default,city\n")
                     .replace(",1\n", ",1,Köln\n").replace(",0\n", ",0,Düren\n")).encode("latin-1"))),
                     ("error", ["loans.csv", "not UTF-8", "encoding='latin-1'"])),
    "latin-1 file, encoding given": (lambda t: lambda: load_portfolio(
        _write(t, "loans.csv", (GOOD_CSV.replace("default\n", "default,city\n").replace(",1\n", ",1,Köln\n")
                                .replace(",0\n", ",0,Düren\n")).encode("latin-1")), encoding="latin-1"),
        ("ok", lambda p: p.loans["city"].tolist() == ["Köln", "Düren"])),
    "UTF-16 file": (lambda t: lambda: load_portfolio(_write(t, "loans.csv", GOOD_CSV.encode("utf-16"))),
                    ("error", ["loans.csv", "encoding='utf-16'"])),
    "UTF-8 with byte-order mark": (lambda t: lambda: load_portfolio(_write(t, "loans.csv", GOOD_CSV.encode("utf-8-sig"))),
                                   ("ok", lambda p: p.n_accounts == 2)),
    "semicolon separated": (lambda t: lambda: load_portfolio(_write(t, "loans.csv", GOOD_CSV.replace(",", ";"))),
                            ("ok", lambda p: p.n_accounts == 2 and any("';'" in n for n in p.lineage.notes))),
    "ragged rows": (lambda t: lambda: load_portfolio(_write(t, "loans.csv", GOOD_CSV + "3,2019-03,2019-05,0,x,y\n")),
                    ("error", ["loans.csv", "not a well-formed CSV"])),
    "repeated column names": (lambda t: lambda: load_portfolio(_write(t, "loans.csv", GOOD_CSV.replace("default\n", "default,x,x\n")
                              .replace(",1\n", ",1,1,2\n").replace(",0\n", ",0,3,4\n"))),
                              ("error", ["loans.csv", "repeats the column name(s) ['x']"])),
    "folder named .csv": (lambda t: lambda: load_portfolio((t / "loans.csv").mkdir() or t / "loans.csv"),
                          ("error", ["loans.csv", "is a folder"])),
    "broken Parquet file": (lambda t: lambda: load_portfolio(_write(t, "loans.parquet", os.urandom(300))),
                            ("error", ["loans.parquet", "as Parquet"])),
    "gzip CSV": (lambda t: lambda: load_portfolio(_write(t, "loans.csv.gz", gzip.compress(GOOD_CSV.encode()))),
                 ("ok", lambda p: p.n_accounts == 2)),
    "unknown extension": (lambda t: lambda: load_portfolio(_write(t, "loans.xlsx", b"PK")),
                          ("error", ["loans.xlsx", ".csv or .parquet"])),
    # ---- identifiers and types
    "zip codes with leading zeros": (lambda t: lambda: load_portfolio(
        _write(t, "loans.csv", GOOD_CSV.replace("default\n", "default,zip\n").replace(",1\n", ",1,04872\n")
               .replace(",0\n", ",0,10115\n"))),
        ("ok", lambda p: p.loans["zip"].tolist() == ["04872", "10115"]
         and p.describe()["attribute_types"]["zip"].startswith("text (leading zeros kept"))),
    "account ids with a gap": (lambda t: lambda: load_portfolio(_write(t, "loans.csv", GOOD_CSV + ",2019-03,2019-05,0\n")),
                               ("error", ["column 'account_id'", "missing account_id"])),
    "account ids with a gap, excluded": (lambda t: lambda: load_portfolio(
        _write(t, "loans.csv", GOOD_CSV + ",2019-03,2019-05,0\n"), on_invalid="exclude"),
        ("ok", lambda p: p.loans["account_id"].tolist() == ["1", "2"])),
    "CSV and Parquet of the same data": (lambda t: lambda: _csv_and_parquet(t), ("ok", lambda same: same)),
    # ---- reserved columns
    "panel with age = months on book": (lambda t: lambda: Portfolio.from_panel(_panel(age="months on book")),
                                        ("ok", lambda p: "age" not in p.attributes and (p.panel["age"] >= 1).all()
                                         and any("'age' equals" in n for n in p.lineage.notes))),
    "panel with a borrower age (synth --panel)": (lambda t: lambda: Portfolio.from_panel(
        generate_portfolio(SynthConfig(n_accounts=60, seed=1)).panel()),
        ("ok", lambda p: "borrower_age" in p.attributes and "age" not in p.attributes)),
    "panel with vintage = origination": (lambda t: lambda: Portfolio.from_panel(_panel(vintage="same")),
                                         ("ok", lambda p: "vintage" not in p.attributes and p.lineage.notes)),
    "loans with vintage = origination": (lambda t: lambda: Portfolio.from_loans(_loans(vintage=format_period(V))),
                                         ("ok", lambda p: _right_loans(p) and "vintage" not in p.attributes)),
    "loans with another vintage column": (lambda t: lambda: Portfolio.from_loans(_loans(vintage="2015")),
                                          ("error", ["clashes with apcfair's own vintage", "vintage_label"])),
    # ---- nothing left
    "empty DataFrame": (lambda t: lambda: Portfolio.from_loans(_loans().iloc[:0]),
                        ("error", ["no data rows"])),
    "every row excluded": (lambda t: lambda: Portfolio.from_loans(_loans(default=7), on_invalid="exclude"),
                           ("error", ["all 24 rows", "were excluded"])),
    "bad date_format name": (lambda t: lambda: Portfolio.from_loans(_loans(), date_format="julian"),
                             ("error", ["date_format='julian' is not allowed"])),
}


def _csv_and_parquet(tmp_path):
    loans = generate_portfolio(SynthConfig(n_accounts=400, seed=4)).loans
    loans.to_csv(tmp_path / "l.csv", index=False)
    loans.to_parquet(tmp_path / "l.parquet", index=False)
    a, b = load_portfolio(tmp_path / "l.csv"), load_portfolio(tmp_path / "l.parquet")
    pd.testing.assert_frame_equal(a.loans, b.loans, check_exact=True)
    return True


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gives_a_clear_error_or_a_correct_result(case, tmp_path):
    make, (outcome, expect) = CASES[case]
    call = make(tmp_path)
    if outcome == "error":
        with pytest.raises(ValueError) as err:  # DataValidationError is a ValueError
            call()
        msg = str(err.value)
        assert "\n" not in msg, msg  # one line
        assert "Fix:" in msg or "is not allowed" in msg or "use a .csv" in msg, msg
        for needle in expect:
            assert needle in msg, (needle, msg)
    else:
        assert expect(call())


def test_corpus_counts():
    outcomes = [exp[0] for _, exp in CASES.values()]
    # the closing note of issue 17 quotes these numbers
    assert len(outcomes) == 56 and outcomes.count("error") == 30 and outcomes.count("ok") == 26


def test_data_validation_errors_are_value_errors():
    assert issubclass(DataValidationError, ValueError)
