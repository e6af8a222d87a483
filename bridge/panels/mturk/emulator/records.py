"""What the MTurk emulator remembers, record by record, and the small rules they share.

Domain terms only (Decimal money, aware UTC datetimes); `wire` turns them into JSON.
`state` holds them behind one lock and applies the server rules.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from xml.sax.saxutils import escape

from bridge.money import fee
from bridge.panels.mturk.api import ANSWER_NAMESPACE
from bridge.panels.mturk.words import MASTERS_QUALIFICATION_IDS  # noqa: F401 (production, sandbox; re-exported)

ZERO = Decimal("0.00")

DEFAULT_AUTO_APPROVAL_SECONDS = 30 * 24 * 3600  # MTurk's default, and its maximum
TOKEN_TTL = timedelta(hours=24)
OVERRIDE_WINDOW = timedelta(days=30)

# Characters XML 1.0 cannot carry at all; dropped from seeded answers.
_XML_ILLEGAL = {c: None for c in [*range(0, 9), 11, 12, *range(14, 32)]}

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def starting_at(instant: datetime) -> Clock:
    """A clock that reads `instant` now and then advances with real time (a naive
    `instant` is UTC): the emulator runs "as of" that moment, e.g. a batch's own day."""
    instant = instant if instant.tzinfo else instant.replace(tzinfo=timezone.utc)
    started = time.monotonic()
    return lambda: instant + timedelta(seconds=time.monotonic() - started)


def reward_fee(reward: Decimal, max_assignments: int, masters: bool = False) -> Decimal:
    """MTurk's commission on one assignment's reward (the project's one fee rule)."""
    return fee(reward, is_reward=True, max_assignments=max_assignments, masters=masters)


def bonus_fee(amount: Decimal) -> Decimal:
    """MTurk's commission on one bonus."""
    return fee(amount, is_reward=False, max_assignments=None)


def answers_xml(answers: Mapping[str, str]) -> str:
    """A QuestionFormAnswers document with one FreeText answer per field."""
    parts = [f'<?xml version="1.0" encoding="UTF-8" standalone="no"?><QuestionFormAnswers xmlns="{ANSWER_NAMESPACE}">']
    for name, value in answers.items():
        name = escape(str(name).translate(_XML_ILLEGAL))
        # A bare \r would be read back as \n (XML line-end normalisation): keep it as a reference.
        value = escape("" if value is None else str(value).translate(_XML_ILLEGAL), {"\r": "&#13;"})
        parts.append(f"<Answer><QuestionIdentifier>{name}</QuestionIdentifier><FreeText>{value}</FreeText></Answer>")
    parts.append("</QuestionFormAnswers>")
    return "".join(parts)


_ID_ALPHABET = string.ascii_uppercase + string.digits


def new_id(length: int = 30, first: str = "3") -> str:
    """An id shaped like MTurk's (30 upper-case letters and digits)."""
    return first + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length - 1))


class ApiError(Exception):
    """An error answer: `error_type` becomes `__type` in the JSON body."""

    def __init__(self, error_type: str, message: str, status: int = 400, turk_code: str | None = None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status
        self.turk_code = turk_code

    def body(self) -> dict[str, str]:
        out = {"__type": self.error_type, "Message": self.message}
        if self.turk_code:
            out["TurkErrorCode"] = self.turk_code
        return out


@dataclass
class HitRecord:
    hit_id: str
    hit_type_id: str
    title: str
    description: str
    keywords: str
    reward: Decimal
    max_assignments: int
    auto_approval_delay_seconds: int
    assignment_duration_seconds: int
    creation_time: datetime
    expiration: datetime | None
    question: str | None = None
    requester_annotation: str | None = None
    hit_layout_id: str | None = None
    qualification_requirements: list[dict] = field(default_factory=list)
    review_status: str = "NotReviewed"  # HITReviewStatus; nothing here changes it
    reviewing: bool = False  # UpdateHITReviewStatus moved it from Reviewable to Reviewing
    deleted: bool = False  # DeleteHIT: Disposed
    assignment_review_policy: dict | None = None
    hit_review_policy: dict | None = None

    def type_properties(self) -> dict:
        """The HIT-type part, as CreateHITWithHITType reuses it."""
        return {
            "Title": self.title,
            "Description": self.description,
            "Keywords": self.keywords,
            "Reward": f"{self.reward:.2f}",
            "AssignmentDurationInSeconds": self.assignment_duration_seconds,
            "AutoApprovalDelayInSeconds": self.auto_approval_delay_seconds,
            "QualificationRequirements": self.qualification_requirements,
        }

    def take_type(self, hit_type_id: str, props: dict) -> None:
        """Take on the properties of another HIT type (UpdateHITTypeOfHIT)."""
        self.hit_type_id = hit_type_id
        self.title, self.description, self.keywords = props["Title"], props["Description"], props["Keywords"]
        self.reward = Decimal(props["Reward"])
        self.assignment_duration_seconds = props["AssignmentDurationInSeconds"]
        self.auto_approval_delay_seconds = props["AutoApprovalDelayInSeconds"]
        self.qualification_requirements = list(props["QualificationRequirements"])

    @property
    def masters(self) -> bool:
        return any(q.get("QualificationTypeId") in MASTERS_QUALIFICATION_IDS for q in self.qualification_requirements)


@dataclass
class AssignmentRecord:
    assignment_id: str
    worker_id: str
    hit_id: str
    status: str
    accept_time: datetime | None
    submit_time: datetime | None
    auto_approval_time: datetime | None
    approval_time: datetime | None = None
    rejection_time: datetime | None = None
    deadline: datetime | None = None
    answer: str = ""
    requester_feedback: str | None = None


@dataclass(frozen=True)
class BonusRecord:
    worker_id: str
    assignment_id: str
    hit_id: str
    amount: Decimal
    fee: Decimal
    reason: str
    grant_time: datetime
    token: str | None


@dataclass
class QualificationTypeRecord:
    qualification_type_id: str
    name: str
    description: str
    status: str
    creation_time: datetime
    keywords: str | None = None
    test: str | None = None
    answer_key: str | None = None
    test_duration_seconds: int | None = None
    retry_delay_seconds: int | None = None
    auto_granted: bool = False
    auto_granted_value: int | None = None
    deleted_at: datetime | None = None  # DeleteQualificationType


@dataclass
class GrantRecord:
    qualification_type_id: str
    worker_id: str
    integer_value: int
    grant_time: datetime
    status: str  # Granted | Revoked


@dataclass
class QualificationRequestRecord:
    request_id: str
    qualification_type_id: str
    worker_id: str
    submit_time: datetime
    test: str | None = None
    answer: str | None = None
    status: str = "Pending"  # Pending | Approved | Rejected
    reason: str | None = None  # RejectQualificationRequest's


@dataclass(frozen=True)
class Notification:
    subject: str
    message: str
    worker_ids: tuple[str, ...]
    time: datetime


@dataclass(frozen=True)
class SentTestEvent:
    """A SendTestEventNotification the emulator would have delivered (it sends nothing)."""

    notification: dict
    event_type: str
    time: datetime
