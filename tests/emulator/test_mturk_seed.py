"""Seeding from typed tables and from a real batch-results CSV."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from mturk_support import OTHER_WORKER, WORKER

from bridge.panels.mturk.emulator.state import answers_xml
from bridge.panels.mturk.api import ANSWER_NAMESPACE
from bridge.models import State, Submission, SubmissionTable, Task

P808 = Path(__file__).resolve().parents[3] / "shared" / "realworld" / "mturk_batch_results_P808.csv"
NS = {"q": ANSWER_NAMESPACE}


def parse_answers(xml: str) -> dict[str, str]:
    root = ET.fromstring(xml.encode("utf-8"))
    return {
        a.findtext("q:QuestionIdentifier", namespaces=NS): a.findtext("q:FreeText", default="", namespaces=NS)
        for a in root.findall("q:Answer", NS)
    }


def test_answers_xml_escapes_and_round_trips():
    answers = {"surveycode": "  4821907 ", "comment": 'a < b & "c" > \'d\'', "ctl": "bell\x07gone", "empty": ""}
    parsed = parse_answers(answers_xml(answers))
    assert parsed == {"surveycode": "  4821907 ", "comment": 'a < b & "c" > \'d\'', "ctl": "bellgone", "empty": ""}
    assert parse_answers(answers_xml({})) == {}


def _table(clock) -> SubmissionTable:
    now = clock.now
    hit = Task("3SEEDHIT", type_id="3SEEDTYPE", title="Survey", reward=Decimal("0.80"), places=12,
               auto_approval_delay_seconds=3 * 86400, created_at=now - timedelta(days=10))
    old = now - timedelta(days=8)
    recent = now - timedelta(hours=2)
    return SubmissionTable("synthetic", {"3SEEDHIT": hit}, [
        Submission("3SEEDA1", WORKER, "3SEEDHIT", State.PENDING, "Submitted", started_at=old - timedelta(minutes=9),
                   submitted_at=old, auto_approval_time=old + timedelta(days=3), answers={"surveycode": "111"}),
        Submission("3SEEDA2", OTHER_WORKER, "3SEEDHIT", State.PENDING, "Submitted", submitted_at=recent,
                   auto_approval_time=recent + timedelta(days=3), answers={"surveycode": "222"}),
        Submission("3SEEDA3", "AWORKER3", "3SEEDHIT", State.APPROVED, "Approved", submitted_at=old, approved_at=old,
                   answers={"surveycode": "333"}),
        Submission("3SEEDA4", "AWORKER4", "3SEEDHIT", State.REJECTED, "Rejected", submitted_at=old, rejected_at=old,
                   feedback="Wrong code", answers={"surveycode": "444"}),
    ])


def test_seed_table_keeps_statuses_times_and_answers(emu, client, clock):
    table = _table(clock)
    assert emu.seed_table(table) == 4
    listed = client.list_assignments_for_hit(HITId="3SEEDHIT")["Assignments"]
    assert [a["AssignmentStatus"] for a in listed] == ["Submitted", "Submitted", "Approved", "Rejected"]
    first, second, _, rejected = listed
    assert first["SubmitTime"].timestamp() == table.submissions[0].submitted_at.timestamp()
    # Its AutoApprovalTime had passed: re-armed so it stays Submitted, as the file says.
    assert first["AutoApprovalTime"].timestamp() == (clock.now + timedelta(days=3)).timestamp()
    assert second["AutoApprovalTime"].timestamp() == table.submissions[1].auto_approval_time.timestamp()
    assert rejected["RequesterFeedback"] == "Wrong code"
    assert parse_answers(first["Answer"]) == {"surveycode": "111"}
    hit = client.get_hit(HITId="3SEEDHIT")["HIT"]
    assert (hit["Reward"], hit["MaxAssignments"], hit["HITTypeId"]) == ("0.80", 12, "3SEEDTYPE")
    assert emu.balance == Decimal("10000.00")  # seeding charges nothing


def test_seed_table_without_keep_pending_auto_approves_overdue_work(emu, client, clock):
    emu.seed_table(_table(clock), keep_pending=False)
    statuses = {a["AssignmentId"]: a["AssignmentStatus"]
                for a in client.list_assignments_for_hit(HITId="3SEEDHIT")["Assignments"]}
    assert statuses == {"3SEEDA1": "Approved", "3SEEDA2": "Submitted", "3SEEDA3": "Approved", "3SEEDA4": "Rejected"}
    assert emu.balance == Decimal("10000.00") - Decimal("1.12")  # 0.80 + 40% fee on a 12-assignment HIT


@pytest.mark.skipif(not P808.exists(), reason="shared realworld folder not beside the repository")
def test_seed_batch_from_the_real_p808_file(emu, client):
    from bridge.panels.mturk.reader import read_batch_results

    assert emu.seed_batch(P808) == 349
    [hit_id] = emu.state.hits
    hit = client.get_hit(HITId=hit_id)["HIT"]
    assert (hit["Reward"], hit["MaxAssignments"], hit["AutoApprovalDelayInSeconds"]) == ("0.05", 500, 259200)
    pages = client.get_paginator("list_assignments_for_hit").paginate(HITId=hit_id, PaginationConfig={"PageSize": 100})
    listed = [a for p in pages for a in p["Assignments"]]
    assert len(listed) == 349 and {a["AssignmentStatus"] for a in listed} == {"Submitted"}
    table = read_batch_results(P808)
    by_id = {a.submission_id: a for a in table.submissions}
    for a in listed:
        source = by_id[a["AssignmentId"]]
        assert a["WorkerId"] == source.participant_id
        assert a["SubmitTime"].timestamp() == source.submitted_at.timestamp()
        assert parse_answers(a["Answer"]) == source.answers
    client.approve_assignment(AssignmentId=listed[0]["AssignmentId"])
    assert emu.balance == Decimal("10000.00") - Decimal("0.07")  # 0.05 + 0.02 (40%, MaxAssignments 500)
