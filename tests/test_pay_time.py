"""The wage and the [fair_pay] top-up count the time the panel pays for (SPEC §8): Prolific's
`Time taken`, MTurk's `WorkTimeInSeconds`; the survey's duration only where the panel gives
none, and the Summary says which. The speed cut-offs keep judging the survey's duration."""

from __future__ import annotations

import csv
import shutil
import statistics
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from builders import NOW, asg, mturk, presp, prolific_settings, resp, settings, study, sub, survey
from openpyxl import load_workbook
from paths import SAMPLE

from bridge.closeout import close_out
from bridge.config import load_config
from bridge.match import match_wave
from bridge.models import Decision
from bridge.rules import build_plan
from bridge.workbook.write import summary_rows

FAIR = '[fair_pay]\nhourly = "9.00"\n'


def _plan(s, table, responses):
    panel = s.panel
    return build_plan(match_wave(table, survey(*responses), panel.match_options(s)), s, table,
                      panel.terms(s, table), NOW, environment=panel.environment(s))


def prolific_wave(tmp_path, taken: list[int | None], durations: list[int], config: str = FAIR, reward="1.25"):
    pids = [f"5f{i:022x}" for i in range(len(taken))]
    s = prolific_settings(tmp_path, config)
    table = study(*(sub(p, taken=t) for p, t in zip(pids, taken)), reward=reward)
    return _plan(s, table, [presp(p, duration=d) for p, d in zip(pids, durations)])


def mturk_wave(tmp_path, taken: list[int | None], durations: list[int], config: str = FAIR, reward="1.50"):
    codes = [str(1000000 + i) for i in range(len(taken))]
    s = settings(tmp_path, config)
    table = mturk(*(asg(c, taken=t) for c, t in zip(codes, taken)), reward=reward)
    return _plan(s, table, [resp(c, duration=d) for c, d in zip(codes, durations)])


def summary(plan) -> dict:
    rows, warnings = summary_rows(plan)
    return {**dict(rows), "warnings": warnings}


def test_prolific_wage_and_top_up_use_time_taken(tmp_path):
    # Survey: 10 minutes; Prolific's Time taken: 12 minutes. 9.00/hour at 12 minutes owes
    # 1.80 of a 1.25 reward: a top-up of 0.55 (at the survey's 10 minutes it would be 0.25).
    plan = prolific_wave(tmp_path, [720, 720], [600, 600])
    assert [d.top_up for d in plan.decisions] == [Decimal("0.55"), Decimal("0.55")]
    assert all("at Prolific's median Time taken of 12.0 minutes" in " ".join(d.notes) for d in plan.decisions)
    got = summary(plan)
    assert got["Median survey minutes (approved)"] == 10.0
    assert got["Median Time taken on Prolific (minutes, approved)"] == 12.0
    assert got["Effective hourly wage and top-ups use"] == "Prolific's Time taken (median 720 s of 2 approved " \
                                                           "submission(s))"
    assert got["Effective hourly wage (GBP)"] == Decimal("9.00")  # 1.80 per 12 minutes
    assert got["Effective hourly wage before top-ups (GBP)"] == Decimal("6.25")  # 1.25 per 12 minutes


def test_mturk_wage_and_top_up_use_work_time(tmp_path):
    # Survey: 10 minutes; WorkTimeInSeconds: 15. 9.00/hour at 15 minutes owes 2.25 of 1.50.
    plan = mturk_wave(tmp_path, [900, 900, 900], [600, 600, 600])
    assert [d.top_up for d in plan.decisions] == [Decimal("0.75")] * 3
    got = summary(plan)
    assert got["Median WorkTimeInSeconds on MTurk (minutes, approved)"] == 15.0
    assert got["Effective hourly wage and top-ups use"].startswith("MTurk's WorkTimeInSeconds (median 900 s of 3")
    assert got["Effective hourly wage (USD)"] == Decimal("9.00")


def test_the_wage_warning_counts_the_panels_time(tmp_path):
    # 1.50 per 15 minutes is 6.00/hour: under the federal minimum, though 9.00 at the survey's 10 minutes.
    got = summary(mturk_wave(tmp_path, [900], [600], config=""))
    assert got["Effective hourly wage (USD)"] == Decimal("6.00")
    (warning,) = [w for w in got["warnings"] if "below the US federal minimum wage" in w]
    assert "WorkTimeInSeconds" in warning and "15.0 minutes" in warning


@pytest.mark.parametrize("wave, panel, name", [(prolific_wave, "Prolific", "Time taken"),
                                               (mturk_wave, "MTurk", "WorkTimeInSeconds")])
def test_without_panel_times_the_survey_duration_is_used_and_said(tmp_path, wave, panel, name):
    plan = wave(tmp_path, [None, None], [600, 660])
    owed = Decimal("9.00") * Decimal(630) / 3600  # at the survey's median, 630 s
    reward = plan.decisions[0].reward
    assert all(d.top_up == (owed - reward).quantize(Decimal("0.01"), ROUND_HALF_UP) for d in plan.decisions)
    assert all("at the median survey time of 10.5 minutes" in " ".join(d.notes) for d in plan.decisions)
    got = summary(plan)
    assert got["Effective hourly wage and top-ups use"] == \
        f"the survey's duration (median 630 s of 2 approved {plan.terms.submission_word}(s)): {panel} gave no {name}"
    assert got[f"Median {name} on {panel} (minutes, approved)"] == f"not given by {panel}"
    assert got["Median survey minutes (approved)"] == 10.5


def test_a_submission_without_a_panel_time_counts_its_survey_duration(tmp_path):
    plan = prolific_wave(tmp_path, [720, None, 780], [600, 600, 600])
    # Paid times 720, 600 (the survey's, the panel gave none) and 780: median 720.
    assert {d.top_up for d in plan.decisions} == {Decimal("0.55")}
    assert "the survey's duration for 1 approved submission(s) Prolific gave no time for" in \
        summary(plan)["Effective hourly wage and top-ups use"]


def test_only_approved_work_counts(tmp_path):
    # The two who failed the attention check took 60 s on Prolific; they are rejected and
    # do not pull the median paid time down.
    config = FAIR + '[rules]\nattention_checks = [ { column = "Q7", expected = "Blue" } ]\nattention_failed = ' \
                    '"reject"\nattention_feedback = "' + "x" * 100 + '"\n'
    pids = [f"5f{i:022x}" for i in range(5)]
    s = prolific_settings(tmp_path, config)
    table = study(*(sub(p, taken=t) for p, t in zip(pids, [720, 720, 720, 60, 60])), reward="1.25")
    plan = _plan(s, table, [presp(p, duration=600, Q7="Blue" if i < 3 else "Red") for i, p in enumerate(pids)])
    assert [d.decision for d in plan.decisions] == [Decision.APPROVE] * 3 + [Decision.REJECT] * 2
    assert [d.top_up for d in plan.decisions[:3]] == [Decimal("0.55")] * 3
    assert summary(plan)["Median Time taken on Prolific (minutes, approved)"] == 12.0


def test_speed_cut_offs_keep_judging_the_survey_duration(tmp_path):
    durations = [600] * 19 + [100]
    plan = prolific_wave(tmp_path, [6000] * 20, durations, config="[rules]\ntoo_fast_sd = 3\n")
    (cut,) = [v for k, v in plan.figures if "too_fast_sd" in k]
    assert cut == round(statistics.mean(durations) - 3 * statistics.stdev(durations), 1)
    assert [d.duration_seconds for d in plan.decisions if "too_fast" in d.reasons] == [100]


def _copy(folder: Path, tmp_path: Path) -> Path:
    for f in folder.iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    return tmp_path


@pytest.mark.parametrize("kind", ["prolific", "mturk"])
def test_the_sample_summaries_show_both_medians(tmp_path, kind):
    """Read the panel's times from its own file, apart from the tool's readers."""
    folder = _copy(SAMPLE / "prolific" if kind == "prolific" else SAMPLE, tmp_path)
    config = folder / ("study.toml" if kind == "prolific" else "wave.toml")
    run = close_out(load_config(config), NOW, workbook=tmp_path / "book.xlsx")
    wb = load_workbook(tmp_path / "book.xlsx")
    got = {r[0]: r[1] for r in wb["Summary"].iter_rows(min_row=2, values_only=True)}
    decisions = list(wb["Decisions"].iter_rows(values_only=True))
    head = decisions[0]
    approved = [dict(zip(head, r)) for r in decisions[1:] if r[head.index("Decision")] == "approve"]
    if kind == "prolific":
        (export,) = folder.glob("prolific_export_*.csv")
        times = {r["Submission id"]: r["Time taken"] for r in csv.DictReader(export.open(encoding="utf-8"))}
        paid = [int(times[d["SubmissionId"]]) for d in approved]
        label = "Median Time taken on Prolific (minutes, approved)"
    else:
        batch = folder / "batch_results.csv"
        times = {r["AssignmentId"]: r["WorkTimeInSeconds"] for r in csv.DictReader(batch.open(encoding="utf-8"))}
        paid = [int(times[d["AssignmentId"]]) for d in approved]
        label = "Median WorkTimeInSeconds on MTurk (minutes, approved)"
    surveyed = [d["DurationSeconds"] for d in approved if d["DurationSeconds"] is not None]
    assert got[label] == round(statistics.median(paid) / 60, 1)
    assert got["Median survey minutes (approved)"] == round(statistics.median(surveyed) / 60, 1)
    assert got[label] > got["Median survey minutes (approved)"]  # the panel's clock runs longer
    assert got["Effective hourly wage and top-ups use"].startswith(
        f"{run.plan.terms.panel}'s {run.plan.terms.time_name} (median {statistics.median(paid):,.0f} s")
