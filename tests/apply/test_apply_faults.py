"""Faults: 5xx before and after the change, throttling, a crash between send and record,
and a process SIGKILLed part-way then resumed. Every action lands exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from apply_support import (
    NOW_ARG,
    REPO,
    SAMPLE,
    assert_applied_once,
    balance,
    client,
    create_qualification_types,
    granted,
    ledger_for,
    plan_for,
    sheet,
    start_emulator_process,
    write_wave,
)
from typer.testing import CliRunner

from bridge.apply import Action, Kind, apply_plan
from bridge.cli import app
from bridge.config import load_config
from bridge.cost import plan_cost
from bridge.errors import ApplyError
from bridge.ledger import Ledger
from bridge.models import State
from bridge.panels.mturk.adapter import connect
from bridge.panels.mturk.emulator import OPERATIONS

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def yes(pre) -> bool:
    return True


def apply_until_done(config: Path, tmp_path: Path, url: str, *, max_attempts: int, rounds: int = 10):
    """Apply again until nothing fails (bounded); returns the per-round failure counts."""
    settings = load_config(config)
    plan = plan_for(config, tmp_path)
    failures = []
    for _ in range(rounds):
        try:
            result = apply_plan(plan, settings, workbook=settings.workbook_path, confirm=yes,
                                market=connect(url, max_attempts=max_attempts))
        except ApplyError:  # the checks before sending met a fault: nothing sent, try again (exit 2)
            failures.append(-1)
            continue
        failures.append(len(result.failed))
        if not result.failed:
            return plan, failures
    raise AssertionError(f"still failing after {rounds} runs: {failures}")


def test_service_faults_before_and_after_the_change_pay_nothing_twice(make_emu, tmp_path: Path):
    emu = make_emu(fault_seed=7)
    config = write_wave(tmp_path / "wave", emu.url, create_qualification_types(emu.url))
    before = emu.balance
    emu.faults.fail_rate = 0.3  # from here on: half the faults come after the change took effect

    # Two attempts per call, so some actions do fail and are left for the next run.
    plan, failures = apply_until_done(config, tmp_path, emu.url, max_attempts=2)

    assert failures[0] != 0 and failures[-1] == 0
    assert_applied_once(emu.url, plan)
    assert before - emu.balance == plan_cost(plan).total
    log = sheet(load_config(config).workbook_path, "Log")
    assert len(log) == 160 and {r["Status"] for r in log} == {"done"}


def test_throttled_calls_are_slowed_down_not_lost(make_emu, tmp_path: Path):
    emu = make_emu(rate_limit=60)
    config = write_wave(tmp_path / "wave", emu.url, create_qualification_types(emu.url))
    before = emu.balance

    plan, failures = apply_until_done(config, tmp_path, emu.url, max_attempts=6)

    assert_applied_once(emu.url, plan)
    assert before - emu.balance == plan_cost(plan).total
    # Setup (2 types), checks (2 types, balance), 160 actions, 1 listing, balance after:
    # anything beyond that was a throttled request that was retried.
    assert sum(emu.calls.values()) > 2 + 3 + 160 + 1 + 1


def test_actions_pending_after_a_crash_are_checked_not_resent(wave: Path, emu, tmp_path: Path):
    """A crash between sending and recording: MTurk has the change, the ledger says pending."""
    settings = load_config(wave)
    plan = plan_for(wave, tmp_path)
    approve = next(d for d in plan.decisions if d.decision.value == "approve" and d.state is State.PENDING and d.bonus)
    reject = next(d for d in plan.decisions if d.decision.value == "reject")
    market = connect(emu.url)
    client(emu.url).approve_assignment(AssignmentId=approve.submission_id)
    client(emu.url).reject_assignment(AssignmentId=reject.submission_id, RequesterFeedback=reject.feedback)
    client(emu.url).send_bonus(WorkerId=approve.participant_id, AssignmentId=approve.submission_id,
                               BonusAmount=str(approve.bonus), Reason="x", UniqueRequestToken="sometokenfromthecrashedrun")
    with ledger_for(settings, plan) as ledger:
        ledger.pending(Action(Kind.APPROVE, approve.submission_id, approve.participant_id, approve.task_id))
        ledger.pending(Action(Kind.REJECT, reject.submission_id, reject.participant_id, reject.task_id))
        ledger.pending(Action(Kind.BONUS, approve.submission_id, approve.participant_id, approve.task_id, amount=approve.bonus))
    approvals, rejections = emu.calls["ApproveAssignment"], emu.calls["RejectAssignment"]
    gets = emu.calls["GetAssignment"]

    result = apply_plan(plan, settings, workbook=settings.workbook_path, confirm=yes, market=market)

    assert not result.failed
    assert emu.calls["ApproveAssignment"] - approvals == 36  # not the pending one
    assert emu.calls["RejectAssignment"] - rejections == 4
    assert emu.calls["GetAssignment"] - gets == 2
    assert_applied_once(emu.url, plan)
    log = {(r["Action"], r["AssignmentId"]): r for r in sheet(settings.workbook_path, "Log")}
    assert "interrupted run" in log[("approve", approve.submission_id)]["Detail"]
    assert "ListBonusPayments" in log[("bonus", approve.submission_id)]["Detail"]


def _ledger_count(path: Path, where: str) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return db.execute(f"SELECT COUNT(*) FROM actions WHERE {where}").fetchone()[0]
    except sqlite3.OperationalError:  # the table is not there yet
        return 0


def test_sigkill_part_way_then_resume_applies_every_action_once(tmp_path: Path):
    # The emulator lives in its own process, so killing the apply does not touch it.
    emulator, url = start_emulator_process("--seed-batch", str(SAMPLE / "batch_results.csv"), "--latency-ms", "40")
    try:
        config = write_wave(tmp_path / "wave", url, create_qualification_types(url))
        plan = plan_for(config, tmp_path)
        before = balance(url)
        ledger = load_config(config).ledger_path
        command = [sys.executable, "-m", "bridge", "close-out", str(config), "--apply", "--yes", *NOW_ARG]
        env = dict(os.environ, PYTHONPATH=str(REPO))
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        # Kill once bonuses are being sent: approvals done, bonuses in flight, grants to come.
        while _ledger_count(ledger, "kind = 'bonus'") < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
        assert _ledger_count(ledger, "status = 'pending'") > 0  # answers that were never recorded
        assert _ledger_count(ledger, "kind = 'grant'") == 0

        resumed = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)

        assert resumed.returncode == 0, resumed.stderr
        assert "Applied: 37 approvals, 5 rejections, 29 bonuses (27.88 USD), 89 qualification grants; 0 failed." in resumed.stdout
        assert_applied_once(url, plan)
        assert before - balance(url) == plan_cost(plan).total == Decimal("111.16")
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)


def test_work_changed_on_the_website_meanwhile_is_skipped_not_overridden(wave: Path, emu, tmp_path: Path):
    settings = load_config(wave)
    plan = plan_for(wave, tmp_path)
    d = next(d for d in plan.decisions if d.decision.value == "approve" and d.state is State.PENDING and d.bonus)
    r = next(d for d in plan.decisions if d.decision.value == "reject" and d.state is State.PENDING)
    eligible = next(q.group_id for q in plan.qualifications if q.role == "eligible_worker")
    prev = next(q.group_id for q in plan.qualifications if q.role == "prev_worker")
    assert d.participant_id in {q.participant_id for q in plan.qualifications if q.role == "eligible_worker"}
    client(emu.url).reject_assignment(AssignmentId=d.submission_id,
                                      RequesterFeedback="Rejected by hand on the requester website.")
    client(emu.url).approve_assignment(AssignmentId=r.submission_id)
    seen = []

    result = apply_plan(plan, settings, workbook=settings.workbook_path, confirm=yes, market=connect(emu.url),
                        progress=lambda done, total, label: seen.append((done, total, label)))

    # d: its approval, its bonus and its Eligible_Worker grant; r: its rejection.
    assert not result.failed and len(result.skipped) == 4
    assert "4 skipped, 0 failed." in result.summary_line()
    assert emu.assignment(d.submission_id).status == "Rejected"
    assert emu.assignment(r.submission_id).status == "Approved"
    assert all(b.assignment_id != d.submission_id for b in emu.bonuses)
    assert d.participant_id not in granted(emu.url, eligible) and d.participant_id in granted(emu.url, prev)
    log = {(row["Action"], row["AssignmentId"] or row["WorkerId"], row["Detail"].split(";")[0]): row
           for row in sheet(settings.workbook_path, "Log")}
    assert log[("approve", d.submission_id, "Rejected on MTurk")]["Status"] == "skipped"
    assert "Rejected on MTurk" in log[("bonus", d.submission_id, "not sent: Rejected on MTurk")]["Detail"]
    grant = log[("grant", d.participant_id, f"qualification {eligible}")]
    assert grant["Status"] == "skipped" and f"the approval of {d.submission_id} was skipped" in grant["Detail"]
    assert log[("grant", d.participant_id, f"qualification {prev}")]["Status"] == "done"
    assert log[("reject", r.submission_id, "Approved on MTurk")]["Detail"] == "Approved on MTurk; not rejected"
    assert seen[-1][:2] == (160, 160) and {label for _, _, label in seen} == {
        "approvals", "rejections", "bonuses", "qualification grants"}


def test_a_bonus_paid_by_hand_with_another_amount_is_left_for_a_person(wave: Path, emu, tmp_path: Path):
    plan = plan_for(wave, tmp_path)
    d = next(d for d in plan.decisions if d.decision.value == "approve" and d.state is State.PENDING
             and d.bonus == Decimal("1.00"))
    client(emu.url).send_bonus(WorkerId=d.participant_id, AssignmentId=d.submission_id, BonusAmount="0.25",
                               Reason="A top-up sent by hand.", UniqueRequestToken="by-hand-1")

    result = run("close-out", wave, "--apply", "--yes", *NOW_ARG)

    assert result.exit_code == 2, result.output
    why = "a bonus of 0.25 was already paid on this assignment; the plan says 1.00: needs a person (not sent"
    assert why in result.output
    # Only what was paid in this wave counts: 27.88 planned, less the 1.00 not sent.
    assert "28 bonuses (26.88 USD)" in result.output and "1 failed." in result.output
    assert [b.amount for b in emu.bonuses if b.assignment_id == d.submission_id] == [Decimal("0.25")]
    log = {(r["Action"], r["AssignmentId"]): r for r in sheet(load_config(wave).workbook_path, "Log")}
    row = log[("bonus", d.submission_id)]
    assert (row["Amount"], row["Status"]) == (0.25, "failed") and why in row["Detail"]

    # Never sent automatically: the next run says the same again.
    again = run("close-out", wave, "--apply", "--yes", *NOW_ARG)
    assert again.exit_code == 2 and why in again.output
    assert [b.amount for b in emu.bonuses if b.assignment_id == d.submission_id] == [Decimal("0.25")]


def test_a_malformed_bonus_listing_fails_that_hits_bonuses_and_the_rest_goes_on(wave: Path, emu, monkeypatch):
    def malformed(state, params):
        return {"BonusPayments": [{"WorkerId": "AX", "AssignmentId": "3X", "BonusAmount": "n/a"}], "NumResults": 1}

    monkeypatch.setitem(OPERATIONS, "ListBonusPayments", malformed)

    result = run("close-out", wave, "--apply", "--yes", *NOW_ARG)

    assert result.exit_code == 2, result.output
    assert "unexpected error" not in result.output
    assert "Applied: 37 approvals, 5 rejections, 0 bonuses (0.00 USD), 89 qualification grants; 29 failed." in result.output
    assert "could not read what MTurk already paid (InvalidOperation" in result.output
    assert emu.calls["SendBonus"] == 0


def test_an_unexpected_error_while_sending_is_an_apply_failure_and_resumes(wave: Path, emu, tmp_path: Path,
                                                                           monkeypatch):
    plan = plan_for(wave, tmp_path)
    worker = plan.qualifications[0].participant_id
    record = Ledger.record_many

    def broken(self, outcomes):
        if any(a.kind is Kind.GRANT and a.participant_id == worker for a, *_ in outcomes):
            raise sqlite3.OperationalError("disk I/O error")
        return record(self, outcomes)

    monkeypatch.setattr(Ledger, "record_many", broken)
    result = run("close-out", wave, "--apply", "--yes", *NOW_ARG)

    assert result.exit_code == 2, result.output
    assert "unexpected error (OperationalError: disk I/O error)" in result.output
    assert "The ledger keeps what was done" in result.output and "run the same command again to resume" in result.output
    with ledger_for(load_config(wave), plan) as ledger:
        statuses = {(e.kind, e.participant_id): e.status for e in ledger.entries().values() if e.kind == "grant"}
    assert "done" not in {s for (k, w), s in statuses.items() if w == worker}  # never confirmed, never done

    monkeypatch.undo()
    again = run("close-out", wave, "--apply", "--yes", *NOW_ARG)
    assert again.exit_code == 0, again.output
    assert_applied_once(emu.url, plan)


def test_a_fault_in_the_checks_before_sending_is_run_again_naming_the_environment(wave: Path, emu,
                                                                                     tmp_path: Path):
    # SPEC §12: a service down before anything is sent is exit 2 ("nothing was sent; run
    # again"), no longer exit 1, the code for a wrong config.
    settings = load_config(wave)
    plan = plan_for(wave, tmp_path)
    emu.faults.fail_rate = 1.0

    with pytest.raises(ApplyError) as caught:
        apply_plan(plan, settings, workbook=settings.workbook_path, confirm=yes,
                   market=connect(emu.url, max_attempts=0))

    assert caught.value.exit_code == 2
    assert f"The MTurk endpoint {emu.url} did not answer the checks before sending" in str(caught.value)
    assert "Nothing was sent" in str(caught.value)
    assert sum(emu.calls[op] for op in ("ApproveAssignment", "RejectAssignment", "SendBonus")) == 0
