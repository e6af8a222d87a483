"""The qualification operations: types, grants and scores, and workers' requests.

Each handler takes the state (lock held, auto-approvals swept) and the request's
parameters, already validated against botocore's model, and returns the response body.
"""

from __future__ import annotations

from bridge.panels.mturk.emulator.state import MTurkState
from bridge.panels.mturk.emulator.wire import (
    Handler,
    Params,
    grant_json,
    paginate,
    qualification_type_json,
    request_json,
)


def create_qualification_type(state: MTurkState, params: Params) -> Params:
    qt = state.create_qualification_type(
        params["Name"], params["Description"], params["QualificationTypeStatus"],
        keywords=params.get("Keywords"), test=params.get("Test"), answer_key=params.get("AnswerKey"),
        test_duration_seconds=params.get("TestDurationInSeconds"),
        retry_delay_seconds=params.get("RetryDelayInSeconds"),
        auto_granted=bool(params.get("AutoGranted")), auto_granted_value=params.get("AutoGrantedValue"),
    )
    return {"QualificationType": qualification_type_json(qt)}


def get_qualification_type(state: MTurkState, params: Params) -> Params:
    return {"QualificationType": qualification_type_json(state.qualification_type(params["QualificationTypeId"]))}


def update_qualification_type(state: MTurkState, params: Params) -> Params:
    qt = state.update_qualification_type(params["QualificationTypeId"], params)
    return {"QualificationType": qualification_type_json(qt)}


def delete_qualification_type(state: MTurkState, params: Params) -> Params:
    state.delete_qualification_type(params["QualificationTypeId"])
    return {}


def list_qualification_types(state: MTurkState, params: Params) -> Params:
    # Only this requester's types exist here: system and other requesters' public types
    # (listed by real MTurk when MustBeOwnedByCaller is false) are not emulated, and every
    # type here is requestable, so MustBeRequestable changes nothing.
    query = (params.get("Query") or "").lower()
    items = [
        qt for qt in state.live_qualification_types()
        if not query or any(query in (text or "").lower() for text in (qt.name, qt.description, qt.keywords))
    ]
    page, out = paginate(state, params, items, f"ListQualificationTypes:{query}")
    out["QualificationTypes"] = [qualification_type_json(qt) for qt in page]
    return out


def associate_qualification_with_worker(state: MTurkState, params: Params) -> Params:
    # SendNotification (default true) would email the worker: nothing is sent here.
    state.grant(params["QualificationTypeId"], params["WorkerId"], params.get("IntegerValue", 1))
    return {}


def disassociate_qualification_from_worker(state: MTurkState, params: Params) -> Params:
    state.revoke(params["QualificationTypeId"], params["WorkerId"])
    return {}


def list_workers_with_qualification_type(state: MTurkState, params: Params) -> Params:
    qt = state.qualification_type(params["QualificationTypeId"])
    status = params.get("Status")  # without it, both Granted and Revoked are listed
    items = [
        g for g in state.grants.values()
        if g.qualification_type_id == qt.qualification_type_id and (status is None or g.status == status)
    ]
    page, out = paginate(state, params, items, f"ListWorkersWithQualificationType:{qt.qualification_type_id}:{status}")
    out["Qualifications"] = [grant_json(g) for g in page]
    return out


def get_qualification_score(state: MTurkState, params: Params) -> Params:
    return {"Qualification": grant_json(state.score(params["QualificationTypeId"], params["WorkerId"]))}


def list_qualification_requests(state: MTurkState, params: Params) -> Params:
    """Pending requests, of one type or of all this requester's types."""
    type_id = params.get("QualificationTypeId")
    if type_id is not None:
        state.qualification_type(type_id)
    live = {qt.qualification_type_id for qt in state.live_qualification_types()}
    items = [r for r in state.qualification_requests.values()
             if r.status == "Pending" and r.qualification_type_id in live
             and (type_id is None or r.qualification_type_id == type_id)]
    page, out = paginate(state, params, items, f"ListQualificationRequests:{type_id}")
    out["QualificationRequests"] = [request_json(r) for r in page]
    return out


def accept_qualification_request(state: MTurkState, params: Params) -> Params:
    state.accept_request(params["QualificationRequestId"], params.get("IntegerValue"))
    return {}


def reject_qualification_request(state: MTurkState, params: Params) -> Params:
    state.reject_request(params["QualificationRequestId"], params.get("Reason"))
    return {}


OPERATIONS: dict[str, Handler] = {
    "CreateQualificationType": create_qualification_type,
    "GetQualificationType": get_qualification_type,
    "UpdateQualificationType": update_qualification_type,
    "DeleteQualificationType": delete_qualification_type,
    "ListQualificationTypes": list_qualification_types,
    "AssociateQualificationWithWorker": associate_qualification_with_worker,
    "DisassociateQualificationFromWorker": disassociate_qualification_from_worker,
    "ListWorkersWithQualificationType": list_workers_with_qualification_type,
    "GetQualificationScore": get_qualification_score,
    "ListQualificationRequests": list_qualification_requests,
    "AcceptQualificationRequest": accept_qualification_request,
    "RejectQualificationRequest": reject_qualification_request,
}
