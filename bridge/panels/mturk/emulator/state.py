"""The emulated MTurk account, and the server rules that change it.

HITs, assignments, bonuses, worker blocks, qualification types, grants and requests,
idempotency tokens and the balance, behind one lock. The rules for HITs and HIT types
live in `state_hits`, those for qualifications in `state_quals`; the records in `records`
(re-exported here). `ops_*` translate to and from the JSON wire format.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from datetime import datetime, timezone
from decimal import Decimal

from bridge.money import to_cents
from bridge.panels.mturk.emulator.records import (  # noqa: F401  (re-exported: the emulator's vocabulary)
    DEFAULT_AUTO_APPROVAL_SECONDS,
    MASTERS_QUALIFICATION_IDS,
    OVERRIDE_WINDOW,
    TOKEN_TTL,
    ZERO,
    ApiError,
    AssignmentRecord,
    BonusRecord,
    Clock,
    GrantRecord,
    HitRecord,
    Notification,
    QualificationRequestRecord,
    QualificationTypeRecord,
    SentTestEvent,
    answers_xml,
    bonus_fee,
    new_id,
    reward_fee,
    starting_at,
    utc_now,
)
from bridge.panels.mturk.emulator.state_hits import HitRules
from bridge.panels.mturk.emulator.state_quals import QualificationRules
from bridge.panels.mturk.emulator.validate import validation_message, violation
from bridge.panels.mturk.words import ASSIGNMENT_STATUSES

FEEDBACK_MAX = 1024
# RejectAssignment/ApproveAssignment feedback: ASCII 0-8, 11, 12 and 14-31 are refused.
_FORBIDDEN_FEEDBACK = frozenset(chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32)])
MAX_WORKER_BLOCKS = 100_000  # "You can block up to 100,000 Workers." [model, CreateWorkerBlock]


class MTurkState(HitRules, QualificationRules):
    """The emulated account. Callers hold `lock` around anything that reads or writes."""

    def __init__(self, balance: Decimal = Decimal("10000.00"), clock: Clock | None = None):
        self.lock = threading.RLock()
        self.clock: Clock = clock or utc_now
        self.balance = to_cents(Decimal(balance))
        self.fees_charged = ZERO
        self.rewards_paid = ZERO
        self.hits: dict[str, HitRecord] = {}
        self.hit_types: dict[str, dict] = {}  # HITTypeId -> its properties
        self.deleted_hit_types: set[str] = set()  # by DeleteQualificationType
        self.notification_settings: dict[str, dict] = {}  # HITTypeId -> {"Notification": ..., "Active": ...}
        self.test_events: list[SentTestEvent] = []
        self.assignments: dict[str, AssignmentRecord] = {}
        self.assignments_by_hit: dict[str, list[str]] = {}
        self.bonuses: list[BonusRecord] = []
        self.blocks: dict[str, str] = {}  # WorkerId -> reason, in the order blocked
        self.qualification_types: dict[str, QualificationTypeRecord] = {}
        self.grants: dict[tuple[str, str], GrantRecord] = {}
        self.qualification_requests: dict[str, QualificationRequestRecord] = {}
        self.notifications: list[Notification] = []
        self._tokens: dict[tuple[str, str], tuple[datetime, str]] = {}
        # (auto-approval time, tie-breaker, assignment id) of Submitted assignments.
        self._due: list[tuple[datetime, int, str]] = []
        self._seq = itertools.count()

    # --- time and errors -----------------------------------------------------------

    def now(self) -> datetime:
        now = self.clock()
        return now if now.tzinfo else now.replace(tzinfo=timezone.utc)

    def stamped(self, message: str) -> str:
        """`message` ending with the server's epoch-ms stamp in parentheses, as MTurk's do."""
        return f"{message} ({int(self.now().timestamp() * 1000)})"

    def request_error(self, message: str, turk_code: str) -> ApiError:
        return ApiError("RequestError", self.stamped(message), 400, turk_code)

    @staticmethod
    def validation_error(value: object, member: str, constraint: str) -> ApiError:
        """A ValidationException worded like the model's checks (for documented limits the
        model does not carry)."""
        return ApiError("ValidationException", validation_message([violation(value, member, constraint)]))

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

    # --- idempotency -----------------------------------------------------------------

    def check_token(self, scope: str, token: str | None, turk_code: str, *, names_result: str = "") -> None:
        """Refuse a token seen in `scope` during the last 24 hours (emulator clock).

        `names_result` ("HIT" for CreateHIT) adds what the first call created to the
        message, as CreateHIT's documentation says its error does ("with a message
        containing the HITId"; the exact wording is unconfirmed).
        """
        if not token:
            return
        seen = self._tokens.get((scope, token))
        if seen is None or self.now() - seen[0] >= TOKEN_TTL:
            return
        message = f'The idempotency token "{token}" has already been processed.'
        if names_result and seen[1]:
            message += f" {names_result} {seen[1]} was created with it."
        raise self.request_error(message, turk_code)

    def remember_token(self, scope: str, token: str | None, result: str = "") -> None:
        if token:
            self._tokens[(scope, token)] = (self.now(), result)

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
            raise self.validation_error(feedback, "requesterFeedback",
                                        f"Member must have length less than or equal to {FEEDBACK_MAX}")
        if any(c in _FORBIDDEN_FEEDBACK for c in feedback):
            # The API reference of ApproveAssignment and RejectAssignment (2017-01-17), on
            # RequesterFeedback: "cannot contain ASCII characters 0-8, 11, 12, or 14-31. If these
            # characters are present, the operation throws an InvalidParameterValue error."
            # (docs.aws.amazon.com/AWSMechTurk/latest/AWSMturkAPI/ApiReference_RejectAssignmentOperation.html).
            # So `__type` is InvalidParameterValue. The message follows the shape MTurk uses for a
            # refused value ('The value "..." is not valid for the parameter WorkerId.', seen in
            # aws/aws-sdk-java#2055; cloudyr/MTurkR#118 shows the legacy code
            # AWS.MechanicalTurk.InvalidParameterValue, kept here as TurkErrorCode).
            raise ApiError(
                "InvalidParameterValue",
                self.stamped(f'The value "{feedback}" is not valid for the parameter RequesterFeedback. '
                             "It cannot contain ASCII characters 0-8, 11, 12, or 14-31."),
                400,
                "AWS.MechanicalTurk.InvalidParameterValue",
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
            if self.hits[a.hit_id].deleted:  # "only if the assignment's related HIT has not been deleted"
                raise self.request_error(
                    f"The HIT {a.hit_id} of this assignment has been deleted: its rejection cannot be overridden.",
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

    # --- workers ---------------------------------------------------------------------

    def block(self, worker_id: str, reason: str) -> None:
        """Blocking a blocked worker again keeps one block with the new reason (unconfirmed)."""
        if worker_id not in self.blocks and len(self.blocks) >= MAX_WORKER_BLOCKS:
            raise self.request_error(f"You can block up to {MAX_WORKER_BLOCKS:,} Workers.",
                                     "AWS.MechanicalTurk.WorkerBlockLimitExceeded")  # code unconfirmed
        self.blocks[worker_id] = reason

    def unblock(self, worker_id: str) -> None:
        self.blocks.pop(worker_id, None)  # "If the specified Worker is not blocked, ... returns successfully."

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
