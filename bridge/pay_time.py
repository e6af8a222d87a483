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

from bridge.models import Decision, SubmissionDecision, Terms


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
