"""The time a wave's participants are paid for (SPEC §8), pure.

Participants are paid for the time the panel counts: Prolific's `Time taken` (from the start
of the study to the submission, with the study page, the redirects and the code), MTurk's
`WorkTimeInSeconds`. Prolific's own pay-rate check and underpay alert use it. It is longer
than the survey's duration, so a wage or a top-up computed from the survey overstates what
participants earn. The effective hourly wage and the `[fair_pay]` top-up therefore use the
panel's time where it gives one and the survey's duration only where it does not; the speed
cut-offs keep judging the survey's duration (engagement with the survey, not the time paid).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from bridge.models import Decision, State, SubmissionDecision, Terms
from bridge.money import to_cents


@dataclass(frozen=True, slots=True)
class PaidTime:
    """The time the wage and the [fair_pay] top-up count (SPEC §8): the median, over the
    approved submissions, of the panel's own time (the time it pays for and checks its pay
    floor with), or the survey's duration where the panel gave none. Approved work only:
    it is the work being paid, and rejected speeders would pull the median down."""

    seconds: float | None  # None: nothing approved has a time
    panel: int = 0  # approved submissions timed by the panel
    survey: int = 0  # approved submissions the panel gave no time for: the survey's duration


def paid_time(decisions: Sequence[SubmissionDecision]) -> PaidTime:
    times, panel = [], 0
    for d in decisions:
        if d.decision is Decision.APPROVE:
            if d.time_taken_seconds is not None and d.time_taken_seconds > 0:
                times.append(d.time_taken_seconds)
                panel += 1
            elif d.duration_seconds is not None:
                times.append(d.duration_seconds)
    return PaidTime(statistics.median(times) if times else None, panel, len(times) - panel)


def basis(paid: PaidTime, terms: Terms) -> str:
    """Which time the wage and the top-up used, for the Summary."""
    if paid.seconds is None:
        return "n/a (nothing approved has a time)"
    median = f"median {paid.seconds:,.0f} s of {paid.panel + paid.survey} approved {terms.submission_word}(s)"
    if not paid.panel:
        return f"the survey's duration ({median}): {terms.panel} gave no {terms.time_name}"
    if paid.survey:
        return (f"{terms.panel}'s {terms.time_name} ({median}), the survey's duration for {paid.survey} "
                f"approved {terms.submission_word}(s) {terms.panel} gave no time for")
    return f"{terms.panel}'s {terms.time_name} ({median})"


def top_up(decisions: list[SubmissionDecision], hourly: Decimal | None, paid: PaidTime, terms: Terms) -> None:
    """`[fair_pay] hourly` (`hourly`): a top-up bonus for every approved submission whose reward falls
    below that rate at the median time paid for (`PaidTime`: the panel's, else the
    survey's; `pay_top_up`, whole cents, half-up). Added to the submission's bonus: one
    bonus per submission per wave."""
    if hourly is None or paid.seconds is None:
        return
    owed_per_submission = hourly * Decimal(str(paid.seconds)) / 3600
    timed = f"{terms.panel}'s median {terms.time_name}" if paid.panel else "the median survey time"
    gaps: dict[Decimal, tuple[Decimal, str]] = {}
    for d in decisions:
        if d.decision is not Decision.APPROVE or d.reward is None or d.state is State.REJECTED:
            continue
        gap = to_cents(owed_per_submission - d.reward)
        if gap > 0:
            known = gaps.get(gap)
            if known is None:  # memory: one Decimal and one note per top-up amount, not per submission
                known = gaps[gap] = (gap, f"top-up {gap} to {hourly}/hour at {timed} of "
                                          f"{paid.seconds / 60:.1f} minutes")
            gap, note = known
            # `gap` has two places, as 0.00 + gap would: the same value, one object less
            d.bonus = gap if d.bonus is None else d.bonus + gap
            d.top_up = gap
            d.reasons.append("pay_top_up")
            d.notes.append(note)
