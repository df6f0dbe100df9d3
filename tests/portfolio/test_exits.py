"""Exits other than default: inferred from last_month, read from an exit column or status codes."""

import numpy as np
import pandas as pd
import pytest

from apcfair.cli.main import main
from apcfair.errors import DataValidationError
from apcfair.portfolio import Portfolio, load_portfolio


def _loans(**extra):
    df = pd.DataFrame({"account_id": [1, 2, 3, 4],
                       "origination": ["2019-01"] * 4,
                       "last_month": ["2019-03", "2019-02", "2019-05", "2019-04"],
                       "default": [0, 1, 0, 0]})
    return df.assign(**extra)


def test_inferred_from_last_month_before_the_end_of_the_data():
    p = Portfolio.from_loans(_loans())
    # the data end in 2019-05: accounts 1 and 4 left before it without default
    assert p.loans["exit"].tolist() == ["payoff", "default", "censored", "payoff"]
    assert p.spells().exited.tolist() == [True, False, False, True]
    assert "exit" not in p.attributes
    assert "2 inferred" in " ".join(p.lineage.notes)
    assert p.describe()["exits_accounts"] == {"default": 1, "payoff": 2, "closed": 0, "censored": 1}


def test_exit_column_overrides_the_inference_case_insensitively():
    p = Portfolio.from_loans(_loans(exit=["Censored", " DEFAULT ", "payoff", None]))
    # account 1 recorded censored (e.g. sold); 3 paid off in the data's last month (recorded, so kept);
    # 4 has no value: inferred payoff
    assert p.loans["exit"].tolist() == ["censored", "default", "payoff", "payoff"]
    assert p.spells().exited.tolist() == [False, False, True, True]


@pytest.mark.parametrize("values, default, message", [
    (["gone", "default", "", ""], [0, 1, 0, 0], "exit value that is not one of"),
    (["default", "default", "", ""], [0, 1, 0, 0], "exit 'default' but default = 0"),
    (["", "payoff", "", ""], [0, 1, 0, 0], "default = 1 but an exit other than default"),
    (["", "censored", "", ""], [0, 1, 0, 0], "default = 1 but an exit other than default"),
])
def test_contradictory_or_unknown_exits_are_invalid_rows(values, default, message):
    df = _loans(exit=values, default=default)
    with pytest.raises(DataValidationError, match=message) as err:
        Portfolio.from_loans(df)
    assert "column 'exit'" in str(err.value) and "Fix:" in str(err.value)
    p = Portfolio.from_loans(df, on_invalid="exclude")
    assert p.n_accounts == 3 and sum(p.lineage.total_excluded.values()) == 1


def test_named_exit_column_with_status_codes():
    df = _loans(status=["C", "D", "open", "X"])
    p = Portfolio.from_loans(df, exit_column="status", exit_codes={"c": "payoff", "x": "closed", "D": "default"})
    assert p.loans["exit"].tolist() == ["payoff", "default", "censored", "closed"]
    assert "status" not in p.attributes and "status" not in p.loans
    with pytest.raises(ValueError, match="must map to one of"):
        Portfolio.from_loans(df, exit_column="status", exit_codes={"C": "paid"})
    with pytest.raises(DataValidationError, match="exit column"):
        Portfolio.from_loans(df, exit_column="state")
    with pytest.raises(ValueError, match="no exit column"):
        Portfolio.from_loans(_loans(), exit_codes={"C": "payoff"})
    with pytest.raises(DataValidationError, match="column 'exit' besides"):
        Portfolio.from_loans(df.assign(exit=""), exit_column="status", exit_codes={"C": "payoff"})


# ----------------------------------------------------------------------------- panels
def _card_panel():
    """A card panel whose status marks closure: C = paid off/closed; O, 30 = open."""
    rows = [
        (1, "2019-02", 0, "O"), (1, "2019-03", 0, "C"), (1, "2019-04", 0, "C"), (1, "2019-05", 0, "C"),
        (2, "2019-02", 0, "O"), (2, "2019-03", 0, "30"), (2, "2019-04", 1, "30"),
        (3, "2019-02", 0, "O"), (3, "2019-03", 0, "O"), (3, "2019-04", 0, "O"), (3, "2019-05", 0, "O"),
        (4, "2019-03", 0, "O"),
    ]
    return pd.DataFrame(rows, columns=["account_id", "month", "default", "status"])


def test_panel_status_codes_and_trailing_rows_of_a_closed_card():
    p = Portfolio.from_panel(_card_panel(), exit_column="status", exit_codes={"C": "payoff"})
    assert p.loans.set_index("account_id")["exit"].to_dict() == {
        1: "payoff", 2: "default", 3: "censored", 4: "payoff"}  # 4 vanished before 2019-05: inferred
    # the two months account 1 stays in the file after closing are dropped and counted, not errors
    assert p.lineage.total_excluded == {
        "come after the account's recorded payoff/closure month (rows of a closed account)": 2}
    assert p.panel.groupby("account_id")["month"].max().to_dict()[1] == p.loans["last_month"].iloc[0]
    cells = p.cells().table
    assert cells["attrition"].sum() == 2 and cells["defaults"].sum() == 1
    # the closure month is the last at-risk month of account 1 (age 2), as for loan-level input
    assert cells.set_index("age").loc[2, "attrition"] == 1


def test_panel_without_status_infers_like_loans():
    panel = _card_panel().drop(columns="status")
    panel = panel[~((panel["account_id"] == 1) & (panel["month"] > "2019-03"))]
    p = Portfolio.from_panel(panel)
    assert p.loans.set_index("account_id")["exit"].to_dict() == {
        1: "payoff", 2: "default", 3: "censored", 4: "payoff"}


def test_panel_default_after_closure_is_refused():
    panel = _card_panel()
    panel.loc[(panel["account_id"] == 1) & (panel["month"] == "2019-05"), "default"] = 1
    with pytest.raises(DataValidationError, match="default after the account's recorded exit"):
        Portfolio.from_panel(panel, exit_column="status", exit_codes={"C": "payoff"})
    with pytest.raises(DataValidationError, match="exit value that is not one of"):
        Portfolio.from_panel(_card_panel().rename(columns={"status": "exit"}))


def test_panel_and_loans_give_the_same_exits_and_cells():
    loans = _loans(exit=["closed", "", "", "payoff"])
    p = Portfolio.from_loans(loans)
    rows = []
    for r in p.loans.itertuples():
        for t in range(r.first_month, r.last_month + 1):
            rows.append((r.account_id, t, r.vintage, int(r.default and t == r.last_month),
                         r.exit if t == r.last_month and r.exit != "default" else ""))
    from apcfair.portfolio.periods import format_period

    panel = pd.DataFrame(rows, columns=["account_id", "month", "origination", "default", "exit"])
    panel["month"], panel["origination"] = format_period(panel["month"]), format_period(panel["origination"])
    q = Portfolio.from_panel(panel)
    assert q.loans["exit"].tolist() == p.loans["exit"].tolist() == ["closed", "default", "censored", "payoff"]
    pd.testing.assert_frame_equal(q.cells().table, p.cells().table, check_dtype=False)
    assert np.array_equal(q.spells().exited, p.spells().exited)


def test_cli_reads_a_status_column(tmp_path, capsys):
    path = tmp_path / "panel.csv"
    _card_panel().to_csv(path, index=False)
    out = tmp_path / "v"
    assert main(["vintage", "--data", str(path), "--out", str(out), "--exit-column", "status",
                 "--payoff-codes", "C"]) == 0
    cells = pd.read_csv(out / "cells.csv")
    assert cells["attrition"].sum() == 2
    assert "read with codes" in capsys.readouterr().out
    # without the codes the status values are unknown exits: one error line naming the fix
    assert main(["vintage", "--data", str(path), "--out", str(tmp_path / "w"), "--exit-column", "status"]) == 2
    err = capsys.readouterr().err
    assert "--payoff-codes" in err and len(err.strip().splitlines()) == 1


def test_synthetic_exits_recovered_by_inference_exit_column_and_status_panel():
    from data_synth import SynthConfig, generate_portfolio

    sp = generate_portfolio(SynthConfig(n_accounts=400, seed=2))
    truth = sp.exits().tolist()
    assert {"default", "payoff", "censored"} <= set(truth)
    inferred = Portfolio.from_loans(sp.loans).loans["exit"].tolist()
    recorded = Portfolio.from_loans(sp.loans.assign(exit=sp.exits())).loans["exit"].tolist()
    panel = sp.panel(attributes=False, status=True)
    from_status = Portfolio.from_panel(panel, exit_column="status", exit_codes={"C": "payoff", "D": "default"})
    assert inferred == recorded == truth
    assert from_status.loans.sort_values("account_id")["exit"].tolist() == truth
    assert "status" not in sp.panel(attributes=False).columns  # the default panel is unchanged


def test_load_portfolio_passes_exit_options_and_reads_empty_csv_cells(tmp_path):
    path = tmp_path / "loans.csv"
    _loans(exit=["", "", "", ""], status=["C", "", "", ""]).to_csv(path, index=False)
    p = load_portfolio(path, format="loans", columns={"exit": "exit_label"}, exit_column="status",
                       exit_codes={"C": "closed"})
    assert p.loans["exit"].tolist() == ["closed", "default", "censored", "payoff"]
    assert "exit_label" in p.attributes
    assert load_portfolio(path).loans["exit"].tolist() == ["payoff", "default", "censored", "payoff"]


def test_quarterly_exits_follow_the_folded_ages():
    df = pd.DataFrame({"account_id": [1, 2, 3], "origination": ["2019-01", "2019-01", "2019-02"],
                       "last_month": ["2019-02", "2019-08", "2019-12"], "default": [0, 0, 0]})
    p = Portfolio.from_loans(df, freq="Q")
    # account 1 closed within its origination quarter: counted at age 1 and a payoff there
    assert p.loans["exit"].tolist() == ["payoff", "payoff", "censored"]
    assert p.spells().last_age.tolist() == [1, 2, 3]
    assert p.cells().table.groupby("age")["attrition"].sum().to_dict() == {1: 1, 2: 1, 3: 0}
