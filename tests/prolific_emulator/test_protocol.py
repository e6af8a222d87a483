"""The HTTP protocol: token auth, both path forms, unknown paths and methods, bad JSON, the
call counter, and injected faults (latency, 429, 5xx before and after the change)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from prolific_support import ScriptedFaults, seed_study

from bridge.emulator.base import Fault


@pytest.mark.parametrize("token, detail", [
    (None, "Authentication credentials were not provided."),
    ("wrong", "Invalid token."),
])
def test_token_auth(emu, make_api, token, detail):
    answer = make_api(emu, token=token).get("/api/v1/users/me/")
    assert answer.status_code == 401
    assert answer.json() == {"error": {"status": 401, "error_code": 401, "title": "Unauthorized", "detail": detail}}


def test_bearer_is_not_prolifics_scheme(emu, make_api):
    session = make_api(emu, token=None)
    assert session.get("/api/v1/users/me/", headers={"Authorization": "Bearer test-token"}).status_code == 401
    assert session.get("/api/v1/users/me/", headers={"Authorization": "Token test-token"}).status_code == 200


def test_a_custom_token(make_emu, make_api):
    emu = make_emu(token="s3cret")
    assert make_api(emu, token="s3cret").get("/api/v1/users/me/").json()["id"] == emu.user_id
    assert make_api(emu).get("/api/v1/users/me/").status_code == 401


def test_paths_with_and_without_the_trailing_slash(emu, api):
    assert api.get("/api/v1/workspaces").json()["results"][0]["id"] == emu.workspace_id
    assert api.get(f"/api/v1/workspaces/{emu.workspace_id}/").json()["title"]
    assert api.get(f"/api/v1/workspaces/{emu.workspace_id}/balance").json()["total_balance"] == 1_000_000
    assert api.get("/api/v1/workspaces/0123456789abcdef01234567/").status_code == 404


def test_unknown_paths_methods_and_bad_json(emu, api):
    assert api.get("/api/v1/no-such-thing/").json() == {"detail": "Not found."}
    wrong = api.put("/api/v1/users/me/")
    assert wrong.status_code == 405 and wrong.json()["error"]["status"] == 405
    assert api.get("/api/v1/submissions/bulk-approve/").status_code == 405  # not a submission id
    _, (sub, *_) = seed_study(emu, 1)
    bad = api.post(f"/api/v1/submissions/{sub}/transition/", data=b"{not json",
                   headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and "JSON parse error" in bad.json()["error"]["detail"]
    listed = api.post("/api/v1/submissions/bulk-approve/", json=[sub])
    assert listed.status_code == 400


def test_calls_are_counted_per_operation(emu, api):
    study, subs = seed_study(emu, 2)
    api.get(f"/api/v1/submissions/?study={study}")
    api.get(f"/api/v1/submissions/?study={study}&page=9")  # a 404 is still a call
    api.post("/api/v1/submissions/bulk-approve/", json={"submission_ids": subs})
    api.get("/api/v1/nowhere/")  # not an endpoint: not counted
    assert emu.calls == {"get-submissions": 2, "bulk-approve-submissions": 1}


def test_throttling_above_the_rate(make_emu, make_api):
    emu = make_emu(rate_limit=2)
    api = make_api(emu)
    answers = [api.get("/api/v1/users/me/") for _ in range(12)]
    assert answers[0].status_code == 200
    throttled = [a for a in answers if a.status_code == 429]
    assert throttled and throttled[0].json()["error"]["title"] == "Too Many Requests"
    assert emu.calls["get-user"] == 12


def test_latency(make_emu, make_api):
    api = make_api(make_emu(latency_ms=80))
    started = time.monotonic()
    api.get("/api/v1/users/me/")
    assert time.monotonic() - started >= 0.08


def test_failure_before_the_change_leaves_state_alone(emu, api):
    _, (sub, *_) = seed_study(emu, 1)
    emu.faults = ScriptedFaults(Fault.FAIL_BEFORE)
    answer = api.post(f"/api/v1/submissions/{sub}/transition/", json={"action": "APPROVE"})
    assert answer.status_code == 503 and answer.json()["error"]["status"] == 503
    assert emu.submission(sub).status == "AWAITING REVIEW" and emu.balance == Decimal("10000.00")


def test_failure_after_the_change_took_effect(emu, api):
    _, (sub, *_) = seed_study(emu, 1)
    emu.faults = ScriptedFaults(Fault.FAIL_AFTER)
    answer = api.post(f"/api/v1/submissions/{sub}/transition/", json={"action": "APPROVE"})
    assert answer.status_code == 502
    assert emu.submission(sub).status == "APPROVED" and emu.balance == Decimal("9998.00")
    # What a retry then sees: the same action again is ignored, charged once.
    assert api.post(f"/api/v1/submissions/{sub}/transition/", json={"action": "APPROVE"}).status_code == 200
    assert emu.balance == Decimal("9998.00")


def test_a_lost_pay_answer_retried_blindly_pays_twice(emu, api):
    study, (sub, *_) = seed_study(emu, 1)
    bonus = api.post("/api/v1/submissions/bonus-payments/", json={"study_id": study, "csv_bonuses": f"{sub},1.00"})
    emu.faults = ScriptedFaults(Fault.FAIL_AFTER)
    assert api.post(f"/api/v1/bulk-bonus-payments/{bonus.json()['id']}/pay/").status_code == 502
    assert api.post(f"/api/v1/bulk-bonus-payments/{bonus.json()['id']}/pay/").status_code == 202
    emu.settle()
    assert emu.bonus_payments(sub) == [Decimal("1.00"), Decimal("1.00")]  # why the adapter keeps a ledger


def test_throttled_calls_change_nothing(emu, api):
    _, subs = seed_study(emu, 1)
    emu.faults = ScriptedFaults(Fault.THROTTLE)
    assert api.post("/api/v1/submissions/bulk-approve/", json={"submission_ids": subs}).status_code == 429
    emu.settle()
    assert emu.submission(subs[0]).status == "AWAITING REVIEW"
