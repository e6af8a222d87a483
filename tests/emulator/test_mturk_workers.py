"""Workers through unmodified boto3: blocks, NotifyWorkers, overriding rejections, feedback
rules, uploaded files, and qualifications (types updated and deleted, scores, requests)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError
from mturk_support import OTHER_WORKER, WORKER, error_of, raw_call

from bridge.panels.mturk.api import ANSWER_NAMESPACE

TARGET = "MTurkRequesterServiceV20170117."


def _qual(client, name="Eligible_Worker", **kwargs):
    return client.create_qualification_type(Name=name, Description="Invited back", QualificationTypeStatus="Active",
                                            **kwargs)["QualificationType"]["QualificationTypeId"]


# --- blocks ------------------------------------------------------------------------------


def test_block_list_and_unblock_workers(client):
    for i in range(12):
        client.create_worker_block(WorkerId=f"AW{i:03d}", Reason=f"reason {i}")
    client.create_worker_block(WorkerId="AW000", Reason="still poor")  # once, with the new reason
    pages = list(client.get_paginator("list_worker_blocks").paginate(PaginationConfig={"PageSize": 5}))
    blocks = [b for p in pages for b in p["WorkerBlocks"]]
    assert [p["NumResults"] for p in pages] == [5, 5, 2]
    assert blocks[0] == {"WorkerId": "AW000", "Reason": "still poor"} and len(blocks) == 12
    client.delete_worker_block(WorkerId="AW000", Reason="appeal accepted")
    client.delete_worker_block(WorkerId="ANEVERBLOCKED")  # not blocked: succeeds
    assert client.list_worker_blocks(MaxResults=100)["NumResults"] == 11


def test_unblocking_an_invalid_worker_id_says_so(emu, client):
    status, _, body = raw_call(emu.url, TARGET + "DeleteWorkerBlock", {"WorkerId": "not-a-worker"})
    assert status == 400 and body["__type"] == "RequestError"
    assert re.fullmatch(r"WorkerId is invalid\. \(\d{13}\)", body["Message"])
    status, _, body = raw_call(emu.url, TARGET + "DeleteWorkerBlock", {})
    assert body["__type"] == "RequestError" and body["Message"].startswith("WorkerId is invalid.")
    with pytest.raises(ClientError) as e:  # the other operations keep the model's ValidationException
        client.create_worker_block(WorkerId="not-a-worker", Reason="r")
    assert error_of(e)[0] == "ValidationException"


# --- notifications -----------------------------------------------------------------------


def test_notify_workers_hard_fails_for_workers_never_decided(emu, client):
    hit = emu.add_hit(max_assignments=3)
    emu.add_assignment(hit, WORKER, status="Rejected")
    pending = emu.add_assignment(hit, OTHER_WORKER)
    first = client.notify_workers(Subject="Wave 4", MessageText="New study", WorkerIds=[WORKER, OTHER_WORKER])
    assert [(f["WorkerId"], f["NotifyWorkersFailureCode"]) for f in first["NotifyWorkersFailureStatuses"]] == [
        (OTHER_WORKER, "HardFailure")]
    client.approve_assignment(AssignmentId=pending)
    again = client.notify_workers(Subject="Wave 4", MessageText="New study", WorkerIds=[OTHER_WORKER])
    assert again["NotifyWorkersFailureStatuses"] == []
    assert [n.worker_ids for n in emu.state.notifications] == [(WORKER,), (OTHER_WORKER,)]


# --- assignments -------------------------------------------------------------------------


def test_override_a_rejection_submitted_in_the_last_30_days(emu, client, clock):
    hit = emu.add_hit(reward="1.00", max_assignments=2)
    recent = emu.add_assignment(hit, WORKER, status="Rejected", submit_time=clock.now - timedelta(days=29))
    old = emu.add_assignment(hit, OTHER_WORKER, status="Rejected", submit_time=clock.now - timedelta(days=31))
    with pytest.raises(client.exceptions.RequestError):  # without OverrideRejection: the status error
        client.approve_assignment(AssignmentId=recent)
    client.approve_assignment(AssignmentId=recent, OverrideRejection=True, RequesterFeedback="Our mistake")
    a = client.get_assignment(AssignmentId=recent)["Assignment"]
    assert (a["AssignmentStatus"], a["RequesterFeedback"]) == ("Approved", "Our mistake") and "RejectionTime" not in a
    with pytest.raises(client.exceptions.RequestError) as e:
        client.approve_assignment(AssignmentId=old, OverrideRejection=True)
    assert error_of(e)[2] == "AWS.MechanicalTurk.InvalidAssignmentState"
    with pytest.raises(client.exceptions.RequestError):  # once: it is Approved now
        client.approve_assignment(AssignmentId=recent, OverrideRejection=True)
    assert emu.balance == Decimal("10000.00") - Decimal("1.20")


def test_control_characters_in_feedback_are_the_documented_invalid_parameter_value(emu, client):
    hit = emu.add_hit(max_assignments=2)
    aid = emu.add_assignment(hit, WORKER)
    with pytest.raises(ClientError) as e:
        client.approve_assignment(AssignmentId=aid, RequesterFeedback="Thanks\x00")
    code, message, _, status = error_of(e)
    assert (code, status) == ("InvalidParameterValue", 400)
    assert message.startswith('The value "Thanks\x00" is not valid for the parameter RequesterFeedback.')
    status, _, body = raw_call(emu.url, TARGET + "RejectAssignment", {"AssignmentId": aid, "RequesterFeedback": "\x1f"})
    assert (status, body["__type"], body["TurkErrorCode"]) == (400, "InvalidParameterValue",
                                                               "AWS.MechanicalTurk.InvalidParameterValue")
    assert re.search(r"\(\d{13}\)$", body["Message"])
    assert emu.assignment(aid).status == "Submitted"


def test_file_upload_url_for_an_uploaded_answer(emu, client, clock):
    hit = emu.add_hit(max_assignments=2)
    xml = (f'<QuestionFormAnswers xmlns="{ANSWER_NAMESPACE}"><Answer><QuestionIdentifier>photo</QuestionIdentifier>'
           "<UploadedFileKey>uploads/123/photo.jpg</UploadedFileKey><UploadedFileSizeInBytes>10</UploadedFileSizeInBytes>"
           "</Answer><Answer><QuestionIdentifier>note</QuestionIdentifier><FreeText>hi</FreeText></Answer>"
           "</QuestionFormAnswers>")
    aid = emu.add_assignment(hit, WORKER, answers=xml)
    url = client.get_file_upload_url(AssignmentId=aid, QuestionIdentifier="photo")["FileUploadURL"]
    parts = urlsplit(url)
    assert parts.scheme == "https" and parts.hostname.endswith(".invalid") and "photo.jpg" in parts.path
    assert parts.query == f"Expires={int(clock.now.timestamp()) + 60}"
    for question in ("note", "missing"):
        with pytest.raises(client.exceptions.RequestError):
            client.get_file_upload_url(AssignmentId=aid, QuestionIdentifier=question)
    with pytest.raises(client.exceptions.RequestError) as e:
        client.get_file_upload_url(AssignmentId="3NOPE", QuestionIdentifier="photo")
    assert error_of(e)[2] == "AWS.MechanicalTurk.AssignmentDoesNotExist"


# --- qualifications ----------------------------------------------------------------------


def test_score_of_a_revoked_qualification_names_the_status_it_needs(client):
    qt = _qual(client)
    client.associate_qualification_with_worker(QualificationTypeId=qt, WorkerId=WORKER, IntegerValue=3)
    client.disassociate_qualification_from_worker(QualificationTypeId=qt, WorkerId=WORKER, Reason="flagged")
    with pytest.raises(client.exceptions.RequestError) as e:
        client.get_qualification_score(QualificationTypeId=qt, WorkerId=WORKER)
    _, message, _, status = error_of(e)
    assert status == 400 and re.fullmatch(r"This operation can be called with a status of: Granted \(\d{13}\)", message)
    with pytest.raises(client.exceptions.RequestError) as e:  # never granted: it does not exist
        client.get_qualification_score(QualificationTypeId=qt, WorkerId=OTHER_WORKER)
    assert error_of(e)[2] == "AWS.MechanicalTurk.QualificationDoesNotExist"


def test_update_a_qualification_type(client):
    qt = _qual(client, Keywords="wave")
    updated = client.update_qualification_type(QualificationTypeId=qt, Description="New text",
                                               QualificationTypeStatus="Inactive", RetryDelayInSeconds=3600)
    got = updated["QualificationType"]
    assert (got["Description"], got["QualificationTypeStatus"], got["RetryDelayInSeconds"], got["Name"],
            got["Keywords"]) == ("New text", "Inactive", 3600, "Eligible_Worker", "wave")
    test = "<QuestionForm/>"
    with pytest.raises(client.exceptions.RequestError):  # a Test needs its duration
        client.update_qualification_type(QualificationTypeId=qt, Test=test)
    with pytest.raises(client.exceptions.RequestError):  # an AnswerKey needs a Test
        client.update_qualification_type(QualificationTypeId=qt, AnswerKey="<AnswerKey/>")
    client.update_qualification_type(QualificationTypeId=qt, Test=test, TestDurationInSeconds=600,
                                     AnswerKey="<AnswerKey/>")
    client.update_qualification_type(QualificationTypeId=qt, Test=test, TestDurationInSeconds=300)
    got = client.get_qualification_type(QualificationTypeId=qt)["QualificationType"]
    assert got["TestDurationInSeconds"] == 300 and "AnswerKey" not in got  # a new test without a key has none
    with pytest.raises(client.exceptions.RequestError):  # a type with a test cannot become AutoGranted
        client.update_qualification_type(QualificationTypeId=qt, AutoGranted=True)
    with pytest.raises(client.exceptions.RequestError):
        client.update_qualification_type(QualificationTypeId="3NOQUAL", Description="x")


def test_delete_a_qualification_type(client, clock):
    qt = _qual(client)
    client.associate_qualification_with_worker(QualificationTypeId=qt, WorkerId=WORKER)
    type_id = client.create_hit_type(AssignmentDurationInSeconds=600, Reward="0.50", Title="t", Description="d",
                                     QualificationRequirements=[{"QualificationTypeId": qt, "Comparator": "Exists"}]
                                     )["HITTypeId"]
    client.delete_qualification_type(QualificationTypeId=qt)
    for call in (lambda: client.get_qualification_type(QualificationTypeId=qt),
                 lambda: client.associate_qualification_with_worker(QualificationTypeId=qt, WorkerId=OTHER_WORKER),
                 lambda: client.delete_qualification_type(QualificationTypeId=qt)):
        with pytest.raises(client.exceptions.RequestError) as e:
            call()
        assert error_of(e)[2] == "AWS.MechanicalTurk.QualificationTypeDoesNotExist"
    assert client.list_qualification_types(MustBeRequestable=False)["QualificationTypes"] == []
    with pytest.raises(client.exceptions.RequestError) as e:  # its HIT types are deleted too
        client.create_hit_with_hit_type(HITTypeId=type_id, LifetimeInSeconds=600, HITLayoutId="3LAYOUT")
    assert error_of(e)[2] == "AWS.MechanicalTurk.HITTypeDoesNotExist"
    with pytest.raises(client.exceptions.RequestError) as e:  # the name stays taken up to 48 hours
        _qual(client)
    assert error_of(e)[2] == "AWS.MechanicalTurk.QualificationTypeAlreadyExists"
    clock.advance(hours=48)
    assert _qual(client) != qt


def test_qualification_requests(emu, client):
    qt = _qual(client)
    other = _qual(client, "Second")
    first = emu.add_qualification_request(qt, WORKER)
    second = emu.add_qualification_request(qt, OTHER_WORKER)
    emu.add_qualification_request(other, "AWORKER3")
    listed = client.list_qualification_requests(QualificationTypeId=qt)["QualificationRequests"]
    assert [(r["QualificationRequestId"], r["WorkerId"]) for r in listed] == [(first, WORKER), (second, OTHER_WORKER)]
    assert client.list_qualification_requests()["NumResults"] == 3
    client.accept_qualification_request(QualificationRequestId=first, IntegerValue=5)
    score = client.get_qualification_score(QualificationTypeId=qt, WorkerId=WORKER)["Qualification"]
    assert (score["IntegerValue"], score["Status"]) == (5, "Granted")
    client.reject_qualification_request(QualificationRequestId=second, Reason="Not eligible")
    assert client.list_qualification_requests(QualificationTypeId=qt)["QualificationRequests"] == []
    with pytest.raises(client.exceptions.RequestError):
        client.get_qualification_score(QualificationTypeId=qt, WorkerId=OTHER_WORKER)
    for request_id in (first, second, "3NOSUCHREQUEST"):  # answered once only
        with pytest.raises(client.exceptions.RequestError) as e:
            client.accept_qualification_request(QualificationRequestId=request_id)
        assert error_of(e)[2] == "AWS.MechanicalTurk.QualificationRequestDoesNotExist"
    client.delete_qualification_type(QualificationTypeId=other)  # pending requests are rejected with it
    assert client.list_qualification_requests()["QualificationRequests"] == []


def test_auto_granted_type_grants_requests_at_once(emu, client):
    qt = _qual(client, AutoGranted=True, AutoGrantedValue=7)
    emu.add_qualification_request(qt, WORKER)
    assert client.list_qualification_requests(QualificationTypeId=qt)["NumResults"] == 0
    assert client.get_qualification_score(QualificationTypeId=qt, WorkerId=WORKER)["Qualification"]["IntegerValue"] == 7
    with pytest.raises(client.exceptions.RequestError):  # AutoGranted and a Test exclude each other
        _qual(client, "Tested", AutoGranted=True, Test="<QuestionForm/>", TestDurationInSeconds=60)
