"""Qualification types, grants and revocations, and NotifyWorkers."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from mturk_support import OTHER_WORKER, WORKER, error_of


def _create(client, name="Prev_Worker", **kwargs):
    return client.create_qualification_type(Name=name, Description="Took part before",
                                            QualificationTypeStatus="Active", **kwargs)["QualificationType"]


def test_create_get_and_list_qualification_types(client, clock):
    qt = _create(client, Keywords="wave")
    assert qt["Name"] == "Prev_Worker" and qt["QualificationTypeStatus"] == "Active"
    assert qt["CreationTime"].timestamp() == clock.now.timestamp()
    _create(client, "Eligible_Worker")
    with pytest.raises(client.exceptions.RequestError) as e:
        _create(client)
    assert error_of(e)[2] == "AWS.MechanicalTurk.QualificationTypeAlreadyExists"
    got = client.get_qualification_type(QualificationTypeId=qt["QualificationTypeId"])["QualificationType"]
    assert got["Name"] == "Prev_Worker" and got["Keywords"] == "wave"
    with pytest.raises(client.exceptions.RequestError):
        client.get_qualification_type(QualificationTypeId="3NOQUAL")
    listed = client.list_qualification_types(MustBeRequestable=False, MustBeOwnedByCaller=True, Query="prev")
    assert [q["Name"] for q in listed["QualificationTypes"]] == ["Prev_Worker"]
    assert client.list_qualification_types(MustBeRequestable=False)["NumResults"] == 2
    with pytest.raises(ClientError) as e:
        client.create_qualification_type(Name="x", Description="d", QualificationTypeStatus="Paused")
    assert error_of(e)[0] == "ValidationException" and "qualificationTypeStatus" in error_of(e)[1]


def test_grant_revoke_and_grant_again(client):
    qt = _create(client)["QualificationTypeId"]
    client.associate_qualification_with_worker(QualificationTypeId=qt, WorkerId=WORKER, IntegerValue=1,
                                               SendNotification=False)
    client.associate_qualification_with_worker(QualificationTypeId=qt, WorkerId=OTHER_WORKER, IntegerValue=7)
    granted = client.list_workers_with_qualification_type(QualificationTypeId=qt, Status="Granted")
    assert {(q["WorkerId"], q["IntegerValue"], q["Status"]) for q in granted["Qualifications"]} == {
        (WORKER, 1, "Granted"), (OTHER_WORKER, 7, "Granted")}
    client.disassociate_qualification_from_worker(QualificationTypeId=qt, WorkerId=WORKER, Reason="test")
    revoked = client.list_workers_with_qualification_type(QualificationTypeId=qt, Status="Revoked")
    assert [q["WorkerId"] for q in revoked["Qualifications"]] == [WORKER]
    with pytest.raises(client.exceptions.RequestError) as e:
        client.disassociate_qualification_from_worker(QualificationTypeId=qt, WorkerId=WORKER)
    assert error_of(e)[2] == "AWS.MechanicalTurk.QualificationDoesNotExist"
    with pytest.raises(client.exceptions.RequestError):
        client.get_qualification_score(QualificationTypeId=qt, WorkerId=WORKER)
    client.associate_qualification_with_worker(QualificationTypeId=qt, WorkerId=WORKER, IntegerValue=2)
    score = client.get_qualification_score(QualificationTypeId=qt, WorkerId=WORKER)["Qualification"]
    assert (score["Status"], score["IntegerValue"]) == ("Granted", 2)
    assert client.list_workers_with_qualification_type(QualificationTypeId=qt, Status="Revoked")["NumResults"] == 0
    with pytest.raises(client.exceptions.RequestError) as e:
        client.associate_qualification_with_worker(QualificationTypeId="3NOQUAL", WorkerId=WORKER)
    assert error_of(e)[2] == "AWS.MechanicalTurk.QualificationTypeDoesNotExist"


def test_workers_with_qualification_paginate(client):
    qt = _create(client)["QualificationTypeId"]
    for i in range(120):
        client.associate_qualification_with_worker(QualificationTypeId=qt, WorkerId=f"AW{i:04d}", IntegerValue=1)
    pages = list(client.get_paginator("list_workers_with_qualification_type").paginate(
        QualificationTypeId=qt, PaginationConfig={"PageSize": 50}))
    assert [p["NumResults"] for p in pages] == [50, 50, 20]
    assert len({q["WorkerId"] for p in pages for q in p["Qualifications"]}) == 120


def test_notify_workers_reaches_only_workers_with_decided_work(emu, client):
    hit = emu.add_hit(max_assignments=3)
    emu.add_assignment(hit, WORKER, status="Approved")
    emu.add_assignment(hit, OTHER_WORKER)  # submitted, not yet decided
    r = client.notify_workers(Subject="Wave 4", MessageText="A new study is up.",
                              WorkerIds=[WORKER, OTHER_WORKER, "ASTRANGER"])
    failures = {f["WorkerId"]: f["NotifyWorkersFailureCode"] for f in r["NotifyWorkersFailureStatuses"]}
    assert failures == {OTHER_WORKER: "HardFailure", "ASTRANGER": "HardFailure"}
    [note] = emu.state.notifications
    assert note.worker_ids == (WORKER,) and note.subject == "Wave 4"


def test_notify_workers_limits(client):
    for kwargs, member in (
        (dict(Subject="s" * 201, MessageText="m", WorkerIds=[WORKER]), "'subject'"),
        (dict(Subject="s", MessageText="m" * 4097, WorkerIds=[WORKER]), "'messageText'"),
        (dict(Subject="s", MessageText="m", WorkerIds=[f"AW{i}" for i in range(101)]), "'workerIds'"),
    ):
        with pytest.raises(ClientError) as e:
            client.notify_workers(**kwargs)
        code, message, _, _ = error_of(e)
        assert code == "ValidationException" and member in message and "less than or equal to" in message
    r = client.notify_workers(Subject="s" * 200, MessageText="m" * 4096, WorkerIds=[f"AW{i}" for i in range(100)])
    assert len(r["NotifyWorkersFailureStatuses"]) == 100
