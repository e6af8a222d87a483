"""A whole wave applied through the CLI against the emulator and checked through the API;
a second run sends no money; the workbook's Log and balance; the demo."""

from __future__ import annotations

from pathlib import Path

from apply_support import (
    MONEY_OPS,
    NOW_ARG,
    assert_applied_once,
    balance,
    plan_for,
    sheet,
)
from typer.testing import CliRunner

from bridge.apply import plan_actions
from bridge.cli import app
from bridge.cost import plan_cost

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_close_out_apply_applies_the_whole_wave_once(wave: Path, emu, tmp_path: Path):
    plan = plan_for(wave, tmp_path)
    before = balance(emu.url)

    result = run("close-out", wave, "--apply", "--yes", *NOW_ARG)

    assert result.exit_code == 0, result.output
    listings = emu.calls["ListBonusPayments"]
    assert "Applied: 37 approvals, 5 rejections, 29 bonuses (27.88 USD), 87 qualification grants; 0 failed." in result.output
    assert "rewards 55.50 + bonuses 27.88 + fees 27.78 = 111.16 USD" in result.output
    assert_applied_once(emu.url, plan)
    assert before - balance(emu.url) == plan_cost(plan).total  # to the cent
    # Review rows are never sent, and the already-approved one is not approved again.
    assert emu.calls["ApproveAssignment"] == 37 and emu.calls["RejectAssignment"] == 5
    assert listings == 1  # one listing (one page of 100) for the wave's one HIT

    workbook = wave.parent / "out" / "sample-wave-1-reconciliation.xlsx"
    log = sheet(workbook, "Log")
    assert len(log) == len(plan_actions(plan)) == 37 + 5 + 29 + 87
    assert {r["Status"] for r in log} == {"done"}
    assert [r["Action"] for r in log] == sorted((r["Action"] for r in log), key=["approve", "reject", "bonus", "grant"].index)
    bonus_rows = {r["AssignmentId"]: r["Amount"] for r in log if r["Action"] == "bonus"}
    assert bonus_rows == {d.assignment_id: f"{d.bonus:.2f}" for d in plan.decisions if d.decision.value == "approve" and d.bonus}
    summary = {r["Item"]: r["Value"] for r in sheet(workbook, "Summary")}
    assert summary["Account balance (USD)"] == f"{balance(emu.url):.2f}"


def test_second_run_sends_no_money(wave: Path, emu):
    assert run("close-out", wave, "--apply", "--yes", *NOW_ARG).exit_code == 0
    money = {op: emu.calls[op] for op in MONEY_OPS}
    grants = emu.calls["AssociateQualificationWithWorker"]
    before = emu.balance

    again = run("close-out", wave, "--apply", "--yes", *NOW_ARG)

    assert again.exit_code == 0, again.output
    assert "Nothing to send" in again.output
    assert "Applied: 37 approvals, 5 rejections, 29 bonuses (27.88 USD), 87 qualification grants; 0 failed." in again.output
    assert {op: emu.calls[op] for op in MONEY_OPS} == money
    assert emu.calls["AssociateQualificationWithWorker"] == grants
    assert emu.balance == before
    log = sheet(wave.parent / "out" / "sample-wave-1-reconciliation.xlsx", "Log")
    assert len(log) == 158 and {r["Status"] for r in log} == {"done"}  # the resumed record shows everything


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
    assert not (wave.parent / "out" / "sample-wave-1-reconciliation.ledger.sqlite").exists()


def test_demo_applies_the_sample_wave_in_the_emulator(tmp_path: Path):
    result = run("demo", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert "Applied: 37 approvals, 5 rejections, 29 bonuses (27.88 USD), 87 qualification grants; 0 failed." in result.output
    assert "Emulator balance: 10000.00 -> 9888.84 USD" in result.output
    log = sheet(tmp_path / "sample-wave-1-reconciliation.xlsx", "Log")
    assert len(log) == 158
    # A fresh ledger each time: the second demo moves money again.
    again = run("demo", "--out", tmp_path)
    assert "Emulator balance: 10000.00 -> 9888.84 USD" in again.output
