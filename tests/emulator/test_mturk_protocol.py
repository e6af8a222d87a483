"""Wire protocol, error shapes and validation against botocore's model."""

from __future__ import annotations

import re
import uuid

import botocore.session
import pytest
from botocore.exceptions import ClientError
from mturk_support import WORKER, error_of, raw_call

from bridge.panels.mturk.emulator import MTurkEmulator

TARGET = "MTurkRequesterServiceV20170117."
from paths import SHARED, requires_shared  # noqa: E402  (the shared/ rule: tests/paths.py)

FORMATS = SHARED / "FORMATS.md"
# The operations table of FORMATS.md (GetQualificationType is an extra the brief asks for).
TABLE_OPERATIONS = {
    "GetAccountBalance", "GetHIT", "ListHITs", "ListAssignmentsForHIT", "GetAssignment", "ApproveAssignment",
    "RejectAssignment", "SendBonus", "ListBonusPayments", "CreateQualificationType", "ListQualificationTypes",
    "AssociateQualificationWithWorker", "DisassociateQualificationFromWorker", "ListWorkersWithQualificationType",
    "NotifyWorkers", "CreateHIT", "CreateHITType", "CreateHITWithHITType", "GetQualificationType",
}


def _formats_table_operations() -> set[str]:
    text = FORMATS.read_text(encoding="utf-8")
    section = text.split("Operations used", 1)[1].split("Pagination:", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"[A-Z][A-Za-z]+( / [A-Z][A-Za-z]+)*", cells[0]):
            names.update(n.strip() for n in cells[0].split("/"))
    return names


def test_served_operations_are_exactly_the_39_of_botocores_model():
    model_ops = set(botocore.session.get_session().get_service_model("mturk").operation_names)
    served = set(MTurkEmulator.operations())
    assert served == model_ops and len(served) == 39, (model_ops - served, served - model_ops)
    assert TABLE_OPERATIONS <= served, TABLE_OPERATIONS - served


@requires_shared(FORMATS)
def test_every_operation_in_formats_table_is_served():
    table = _formats_table_operations()
    assert len(table) >= 18
    assert table <= set(MTurkEmulator.operations()), table - set(MTurkEmulator.operations())


def test_headers_and_fresh_request_ids(emu, client):
    ids = set()
    for _ in range(3):
        r = client.get_account_balance()
        headers = r["ResponseMetadata"]["HTTPHeaders"]
        assert headers["content-type"] == "application/x-amz-json-1.1"
        uuid.UUID(headers["x-amzn-requestid"])
        ids.add(r["ResponseMetadata"]["RequestId"])
    assert len(ids) == 3
    assert r["AvailableBalance"] == "10000.00" and r["OnHoldBalance"] == "0.00"


def test_missing_target_unknown_operation_and_bad_json_are_error_answers(emu):
    status, headers, body = raw_call(emu.url, None, {})
    assert status == 400 and body["__type"] == "UnknownOperationException"
    uuid.UUID(headers["x-amzn-requestid"])
    status, _, body = raw_call(emu.url, TARGET + "MakeCoffee", {})
    assert status == 400 and body["__type"] == "UnknownOperationException"
    status, _, body = raw_call(emu.url, "SomeOtherService.GetHIT", {})
    assert status == 400 and body["__type"] == "UnknownOperationException"
    # Every operation of the model is served: DeleteHIT answers for its HIT, not "unknown".
    status, _, body = raw_call(emu.url, TARGET + "DeleteHIT", {"HITId": "3ABC"})
    assert status == 400 and body["__type"] == "RequestError" and body["TurkErrorCode"].endswith("HITDoesNotExist")
    status, _, body = raw_call(emu.url, TARGET + "GetHIT", b'{"HITId": ')
    assert status == 400 and body["__type"] == "SerializationException"
    status, _, body = raw_call(emu.url, TARGET + "GetHIT", ["3ABC"])
    assert status == 400 and body["__type"] == "SerializationException"
    status, _, body = raw_call(emu.url, TARGET + "GetAccountBalance", {}, method="GET")
    assert status == 400 and body["__type"] == "UnknownOperationException"
    status, _, body = raw_call(emu.url, TARGET + "GetAccountBalance", {}, path="/other")
    assert status == 404
    # The server is still answering.
    status, _, body = raw_call(emu.url, TARGET + "GetAccountBalance", b"")
    assert status == 200 and body["AvailableBalance"] == "10000.00"


def test_request_error_shape(emu):
    status, _, body = raw_call(emu.url, TARGET + "GetHIT", {"HITId": "3NOSUCHHIT"})
    assert status == 400
    assert body["__type"] == "RequestError"
    assert body["TurkErrorCode"] == "AWS.MechanicalTurk.HITDoesNotExist"
    assert re.fullmatch(r"Hit 3NOSUCHHIT does not exist\. \(\d{13}\)", body["Message"])


def test_bonus_with_four_decimals_is_a_validation_exception(emu, client):
    hit = emu.add_hit()
    aid = emu.add_assignment(hit, WORKER)
    with pytest.raises(ClientError) as e:
        client.send_bonus(WorkerId=WORKER, AssignmentId=aid, BonusAmount="1.2345", Reason="Thanks")
    code, message, _, status = error_of(e)
    assert (code, status) == ("ValidationException", 400)
    assert message == (
        "1 validation error detected: Value '1.2345' at 'bonusAmount' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^[0-9]+(\\.)?[0-9]{0,2}$"
    )
    assert emu.bonuses == []


def test_server_side_constraints_botocore_lets_through(emu, client):
    hit = emu.add_hit()
    cases = [
        (lambda: client.get_hit(HITId="3abc"), "'hITId'", "regular expression pattern: ^[A-Z0-9]+$"),
        (lambda: client.get_hit(HITId="3" * 65), "'hITId'", "length less than or equal to 64"),
        (lambda: client.list_assignments_for_hit(HITId=hit, MaxResults=101), "'maxResults'",
         "value less than or equal to 100"),
        (lambda: client.list_assignments_for_hit(HITId=hit, AssignmentStatuses=["Pending"]),
         "'assignmentStatuses.1.member'", "enum value set: [Submitted, Approved, Rejected]"),
        (lambda: client.send_bonus(WorkerId="BWORKER", AssignmentId="3A", BonusAmount="1", Reason="r"),
         "'workerId'", "pattern: ^A[A-Z0-9]+$"),
        (lambda: client.list_bonus_payments(HITId=hit, NextToken="x" * 256), "'nextToken'",
         "length less than or equal to 255"),
    ]
    for call, path, constraint in cases:
        with pytest.raises(ClientError) as e:
            call()
        code, message, _, _ = error_of(e)
        assert code == "ValidationException"
        assert message.startswith("1 validation error detected: ") and path in message and constraint in message


def test_validation_of_what_only_raw_requests_can_send(emu):
    def check(op, body, *fragments, count=1):
        status, _, answer = raw_call(emu.url, TARGET + op, body)
        assert status == 400 and answer["__type"] == "ValidationException", answer
        noun = "validation error" if count == 1 else "validation errors"
        assert answer["Message"].startswith(f"{count} {noun} detected: "), answer["Message"]
        for fragment in fragments:
            assert fragment in answer["Message"]

    check("GetAssignment", {}, "Value null at 'assignmentId' failed to satisfy constraint: Member must not be null")
    check("GetAssignment", {"AssignmentId": "3A", "Extra": 1}, "at 'extra'", "known member")
    check("ListHITs", {"MaxResults": "10"}, "at 'maxResults'", "of type integer")
    check("ListHITs", {"MaxResults": True}, "of type integer")
    check("ListHITs", {"MaxResults": 0}, "value greater than or equal to 1")
    check("ApproveAssignment", {"AssignmentId": "3A", "OverrideRejection": "true"}, "of type boolean")
    check("NotifyWorkers", {"Subject": "s", "MessageText": "m", "WorkerIds": "AW1"}, "of type list")
    check("ListAssignmentsForHIT", {"HITId": "3A", "AssignmentStatuses": [None]},
          "Value null at 'assignmentStatuses.1.member'")
    check("CreateHITType", {
        "AssignmentDurationInSeconds": 600, "Reward": "1.00", "Title": "t", "Description": "d",
        "QualificationRequirements": [{"QualificationTypeId": "X", "Comparator": "Sort of"},
                                      {"Comparator": "Exists", "LocaleValues": [{"Country": "USA"}]}],
    }, "'qualificationRequirements.1.member.comparator'",
        "Value null at 'qualificationRequirements.2.member.qualificationTypeId'",
        "'qualificationRequirements.2.member.localeValues.1.member.country'", count=3)
    check("SendBonus", {"WorkerId": "aw", "AssignmentId": "3A", "BonusAmount": "$1", "Reason": "r"},
          "'workerId'", "'bonusAmount'", count=2)
