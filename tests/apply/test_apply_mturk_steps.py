"""The rest of an MTurk close-out (SPEC §9), each step exactly once, driven through the
project's adapter and checked with plain boto3 against the emulator over HTTP: a rejection
overridden by a person's approval, Eligible_Worker revoked from flagged workers, the
invitation to those granted it, a compensation HIT for a worker who could not submit,
the wave's HITs expired, and the Masters surcharge in the fees. The last test SIGKILLs a
`close-out --apply --yes` with all of them configured and runs it again."""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from apply_support import (
    NOW_ARG,
    REPO,
    balance,
    bonuses,
    client,
    create_qualification_types,
    edit_csv,
    granted,
    ledger_for,
    plan_for,
    sheet,
    statuses,
    write_wave,
)
from openpyxl import load_workbook
from typer.testing import CliRunner

from bridge.apply import Action, Kind, apply_plan
from bridge.apply.executor import Executor
from bridge.cli import app
from bridge.config import load_config
from bridge.cost import plan_cost
from bridge.emulator.base import Fault, Faults
from bridge.ledger import open_ledger
from bridge.models import OVERRIDE_REASON, Decision, State, batch_scope
from bridge.panels.mturk import adapter as mturk_adapter
from bridge.panels.mturk.adapter import connect
from bridge.panels.mturk.api import fetch_assignments
from bridge.panels.mturk.words import MASTERS_PRODUCTION

runner = CliRunner()
WAVE = "sample-wave-1"
NEVER_SUBMITTED = "A1NEVERSUBMITTED"  # the sample's worker who finished the survey but has no assignment
SUBJECT = "Our next study"
MESSAGE = "Thank you for taking part. You are invited to our next study: look for it on MTurk this week."


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def yes(pre) -> bool:
    return True


def configure(config: Path, *, revoke=False, notify=False, compensation=False, expire=False, masters=False) -> Path:
    """Turn on SPEC §9 steps in a wave config written by `write_wave`."""
    text = config.read_text()
    if revoke:
        text = text.replace("[qualifications]\n", "[qualifications]\nrevoke_eligible_on_flag = true\n")
    mturk = ("expire_hits = true\n" if expire else "") + ("masters = true\n" if masters else "")
    text = text.replace("[mturk]\n", "[mturk]\n" + mturk)
    if notify:
        text += f'\n[notify]\neligible_subject = "{SUBJECT}"\neligible_message = "{MESSAGE}"\n'
    if compensation:
        text += '\n[compensation]\nreward = "1.50"\n'
    config.write_text(text)
    return config


class OperationFaults(Faults):
    """Faults scripted per MTurk operation: `script["NotifyWorkers"] = [Fault.FAIL_AFTER]`."""

    def __init__(self):
        super().__init__()
        self.script: dict[str, list[Fault]] = defaultdict(list)
        self.local = threading.local()

    def decide(self) -> Fault:
        queue = self.script.get(getattr(self.local, "operation", None))
        return queue.pop(0) if queue else Fault.NONE


def scripted(emu) -> OperationFaults:
    faults = OperationFaults()
    served = emu.handle

    def handle(target, body):
        faults.local.operation = (target or "").rsplit(".", 1)[-1]
        return served(target, body)

    emu.faults, emu.handle = faults, handle
    return faults


def hits_titled(url: str, title: str) -> list[dict]:
    return [h for page in client(url).get_paginator("list_hits").paginate() for h in page["HITs"]
            if h["Title"] == title]


def types_named(url: str, name: str) -> list[dict]:
    return [q for page in client(url).get_paginator("list_qualification_types").paginate(
        Query=name, MustBeRequestable=False, MustBeOwnedByCaller=True) for q in page["QualificationTypes"]
        if q["Name"] == name]


def edit_decisions(path: Path, change) -> None:
    wb = load_workbook(path)
    ws = wb["Decisions"]
    header = [c.value for c in ws[1]]
    rows = {ws.cell(r, 1).value: {h: ws.cell(r, i + 1) for i, h in enumerate(header)} for r in range(2, ws.max_row + 1)}
    change(rows)
    wb.save(path)


# --- 1. overriding a rejection ------------------------------------------------------------------


def rejected_on_the_website(wave: Path, emu, tmp_path: Path, nth: int = 0):
    """An approvable assignment with a bonus, rejected by hand on the website (the batch
    file downloaded afterwards says so)."""
    d = [d for d in plan_for(wave, tmp_path).decisions
         if d.decision is Decision.APPROVE and d.state is State.PENDING and d.bonus and not d.reasons][nth]
    client(emu.url).reject_assignment(AssignmentId=d.submission_id, RequesterFeedback="Rejected by mistake.")
    edit_csv(wave.parent / "batch_results.csv", "AssignmentId", d.submission_id, "AssignmentStatus", "Rejected")
    return d


def test_a_rejection_a_person_sets_to_approve_is_overridden_once_and_its_bonus_follows(wave: Path, emu, tmp_path):
    d = rejected_on_the_website(wave, emu, tmp_path)
    eligible = load_config(wave).qualifications.eligible_worker
    assert run("close-out", wave, *NOW_ARG).exit_code == 0
    workbook = load_config(wave).workbook_path
    row = {r["AssignmentId"]: r for r in sheet(workbook, "Decisions")}[d.submission_id]
    assert (row["Decision"], row["Bonus"]) == ("reject", None) and "not_submitted" in row["Reasons"]

    def change(rows):
        rows[d.submission_id]["Decision"].value = "approve"
        rows[d.submission_id]["Bonus"].value = float(d.bonus)

    edit_decisions(workbook, change)
    before = balance(emu.url)

    result = run("apply", workbook, "--config", wave, "--yes", *NOW_ARG)

    assert result.exit_code == 0, result.output
    assert "reject -> approve" in result.output
    assert "1 overridden rejections" in result.output
    assert emu.assignment(d.submission_id).status == "Approved"  # only OverrideRejection=true can do that
    assert [b for b in bonuses(emu.url, [d.task_id]) if b[0] == d.submission_id] == [(d.submission_id, d.bonus)]
    assert d.participant_id in granted(emu.url, eligible)  # granted once the override is done
    reward = Decimal("1.50")
    assert before - balance(emu.url) >= reward + d.bonus  # its reward (and fee) was counted and charged
    log = {(r["Action"], r["AssignmentId"]): r for r in sheet(workbook, "Log")}
    assert log[("override", d.submission_id)]["Status"] == "done"
    assert log[("bonus", d.submission_id)]["Status"] == "done"
    row = {r["AssignmentId"]: r for r in sheet(workbook, "Decisions")}[d.submission_id]
    assert OVERRIDE_REASON in row["Reasons"] and row["MTurkStatus"] == "Approved"

    calls = dict(emu.calls)
    again = run("apply", workbook, "--config", wave, "--yes", *NOW_ARG)
    assert again.exit_code == 0, again.output
    assert "Nothing to send" in again.output
    for op in ("ApproveAssignment", "SendBonus", "AssociateQualificationWithWorker"):
        assert emu.calls[op] == calls.get(op, 0), op


def test_an_override_a_crash_left_pending_is_read_back_not_sent_again(wave: Path, emu, tmp_path):
    d = rejected_on_the_website(wave, emu, tmp_path)
    lost = rejected_on_the_website(wave, emu, tmp_path, 1)
    settings = load_config(wave)
    plan = plan_for(wave, tmp_path)
    plan.decisions = [dataclasses.replace(x, decision=Decision.APPROVE, reasons=[*x.reasons, OVERRIDE_REASON])
                      if x.submission_id in (d.submission_id, lost.submission_id) else x for x in plan.decisions]
    # The crashed run had sent one (MTurk approved it) and not the other; the ledger says pending for both.
    client(emu.url).approve_assignment(AssignmentId=d.submission_id, OverrideRejection=True)
    with ledger_for(settings, plan) as ledger:
        for x in (d, lost):
            ledger.pending(Action(Kind.OVERRIDE, x.submission_id, x.participant_id, x.task_id))
    approvals, reads = emu.calls["ApproveAssignment"], emu.calls["GetAssignment"]

    result = apply_plan(plan, settings, workbook=settings.workbook_path, confirm=yes, market=connect(emu.url))

    assert not result.failed
    # The pending approvals and the override MTurk never got; not the one it did.
    assert emu.calls["ApproveAssignment"] - approvals == 35 + 1
    assert emu.calls["GetAssignment"] - reads == 2  # both overrides, read back first
    assert emu.assignment(lost.submission_id).status == "Approved"
    log = {(r["Action"], r["AssignmentId"]): r for r in sheet(settings.workbook_path, "Log")}
    assert log[("override", d.submission_id)]["Status"] == log[("override", lost.submission_id)]["Status"] == "done"
    assert "already Approved on MTurk (interrupted run" in log[("override", d.submission_id)]["Detail"]


# --- 2. revoking Eligible_Worker from flagged workers ------------------------------------------------


def test_flagged_workers_who_hold_eligible_worker_lose_it_once(wave: Path, emu, tmp_path):
    configure(wave, revoke=True)
    settings = load_config(wave)
    plan = plan_for(wave, tmp_path)
    eligible = settings.qualifications.eligible_worker
    revokes = [q.participant_id for q in plan.qualifications if q.action == "revoke"]
    grants = {q.participant_id for q in plan.qualifications if q.action == "grant" and q.role == "eligible_worker"}
    assert revokes and not set(revokes) & grants
    c = client(emu.url)
    holders = revokes[:2]  # granted in an earlier wave
    for worker in [*holders, "AOUTSIDEROFTHISWAVE"]:
        c.associate_qualification_with_worker(QualificationTypeId=eligible, WorkerId=worker, IntegerValue=1,
                                              SendNotification=False)

    result = apply_plan(plan, settings, workbook=settings.workbook_path, confirm=yes, market=connect(emu.url))

    assert not result.failed
    assert emu.calls["DisassociateQualificationFromWorker"] == 2  # only those who held it
    assert granted(emu.url, eligible) == grants | {"AOUTSIDEROFTHISWAVE"}
    log = [r for r in sheet(settings.workbook_path, "Log") if r["Action"] == "revoke"]
    assert len(log) == len(revokes) and {r["Status"] for r in log} == {"done"}
    assert sum("did not hold it" in r["Detail"] for r in log) == len(revokes) - 2
    quals = [r for r in sheet(settings.workbook_path, "Qualifications") if r["Action"] == "revoke"]
    assert {r["WorkerId"] for r in quals} == set(revokes) and {r["QualificationTypeId"] for r in quals} == {eligible}
    assert "15 qualification revokes" in result.summary_line()

    # Granted again by hand meanwhile: a re-run still sends nothing (each revoke happened once).
    result = apply_plan(plan, settings, workbook=settings.workbook_path, confirm=yes, market=connect(emu.url))
    assert not result.failed and emu.calls["DisassociateQualificationFromWorker"] == 2


def test_revoking_a_qualification_the_worker_does_not_hold(wave: Path, emu):
    """MTurk (the emulator) answers a RequestError; the adapter counts it as done."""
    eligible = load_config(wave).qualifications.eligible_worker
    with pytest.raises(client(emu.url).exceptions.RequestError, match="Qualification that does not exist"):
        client(emu.url).disassociate_qualification_from_worker(QualificationTypeId=eligible, WorkerId="ANOBODY1")
    reply = connect(emu.url).remove_from_group(eligible, [Action(Kind.REVOKE, participant_id="ANOBODY1",
                                                                 group_id=eligible)])["ANOBODY1"]
    assert reply.outcome.value == "accepted" and "did not hold it" in reply.detail


# --- 3. inviting the eligible back ------------------------------------------------------------


def test_the_eligible_are_invited_once_each_after_their_grants(wave: Path, emu, tmp_path):
    configure(wave, notify=True)
    settings = load_config(wave)
    plan = plan_for(wave, tmp_path)
    invited = [q.participant_id for q in plan.qualifications if q.action == "grant" and q.role == "eligible_worker"]

    result = apply_plan(plan, settings, workbook=settings.workbook_path, confirm=yes, market=connect(emu.url))

    assert not result.failed and result.done[Kind.NOTIFY] == len(invited) == 37
    sent = [w for n in emu.state.notifications for w in n.worker_ids]
    assert sorted(sent) == sorted(invited)
    assert {(n.subject, n.message) for n in emu.state.notifications} == {(SUBJECT, MESSAGE)}
    assert "37 invitations" in result.summary_line()
    assert emu.calls["NotifyWorkers"] == 1
    apply_plan(plan, settings, workbook=settings.workbook_path, confirm=yes, market=connect(emu.url))
    assert emu.calls["NotifyWorkers"] == 1


def test_invitations_go_in_chunks_of_100_and_unreachable_workers_fail_with_mturks_words(start_mturk, tmp_path):
    emu = start_mturk()
    hit = emu.add_hit(reward="1.00", max_assignments=150)
    workers = [f"A{i:05d}WORKER" for i in range(150)]
    for w in workers:
        emu.add_assignment(hit, w, status="Approved")  # NotifyWorkers reaches only workers whose work was decided
    market = connect(emu.url)
    group = market.client.create_qualification_type(Name="Eligible", Description="e", QualificationTypeStatus="Active")[
        "QualificationType"]["QualificationTypeId"]
    everyone = [*workers, "ANEVERWORKEDFORUS"]
    actions = [Action(Kind.GRANT, participant_id=w, group_id=group, role="eligible_worker") for w in everyone]
    actions += [Action(Kind.NOTIFY, participant_id=w, group_id=group, subject=SUBJECT, text=MESSAGE) for w in everyone]

    with open_ledger(tmp_path / "ledger.sqlite", panel="mturk", environment="local", tasks=[hit]) as ledger:
        Executor(market, ledger).run(actions)
        entries = {e.participant_id: e for e in ledger.entries().values() if e.kind == "notify"}

    assert emu.calls["NotifyWorkers"] == 2  # 151 workers: 100 + 51
    assert sorted(w for n in emu.state.notifications for w in n.worker_ids) == sorted(workers)
    stranger = entries.pop("ANEVERWORKEDFORUS")
    assert stranger.status == "failed" and stranger.detail.startswith("HardFailure: ")
    assert "have not approved or rejected any of their work" in stranger.detail
    assert {e.status for e in entries.values()} == {"done"}


def test_an_invitation_whose_answer_was_lost_is_never_sent_twice(wave: Path, emu, tmp_path):
    configure(wave, notify=True)
    settings = load_config(wave)
    plan = plan_for(wave, tmp_path)
    faults = scripted(emu)
    faults.script["NotifyWorkers"] = [Fault.FAIL_AFTER]  # MTurk sent it, then a 500

    result = apply_plan(plan, settings, workbook=settings.workbook_path, confirm=yes, market=connect(emu.url))

    assert emu.calls["NotifyWorkers"] == 1  # botocore did not repeat it
    assert len(emu.state.notifications) == 1 and len(emu.state.notifications[0].worker_ids) == 37
    notes = [e for e in result.skipped if e.kind == "notify"]
    assert len(notes) == 37 and all("may have been sent" in e.detail for e in notes)
    apply_plan(plan, settings, workbook=settings.workbook_path, confirm=yes, market=connect(emu.url))
    assert emu.calls["NotifyWorkers"] == 1 and len(emu.state.notifications) == 1


def test_an_invitation_a_crash_left_pending_is_settled_as_may_have_been_sent(wave: Path, emu, tmp_path):
    configure(wave, notify=True)
    settings = load_config(wave)
    plan = plan_for(wave, tmp_path)
    invited = [q for q in plan.qualifications if q.action == "grant" and q.role == "eligible_worker"]
    crashed = invited[:2]  # the killed run recorded them pending, then died: sent or not, nobody knows
    with ledger_for(settings, plan) as ledger:
        ledger.pending([Action(Kind.NOTIFY, participant_id=q.participant_id, group_id=q.group_id) for q in crashed])

    result = apply_plan(plan, settings, workbook=settings.workbook_path, confirm=yes, market=connect(emu.url))

    sent = [w for n in emu.state.notifications for w in n.worker_ids]
    assert len(sent) == len(invited) - 2 and not {q.participant_id for q in crashed} & set(sent)
    skipped = {e.participant_id: e for e in result.skipped if e.kind == "notify"}
    assert set(skipped) == {q.participant_id for q in crashed}
    assert all("may have been sent" in e.detail and "earlier run" in e.detail for e in skipped.values())


def test_throttled_invitations_are_waited_out_and_sent_once(wave: Path, emu, tmp_path, monkeypatch):
    monkeypatch.setattr(mturk_adapter, "THROTTLE_WAITS", (0.01,) * 6)
    configure(wave, notify=True)
    settings = load_config(wave)
    faults = scripted(emu)
    faults.script["NotifyWorkers"] = [Fault.THROTTLE, Fault.THROTTLE]  # MTurk did nothing
    result = apply_plan(plan_for(wave, tmp_path), settings, workbook=settings.workbook_path, confirm=yes,
                        market=connect(emu.url))
    assert not result.failed and result.done[Kind.NOTIFY] == 37
    assert emu.calls["NotifyWorkers"] == 3 and len(emu.state.notifications) == 1


def test_no_invitation_before_its_grant(wave: Path, emu, tmp_path):
    configure(wave, notify=True)
    settings = load_config(wave)
    plan = plan_for(wave, tmp_path)
    d = next(d for d in plan.decisions if d.decision is Decision.APPROVE and d.state is State.PENDING and not d.reasons)
    # Rejected by hand before the run: its approval is skipped, so its Eligible_Worker grant is too.
    client(emu.url).reject_assignment(AssignmentId=d.submission_id, RequesterFeedback="Rejected by hand.")

    result = apply_plan(plan, settings, workbook=settings.workbook_path, confirm=yes, market=connect(emu.url))

    sent = {w for n in emu.state.notifications for w in n.worker_ids}
    assert d.participant_id not in sent and len(sent) == 36
    note = next(e for e in result.skipped if e.kind == "notify")
    assert note.participant_id == d.participant_id and "grant was skipped" in note.detail


# --- 4. compensation HITs -------------------------------------------------------------------------


def test_a_worker_who_could_not_submit_gets_one_compensation_hit_for_them_alone(wave: Path, emu, tmp_path):
    configure(wave, compensation=True)
    settings = load_config(wave)
    plan = plan_for(wave, tmp_path)
    (comp,) = plan.compensations
    assert (comp.participant_id, comp.amount, comp.fee, comp.how) == (NEVER_SUBMITTED, Decimal("1.50"),
                                                                        Decimal("0.30"), "task")
    shown = []

    result = apply_plan(plan, settings, workbook=settings.workbook_path, market=connect(emu.url),
                        confirm=lambda pre: shown.append(pre) or True)

    assert not result.failed
    assert shown[0].cost.compensation == Decimal("1.50") and "compensation 1.50 + " in shown[0].lines()[2]
    (hit,) = hits_titled(emu.url, f"Compensation HIT for {NEVER_SUBMITTED}")
    assert (hit["Reward"], hit["MaxAssignments"]) == ("1.50", 1)
    (qt,) = types_named(emu.url, f"Compensation for {NEVER_SUBMITTED} ({batch_scope(plan.tasks)})")
    assert hit["QualificationRequirements"] == [{"QualificationTypeId": qt["QualificationTypeId"],
                                                 "Comparator": "Exists", "ActionsGuarded": "DiscoverPreviewAndAccept"}]
    assert granted(emu.url, qt["QualificationTypeId"]) == {NEVER_SUBMITTED}
    log = {r["Action"]: r for r in sheet(settings.workbook_path, "Log") if r["Action"] == "compensate"}
    assert log["compensate"]["Status"] == "done" and hit["HITId"] in log["compensate"]["Detail"]
    assert qt["QualificationTypeId"] in log["compensate"]["Detail"]
    row = {r["WorkerId"]: r for r in sheet(settings.workbook_path, "Unmatched responses")}[NEVER_SUBMITTED]
    assert "no_assignment" in row["Reasons"]
    assert (row["Compensation"], row["CompensationFee"]) == (1.5, 0.3) and "Compensation HIT for" in row["CompensationNote"]
    summary = dict((r["Item"], r["Value"]) for r in sheet(settings.workbook_path, "Summary"))
    assert summary["Compensation rewards (USD)"] == 1.5 and summary["Compensation fees (USD)"] == 0.3
    with ledger_for(settings, plan) as ledger:
        (entry,) = [e for e in ledger.entries().values() if e.kind == "compensate"]
    assert entry.batch_id == qt["QualificationTypeId"] and entry.request_id == hit["HITId"]

    emu.state.balance = Decimal("1.00")  # what is done costs nothing more: the re-run is not refused
    again = apply_plan(plan, settings, workbook=settings.workbook_path, confirm=yes, market=connect(emu.url))
    assert not again.failed and again.sent_now == 0
    assert emu.calls["CreateHIT"] == 1 and len(types_named(emu.url, qt["Name"])) == 1


def test_a_compensation_half_done_by_a_crashed_run_is_finished_not_repeated(wave: Path, emu, tmp_path):
    configure(wave, compensation=True)
    settings = load_config(wave)
    plan = plan_for(wave, tmp_path)
    name = f"Compensation for {NEVER_SUBMITTED} ({batch_scope(plan.tasks)})"
    # The crashed run had created the worker's qualification type, then died (ledger: pending).
    made = client(emu.url).create_qualification_type(Name=name, Description="x", QualificationTypeStatus="Active")
    with ledger_for(settings, plan) as ledger:
        ledger.pending(Action(Kind.COMPENSATE, participant_id=NEVER_SUBMITTED))
    created = emu.calls["CreateQualificationType"]
    faults = scripted(emu)
    faults.script["CreateHIT"] = [Fault.FAIL_AFTER]  # created, then a 500: botocore repeats it with the same token

    result = apply_plan(plan, settings, workbook=settings.workbook_path, confirm=yes, market=connect(emu.url))

    assert not result.failed
    assert emu.calls["CreateQualificationType"] == created  # found by name
    assert emu.calls["CreateHIT"] == 2  # the repeat was refused by its UniqueRequestToken
    (hit,) = hits_titled(emu.url, f"Compensation HIT for {NEVER_SUBMITTED}")
    assert hit["QualificationRequirements"][0]["QualificationTypeId"] == made["QualificationType"]["QualificationTypeId"]
    # A day later (the token forgotten), a ledger that lost the answer again: found through its type.
    with ledger_for(settings, plan) as ledger:
        ledger.pending(Action(Kind.COMPENSATE, participant_id=NEVER_SUBMITTED))
    apply_plan(plan, settings, workbook=settings.workbook_path, confirm=yes, market=connect(emu.url))
    assert emu.calls["CreateHIT"] == 2 and len(hits_titled(emu.url, f"Compensation HIT for {NEVER_SUBMITTED}")) == 1


def test_the_compensation_counts_in_the_balance_check(make_emu, tmp_path):
    emu = make_emu()
    config = configure(write_wave(tmp_path / "wave", emu.url, create_qualification_types(emu.url)),
                       compensation=True)
    plan = plan_for(config, tmp_path)
    cost = plan_cost(plan)
    assert cost.total - plan_cost(dataclasses.replace(plan, compensations=[])).total == Decimal("1.80")
    emu.state.balance = cost.total - Decimal("1.00")  # enough without the compensation, not with it

    result = run("close-out", config, "--apply", "--yes", *NOW_ARG)

    assert result.exit_code == 3, result.output
    assert "compensation 1.50" in result.output and "Nothing was sent" in result.output
    assert emu.calls["CreateHIT"] == 0 and emu.calls["ApproveAssignment"] == 0


# --- 5. closing the batch, and Masters ---------------------------------------------------------------


def test_the_waves_hits_are_expired_once_after_applying(wave: Path, emu, tmp_path):
    configure(wave, expire=True)
    settings = load_config(wave)
    plan = plan_for(wave, tmp_path)
    (hit_id,) = plan.tasks
    assert client(emu.url).get_hit(HITId=hit_id)["HIT"]["Expiration"] > emu.state.now()  # 2026-11-27

    result = apply_plan(plan, settings, workbook=settings.workbook_path, confirm=yes, market=connect(emu.url))

    assert not result.failed and result.done[Kind.EXPIRE] == 1
    assert client(emu.url).get_hit(HITId=hit_id)["HIT"]["Expiration"] <= emu.state.now()
    assert emu.calls["UpdateExpirationForHIT"] == 1
    log = [r for r in sheet(settings.workbook_path, "Log") if r["Action"] == "expire"]
    assert len(log) == 1 and hit_id in log[0]["Detail"] and log[0]["Status"] == "done"
    apply_plan(plan, settings, workbook=settings.workbook_path, confirm=yes, market=connect(emu.url))
    assert emu.calls["UpdateExpirationForHIT"] == 1


def test_masters_hits_pay_the_surcharge_read_from_the_hit(start_mturk):
    emu = start_mturk()
    masters = emu.add_hit(reward="1.00", qualification_requirements=[
        {"QualificationTypeId": MASTERS_PRODUCTION, "Comparator": "Exists"}])
    plain = emu.add_hit(reward="1.00")
    for hit in (masters, plain):
        emu.add_assignment(hit, "AWORKER" + hit[:5])
    table = fetch_assignments([masters, plain], environment=emu.url, client=client(emu.url))
    assert table.tasks[masters].masters and not table.tasks[plain].masters
    from bridge.panels.mturk import MTurkFees
    fees = MTurkFees()
    assert fees.fee(Decimal("1.00"), is_reward=True, task=table.tasks[masters]) == Decimal("0.25")
    assert fees.fee(Decimal("1.00"), is_reward=True, task=table.tasks[plain]) == Decimal("0.20")
    before = emu.fees_charged
    for a in emu.state.assignments.values():  # MTurk charges the same: the cost matches the money
        client(emu.url).approve_assignment(AssignmentId=a.assignment_id)
    assert emu.fees_charged - before == Decimal("0.45")


def test_masters_from_the_config_on_the_batch_file_path(wave: Path, tmp_path):
    plain = plan_cost(plan_for(wave, tmp_path))
    configure(wave, masters=True)
    plan = plan_for(wave, tmp_path)
    assert all(t.masters for t in plan.tasks.values())
    # 37 approvals of 1.50 on a 52-assignment HIT: 40% -> 45% of the reward, 0.60 -> 0.68 each.
    assert plan_cost(plan).fees - plain.fees == 37 * Decimal("0.08")
    summary = dict((r["Item"], r["Value"]) for r in sheet(tmp_path / "aside.xlsx", "Summary"))
    assert summary["HITs requiring Masters (fee +5% of the reward)"] == 1


# --- all of it, killed part-way and run again ---------------------------------------------------------


def _pending(path: Path, kinds: tuple[str, ...]) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            marks = ",".join("?" * len(kinds))
            return db.execute(f"SELECT COUNT(*) FROM actions WHERE status = 'pending' AND kind IN ({marks})",
                              kinds).fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_sigkill_part_way_through_the_rest_of_a_close_out_then_resume(make_emu, tmp_path: Path):
    # The emulator is served from this process (its record of notifications is read here);
    # the close-out runs in a subprocess, killed part-way.
    emu = make_emu(latency_ms=40)
    url = emu.url
    quals = create_qualification_types(url)
    config = configure(write_wave(tmp_path / "wave", url, quals), revoke=True, notify=True, compensation=True,
                       expire=True)
    c = client(url)
    # One assignment rejected by mistake on the website, that a person sets to approve.
    wrong = next(d for d in plan_for(config, tmp_path).decisions
                 if d.decision is Decision.APPROVE and d.state is State.PENDING and d.bonus and not d.reasons)
    c.reject_assignment(AssignmentId=wrong.submission_id, RequesterFeedback="Rejected by mistake.")
    edit_csv(config.parent / "batch_results.csv", "AssignmentId", wrong.submission_id, "AssignmentStatus", "Rejected")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "bridge", "close-out", str(config), *NOW_ARG]
    assert subprocess.run(command, cwd=REPO, env=env, capture_output=True, timeout=120).returncode == 0
    workbook = load_config(config).workbook_path

    def change(rows):
        rows[wrong.submission_id]["Decision"].value = "approve"
        rows[wrong.submission_id]["Bonus"].value = float(wrong.bonus)

    edit_decisions(workbook, change)
    flagged = [q.participant_id for q in plan_for(config, tmp_path).qualifications
               if q.action == "revoke" and q.participant_id != wrong.participant_id]
    for worker in flagged[:3]:  # held from an earlier wave
        c.associate_qualification_with_worker(QualificationTypeId=quals["eligible_worker"], WorkerId=worker,
                                              IntegerValue=1, SendNotification=False)
    ledger = load_config(config).ledger_path
    wave_tasks = list(plan_for(config, tmp_path).tasks)

    proc = subprocess.Popen([*command, "--apply", "--yes"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while _pending(ledger, ("compensate",)) == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.003)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    assert _pending(ledger, ("compensate",)) == 1  # killed while the compensation HIT was being made
    assert _pending(ledger, ("expire",)) == 0 and emu.calls["UpdateExpirationForHIT"] == 0

    resumed = subprocess.run([*command, "--apply", "--yes"], cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=120)

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (f"1 overridden rejections, {len(flagged)} qualification revokes, 37 invitations, 1 compensations, "
            "1 tasks expired; 0 failed.") in resumed.stdout
    # Exactly once each: plain boto3, and the emulator's own record of what it was asked.
    assert statuses(url, [wrong.task_id])[wrong.submission_id] == "Approved"
    assert [b for b in bonuses(url, [wrong.task_id]) if b[0] == wrong.submission_id] == [
        (wrong.submission_id, wrong.bonus)]
    holders = granted(url, quals["eligible_worker"])
    assert not holders & set(flagged) and wrong.participant_id in holders and len(holders) == 37
    assert emu.calls["DisassociateQualificationFromWorker"] == 3
    sent = [w for n in emu.state.notifications for w in n.worker_ids]
    assert len(sent) == len(set(sent)) == 37 and set(sent) == holders
    comp = hits_titled(url, f"Compensation HIT for {NEVER_SUBMITTED}")
    assert len(comp) == 1 and comp[0]["HITStatus"] == "Assignable"  # the compensation HIT stays open
    (qt,) = types_named(url, f"Compensation for {NEVER_SUBMITTED} ({batch_scope(wave_tasks)})")
    assert granted(url, qt["QualificationTypeId"]) == {NEVER_SUBMITTED}
    assert c.get_hit(HITId=wrong.task_id)["HIT"]["Expiration"] <= emu.state.now()  # the wave's HIT expired
    assert comp[0]["Expiration"] > emu.state.now()
    assert emu.calls["UpdateExpirationForHIT"] == 1
    log = sheet(workbook, "Log")
    assert {r["Status"] for r in log} == {"done"}
    assert sum(r["Action"] == "notify" for r in log) == 37
