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

    @property
    def total(self) -> Decimal:
        return self.rewards + self.bonuses + self.fees


def plan_cost(plan: Plan) -> Cost:
    """Rewards of approvals still to send and every bonus the plan pays, with the panel's
    fees on each (`Terms.fees`), in the wave's currency."""
    rewards = bonuses = fees = ZERO
    approvals = bonus_count = unknown = 0
    fee = plan.terms.fees.fee
    for d in plan.decisions:
        if d.decision is not Decision.APPROVE:
            continue
        task = plan.tasks.get(d.task_id)
        if d.state is State.PENDING:
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
    return Cost(approvals, rewards, bonus_count, bonuses, fees, unknown)
