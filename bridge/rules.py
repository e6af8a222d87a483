"""Turn matches plus the config into a `Plan` (pure: no I/O, no clock — `now` is passed in).

Decision per submission: the strictest outcome of the rules that fired, where a person's
`review` outranks an automatic `reject` (a wrong rejection costs a participant their
approval rate, a review costs the lab a look). Near misses, shared codes and participant
mismatches are always `review`.

Only work awaiting the requester (`State.PENDING`) is approved or rejected. Work the panel
already decided shows that decision (`not_submitted`; the Notes say when the rules would
have decided otherwise) and its bonus and qualifications are still handled. Work the
participant returned, that timed out or was screened out is never approved or rejected
(`returned`, `timed_out`, `screened_out`): with a finished survey response it is `review`
(`returned_with_response`, a person may pay it a bonus), otherwise `none`: nothing to
decide, nothing sent, never counted as a rejection. Work still in progress is `review` (`in_progress`).

Panels whose completion codes name outcomes (Prolific) have each entered code checked
against `completion_codes`: `failed_check` counts as `attention_failed`, an unknown code is
`review` (`bad_code`), no code is `review` (`no_code`). A rejection on a panel that
requires a category carries one (`Terms.rejection_categories`).

Then the gates on bulk harm (`bridge.safety`, SPEC §12) send to review the rejections a
wrong file or a broken check would make: too few submissions matching, or one rule
rejecting too many.
The plan also carries the `[fair_pay]` top-up at the time the panel paid for
(`bridge.pay_time`) and the survey side of the Charts sheet (`bridge.pictures`).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from bridge.closing import compensations_for, qualifications_for
from bridge.config import Settings
from bridge.match import MatchResult, normalize
from bridge.models import (
    Decision,
    Invite,
    Match,
    MatchKind,
    Plan,
    State,
    SubmissionDecision,
    SubmissionTable,
    SurveyPictures,
    Terms,
    UnmatchedResponse,
)
from bridge.money import AmountError, has_sub_cent, parse_amount, to_cents
from bridge.pay_time import paid_time, top_up
from bridge.pictures import check_counts, finished_matched, time_chart, time_markers
from bridge.safety import apply_gates

_RANK = {Decision.APPROVE: 0, Decision.REJECT: 1, Decision.REVIEW: 2}
ALWAYS_REVIEW = ("near_miss", "code_shared", "worker_mismatch", "answer_unreadable", "bonus_invalid", "bad_code",
                 "no_code")
# States the participant ended: never approved or rejected.
ENDED = {State.RETURNED: "returned", State.TIMED_OUT: "timed_out", State.SCREENED_OUT: "screened_out"}
NO_CODE = "NOCODE"  # Prolific's entered code for a submission finished without one (FACTS 1.5)
_DECIDED = {State.APPROVED: Decision.APPROVE, State.REJECTED: Decision.REJECT}
_MOOT = frozenset({"unmatched", "no_code", "bad_code"})


def _cut(text: str, most: int = 64) -> str:
    """Outside text as a note quotes it: cut with `…` past `most` characters (memory, issue
    11: a note is made per submission, so a long value would be copied into every one)."""
    return text if len(text) <= most else text[: most - 1] + "…"


def _worst(a: Decision, b: Decision) -> Decision:
    return a if _RANK[a] >= _RANK[b] else b


@dataclass(slots=True)
class Speed:
    """The wave's speed cut-offs in seconds (SPEC §8), from the finished, matched responses."""

    cutoffs: dict[str, float] = field(default_factory=dict)  # rule key -> seconds (faster is too_fast)
    median_seconds: float | None = None

    def fired(self, seconds: int) -> list[str]:
        return [rule for rule, cut in self.cutoffs.items() if seconds < cut]


def speed(seconds: list[int], settings: Settings) -> Speed:
    """The cut-offs from the durations (sorted) of the wave's finished, matched responses."""
    rules = settings.rules
    out = Speed(median_seconds=statistics.median(seconds) if seconds else None)
    if rules.min_duration_seconds is not None:
        out.cutoffs["min_duration_seconds"] = float(rules.min_duration_seconds)
    if rules.too_fast_sd is not None and len(seconds) >= 2:
        # The sample standard deviation (R's sd(), pandas' std()), as labs compute it.
        out.cutoffs["too_fast_sd"] = statistics.mean(seconds) - rules.too_fast_sd * statistics.stdev(seconds)
    if rules.too_fast_percentile is not None and seconds:
        # The quickest N percent: the floor(n * N / 100) quickest are below the cut-off
        # (ties at the cut-off are not flagged).
        k = math.floor(len(seconds) * rules.too_fast_percentile / 100)
        if k:
            out.cutoffs["too_fast_percentile"] = float(seconds[k])
    return out


def _code_outcome(m: Match, terms: Terms, settings: Settings) -> tuple[list[str], list[str]]:
    """Reasons and notes from the entered completion code, on panels whose codes name outcomes."""
    if terms.code_outcomes is None:
        return [], []
    code = m.submission.entered_code.strip()
    if not code or code.upper() == NO_CODE:
        return ["no_code"], ["no completion code entered"]
    outcome = terms.code_outcomes.get(normalize(code))
    if outcome is None:
        return ["bad_code"], [f"completion code {_cut(code)!r} is not in [{settings.wave.platform}] "
                              "completion_codes"]
    if outcome == "failed_check":
        return ["attention_failed"], [f"completion code {code} means a failed check"]
    return [], []


def decide(m: Match, settings: Settings, terms: Terms, pace: Speed,
           found: Sequence[str] = ()) -> tuple[Decision, list[str], list[str], str, list[str]]:
    """(decision, reasons, notes, feedback, the rules that rejected it) for one match as if
    it were awaiting the requester; `found` are reasons already found elsewhere (the bonus
    column's). The rules are named as `bridge.safety.RULES` names them."""
    rules = settings.rules
    code_reasons, notes = _code_outcome(m, terms, settings)
    reasons = list(m.reasons) + code_reasons + list(found)
    notes = list(m.notes) + notes
    decision = Decision.APPROVE
    feedback = ""
    rejecting: list[str] = []

    def policy(name: str, text: str, rule: str) -> None:
        nonlocal decision, feedback
        chosen = Decision(name)
        if chosen is Decision.REJECT:
            rejecting.append(rule)
            if not feedback:
                feedback = text
        decision = _worst(decision, chosen)

    if m.kind is MatchKind.NONE:
        policy(rules.unmatched, rules.reject_feedback, "unmatched")
    for reason in ALWAYS_REVIEW:
        if reason in reasons:
            decision = Decision.REVIEW
    if "attention_failed" in code_reasons:
        policy(rules.attention_failed, rules.attention_feedback, "failed_check code")
    r = m.response
    if r is not None:
        if pace.cutoffs:
            if r.duration_seconds is None:
                reasons.append("duration_unknown")
                decision = _worst(decision, Decision.REVIEW)
            elif fired := pace.fired(r.duration_seconds):
                reasons.append("too_fast")
                notes.append(f"{r.duration_seconds}s < " + ", ".join(f"{pace.cutoffs[f]:.0f}s ({f})" for f in fired))
                chosen = rules.too_fast
                if chosen == "reject" and terms.speed_reject_min_sd is not None and "too_fast_sd" not in fired:
                    chosen = "review"
                    notes.append(f"{terms.panel} allows a rejection for speed only more than "
                                 f"{terms.speed_reject_min_sd:g} standard deviations below the mean")
                policy(chosen, rules.too_fast_feedback, "too_fast")
        failed = [c.column for c in rules.attention_checks if not c.passes(r.fields.get(c.column, ""))]
        if failed:
            reasons.append("attention_failed")
            notes.append("failed: " + ", ".join(failed))
            policy(rules.attention_failed, rules.attention_feedback, "attention_failed")
    if decision is not Decision.REJECT:
        feedback = ""
    return decision, list(dict.fromkeys(reasons)), notes, feedback, rejecting


def rejection_category(reasons: Sequence[str], terms: Terms) -> str:
    """The category a rejection for these reasons carries on panels that require one: the
    first reason that has one, else OTHER."""
    if terms.rejection_categories is None:
        return ""
    for reason in reasons:
        if reason in terms.rejection_categories:
            return terms.rejection_categories[reason]
    return "OTHER"


# A rejection's message by the reason it is for (SPEC 4.2): the config key that holds it.
FEEDBACK_KEYS = {"too_fast": "too_fast_feedback", "attention_failed": "attention_feedback",
                 "unmatched": "reject_feedback"}


def configured_feedback(reasons: Sequence[str], settings: Settings) -> str:
    """The configured rejection message for the first of `reasons` that has one; "" when
    none has (a person must write it)."""
    for reason in reasons:
        if reason in FEEDBACK_KEYS:
            return getattr(settings.rules, FEEDBACK_KEYS[reason])
    return ""


def _bonus(m: Match, settings: Settings,
           memo: dict[str, tuple[Decimal | None, list[str], list[str]]] | None = None,
           ) -> tuple[Decimal | None, list[str], list[str]]:
    """The bonus a response asks for, rounded to cents; with reasons and notes. `memo`
    (memory, issue 11) keeps the answer for each short text, so the many rows that ask for
    the same bonus share one Decimal; the lists returned are the caller's own."""
    column = settings.bonus.column
    r = m.response or m.candidate  # a near miss shows its candidate's bonus (SPEC 4.2)
    if column is None or r is None:
        return None, [], []
    text = r.fields.get(column, "").strip()
    if not text:
        return None, [], []
    if memo is None:
        return _bonus_of(text)
    known = memo.get(text)
    if known is None:
        known = memo[text] = _bonus_of(text)
    amount, reasons, notes = known
    return amount, list(reasons), list(notes)


def _bonus_of(text: str) -> tuple[Decimal | None, list[str], list[str]]:
    try:
        amount = parse_amount(text)
    except AmountError:
        return None, ["bonus_invalid"], [f"bonus {_cut(text)!r} is not an amount"]
    if amount < 0:
        return None, ["bonus_invalid"], [f"bonus {_cut(text)!r} is negative"]
    if amount == 0:
        return None, [], []
    if has_sub_cent(amount):
        return to_cents(amount), ["bonus_rounded"], [f"bonus {_cut(text)} rounded to {to_cents(amount)}"]
    return to_cents(amount), [], []


def _by_state(m: Match, decision: Decision, reasons: list[str], notes: list[str], feedback: str,
              terms: Terms) -> tuple[Decision, str]:
    """The decision once the submission's state on the panel is taken into account."""
    s = m.submission
    if s.state is State.PENDING:
        return decision, feedback
    if s.state in _DECIDED:
        reasons.append("not_submitted")
        had = _DECIDED[s.state]
        notes.append(f"already {s.status} on {terms.panel}; not sent again"
                     + (f" (the rules say {decision.value})" if decision is not had else ""))
        return had, ""
    # Nothing is decided for work the participant ended or is still doing: whether its code
    # or response would have passed is moot.
    reasons[:] = [r for r in reasons if r not in _MOOT]
    if s.state in ENDED:
        reasons.append(ENDED[s.state])
        if m.response is not None and m.response.finished:
            reasons.append("returned_with_response")
            notes.append(f"{s.status} on {terms.panel} with a finished survey response: a bonus can pay for it")
            return Decision.REVIEW, ""
        notes.append(f"{s.status} on {terms.panel}; nothing to decide, nothing is sent")
        return Decision.NONE, ""
    reasons.append("in_progress" if s.state is State.IN_PROGRESS else "unknown_status")
    notes.append(f"{_cut(s.status)} on {terms.panel}; nothing is sent")
    return Decision.REVIEW, ""


def build_plan(result: MatchResult, settings: Settings, table: SubmissionTable, terms: Terms, now: datetime,
               *, environment: str, release: bool = False) -> Plan:
    """The Plan for a matched wave. `release` (memory, issue 11): `result` is the caller's no
    more: each match and unmatched response is let go as soon as its row of the plan is made
    (its lists are left empty), so the two never all stand side by side."""
    decisions: list[SubmissionDecision] = []
    cap = settings.bonus.max_per_worker
    paid_to: dict[str, Decimal] = defaultdict(Decimal)
    responses = finished_matched(result)
    seconds = sorted(r.duration_seconds for r in responses if r.duration_seconds is not None)
    pace = speed(seconds, settings)
    condition_column = settings.report.condition_column
    pictures = SurveyPictures(checks=check_counts(responses, settings.rules.attention_checks),
                              responses=len(responses), condition_column=condition_column or "")
    del responses  # memory: the responses go with their matches (`release`)
    shared: dict[str, int] = defaultdict(int)  # response id -> submissions matched to it
    for m in result.matches:
        if m.response is not None:
            shared[m.response.response_id] += 1
    matched_responses = len(shared)
    bonuses: dict[str, tuple[Decimal | None, list[str], list[str]]] = {}  # memory: one Decimal per bonus text
    texts: dict[str, str] = {}  # memory: one object per distinct note
    rejecting: dict[int, list[str]] = {}  # pending rejections: the rules that made them (bridge.safety)
    withheld: dict[int, Decimal] = {}  # the bonus a rejection took away
    matches, pairs = result.matches, result.unmatched
    if release:
        result.matches, result.unmatched = [], []
    for i, m in enumerate(matches):
        if release:
            matches[i] = None  # the Match goes once its decision is made
        s = m.submission
        bonus, b_reasons, b_notes = _bonus(m, settings, bonuses)
        decision, reasons, notes, feedback, rejected_by = decide(m, settings, terms, pace, b_reasons)
        notes += b_notes
        decision, feedback = _by_state(m, decision, reasons, notes, feedback, terms)
        if decision is Decision.REJECT and s.state is State.PENDING and rejected_by:
            rejecting[i] = rejected_by
        if bonus is not None and m.response is not None and shared[m.response.response_id] > 1:
            # Approving each of them would pay the one response's bonus once per row (SPEC 4.2).
            notes.append(f"response asked for a bonus of {bonus}; not carried on a shared code")
            bonus = None
        if bonus is not None and decision in (Decision.REJECT, Decision.NONE):
            notes.append(f"bonus {bonus} not paid: work not approved")
            if i in rejecting:
                withheld[i] = bonus
            bonus = None
        if bonus is not None and cap is not None:
            room = max(Decimal("0.00"), cap - paid_to[s.participant_id])
            if bonus > room:
                reasons.append("bonus_capped")
                notes.append(f"bonus {bonus} capped at {room} (max_per_worker {cap})")
                bonus = room if room > 0 else None
        if bonus is not None and decision is Decision.APPROVE:
            paid_to[s.participant_id] += bonus
        task = table.tasks.get(s.task_id)
        # The task's own reward (file or API) is what the panel pays; the config's is the
        # fallback when the source does not say.
        reward = task.reward if task is not None and task.reward is not None else settings.wave.reward
        response = m.response or m.candidate
        decisions.append(SubmissionDecision(
            submission_id=s.submission_id,
            participant_id=s.participant_id,
            task_id=s.task_id,
            state=s.state,
            status=s.status,
            entered_code=s.entered_code,
            response_id=response.response_id if response else "",
            match=m.kind,
            decision=decision,
            bonus=bonus,
            reasons=list(dict.fromkeys(reasons)),
            feedback=feedback,
            notes=[texts.setdefault(n, n) for n in notes],
            reward=reward,
            auto_approval_time=s.auto_approval_time,
            duration_seconds=m.response.duration_seconds if m.response else None,
            time_taken_seconds=s.time_taken_seconds,
            condition=texts.setdefault(c := _cut(m.response.fields.get(condition_column, "").strip()), c)
            if condition_column and m.response else "",
            rejection_category=rejection_category(reasons, terms) if decision is Decision.REJECT
            and s.state is State.PENDING else "",
            decided_at=s.approved_at if s.state is State.APPROVED else s.rejected_at if s.state is State.REJECTED
            else None,
        ))
    del paid_to, shared, bonuses, texts
    if release:
        del matches
    # SPEC §12: a plan that would reject many at once goes to a person instead.
    gates = apply_gates(decisions, rejecting, withheld, settings, terms,
                        settings.panel.match_options(settings).key_column)
    del rejecting, withheld
    paid = paid_time(decisions)
    top_up(decisions, settings.fair_pay.hourly, paid, terms)
    survey = settings.survey
    code_column = survey.code_column or ""
    participant_column = survey.participant_column
    unmatched = []
    for i, (r, why) in enumerate(pairs):
        if release:
            pairs[i] = None
        unmatched.append(UnmatchedResponse(
            response_id=r.response_id,
            code=r.fields.get(code_column, "") if code_column else "",
            participant_id=r.fields.get(participant_column, "") if participant_column else "",
            finished=r.finished,
            duration_seconds=r.duration_seconds,
            reasons=why,
        ))
    del pairs
    plan = Plan(
        wave=settings.wave.name,
        environment=environment,
        now=now,
        terms=terms,
        decisions=decisions,
        unmatched_responses=unmatched,
        qualifications=qualifications_for(decisions, settings),
        tasks=table.tasks,
        bonus_reason=settings.bonus.reason,
        survey_responses=matched_responses + len(unmatched),
        figures=[(f"Too fast below (seconds), {rule}", round(cut, 1)) for rule, cut in pace.cutoffs.items()],
    )
    if pace.median_seconds is not None:
        plan.figures.append(("Median survey seconds (finished, matched)", round(pace.median_seconds, 1)))
    plan.figures += gates.figures
    pictures.times = time_chart(seconds, time_markers(pace.cutoffs, pace.median_seconds, paid, terms,
                                                      settings.fair_pay.hourly, decisions))
    plan.pictures = pictures
    del seconds
    plan.compensations = compensations_for(decisions, unmatched, settings, terms)
    n = settings.notify
    if n.eligible_message and settings.qualifications.eligible_worker:
        plan.invite = Invite(n.eligible_subject or "", n.eligible_message)
    # `[mturk] expire_hits` (a panel's key; a panel without it never expires anything).
    plan.expire_tasks = bool(getattr(getattr(settings, settings.wave.platform, None), "expire_hits", False))
    plan.warnings = gates.warnings + plan_warnings(plan, settings, now)
    return plan


def plan_warnings(plan: Plan, settings: Settings, now: datetime) -> list[str]:
    warnings: list[str] = []
    panel = plan.terms.panel
    pending = [d for d in plan.decisions if d.state is State.PENDING]
    review = [d for d in plan.decisions if d.decision is Decision.REVIEW]  # the Summary's one review count
    if review:
        warnings.append(_auto_approval_warning(review, "need review", plan.terms, settings, now))
    late = [d for d in pending if d.decision is Decision.REJECT and d.auto_approval_time is not None
            and d.auto_approval_time <= now + timedelta(hours=settings.rules.auto_approval_warning_hours)]
    if late:
        warnings.append(_auto_approval_warning(late, "are planned for rejection", plan.terms, settings, now))
    unknown = Counter(d.entered_code.strip() for d in plan.decisions if "bad_code" in d.reasons)
    if unknown:
        shown = ", ".join(f"{code!r} ({n})" for code, n in unknown.most_common(5))
        warnings.append(
            f"{sum(unknown.values())} {plan.terms.submission_word}(s) entered a completion code that "
            f"[{settings.wave.platform}] completion_codes does not list: {shown}. They are in review; if a code is "
            "one of the study's, add it to completion_codes and run the close-out again.")
    capped = sum("bonus_capped" in d.reasons for d in plan.decisions)
    if capped:
        warnings.append(f"{capped} bonus(es) capped at max_per_worker {settings.bonus.max_per_worker}.")
    rounded = sum("bonus_rounded" in d.reasons for d in plan.decisions)
    if rounded:
        warnings.append(f"{rounded} bonus(es) had more than two decimals and were rounded half-up to the cent.")
    invalid = sum("bonus_invalid" in d.reasons for d in plan.decisions)
    if invalid:
        warnings.append(f"{invalid} bonus amount(s) were negative or unreadable; those submissions are in review.")
    configured = settings.wave.reward
    differing = sorted(t.task_id for t in plan.tasks.values() if configured is not None
                       and t.reward not in (None, configured))
    if differing:
        warnings.append(
            f"[wave] reward {configured} differs from the reward {panel} has for {', '.join(differing[:3])}; "
            f"{panel}'s reward is used."
        )
    if any(d.reward is None for d in plan.decisions):
        warnings.append("The reward of some submissions is unknown: set [wave] reward so the cost can be shown.")
    by_hand = [c for c in plan.compensations if c.amount is None]
    if by_hand:
        warnings.append(
            f"{len(by_hand)} participant(s) finished the survey but cannot be paid through {panel}'s API "
            f"([compensation]): a person must pay them; the Unmatched responses sheet says why for each.")
    return warnings


def _auto_approval_warning(rows: list[SubmissionDecision], what: str, terms: Terms, settings: Settings,
                           now: datetime) -> str:
    """`rows` (all of them counted) and when the panel auto-approves those still awaiting
    review: the others (returned, in progress) it never approves on its own."""
    panel, words = terms.panel, f"{terms.submission_word}(s)"
    waiting = [d for d in rows if d.state is State.PENDING]
    count = f"{len(rows)} {words} {what}"
    if len(waiting) < len(rows):
        if not waiting:
            return f"{count}; none of them awaits review on {panel}, so none is auto-approved."
        count += f"; {len(waiting)} of them await review on {panel}"
    times = sorted(d.auto_approval_time for d in waiting if d.auto_approval_time is not None)
    if not times:
        return f"{count} before {panel} auto-approves {'them' if len(waiting) == len(rows) else 'those'}."
    first = times[0]
    if first <= now:
        return (f"{count}; {panel}'s auto-approval time has already passed for "
                f"{sum(t <= now for t in times)} of them (they are approved and paid as they stand).")
    hours = settings.rules.auto_approval_warning_hours
    soon = sum(t - now <= timedelta(hours=hours) for t in times)
    return (f"{count}; {panel} auto-approves the first at {first:%Y-%m-%d %H:%M} UTC "
            f"(in {_span(first - now)})" + (f"; {soon} within {hours} hours." if soon else "."))


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours < 48 else f"{hours / 24:.1f} days"
