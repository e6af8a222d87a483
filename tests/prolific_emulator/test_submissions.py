"""Submissions over plain HTTP: pagination and its 404, the required `study`, the two shapes
(list vs detail), filters, counts and the transition rules."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from prolific_support import CODE, REJECTION, START, pid, seed_study


def test_pages_follow_next_until_null_and_404_past_the_last(emu, api):
    study, subs = seed_study(emu, 45)
    seen, url, pages = [], f"/api/v1/submissions/?study={study}", 0
    while url:
        answer = api.get(url)
        assert answer.status_code == 200
        page = answer.json()
        assert page["meta"]["count"] == 45
        seen += [s["id"] for s in page["results"]]
        url = page["_links"]["next"]["href"]
        pages += 1
    assert pages == 3 and sorted(seen) == sorted(subs) and len(set(seen)) == 45  # 20 + 20 + 5, default size 20
    last = api.get(f"/api/v1/submissions/?study={study}&page=3").json()
    assert last["_links"]["next"]["href"] is None
    assert parse_qs(urlsplit(last["_links"]["previous"]["href"]).query)["page"] == ["2"]
    assert parse_qs(urlsplit(last["_links"]["last"]["href"]).query)["page"] == ["3"]
    past = api.get(f"/api/v1/submissions/?study={study}&page=4")
    assert past.status_code == 404 and past.json() == {"detail": "Invalid page."}


def test_next_href_is_the_same_url_with_the_page_plus_one(emu, api):
    study, _ = seed_study(emu, 5)
    first = api.get("/api/v1/submissions/", params={"study": study, "page_size": 2, "status": "AWAITING_REVIEW"})
    href = first.json()["_links"]["next"]["href"]
    assert href.startswith(emu.url + "/api/v1/submissions/?")
    assert parse_qs(urlsplit(href).query) == {"study": [study], "page_size": ["2"], "status": ["AWAITING_REVIEW"],
                                              "page": ["2"]}
    assert first.json()["_links"]["self"]["title"] == "Current"
    assert len(api.get(href).json()["results"]) == 2


def test_an_empty_study_still_has_a_first_page(emu, api):
    study = emu.add_study()
    answer = api.get(f"/api/v1/submissions/?study={study}")
    assert answer.status_code == 200 and answer.json()["results"] == [] and answer.json()["meta"]["count"] == 0
    assert api.get(f"/api/v1/submissions/?study={study}&page=2").status_code == 404


def test_study_is_required(emu, api):
    seed_study(emu, 2)
    answer = api.get("/api/v1/submissions/")
    assert answer.status_code == 400
    assert answer.json()["error"]["detail"] == {"study": ["This field is required."]}


def test_list_and_detail_shapes_differ_as_on_prolific(emu, api):
    study, (sub, *_) = seed_study(emu, 1)
    item = api.get(f"/api/v1/submissions/?study={study}").json()["results"][0]
    assert item["participant_id"] == pid(0) and item["study_code"] == CODE and item["status"] == "AWAITING REVIEW"
    assert item["is_complete"] is True and item["time_taken"] == 600 and item["reward"] == 150
    assert item["bonus_payments"] == [] and item["has_siblings"] is False
    assert item["started_at"] == "2026-11-21T11:00:00.000000Z"
    detail = api.get(f"/api/v1/submissions/{sub}/").json()
    assert detail["participant"] == pid(0) and detail["entered_code"] == CODE and detail["study_id"] == study
    assert "participant_id" not in detail and "study_code" not in detail


def test_status_filter_and_flags(emu, api):
    study, subs = seed_study(emu, 2)
    emu.add_submission(study, pid(7), "TIMED-OUT", started_at=START)
    emu.add_submission(study, pid(8), "RETURNED", started_at=START)
    emu.add_submission(study, pid(9), "SCREENED OUT", started_at=START, entered_code="NOCODE")

    def ids(**params):
        return sorted(s["participant_id"] for s in api.get("/api/v1/submissions/", params={"study": study, **params})
                      .json()["results"])

    assert ids(status="awaiting_review") == [pid(0), pid(1)]  # case-insensitive, underscores
    assert ids(status="TIMED-OUT") == [pid(7)]
    assert ids(status="SCREENED_OUT") == [pid(9)]
    assert ids(returned="1") == [pid(8)] and ids(timeout="true") == [pid(7)]
    assert ids(completed="yes") == [pid(0), pid(1)]
    bad = api.get("/api/v1/submissions/", params={"study": study, "status": "DONE"})
    assert bad.status_code == 400 and "status" in bad.json()["error"]["detail"]


def test_study_submissions_counts_and_the_study_link(emu, api):
    study, subs = seed_study(emu, 3)
    emu.add_submission(study, pid(5), "RETURNED")
    body = api.get(f"/api/v1/studies/{study}/").json()
    assert body["reward"] == 150 and body["currency_code"] == "GBP" and body["workspace"] == emu.workspace_id
    assert body["fees_percentage"] == pytest.approx(0.333333) and body["vat_percentage"] == 0.0
    related = body["_links"]["related"]["href"]
    assert related == f"{emu.url}/api/v1/studies/{study}/submissions/"
    listed = api.get(related).json()
    assert listed["meta"]["count"] == 4
    counts = api.get(f"/api/v1/studies/{study}/submissions/counts/").json()
    assert counts["AWAITING REVIEW"] == 3 and counts["RETURNED"] == 1 and counts["TOTAL"] == 4
    assert api.get("/api/v1/studies/").json()["results"][0]["id"] == study


def test_approve_is_idempotent_and_charges_once(emu, api):
    _, (sub, *_) = seed_study(emu, 1)
    before = emu.balance
    first = api.post(f"/api/v1/submissions/{sub}/transition/", json={"action": "APPROVE"})
    assert first.status_code == 200 and first.json()["status"] == "APPROVED"
    again = api.post(f"/api/v1/submissions/{sub}/transition/", json={"action": "APPROVE"})
    assert again.status_code == 200 and again.json()["status"] == "APPROVED"  # ignored (FACTS 1.6)
    assert before - emu.balance == pytest.approx(2.00)  # 1.50 + 0.50 fee, once


@pytest.mark.parametrize("body, field", [
    ({"action": "REJECT", "rejection_category": "FAILED_CHECK", "message": "Too short."}, "message"),
    ({"action": "REJECT", "rejection_category": "FAILED_CHECK"}, "message"),
    ({"action": "REJECT", "message": REJECTION}, "rejection_category"),
    ({"action": "REJECT", "message": REJECTION, "rejection_category": "BORING"}, "rejection_category"),
    ({"action": "PAY"}, "action"),
])
def test_rejection_needs_a_long_message_and_a_category(emu, api, body, field):
    _, (sub, *_) = seed_study(emu, 1)
    answer = api.post(f"/api/v1/submissions/{sub}/transition/", json=body)
    assert answer.status_code == 400 and field in answer.json()["error"]["detail"]
    assert emu.submission(sub).status == "AWAITING REVIEW"


def test_reject_then_reject_again_is_ignored(emu, api):
    _, (sub, *_) = seed_study(emu, 1)
    body = {"action": "REJECT", "message": REJECTION, "rejection_category": "FAILED_CHECK"}
    assert api.post(f"/api/v1/submissions/{sub}/transition/", json=body).json()["status"] == "REJECTED"
    assert api.post(f"/api/v1/submissions/{sub}/transition/", json=body).status_code == 200
    record = emu.submission(sub)
    assert (record.rejection_category, record.rejection_message) == ("FAILED_CHECK", REJECTION)
    assert emu.balance == pytest.approx(10000)  # a rejection costs nothing


@pytest.mark.parametrize("status, action", [
    ("RETURNED", "APPROVE"), ("TIMED-OUT", "APPROVE"), ("SCREENED OUT", "APPROVE"), ("ACTIVE", "APPROVE"),
    ("APPROVED", "REJECT"), ("REJECTED", "APPROVE"),
])
def test_a_wrong_source_state_is_a_400_and_changes_nothing(emu, api, status, action):
    study = emu.add_study()
    sub = emu.add_submission(study, pid(1), status, entered_code=CODE, time_taken=60)
    body = {"action": action, "message": REJECTION, "rejection_category": "OTHER"}
    answer = api.post(f"/api/v1/submissions/{sub}/transition/", json=body)
    assert answer.status_code == 400
    assert status in answer.json()["error"]["detail"]
    assert emu.submission(sub).status == status and emu.balance == pytest.approx(10000)


def test_unknown_submission_is_drf_not_found(emu, api):
    assert api.get("/api/v1/submissions/0123456789abcdef01234567/").json() == {"detail": "Not found."}
    missing = api.post("/api/v1/submissions/0123456789abcdef01234567/transition/", json={"action": "APPROVE"})
    assert missing.status_code == 404


def test_complete_records_the_code_and_the_time(emu, api, clock):
    study = emu.add_study()
    sub = emu.add_submission(study, pid(1), "ACTIVE", started_at=START)
    clock.advance(minutes=7)
    answer = api.post(f"/api/v1/submissions/{sub}/transition/", json={"action": "COMPLETE", "completion_code": CODE})
    assert answer.json()["status"] == "AWAITING REVIEW" and answer.json()["entered_code"] == CODE
    assert emu.submission(sub).time_taken == 420
