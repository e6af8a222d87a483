"""Seeding from typed tables and from a real batch-results CSV."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from mturk_support import OTHER_WORKER, WORKER
from paths import REALWORLD, requires_shared  # noqa: E402  (the shared/ rule: tests/paths.py)

from bridge.models import State, Submission, SubmissionTable, Task
from bridge.panels.mturk.api import ANSWER_NAMESPACE
from bridge.panels.mturk.emulator.state import answers_xml

P808 = REALWORLD / "mturk_batch_results_P808.csv"
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
    clock.advance(days=-8)  # the emulator runs as of the first submission: nothing is due yet
    assert emu.seed_table(table) == 4
    listed = client.list_assignments_for_hit(HITId="3SEEDHIT")["Assignments"]
    assert [a["AssignmentStatus"] for a in listed] == ["Submitted", "Submitted", "Approved", "Rejected"]
    first, second, _, rejected = listed
    assert first["SubmitTime"].timestamp() == table.submissions[0].submitted_at.timestamp()
    # The file's AutoApprovalTimes are kept as they are, never moved.
    for got, source in ((first, table.submissions[0]), (second, table.submissions[1])):
        assert got["AutoApprovalTime"].timestamp() == source.auto_approval_time.timestamp()
    assert rejected["RequesterFeedback"] == "Wrong code"
    assert parse_answers(first["Answer"]) == {"surveycode": "111"}
    hit = client.get_hit(HITId="3SEEDHIT")["HIT"]
    assert (hit["Reward"], hit["MaxAssignments"], hit["HITTypeId"]) == ("0.80", 12, "3SEEDTYPE")
    assert emu.balance == Decimal("10000.00")  # seeding charges nothing


def test_seeding_after_the_auto_approval_time_auto_approves_as_the_service_would(emu, client, clock):
    table = _table(clock)
    emu.seed_table(table)  # the clock stands 5 days after the first assignment's AutoApprovalTime
    statuses = {a["AssignmentId"]: a["AssignmentStatus"]
                for a in client.list_assignments_for_hit(HITId="3SEEDHIT")["Assignments"]}
    assert statuses == {"3SEEDA1": "Approved", "3SEEDA2": "Submitted", "3SEEDA3": "Approved", "3SEEDA4": "Rejected"}
    approved = client.get_assignment(AssignmentId="3SEEDA1")["Assignment"]
    assert approved["ApprovalTime"].timestamp() == table.submissions[0].auto_approval_time.timestamp()
    assert emu.balance == Decimal("10000.00") - Decimal("1.12")  # 0.80 + 40% fee on a 12-assignment HIT


def test_seeded_hits_carry_the_annotation_and_an_html_question(emu, client, clock):
    from bridge.models import Task as T

    table = _table(clock)
    hit = table.tasks["3SEEDHIT"]
    table.tasks["3SEEDHIT"] = T(hit.task_id, type_id=hit.type_id, title="Survey <b>&</b>", reward=hit.reward,
                                places=hit.places, created_at=hit.created_at, annotation="BatchId:42;")
    table.answer_fields = ["surveycode", "comment"]
    clock.advance(days=-8)
    emu.seed_table(table)
    got = client.get_hit(HITId="3SEEDHIT")["HIT"]
    assert got["RequesterAnnotation"] == "BatchId:42;"
    root = ET.fromstring(got["Question"])
    assert root.tag == "{http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd}HTMLQuestion"
    html = root.findtext("{*}HTMLContent")
    assert "name='surveycode'" in html and "name='comment'" in html and "externalSubmit" in html
    assert "Survey &lt;b&gt;&amp;&lt;/b&gt;" in html
    # A HIT seeded without an annotation has none, as on MTurk.
    emu.add_hit(hit_id="3PLAIN")
    assert "RequesterAnnotation" not in client.get_hit(HITId="3PLAIN")["HIT"]


@requires_shared(P808)
def test_seed_batch_from_the_real_p808_file(emu, client, clock):
    from bridge.panels.mturk.reader import read_batch_results

    clock.now = datetime(2019, 11, 6, 12, 0, tzinfo=timezone.utc)  # the batch's day, before any auto-approval
    assert emu.seed_batch(P808) == 349
    [hit_id] = emu.state.hits
    hit = client.get_hit(HITId=hit_id)["HIT"]
    assert (hit["Reward"], hit["MaxAssignments"], hit["AutoApprovalDelayInSeconds"]) == ("0.05", 500, 259200)
    assert hit["RequesterAnnotation"] == "BatchId:3824355;OriginalHitTemplateId:920937340;"
    assert "name='audio_n_play_volume'" in hit["Question"]
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
