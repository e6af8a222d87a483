"""The rest of a close-out (SPEC §9) as the workbook states it (pure): the Summary's figures
for overrides, revokes, invitations, compensations, expiries and Masters HITs, and the
compensation columns of the `Unmatched responses` sheet."""

from __future__ import annotations

from decimal import Decimal

from bridge.models import Compensation, Plan
from bridge.money import to_cents

COMPENSATION_COLUMNS = ["Compensation", "CompensationFee", "CompensationNote"]


def closing_rows(plan: Plan) -> list[tuple[str, object]]:
    """(Item, Value) rows of the Summary sheet, only for the steps this plan takes."""
    terms = plan.terms
    cur, task = terms.currency, terms.task_word
    rows: list[tuple[str, object]] = []
    overrides = sum(d.overrides_rejection for d in plan.decisions)
    if overrides:
        rows.append(("Rejections overridden by an approval (to send)", overrides))
    revokes = [q for q in plan.qualifications if q.action == "revoke"]
    if revokes:
        rows.append((f"{revokes[0].role} revokes ({revokes[0].group_id})", len(revokes)))
    if plan.invite is not None:
        invited = sum(q.action == "grant" and q.role == "eligible_worker" for q in plan.qualifications)
        rows.append(("Invitations to send (participants granted eligible_worker)", invited))
    paid = [c for c in plan.compensations if c.amount is not None]
    if paid:
        how = f"{task}s for one participant each" if paid[0].how == "task" else "bonuses on ended submissions"
        rows.append((f"Compensations ({how})", len(paid)))
        rows.append((f"Compensation rewards ({cur})", sum((c.amount for c in paid), Decimal("0.00"))))
        rows.append((f"Compensation fees ({cur})", sum((c.fee for c in paid), Decimal("0.00"))))
    by_hand = len(plan.compensations) - len(paid)
    if by_hand:
        rows.append(("Compensations a person must pay (not sent)", by_hand))
    if plan.expire_tasks:
        rows.append((f"{task}s to expire after applying", len(plan.tasks)))
    masters = sum(t.masters for t in plan.tasks.values())
    if masters:
        rows.append((f"{task}s requiring Masters (fee +5% of the reward)", masters))
    return rows


def compensation_cells(plan: Plan) -> dict[str, list[object]]:
    """The compensation columns of `Unmatched responses`, by response id: the amount and
    fee (money; empty when a person must pay) and what happens."""
    return {c.response_id: _cells(c) for c in plan.compensations if c.how != "bonus"}


def _cells(c: Compensation) -> list[object]:
    if c.amount is None:
        return [None, None, c.note]
    return [to_cents(c.amount), to_cents(c.fee), c.note]
