"""The HIT lifecycle through unmodified boto3: extend, expire, review, retype, delete, list,
review-policy results, notification settings, and CreateHIT's token and question rules."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import botocore.session
import pytest
from botocore.exceptions import ClientError
from mturk_support import OTHER_WORKER, WORKER, error_of, raw_call

QUESTION = ('<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/'
            'ExternalQuestion.xsd"><ExternalURL>https://example.org/s</ExternalURL><FrameHeight>600</FrameHeight>'
            '</ExternalQuestion>')
HIT_TYPE = dict(AssignmentDurationInSeconds=3600, Reward="1.50", Title="Survey", Description="A survey")
STATE_ERROR = re.compile(r"This HIT is currently in the state '(\w+)'\.  This operation can be called with a status "
                         r"of: (.+) \(\d{13}\)")


def _hit(client, **kwargs):
    args = dict(MaxAssignments=2, LifetimeInSeconds=86400, Question=QUESTION, **HIT_TYPE)
    args.update(kwargs)
    return client.create_hit(**args)["HIT"]


def test_every_operation_of_the_model_answers_in_its_own_shape(emu):
    """A raw call of each of the 39 operations with a well-formed but unknown id gets a
    modelled answer (a result or a RequestError/ValidationException), never "unknown"."""
    model = botocore.session.get_session().get_service_model("mturk")
    for name in model.operation_names:
        status, _, body = raw_call(emu.url, f"MTurkRequesterServiceV20170117.{name}", {})
        assert body.get("__type") != "UnknownOperationException", (name, body)
        assert status in (200, 400), (name, status, body)


def test_create_hit_token_error_names_the_hit_it_created(client, clock):
    first = _hit(client, UniqueRequestToken="wave-7-compensation")
    with pytest.raises(client.exceptions.RequestError) as e:
        _hit(client, UniqueRequestToken="wave-7-compensation")
    _, message, turk, _ = error_of(e)
    assert turk == "AWS.MechanicalTurk.HitAlreadyExists"
    assert first["HITId"] in message and '"wave-7-compensation" has already been processed' in message
    clock.advance(hours=24)  # the token is forgotten after 24 hours
    assert _hit(client, UniqueRequestToken="wave-7-compensation")["HITId"] != first["HITId"]


def test_question_must_be_one_of_the_three_documents(client):
    for bad in ("<p>not a question</p>", "<ExternalQuestion", "x" * 65536):
        with pytest.raises(ClientError) as e:
            _hit(client, Question=bad)
        assert error_of(e)[0] in ("RequestError", "ValidationException")
    assert _hit(client, Question=QUESTION)["Question"] == QUESTION


def test_extend_a_hit(emu, client, clock):
    hit = _hit(client, MaxAssignments=3)
    client.create_additional_assignments_for_hit(HITId=hit["HITId"], NumberOfAdditionalAssignments=6,
                                                 UniqueRequestToken="extend-1")
    assert client.get_hit(HITId=hit["HITId"])["HIT"]["MaxAssignments"] == 9
    with pytest.raises(client.exceptions.RequestError) as e:  # the retry meets its token
        client.create_additional_assignments_for_hit(HITId=hit["HITId"], NumberOfAdditionalAssignments=6,
                                                     UniqueRequestToken="extend-1")
    assert "already been processed" in error_of(e)[1]
    with pytest.raises(client.exceptions.RequestError) as e:  # 9 -> 10 crosses the fee line
        client.create_additional_assignments_for_hit(HITId=hit["HITId"], NumberOfAdditionalAssignments=1)
    assert error_of(e)[2] == "AWS.MechanicalTurk.InvalidMaximumAssignmentsIncrease"
    big = _hit(client, MaxAssignments=10)
    client.create_additional_assignments_for_hit(HITId=big["HITId"], NumberOfAdditionalAssignments=5)
    assert client.get_hit(HITId=big["HITId"])["HIT"]["MaxAssignments"] == 15
    old = emu.add_hit(creation_time=datetime(2015, 7, 1, tzinfo=timezone.utc),
                      expiration=clock.now + timedelta(days=1))
    with pytest.raises(client.exceptions.RequestError) as e:
        client.create_additional_assignments_for_hit(HITId=old, NumberOfAdditionalAssignments=1)
    assert error_of(e)[2] == "AWS.MechanicalTurk.HITTooOldForExtension"
    with pytest.raises(ClientError) as e:
        client.create_additional_assignments_for_hit(HITId=big["HITId"], NumberOfAdditionalAssignments=0)
    assert error_of(e)[0] == "ValidationException"


def test_expire_now_and_extend_the_expiration(emu, client, clock):
    hit = _hit(client)
    hit_id = hit["HITId"]
    client.update_expiration_for_hit(HITId=hit_id, ExpireAt=datetime(2015, 1, 1))  # in the past: expire now
    got = client.get_hit(HITId=hit_id)["HIT"]
    assert got["HITStatus"] == "Reviewable" and got["Expiration"].timestamp() == clock.now.timestamp()
    # A later time extends; it must add 60 s to 365 days to the expiration.
    client.update_expiration_for_hit(HITId=hit_id, ExpireAt=clock.now + timedelta(days=2))
    assert client.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Assignable"
    with pytest.raises(ClientError) as e:  # earlier than the current expiration, still in the future
        client.update_expiration_for_hit(HITId=hit_id, ExpireAt=clock.now + timedelta(days=1))
    code, message, _, status = error_of(e)
    assert (code, status) == ("ParameterValidationError", 400)
    assert re.fullmatch(r"The value -86400 is invalid for ExpirationIncrementInSeconds\. Valid values range from 60 "
                        r"to 31536000\. \(\d{13}\)", message)
    clock.advance(days=3)
    assert client.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Reviewable"  # expired by itself


def test_review_status_and_reviewable_listing(emu, client):
    done = emu.add_hit(max_assignments=1, hit_type_id="3TYPEA")
    emu.add_assignment(done, WORKER)
    open_hit = emu.add_hit(max_assignments=5, hit_type_id="3TYPEB")
    other = emu.add_hit(max_assignments=1, hit_type_id="3TYPEB")
    emu.add_assignment(other, OTHER_WORKER)

    def listed(**kwargs):
        return [h["HITId"] for h in client.list_reviewable_hits(**kwargs)["HITs"]]

    assert listed() == [done, other] and listed(HITTypeId="3TYPEB") == [other]
    client.update_hit_review_status(HITId=done)  # Reviewable -> Reviewing
    assert client.get_hit(HITId=done)["HIT"]["HITStatus"] == "Reviewing"
    assert listed() == [other] and listed(Status="Reviewing") == [done]
    with pytest.raises(client.exceptions.RequestError) as e:
        client.update_hit_review_status(HITId=done)  # already Reviewing
    assert STATE_ERROR.fullmatch(error_of(e)[1]).groups() == ("Reviewing", "Reviewable")
    client.update_hit_review_status(HITId=done, Revert=True)
    assert listed() == [done, other]
    with pytest.raises(client.exceptions.RequestError) as e:
        client.update_hit_review_status(HITId=open_hit)  # Assignable
    assert STATE_ERROR.fullmatch(error_of(e)[1]).groups() == ("Assignable", "Reviewable")
    pages = list(client.get_paginator("list_reviewable_hits").paginate(PaginationConfig={"PageSize": 1}))
    assert [h["HITId"] for p in pages for h in p["HITs"]] == [done, other]


def test_change_the_hit_type_of_a_hit(client):
    hit = _hit(client)
    new_type = client.create_hit_type(**dict(HIT_TYPE, Reward="2.25", Title="Survey, part 2"))["HITTypeId"]
    client.update_hit_type_of_hit(HITId=hit["HITId"], HITTypeId=new_type)
    got = client.get_hit(HITId=hit["HITId"])["HIT"]
    assert (got["HITTypeId"], got["Reward"], got["Title"]) == (new_type, "2.25", "Survey, part 2")
    with pytest.raises(client.exceptions.RequestError) as e:
        client.update_hit_type_of_hit(HITId=hit["HITId"], HITTypeId="3NOSUCHTYPE")
    assert error_of(e)[2] == "AWS.MechanicalTurk.HITTypeDoesNotExist"


def test_delete_only_a_reviewable_hit_with_all_work_decided(emu, client, clock):
    hit = emu.add_hit(max_assignments=2, reward="1.00")
    with pytest.raises(client.exceptions.RequestError) as e:
        client.delete_hit(HITId=hit)
    assert STATE_ERROR.fullmatch(error_of(e)[1]).groups() == ("Assignable", "Reviewing, Reviewable")
    submitted = emu.add_assignment(hit, WORKER)
    rejected = emu.add_assignment(hit, OTHER_WORKER)
    client.reject_assignment(AssignmentId=rejected, RequesterFeedback="No code")
    with pytest.raises(client.exceptions.RequestError) as e:  # Reviewable, but one still Submitted
        client.delete_hit(HITId=hit)
    assert STATE_ERROR.fullmatch(error_of(e)[1]).groups() == ("Reviewable", "Reviewing, Reviewable")
    client.approve_assignment(AssignmentId=submitted)
    client.delete_hit(HITId=hit)
    assert client.get_hit(HITId=hit)["HIT"]["HITStatus"] == "Disposed"
    assert client.list_hits()["HITs"] == [] and client.list_reviewable_hits()["HITs"] == []
    with pytest.raises(client.exceptions.RequestError) as e:  # no overriding a rejection once deleted
        client.approve_assignment(AssignmentId=rejected, OverrideRejection=True)
    assert error_of(e)[2] == "AWS.MechanicalTurk.InvalidAssignmentState"
    with pytest.raises(client.exceptions.RequestError):
        client.delete_hit(HITId=hit)


def test_hits_for_a_qualification_type(emu, client):
    qual = client.create_qualification_type(Name="Eligible", Description="d",
                                            QualificationTypeStatus="Active")["QualificationType"]
    requirement = [{"QualificationTypeId": qual["QualificationTypeId"], "Comparator": "Exists"}]
    with_it = _hit(client, QualificationRequirements=requirement)
    _hit(client)
    listed = client.list_hits_for_qualification_type(QualificationTypeId=qual["QualificationTypeId"])
    assert [h["HITId"] for h in listed["HITs"]] == [with_it["HITId"]] and listed["NumResults"] == 1
    masters = client.list_hits_for_qualification_type(QualificationTypeId="2F1QJWKUDD8XADTFD2Q0G6UTO95ALH")
    assert masters["HITs"] == []
    with pytest.raises(client.exceptions.RequestError) as e:
        client.list_hits_for_qualification_type(QualificationTypeId="3NOSUCHQUAL")
    assert error_of(e)[2] == "AWS.MechanicalTurk.QualificationTypeDoesNotExist"


def test_requirements_rules(client):
    qual = client.create_qualification_type(Name="Paused", Description="d",
                                            QualificationTypeStatus="Inactive")["QualificationType"]
    cases = [
        [{"QualificationTypeId": qual["QualificationTypeId"], "Comparator": "Exists"}],  # Inactive
        [{"QualificationTypeId": "00000000000000000071", "Comparator": "Exists", "IntegerValues": [1]}],
        [{"QualificationTypeId": "00000000000000000071", "Comparator": "EqualTo",
          "LocaleValues": [{"Country": "US"}, {"Country": "CA"}]}],
    ]
    for requirements in cases:
        with pytest.raises(client.exceptions.RequestError):
            client.create_hit_type(QualificationRequirements=requirements, **HIT_TYPE)
    with pytest.raises(ClientError) as e:
        client.create_hit_type(QualificationRequirements=[
            {"QualificationTypeId": f"3Q{i}", "Comparator": "Exists"} for i in range(11)], **HIT_TYPE)
    assert error_of(e)[0] == "ValidationException" and "qualificationRequirements" in error_of(e)[1]


def test_review_policy_results_are_empty_where_nothing_applies(client):
    policy = {"PolicyName": "ScoreMyKnownAnswers/2011-09-01",
              "Parameters": [{"Key": "AnswerKey", "MapEntries": [{"Key": "QID1", "Values": ["A"]}]}]}
    hit = _hit(client, AssignmentReviewPolicy=policy)
    r = client.list_review_policy_results_for_hit(HITId=hit["HITId"], RetrieveResults=True, RetrieveActions=True)
    assert r["HITId"] == hit["HITId"] and r["AssignmentReviewPolicy"]["PolicyName"] == policy["PolicyName"]
    assert r["AssignmentReviewReport"] == {"ReviewResults": [], "ReviewActions": []}
    assert r["HITReviewReport"] == {"ReviewResults": [], "ReviewActions": []} and "NextToken" not in r
    only_hit = client.list_review_policy_results_for_hit(HITId=hit["HITId"], PolicyLevels=["HIT"])
    assert "AssignmentReviewPolicy" not in only_hit and "HITReviewPolicy" not in only_hit
    with pytest.raises(client.exceptions.RequestError):
        _hit(client, HITReviewPolicy={"PolicyName": "MajorityVote/2020"})
    with pytest.raises(client.exceptions.RequestError):
        client.list_review_policy_results_for_hit(HITId="3NOSUCHHIT")


def test_notification_settings_and_test_events(emu, client):
    type_id = client.create_hit_type(**HIT_TYPE)["HITTypeId"]
    spec = {"Destination": "https://sqs.us-east-1.amazonaws.com/123456789012/mturk-events", "Transport": "SQS",
            "Version": "2006-05-05", "EventTypes": ["AssignmentSubmitted", "HITReviewable"]}
    with pytest.raises(client.exceptions.RequestError):  # no specification yet: Active alone cannot work
        client.update_notification_settings(HITTypeId=type_id, Active=False)
    with pytest.raises(client.exceptions.RequestError):  # neither member
        client.update_notification_settings(HITTypeId=type_id)
    client.update_notification_settings(HITTypeId=type_id, Notification=spec)
    client.update_notification_settings(HITTypeId=type_id, Active=False)
    assert emu.state.notification_settings[type_id] == {"Notification": spec, "Active": False}
    bad_specs = [dict(spec, Version="2017-01-17"), dict(spec, Destination="not-a-queue"),
                 dict(spec, Transport="Email"), dict(spec, EventTypes=["Ping"])]
    for bad in bad_specs:
        with pytest.raises(client.exceptions.RequestError):
            client.update_notification_settings(HITTypeId=type_id, Notification=bad)
    with pytest.raises(client.exceptions.RequestError) as e:
        client.update_notification_settings(HITTypeId="3NOTYPE", Notification=spec)
    assert error_of(e)[2] == "AWS.MechanicalTurk.HITTypeDoesNotExist"
    with pytest.raises(ClientError) as e:
        client.update_notification_settings(HITTypeId=type_id, Notification=dict(spec, Transport="Pigeon"))
    assert error_of(e)[0] == "ValidationException"

    email = {"Destination": "lab@example.org", "Transport": "Email", "Version": "2006-05-05", "EventTypes": ["Ping"]}
    client.send_test_event_notification(Notification=email, TestEventType="Ping")
    [event] = emu.state.test_events
    assert event.event_type == "Ping" and event.notification["Destination"] == "lab@example.org"
    with pytest.raises(client.exceptions.RequestError):
        client.send_test_event_notification(Notification=dict(email, Destination="arn:aws:sns:nowhere"),
                                            TestEventType="Ping")
