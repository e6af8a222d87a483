"""What a person's edits mean (SPEC 4.2, §11): review -> reject takes the message and the
category of the row's own reason and drops the tool's bonus; a reason without a configured
message needs the person's Feedback; `none` rows have nothing to decide; the analysis file's
`Include` follows the final decision, with `Flags` for the data-quality flags."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook
from paths import SAMPLE
from typer.testing import CliRunner

from bridge.cli import app
from bridge.config import load_config

NOW = ["--now", "2026-11-21T12:00:00Z"]
BOOK = "out/sample-study-1-reconciliation.xlsx"
FEEDBACK = ("We could not accept this submission: no completion code was entered and the survey shows the study "
            "was not finished. Please message us if this is wrong.")


@pytest.fixture
def study(tmp_path: Path) -> Path:
    folder = tmp_path / "study"
    folder.mkdir()
    for f in (SAMPLE / "prolific").iterdir():
        if f.is_file():
            shutil.copy(f, folder / f.name)
    return folder / "study.toml"


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def edit(path: Path, change) -> dict:
    wb = load_workbook(path)
    ws = wb["Decisions"]
    header = [c.value for c in ws[1]]
    rows = {ws.cell(r, 1).value: {h: ws.cell(r, i + 1) for i, h in enumerate(header)} for r in range(2, ws.max_row + 1)}
    chosen: dict = {}
    change(rows, chosen)
    wb.save(path)
    return chosen


def decisions(path: Path) -> dict[str, dict]:
    wb = load_workbook(path, read_only=True)
    rows = list(wb["Decisions"].iter_rows(values_only=True))
    wb.close()
    return {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}


def with_reason(rows, reason: str, decision: str = "review") -> str:
    return next(sid for sid, c in rows.items() if c["Decision"].value == decision
                and reason in (c["Reasons"].value or "").split(";") and c["ProlificStatus"].value == "AWAITING REVIEW")


def test_review_to_reject_takes_the_message_and_category_of_its_reason(study):
    study.write_text(study.read_text().replace('attention_failed = "reject"', 'attention_failed = "review"'))
    assert run("close-out", study, *NOW).exit_code == 0
    path = study.parent / BOOK

    def change(rows, chosen):
        chosen["sid"] = with_reason(rows, "attention_failed")
        rows[chosen["sid"]]["Decision"].value = "reject"

    chosen = edit(path, change)
    result = run("close-out", study, *NOW)
    assert result.exit_code == 0, result.output
    row = decisions(path)[chosen["sid"]]
    settings = load_config(study)
    assert (row["Decision"], row["Feedback"], row["RejectionCategory"]) == \
        ("reject", settings.rules.attention_feedback, "FAILED_CHECK")
    assert f"{chosen['sid']}: review -> reject" in result.output


def test_review_to_reject_drops_the_tools_bonus_and_needs_feedback_without_a_configured_message(study):
    assert run("close-out", study, *NOW).exit_code == 0
    path = study.parent / BOOK

    def change(rows, chosen):
        chosen["sid"] = with_reason(rows, "no_code")
        chosen["row"] = rows[chosen["sid"]]["Decision"].row
        chosen["bonus"] = rows[chosen["sid"]]["Bonus"].value
        rows[chosen["sid"]]["Decision"].value = "reject"

    chosen = edit(path, change)
    assert chosen["bonus"]  # the tool showed what approving would pay
    refused = run("close-out", study, *NOW)
    assert refused.exit_code == 3, refused.output
    assert f"row {chosen['row']}: rejecting {chosen['sid']} needs a Feedback message" in refused.output
    assert "a bonus goes only to approved work" not in refused.output  # the tool's bonus is not the person's

    edit(path, lambda rows, _: setattr(rows[chosen["sid"]]["Feedback"], "value", FEEDBACK))
    result = run("close-out", study, *NOW)
    assert result.exit_code == 0, result.output
    row = decisions(path)[chosen["sid"]]
    assert (row["Decision"], row["Bonus"], row["Feedback"], row["RejectionCategory"]) == \
        ("reject", None, FEEDBACK, "NO_CODE")
    assert f"bonus {chosen['bonus']:.2f} dropped: rejected work gets no bonus" in row["Notes"]


def test_a_bonus_the_person_typed_on_a_rejection_is_refused(study):
    assert run("close-out", study, *NOW).exit_code == 0
    path = study.parent / BOOK

    def change(rows, chosen):
        chosen["sid"] = with_reason(rows, "unmatched", "reject")
        chosen["row"] = rows[chosen["sid"]]["Decision"].row
        rows[chosen["sid"]]["Bonus"].value = 2

    chosen = edit(path, change)
    result = run("close-out", study, *NOW)
    assert result.exit_code == 3
    assert f"row {chosen['row']}: a bonus goes only to approved work" in result.output


def test_nothing_to_decide_is_none_and_stays_none(study):
    assert run("close-out", study, *NOW).exit_code == 0
    path = study.parent / BOOK
    rows = decisions(path)
    ended = {r["ProlificStatus"]: r for r in rows.values() if r["Decision"] == "none"}
    assert set(ended) == {"RETURNED", "TIMED-OUT", "SCREENED OUT"}
    assert all(r["Feedback"] is None and r["RejectionCategory"] is None and r["Bonus"] is None for r in ended.values())
    summary = {r[0]: r[1] for r in load_workbook(path, read_only=True)["Summary"].iter_rows(values_only=True)}
    assert summary["Nothing to decide (ended, no survey response)"] == 3
    assert summary["Reject (to send)"] == sum(r["Decision"] == "reject" and r["ProlificStatus"] == "AWAITING REVIEW"
                                              for r in rows.values())

    def change(rows, chosen):
        chosen["timed_out"] = next(s for s, c in rows.items() if c["ProlificStatus"].value == "TIMED-OUT")
        chosen["pending"] = with_reason(rows, "no_code")
        rows[chosen["timed_out"]]["Decision"].value = "reject"
        rows[chosen["pending"]]["Decision"].value = "none"

    chosen = edit(path, change)
    result = run("close-out", study, *NOW)
    assert result.exit_code == 3
    assert f"{chosen['timed_out']} has nothing to decide (TIMED-OUT on Prolific); its Decision stays none" \
        in result.output
    assert f"Decision none is only for work with nothing to decide; use review to leave {chosen['pending']}" \
        in result.output


def test_include_follows_the_final_decision_and_flags_name_the_data_quality_flags(study):
    assert run("close-out", study, *NOW).exit_code == 0
    path = study.parent / BOOK

    def change(rows, chosen):
        chosen["no_code"] = with_reason(rows, "no_code")
        chosen["too_fast"] = with_reason(rows, "too_fast", "reject")
        for sid in chosen.values():
            rows[sid]["Decision"].value = "approve"
            rows[sid]["Feedback"].value = None

    chosen = edit(path, change)
    result = run("close-out", study, *NOW)
    assert result.exit_code == 0, result.output
    with open(study.parent / "out/sample-study-1-responses.csv", newline="", encoding="utf-8") as f:
        table = {r["SubmissionId"]: r for r in csv.DictReader(f) if r["SubmissionId"]}
    approved = table[chosen["no_code"]]
    assert (approved["Decision"], approved["Include"], approved["Flags"]) == ("approve", "true", "")
    fast = table[chosen["too_fast"]]
    assert (fast["Decision"], fast["Include"], fast["Flags"]) == ("approve", "false", "too_fast")
    assert all(r["Include"] == "false" for r in table.values() if r["Decision"] in ("reject", "none", "review"))
