"""What a plan will cost: rewards of approvals still to send, bonuses, the panel's fees (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bridge.models import Decision, Plan, State

ZERO = Decimal("0.00")


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


def plan_cost(plan: Plan) -> Cost:
    """Rewards of approvals still to send (overrides of a rejection included), every bonus
    the plan pays and every compensation, with the panel's fees on each (`Terms.fees`), in
    the wave's currency."""
    rewards = bonuses = fees = ZERO
    approvals = bonus_count = unknown = 0
    fee = plan.terms.fees.fee
    for d in plan.decisions:
        if d.decision is not Decision.APPROVE:
            continue
        task = plan.tasks.get(d.task_id)
        if d.state is State.PENDING or d.overrides_rejection:
            approvals += 1
            if d.reward is None:
                unknown += 1
            else:
                rewards += d.reward
                fees += fee(d.reward, is_reward=True, task=task)
        if d.bonus is not None and d.bonus > 0:
            bonus_count += 1
            bonuses += d.bonus
            fees += fee(d.bonus, is_reward=False, task=task)
    paid = [c for c in plan.compensations if c.amount is not None]
    compensation = sum((c.amount for c in paid), ZERO)
    fees += sum((c.fee for c in paid), ZERO)
    return Cost(approvals, rewards, bonus_count, bonuses, fees, unknown, len(paid), compensation)
