"""The actions a plan asks for, in the order SPEC §5 sends them (pure: no I/O)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from bridge.models import Decision, Plan, State
from bridge.money import fmt


class Kind(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    BONUS = "bonus"
    GRANT = "grant"


# Approvals and rejections, then bonuses, then qualifications (participant groups).
STAGES: tuple[tuple[Kind, ...], ...] = ((Kind.APPROVE, Kind.REJECT), (Kind.BONUS,), (Kind.GRANT,))
LABELS = {Kind.APPROVE: "approvals", Kind.REJECT: "rejections", Kind.BONUS: "bonuses",
          Kind.GRANT: "qualification grants"}


@dataclass(frozen=True, slots=True)
class Action:
    kind: Kind
    submission_id: str = ""
    participant_id: str = ""
    task_id: str = ""
    amount: Decimal | None = None  # bonuses
    text: str = ""  # rejection message or bonus reason
    group_id: str = ""  # grants: the qualification type / participant group
    value: int = 1
    role: str = ""  # grants: "prev_worker" | "eligible_worker"
    category: str = ""  # rejections on panels that require a category

    @property
    def target(self) -> str:
        """What the action is about, for the ledger key."""
        if self.kind is Kind.GRANT:
            return f"{self.group_id}:{self.participant_id}"
        return self.submission_id

    @property
    def amount_text(self) -> str:
        return fmt(self.amount)


def bonus_key(environment: str, wave: str, submission_ids: Sequence[str]) -> str:
    """The same bonuses always get the same key: 64 hex characters from the (canonical)
    environment, the wave and the submissions. A panel with idempotent bonus calls sends
    it as the call's token (MTurk's UniqueRequestToken, at most 64 characters)."""
    return hashlib.sha256(f"{environment}\x1f{wave}\x1f{chr(30).join(submission_ids)}".encode()).hexdigest()


def plan_actions(plan: Plan) -> list[Action]:
    """Every action the plan sends. `review` is never sent; work no longer awaiting the
    requester is not approved or rejected again, but its bonus and groups are handled."""
    out: list[Action] = []
    for d in plan.decisions:
        if d.sends_status_change:
            if d.decision is Decision.APPROVE:
                out.append(Action(Kind.APPROVE, d.submission_id, d.participant_id, d.task_id))
            else:
                out.append(Action(Kind.REJECT, d.submission_id, d.participant_id, d.task_id, text=d.feedback,
                                  category=d.rejection_category))
    for d in plan.decisions:
        if d.decision is Decision.APPROVE and d.bonus is not None and d.bonus > 0 and d.state is not State.REJECTED:
            out.append(Action(Kind.BONUS, d.submission_id, d.participant_id, d.task_id, amount=d.bonus,
                              text=plan.bonus_reason))
    for q in plan.qualifications:
        if q.action == "grant":
            out.append(Action(Kind.GRANT, participant_id=q.participant_id, group_id=q.group_id, value=q.value,
                              role=q.role))
    return out
