"""The rest of a close-out (SPEC §9), pure: who is granted Prev_Worker and Eligible_Worker
(and who loses it), who is paid as compensation, and how the workbook states those steps:
the Summary's figures for overrides, revokes, invitations, compensations, expiries and
Masters HITs, and the compensation columns of the `Unmatched responses` sheet.
`bridge.rules` calls the planning functions when it builds a plan."""

from __future__ import annotations

from decimal import Decimal

from bridge.actions import compensation_group_name
from bridge.config import Settings
from bridge.models import (
    OVERRIDE_REASON,
    Compensation,
    Decision,
    GroupAction,
    Plan,
    State,
    SubmissionDecision,
    Task,
    Terms,
    UnmatchedResponse,
    batch_scope,
)
from bridge.money import to_cents

# Reasons that are facts about pay and status, not problems: they cost nobody Eligible_Worker.
NOT_FLAGS = frozenset({"not_submitted", "bonus_rounded", "bonus_capped", "pay_top_up", OVERRIDE_REASON})

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


# --- Planning -----------------------------------------------------------------------------


def qualifications_for(decisions: list[SubmissionDecision], settings: Settings) -> list[GroupAction]:
    out: list[GroupAction] = []
    q = settings.qualifications
    if q.prev_worker:
        for w in dict.fromkeys(d.participant_id for d in decisions):
            out.append(GroupAction(w, q.prev_worker, "grant", 1, "prev_worker"))
    if q.eligible_worker:
        # A participant with several submissions qualifies only if every one is clean.
        # An approval that overrides a rejection counts as approved (SPEC §9).
        flagged = {
            d.participant_id
            for d in decisions
            if d.decision is not Decision.APPROVE or (d.state is State.REJECTED and not d.overrides_rejection)
            or set(d.reasons) - NOT_FLAGS
        }
        for w in dict.fromkeys(d.participant_id for d in decisions):
            if w not in flagged:
                out.append(GroupAction(w, q.eligible_worker, "grant", 1, "eligible_worker"))
        if q.revoke_eligible_on_flag:  # SPEC §9: flagged in this wave, no longer eligible
            for w in dict.fromkeys(d.participant_id for d in decisions):
                if w in flagged:
                    out.append(GroupAction(w, q.eligible_worker, "revoke", 0, "eligible_worker"))
    return out


def compensations_for(decisions: list[SubmissionDecision], unmatched: list[UnmatchedResponse], settings: Settings,
                      terms: Terms) -> list[Compensation]:
    """`[compensation] reward` (SPEC §9): pay each participant who finished the survey but
    has no submission the wave pays, once. On a panel that compensates with a task (MTurk),
    a finished `no_assignment` response gets a task for that participant alone; on one that
    compensates with a bonus (Prolific), a submission the participant ended (returned, timed
    out: `returned_with_response`) gets the reward as a bonus, and a `no_assignment`
    response, with no submission to pay, is listed for a person."""
    c = settings.compensation
    if c.reward is None:
        return []
    fee, panel = terms.fees.fee, terms.panel
    in_wave = {d.participant_id.casefold() for d in decisions}
    out: list[Compensation] = []
    seen: set[str] = set()
    if terms.compensates_with == "bonus":
        for d in decisions:
            if "returned_with_response" in d.reasons and d.participant_id.casefold() not in seen:
                seen.add(d.participant_id.casefold())
                note = (f"a bonus of {c.reward} {terms.currency} on {terms.submission_word} {d.submission_id} "
                        f"({d.status}) as compensation ([compensation] reward)")
                d.notes.append(f"compensation: {note}")
                out.append(Compensation(d.participant_id, d.response_id, c.reward,
                                        fee(c.reward, is_reward=False, task=None), "bonus",
                                        submission_id=d.submission_id, task_id=d.task_id, note=note))
    for u in unmatched:
        if "no_assignment" not in u.reasons or u.finished is not True:
            continue
        pid = u.participant_id.strip()
        key = pid.casefold() or f"response:{u.response_id}"
        if key in in_wave or key in seen:
            continue
        seen.add(key)
        if not pid:
            out.append(Compensation("", u.response_id, None, Decimal("0.00"), "",
                                    note=f"the response names no participant "
                                         f"({settings.survey.key('participant_column')}): "
                                         "a person must find and pay them (nothing is sent)"))
        elif terms.compensates_with == "task":
            title = c.title or f"Compensation HIT for {pid}"
            out.append(Compensation(
                pid, u.response_id, c.reward, fee(c.reward, is_reward=True, task=Task("", places=1)), "task",
                title=title,
                description=c.description or (f"Payment for the survey you completed in our study ({settings.wave.name}) "
                                              "but could not submit. Accept and submit this task to be paid."),
                note=f"{terms.task_word} \"{title}\" that only {pid} can find and accept ({terms.group_word} "
                     f"\"{compensation_group_name(pid, batch_scope(d.task_id for d in decisions))}\" granted to them "
                     "alone)"))
        else:
            out.append(Compensation(pid, u.response_id, None, Decimal("0.00"), "", note=(
                f"{pid} has no {terms.submission_word} in this {terms.task_word}: {panel}'s API pays only people who "
                f"took part, so a person must pay them (nothing is sent)")))
    return out
