"""Turn matches plus the config into a `Plan` (pure: no I/O, no clock — `now` is passed in).

Decision per assignment: the strictest outcome of the rules that fired, where a person's
`review` outranks an automatic `reject` (a wrong rejection costs a worker their approval
rate, a review costs the lab a look). Near misses, shared codes and worker mismatches are
always `review`. Work no longer `Submitted` is not approved or rejected again
(`not_submitted`), but its bonus and qualifications are still handled.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from bridge.config import Settings
from bridge.match import MatchResult
from bridge.models import (
    AssignmentDecision,
    Decision,
    Hit,
    Match,
    MatchKind,
    Plan,
    QualificationAction,
    UnmatchedResponse,
)
from bridge.money import AmountError, has_sub_cent, parse_amount, to_cents

_RANK = {Decision.APPROVE: 0, Decision.REJECT: 1, Decision.REVIEW: 2}
ALWAYS_REVIEW = ("near_miss", "code_shared", "worker_mismatch", "answer_unreadable", "bonus_invalid")
# Reasons that are facts, not problems: they do not cost a worker Eligible_Worker.
NOT_FLAGS = frozenset({"not_submitted"})


def _worst(a: Decision, b: Decision) -> Decision:
    return a if _RANK[a] >= _RANK[b] else b


def decide(m: Match, settings: Settings, found: Sequence[str] = ()) -> tuple[Decision, list[str], list[str], str]:
    """(decision, reasons, notes, feedback) for one match; `found` are reasons already
    found elsewhere (the bonus column's)."""
    rules = settings.rules
    reasons = list(m.reasons) + list(found)
    notes = list(m.notes)
    decision = Decision.APPROVE
    feedback = ""
    if m.kind is MatchKind.NONE:
        decision = Decision(rules.unmatched)
        feedback = rules.reject_feedback
    for reason in ALWAYS_REVIEW:
        if reason in reasons:
            decision = Decision.REVIEW
    r = m.response
    if r is not None:
        if rules.min_duration_seconds is not None:
            if r.duration_seconds is None:
                reasons.append("duration_unknown")
                decision = _worst(decision, Decision.REVIEW)
            elif r.duration_seconds < rules.min_duration_seconds:
                reasons.append("too_fast")
                notes.append(f"{r.duration_seconds}s < {rules.min_duration_seconds}s")
                policy = Decision(rules.too_fast)
                if policy is Decision.REJECT and not feedback:
                    feedback = rules.too_fast_feedback
                decision = _worst(decision, policy)
        failed = [c.column for c in rules.attention_checks if not c.passes(r.fields.get(c.column, ""))]
        if failed:
            reasons.append("attention_failed")
            notes.append("failed: " + ", ".join(failed))
            policy = Decision(rules.attention_failed)
            if policy is Decision.REJECT and not feedback:
                feedback = rules.attention_feedback
            decision = _worst(decision, policy)
    if decision is not Decision.REJECT:
        feedback = ""
    return decision, reasons, notes, feedback


def _bonus(m: Match, settings: Settings) -> tuple[Decimal | None, list[str], list[str]]:
    """The bonus a response asks for, rounded to cents; with reasons and notes."""
    column = settings.bonus.column
    if column is None or m.response is None:
        return None, [], []
    text = m.response.fields.get(column, "").strip()
    if not text:
        return None, [], []
    try:
        amount = parse_amount(text)
    except AmountError:
        return None, ["bonus_invalid"], [f"bonus {text!r} is not an amount"]
    if amount < 0:
        return None, ["bonus_invalid"], [f"bonus {text!r} is negative"]
    if amount == 0:
        return None, [], []
    if has_sub_cent(amount):
        return to_cents(amount), ["bonus_rounded"], [f"bonus {text} rounded to {to_cents(amount)}"]
    return to_cents(amount), [], []


def build_plan(result: MatchResult, settings: Settings, hits: dict[str, Hit], now: datetime) -> Plan:
    decisions: list[AssignmentDecision] = []
    cap = settings.bonus.max_per_worker
    paid_to_worker: dict[str, Decimal] = defaultdict(Decimal)
    for m in result.matches:
        a = m.assignment
        bonus, b_reasons, b_notes = _bonus(m, settings)
        decision, reasons, notes, feedback = decide(m, settings, b_reasons)
        notes += b_notes
        if a.status != "Submitted":
            reasons.append("not_submitted")
            notes.append(f"already {a.status} on MTurk; not sent again")
        payable = decision is not Decision.REJECT and a.status != "Rejected"
        if bonus is not None and not payable:
            notes.append(f"bonus {bonus} not paid: work not approved")
            bonus = None
        if bonus is not None and cap is not None:
            room = max(Decimal("0.00"), cap - paid_to_worker[a.worker_id])
            if bonus > room:
                reasons.append("bonus_capped")
                notes.append(f"bonus {bonus} capped at {room} (max_per_worker {cap})")
                bonus = room if room > 0 else None
        if bonus is not None and decision is Decision.APPROVE:
            paid_to_worker[a.worker_id] += bonus
        hit = hits.get(a.hit_id)
        # The HIT's own reward (batch file or API) is what MTurk pays; the config's is the
        # fallback when the source does not say.
        reward = hit.reward if hit is not None and hit.reward is not None else settings.wave.reward
        decisions.append(
            AssignmentDecision(
                assignment_id=a.assignment_id,
                worker_id=a.worker_id,
                hit_id=a.hit_id,
                status=a.status,
                submitted_code=m.submitted_code,
                response_id=(m.response or m.candidate).response_id if (m.response or m.candidate) else "",
                match=m.kind,
                decision=decision,
                bonus=bonus,
                reasons=list(dict.fromkeys(reasons)),
                feedback=feedback,
                notes=notes,
                reward=reward,
                auto_approval_time=a.auto_approval_time,
                duration_seconds=m.response.duration_seconds if m.response else None,
            )
        )
    quals = qualifications_for(decisions, settings)
    unmatched = [
        UnmatchedResponse(
            response_id=r.response_id,
            code=r.fields.get(settings.qualtrics.code_column, ""),
            worker_id=r.fields.get(settings.qualtrics.worker_id_column, "") if settings.qualtrics.worker_id_column else "",
            finished=r.finished,
            duration_seconds=r.duration_seconds,
            reasons=why,
        )
        for r, why in result.unmatched
    ]
    plan = Plan(
        wave=settings.wave.name,
        environment=settings.mturk.environment,
        now=now,
        decisions=decisions,
        unmatched_responses=unmatched,
        qualifications=quals,
        hits=hits,
        bonus_reason=settings.bonus.reason,
        survey_responses=len({m.response.response_id for m in result.matches if m.response}) + len(unmatched),
    )
    plan.warnings = plan_warnings(plan, settings, now)
    return plan


def qualifications_for(decisions: list[AssignmentDecision], settings: Settings) -> list[QualificationAction]:
    out: list[QualificationAction] = []
    q = settings.qualifications
    if q.prev_worker:
        for w in dict.fromkeys(d.worker_id for d in decisions):
            out.append(QualificationAction(w, q.prev_worker, "grant", 1, "prev_worker"))
    if q.eligible_worker:
        # A worker with several assignments qualifies only if every one is clean.
        flagged = {
            d.worker_id
            for d in decisions
            if d.decision is not Decision.APPROVE or d.status == "Rejected" or set(d.reasons) - NOT_FLAGS
        }
        for w in dict.fromkeys(d.worker_id for d in decisions):
            if w not in flagged:
                out.append(QualificationAction(w, q.eligible_worker, "grant", 1, "eligible_worker"))
    return out


def plan_warnings(plan: Plan, settings: Settings, now: datetime) -> list[str]:
    warnings: list[str] = []
    review = [d for d in plan.decisions if d.decision is Decision.REVIEW and d.status == "Submitted"]
    if review:
        times = sorted(d.auto_approval_time for d in review if d.auto_approval_time is not None)
        if times:
            first = times[0]
            if first <= now:
                warnings.append(
                    f"{len(review)} assignment(s) need review; MTurk's auto-approval time has already passed for "
                    f"{sum(t <= now for t in times)} of them (they are approved and paid as they stand)."
                )
            else:
                left = first - now
                soon = sum(t - now <= timedelta(hours=settings.rules.auto_approval_warning_hours) for t in times)
                warnings.append(
                    f"{len(review)} assignment(s) need review; MTurk auto-approves the first at "
                    f"{first:%Y-%m-%d %H:%M} UTC (in {_span(left)})"
                    + (f"; {soon} within {settings.rules.auto_approval_warning_hours} hours." if soon else ".")
                )
        else:
            warnings.append(f"{len(review)} assignment(s) need review before MTurk auto-approves them.")
    capped = sum("bonus_capped" in d.reasons for d in plan.decisions)
    if capped:
        warnings.append(f"{capped} bonus(es) capped at max_per_worker {settings.bonus.max_per_worker}.")
    rounded = sum("bonus_rounded" in d.reasons for d in plan.decisions)
    if rounded:
        warnings.append(f"{rounded} bonus(es) had more than two decimals and were rounded half-up to the cent.")
    invalid = sum("bonus_invalid" in d.reasons for d in plan.decisions)
    if invalid:
        warnings.append(f"{invalid} bonus amount(s) were negative or unreadable; those assignments are in review.")
    configured = settings.wave.reward
    differing = sorted(h.hit_id for h in plan.hits.values() if configured is not None and h.reward not in (None, configured))
    if differing:
        warnings.append(
            f"[wave] reward {configured} differs from the reward MTurk has for HIT(s) {', '.join(differing[:3])}; "
            "the HIT's reward is used."
        )
    if any(d.reward is None for d in plan.decisions):
        warnings.append("The reward of some HITs is unknown: set [wave] reward so the cost can be shown.")
    return warnings


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours < 48 else f"{hours / 24:.1f} days"
