"""The dry-run close-out through the CLI: the sample wave end to end, the workbook reopened
with openpyxl, and every bad-input path (one message, exit 1, nothing written)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook
from paths import SAMPLE
from typer.testing import CliRunner

from bridge.cli import app

runner = CliRunner()
NOW = ["--now", "2026-11-21T12:00:00Z"]


@pytest.fixture
def wave(tmp_path: Path) -> Path:
    """A copy of the sample wave in a temporary folder; returns its config."""
    for name in ("wave.toml", "qualtrics_export.csv", "batch_results.csv"):
        shutil.copy(SAMPLE / name, tmp_path / name)
    return tmp_path / "wave.toml"


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def sheet(path: Path, name: str) -> list[dict]:
    ws = load_workbook(path)[name]
    rows = list(ws.iter_rows(values_only=True))
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def test_sample_wave_end_to_end(wave: Path):
    result = run("close-out", wave, *NOW)
    assert result.exit_code == 0, result.output
    book = wave.parent / "out" / "sample-wave-1-reconciliation.xlsx"
    assert f"Workbook: {book}" in result.output.replace("\n", "")
    wb = load_workbook(book)
    assert wb.sheetnames == ["Summary", "Charts", "Decisions", "Unmatched responses", "Qualifications", "Log"]
    # The columns SPEC §4 pins first, in MTurk's words.
    spec = {"Decisions": ["AssignmentId", "WorkerId", "HITId", "SubmittedCode", "ResponseId", "Match", "Decision",
                          "Bonus", "Reasons", "Feedback"],
            "Unmatched responses": ["ResponseId", "Code", "WorkerId", "Finished", "DurationSeconds", "Reasons"],
            "Qualifications": ["WorkerId", "QualificationTypeId", "Action", "Value"],
            "Log": ["Action", "AssignmentId", "WorkerId", "Amount", "Status", "Detail", "At"]}
    for name, cols in spec.items():
        assert [c.value for c in wb[name][1]][:len(cols)] == cols

    decisions = sheet(book, "Decisions")
    assert len(decisions) == 52
    by_code = {d["SubmittedCode"]: d for d in decisions}
    # Every ID and code is text, never a number; money is a number (a PI sums it).
    for d in decisions:
        for col in ("AssignmentId", "WorkerId", "HITId", "SubmittedCode", "ResponseId"):
            assert d[col] is None or isinstance(d[col], str), (col, d[col])
        assert d["Bonus"] is None or type(d["Bonus"]) in (int, float), d["Bonus"]
    reasons = [set((d["Reasons"] or "").split(";")) for d in decisions]
    for rule in ["near_miss", "code_shared", "duplicate_response", "too_fast", "attention_failed", "bonus_capped",
                 "bonus_invalid", "bonus_rounded", "not_submitted", "unmatched", "worker_mismatch"]:
        assert any(rule in r for r in reasons), rule
    kinds = {d["Match"] for d in decisions}
    assert kinds == {"exact", "normalized", "near_miss", "none"}
    sci = next(d for d in decisions if "E+06" in (d["SubmittedCode"] or ""))
    assert sci["Match"] == "near_miss" and sci["Decision"] == "review" and sci["ResponseId"]
    # A code that would run as a formula is neutralised.
    formula = next(d for d in decisions if "calc" in (d["SubmittedCode"] or ""))
    assert formula["SubmittedCode"].startswith("'=") and formula["Decision"] == "reject"
    assert "does not match any survey response" in formula["Feedback"]
    for d in decisions:
        assert d["Decision"] in {"approve", "reject", "review"}
        if d["Decision"] != "approve" and d["Decision"] != "review":
            assert d["Bonus"] is None
    assert " 8439572 " in by_code or any(d["Match"] == "normalized" for d in decisions)

    unmatched = sheet(book, "Unmatched responses")
    why = {u["ResponseId"]: u["Reasons"] for u in unmatched}
    assert why["R_SurveyPrev00000"] == "ignored_status:Survey Preview"
    assert why["R_qUiTtErNoFiNiSh"] == "unfinished" and why["R_nEvErSuBmItTeD"] == "no_assignment"

    summary = {r["Item"]: r["Value"] for r in sheet(book, "Summary") if r["Item"] != "Warning"}
    assert summary["Submissions (assignments)"] == 52
    # The counts agree with the Decisions sheet and add up to every submission.
    counted = [summary[k] for k in ("Approve (to send)", "Reject (to send)", "Review (a person decides)",
                                    "Already decided on MTurk (nothing sent)")]
    assert sum(counted) == 52
    assert counted[0] == sum(d["Decision"] == "approve" and d["MTurkStatus"] == "Submitted" for d in decisions)
    assert counted[2] == sum(d["Decision"] == "review" for d in decisions)
    assert summary["Survey responses"] == len({d["ResponseId"] for d in decisions
                                               if d["Match"] in ("exact", "normalized")}) + len(unmatched)
    total = sum(float(summary[k]) for k in ("Rewards to pay (USD)", "Bonus total (USD)", "MTurk fees (USD)"))
    assert abs(total - float(summary["Total cost (USD)"])) < 1e-9
    bonus_sum = sum(float(d["Bonus"]) for d in decisions if d["Decision"] == "approve" and d["Bonus"])
    assert round(bonus_sum, 2) == summary["Bonus total (USD)"]
    warnings = [r["Value"] for r in sheet(book, "Summary") if r["Item"] == "Warning"]
    assert any("need review" in w for w in warnings)


def test_answers_that_look_like_formulas_are_neutralised(wave: Path, tmp_path: Path):
    # The sample has a formula in a free-text answer; here one goes into the code field too.
    text = (wave.parent / "qualtrics_export.csv").read_text()
    (wave.parent / "qualtrics_export.csv").write_text(text.replace(",A1NEVERSUBMITTED,", ",@SUM(A1),"))
    assert run("close-out", wave, *NOW).exit_code == 0
    unmatched = sheet(wave.parent / "out" / "sample-wave-1-reconciliation.xlsx", "Unmatched responses")
    assert any(u["WorkerId"] == "'@SUM(A1)" for u in unmatched)


def test_low_wage_is_warned(wave: Path):
    batch = wave.parent / "batch_results.csv"
    batch.write_text(batch.read_text().replace('"$1.50"', '"$0.50"'))
    result = run("close-out", wave, *NOW)
    assert result.exit_code == 0
    assert "below the US federal minimum wage of 7.25" in result.output


def _expect_error(args, *fragments, workbook: Path | None = None):
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    for f in fragments:
        assert f in result.output.replace("\n", " "), result.output
    if workbook is not None:
        assert not workbook.exists()
    return result


def test_missing_file(wave: Path):
    (wave.parent / "batch_results.csv").unlink()
    _expect_error(["close-out", wave, *NOW], "batch_results.csv: file not found",
                  workbook=wave.parent / "out" / "sample-wave-1-reconciliation.xlsx")


def test_empty_file(wave: Path):
    (wave.parent / "qualtrics_export.csv").write_text("")
    _expect_error(["close-out", wave, *NOW], "qualtrics_export.csv: the file is empty")


def test_files_swapped(wave: Path):
    text = wave.read_text().replace('csv = "qualtrics_export.csv"', 'csv = "batch_results.csv"')
    wave.write_text(text)
    _expect_error(["close-out", wave, *NOW], "not a Qualtrics CSV export", "looks like an MTurk batch-results file")


def test_missing_column_lists_the_columns(wave: Path):
    wave.write_text(wave.read_text().replace('code_column = "Random ID"', 'code_column = "RandomID"'))
    _expect_error(["close-out", wave, *NOW], "has no column 'RandomID' (config [qualtrics] code_column)",
                  "Did you mean 'Random ID'?", "'ResponseId'")


def test_a_condition_column_not_in_the_survey_is_named(wave: Path):
    wave.write_text(wave.read_text().replace('condition_column = "condition"', 'condition_column = "Condition"'))
    _expect_error(["close-out", wave, *NOW], "has no column 'Condition' (config [report] condition_column)",
                  "Did you mean 'condition'?", workbook=wave.parent / "out" / "sample-wave-1-reconciliation.xlsx")


def test_missing_code_answer(wave: Path):
    wave.write_text(wave.read_text().replace('code_answer = "surveycode"', 'code_answer = "code"'))
    _expect_error(["close-out", wave, *NOW], "has no column 'Answer.code'", "'Answer.surveycode'")


def test_duplicate_assignment(wave: Path):
    batch = wave.parent / "batch_results.csv"
    lines = batch.read_text().splitlines(keepends=True)
    batch.write_text("".join(lines + [lines[3]]))
    _expect_error(["close-out", wave, *NOW], f"line {len(lines) + 1}", "appears twice (also on line 4)")


def test_config_error(wave: Path):
    wave.write_text(wave.read_text().replace("min_duration_seconds", "min_duration"))
    _expect_error(["close-out", wave, *NOW], "unknown key 'min_duration' in [rules]; did you mean min_duration_seconds?")


def test_bad_now(wave: Path):
    _expect_error(["close-out", wave, "--now", "yesterday"], "--now 'yesterday' is not an ISO time")


def test_existing_workbook_survives_a_failed_run(wave: Path):
    assert run("close-out", wave, *NOW).exit_code == 0
    book = wave.parent / "out" / "sample-wave-1-reconciliation.xlsx"
    before = book.read_bytes()
    (wave.parent / "batch_results.csv").write_text("not,a,batch\n1,2,3\n")
    _expect_error(["close-out", wave, *NOW], "not an MTurk batch-results CSV")
    assert book.read_bytes() == before
    # No temporary files left: the workbook, its record (SPEC 4.2) and the analysis file only.
    assert sorted(p.name for p in book.parent.iterdir()) == sorted([book.name, f".{book.name}.written",
                                                                    "sample-wave-1-responses.csv"])


def test_console_script_usage_error_exits_1():
    proc = subprocess.run([sys.executable, "-m", "bridge", "close-out"], capture_output=True, text=True)
    assert proc.returncode == 1 and "Missing argument" in proc.stderr and "Traceback" not in proc.stderr


def test_console_script_error_goes_to_stderr(tmp_path: Path):
    proc = subprocess.run([sys.executable, "-m", "bridge", "close-out", str(tmp_path / "nope.toml")],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("survey-bridge: error:") and "file not found" in proc.stderr


def test_demo_pulls_both_apis_and_applies(tmp_path: Path):
    result = run("demo", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    out = result.output.replace("\n", " ")
    assert "Pulled both sides through the APIs: SV_sampleWave01 export" in out and "MTurk API at http://127.0.0.1:" in out
    assert "Wave sample-wave-1" in out and "; 0 failed." in out
    log = sheet(tmp_path / "sample-wave-1-reconciliation.xlsx", "Log")
    assert {r["Action"] for r in log} >= {"approve", "reject", "bonus"} and all(r["Status"] == "done" for r in log)
