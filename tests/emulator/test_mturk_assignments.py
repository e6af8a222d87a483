"""Assignments: reading, paginating, approving, rejecting, overriding, auto-approval."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError
from mturk_support import OTHER_WORKER, WORKER, error_of

STATUS_ERROR = re.compile(r"This operation can be called with a status of: Submitted \(\d{13}\)")


def test_get_assignment_returns_assignment_and_hit(emu, client, clock):
    hit = emu.add_hit(reward="0.75", max_assignments=3, auto_approval_delay_seconds=3600)
    aid = emu.add_assignment(hit, WORKER, answers={"surveycode": "4821907"},
                             submit_time=clock.now - timedelta(minutes=5))
    r = client.get_assignment(AssignmentId=aid)
    a, h = r["Assignment"], r["HIT"]
    assert (a["AssignmentId"], a["WorkerId"], a["HITId"], a["AssignmentStatus"]) == (aid, WORKER, hit, "Submitted")
    assert a["SubmitTime"].timestamp() == (clock.now - timedelta(minutes=5)).timestamp()
    assert a["AutoApprovalTime"].timestamp() == (clock.now + timedelta(minutes=55)).timestamp()
    assert "ApprovalTime" not in a and "RejectionTime" not in a and "RequesterFeedback" not in a
    assert "<FreeText>4821907</FreeText>" in a["Answer"]
    assert h["HITId"] == hit and h["Reward"] == "0.75" and h["MaxAssignments"] == 3
    assert h["NumberOfAssignmentsAvailable"] == 2 and h["NumberOfAssignmentsCompleted"] == 0


def test_unknown_assignment(client):
    with pytest.raises(client.exceptions.RequestError) as e:
        client.get_assignment(AssignmentId="3NOPE")
    code, message, turk, _ = error_of(e)
    assert turk == "AWS.MechanicalTurk.AssignmentDoesNotExist"
    assert re.fullmatch(r"Assignment \[3NOPE\] does not exist\. \(\d{13}\)", message)


def test_paginator_follows_next_tokens_over_250_assignments(emu, client):
    hit = emu.add_hit(max_assignments=300)
    ids = [emu.add_assignment(hit, f"AW{i:05d}") for i in range(250)]
    paginator = client.get_paginator("list_assignments_for_hit")
    pages = list(paginator.paginate(HITId=hit, PaginationConfig={"PageSize": 100}))
    assert [p["NumResults"] for p in pages] == [100, 100, 50]
    assert [a["AssignmentId"] for p in pages for a in p["Assignments"]] == ids
    tokens = [p.get("NextToken") for p in pages]
    assert tokens[0] and tokens[1] and tokens[2] is None and tokens[0] != tokens[1]
    # Without MaxResults a page holds 10, as on AWS.
    first = client.list_assignments_for_hit(HITId=hit)
    assert first["NumResults"] == 10 and "NextToken" in first
    assert sum(len(p["Assignments"]) for p in paginator.paginate(HITId=hit)) == 250


def test_status_filter_and_bad_tokens(emu, client):
    hit = emu.add_hit(max_assignments=5)
    other = emu.add_hit()
    emu.add_assignment(hit, WORKER, status="Approved")
    emu.add_assignment(hit, OTHER_WORKER, status="Rejected")
    emu.add_assignment(hit, "AWORKER3")
    r = client.list_assignments_for_hit(HITId=hit, AssignmentStatuses=["Approved", "Rejected"], MaxResults=1)
    assert [a["AssignmentStatus"] for a in r["Assignments"]] == ["Approved"]
    for bad in ("garbage", r["NextToken"]):  # a token from another listing is refused too
        with pytest.raises(client.exceptions.RequestError):
            client.list_assignments_for_hit(HITId=other if bad != "garbage" else hit, NextToken=bad)
    with pytest.raises(client.exceptions.RequestError) as e:
        client.list_assignments_for_hit(HITId="3NOHIT")
    assert error_of(e)[2] == "AWS.MechanicalTurk.HITDoesNotExist"


def test_approve_once_then_status_error(emu, client, clock):
    hit = emu.add_hit(reward="1.50")
    aid = emu.add_assignment(hit, WORKER)
    client.approve_assignment(AssignmentId=aid, RequesterFeedback="Thanks!")
    a = client.get_assignment(AssignmentId=aid)["Assignment"]
    assert a["AssignmentStatus"] == "Approved" and a["RequesterFeedback"] == "Thanks!"
    assert a["ApprovalTime"].timestamp() == clock.now.timestamp() and "AutoApprovalTime" not in a
    balance = emu.balance
    with pytest.raises(client.exceptions.RequestError) as e:
        client.approve_assignment(AssignmentId=aid)
    _, message, turk, status = error_of(e)
    assert STATUS_ERROR.fullmatch(message) and turk == "AWS.MechanicalTurk.InvalidAssignmentState" and status == 400
    with pytest.raises(client.exceptions.RequestError):
        client.reject_assignment(AssignmentId=aid, RequesterFeedback="no")
    assert emu.balance == balance  # nothing charged twice


def test_reject_then_override_within_30_days(emu, client, clock):
    hit = emu.add_hit(reward="2.00")
    aid = emu.add_assignment(hit, WORKER)
    client.reject_assignment(AssignmentId=aid, RequesterFeedback="Code did not match.")
    assert emu.balance == Decimal("10000.00")  # rejected work costs nothing
    with pytest.raises(client.exceptions.RequestError) as e:
        client.approve_assignment(AssignmentId=aid)
    assert STATUS_ERROR.fullmatch(error_of(e)[1])
    clock.advance(days=29)
    client.approve_assignment(AssignmentId=aid, OverrideRejection=True)
    a = client.get_assignment(AssignmentId=aid)["Assignment"]
    assert a["AssignmentStatus"] == "Approved" and "RejectionTime" not in a
    assert emu.balance == Decimal("10000.00") - Decimal("2.40")


def test_override_refused_after_30_days(emu, client, clock):
    hit = emu.add_hit()
    aid = emu.add_assignment(hit, WORKER, status="Rejected", submit_time=clock.now - timedelta(days=31))
    with pytest.raises(client.exceptions.RequestError) as e:
        client.approve_assignment(AssignmentId=aid, OverrideRejection=True)
    assert error_of(e)[2] == "AWS.MechanicalTurk.InvalidAssignmentState"
    assert emu.assignment(aid).status == "Rejected"


def test_feedback_limits(emu, client):
    hit = emu.add_hit(max_assignments=2)
    aid = emu.add_assignment(hit, WORKER)
    with pytest.raises(ClientError) as e:
        client.reject_assignment(AssignmentId=aid, RequesterFeedback="x" * 1025)
    assert error_of(e)[0] == "ValidationException" and "'requesterFeedback'" in error_of(e)[1]
    for bad in ("bell\x07", "form\x0cfeed", "esc\x1b"):
        with pytest.raises(ClientError) as e:  # the documented InvalidParameterValue (state.py names the source)
            client.reject_assignment(AssignmentId=aid, RequesterFeedback=bad)
        code, message, _, status = error_of(e)
        assert (code, status) == ("InvalidParameterValue", 400)
        assert "RequesterFeedback" in message and re.search(r"\(\d{13}\)$", message)
    assert emu.assignment(aid).status == "Submitted"
    client.reject_assignment(AssignmentId=aid, RequesterFeedback="Tab\tnewline\nCR\r are fine. " + "x" * 990)
    assert emu.assignment(aid).status == "Rejected"


def test_auto_approval_after_the_delay_charges_the_reward(emu, client, clock):
    hit = emu.add_hit(reward="1.00", max_assignments=2, auto_approval_delay_seconds=3 * 24 * 3600)
    aid = emu.add_assignment(hit, WORKER)
    late = emu.add_assignment(hit, OTHER_WORKER, submit_time=clock.now + timedelta(hours=1))
    clock.advance(days=3, seconds=-1)
    assert client.get_assignment(AssignmentId=aid)["Assignment"]["AssignmentStatus"] == "Submitted"
    clock.advance(seconds=1)
    a = client.get_assignment(AssignmentId=aid)["Assignment"]
    assert a["AssignmentStatus"] == "Approved"
    assert a["ApprovalTime"].timestamp() == clock.now.timestamp()
    assert client.get_assignment(AssignmentId=late)["Assignment"]["AssignmentStatus"] == "Submitted"
    assert emu.balance == Decimal("10000.00") - Decimal("1.20")
    with pytest.raises(client.exceptions.RequestError) as e:
        client.approve_assignment(AssignmentId=aid)
    assert STATUS_ERROR.fullmatch(error_of(e)[1])
    clock.advance(hours=1)
    # Writes see auto-approval too: rejecting the other one now is too late.
    with pytest.raises(client.exceptions.RequestError):
        client.reject_assignment(AssignmentId=late, RequesterFeedback="no")
    assert emu.balance == Decimal("10000.00") - Decimal("2.40")


@pytest.mark.parametrize("call, turk_code", [
    (lambda c: c.approve_assignment(AssignmentId="3NOPE"), "AWS.MechanicalTurk.AssignmentDoesNotExist"),
    (lambda c: c.reject_assignment(AssignmentId="3NOPE", RequesterFeedback="x"),
     "AWS.MechanicalTurk.AssignmentDoesNotExist"),
    (lambda c: c.get_hit(HITId="3NOPE"), "AWS.MechanicalTurk.HITDoesNotExist"),
    (lambda c: c.list_bonus_payments(HITId="3NOPE"), "AWS.MechanicalTurk.HITDoesNotExist"),
    (lambda c: c.list_bonus_payments(AssignmentId="3NOPE"), "AWS.MechanicalTurk.AssignmentDoesNotExist"),
    (lambda c: c.list_workers_with_qualification_type(QualificationTypeId="3NOPE"),
     "AWS.MechanicalTurk.QualificationTypeDoesNotExist"),
    (lambda c: c.disassociate_qualification_from_worker(QualificationTypeId="3NOPE", WorkerId=WORKER),
     "AWS.MechanicalTurk.QualificationTypeDoesNotExist"),
])
def test_unknown_ids_are_request_errors(client, call, turk_code):
    with pytest.raises(client.exceptions.RequestError) as e:
        call(client)
    code, message, turk, status = error_of(e)
    assert (code, turk, status) == ("RequestError", turk_code, 400)
    assert re.search(r"\(\d{13}\)$", message)
