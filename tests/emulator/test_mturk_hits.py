"""Creating, reading and listing HITs and HIT types."""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError
from mturk_support import WORKER, error_of

QUESTION = """<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd"><ExternalURL>https://example.org/survey</ExternalURL><FrameHeight>600</FrameHeight></ExternalQuestion>"""

HIT_TYPE = dict(AssignmentDurationInSeconds=3600, Reward="1.50", Title="Survey on decisions",
                Description="A 10-minute survey", Keywords="survey, research", AutoApprovalDelayInSeconds=259200)


def test_create_hit_then_get_and_list(emu, client, clock):
    hit = client.create_hit(MaxAssignments=20, LifetimeInSeconds=86400, Question=QUESTION,
                            RequesterAnnotation="wave-3", **HIT_TYPE)["HIT"]
    assert re.fullmatch(r"[A-Z0-9]{30}", hit["HITId"]) and re.fullmatch(r"[A-Z0-9]{30}", hit["HITTypeId"])
    assert hit["Reward"] == "1.50" and hit["MaxAssignments"] == 20 and hit["HITStatus"] == "Assignable"
    assert hit["AutoApprovalDelayInSeconds"] == 259200 and hit["Question"] == QUESTION
    assert hit["CreationTime"].timestamp() == clock.now.timestamp()
    assert hit["Expiration"].timestamp() - hit["CreationTime"].timestamp() == 86400
    assert client.get_hit(HITId=hit["HITId"])["HIT"]["RequesterAnnotation"] == "wave-3"
    assert emu.state.hits[hit["HITId"]].max_assignments == 20
    # HITs created by the API take assignments like seeded ones.
    aid = emu.add_assignment(hit["HITId"], WORKER)
    client.approve_assignment(AssignmentId=aid)
    assert client.get_account_balance()["AvailableBalance"] == "9997.90"


def test_list_hits_paginates(emu, client):
    ids = [emu.add_hit() for _ in range(23)]
    pages = list(client.get_paginator("list_hits").paginate())
    assert [p["NumResults"] for p in pages] == [10, 10, 3]
    assert [h["HITId"] for p in pages for h in p["HITs"]] == ids


def test_create_hit_token_remembered(emu, client):
    client.create_hit(LifetimeInSeconds=600, Question=QUESTION, UniqueRequestToken="hit-1", **HIT_TYPE)
    with pytest.raises(client.exceptions.RequestError) as e:
        client.create_hit(LifetimeInSeconds=600, Question=QUESTION, UniqueRequestToken="hit-1", **HIT_TYPE)
    _, message, turk, _ = error_of(e)
    assert turk == "AWS.MechanicalTurk.HitAlreadyExists" and 'token "hit-1" has already been processed' in message
    assert len(emu.state.hits) == 1


def test_create_hit_rules(client):
    with pytest.raises(client.exceptions.RequestError):  # neither Question nor HITLayoutId
        client.create_hit(LifetimeInSeconds=600, **HIT_TYPE)
    with pytest.raises(client.exceptions.RequestError):  # both
        client.create_hit(LifetimeInSeconds=600, Question=QUESTION, HITLayoutId="3LAYOUT", **HIT_TYPE)
    too_long = dict(HIT_TYPE, AutoApprovalDelayInSeconds=2592001)
    with pytest.raises(ClientError) as e:
        client.create_hit(LifetimeInSeconds=600, Question=QUESTION, **too_long)
    assert error_of(e)[0] == "ValidationException" and "autoApprovalDelayInSeconds" in error_of(e)[1]
    with pytest.raises(ClientError) as e:
        client.create_hit(LifetimeInSeconds=10, Question=QUESTION, **HIT_TYPE)
    assert error_of(e)[0] == "ValidationException" and "lifetimeInSeconds" in error_of(e)[1]
    with pytest.raises(ClientError) as e:
        client.create_hit(LifetimeInSeconds=600, Question=QUESTION, **dict(HIT_TYPE, Reward="1.505"))
    assert error_of(e)[0] == "ValidationException" and "'reward'" in error_of(e)[1]
    with pytest.raises(client.exceptions.RequestError):
        client.create_hit(LifetimeInSeconds=600, Question=QUESTION, **dict(HIT_TYPE, Reward="0.00"))


def test_hit_types(emu, client):
    type_id = client.create_hit_type(**HIT_TYPE)["HITTypeId"]
    assert client.create_hit_type(**HIT_TYPE)["HITTypeId"] == type_id  # same properties, same type
    assert client.create_hit_type(**dict(HIT_TYPE, Reward="2.00"))["HITTypeId"] != type_id
    hit = client.create_hit_with_hit_type(HITTypeId=type_id, MaxAssignments=5, LifetimeInSeconds=3600,
                                          Question=QUESTION, UniqueRequestToken="h2")["HIT"]
    assert hit["HITTypeId"] == type_id and hit["Reward"] == "1.50" and hit["Title"] == HIT_TYPE["Title"]
    with pytest.raises(client.exceptions.RequestError):
        client.create_hit_with_hit_type(HITTypeId=type_id, LifetimeInSeconds=3600, Question=QUESTION,
                                        UniqueRequestToken="h2")
    with pytest.raises(client.exceptions.RequestError) as e:
        client.create_hit_with_hit_type(HITTypeId="3NOTYPE", LifetimeInSeconds=3600, Question=QUESTION)
    assert error_of(e)[2] == "AWS.MechanicalTurk.HITTypeDoesNotExist"
    # A seeded HIT's type can be reused too.
    seeded = emu.add_hit(hit_type_id="3SEEDEDTYPE", reward="0.40")
    again = client.create_hit_with_hit_type(HITTypeId="3SEEDEDTYPE", LifetimeInSeconds=3600, Question=QUESTION)
    assert again["HIT"]["Reward"] == "0.40" and again["HIT"]["HITId"] != seeded


def test_hit_counts_follow_the_assignments(emu, client, clock):
    hit = emu.add_hit(max_assignments=3)
    emu.add_assignment(hit, WORKER, status="Approved")
    emu.add_assignment(hit, "AWORKER2")
    h = client.get_hit(HITId=hit)["HIT"]
    assert (h["NumberOfAssignmentsAvailable"], h["NumberOfAssignmentsCompleted"]) == (1, 1)
    emu.add_assignment(hit, "AWORKER3")
    assert client.get_hit(HITId=hit)["HIT"]["HITStatus"] == "Reviewable"
