"""The MTurk actions a plan asks for, in the order SPEC §5 sends them (pure: no I/O)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from bridge.apply.client import canonical_environment
from bridge.models import Decision, Plan
from bridge.money import fmt


class Kind(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    BONUS = "bonus"
    GRANT = "grant"


# Approvals and rejections, then bonuses, then qualifications.
STAGES: tuple[tuple[Kind, ...], ...] = ((Kind.APPROVE, Kind.REJECT), (Kind.BONUS,), (Kind.GRANT,))
LABELS = {Kind.APPROVE: "approvals", Kind.REJECT: "rejections", Kind.BONUS: "bonuses",
          Kind.GRANT: "qualification grants"}


@dataclass(frozen=True, slots=True)
class Action:
    kind: Kind
    assignment_id: str = ""
    worker_id: str = ""
    hit_id: str = ""
    amount: Decimal | None = None  # bonuses
    text: str = ""  # rejection feedback or bonus reason
    qualification_type_id: str = ""
    value: int = 1
    role: str = ""  # grants: "prev_worker" | "eligible_worker"

    @property
    def target(self) -> str:
        """What the action is about, for the ledger key."""
        if self.kind is Kind.GRANT:
            return f"{self.qualification_type_id}:{self.worker_id}"
        return self.assignment_id

    @property
    def amount_text(self) -> str:
        return fmt(self.amount)


def bonus_token(environment: str, wave: str, assignment_id: str) -> str:
    """SendBonus's UniqueRequestToken: the same bonus always carries the same token.

    64 hex characters, the model's maximum length. The environment is taken in its
    canonical spelling, so an emulator on another port or `localhost` for `127.0.0.1`
    gives the same token.
    """
    env = canonical_environment(environment)
    return hashlib.sha256(f"{env}\x1f{wave}\x1f{assignment_id}".encode()).hexdigest()


def plan_actions(plan: Plan) -> list[Action]:
    """Every action the plan sends. `review` is never sent; work no longer Submitted is
    not approved or rejected again, but its bonus and qualifications are handled."""
    out: list[Action] = []
    for d in plan.decisions:
        if d.sends_status_change:
            if d.decision is Decision.APPROVE:
                out.append(Action(Kind.APPROVE, d.assignment_id, d.worker_id, d.hit_id))
            else:
                out.append(Action(Kind.REJECT, d.assignment_id, d.worker_id, d.hit_id, text=d.feedback))
    for d in plan.decisions:
        if d.decision is Decision.APPROVE and d.bonus is not None and d.bonus > 0 and d.status != "Rejected":
            out.append(Action(Kind.BONUS, d.assignment_id, d.worker_id, d.hit_id, amount=d.bonus,
                              text=plan.bonus_reason))
    for q in plan.qualifications:
        if q.action == "grant":
            out.append(Action(Kind.GRANT, worker_id=q.worker_id, qualification_type_id=q.qualification_type_id,
                              value=q.value, role=q.role))
    return out
