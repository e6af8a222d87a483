"""`fetch_assignments` against the MTurk emulator over HTTP with the real boto3 client."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from mturk_api_support import answer, form, free_text, table_differences

from bridge.panels.mturk.api import UNREADABLE, fetch_assignments, make_mturk_client

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)


# --- the API path gives the CSV path's table ------------------------------------------------


def test_realworld_batch_same_table_as_the_csv(p808):
    emulator, csv = p808
    api = fetch_assignments(list(csv.tasks), environment=emulator.url)
    assert len(api.submissions) == len(csv.submissions) == 349
    assert table_differences(api, csv) == []


def test_sample_wave_same_table_as_the_csv(sample_wave):
    emulator, csv = sample_wave
    api = fetch_assignments(list(csv.tasks), environment=emulator.url)
    assert {a.status for a in api.submissions} == {"Submitted", "Approved"}
    assert table_differences(api, csv) == []
    hit = next(iter(api.tasks.values()))
    assert hit.reward == Decimal("1.50") and isinstance(hit.reward, Decimal)


def test_times_are_aware_utc(sample_wave):
    emulator, csv = sample_wave
    api = fetch_assignments(list(csv.tasks), environment=emulator.url)
    a = next(a for a in api.submissions if a.status == "Submitted")
    for value in (a.started_at, a.submitted_at, a.auto_approval_time):
        assert value is not None and value.tzinfo is timezone.utc
    hit = next(iter(api.tasks.values()))
    assert hit.created_at.tzinfo is timezone.utc and hit.expires_at.tzinfo is timezone.utc


def test_source_names_the_environment_and_hits(sample_wave):
    emulator, csv = sample_wave
    (hit_id,) = csv.tasks
    api = fetch_assignments([hit_id], environment=emulator.url)
    assert api.source == f"MTurk API at {emulator.url} (HIT {hit_id})"
    # The environment named in `source` is the caller's, whatever endpoint the client uses.
    client = make_mturk_client(emulator.url)
    assert fetch_assignments([hit_id], environment="sandbox", client=client).source == (
        f"MTurk sandbox API (HIT {hit_id})"
    )


# --- HIT fields, pagination, statuses, duplicates -------------------------------------------


def test_hit_fields(emu):
    hit_id = emu.add_hit(reward="0.75", max_assignments=9, auto_approval_delay_seconds=86400,
                         assignment_duration_seconds=1800, title="T", description="D", keywords="k1, k2",
                         hit_type_id="3TYPE", creation_time=T0, expiration=T0 + timedelta(days=3))
    hit = fetch_assignments([hit_id], environment=emu.url).tasks[hit_id]
    assert (hit.reward, hit.places, hit.auto_approval_delay_seconds, hit.duration_limit_seconds) == (
        Decimal("0.75"), 9, 86400, 1800)
    assert (hit.type_id, hit.title, hit.description, hit.keywords) == ("3TYPE", "T", "D", "k1, k2")
    assert hit.created_at == T0 and hit.expires_at == T0 + timedelta(days=3)


def test_pagination_over_several_pages(emu):
    hits = [emu.add_hit(max_assignments=125) for _ in range(2)]
    expected = set()
    for n in range(250):
        expected.add(emu.add_assignment(hits[n % 2], f"AW{n:05d}", answers={"surveycode": str(1000000 + n)}))
    table = fetch_assignments(hits, environment=emu.url)
    assert emu.calls["ListAssignmentsForHIT"] > 2
    assert emu.calls["GetHIT"] == 2
    assert [a.submission_id for a in table.submissions if a.submission_id in expected] == [
        a.submission_id for a in table.submissions]
    assert {a.submission_id for a in table.submissions} == expected and len(table.submissions) == 250
    assert sorted(a.answers["surveycode"] for a in table.submissions) == [str(1000000 + n) for n in range(250)]
    # Assignments are grouped by HIT, in the order the HITs were given.
    assert [a.task_id for a in table.submissions] == [hits[0]] * 125 + [hits[1]] * 125


def test_every_status_is_included(emu):
    hit_id = emu.add_hit(max_assignments=3)
    submitted = emu.add_assignment(hit_id, "AW1", submit_time=T0, answers={"surveycode": "1"})
    approved = emu.add_assignment(hit_id, "AW2", status="Approved", submit_time=T0,
                                  approval_time=T0 + timedelta(hours=1), answers={"surveycode": "2"})
    rejected = emu.add_assignment(hit_id, "AW3", status="Rejected", submit_time=T0,
                                  rejection_time=T0 + timedelta(hours=2), requester_feedback="Wrong code.",
                                  answers={"surveycode": "3"})
    table = fetch_assignments([hit_id], environment=emu.url)
    by_id = {a.submission_id: a for a in table.submissions}
    assert {i: a.status for i, a in by_id.items()} == {
        submitted: "Submitted", approved: "Approved", rejected: "Rejected"}
    assert by_id[approved].approved_at == T0 + timedelta(hours=1)
    assert by_id[rejected].rejected_at == T0 + timedelta(hours=2)
    assert by_id[rejected].feedback == "Wrong code."
    assert by_id[submitted].auto_approval_time is not None and by_id[approved].auto_approval_time is None
    assert all(a.source_row == 0 and a.flags == () for a in table.submissions)


def test_work_time_is_submit_minus_accept(emu):
    hit_id = emu.add_hit()
    emu.add_assignment(hit_id, "AW1", accept_time=T0, submit_time=T0 + timedelta(seconds=754))
    (a,) = fetch_assignments([hit_id], environment=emu.url).submissions
    assert a.time_taken_seconds == 754


def test_duplicate_hit_ids_are_fetched_once(emu):
    hit_id = emu.add_hit(max_assignments=2)
    emu.add_assignment(hit_id, "AW1")
    emu.add_assignment(hit_id, "AW2")
    table = fetch_assignments([hit_id, hit_id, f" {hit_id} "], environment=emu.url)
    assert emu.calls["GetHIT"] == 1 and emu.calls["ListAssignmentsForHIT"] == 1
    assert len(table.submissions) == 2 and list(table.tasks) == [hit_id]
    assert table.source.endswith(f"(HIT {hit_id})")


def test_a_hit_without_assignments(emu):
    hit_id = emu.add_hit()
    table = fetch_assignments([hit_id], environment=emu.url)
    assert table.submissions == [] and table.answer_fields == [] and hit_id in table.tasks


def test_answer_fields_are_the_union_in_first_seen_order(emu):
    h1, h2 = emu.add_hit(max_assignments=2), emu.add_hit()
    emu.add_assignment(h1, "AW1", answers={"b": "1", "a": "2"})
    emu.add_assignment(h1, "AW2", answers={"a": "3", "c": "4"})
    emu.add_assignment(h2, "AW3", answers={"d": "5", "b": "6"})
    table = fetch_assignments([h1, h2], environment=emu.url)
    assert table.answer_fields == ["b", "a", "c", "d"]


# --- raw Answer XML through the wire ----------------------------------------------------------

VARIANTS = {
    "free_text": (free_text(surveycode="4820193"), {"surveycode": "4820193"}),
    "one_selection": (form(answer("colour", ("SelectionIdentifier", "blue"))), {"colour": "blue"}),
    "several_selections": (
        form(answer("langs", ("SelectionIdentifier", "en"), ("SelectionIdentifier", "de"))), {"langs": "en|de"}),
    "other_selection": (
        form(answer("pets", ("SelectionIdentifier", "cat"), ("OtherSelectionText", "axolotl"))),
        {"pets": "cat|axolotl"}),
    "uploaded_file": (form(answer("file", ("UploadedFileKey", "k/1.png"))), {"file": "k/1.png"}),
    "ascii_declaration": (form(answer("name", ("FreeText", "Zoë")), encoding="ASCII"), {"name": "Zoë"}),
}
UNREADABLE_VARIANTS = {
    "empty": "",
    "malformed": "<QuestionFormAnswers><Answer>",
    "doctype": (
        '<?xml version="1.0"?><!DOCTYPE q [<!ENTITY x "boom">]><QuestionFormAnswers><Answer>'
        "<QuestionIdentifier>surveycode</QuestionIdentifier><FreeText>&x;</FreeText></Answer></QuestionFormAnswers>"
    ),
}


def test_answer_xml_variants_over_the_wire(emu):
    hit_id = emu.add_hit(max_assignments=len(VARIANTS) + len(UNREADABLE_VARIANTS))
    ids = {}
    for n, (name, (xml, _)) in enumerate(VARIANTS.items()):
        ids[name] = emu.add_assignment(hit_id, f"AW{n}", answers=xml)
    for n, (name, xml) in enumerate(UNREADABLE_VARIANTS.items()):
        ids[name] = emu.add_assignment(hit_id, f"AX{n}", answers=xml)
    table = fetch_assignments([hit_id], environment=emu.url)
    by_id = {a.submission_id: a for a in table.submissions}
    assert len(by_id) == len(ids)  # unreadable answers never drop an assignment
    for name, (_, expected) in VARIANTS.items():
        a = by_id[ids[name]]
        assert (a.answers, a.flags) == (expected, ()), name
    for name in UNREADABLE_VARIANTS:
        a = by_id[ids[name]]
        assert (a.answers, a.flags) == ({}, (UNREADABLE,)), name
        assert a.status == "Submitted" and a.participant_id.startswith("AX")
    assert table.answer_fields == ["surveycode", "colour", "langs", "pets", "file", "name"]


@pytest.mark.parametrize("environment", ["http://localhost:{port}", "http://127.0.0.1:{port}/"])
def test_localhost_spellings_work_without_credentials(emu, environment):
    hit_id = emu.add_hit()
    emu.add_assignment(hit_id, "AW1", answers={"surveycode": "1"})
    port = emu.url.rsplit(":", 1)[1]
    table = fetch_assignments([hit_id], environment=environment.format(port=port))
    assert [a.answers for a in table.submissions] == [{"surveycode": "1"}]
