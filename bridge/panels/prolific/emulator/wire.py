"""The JSON shapes the Prolific emulator answers in, built from its state records.

Each function names the schema of /work/shared/prolific/prolific-openapi.yml it follows and
the real extra fields it adds (FACTS section named beside them). Money on the wire is in
minor units: ints where Prolific sends ints, floats in `BulkBonus` (FACTS 1.8).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from bridge.panels.prolific.emulator.records import (
    COMPLETED_STATUSES,
    STATUSES,
    BulkBonusRecord,
    GroupRecord,
    MessageRecord,
    StudyRecord,
    SubmissionRecord,
    iso,
)
from bridge.panels.prolific.emulator.state import ProlificState

# Statuses that hold one of a study's places: a rejection or return reopens it (FACTS 1.5).
_PLACE_HOLDING = frozenset({"RESERVED", "ACTIVE", "AWAITING REVIEW", "APPROVED", "PARTIALLY APPROVED"})
USER_EMAIL = "researcher@example.org"


def _int(value: Decimal) -> int:
    return int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def user(state: ProlificState) -> dict:
    """`User` {id, email} plus the account fields Prolific's CLI reads (FACTS 1.1; [CLI] MeResponse)."""
    return {
        "id": state.user_id, "email": USER_EMAIL, "first_name": "Emulated", "last_name": "Researcher",
        "name": "Emulated Researcher", "username": USER_EMAIL, "user_type": "researcher",
        "currency_code": state.currency, "balance": _int(state.balance), "available_balance": _int(state.available),
    }


def _workspace_user(state: ProlificState) -> dict:
    return {"id": state.user_id, "name": "Emulated Researcher", "email": USER_EMAIL, "roles": ["WORKSPACE_ADMIN"]}


def workspace(state: ProlificState, *, short: bool = False) -> dict:
    """`Workspace` (or `WorkspaceShort` in lists)."""
    out = {
        "id": state.workspace_id, "title": "Emulated workspace", "description": "", "owner": state.user_id,
        "users": [_workspace_user(state)], "naivety_distribution_rate": None,
    }
    if not short:
        out["projects"] = [{
            "id": state.project_id, "title": "Emulated project", "description": "", "owner": state.user_id,
            "type": "PRIVATE", "users": [_workspace_user(state)], "naivety_distribution_rate": None,
        }]
        out["wallet"] = state.organisation_id
    return out


def _breakdown(state: ProlificState, total: Decimal) -> dict:
    """Split an amount into participant funds, fees and VAT in proportion 1 : fee : VAT-on-fee.
    How Prolific splits a balance is unconfirmed; this split always sums to the amount."""
    share = 1 + state.fee_rate + state.fee_rate * state.vat_rate
    fees = _int(total * state.fee_rate / share)
    vat = _int(total * state.fee_rate * state.vat_rate / share)
    return {"rewards": _int(total) - fees - vat, "fees": fees, "vat": vat}


def balance(state: ProlificState) -> dict:
    """`WorkspaceBalance`, minor units (FACTS 1.12)."""
    return {
        "currency_code": state.currency,
        "total_balance": _int(state.balance),
        "balance_breakdown": _breakdown(state, state.balance),
        "available_balance": _int(state.available),
        "available_balance_breakdown": _breakdown(state, state.available),
    }


def _study_links(base: str, study_id: str) -> dict:
    # As in a real GET-study answer ([DAL] example JSON, FACTS 1.9).
    return {
        "self": {"href": f"{base}/api/v1/studies/{study_id}/", "title": "Current"},
        "related": {"href": f"{base}/api/v1/studies/{study_id}/submissions/", "title": "Submissions"},
    }


def _study_counts(state: ProlificState, study: StudyRecord) -> tuple[int, int, int]:
    subs = state.study_submissions(study.id)
    fee, vat = state.fee_and_vat(study.reward)
    total_cost = study.total_available_places * (study.reward + fee + vat)  # unconfirmed formula
    return sum(1 for s in subs if s.status in _PLACE_HOLDING), len(subs), _int(total_cost)


def study_short(state: ProlificState, study: StudyRecord) -> dict:
    """`StudyShort` (GET /studies/)."""
    places_taken, submissions, total_cost = _study_counts(state, study)
    return {
        "id": study.id, "name": study.name, "internal_name": study.internal_name, "status": study.status,
        "study_type": "SINGLE", "estimated_completion_time": study.estimated_completion_time,
        "total_available_places": study.total_available_places, "places_taken": places_taken,
        "number_of_submissions": submissions, "reward": _int(study.reward), "total_cost": total_cost,
        "published_at": iso(study.published_at), "publish_at": None, "date_created": iso(study.date_created),
        "is_ready_to_publish": True,
    }


def study(state: ProlificState, study: StudyRecord, base: str) -> dict:
    """`Study` plus the undocumented fields real answers carry (FACTS 1.9)."""
    places_taken, submissions, total_cost = _study_counts(state, study)
    done = [s.time_taken for s in state.study_submissions(study.id) if s.time_taken is not None
            and s.status in COMPLETED_STATUSES]
    return {
        "id": study.id, "name": study.name, "internal_name": study.internal_name,
        "description": study.description, "external_study_url": study.external_study_url,
        "prolific_id_option": "url_parameters", "completion_codes": study.completion_codes,
        "total_available_places": study.total_available_places,
        "estimated_completion_time": study.estimated_completion_time,
        "maximum_allowed_time": study.maximum_allowed_time, "reward": _int(study.reward),
        "device_compatibility": ["desktop", "tablet", "mobile"], "peripheral_requirements": [], "filters": [],
        "filter_set_id": None, "project": state.project_id,
        "submissions_config": {"max_submissions_per_participant": 1, "max_concurrent_submissions": -1,
                               "auto_rejection_categories": []},
        "metadata": None, "status": study.status, "is_ready_to_publish": True,
        # Real, undocumented (FACTS 1.9):
        "study_type": "SINGLE", "workspace": state.workspace_id, "currency_code": state.currency,
        "presentment_currency_code": state.currency,
        "fees_percentage": float(round(state.fee_rate, 6)), "vat_percentage": float(round(state.vat_rate, 6)),
        "places_taken": places_taken, "number_of_submissions": submissions, "total_cost": total_cost,
        "average_time_taken_seconds": round(sum(done) / len(done)) if done else 0,
        "published_at": iso(study.published_at), "date_created": iso(study.date_created),
        "_links": _study_links(base, study.id),
    }


def has_siblings(state: ProlificState, sub: SubmissionRecord) -> bool:
    """Whether the participant has another submission in the study (meaning unconfirmed)."""
    return any(s.participant_id == sub.participant_id and s.id != sub.id
               for s in state.study_submissions(sub.study_id))


def submission_short(state: ProlificState, sub: SubmissionRecord) -> dict:
    """`SubmissionShort` (list item) plus the real extra fields (FACTS 1.5)."""
    return {
        "id": sub.id, "participant_id": sub.participant_id, "status": sub.status,
        "started_at": iso(sub.started_at), "completed_at": iso(sub.completed_at),
        "has_siblings": has_siblings(state, sub), "study_code": sub.entered_code,
        "return_requested": iso(sub.return_requested),
        # Real, undocumented ([CLI] model/submission.go; [MEPH]). is_complete's rule is unconfirmed.
        "is_complete": sub.status in COMPLETED_STATUSES, "time_taken": sub.time_taken,
        "reward": _int(sub.reward), "bonus_payments": [_int(b) for b in sub.bonus_payments],
        "star_awarded": sub.star_awarded, "strata": dict(sub.strata), "ip": sub.ip,
    }


def submission_detail(sub: SubmissionRecord) -> dict:
    """`SubmissionDetail` (GET /submissions/{id}/): `participant`, `entered_code` (FACTS 1.5)."""
    return {
        "id": sub.id, "study_id": sub.study_id, "participant": sub.participant_id,
        "started_at": iso(sub.started_at), "completed_at": iso(sub.completed_at),
        "entered_code": sub.entered_code, "status": sub.status, "parent_study_id": None,
        "bonus_payments": [_int(b) for b in sub.bonus_payments], "return_requested": iso(sub.return_requested),
    }


def submission(sub: SubmissionRecord) -> dict:
    """`Submission`, the answer to a transition (FACTS 1.6)."""
    return {
        "id": sub.id, "study_id": sub.study_id, "participant": sub.participant_id,
        "started_at": iso(sub.started_at), "completed_at": iso(sub.completed_at),
        "entered_code": sub.entered_code, "status": sub.status,
    }


def counts(state: ProlificState, study_id: str) -> dict:
    """`SubmissionsCountResponse`: every status and TOTAL (FACTS 1.5)."""
    out = {status: 0 for status in STATUSES if status != "UNKNOWN"}
    for sub in state.study_submissions(study_id):
        out[sub.status] = out.get(sub.status, 0) + 1
    out["TOTAL"] = sum(out.values())
    return out


def study_cost(state: ProlificState, study_id: str, base: str, *, projected: bool = False) -> dict:
    """`StudyTotalCost`: {rewards, bonuses}, each a `StudyCostBreakdown` of
    `AmountAndCurrency` (minor units: "£1 will return 100"), with `_links` (FACTS 1.9)."""
    out: dict = {}
    for key, (amount, fees, tax) in state.study_cost(study_id, projected=projected).items():
        out[key] = {"rewards": {"amount": float(amount), "currency": state.currency},
                    "fees": {"amount": float(fees), "currency": state.currency},
                    "tax": {"amount": float(tax), "currency": state.currency}}
    out["_links"] = {"self": {"href": f"{base}/api/v1/studies/{study_id}/cost/", "title": "Current"}}
    return out


def bulk_bonus(bonus: BulkBonusRecord) -> dict:
    """`BulkBonus`, minor units as floats (FACTS 1.8)."""
    return {"id": bonus.id, "study": bonus.study_id, "amount": float(bonus.amount), "fees": float(bonus.fees),
            "vat": float(bonus.vat), "total_amount": float(bonus.total_amount)}


def group(g: GroupRecord) -> dict:
    """`ParticipantGroup` (FACTS 1.10)."""
    return {
        "id": g.id, "name": g.name, "project_id": None, "workspace_id": g.workspace_id,
        "organisation_id": g.organisation_id, "description": g.description,
        "participant_count": len(g.members), "is_deleted": g.is_deleted, "feeder_studies": [],
    }


def memberships(g: GroupRecord) -> dict:
    """`ParticipantGroupMembershipListResponse` (FACTS 1.10)."""
    return {"results": [{"participant_id": pid, "datetime_created": iso(when)} for pid, when in g.members.items()]}


def message(m: MessageRecord) -> dict:
    """`Message` (FACTS 1.11)."""
    data = {"study_id": m.study_id} if m.study_id else {}
    return {"id": m.id, "sender_id": m.sender_id, "body": m.body, "sent_at": iso(m.sent_at), "type": "message",
            "channel_id": m.channel_id, "data": data}
