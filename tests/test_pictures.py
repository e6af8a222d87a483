"""The numbers behind the Charts sheet and the sparkline (SPEC §15), pure: histogram bins,
reasons and conditions by decision, the text sparkline."""

from __future__ import annotations

import random

import pytest

from bridge.models import Decision, MatchKind, State, SubmissionDecision, TimeChart
from bridge.pictures import (
    MAX_BINS,
    MAX_CONDITIONS,
    MIN_BINS,
    NO_REASON,
    ROUND_WIDTHS,
    conditions_by_decision,
    reasons_by_decision,
    sparkline,
    time_chart,
)


def _in_bins(chart: TimeChart, seconds: list[float]) -> list[int]:
    """Count each time into the chart's bins by their edges, as a reader of the sheet would."""
    counts = [0] * len(chart.counts)
    for t in seconds:
        for i in range(len(chart.counts)):
            last = i == len(chart.counts) - 1
            if chart.edges[i] <= t and (t < chart.edges[i + 1] or (last and chart.over)):
                counts[i] += 1
                break
    return counts


@pytest.mark.parametrize("n, seed", [(7, 1), (40, 2), (300, 3), (20000, 4)])
def test_bins_are_round_hold_every_time_and_stay_readable(n, seed):
    rng = random.Random(seed)
    seconds = sorted(max(60, int(rng.lognormvariate(6.4, 0.35))) for _ in range(n))
    chart = time_chart(seconds)
    width = chart.edges[1] - chart.edges[0]
    assert width in ROUND_WIDTHS and all(e % width == 0 for e in chart.edges)
    assert all(b - a == width for a, b in zip(chart.edges, chart.edges[1:]))
    assert MIN_BINS <= len(chart.counts) <= MAX_BINS + 1
    assert sum(chart.counts) == n and chart.counts == _in_bins(chart, seconds)


def test_an_outlier_goes_to_a_last_bin_and_over_instead_of_squashing_the_plot():
    seconds = sorted([500 + i for i in range(0, 300, 3)] + [86_000])  # one tab left open for a day
    chart = time_chart(seconds)
    assert chart.over and chart.counts[-1] == 1
    assert chart.edges[-2] < 1_000  # the plot ends near the others, not at a day
    assert sum(chart.counts) == len(seconds) and chart.counts == _in_bins(chart, seconds)


def test_markers_widen_the_range_to_be_seen_unless_absurd():
    seconds = sorted(range(400, 800, 4))
    chart = time_chart(seconds, [("cutoff", "min_duration_seconds", 60.0), ("fair_pay", "fair", 5000.0),
                                 ("cutoff", "too_fast_sd", -30.0)])
    assert chart.edges[0] <= 60 < chart.edges[1] and chart.edges[-1] < 5000  # 5000 s is far beyond: not shown
    assert [m[1] for m in chart.markers] == ["min_duration_seconds", "fair", "too_fast_sd"]  # all kept, in order
    assert sum(chart.counts) == len(seconds)


@pytest.mark.parametrize("seconds", [[600], [600, 600, 600], [0, 0], [5, 5000]])
def test_degenerate_times_still_make_a_chart(seconds):
    chart = time_chart(sorted(seconds))
    assert sum(chart.counts) == len(seconds) and chart.counts == _in_bins(chart, sorted(seconds))


def test_no_times_no_chart():
    assert time_chart([]) is None


def _d(decision: Decision, reasons: list[str], condition: str = "") -> SubmissionDecision:
    return SubmissionDecision("s", "p", "t", State.PENDING, "Submitted", "", "", MatchKind.EXACT, decision, None,
                              reasons, "", condition=condition)


def test_reasons_count_each_decision_under_each_reason_and_pay_facts_are_not_reasons():
    rows = reasons_by_decision([
        _d(Decision.APPROVE, []), _d(Decision.APPROVE, ["pay_top_up"]), _d(Decision.REJECT, ["too_fast"]),
        _d(Decision.REVIEW, ["too_fast", "attention_failed"]), _d(Decision.REJECT, ["attention_failed"]),
        _d(Decision.REJECT, ["attention_failed", "bonus_rounded"]),
    ])
    assert [(r, dict(c)) for r, c in rows] == [
        (NO_REASON, {Decision.APPROVE: 2}),
        ("attention_failed", {Decision.REVIEW: 1, Decision.REJECT: 2}),
        ("too_fast", {Decision.REJECT: 1, Decision.REVIEW: 1}),
    ]


def test_a_free_text_condition_column_makes_at_most_a_dozen_bars():
    decisions = [_d(Decision.APPROVE, [], condition=f"answer {i % 40}") for i in range(400)]
    decisions += [_d(Decision.REJECT, [], condition="control")] * 50
    rows = conditions_by_decision(decisions)
    assert len(rows) == MAX_CONDITIONS and rows[0][0] == "control"
    assert rows[-1][0] == f"other ({40 - MAX_CONDITIONS + 2} values)"
    assert sum(sum(c.values()) for _, c in rows) == 450


def test_sparkline_marks_the_bin_of_each_cut_off():
    chart = TimeChart(edges=[0, 60, 120, 180, 240, 300, 360], counts=[1, 0, 2, 8, 4, 1],
                      markers=[("cutoff", "min_duration_seconds", 90.0), ("median", "median", 200.0),
                               ("cutoff", "too_fast_sd", 250.0)])
    line, marks = sparkline(chart)
    head = "0 s "
    assert line == head + "▁ ▂█▄▁" + " 360 s"
    assert marks.index("▲") == len(head) + 1 and marks.rindex("▲") == len(head) + 4  # 90 s and 250 s
    assert marks.endswith("min_duration_seconds 90 s, too_fast_sd 250 s") and "median" not in marks
    ascii_line, ascii_marks = sparkline(chart, ascii_only=True)
    assert ascii_line.isascii() and ascii_marks.isascii() and ascii_marks.count("^") == 2


def test_sparkline_says_where_the_last_bin_holds_the_rest():
    chart = TimeChart(edges=[0, 60, 120, 180], counts=[3, 5, 1], over=True)
    assert sparkline(chart) == ["0 s ▅█▂ 120 s and over"]
