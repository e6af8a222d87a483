"""The numbers behind the Charts sheet and the terminal's sparkline (SPEC §15), pure.

A PI judges thresholds: the speed cut-offs, the attention checks, the fair-pay floor. The
planner (`bridge.rules.build_plan`) counts what only the survey answers can tell: the
completion times of the finished, matched responses as a histogram with each threshold
marked (`time_chart`) and each attention check's passes (`check_counts`), into the plan's
`SurveyPictures`. The decisions are counted from the plan as the workbook
shows them (`reasons_by_decision`, `conditions_by_decision`), so a person's edits carried
over are counted too. Everything here is a few dozen numbers, whatever the wave's size.

Histogram bins (`time_chart`): the Freedman-Diaconis width (2 IQR / n^(1/3)) rounded up to
a round number of seconds or minutes, between 6 and 30 bins, from a round edge at or below
the quickest time (or the lowest marker) up to the slowest time within the far-out fence
Q3 + 3 IQR; the times beyond it share one last bin ("and over"), so one participant who left the tab open does
not squash the plot.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from decimal import Decimal

from bridge.config import AttentionCheck
from bridge.match import MatchResult
from bridge.models import Decision, Response, SubmissionDecision, Terms, TimeChart
from bridge.pay_time import PaidTime

# Round bin widths, in seconds: seconds, then minutes, then hours.
ROUND_WIDTHS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 14400, 43200, 86400)
MIN_BINS, MAX_BINS = 6, 30
MAX_CONDITIONS = 12  # the rest are one bar, "other"
NO_REASON = "(no rule fired)"
# Reasons that state a fact about pay, not why a decision was made: not counted as reasons.
PAY_FACTS = frozenset({"pay_top_up", "bonus_rounded", "bonus_capped"})
NO_CONDITION = "(no response or blank)"
BLOCKS = "▁▂▃▄▅▆▇█"
ASCII_BLOCKS = ".:-=+*#@"
CUT = "▲"


def finished_matched(result: MatchResult) -> list[Response]:
    """Each finished survey response a submission matched, once (a shared code matches one
    response to several submissions)."""
    return list({m.response.response_id: m.response for m in result.matches
                 if m.response is not None and m.response.finished}.values())


def check_counts(responses: Sequence[Response], checks: Sequence[AttentionCheck]) -> list[tuple[str, int, int]]:
    """(column, passed, failed) of each attention check among `responses`."""
    out = []
    for check in checks:
        answers = Counter(r.fields.get(check.column, "") for r in responses)  # a few distinct answers
        passed = sum(n for answer, n in answers.items() if check.passes(answer))
        out.append((check.column, passed, sum(answers.values()) - passed))
    return out


def _quantile(ordered: Sequence[float], q: float) -> float:
    """The q-quantile of sorted values, interpolated (R's type 7, numpy's default)."""
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def time_chart(seconds: Sequence[float], markers: Sequence[tuple[str, str, float]] = ()) -> TimeChart | None:
    """The histogram of `seconds` (sorted ascending), its range taking in `markers` (kind,
    label, seconds; see `TimeChart`); None without times. See the module docstring for the bins."""
    if not seconds:
        return None
    n, top = len(seconds), seconds[-1]
    q1, q3 = _quantile(seconds, 0.25), _quantile(seconds, 0.75)
    iqr = q3 - q1
    # The slowest time within the far-out fence: the plot ends there, the rest share one bin.
    fence = seconds[bisect.bisect_right(seconds, q3 + 3 * iqr) - 1] if iqr > 0 else top
    # A marker far beyond the times (a generous fair-pay duration) would squash them too.
    shown = [at for _, _, at in markers if 0 <= at <= 2 * max(fence, 1)]
    lo, hi = min([seconds[0], *shown]), max([fence, *shown])
    raw = 2 * iqr / n ** (1 / 3) if iqr > 0 else (hi - lo) / 10

    def bins(width: float) -> int:
        start = math.floor(lo / width) * width
        return math.floor((hi - start) / width) + 1

    i = next((k for k, w in enumerate(ROUND_WIDTHS) if w >= raw and bins(w) <= MAX_BINS), len(ROUND_WIDTHS) - 1)
    while i > 0 and bins(ROUND_WIDTHS[i]) < MIN_BINS and bins(ROUND_WIDTHS[i - 1]) <= MAX_BINS:
        i -= 1
    width = ROUND_WIDTHS[i]
    start = math.floor(lo / width) * width
    k = bins(width)
    over = top >= start + k * width
    counts = [0] * (k + over)
    last = len(counts) - 1
    for t, n in Counter(seconds).items():  # times are whole seconds: far fewer values than times
        counts[min(int((t - start) // width), last)] += n
    edges = [float(start + j * width) for j in range(len(counts) + 1)]
    return TimeChart(edges=edges, counts=counts, over=over,
                     markers=[(kind, label, float(at)) for kind, label, at in markers])


def time_markers(cutoffs: dict[str, float], median: float | None, paid: PaidTime, terms: Terms,
                 hourly: Decimal | None, decisions: Sequence[SubmissionDecision]) -> list[tuple[str, str, float]]:
    """The lines on the completion-time histogram (`TimeChart.markers`): each speed rule's
    cut-off, the survey's median, the panel's median paid time, and the time up to which
    the usual reward meets `[fair_pay] hourly`."""
    out = [("cutoff", rule, cut) for rule, cut in cutoffs.items()]
    if median is not None:
        out.append(("median", "median survey time (finished, matched)", float(median)))
    if paid.panel and paid.seconds is not None:
        out.append(("paid", f"median {terms.time_name} on {terms.panel} (approved)", float(paid.seconds)))
    rewards = Counter(d.reward for d in decisions if d.reward is not None)
    if hourly and rewards:
        reward = rewards.most_common(1)[0][0]
        out.append(("fair_pay", f"reward {reward} {terms.currency} meets {hourly}/hour up to",
                    float(reward / hourly * 3600)))
    return out


def reasons_by_decision(decisions: Iterable[SubmissionDecision]) -> list[tuple[str, Counter]]:
    """(reason, decisions by kind) for every reason given, most frequent first, after the
    submissions no rule flagged. A submission counts under each of its reasons; facts about
    pay (`PAY_FACTS`: a top-up, a rounded or capped bonus) are not reasons for a decision."""
    counts: dict[str, Counter] = {}
    # memory and time: the decisions share a few lists of reasons; each is looked at once
    for (reasons, decision), n in Counter((tuple(d.reasons), d.decision) for d in decisions).items():
        for reason in [r for r in reasons if r not in PAY_FACTS] or (NO_REASON,):
            counts.setdefault(reason, Counter())[decision] += n
    clean = counts.pop(NO_REASON, None)
    ordered = sorted(counts.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    return ([(NO_REASON, clean)] if clean else []) + ordered


def conditions_by_decision(decisions: Iterable[SubmissionDecision]) -> list[tuple[str, Counter]]:
    """(condition, decisions by kind), most frequent first; past MAX_CONDITIONS values the
    rest are one `other` row (a free-text column must not make a thousand bars)."""
    counts: dict[str, Counter] = {}
    for (condition, decision), n in Counter((d.condition, d.decision) for d in decisions).items():
        counts.setdefault(condition or NO_CONDITION, Counter())[decision] += n
    ordered = sorted(counts.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    if len(ordered) <= MAX_CONDITIONS:
        return ordered
    rest: Counter = Counter()
    for _, c in ordered[MAX_CONDITIONS - 1:]:
        rest.update(c)
    return ordered[: MAX_CONDITIONS - 1] + [(f"other ({len(ordered) - MAX_CONDITIONS + 1} values)", rest)]


def decision_kinds(rows: Iterable[tuple[str, Counter]]) -> list[Decision]:
    """The kinds of decision the rows hold, in the Decision enum's order."""
    present = set()
    for _, c in rows:
        present.update(k for k, v in c.items() if v)
    return [kind for kind in Decision if kind in present]


def _seconds(value: float) -> str:
    return f"{value:,.0f} s"


def sparkline(chart: TimeChart, *, ascii_only: bool = False) -> list[str]:
    """Two lines of text: the histogram's bins as block characters between the seconds at
    both ends, and under it a mark beneath the bin of each speed cut-off, named."""
    blocks, cut = (ASCII_BLOCKS, "^") if ascii_only else (BLOCKS, CUT)
    peak = max(chart.counts) or 1
    bars = "".join(" " if c == 0 else blocks[max(1, math.ceil(c / peak * len(blocks))) - 1] for c in chart.counts)
    head = f"{_seconds(chart.edges[0])} "
    tail = f" {chart.edges[-2]:,.0f} s and over" if chart.over else f" {_seconds(chart.edges[-1])}"
    lines = [head + bars + tail]
    width = chart.edges[1] - chart.edges[0]
    marks = [" "] * len(bars)
    named = []
    for kind, label, at in chart.markers:
        if kind != "cutoff":
            continue
        i = math.floor((at - chart.edges[0]) / width)
        if 0 <= i < len(bars) - chart.over:
            marks[i] = cut
            named.append(f"{label} {_seconds(at)}")
    if named:
        lines.append(" " * len(head) + "".join(marks).rstrip() + "  " + ", ".join(named))
    return lines
