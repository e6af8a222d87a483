"""The Prolific emulator's vocabulary: statuses and limits, the error answers, ids, times,
money conversions, and the records its state is made of.

Money in records is a `Decimal` of minor units (pence, cents), as on the wire. Sources are
named as in /work/shared/prolific/FACTS.md ("FACTS 1.6" = section 1.6); "unconfirmed" marks a
choice made without one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

Clock = Callable[[], datetime]
Monotonic = Callable[[], float]

ZERO = Decimal(0)
MINOR_PER_MAJOR = Decimal(100)  # GBP and USD, the two currencies Prolific studies pay in (SPEC 7)
CURRENCIES = ("GBP", "USD")
DEFAULT_FEE_RATE = Decimal(1) / Decimal(3)  # 33.3% academic fee; real study JSON says 0.333333 (FACTS 2)
DEFAULT_ASYNC_DELAY = 0.2

# Submission statuses, with spaces (FACTS 1.5). The list schema lacks the last two.
LIST_STATUSES = ("RESERVED", "ACTIVE", "TIMED-OUT", "AWAITING REVIEW", "APPROVED", "RETURNED", "REJECTED",
                 "SCREENED OUT")
STATUSES = LIST_STATUSES + ("PARTIALLY APPROVED", "UNKNOWN")
STUDY_STATUSES = ("UNPUBLISHED", "SCHEDULED", "PUBLISHING", "ACTIVE", "AWAITING REVIEW", "PAUSED", "COMPLETED")
COMPLETED_STATUSES = frozenset({"AWAITING REVIEW", "APPROVED", "REJECTED", "PARTIALLY APPROVED"})

REJECTION_CATEGORIES = ("TOO_QUICKLY", "TOO_SLOWLY", "FAILED_INSTRUCTIONS", "INCOMP_LONGITUDINAL", "FAILED_CHECK",
                        "LOW_EFFORT", "MALINGERING", "NO_CODE", "BAD_CODE", "NO_DATA", "UNSUPP_DEVICE", "OTHER")
REJECTION_MESSAGE_MIN = 100  # FACTS 1.6
BULK_APPROVE_MAX = 1000  # "we recommend a maximum of 1,000" (FACTS 1.7); enforcing it is unconfirmed

REASONS = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
           429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


class ApiError(Exception):
    """An error answer in Prolific's wrapped envelope (FACTS 1.2). `error_code` values are
    unconfirmed: the emulator repeats the HTTP status."""

    def __init__(self, status: int, detail: str | list | dict, title: str | None = None):
        super().__init__(str(detail))
        self.status, self.detail, self.title = status, detail, title or REASONS.get(status, "Error")

    def body(self) -> dict:
        return {"error": {"status": self.status, "error_code": self.status, "title": self.title,
                          "detail": self.detail}}


class NotFound(ApiError):
    """404 as Django REST framework answers it, unwrapped (FACTS 1.2)."""

    def __init__(self, detail: str = "Not found."):
        super().__init__(404, detail)

    def body(self) -> dict:
        return {"detail": self.detail}


def bad_request(field_name: str | None, message: str) -> ApiError:
    """400 naming the field DRF-style (`{field: [message]}`), or a plain message."""
    return ApiError(400, {field_name: [message]} if field_name else message)


def new_id() -> str:
    """An id shaped like Prolific's: 24 lowercase hex characters (FACTS 1.1)."""
    return secrets.token_hex(12)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 UTC with microseconds and `Z`, as Prolific writes times (FACTS 3; DAL example JSON)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_minor(major: Decimal | str | int) -> Decimal:
    """Major units (1.50) -> minor units (150), half-up to the whole minor unit."""
    return (Decimal(str(major)) * MINOR_PER_MAJOR).quantize(Decimal(1), rounding=ROUND_HALF_UP)


def to_major(minor: Decimal) -> Decimal:
    return (Decimal(minor) / MINOR_PER_MAJOR).quantize(Decimal("0.01"))


@dataclass
class StudyRecord:
    id: str
    name: str
    internal_name: str | None
    description: str
    reward: Decimal  # minor units
    total_available_places: int
    estimated_completion_time: int  # minutes
    maximum_allowed_time: int  # minutes
    completion_codes: list[dict]
    status: str
    date_created: datetime
    published_at: datetime | None
    external_study_url: str = "https://example.org/survey?PROLIFIC_PID={{%PROLIFIC_PID%}}"


@dataclass
class SubmissionRecord:
    id: str
    study_id: str
    participant_id: str
    status: str
    started_at: datetime
    completed_at: datetime | None
    entered_code: str | None
    time_taken: int | None  # seconds
    reward: Decimal  # minor units
    ip: str | None = None
    bonus_payments: list[Decimal] = field(default_factory=list)  # minor units, one per payment made
    return_requested: datetime | None = None
    star_awarded: bool = False
    strata: dict = field(default_factory=dict)
    rejection_message: str | None = None  # as sent with REJECT, for inspection
    rejection_category: str | None = None


@dataclass(frozen=True)
class BonusItem:
    submission_id: str
    amount: Decimal  # minor units
    fee: Decimal
    vat: Decimal


@dataclass
class BulkBonusRecord:
    id: str
    study_id: str
    items: list[BonusItem]
    created_at: datetime
    pay_calls: int = 0  # every call pays again (FACTS 1.8)
    payments_made: int = 0

    @property
    def amount(self) -> Decimal:
        return sum((i.amount for i in self.items), ZERO)

    @property
    def fees(self) -> Decimal:
        return sum((i.fee for i in self.items), ZERO)

    @property
    def vat(self) -> Decimal:
        return sum((i.vat for i in self.items), ZERO)

    @property
    def total_amount(self) -> Decimal:
        return self.amount + self.fees + self.vat


@dataclass
class GroupRecord:
    id: str
    name: str
    workspace_id: str | None
    organisation_id: str | None
    description: str
    members: dict[str, datetime] = field(default_factory=dict)  # participant id -> when added, in order
    is_deleted: bool = False


@dataclass(frozen=True)
class MessageRecord:
    id: str
    sender_id: str
    recipient_id: str
    body: str
    study_id: str | None
    sent_at: datetime
    channel_id: str


@dataclass
class Pending:
    due: float  # monotonic seconds
    seq: int
    kind: str  # "approve" | "pay"
    ref: str  # submission id | bulk bonus id
    reserved: Decimal  # minor units held back from the available balance meanwhile
