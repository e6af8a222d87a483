"""What a plan costs: rewards of approvals, bonuses, compensations and the panel's fees (pure).

A plan that carries what the ledger has done (`SubmissionDecision.applied`,
`Compensation.applied`: see `bridge.apply.run.with_ledger`) splits its cost in two: money
spent (done) and money still to send (neither done nor skipped). A plan without a ledger
has spent nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bridge.models import Decision, Plan, State

ZERO = Decimal("0.00")
DONE, SKIPPED = "done", "skipped"  # the ledger's words for an action sent (or found) and one never sent


@dataclass(frozen=True, slots=True)
class Cost:
    approvals: int  # approvals still to send
    rewards: Decimal
    bonuses_count: int
    bonuses: Decimal
    fees: Decimal
    unknown_rewards: int  # approvals whose reward is unknown (not counted)
    compensations: int = 0  # compensation tasks or bonuses (SPEC §9) the panel's API pays
    compensation: Decimal = ZERO  # their rewards (their fees are in `fees`)

    @property
    def total(self) -> Decimal:
        return self.rewards + self.bonuses + self.compensation + self.fees


class _Sum:
    def __init__(self) -> None:
        self.rewards = self.bonuses = self.fees = self.compensation = ZERO
        self.approvals = self.bonus_count = self.unknown = self.compensations = 0

    def cost(self) -> Cost:
        return Cost(self.approvals, self.rewards, self.bonus_count, self.bonuses, self.fees, self.unknown,
                    self.compensations, self.compensation)


@dataclass(frozen=True, slots=True)
class Progress:
    spent: Cost  # what the ledger has done
    to_send: Cost  # neither done nor skipped

    @property
    def total(self) -> Decimal:
        return self.spent.total + self.to_send.total


def progress(plan: Plan) -> Progress:
    """The plan's cost split into money spent and money still to send, with the panel's
    fees on each (`Terms.fees`), in the wave's currency. Rewards count for approvals this
    tool sends (work awaiting review, overrides of a rejection); every bonus the plan pays
    and every compensation the panel's API pays count."""
    spent, todo = _Sum(), _Sum()
    fee = plan.terms.fees.fee

    def bucket(status: str) -> _Sum | None:
        return spent if status == DONE else None if status == SKIPPED else todo

    for d in plan.decisions:
        if d.decision is not Decision.APPROVE:
            continue
        task = plan.tasks.get(d.task_id)
        change = d.ledger_status("override") or d.ledger_status("approve")
        if d.state is State.PENDING or d.overrides_rejection or change == DONE:
            into = bucket(change)
            if into is not None:
                into.approvals += 1
                if d.reward is None:
                    into.unknown += 1
                else:
                    into.rewards += d.reward
                    into.fees += fee(d.reward, is_reward=True, task=task)
        if d.bonus is not None and d.bonus > 0 and (into := bucket(d.ledger_status("bonus"))) is not None:
            into.bonus_count += 1
            into.bonuses += d.bonus
            into.fees += fee(d.bonus, is_reward=False, task=task)
    for c in plan.compensations:
        if c.amount is not None and (into := bucket(c.applied)) is not None:
            into.compensations += 1
            into.compensation += c.amount
            into.fees += c.fee
    return Progress(spent.cost(), todo.cost())


def plan_cost(plan: Plan) -> Cost:
    """What is still to send (`progress(plan).to_send`): with no ledger read, the whole plan."""
    return progress(plan).to_send
