"""The human review loop: `survey-bridge apply WORKBOOK --config CONFIG` applies the
Decisions sheet as a person edited it; invalid edits are all reported, nothing is sent."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from apply_support import MONEY_OPS, NOW_ARG, bonuses, client, edit_csv, granted, plan_for, sheet, statuses
from openpyxl import load_workbook
from typer.testing import CliRunner

from bridge.cli import app
from bridge.models import State

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def workbook(wave: Path) -> Path:
    """The dry run's workbook, ready for a person to edit."""
    result = run("close-out", wave, *NOW_ARG)
    assert result.exit_code == 0, result.output
    return wave.parent / "out" / "sample-wave-1-reconciliation.xlsx"


def edit(path: Path, change) -> None:
    """Open the workbook as Excel would, let `change(ws, rows)` edit Decisions, save."""
    wb = load_workbook(path)
    ws = wb["Decisions"]
    header = [c.value for c in ws[1]]
    rows = {ws.cell(r, 1).value: {h: ws.cell(r, i + 1) for i, h in enumerate(header)} for r in range(2, ws.max_row + 1)}
    change(ws, rows)
    wb.save(path)


def pick(rows, decision: str, *, bonus: bool | None = None, skip=()) -> str:
    for aid, cells in rows.items():
        if cells["Decision"].value == decision and cells["MTurkStatus"].value == "Submitted" and aid not in skip:
            if bonus is None or bool(cells["Bonus"].value) == bonus:
                return aid
    raise AssertionError(f"no {decision} row")


def test_edited_decisions_are_applied(wave: Path, workbook: Path, emu, tmp_path: Path):
    chosen = {}

    def change(ws, rows):
        chosen["reviewed"] = pick(rows, "review", bonus=False)
        rows[chosen["reviewed"]]["Decision"].value = "Approve "  # a person's spelling
        rows[chosen["reviewed"]]["Bonus"].value = 1.25  # typed as a number
        chosen["rejected_plain"] = pick(rows, "reject")
        rows[chosen["rejected_plain"]]["Feedback"].value = None  # cleared: the config's feedback
        chosen["unbonused"] = pick(rows, "approve", bonus=True)
        rows[chosen["unbonused"]]["Bonus"].value = None
        chosen["now_rejected"] = pick(rows, "approve", bonus=False, skip=chosen.values())
        rows[chosen["now_rejected"]]["Decision"].value = "reject"
        rows[chosen["now_rejected"]]["Feedback"].value = "'=Please read the instructions."
        chosen["dropped"] = pick(rows, "approve", skip=chosen.values())
        ws.delete_rows(rows[chosen["dropped"]]["AssignmentId"].row)

    edit(workbook, change)
    plan = plan_for(wave, tmp_path)

    result = run("apply", workbook, "--config", wave, "--yes", *NOW_ARG)

    assert result.exit_code == 0, result.output
    # The cleared feedback equals the config's, so that row is not an edit.
    assert "Edited rows: 3; 1 row(s) missing from the sheet are not applied" in result.output
    assert "review -> approve; bonus none -> 1.25" in result.output
    got = statuses(emu.url, plan.tasks)
    assert got[chosen["reviewed"]] == "Approved"
    assert got[chosen["now_rejected"]] == "Rejected"
    assert got[chosen["rejected_plain"]] == "Rejected"
    assert got[chosen["dropped"]] == "Submitted"
    others = [d for d in plan.decisions if d.decision.value == "review" and d.submission_id != chosen["reviewed"]]
    assert all(got[d.submission_id] == "Submitted" for d in others)  # review rows are not sent
    paid = dict(bonuses(emu.url, plan.tasks))
    assert paid[chosen["reviewed"]] == Decimal("1.25")
    assert chosen["unbonused"] not in paid and chosen["dropped"] not in paid
    c = client(emu.url)
    feedback = {aid: c.get_assignment(AssignmentId=aid)["Assignment"].get("RequesterFeedback")
                for aid in (chosen["now_rejected"], chosen["rejected_plain"])}
    assert feedback[chosen["now_rejected"]] == "=Please read the instructions."
    assert feedback[chosen["rejected_plain"]].startswith("The completion code you entered does not match")
    # Qualifications follow the edits: a newly rejected worker keeps Prev_Worker, loses Eligible_Worker.
    prev, elig = (next(q.group_id for q in plan.qualifications if q.role == r)
                  for r in ("prev_worker", "eligible_worker"))
    worker = {d.submission_id: d.participant_id for d in plan.decisions}
    assert worker[chosen["now_rejected"]] in granted(emu.url, prev)
    assert worker[chosen["now_rejected"]] not in granted(emu.url, elig)
    assert worker[chosen["dropped"]] not in granted(emu.url, elig)
    log = sheet(workbook, "Log")
    assert {r["Status"] for r in log} == {"done"}
    decisions = {r["AssignmentId"]: r for r in sheet(workbook, "Decisions")}
    assert decisions[chosen["reviewed"]]["Decision"] == "approve" and decisions[chosen["reviewed"]]["Bonus"] == 1.25


def test_invalid_edits_are_all_reported_and_nothing_is_sent(wave: Path, workbook: Path, emu):
    rows_of = {}

    def change(ws, rows):
        ids = list(rows)
        for aid in ids:
            rows_of[aid] = rows[aid]["AssignmentId"].row
        rows[ids[0]]["Decision"].value = "aprove"
        rows[ids[0]]["Bonus"].value = "abc"  # the same row's second problem is reported too
        rows[ids[1]]["Bonus"].value = "1.234"
        rows[ids[2]]["Bonus"].value = "-1"
        rows[ids[3]]["AssignmentId"].value = "3NOTINTHISWAVE"
        rows[ids[4]]["Bonus"].value = "lots"
        rejected = pick(rows, "reject")
        rows[rejected]["Bonus"].value = "2.00"
        rows_of["rejected"] = rows_of[rejected]
        ws.append([c.value for c in ws[rows_of[ids[5]]]])  # a duplicated row
        rows_of["duplicate"] = ws.max_row

    edit(workbook, change)
    ids = list(rows_of)
    calls = sum(emu.calls.values())

    result = run("apply", workbook, "--config", wave, "--yes", *NOW_ARG)

    assert result.exit_code == 1, result.output
    out = result.output
    assert "8 problem(s) in the Decisions sheet; nothing was sent" in out
    assert f"row {rows_of[ids[0]]}: Decision 'aprove' is not approve, reject or review" in out
    assert f"row {rows_of[ids[0]]}: Bonus 'abc' is not an amount" in out
    assert f"row {rows_of[ids[1]]}: Bonus 1.234 has more than two decimals" in out
    assert f"row {rows_of[ids[2]]}: Bonus -1 is negative" in out
    assert f"row {rows_of[ids[3]]}: AssignmentId 3NOTINTHISWAVE is not an assignment of wave sample-wave-1" in out
    assert f"row {rows_of[ids[4]]}: Bonus 'lots' is not an amount" in out
    assert f"row {rows_of['rejected']}: a bonus goes only to approved work" in out
    assert f"row {rows_of['duplicate']}: AssignmentId {ids[5]} is also on row {rows_of[ids[5]]}" in out
    assert sum(emu.calls.values()) == calls  # not a single request


def test_bonus_above_the_cap_is_refused(wave: Path, workbook: Path, emu):
    def change(ws, rows):
        rows[pick(rows, "approve")]["Bonus"].value = "50.00"

    edit(workbook, change)
    result = run("apply", workbook, "--config", wave, "--yes", *NOW_ARG)
    assert result.exit_code == 1, result.output
    assert "above [bonus] max_per_worker 5.00" in result.output


def test_unreadable_workbook_is_an_input_error(wave: Path, tmp_path: Path):
    bad = tmp_path / "not.xlsx"
    bad.write_text("hello")
    result = run("apply", bad, "--config", wave, "--yes")
    assert result.exit_code == 1 and "not an .xlsx workbook" in result.output
    result = run("apply", tmp_path / "missing.xlsx", "--config", wave, "--yes")
    assert result.exit_code == 1 and "file not found" in result.output


def test_unedited_workbook_applies_like_the_close_out(wave: Path, workbook: Path, emu):
    result = run("apply", workbook, "--config", wave, "--yes", *NOW_ARG)
    assert result.exit_code == 0, result.output
    assert "Edited rows: 0" in result.output
    assert "Applied: 37 approvals, 5 rejections, 29 bonuses (27.88 USD), 89 qualification grants; 0 failed." in result.output


def test_a_decision_mturk_no_longer_allows_cannot_be_edited(wave: Path, emu, tmp_path: Path):
    plan = plan_for(wave, tmp_path)
    rejected = next(d for d in plan.decisions if d.decision.value == "reject" and d.state is State.PENDING)
    reviewed = next(d for d in plan.decisions if d.decision.value == "review" and d.state is State.PENDING and not d.bonus)
    # Rejected and approved on the website; the batch file downloaded afterwards says so.
    c = client(emu.url)
    c.reject_assignment(AssignmentId=rejected.submission_id, RequesterFeedback="Rejected by hand.")
    c.approve_assignment(AssignmentId=reviewed.submission_id)
    for d, status in ((rejected, "Rejected"), (reviewed, "Approved")):
        edit_csv(wave.parent / "batch_results.csv", "AssignmentId", d.submission_id, "AssignmentStatus", status)
    result = run("close-out", wave, *NOW_ARG)
    assert result.exit_code == 0, result.output
    workbook = wave.parent / "out" / "sample-wave-1-reconciliation.xlsx"
    at = {}

    def change(ws, rows):
        at["approved"] = rows[reviewed.submission_id]["AssignmentId"].row
        rows[rejected.submission_id]["Decision"].value = "reject"  # agrees with MTurk: accepted
        rows[reviewed.submission_id]["Decision"].value = "reject"  # cannot be: MTurk has it Approved
        # (Rejected work set to approve is an override of the rejection: tests/apply/test_apply_mturk_steps.py.)

    edit(workbook, change)
    calls = sum(emu.calls.values())

    result = run("apply", workbook, "--config", wave, "--yes", *NOW_ARG)

    assert result.exit_code == 1, result.output
    assert "1 problem(s) in the Decisions sheet; nothing was sent" in result.output
    assert (f"row {at['approved']}: assignment {reviewed.submission_id} is already Approved on MTurk; its decision "
            "cannot be changed here") in result.output
    assert sum(emu.calls.values()) == calls


def test_a_paid_bonus_cannot_be_edited(wave: Path, emu):
    assert run("close-out", wave, "--apply", "--yes", *NOW_ARG).exit_code == 0
    workbook = wave.parent / "out" / "sample-wave-1-reconciliation.xlsx"
    at = {}

    def change(ws, rows):
        for aid, cells in rows.items():
            if cells["Decision"].value == "approve" and cells["Bonus"].value == 0.5 and "raised" not in at:
                at["raised"] = cells["AssignmentId"].row
                cells["Bonus"].value = "2.99"
            elif cells["Decision"].value == "approve" and cells["Bonus"].value == 1.0 and "cleared" not in at:
                at["cleared"] = cells["AssignmentId"].row
                cells["Bonus"].value = None

    edit(workbook, change)
    money = {op: emu.calls[op] for op in MONEY_OPS}

    result = run("apply", workbook, "--config", wave, "--yes", *NOW_ARG)

    assert result.exit_code == 1, result.output
    assert "2 problem(s) in the Decisions sheet; nothing was sent" in result.output
    date = r"\d{4}-\d\d-\d\d"
    assert re.search(rf"row {at['raised']}: bonus already paid 0.50 on {date}; it cannot be changed to 2.99 here",
                     result.output), result.output
    assert re.search(rf"row {at['cleared']}: bonus already paid 1.00 on {date}; it cannot be changed to none here",
                     result.output), result.output
    assert {op: emu.calls[op] for op in MONEY_OPS} == money
