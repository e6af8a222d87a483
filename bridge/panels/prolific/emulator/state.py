"""What the Prolific emulator remembers, and the server rules that change it.

One workspace (with its user and project), studies, submissions, bulk-bonus records,
participant groups, messages and the workspace balance, behind one lock. Money is a
`Decimal` of minor units (pence, cents) here and on the wire; the emulator's Python API
speaks major units. Bulk approvals and bonus payments are asynchronous on Prolific: they
wait in `pending` until `async_delay` seconds have passed (real time, not the clock) and are
applied by `sweep()`, which runs before every request and every inspection.

Sources are named as in /work/shared/prolific/FACTS.md ("FACTS 1.6" = section 1.6);
"unconfirmed" marks a choice made without one.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

from bridge.panels.prolific.emulator.records import (
    CURRENCIES,
    DEFAULT_ASYNC_DELAY,
    DEFAULT_FEE_RATE,
    ZERO,
    ApiError,
    BonusItem,
    BulkBonusRecord,
    Clock,
    GroupRecord,
    MessageRecord,
    Monotonic,
    NotFound,
    Pending,
    StudyRecord,
    SubmissionRecord,
    new_id,
    utc_now,
)

# action -> (statuses it may start from, status it leads to). FACTS 1.6 lists the actions; which
# source states each accepts is undocumented (unconfirmed), except that Prolific refused approving
# TIMED-OUT/RETURNED work in Dallinger's live run (FACTS 1.2). The least surprising table:
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "APPROVE": (frozenset({"AWAITING REVIEW"}), "APPROVED"),
    "REJECT": (frozenset({"AWAITING REVIEW"}), "REJECTED"),
    "COMPLETE": (frozenset({"ACTIVE"}), "AWAITING REVIEW"),
    "START": (frozenset({"RESERVED"}), "ACTIVE"),
    "RETURN": (frozenset({"ACTIVE", "AWAITING REVIEW"}), "RETURNED"),
    "SCREEN_OUT": (frozenset({"ACTIVE", "AWAITING REVIEW"}), "SCREENED OUT"),
    "UNREJECT": (frozenset({"REJECTED"}), "AWAITING REVIEW"),
    "UNRETURN": (frozenset({"RETURNED"}), "AWAITING REVIEW"),
}


def insufficient_funds(needed: Decimal, available: Decimal) -> ApiError:
    # Prolific checks funds per payment (FACTS 1.3); the text of its refusal is unconfirmed.
    return ApiError(400, f"Insufficient funds in the workspace: this needs {needed:.0f} but only "
                         f"{available:.0f} (minor units) is available. Top up the workspace and try again.")


class ProlificState:
    """The emulated workspace. Callers hold `lock` around anything that reads or writes."""

    def __init__(
        self,
        balance: Decimal,
        *,
        currency: str = "GBP",
        fee_rate: Decimal = DEFAULT_FEE_RATE,
        vat_rate: Decimal = ZERO,
        clock: Clock | None = None,
        async_delay: float = DEFAULT_ASYNC_DELAY,
        monotonic: Monotonic = time.monotonic,
    ):
        if currency not in CURRENCIES:
            raise ValueError(f"currency must be one of {CURRENCIES}, not {currency!r}")
        if fee_rate < 0 or vat_rate < 0:
            raise ValueError("fee_rate and vat_rate must be >= 0")
        if async_delay < 0:
            raise ValueError("async_delay must be >= 0")
        self.lock = threading.RLock()
        self.clock: Clock = clock or utc_now
        self.monotonic = monotonic
        self.currency = currency
        self.fee_rate, self.vat_rate = Decimal(fee_rate), Decimal(vat_rate)
        self.async_delay = async_delay
        self.balance = Decimal(balance)  # total, minor units
        self.rewards_paid = self.fees_paid = self.vat_paid = self.bonuses_paid = ZERO
        self.user_id, self.workspace_id, self.project_id = new_id(), new_id(), new_id()
        self.organisation_id = new_id()
        self.studies: dict[str, StudyRecord] = {}
        self.submissions: dict[str, SubmissionRecord] = {}
        self.by_study: dict[str, list[str]] = {}
        self.bulk_bonuses: dict[str, BulkBonusRecord] = {}
        self.groups: dict[str, GroupRecord] = {}
        self.messages: list[MessageRecord] = []
        self.pending: list[Pending] = []
        self._seq = itertools.count()
        # A fault switch for tests (SPEC §12, the 100x trap): each bonus set-up takes every
        # amount times this, as a set-up that reads its amounts in other units would.
        self.bonus_scale = Decimal(1)

    # --- time, money -----------------------------------------------------------------

    def now(self) -> datetime:
        now = self.clock()
        return now if now.tzinfo else now.replace(tzinfo=timezone.utc)

    def fee_and_vat(self, amount: Decimal) -> tuple[Decimal, Decimal]:
        """Prolific's fee on a reward or bonus and the VAT on that fee, each half-up to the
        whole minor unit (SPEC 7; FACTS 2). Prolific's one published example (850 -> fees
        283.34, FACTS 1.8) shows fractions of a minor unit; the emulator follows SPEC's rule so
        that its charges equal the project's cost figures."""
        fee = (amount * self.fee_rate).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        vat = (fee * self.vat_rate).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        return fee, vat

    def reward_cost(self, sub: SubmissionRecord) -> Decimal:
        fee, vat = self.fee_and_vat(sub.reward)
        return sub.reward + fee + vat

    @property
    def reserved(self) -> Decimal:
        return sum((p.reserved for p in self.pending), ZERO)

    @property
    def available(self) -> Decimal:
        """The total less what queued payments hold back. Real Prolific also holds back the
        cost of places in active studies (FACTS 1.12); the emulator does not (unconfirmed)."""
        return self.balance - self.reserved

    def _check_funds(self, needed: Decimal) -> None:
        if needed > self.available:
            raise insufficient_funds(needed, self.available)

    def _pay_reward(self, sub: SubmissionRecord) -> None:
        fee, vat = self.fee_and_vat(sub.reward)
        self.balance -= sub.reward + fee + vat
        self.rewards_paid += sub.reward
        self.fees_paid += fee
        self.vat_paid += vat

    # --- lookups ---------------------------------------------------------------------

    def study(self, study_id: str) -> StudyRecord:
        study = self.studies.get(study_id)
        if study is None:
            raise NotFound()
        return study

    def submission(self, submission_id: str) -> SubmissionRecord:
        sub = self.submissions.get(submission_id)
        if sub is None:
            raise NotFound()
        return sub

    def group(self, group_id: str) -> GroupRecord:
        group = self.groups.get(group_id)
        if group is None or group.is_deleted:
            raise NotFound()
        return group

    def study_submissions(self, study_id: str) -> list[SubmissionRecord]:
        return [self.submissions[i] for i in self.by_study.get(study_id, [])]

    def taken_part(self, study_id: str, some_id: str) -> SubmissionRecord | None:
        """The study's submission with this submission id, else the participant's latest."""
        sub = self.submissions.get(some_id)
        if sub is not None and sub.study_id == study_id:
            return sub
        mine = [s for s in self.study_submissions(study_id) if s.participant_id == some_id]
        return mine[-1] if mine else None

    # --- asynchronous work -----------------------------------------------------------

    def _queue(self, kind: str, ref: str, reserved: Decimal) -> None:
        self.pending.append(Pending(self.monotonic() + self.async_delay, next(self._seq), kind, ref, reserved))

    def sweep(self, *, everything: bool = False) -> int:
        """Apply queued work that has come due (all of it with `everything`); returns how many."""
        now = self.monotonic()
        due = [p for p in self.pending if everything or p.due <= now]
        if not due:
            return 0
        self.pending = [p for p in self.pending if p not in due]
        for p in sorted(due, key=lambda p: (p.due, p.seq)):
            if p.kind == "approve":
                sub = self.submissions[p.ref]
                # Approved meanwhile (or rejected, returned): nothing more to do (unconfirmed).
                if sub.status == "AWAITING REVIEW":
                    self._pay_reward(sub)
                    sub.status = "APPROVED"
            else:
                bonus = self.bulk_bonuses[p.ref]
                for item in bonus.items:
                    self.submissions[item.submission_id].bonus_payments.append(item.amount)
                self.balance -= bonus.total_amount
                self.bonuses_paid += bonus.amount
                self.fees_paid += bonus.fees
                self.vat_paid += bonus.vat
                bonus.payments_made += 1
        return len(due)

    def queued_approval(self, submission_id: str) -> bool:
        return any(p.kind == "approve" and p.ref == submission_id for p in self.pending)

    # --- submissions -----------------------------------------------------------------

    def transition(self, sub: SubmissionRecord, action: str, *, message: str | None = None,
                   rejection_category: str | None = None, completion_code: str | None = None) -> SubmissionRecord:
        """One transition (FACTS 1.6). The request body was validated by the caller."""
        sources, target = TRANSITIONS[action]
        if sub.status == target:
            return sub  # "the same request twice ... the second request will be ignored" (FACTS 1.6)
        if sub.status not in sources:
            # The real refusal's status and text are unconfirmed (FACTS 1.2): a 400 naming both states.
            raise ApiError(400, f"Cannot {action.lower().replace('_', ' ')} submission {sub.id}: its status "
                                f"is {sub.status}; this action needs {' or '.join(sorted(sources))}.")
        if action == "APPROVE":
            # A bulk approval already queued for it has its funds held back: use those.
            queued = [p for p in self.pending if p.kind == "approve" and p.ref == sub.id]
            held = sum((p.reserved for p in queued), ZERO)
            needed = self.reward_cost(sub)
            if needed > self.available + held:
                raise insufficient_funds(needed, self.available + held)
            self.pending = [p for p in self.pending if p not in queued]
            self._pay_reward(sub)
        elif action == "REJECT":
            sub.rejection_message, sub.rejection_category = message, rejection_category
        elif action == "COMPLETE":
            sub.entered_code = completion_code
            sub.completed_at = self.now()
            sub.time_taken = int((sub.completed_at - sub.started_at).total_seconds())
        sub.status = target
        return sub

    def bulk_approve(self, subs: list[SubmissionRecord]) -> int:
        """Queue the approval of every AWAITING REVIEW submission among `subs`; returns how many.

        Funds for all of them are checked and held back now, so a refusal changes nothing
        (unconfirmed). The caller refused the request if any cannot be approved
        (`routes.bulk_approve_submissions`); one already approved, or queued for approval,
        is skipped (a repeated request is ignored, FACTS 1.6)."""
        todo, seen = [], set()
        for sub in subs:
            if sub.status == "AWAITING REVIEW" and sub.id not in seen and not self.queued_approval(sub.id):
                todo.append(sub)
                seen.add(sub.id)
        self._check_funds(sum((self.reward_cost(s) for s in todo), ZERO))
        for sub in todo:
            self._queue("approve", sub.id, self.reward_cost(sub))
        return len(todo)

    # --- bonuses ---------------------------------------------------------------------

    def create_bonus(self, study_id: str, lines: list[tuple[str, Decimal]]) -> BulkBonusRecord:
        """Set up a bulk bonus from (submission or participant id, minor units) pairs (FACTS 1.8)."""
        items, unknown = [], []
        for some_id, amount in lines:
            sub = self.taken_part(study_id, some_id)
            if sub is None:
                unknown.append(some_id)
                continue
            amount = (amount * self.bonus_scale).quantize(Decimal(1), rounding=ROUND_HALF_UP)
            fee, vat = self.fee_and_vat(amount)
            items.append(BonusItem(sub.id, amount, fee, vat))
        if unknown:
            # "a 400 ... which explains which IDs are incorrect" (FACTS 1.8); the wording is unconfirmed.
            raise ApiError(400, [f"{i} has not taken part in study {study_id}." for i in dict.fromkeys(unknown)])
        bonus = BulkBonusRecord(new_id(), study_id, items, self.now())
        self.bulk_bonuses[bonus.id] = bonus
        return bonus

    def pay_bonus(self, bonus_id: str) -> BulkBonusRecord:
        """Queue one payment of the whole bulk bonus: NOT idempotent, each call pays again (FACTS 1.8)."""
        bonus = self.bulk_bonuses.get(bonus_id)
        if bonus is None:
            raise NotFound()
        self._check_funds(bonus.total_amount)
        bonus.pay_calls += 1
        self._queue("pay", bonus.id, bonus.total_amount)
        return bonus

    def study_cost(self, study_id: str, *, projected: bool = False) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
        """What the study has cost so far, minor units (GET /studies/{id}/cost/, FACTS 1.9):
        {"rewards": (rewards, fees, tax), "bonuses": (bonuses, fees, tax)}. Rewards are
        charged when a submission is approved, bonuses when a payment is made (as this
        emulator charges them; when Prolific counts them is unconfirmed). `projected`: the
        rewards of every place as if all were approved (unconfirmed)."""
        study = self.study(study_id)
        subs = self.study_submissions(study_id)
        rewards = [s.reward for s in subs if s.status in ("APPROVED", "PARTIALLY APPROVED")]
        if projected:
            rewards = [study.reward] * max(study.total_available_places, len(rewards))
        bonuses = [b for s in subs for b in s.bonus_payments]
        out = {}
        for key, amounts in (("rewards", rewards), ("bonuses", bonuses)):
            charges = [self.fee_and_vat(a) for a in amounts]
            out[key] = (sum(amounts, ZERO), sum((f for f, _ in charges), ZERO), sum((v for _, v in charges), ZERO))
        return out

    # --- groups and messages ---------------------------------------------------------

    def add_members(self, group: GroupRecord, participant_ids: list[str]) -> None:
        now = self.now()
        for pid in participant_ids:
            group.members.setdefault(pid, now)  # already a member: ignored (FACTS 1.10)

    def remove_members(self, group: GroupRecord, participant_ids: list[str]) -> None:
        for pid in participant_ids:
            group.members.pop(pid, None)  # not a member: ignored (FACTS 1.10)

    def send_message(self, recipient_id: str, body: str, study_id: str | None) -> MessageRecord:
        pair = "".join(sorted((self.user_id, recipient_id)))
        channel = hashlib.sha1(pair.encode()).hexdigest()[:24]  # one channel per pair of people (unconfirmed)
        msg = MessageRecord(new_id(), self.user_id, recipient_id, body, study_id, self.now(), channel)
        self.messages.append(msg)
        return msg
