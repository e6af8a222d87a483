"""The MTurk operations the emulator serves, between JSON parameters and `MTurkState`.

Each handler takes the state (lock held, auto-approvals swept) and the request's
parameters, already validated against botocore's model, and returns the response body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bridge.panels.mturk.emulator.state import (
    DEFAULT_AUTO_APPROVAL_SECONDS,
    ApiError,
    AssignmentRecord,
    GrantRecord,
    HitRecord,
    MTurkState,
    Notification,
    QualificationTypeRecord,
    new_id,
)
from bridge.panels.mturk.emulator.validate import validation_message, violation

DEFAULT_PAGE_SIZE = 10
SUBJECT_MAX = 200
MESSAGE_MAX = 4096
NOTIFY_WORKERS_MAX = 100
# Documented ranges the model does not carry (CreateHIT / CreateHITType).
DURATION_RANGE = (30, 31_536_000)
AUTO_APPROVAL_RANGE = (0, DEFAULT_AUTO_APPROVAL_SECONDS)

Params = dict[str, Any]
Handler = Callable[[MTurkState, Params], Params]


# --- wire helpers -------------------------------------------------------------------


def _ts(value: datetime | None) -> float | None:
    return None if value is None else round(value.timestamp(), 3)


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _drop_none(d: Params) -> Params:
    return {k: v for k, v in d.items() if v is not None}


def _range_error(member: str, value: int, low: int, high: int) -> ApiError | None:
    if low <= value <= high:
        return None
    bound = f"greater than or equal to {low}" if value < low else f"less than or equal to {high}"
    return ApiError("ValidationException", validation_message([violation(value, member, f"Member must have value {bound}")]))


def _paginate(state: MTurkState, params: Params, items: Sequence[Any], query: str) -> tuple[Sequence[Any], Params]:
    """One page of `items` and the NumResults/NextToken fields.

    The token is opaque to clients: base64 of the offset, a digest of the query (a token
    from another listing is refused) and a nonce (equal offsets give unequal tokens).
    """
    size = params.get("MaxResults", DEFAULT_PAGE_SIZE)
    digest = hashlib.sha1(query.encode()).hexdigest()[:12]
    start = 0
    if "NextToken" in params:
        try:
            raw = json.loads(base64.urlsafe_b64decode(params["NextToken"].encode()))
            start, ok = int(raw["o"]), raw["q"] == digest
        except (ValueError, KeyError, TypeError, binascii.Error):
            ok = False
        if not ok or start < 0:
            raise state.request_error("The pagination token is invalid.", "AWS.MechanicalTurk.InvalidPaginationToken")
    page = items[start : start + size]
    out: Params = {"NumResults": len(page)}
    if start + size < len(items):
        raw = json.dumps({"o": start + size, "q": digest, "n": secrets.token_hex(4)}, separators=(",", ":"))
        out["NextToken"] = base64.urlsafe_b64encode(raw.encode()).decode()
    return page, out


# --- serialisers --------------------------------------------------------------------


def hit_json(state: MTurkState, hit: HitRecord) -> Params:
    available, completed = state.hit_counts(hit)
    expired = hit.expiration is not None and state.now() >= hit.expiration
    return _drop_none({
        "HITId": hit.hit_id,
        "HITTypeId": hit.hit_type_id,
        "HITGroupId": hit.hit_type_id,
        "HITLayoutId": hit.hit_layout_id,
        "CreationTime": _ts(hit.creation_time),
        "Title": hit.title,
        "Description": hit.description,
        "Question": hit.question,
        "Keywords": hit.keywords,
        "HITStatus": "Assignable" if available and not expired else "Reviewable",
        "MaxAssignments": hit.max_assignments,
        "Reward": _money(hit.reward),
        "AutoApprovalDelayInSeconds": hit.auto_approval_delay_seconds,
        "Expiration": _ts(hit.expiration),
        "AssignmentDurationInSeconds": hit.assignment_duration_seconds,
        "RequesterAnnotation": hit.requester_annotation,
        "QualificationRequirements": hit.qualification_requirements,
        "HITReviewStatus": hit.review_status,
        "NumberOfAssignmentsPending": 0,
        "NumberOfAssignmentsAvailable": available,
        "NumberOfAssignmentsCompleted": completed,
    })


def assignment_json(a: AssignmentRecord) -> Params:
    return _drop_none({
        "AssignmentId": a.assignment_id,
        "WorkerId": a.worker_id,
        "HITId": a.hit_id,
        "AssignmentStatus": a.status,
        "AutoApprovalTime": _ts(a.auto_approval_time) if a.status == "Submitted" else None,
        "AcceptTime": _ts(a.accept_time),
        "SubmitTime": _ts(a.submit_time),
        "ApprovalTime": _ts(a.approval_time),
        "RejectionTime": _ts(a.rejection_time),
        "Deadline": _ts(a.deadline),
        "Answer": a.answer,
        "RequesterFeedback": a.requester_feedback,
    })


def qualification_type_json(qt: QualificationTypeRecord) -> Params:
    return _drop_none({
        "QualificationTypeId": qt.qualification_type_id,
        "CreationTime": _ts(qt.creation_time),
        "Name": qt.name,
        "Description": qt.description,
        "Keywords": qt.keywords,
        "QualificationTypeStatus": qt.status,
        "Test": qt.test,
        "TestDurationInSeconds": qt.test_duration_seconds,
        "AnswerKey": qt.answer_key,
        "RetryDelayInSeconds": qt.retry_delay_seconds,
        # Workers can ask the requester for any type the requester created.
        "IsRequestable": True,
        "AutoGranted": qt.auto_granted,
        "AutoGrantedValue": qt.auto_granted_value,
    })


def grant_json(g: GrantRecord) -> Params:
    return {
        "QualificationTypeId": g.qualification_type_id,
        "WorkerId": g.worker_id,
        "GrantTime": _ts(g.grant_time),
        "IntegerValue": g.integer_value,
        "Status": g.status,
    }


# --- account, HITs, assignments -----------------------------------------------------


def get_account_balance(state: MTurkState, params: Params) -> Params:
    return {"AvailableBalance": _money(state.balance), "OnHoldBalance": "0.00"}


def get_hit(state: MTurkState, params: Params) -> Params:
    return {"HIT": hit_json(state, state.hit(params["HITId"]))}


def list_hits(state: MTurkState, params: Params) -> Params:
    page, out = _paginate(state, params, list(state.hits.values()), "ListHITs")
    out["HITs"] = [hit_json(state, h) for h in page]
    return out


def list_assignments_for_hit(state: MTurkState, params: Params) -> Params:
    hit = state.hit(params["HITId"])
    statuses = set(params.get("AssignmentStatuses") or ())
    items = [state.assignments[i] for i in state.assignments_by_hit[hit.hit_id]]
    if statuses:
        items = [a for a in items if a.status in statuses]
    query = f"ListAssignmentsForHIT:{hit.hit_id}:{sorted(statuses)}"
    page, out = _paginate(state, params, items, query)
    out["Assignments"] = [assignment_json(a) for a in page]
    return out


def get_assignment(state: MTurkState, params: Params) -> Params:
    a = state.assignment(params["AssignmentId"])
    return {"Assignment": assignment_json(a), "HIT": hit_json(state, state.hits[a.hit_id])}


def approve_assignment(state: MTurkState, params: Params) -> Params:
    state.approve(params["AssignmentId"], params.get("RequesterFeedback"), bool(params.get("OverrideRejection")))
    return {}


def reject_assignment(state: MTurkState, params: Params) -> Params:
    state.reject(params["AssignmentId"], params["RequesterFeedback"])
    return {}


# --- bonuses ------------------------------------------------------------------------


def send_bonus(state: MTurkState, params: Params) -> Params:
    state.send_bonus(
        params["WorkerId"], params["AssignmentId"], Decimal(params["BonusAmount"]), params["Reason"],
        params.get("UniqueRequestToken"),
    )
    return {}


def list_bonus_payments(state: MTurkState, params: Params) -> Params:
    hit_id, assignment_id = params.get("HITId"), params.get("AssignmentId")
    if (hit_id is None) == (assignment_id is None):
        raise state.request_error("Specify exactly one of HITId or AssignmentId.", "AWS.ParameterOutOfRange")
    if hit_id is not None:
        state.hit(hit_id)
        items = [b for b in state.bonuses if b.hit_id == hit_id]
        query = f"ListBonusPayments:HIT:{hit_id}"
    else:
        state.assignment(assignment_id)
        items = [b for b in state.bonuses if b.assignment_id == assignment_id]
        query = f"ListBonusPayments:Assignment:{assignment_id}"
    page, out = _paginate(state, params, items, query)
    out["BonusPayments"] = [
        {"WorkerId": b.worker_id, "BonusAmount": _money(b.amount), "AssignmentId": b.assignment_id,
         "Reason": b.reason, "GrantTime": _ts(b.grant_time)}
        for b in page
    ]
    return out


# --- qualifications -----------------------------------------------------------------


def create_qualification_type(state: MTurkState, params: Params) -> Params:
    if params.get("AutoGranted") and params.get("Test"):
        raise state.request_error("A QualificationType with a Test cannot be AutoGranted.", "AWS.ParameterOutOfRange")
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


def list_qualification_types(state: MTurkState, params: Params) -> Params:
    # Only this requester's types exist here: system and other requesters' public types
    # (listed by real MTurk when MustBeOwnedByCaller is false) are not emulated.
    query = (params.get("Query") or "").lower()
    items = [
        qt for qt in state.qualification_types.values()
        if not query or any(query in (text or "").lower() for text in (qt.name, qt.description, qt.keywords))
    ]
    page, out = _paginate(state, params, items, f"ListQualificationTypes:{query}")
    out["QualificationTypes"] = [qualification_type_json(qt) for qt in page]
    return out


def associate_qualification_with_worker(state: MTurkState, params: Params) -> Params:
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
    page, out = _paginate(state, params, items, f"ListWorkersWithQualificationType:{qt.qualification_type_id}:{status}")
    out["Qualifications"] = [grant_json(g) for g in page]
    return out


def get_qualification_score(state: MTurkState, params: Params) -> Params:
    state.qualification_type(params["QualificationTypeId"])
    g = state.grants.get((params["QualificationTypeId"], params["WorkerId"]))
    if g is None or g.status != "Granted":
        raise state.request_error(
            "You requested a Qualification that does not exist.", "AWS.MechanicalTurk.QualificationDoesNotExist"
        )
    return {"Qualification": grant_json(g)}


# --- messages -----------------------------------------------------------------------


def notify_workers(state: MTurkState, params: Params) -> Params:
    # Limits from the API reference, not the model; answered like the model's checks.
    violations = []
    for member, value, limit in (("subject", params["Subject"], SUBJECT_MAX),
                                 ("messageText", params["MessageText"], MESSAGE_MAX),
                                 ("workerIds", params["WorkerIds"], NOTIFY_WORKERS_MAX)):
        if len(value) > limit:
            violations.append(violation(value, member, f"Member must have length less than or equal to {limit}"))
    if violations:
        raise ApiError("ValidationException", validation_message(violations))
    failures, reached = [], []
    for worker_id in params["WorkerIds"]:
        if state.worker_reachable(worker_id):
            reached.append(worker_id)
        else:
            failures.append({
                "NotifyWorkersFailureCode": "HardFailure",
                "NotifyWorkersFailureMessage": f"Cannot send a message to worker {worker_id}: you have not "
                                               "approved or rejected any of their work.",
                "WorkerId": worker_id,
            })
    if reached:
        state.notifications.append(Notification(params["Subject"], params["MessageText"], tuple(reached), state.now()))
    return {"NotifyWorkersFailureStatuses": failures}


# --- creating HITs ------------------------------------------------------------------


def _hit_type_properties(state: MTurkState, params: Params) -> Params:
    """The HIT-type part of a CreateHIT/CreateHITType request, range-checked."""
    checks = [("assignmentDurationInSeconds", params["AssignmentDurationInSeconds"], DURATION_RANGE)]
    if "AutoApprovalDelayInSeconds" in params:
        checks.append(("autoApprovalDelayInSeconds", params["AutoApprovalDelayInSeconds"], AUTO_APPROVAL_RANGE))
    for member, value, (low, high) in checks:
        error = _range_error(member, value, low, high)
        if error:
            raise error
    if Decimal(params["Reward"]) < Decimal("0.01"):
        raise state.request_error("The reward must be at least $0.01.", "AWS.ParameterOutOfRange")
    return {
        "Title": params["Title"],
        "Description": params["Description"],
        "Keywords": params.get("Keywords", ""),
        "Reward": f"{Decimal(params['Reward']):.2f}",
        "AssignmentDurationInSeconds": params["AssignmentDurationInSeconds"],
        "AutoApprovalDelayInSeconds": params.get("AutoApprovalDelayInSeconds", DEFAULT_AUTO_APPROVAL_SECONDS),
        "QualificationRequirements": params.get("QualificationRequirements", []),
    }


def _register_hit_type(state: MTurkState, props: Params) -> str:
    # Identical properties give the same HIT type, as on MTurk.
    digest = hashlib.sha256(json.dumps(props, sort_keys=True).encode()).digest()
    hit_type_id = "3" + base64.b32encode(digest).decode()[:29]
    state.hit_types.setdefault(hit_type_id, props)
    return hit_type_id


def _create_hit(state: MTurkState, params: Params, hit_type_id: str, props: Params) -> Params:
    if ("Question" in params) == ("HITLayoutId" in params):
        raise state.request_error("Provide exactly one of Question or HITLayoutId.", "AWS.ParameterOutOfRange")
    lifetime_error = _range_error("lifetimeInSeconds", params["LifetimeInSeconds"], *DURATION_RANGE)
    if lifetime_error:
        raise lifetime_error
    max_assignments = params.get("MaxAssignments", 1)
    max_error = _range_error("maxAssignments", max_assignments, 1, 1_000_000)
    if max_error:
        raise max_error
    token = params.get("UniqueRequestToken")
    state.check_token("CreateHIT", token, "AWS.MechanicalTurk.HitAlreadyExists")
    now = state.now()
    hit = state.add_hit(HitRecord(
        hit_id=new_id(),
        hit_type_id=hit_type_id,
        title=props["Title"],
        description=props["Description"],
        keywords=props["Keywords"],
        reward=Decimal(props["Reward"]),
        max_assignments=max_assignments,
        auto_approval_delay_seconds=props["AutoApprovalDelayInSeconds"],
        assignment_duration_seconds=props["AssignmentDurationInSeconds"],
        creation_time=now,
        expiration=now + timedelta(seconds=params["LifetimeInSeconds"]),
        question=params.get("Question"),
        requester_annotation=params.get("RequesterAnnotation"),
        hit_layout_id=params.get("HITLayoutId"),
        qualification_requirements=props["QualificationRequirements"],
    ))
    state.remember_token("CreateHIT", token)
    return {"HIT": hit_json(state, hit)}


def create_hit_type(state: MTurkState, params: Params) -> Params:
    return {"HITTypeId": _register_hit_type(state, _hit_type_properties(state, params))}


def create_hit(state: MTurkState, params: Params) -> Params:
    props = _hit_type_properties(state, params)
    return _create_hit(state, params, _register_hit_type(state, props), props)


def create_hit_with_hit_type(state: MTurkState, params: Params) -> Params:
    props = state.hit_types.get(params["HITTypeId"])
    if props is None:
        raise state.request_error(
            f"HITType {params['HITTypeId']} does not exist.", "AWS.MechanicalTurk.HITTypeDoesNotExist"
        )
    return _create_hit(state, params, params["HITTypeId"], props)


OPERATIONS: dict[str, Handler] = {
    "GetAccountBalance": get_account_balance,
    "GetHIT": get_hit,
    "ListHITs": list_hits,
    "ListAssignmentsForHIT": list_assignments_for_hit,
    "GetAssignment": get_assignment,
    "ApproveAssignment": approve_assignment,
    "RejectAssignment": reject_assignment,
    "SendBonus": send_bonus,
    "ListBonusPayments": list_bonus_payments,
    "CreateQualificationType": create_qualification_type,
    "GetQualificationType": get_qualification_type,
    "ListQualificationTypes": list_qualification_types,
    "AssociateQualificationWithWorker": associate_qualification_with_worker,
    "DisassociateQualificationFromWorker": disassociate_qualification_from_worker,
    "ListWorkersWithQualificationType": list_workers_with_qualification_type,
    "GetQualificationScore": get_qualification_score,
    "NotifyWorkers": notify_workers,
    "CreateHIT": create_hit,
    "CreateHITType": create_hit_type,
    "CreateHITWithHITType": create_hit_with_hit_type,
}
