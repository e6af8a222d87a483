"""What a plan will cost: rewards of approvals still to send, bonuses, MTurk fees (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bridge.models import Decision, Plan
from bridge.money import fee

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
    rewards = bonuses = fees = ZERO
    approvals = bonus_count = unknown = 0
    for d in plan.decisions:
        if d.decision is not Decision.APPROVE:
            continue
        hit = plan.hits.get(d.hit_id)
        max_assignments = hit.max_assignments if hit else None
        if d.status == "Submitted":
            approvals += 1
            if d.reward is None:
                unknown += 1
            else:
                rewards += d.reward
                fees += fee(d.reward, is_reward=True, max_assignments=max_assignments)
        if d.bonus is not None and d.bonus > 0:
            bonus_count += 1
            bonuses += d.bonus
            fees += fee(d.bonus, is_reward=False, max_assignments=max_assignments)
    return Cost(approvals, rewards, bonus_count, bonuses, fees, unknown)
