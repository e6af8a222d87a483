"""Typed tables and the Plan: the data that flows between the layers.

Sources produce `MTurkTable` and `QualtricsTable`; `match` pairs them; `rules` turns the
matches plus the config into a `Plan`, which `report` writes and `apply` executes.
IDs and codes are `str`, money is `Decimal`, times are timezone-aware UTC `datetime`s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


# --- MTurk side -------------------------------------------------------------------------

ASSIGNMENT_STATUSES = ("Submitted", "Approved", "Rejected")


@dataclass(frozen=True, slots=True)
class Hit:
    hit_id: str
    hit_type_id: str = ""
    title: str = ""
    description: str = ""
    keywords: str = ""
    reward: Decimal | None = None
    max_assignments: int | None = None
    assignment_duration_seconds: int | None = None
    auto_approval_delay_seconds: int | None = None
    creation_time: datetime | None = None
    expiration: datetime | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    assignment_id: str
    worker_id: str
    hit_id: str
    status: str  # Submitted | Approved | Rejected
    accept_time: datetime | None = None
    submit_time: datetime | None = None
    auto_approval_time: datetime | None = None
    approval_time: datetime | None = None
    rejection_time: datetime | None = None
    requester_feedback: str = ""
    work_time_seconds: int | None = None
    # Answer.<field> values without the prefix, as text.
    answers: dict[str, str] = field(default_factory=dict)
    # Where it came from: 1-based line of the CSV file (0 when from the API).
    source_row: int = 0
    # Problems found while reading that do not stop the wave (e.g. "answer_unreadable").
    flags: tuple[str, ...] = ()


@dataclass(slots=True)
class MTurkTable:
    source: str  # the file path, or a description of the API pull
    hits: dict[str, Hit]
    assignments: list[Assignment]
    answer_fields: list[str] = field(default_factory=list)


# --- Qualtrics side ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Response:
    response_id: str
    status: str  # label: "IP Address", "Survey Preview", "Survey Test", "Spam", ...
    finished: bool | None
    duration_seconds: int | None
    progress: str
    recorded_date: str
    fields: dict[str, str]  # every column, as text, by field name
    source_row: int = 0  # 1-based line of the CSV file


@dataclass(slots=True)
class QualtricsTable:
    source: str
    columns: list[str]
    responses: list[Response]
    legacy: bool = False


# --- Decisions --------------------------------------------------------------------------


class MatchKind(StrEnum):
    EXACT = "exact"
    NORMALIZED = "normalized"
    NEAR_MISS = "near_miss"
    NONE = "none"


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    REVIEW = "review"


@dataclass(slots=True)
class Match:
    """One submitted assignment and what the survey side had for it."""

    assignment: Assignment
    submitted_code: str
    kind: MatchKind
    response: Response | None = None  # the matched response (exact / normalized)
    candidate: Response | None = None  # the near-miss candidate, never paid automatically
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class AssignmentDecision:
    assignment_id: str
    worker_id: str
    hit_id: str
    status: str  # MTurk status when read
    submitted_code: str
    response_id: str
    match: MatchKind
    decision: Decision
    bonus: Decimal | None
    reasons: list[str]
    feedback: str
    notes: list[str] = field(default_factory=list)
    reward: Decimal | None = None
    auto_approval_time: datetime | None = None
    duration_seconds: int | None = None

    @property
    def sends_status_change(self) -> bool:
        """Approve/reject is sent only for work still in `Submitted`."""
        return self.status == "Submitted" and self.decision is not Decision.REVIEW


@dataclass(frozen=True, slots=True)
class UnmatchedResponse:
    response_id: str
    code: str
    worker_id: str
    finished: bool | None
    duration_seconds: int | None
    reasons: list[str]


@dataclass(frozen=True, slots=True)
class QualificationAction:
    worker_id: str
    qualification_type_id: str
    action: str  # "grant" | "revoke"
    value: int
    role: str  # "prev_worker" | "eligible_worker"


@dataclass(slots=True)
class Plan:
    wave: str
    environment: str
    now: datetime
    decisions: list[AssignmentDecision]
    unmatched_responses: list[UnmatchedResponse]
    qualifications: list[QualificationAction]
    hits: dict[str, Hit]
    warnings: list[str] = field(default_factory=list)
    bonus_reason: str = ""
    survey_responses: int = 0  # every response in the export, matched or not
