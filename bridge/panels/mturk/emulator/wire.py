"""Between the emulator's records and MTurk's JSON: timestamps, money, pagination and the
shapes of HIT, Assignment, QualificationType, Qualification and QualificationRequest."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from bridge.panels.mturk.emulator.records import (
    AssignmentRecord,
    GrantRecord,
    HitRecord,
    QualificationRequestRecord,
    QualificationTypeRecord,
)
from bridge.panels.mturk.emulator.state import MTurkState

DEFAULT_PAGE_SIZE = 10

Params = dict[str, Any]
Handler = Callable[[MTurkState, Params], Params]


def ts(value: datetime | None) -> float | None:
    return None if value is None else round(value.timestamp(), 3)


def from_ts(value: float | int | str) -> datetime:
    """A request timestamp: epoch seconds (what boto3 sends) or an ISO 8601 string."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return datetime.fromtimestamp(float(value), timezone.utc)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(value, timezone.utc)


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def drop_none(d: Params) -> Params:
    return {k: v for k, v in d.items() if v is not None}


def range_error(state: MTurkState, member: str, value: int, low: int, high: int) -> None:
    """A ValidationException for a documented range the model does not carry."""
    if not low <= value <= high:
        bound = f"greater than or equal to {low}" if value < low else f"less than or equal to {high}"
        raise state.validation_error(value, member, f"Member must have value {bound}")


def paginate(state: MTurkState, params: Params, items: Sequence[Any], query: str) -> tuple[Sequence[Any], Params]:
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


def hit_json(state: MTurkState, hit: HitRecord) -> Params:
    available, completed = state.hit_counts(hit)
    return drop_none({
        "HITId": hit.hit_id,
        "HITTypeId": hit.hit_type_id,
        "HITGroupId": hit.hit_type_id,
        "HITLayoutId": hit.hit_layout_id,
        "CreationTime": ts(hit.creation_time),
        "Title": hit.title,
        "Description": hit.description,
        "Question": hit.question,
        "Keywords": hit.keywords,
        "HITStatus": state.hit_status(hit),
        "MaxAssignments": hit.max_assignments,
        "Reward": money(hit.reward),
        "AutoApprovalDelayInSeconds": hit.auto_approval_delay_seconds,
        "Expiration": ts(hit.expiration),
        "AssignmentDurationInSeconds": hit.assignment_duration_seconds,
        "RequesterAnnotation": hit.requester_annotation,
        "QualificationRequirements": hit.qualification_requirements,
        "HITReviewStatus": hit.review_status,
        "NumberOfAssignmentsPending": 0,
        "NumberOfAssignmentsAvailable": available,
        "NumberOfAssignmentsCompleted": completed,
    })


def assignment_json(a: AssignmentRecord) -> Params:
    return drop_none({
        "AssignmentId": a.assignment_id,
        "WorkerId": a.worker_id,
        "HITId": a.hit_id,
        "AssignmentStatus": a.status,
        "AutoApprovalTime": ts(a.auto_approval_time) if a.status == "Submitted" else None,
        "AcceptTime": ts(a.accept_time),
        "SubmitTime": ts(a.submit_time),
        "ApprovalTime": ts(a.approval_time),
        "RejectionTime": ts(a.rejection_time),
        "Deadline": ts(a.deadline),
        "Answer": a.answer,
        "RequesterFeedback": a.requester_feedback,
    })


def qualification_type_json(qt: QualificationTypeRecord) -> Params:
    return drop_none({
        "QualificationTypeId": qt.qualification_type_id,
        "CreationTime": ts(qt.creation_time),
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
        "GrantTime": ts(g.grant_time),
        "IntegerValue": g.integer_value,
        "Status": g.status,
    }


def request_json(r: QualificationRequestRecord) -> Params:
    return drop_none({
        "QualificationRequestId": r.request_id,
        "QualificationTypeId": r.qualification_type_id,
        "WorkerId": r.worker_id,
        "Test": r.test,
        "Answer": r.answer,
        "SubmitTime": ts(r.submit_time),
    })
