"""A close-out whose survey ran on another tool than Qualtrics (SPEC §14): the LimeSurvey
sample study end to end, the same wave read from a Qualtrics export and from a generic CSV
deciding alike, the study column, and config column names as the file shows them."""

from __future__ import annotations

import csv
import importlib.util
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from bridge.analysis import responses_frame
from bridge.cli import app
from bridge.closeout import close_out
from bridge.config import load_config
from bridge.workbook.write import restore

from paths import SAMPLE

runner = CliRunner()
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
LIME = SAMPLE / "limesurvey"
# A Qualtrics export's own columns, as [survey] format = "csv" names them.
QUALTRICS_AS_CSV = ('response_id_column = "ResponseId"\nfinished_column = "Finished"\nfinished_values = ["True"]\n'
                    'duration_column = "Duration (in seconds)"\n')


def copy_folder(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for f in src.iterdir():
        if f.is_file():
            shutil.copy(f, dst / f.name)
    return dst


def sheet(path: Path, name: str) -> list[dict]:
    got = list(load_workbook(path)[name].iter_rows(values_only=True))
    return [dict(zip(got[0], r)) for r in got[1:]]


def one_header_row(qualtrics: Path, out: Path) -> Path:
    """The Qualtrics export as a tool with one header row writes it: rows 2 and 3 dropped."""
    with open(qualtrics, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    with open(out, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\r\n").writerows([rows[0], *rows[3:]])
    return out


def as_generic_csv(config: Path) -> Path:
    """The same wave with its survey read as a generic CSV ([survey] format = "csv")."""
    one_header_row(config.parent / "qualtrics_export.csv", config.parent / "survey.csv")
    text = config.read_text()
    head, rest = text.split("[qualtrics]\n", 1)
    section, tail = rest.split("\n\n", 1)
    keys = [line.replace("worker_id_column", "participant_column") for line in section.splitlines()
            if not line.startswith("csv")]
    config.write_text(head + '[survey]\nformat = "csv"\ncsv = "survey.csv"\n' + QUALTRICS_AS_CSV
                      + "\n".join(keys) + "\n\n" + tail)
    return config


def decisions(result) -> dict[str, tuple]:
    return {d.submission_id: (d.response_id, d.match.value, d.decision.value, d.bonus, tuple(d.reasons))
            for d in result.plan.decisions}


# --- The LimeSurvey sample study -----------------------------------------------------------


def test_the_limesurvey_sample_config_is_valid():
    s = load_config(LIME / "study.toml")
    assert s.survey.csv.is_file() and s.prolific.csv is not None and s.survey.format == "limesurvey"


def test_limesurvey_sample_study_end_to_end(tmp_path: Path):
    folder = copy_folder(LIME, tmp_path / "lime")
    result = runner.invoke(app, ["close-out", str(folder / "study.toml"), "--now", "2026-11-22T12:00:00Z"])
    assert result.exit_code == 0, result.output
    book = folder / "out" / "sample-limesurvey-1-reconciliation.xlsx"
    rows = {r["ParticipantId"]: r for r in sheet(book, "Decisions")}
    assert len(rows) == 35
    by_trap = {i: rows[p.worker_id] for i, p in enumerate(_sample_people()) if p.worker_id in rows}
    assert by_trap[0]["Match"] == "exact" and by_trap[0]["Decision"] == "approve"
    assert by_trap[1]["ResponseId"] == "103"  # the finished response, not the one left on page 2
    assert by_trap[2]["Match"] == "none" and "no_code" in by_trap[2]["Reasons"]  # unfinished response only
    assert by_trap[3]["Match"] == "none"  # the response lost the link's parameters
    assert by_trap[4]["Match"] == "normalized"  # the id typed in capitals
    assert by_trap[5]["Reasons"] == "returned;returned_with_response"
    assert by_trap[7]["Reasons"] == "no_code;not_submitted"
    assert "duplicate_response" in by_trap[8]["Reasons"]
    assert by_trap[9]["Decision"] == "reject" and by_trap[9]["RejectionCategory"] == "TOO_QUICKLY"
    assert by_trap[10]["Reasons"] == "attention_failed"
    assert by_trap[13]["Reasons"] == "bonus_invalid"
    assert by_trap[14]["Bonus"] == 0.13
    unmatched = {u["ResponseId"]: u["Reasons"] for u in sheet(book, "Unmatched responses")}
    assert unmatched["99"] == "no_assignment" and unmatched["100"] == "unfinished"


def test_as_many_submissions_match_as_an_independent_count(tmp_path: Path):
    """Count with nothing but the csv module: submissions whose participant id (trimmed, any
    case) has a finished LimeSurvey response (a submit date). The close-out matches exactly those."""
    folder = copy_folder(LIME, tmp_path / "lime")
    with open(folder / "results-survey482915.csv", newline="", encoding="utf-8-sig") as f:
        finished = {r["PROLIFICPID"].strip().lower() for r in csv.DictReader(f) if r["submitdate"].strip()}
    (export,) = folder.glob("prolific_export_*.csv")
    with open(export, newline="", encoding="utf-8") as f:
        expected = {r["Submission id"] for r in csv.DictReader(f) if r["Participant id"].strip().lower() in finished}
    result = close_out(load_config(folder / "study.toml"), NOW)
    matched = {d.submission_id for d in result.plan.decisions if d.match.value in ("exact", "normalized")}
    assert matched == expected and len(matched) == 32


def test_limesurvey_analysis_file_has_every_column_as_exported(tmp_path: Path):
    folder = copy_folder(LIME, tmp_path / "lime")
    result = close_out(load_config(folder / "study.toml"), NOW)
    with open(folder / "results-survey482915.csv", newline="", encoding="utf-8-sig") as f:
        exported = [r for r in csv.reader(f) if any(r)]
    with open(result.analysis, newline="", encoding="utf-8") as f:
        written = list(csv.reader(f))
    assert written[0] == exported[0] + ["SubmissionId", "ParticipantId", "Decision", "Reasons", "Bonus", "Include",
                                        "Flags"]
    assert [[restore(c) for c in r[: len(exported[0])]] for r in written[1:]] == exported[1:]
    by_id = {r[0]: dict(zip(written[0], r)) for r in written[1:]}
    assert by_id["103"]["Include"] == "true" and by_id["100"]["Reasons"] == "unfinished"
    assert "\n" in by_id[_sample_people()[11].response_id]["Q9"]  # the answer over two lines, kept
    frame = responses_frame(folder / "study.toml", now=NOW)
    assert list(frame.columns[:3]) == ["id", "submitdate", "lastpage"] and frame["Include"].dtype == bool
    assert frame.loc[frame["id"] == "103", "Include"].item()


def test_the_study_column_is_kept_and_must_exist(tmp_path: Path):
    folder = copy_folder(LIME, tmp_path / "lime")
    settings = load_config(folder / "study.toml")
    assert settings.survey.study_column == "STUDYID"
    result = close_out(settings, NOW)
    assert {r.fields["STUDYID"] for r in result.survey.responses} == {"7c11c05dff7b9c8f9a4cbd78"}
    config = folder / "study.toml"
    config.write_text(config.read_text().replace('study_column = "STUDYID"', 'study_column = "STUDY_ID"'))
    out = runner.invoke(app, ["close-out", str(config), "--now", "2026-11-22T12:00:00Z"])
    assert out.exit_code == 1
    assert "has no column 'STUDY_ID' (config [survey] study_column)" in out.output
    assert "Did you mean 'STUDYID'?" in out.output


def test_a_wrong_participant_column_names_the_nearest(tmp_path: Path):
    folder = copy_folder(LIME, tmp_path / "lime")
    config = folder / "study.toml"
    config.write_text(config.read_text().replace('participant_column = "PROLIFICPID"\n', ""))
    out = runner.invoke(app, ["close-out", str(config), "--now", "2026-11-22T12:00:00Z"])
    assert out.exit_code == 1
    assert "has no column 'PROLIFIC_PID'" in out.output and "Did you mean 'PROLIFICPID'?" in out.output


def test_row_numbers_as_response_ids_through_the_workbook_and_the_analysis_file(tmp_path: Path):
    """format = "csv" without an id column: a response is its row in a spreadsheet (the
    header row 1), even below an answer over two lines; the analysis file lines up."""
    folder = copy_folder(LIME, tmp_path / "lime")
    config = folder / "study.toml"
    config.write_text(config.read_text().replace('format = "limesurvey"', 'format = "csv"\n'
                      'finished_column = "submitdate"\nstarted_column = "startdate"\nended_column = "submitdate"'))
    with open(folder / "results-survey482915.csv", newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    row_of = {r[0]: str(number) for number, r in enumerate(rows, start=1) if r}  # LimeSurvey id -> row
    result = close_out(load_config(config), NOW)
    assert result.survey.id_column is None
    lime = close_out(load_config(copy_folder(LIME, tmp_path / "again") / "study.toml"), NOW)
    assert decisions(result) == {k: (row_of.get(v[0], v[0]), *v[1:]) for k, v in decisions(lime).items()}
    with open(result.analysis, newline="", encoding="utf-8") as f:
        written = list(csv.reader(f))
    assert [r[0] for r in written[1:]] == [r[0] for r in rows[1:] if r]
    # Below the answer over two lines, a row's number is not its first line's number.
    assert any(r.source_row != int(r.response_id) for r in result.survey.responses)


# --- The source changes nothing downstream ---------------------------------------------------


@pytest.mark.parametrize("sample", ["prolific", "mturk"])
def test_a_generic_csv_decides_as_the_qualtrics_export(tmp_path: Path, sample: str):
    """The same wave read from its Qualtrics export and from the same responses as a CSV
    with one header row: the same decision for every submission, and the same analysis rows."""
    if sample == "prolific":
        source, config = SAMPLE / "prolific", "study.toml"
    else:
        source, config = SAMPLE, "wave.toml"
    a = copy_folder(source, tmp_path / "qualtrics") / config
    b = as_generic_csv(copy_folder(source, tmp_path / "generic") / config)
    now = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
    from_qualtrics, from_csv = close_out(load_config(a), now), close_out(load_config(b), now)
    assert from_csv.survey.what == "survey CSV export"
    assert decisions(from_csv) == decisions(from_qualtrics)
    assert from_csv.plan.figures == from_qualtrics.plan.figures
    assert from_csv.plan.qualifications == from_qualtrics.plan.qualifications

    def outcomes(path: Path) -> dict[str, list[str]]:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        at = [rows[0].index(c) for c in ("SubmissionId", "Decision", "Bonus", "Include")]
        rid = rows[0].index("ResponseId")
        return {r[rid]: [r[i] for i in at] for r in rows[1:]}

    assert outcomes(from_csv.analysis) == outcomes(from_qualtrics.analysis)


def test_include_unfinished_in_survey(tmp_path: Path):
    folder = copy_folder(LIME, tmp_path / "lime")
    config = folder / "study.toml"
    config.write_text(config.read_text().replace('study_column = "STUDYID"\n',
                                                 'study_column = "STUDYID"\ninclude_unfinished = true\n'))
    result = close_out(load_config(config), NOW)
    unfinished_only = _sample_people()[2].worker_id
    (d,) = [d for d in result.plan.decisions if d.participant_id == unfinished_only]
    assert d.response_id == "105" and d.match.value == "exact"


# --- Names as the person sees them -----------------------------------------------------------


INSIGHTS = Path(__file__).resolve().parent / "data" / "readers" / "qualtrics" / "insights_2016.csv"


def _insights_wave(tmp_path: Path, code_column: str) -> Path:
    shutil.copy(INSIGHTS, tmp_path / "survey.csv")
    (tmp_path / "batch.csv").write_text(
        "HITId,AssignmentId,WorkerId,AssignmentStatus,Answer.surveycode\n"
        "3HIT0000000000000000000000001,3ASG000000000000000000000001,AWORKER0001,Submitted,R_3kPqRsTuVwXyZ01\n")
    config = tmp_path / "wave.toml"
    config.write_text(f'[wave]\nname = "w2016"\n[qualtrics]\ncsv = "survey.csv"\ncode_column = "{code_column}"\n'
                      'worker_id_column = "workerId"\n[mturk]\ncsv = "batch.csv"\n')
    return config


def test_a_2016_export_column_named_as_the_file_shows_it(tmp_path: Path):
    """The reader reads `ResponseID` as `ResponseId`; a config naming `ResponseID` still works."""
    result = close_out(load_config(_insights_wave(tmp_path, "ResponseID")), NOW)
    (d,) = result.plan.decisions
    assert (d.response_id, d.match.value, d.decision.value) == ("R_3kPqRsTuVwXyZ01", "exact", "approve")
    assert result.survey.columns[8] == "ResponseId" and result.survey.shown_columns[8] == "ResponseID"


def test_a_missing_column_is_named_with_the_columns_as_the_file_shows_them(tmp_path: Path):
    out = runner.invoke(app, ["close-out", str(_insights_wave(tmp_path, "Response ID")), "--now",
                              "2026-11-22T12:00:00Z"])
    assert out.exit_code == 1
    assert "has no column 'Response ID' (config [qualtrics] code_column)" in out.output
    assert "Did you mean 'ResponseID'?" in out.output and "'ExternalDataReference'" in out.output
    assert "'ResponseId'" not in out.output


def _load_make_sample():
    spec = importlib.util.spec_from_file_location("make_sample", SAMPLE / "make_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sample_people():
    """The sample's participants as make_sample numbers its traps (p[0], p[1], ...): it puts
    the lab's test run and the first try first, and the second take after p[8]."""
    rest = _load_make_sample().sample_limesurvey_study().participants[2:]
    return rest[:9] + rest[10:]
