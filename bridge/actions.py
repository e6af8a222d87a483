"""The actions a plan asks for, in the order SPEC §5 and §9 send them (pure: no I/O)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from bridge.ledger.base import target
from bridge.models import Decision, Plan, State, batch_scope
from bridge.money import fmt


class Kind(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    OVERRIDE = "override"  # approve work the panel has as rejected (SPEC §9)
    BONUS = "bonus"
    GRANT = "grant"
    REVOKE = "revoke"  # Eligible_Worker taken back from a flagged participant
    NOTIFY = "notify"  # the invitation to those granted Eligible_Worker
    # Pay one participant who could not submit: a task for them alone, or (with a
    # submission id) a bonus on the submission they ended.
    COMPENSATE = "compensate"
    EXPIRE = "expire"  # close one of the wave's tasks to new participants


# Approvals, rejections and overrides, then bonuses, then qualifications (grants and
# revokes), then the invitation (after its grants), compensation tasks, and last the
# wave's tasks closed.
STAGES: tuple[tuple[Kind, ...], ...] = ((Kind.APPROVE, Kind.REJECT, Kind.OVERRIDE), (Kind.BONUS,),
                                        (Kind.GRANT, Kind.REVOKE), (Kind.NOTIFY,), (Kind.COMPENSATE,), (Kind.EXPIRE,))
LABELS = {Kind.APPROVE: "approvals", Kind.REJECT: "rejections", Kind.OVERRIDE: "overridden rejections",
          Kind.BONUS: "bonuses", Kind.GRANT: "qualification grants", Kind.REVOKE: "qualification revokes",
          Kind.NOTIFY: "invitations", Kind.COMPENSATE: "compensations", Kind.EXPIRE: "tasks expired"}
# Always named in a summary; the others only when there are some.
CORE_KINDS = (Kind.APPROVE, Kind.REJECT, Kind.BONUS, Kind.GRANT)


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
    subject: str = ""  # invitations: the subject line; compensation tasks: the title

    @property
    def target(self) -> str:
        """What the action is about, for the ledger key: a submission, a participant in a
        group, a participant, or a task."""
        return target(self.kind.value, self.submission_id, self.participant_id, self.task_id, self.group_id)

    @property
    def amount_text(self) -> str:
        return fmt(self.amount)


def bonus_key(environment: str, scope: str, submission_ids: Sequence[str]) -> str:
    """The same bonuses always get the same key: 64 hex characters from the (canonical)
    environment, the study or batch they belong to (an MTurk HIT) and the submissions;
    never the wave's name, so a renamed wave sends the same key (SPEC 13). A panel with
    idempotent bonus calls sends it as the call's token (MTurk's UniqueRequestToken, at
    most 64 characters)."""
    return hashlib.sha256(f"bonus\x1f{environment}\x1f{scope}\x1f{chr(30).join(submission_ids)}".encode()).hexdigest()


def task_token(environment: str, batch: str, participant_id: str) -> str:
    """A compensation task's idempotency token (MTurk's CreateHIT UniqueRequestToken, at
    most 64 characters): 64 hex characters from the canonical environment, the batch
    (`batch_scope`) and the participant, so the same participant's task always carries the
    same token, whatever the wave is called."""
    return hashlib.sha256(f"compensate\x1f{environment}\x1f{batch}\x1f{participant_id}".encode()).hexdigest()


def compensation_group_name(participant_id: str, batch: str) -> str:
    """The name of the group (MTurk qualification type) that limits a compensation task to
    one participant: unique per participant and batch (`batch_scope`, never the wave's
    name), so it is found again by name, also after the wave is renamed (SPEC 13)."""
    return f"Compensation for {participant_id} ({batch})"


def plan_actions(plan: Plan) -> list[Action]:
    """Every action the plan sends. `review` is never sent; work no longer awaiting the
    requester is not approved or rejected again (unless a person overrides a rejection),
    but its bonus and groups are handled."""
    out: list[Action] = []
    for d in plan.decisions:
        if d.sends_status_change:
            if d.decision is Decision.APPROVE:
                out.append(Action(Kind.APPROVE, d.submission_id, d.participant_id, d.task_id))
            elif d.decision is Decision.REJECT:
                out.append(Action(Kind.REJECT, d.submission_id, d.participant_id, d.task_id, text=d.feedback,
                                  category=d.rejection_category))
        elif d.overrides_rejection:
            out.append(Action(Kind.OVERRIDE, d.submission_id, d.participant_id, d.task_id))
    for d in plan.decisions:
        if d.decision is Decision.APPROVE and d.bonus is not None and d.bonus > 0 and (
                d.state is not State.REJECTED or d.overrides_rejection):
            out.append(Action(Kind.BONUS, d.submission_id, d.participant_id, d.task_id, amount=d.bonus,
                              text=plan.bonus_reason))
    for q in plan.qualifications:
        kind = {"grant": Kind.GRANT, "revoke": Kind.REVOKE}.get(q.action)
        if kind is not None:
            out.append(Action(kind, participant_id=q.participant_id, group_id=q.group_id, value=q.value, role=q.role))
    if plan.invite is not None:
        for q in plan.qualifications:
            if q.action == "grant" and q.role == "eligible_worker":
                out.append(Action(Kind.NOTIFY, participant_id=q.participant_id, group_id=q.group_id,
                                  subject=plan.invite.subject, text=plan.invite.message))
    batch = batch_scope(d.task_id for d in plan.decisions)
    for c in plan.compensations:
        if c.how == "task" and c.amount is not None:  # a task for them alone (MTurk)
            out.append(Action(Kind.COMPENSATE, participant_id=c.participant_id, amount=c.amount, subject=c.title,
                              text=c.description, group_id=compensation_group_name(c.participant_id, batch)))
        elif c.how == "bonus" and c.amount is not None:  # a bonus on the submission they ended (Prolific)
            out.append(Action(Kind.COMPENSATE, c.submission_id, c.participant_id, c.task_id, amount=c.amount,
                              text=plan.bonus_reason))
    if plan.expire_tasks:
        out += [Action(Kind.EXPIRE, task_id=task_id) for task_id in plan.tasks]
    return out
