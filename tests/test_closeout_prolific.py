"""The dry-run close-out of the sample Prolific study through the CLI: every trap decided as
SPEC §7 pins it, the workbook in Prolific's words and currency, and bad input (one message,
exit 1, nothing written)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook
from paths import SAMPLE
from typer.testing import CliRunner

from bridge.cli import app

runner = CliRunner()
NOW = ["--now", "2026-11-22T12:00:00Z"]
STUDY = SAMPLE / "prolific"


@pytest.fixture
def study(tmp_path: Path) -> Path:
    for f in STUDY.iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    return tmp_path / "study.toml"


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def rows(path: Path, name: str) -> list[dict]:
    ws = load_workbook(path)[name]
    got = list(ws.iter_rows(values_only=True))
    return [dict(zip(got[0], r)) for r in got[1:]]


def export(folder: Path) -> Path:
    (path,) = folder.glob("prolific_export_*.csv")
    return path


def test_sample_study_end_to_end(study: Path):
    result = run("close-out", study, *NOW)
    assert result.exit_code == 0, result.output
    book = study.parent / "out" / "sample-study-1-reconciliation.xlsx"
    assert re.search(r"\n  Submissions +44\n", result.output) and "Prolific fees (GBP)" in result.output
    wb = load_workbook(book)
    assert [c.value for c in wb["Decisions"][1]][:11] == [
        "SubmissionId", "ParticipantId", "StudyId", "EnteredCode", "ResponseId", "Match", "Decision", "Bonus",
        "Reasons", "Feedback", "RejectionCategory"]
    assert [c.value for c in wb["Qualifications"][1]][:2] == ["ParticipantId", "ParticipantGroupId"]
    summary = {r["Item"]: r["Value"] for r in rows(book, "Summary")}
    assert {"Bonus total (GBP)", "Prolific fees (GBP)", "Total cost (GBP)"} <= set(summary)
    assert not any("(USD)" in str(k) for k in summary)
    decisions = rows(book, "Decisions")
    assert len(decisions) == 44
    by_status = {}
    for d in decisions:
        by_status.setdefault(d["ProlificStatus"], []).append(d)
    assert {d["Decision"] for d in by_status["RETURNED"]} == {"review", "none"}  # none: nothing to decide (SPEC 7)
    assert {d["Decision"] for s in ("TIMED-OUT", "SCREENED OUT") for d in by_status[s]} == {"none"}
    assert all(d["RejectionCategory"] is None for s in ("RETURNED", "TIMED-OUT", "SCREENED OUT", "ACTIVE", "APPROVED",
                                                        "REJECTED") for d in by_status[s])
    rejected = [d for d in by_status["AWAITING REVIEW"] if d["Decision"] == "reject"]
    assert {d["RejectionCategory"] for d in rejected} == {"FAILED_CHECK", "TOO_QUICKLY", "NO_DATA"}
    assert all(len(d["Feedback"]) >= 100 for d in rejected)
    reasons = {r for d in decisions for r in (d["Reasons"] or "").split(";")}
    assert {"bad_code", "no_code", "returned", "returned_with_response", "timed_out", "screened_out", "in_progress",
            "not_submitted", "too_fast", "attention_failed", "unmatched", "near_miss", "duplicate_response",
            "pay_top_up", "bonus_rounded", "bonus_capped", "bonus_invalid"} <= reasons
    # IDs stay text, whole.
    assert all(type(d["SubmissionId"]) is str and len(d["SubmissionId"]) == 24 for d in decisions)


@pytest.mark.parametrize(
    "edit, fragments",
    [
        (("csv_header", "Participant id", "Participant"), ["prolific_export_", "missing column(s) Participant id"]),
        (("toml", 'reject_feedback = "We could not', 'reject_feedback = "Short. We could not'), None),
        (("toml", "too_fast_sd = 3 ", "too_fast_sd = 2 "), ["too_fast_sd", "3 standard deviations"]),
        (("toml", 'participant_column = "PROLIFIC_PID"', 'participant_column = "PROLIFIC_ID"'),
         ["has no column 'PROLIFIC_ID'", "participant_column", "Did you mean 'PROLIFIC_PID'"]),
    ],
)
def test_bad_input_is_one_message_and_writes_nothing(study: Path, edit, fragments):
    kind, old, new = edit
    if kind == "csv_header":
        path = export(study.parent)
        text = path.read_text()
        path.write_text(text.replace(old, new, 1))
    else:
        text = study.read_text()
        assert old in text
        if fragments is None:  # a message cut to under 100 characters
            start = text.index('reject_feedback = "')
            end = text.index("\n", start)
            text = text[:start] + 'reject_feedback = "Your code did not match."' + text[end:]
            fragments = ["[rules] reject_feedback", "at least 100"]
        else:
            text = text.replace(old, new)
        study.write_text(text)
    result = run("close-out", study, *NOW)
    assert result.exit_code == 1, result.output
    for f in fragments:
        assert f in result.output, result.output
    assert "Traceback" not in result.output
    assert not (study.parent / "out").exists()
