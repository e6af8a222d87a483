"""The HIT operations: creating HITs and HIT types, their lifecycle (extend, expire,
review, retype, delete), listing them, review-policy results and notification settings.

Each handler takes the state (lock held, auto-approvals swept) and the request's
parameters, already validated against botocore's model, and returns the response body.
"""

from __future__ import annotations

import base64
import hashlib
import json
import xml.etree.ElementTree as ET
from datetime import timedelta
from decimal import Decimal

from bridge.panels.mturk.emulator.records import DEFAULT_AUTO_APPROVAL_SECONDS, HitRecord, SentTestEvent, new_id
from bridge.panels.mturk.emulator.state import MTurkState
from bridge.panels.mturk.emulator.wire import Handler, Params, from_ts, hit_json, paginate, range_error

# Documented ranges the model does not carry (CreateHIT / CreateHITType).
DURATION_RANGE = (30, 31_536_000)
AUTO_APPROVAL_RANGE = (0, DEFAULT_AUTO_APPROVAL_SECONDS)
QUESTION_MAX_BYTES = 65_535  # "must not be larger than 64 kilobytes (65,535 bytes)" [model, CreateHIT]
QUESTION_ROOTS = ("QuestionForm", "ExternalQuestion", "HTMLQuestion")


# --- reading --------------------------------------------------------------------------


def get_hit(state: MTurkState, params: Params) -> Params:
    # A deleted HIT still answers, with HITStatus Disposed (the status the model lists).
    return {"HIT": hit_json(state, state.hit(params["HITId"]))}


def list_hits(state: MTurkState, params: Params) -> Params:
    page, out = paginate(state, params, state.visible_hits(), "ListHITs")
    out["HITs"] = [hit_json(state, h) for h in page]
    return out


def list_hits_for_qualification_type(state: MTurkState, params: Params) -> Params:
    type_id = params["QualificationTypeId"]
    page, out = paginate(state, params, state.hits_requiring(type_id), f"ListHITsForQualificationType:{type_id}")
    out["HITs"] = [hit_json(state, h) for h in page]
    return out


def list_reviewable_hits(state: MTurkState, params: Params) -> Params:
    """HITs whose status is Reviewable (the default) or Reviewing, maybe of one HIT type."""
    status, type_id = params.get("Status", "Reviewable"), params.get("HITTypeId")
    items = [h for h in state.visible_hits()
             if state.hit_status(h) == status and (type_id is None or h.hit_type_id == type_id)]
    page, out = paginate(state, params, items, f"ListReviewableHITs:{status}:{type_id}")
    out["HITs"] = [hit_json(state, h) for h in page]
    return out


def list_review_policy_results_for_hit(state: MTurkState, params: Params) -> Params:
    """The policies the HIT was created with, and empty reports: the emulator does not run
    review policies, so there are never results or actions to list."""
    hit = state.hit(params["HITId"])
    paginate(state, params, [], f"ListReviewPolicyResultsForHIT:{hit.hit_id}")  # checks a NextToken
    levels = set(params.get("PolicyLevels") or ("Assignment", "HIT"))
    out: Params = {"HITId": hit.hit_id}
    for level, policy in (("Assignment", hit.assignment_review_policy), ("HIT", hit.hit_review_policy)):
        if level not in levels:
            continue
        if policy is not None:
            out[f"{level}ReviewPolicy"] = policy
        report: Params = {}
        if params.get("RetrieveResults"):
            report["ReviewResults"] = []
        if params.get("RetrieveActions"):
            report["ReviewActions"] = []
        out[f"{level}ReviewReport"] = report
    return out


# --- creating -------------------------------------------------------------------------


def _hit_type_properties(state: MTurkState, params: Params) -> Params:
    """The HIT-type part of a CreateHIT/CreateHITType request, checked."""
    range_error(state, "assignmentDurationInSeconds", params["AssignmentDurationInSeconds"], *DURATION_RANGE)
    if "AutoApprovalDelayInSeconds" in params:
        range_error(state, "autoApprovalDelayInSeconds", params["AutoApprovalDelayInSeconds"], *AUTO_APPROVAL_RANGE)
    if Decimal(params["Reward"]) < Decimal("0.01"):
        raise state.request_error("The reward must be at least $0.01.", "AWS.ParameterOutOfRange")
    requirements = params.get("QualificationRequirements", [])
    state.check_requirements(requirements)
    return {
        "Title": params["Title"],
        "Description": params["Description"],
        "Keywords": params.get("Keywords", ""),
        "Reward": f"{Decimal(params['Reward']):.2f}",
        "AssignmentDurationInSeconds": params["AssignmentDurationInSeconds"],
        "AutoApprovalDelayInSeconds": params.get("AutoApprovalDelayInSeconds", DEFAULT_AUTO_APPROVAL_SECONDS),
        "QualificationRequirements": requirements,
    }


def _register_hit_type(state: MTurkState, props: Params) -> str:
    # Identical properties give the same HIT type, as on MTurk [model, CreateHITType].
    digest = hashlib.sha256(json.dumps(props, sort_keys=True).encode()).digest()
    hit_type_id = "3" + base64.b32encode(digest).decode()[:29]
    state.hit_types.setdefault(hit_type_id, props)
    state.deleted_hit_types.discard(hit_type_id)  # its qualification types are live again
    return hit_type_id


def _check_question(state: MTurkState, question: str) -> None:
    """[model, CreateHIT]: a QuestionForm, ExternalQuestion or HTMLQuestion document of at
    most 65,535 bytes. The TurkErrorCode of a bad document is unconfirmed (the legacy API's)."""
    size = len(question.encode("utf-8"))
    if size > QUESTION_MAX_BYTES:
        raise state.validation_error(f"<{size} bytes>", "question",
                                     f"Member must have length less than or equal to {QUESTION_MAX_BYTES}")
    try:
        root = ET.fromstring(question.encode("utf-8"))
    except ET.ParseError as exc:
        raise state.request_error(f"The Question is not well-formed XML ({exc}).", "AWS.MechanicalTurk.XMLParseError")
    if root.tag.rsplit("}", 1)[-1] not in QUESTION_ROOTS:
        raise state.request_error("The Question must be a QuestionForm, ExternalQuestion or HTMLQuestion document.",
                                  "AWS.MechanicalTurk.XMLParseError")


def _create_hit(state: MTurkState, params: Params, hit_type_id: str, props: Params) -> Params:
    if ("Question" in params) == ("HITLayoutId" in params):
        raise state.request_error("Provide exactly one of Question or HITLayoutId.", "AWS.ParameterOutOfRange")
    if "Question" in params:
        _check_question(state, params["Question"])
    range_error(state, "lifetimeInSeconds", params["LifetimeInSeconds"], *DURATION_RANGE)
    max_assignments = params.get("MaxAssignments", 1)
    range_error(state, "maxAssignments", max_assignments, 1, 1_000_000)
    state.check_review_policy(params.get("AssignmentReviewPolicy"), "AssignmentReviewPolicy")
    state.check_review_policy(params.get("HITReviewPolicy"), "HITReviewPolicy")
    token = params.get("UniqueRequestToken")
    state.check_token("CreateHIT", token, "AWS.MechanicalTurk.HitAlreadyExists", names_result="HIT")
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
        assignment_review_policy=params.get("AssignmentReviewPolicy"),
        hit_review_policy=params.get("HITReviewPolicy"),
    ))
    state.remember_token("CreateHIT", token, hit.hit_id)
    return {"HIT": hit_json(state, hit)}


def create_hit_type(state: MTurkState, params: Params) -> Params:
    return {"HITTypeId": _register_hit_type(state, _hit_type_properties(state, params))}


def create_hit(state: MTurkState, params: Params) -> Params:
    props = _hit_type_properties(state, params)
    return _create_hit(state, params, _register_hit_type(state, props), props)


def create_hit_with_hit_type(state: MTurkState, params: Params) -> Params:
    props = state.hit_type(params["HITTypeId"])
    state.check_requirements(props["QualificationRequirements"])  # a type may have become Inactive since
    return _create_hit(state, params, params["HITTypeId"], props)


# --- changing -------------------------------------------------------------------------


def create_additional_assignments_for_hit(state: MTurkState, params: Params) -> Params:
    state.extend_hit(params["HITId"], params["NumberOfAdditionalAssignments"], params.get("UniqueRequestToken"))
    return {}


def update_expiration_for_hit(state: MTurkState, params: Params) -> Params:
    state.update_expiration(params["HITId"], from_ts(params["ExpireAt"]))
    return {}


def update_hit_review_status(state: MTurkState, params: Params) -> Params:
    state.set_review_status(params["HITId"], bool(params.get("Revert")))
    return {}


def update_hit_type_of_hit(state: MTurkState, params: Params) -> Params:
    state.change_hit_type(params["HITId"], params["HITTypeId"])
    return {}


def delete_hit(state: MTurkState, params: Params) -> Params:
    state.delete_hit(params["HITId"])
    return {}


# --- notifications --------------------------------------------------------------------


def update_notification_settings(state: MTurkState, params: Params) -> Params:
    state.update_notification_settings(params["HITTypeId"], params.get("Notification"), params.get("Active"))
    return {}


def send_test_event_notification(state: MTurkState, params: Params) -> Params:
    """Checked like UpdateNotificationSettings' specification (Ping allowed), then recorded
    in `state.test_events`: the emulator delivers nothing."""
    state.check_notification(params["Notification"], test=True)
    state.test_events.append(SentTestEvent(params["Notification"], params["TestEventType"], state.now()))
    return {}


OPERATIONS: dict[str, Handler] = {
    "GetHIT": get_hit,
    "ListHITs": list_hits,
    "ListHITsForQualificationType": list_hits_for_qualification_type,
    "ListReviewableHITs": list_reviewable_hits,
    "ListReviewPolicyResultsForHIT": list_review_policy_results_for_hit,
    "CreateHIT": create_hit,
    "CreateHITType": create_hit_type,
    "CreateHITWithHITType": create_hit_with_hit_type,
    "CreateAdditionalAssignmentsForHIT": create_additional_assignments_for_hit,
    "UpdateExpirationForHIT": update_expiration_for_hit,
    "UpdateHITReviewStatus": update_hit_review_status,
    "UpdateHITTypeOfHIT": update_hit_type_of_hit,
    "DeleteHIT": delete_hit,
    "UpdateNotificationSettings": update_notification_settings,
    "SendTestEventNotification": send_test_event_notification,
}
