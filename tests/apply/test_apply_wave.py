"""A whole wave applied through the CLI against the emulator and checked through the API;
a second run sends no money; the workbook's Log and balance; the demo."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from apply_support import (
    MONEY_OPS,
    NOW_ARG,
    assert_applied_once,
    balance,
    bonuses,
    edit_csv,
    plan_for,
    sheet,
    write_wave,
)
from typer.testing import CliRunner

from bridge.apply import plan_actions
from bridge.ledger import open_ledger
from bridge.cli import app
from bridge.config import load_config
from bridge.cost import plan_cost
from bridge.workbook.write import write_workbook

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_close_out_apply_applies_the_whole_wave_once(wave: Path, emu, tmp_path: Path):
    plan = plan_for(wave, tmp_path)
    before = balance(emu.url)

    result = run("close-out", wave, "--apply", "--yes", *NOW_ARG)

    assert result.exit_code == 0, result.output
    listings = emu.calls["ListBonusPayments"]
    assert "Applied: 37 approvals, 5 rejections, 29 bonuses (27.88 USD), 89 qualification grants; 0 failed." in result.output
    assert "rewards 55.50 + bonuses 27.88 + fees 27.78 = 111.16 USD" in result.output
    assert_applied_once(emu.url, plan)
    assert before - balance(emu.url) == plan_cost(plan).total  # to the cent
    # Review rows are never sent, and the already-approved one is not approved again.
    assert emu.calls["ApproveAssignment"] == 37 and emu.calls["RejectAssignment"] == 5
    assert listings == 1  # one listing (one page of 100) for the wave's one HIT

    workbook = wave.parent / "out" / "sample-wave-1-reconciliation.xlsx"
    log = sheet(workbook, "Log")
    assert len(log) == len(plan_actions(plan)) == 37 + 5 + 29 + 89
    assert {r["Status"] for r in log} == {"done"}
    assert [r["Action"] for r in log] == sorted((r["Action"] for r in log), key=["approve", "reject", "bonus", "grant"].index)
    bonus_rows = {r["AssignmentId"]: r["Amount"] for r in log if r["Action"] == "bonus"}
    # Money is stored as numbers (a PI can sum them), shown with two places.
    assert bonus_rows == {d.submission_id: float(d.bonus) for d in plan.decisions if d.decision.value == "approve" and d.bonus}
    summary = {r["Item"]: r["Value"] for r in sheet(workbook, "Summary")}
    assert summary["Account balance (USD)"] == float(balance(emu.url))


def test_second_run_sends_no_money(wave: Path, emu):
    assert run("close-out", wave, "--apply", "--yes", *NOW_ARG).exit_code == 0
    money = {op: emu.calls[op] for op in MONEY_OPS}
    grants = emu.calls["AssociateQualificationWithWorker"]
    before = emu.balance

    again = run("close-out", wave, "--apply", "--yes", *NOW_ARG)

    assert again.exit_code == 0, again.output
    assert "Nothing to send" in again.output
    assert "Applied: 37 approvals, 5 rejections, 29 bonuses (27.88 USD), 89 qualification grants; 0 failed." in again.output
    assert {op: emu.calls[op] for op in MONEY_OPS} == money
    assert emu.calls["AssociateQualificationWithWorker"] == grants
    assert emu.balance == before
    log = sheet(wave.parent / "out" / "sample-wave-1-reconciliation.xlsx", "Log")
    assert len(log) == 160 and {r["Status"] for r in log} == {"done"}  # the resumed record shows everything


def test_ledger_lost_still_pays_nothing_twice(wave: Path, emu):
    """Without the ledger, MTurk's own state stops every second payment."""
    assert run("close-out", wave, "--apply", "--yes", *NOW_ARG).exit_code == 0
    for path in (wave.parent / "out").glob("*.ledger.sqlite*"):
        path.unlink()
    before, bonuses = emu.balance, len(emu.bonuses)

    again = run("close-out", wave, "--apply", "--yes", *NOW_ARG)

    assert again.exit_code == 0, again.output
    assert emu.balance == before and len(emu.bonuses) == bonuses
    log = sheet(wave.parent / "out" / "sample-wave-1-reconciliation.xlsx", "Log")
    details = [r["Detail"] for r in log if r["Action"] in ("approve", "bonus")]
    assert all("already" in d for d in details)


def test_dry_run_sends_nothing(wave: Path, emu):
    calls = sum(emu.calls.values())
    result = run("close-out", wave, *NOW_ARG)
    assert result.exit_code == 0, result.output
    assert sum(emu.calls.values()) == calls
    assert not list((wave.parent / "out").glob("*.ledger.sqlite"))


def test_demo_applies_the_sample_wave_in_the_emulator(tmp_path: Path):
    result = run("demo", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert "Applied: 37 approvals, 5 rejections, 29 bonuses (27.88 USD), 89 qualification grants; 0 failed." in result.output
    assert "Emulator balance: 10000.00 -> 9888.84 USD" in result.output
    log = sheet(tmp_path / "sample-wave-1-reconciliation.xlsx", "Log")
    assert len(log) == 160
    # A fresh ledger each time: the second demo moves money again.
    again = run("demo", "--out", tmp_path)
    assert "Emulator balance: 10000.00 -> 9888.84 USD" in again.output


def test_the_same_wave_on_another_emulator_port_has_the_same_ledger_keys_and_tokens(make_emu, tmp_path: Path):
    first, second = make_emu(), make_emu()
    config = write_wave(tmp_path / "wave", first.url)  # no qualification types: bonuses are the point
    assert run("close-out", config, "--apply", "--yes", *NOW_ARG).exit_code == 0
    tokens = {b.assignment_id: b.token for b in first.bonuses}
    assert len(tokens) == 29

    # The emulator restarted on another port, written another way: the ledger still knows the wave.
    port = second.url.rsplit(":", 1)[1]
    config.write_text(config.read_text().replace(first.url, f"http://localhost:{port}/"))
    again = run("close-out", config, "--apply", "--yes", *NOW_ARG)
    assert again.exit_code == 0, again.output
    assert "Nothing to send" in again.output and sum(second.calls[op] for op in MONEY_OPS) == 0
    ledger_path = load_config(config).ledger_path
    tasks = list(plan_for(config, tmp_path).tasks)
    with open_ledger(ledger_path, panel="mturk", environment="local", tasks=tasks) as ledger:
        assert len(ledger.entries()) == 37 + 5 + 29

    # Without the ledger, the second emulator gets the very same bonus tokens.
    for path in ledger_path.parent.glob("*.ledger.sqlite*"):
        path.unlink()
    assert run("close-out", config, "--apply", "--yes", *NOW_ARG).exit_code == 0
    assert {b.assignment_id: b.token for b in second.bonuses} == tokens


def test_a_workbook_that_cannot_be_written_after_applying_still_shows_the_summary(wave: Path, emu, monkeypatch):
    workbook = wave.parent / "out" / "sample-wave-1-reconciliation.xlsx"

    def open_elsewhere(plan, path, **kwargs):  # something holds the file, as Excel does
        Path(path).unlink()
        Path(path).mkdir()
        return write_workbook(plan, path, **kwargs)

    monkeypatch.setattr("bridge.apply.run.write_workbook", open_elsewhere)
    result = run("close-out", wave, "--apply", "--yes", *NOW_ARG)

    assert result.exit_code == 2, result.output
    assert "Applied: 37 approvals, 5 rejections, 29 bonuses (27.88 USD), 89 qualification grants; 0 failed." in result.output
    assert "cannot write the workbook" in result.output
    assert "the ledger holds what was done" in result.output and "rewrite the workbook and its Log" in result.output
    assert "Workbook (with the Log)" not in result.output
    assert emu.calls["SendBonus"] == 29

    # Closed again: the same command rewrites the workbook with the whole Log and sends nothing.
    monkeypatch.undo()
    workbook.rmdir()
    money = {op: emu.calls[op] for op in MONEY_OPS}
    again = run("close-out", wave, "--apply", "--yes", *NOW_ARG)
    assert again.exit_code == 0, again.output
    assert {op: emu.calls[op] for op in MONEY_OPS} == money
    assert len(sheet(workbook, "Log")) == 160


def test_a_paid_bonus_the_plan_now_changes_is_reported_not_resent(wave: Path, emu, tmp_path: Path):
    plan = plan_for(wave, tmp_path)
    d = next(d for d in plan.decisions if d.decision.value == "approve" and d.bonus == Decimal("0.50"))
    assert run("close-out", wave, "--apply", "--yes", *NOW_ARG).exit_code == 0
    # The survey export is corrected afterwards: the plan now says 0.75 for a bonus paid at 0.50.
    edit_csv(wave.parent / "qualtrics_export.csv", "ResponseId", d.response_id, "bonus", "0.75")
    sent = emu.calls["SendBonus"]

    again = run("close-out", wave, "--apply", "--yes", *NOW_ARG)

    assert again.exit_code == 0, again.output
    assert re.search(rf"warning: assignment {d.submission_id}: bonus already paid 0.50 on \d{{4}}-\d\d-\d\d; "
                     r"the plan now says 0.75, which cannot be changed here", again.output), again.output
    assert emu.calls["SendBonus"] == sent
    assert dict(bonuses(emu.url, plan.tasks))[d.submission_id] == Decimal("0.50")
