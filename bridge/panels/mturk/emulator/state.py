"""What the MTurk emulator remembers, and the server rules that change it.

HITs, assignments, bonuses, qualification types and grants, idempotency tokens and the
account balance, behind one lock. Everything here is in domain terms (Decimal money, aware
UTC datetimes); `mturk_ops` translates to and from the JSON wire format.
"""

from __future__ import annotations

import heapq
import itertools
import secrets
import string
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from xml.sax.saxutils import escape

from bridge.panels.mturk.emulator.validate import validation_message, violation
from bridge.panels.mturk.words import ASSIGNMENT_STATUSES
from bridge.money import fee, to_cents
from bridge.panels.mturk.api import ANSWER_NAMESPACE

ZERO = Decimal("0.00")
# Masters qualification type ids (production, sandbox).
MASTERS_QUALIFICATION_IDS = frozenset({"2F1QJWKUDD8XADTFD2Q0G6UTO95ALH", "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6"})

DEFAULT_AUTO_APPROVAL_SECONDS = 30 * 24 * 3600  # MTurk's default, and its maximum
TOKEN_TTL = timedelta(hours=24)
OVERRIDE_WINDOW = timedelta(days=30)
FEEDBACK_MAX = 1024
# RejectAssignment/ApproveAssignment feedback: ASCII 0-8, 11, 12 and 14-31 are refused.
_FORBIDDEN_FEEDBACK = frozenset(chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32)])

# Characters XML 1.0 cannot carry at all; dropped from seeded answers.
_XML_ILLEGAL = {c: None for c in [*range(0, 9), 11, 12, *range(14, 32)]}


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


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
    review_status: str = "NotReviewed"

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


@dataclass
class GrantRecord:
    qualification_type_id: str
    worker_id: str
    integer_value: int
    grant_time: datetime
    status: str  # Granted | Revoked


@dataclass(frozen=True)
class Notification:
    subject: str
    message: str
    worker_ids: tuple[str, ...]
    time: datetime


class MTurkState:
    """The emulated account. Callers hold `lock` around anything that reads or writes."""

    def __init__(self, balance: Decimal = Decimal("10000.00"), clock: Clock | None = None):
        self.lock = threading.RLock()
        self.clock: Clock = clock or utc_now
        self.balance = to_cents(Decimal(balance))
        self.fees_charged = ZERO
        self.rewards_paid = ZERO
        self.hits: dict[str, HitRecord] = {}
        self.hit_types: dict[str, dict] = {}  # HITTypeId -> its properties
        self.assignments: dict[str, AssignmentRecord] = {}
        self.assignments_by_hit: dict[str, list[str]] = {}
        self.bonuses: list[BonusRecord] = []
        self.qualification_types: dict[str, QualificationTypeRecord] = {}
        self.grants: dict[tuple[str, str], GrantRecord] = {}
        self.notifications: list[Notification] = []
        self._tokens: dict[tuple[str, str], datetime] = {}
        # (auto-approval time, tie-breaker, assignment id) of Submitted assignments.
        self._due: list[tuple[datetime, int, str]] = []
        self._seq = itertools.count()

    # --- time and errors -----------------------------------------------------------

    def now(self) -> datetime:
        now = self.clock()
        return now if now.tzinfo else now.replace(tzinfo=timezone.utc)

    def request_error(self, message: str, turk_code: str) -> ApiError:
        """A RequestError whose message ends with the server's epoch-ms stamp, as MTurk's do."""
        stamp = int(self.now().timestamp() * 1000)
        return ApiError("RequestError", f"{message} ({stamp})", 400, turk_code)

    # --- lookups ---------------------------------------------------------------------

    def hit(self, hit_id: str) -> HitRecord:
        hit = self.hits.get(hit_id)
        if hit is None:
            raise self.request_error(f"Hit {hit_id} does not exist.", "AWS.MechanicalTurk.HITDoesNotExist")
        return hit

    def assignment(self, assignment_id: str) -> AssignmentRecord:
        a = self.assignments.get(assignment_id)
        if a is None:
            raise self.request_error(
                f"Assignment [{assignment_id}] does not exist.", "AWS.MechanicalTurk.AssignmentDoesNotExist"
            )
        return a

    def qualification_type(self, qualification_type_id: str) -> QualificationTypeRecord:
        qt = self.qualification_types.get(qualification_type_id)
        if qt is None:
            raise self.request_error(
                f"QualificationType {qualification_type_id} does not exist.",
                "AWS.MechanicalTurk.QualificationTypeDoesNotExist",
            )
        return qt

    # --- idempotency -----------------------------------------------------------------

    def check_token(self, scope: str, token: str | None, turk_code: str) -> None:
        """Refuse a token seen in `scope` during the last 24 hours (emulator clock)."""
        if not token:
            return
        seen = self._tokens.get((scope, token))
        if seen is not None and self.now() - seen < TOKEN_TTL:
            raise self.request_error(f'The idempotency token "{token}" has already been processed.', turk_code)

    def remember_token(self, scope: str, token: str | None) -> None:
        if token:
            self._tokens[(scope, token)] = self.now()

    # --- money -----------------------------------------------------------------------

    def _charge(self, amount: Decimal, fee: Decimal, *, force: bool = False) -> None:
        total = amount + fee
        if not force and total > self.balance:
            raise self.request_error(
                "This Requester has insufficient funds in their account to complete this transaction. "
                "Please visit https://requester.mturk.com/account to purchase more.",
                "AWS.MechanicalTurk.InsufficientFunds",
            )
        self.balance -= total
        self.fees_charged += fee

    def _pay_reward(self, a: AssignmentRecord, *, force: bool = False) -> None:
        hit = self.hits[a.hit_id]
        fee = reward_fee(hit.reward, hit.max_assignments, hit.masters)
        self._charge(hit.reward, fee, force=force)
        self.rewards_paid += hit.reward

    # --- auto-approval ---------------------------------------------------------------

    def _schedule(self, a: AssignmentRecord) -> None:
        if a.status == "Submitted" and a.auto_approval_time is not None:
            heapq.heappush(self._due, (a.auto_approval_time, next(self._seq), a.assignment_id))

    def sweep(self) -> None:
        """Auto-approve every Submitted assignment whose AutoApprovalTime has passed.

        Called before every operation, so auto-approval is lazy but never observable late.
        The worker must be paid whatever the balance, so this charge cannot be refused and
        is the one way the balance can go below zero.
        """
        now = self.now()
        while self._due and self._due[0][0] <= now:
            due, _, assignment_id = heapq.heappop(self._due)
            a = self.assignments.get(assignment_id)
            if a is None or a.status != "Submitted" or a.auto_approval_time != due:
                continue  # decided meanwhile, or re-armed with another time
            self._pay_reward(a, force=True)
            a.status = "Approved"
            a.approval_time = due

    # --- assignments -----------------------------------------------------------------

    def _status_error(self) -> ApiError:
        return self.request_error(
            "This operation can be called with a status of: Submitted", "AWS.MechanicalTurk.InvalidAssignmentState"
        )

    def check_feedback(self, feedback: str | None) -> None:
        if feedback is None:
            return
        if len(feedback) > FEEDBACK_MAX:
            raise ApiError("ValidationException", validation_message([
                violation(feedback, "requesterFeedback", f"Member must have length less than or equal to {FEEDBACK_MAX}")
            ]))
        if any(c in _FORBIDDEN_FEEDBACK for c in feedback):
            raise self.request_error(
                "RequesterFeedback contains characters that are not allowed "
                "(ASCII control characters other than tab, line feed and carriage return).",
                "AWS.ParameterOutOfRange",
            )

    def approve(self, assignment_id: str, feedback: str | None = None, override_rejection: bool = False) -> None:
        a = self.assignment(assignment_id)
        self.check_feedback(feedback)
        now = self.now()
        if a.status == "Rejected" and override_rejection:
            if a.submit_time is not None and now - a.submit_time > OVERRIDE_WINDOW:
                raise self.request_error(
                    "A rejection can be overridden only within 30 days of the assignment's submission.",
                    "AWS.MechanicalTurk.InvalidAssignmentState",
                )
        elif a.status != "Submitted":
            raise self._status_error()
        self._pay_reward(a)
        a.status = "Approved"
        a.approval_time = now
        a.rejection_time = None
        if feedback is not None:
            a.requester_feedback = feedback

    def reject(self, assignment_id: str, feedback: str) -> None:
        a = self.assignment(assignment_id)
        self.check_feedback(feedback)
        if a.status != "Submitted":
            raise self._status_error()
        a.status = "Rejected"
        a.rejection_time = self.now()
        a.requester_feedback = feedback

    def send_bonus(self, worker_id: str, assignment_id: str, amount: Decimal, reason: str, token: str | None) -> None:
        a = self.assignments.get(assignment_id)
        if a is None or a.worker_id != worker_id:
            raise self.request_error(
                f"Assignment [{assignment_id}] does not exist.", "AWS.MechanicalTurk.AssignmentDoesNotExist"
            )
        self.check_token("SendBonus", token, "AWS.MechanicalTurk.DuplicateRequest")  # code unconfirmed
        # Unconfirmed which statuses real MTurk accepts. Least surprise: a bonus may follow
        # the approval in the same run, or precede it (Submitted); rejected work gets none.
        if a.status == "Rejected":
            raise self.request_error(
                f"Assignment [{assignment_id}] was rejected; a bonus can be sent only for Submitted or "
                "Approved work.",
                "AWS.MechanicalTurk.InvalidAssignmentState",
            )
        if amount <= 0:
            raise self.request_error("The bonus amount must be greater than 0.", "AWS.ParameterOutOfRange")
        if not reason.strip():
            raise self.request_error("A reason for the bonus is required.", "AWS.ParameterOutOfRange")
        fee = bonus_fee(amount)
        self._charge(amount, fee)
        now = self.now()
        self.bonuses.append(BonusRecord(worker_id, assignment_id, a.hit_id, to_cents(amount), fee, reason, now, token))
        self.remember_token("SendBonus", token)

    # --- qualifications --------------------------------------------------------------

    def create_qualification_type(self, name: str, description: str, status: str, **extra) -> QualificationTypeRecord:
        if any(qt.name == name for qt in self.qualification_types.values()):
            raise self.request_error(
                "You have already created a QualificationType with this name. A QualificationType's name must "
                "be unique among all of the QualificationTypes created by the same user.",
                "AWS.MechanicalTurk.QualificationTypeAlreadyExists",
            )
        qt = QualificationTypeRecord(new_id(), name, description, status, self.now(), **extra)
        self.qualification_types[qt.qualification_type_id] = qt
        return qt

    def grant(self, qualification_type_id: str, worker_id: str, value: int) -> None:
        # Any well-formed worker id is accepted (unconfirmed: real MTurk may refuse a worker
        # it has never seen). Re-granting a revoked qualification grants it again.
        self.qualification_type(qualification_type_id)
        key = (qualification_type_id, worker_id)
        self.grants[key] = GrantRecord(qualification_type_id, worker_id, value, self.now(), "Granted")

    def revoke(self, qualification_type_id: str, worker_id: str) -> None:
        self.qualification_type(qualification_type_id)
        g = self.grants.get((qualification_type_id, worker_id))
        if g is None or g.status != "Granted":
            raise self.request_error(
                "You requested a Qualification that does not exist.", "AWS.MechanicalTurk.QualificationDoesNotExist"
            )
        g.status = "Revoked"

    def worker_reachable(self, worker_id: str) -> bool:
        """NotifyWorkers reaches only workers whose work this requester approved or rejected."""
        return any(a.worker_id == worker_id and a.status in ("Approved", "Rejected") for a in self.assignments.values())

    # --- building state (seeding, CreateHIT) -----------------------------------------

    def add_hit(self, hit: HitRecord) -> HitRecord:
        if hit.hit_id in self.hits:
            raise ValueError(f"HIT {hit.hit_id} already exists")
        self.hits[hit.hit_id] = hit
        self.assignments_by_hit.setdefault(hit.hit_id, [])
        self.hit_types.setdefault(hit.hit_type_id, hit.type_properties())
        return hit

    def add_assignment(self, a: AssignmentRecord) -> AssignmentRecord:
        if a.hit_id not in self.hits:
            raise ValueError(f"HIT {a.hit_id} does not exist; add it first")
        if a.assignment_id in self.assignments:
            raise ValueError(f"assignment {a.assignment_id} already exists")
        if a.status not in ASSIGNMENT_STATUSES:
            raise ValueError(f"status must be one of {ASSIGNMENT_STATUSES}, not {a.status!r}")
        self.assignments[a.assignment_id] = a
        self.assignments_by_hit[a.hit_id].append(a.assignment_id)
        self._schedule(a)
        return a

    def hit_counts(self, hit: HitRecord) -> tuple[int, int]:
        """(assignments available, assignments completed i.e. approved or rejected)."""
        ids = self.assignments_by_hit.get(hit.hit_id, [])
        completed = sum(1 for i in ids if self.assignments[i].status != "Submitted")
        return max(0, hit.max_assignments - len(ids)), completed
