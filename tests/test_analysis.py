"""Data for analysis (SPEC §11, bridge.responses): the survey responses joined to their
outcome, as the close-out's CSV and as `responses_frame`'s DataFrame, on both panels."""

from __future__ import annotations

import csv
import errno
import importlib.util
import os
import re
import shutil
import stat
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from paths import REPO, SAMPLE

from bridge import responses
from bridge.analysis import PAY_FACTS, responses_frame
from bridge.closeout import close_out
from bridge.config import load_config
from bridge.errors import InputError
from bridge.workbook.write import restore

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
OUTCOME = ["SubmissionId", "ParticipantId", "Decision", "Reasons", "Bonus", "Include", "Flags"]
MTURK = ("wave.toml", "qualtrics_export.csv", "sample-wave-1-responses.csv")
PROLIFIC = ("study.toml", "qualtrics_export.csv", "sample-study-1-responses.csv")


def _make_sample():
    spec = importlib.util.spec_from_file_location("make_sample", SAMPLE / "make_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE = _make_sample()


@pytest.fixture
def wave(tmp_path: Path) -> Path:
    """A copy of the MTurk sample wave; returns its config."""
    folder = tmp_path / "mturk"
    folder.mkdir()
    for name in ("wave.toml", "qualtrics_export.csv", "batch_results.csv"):
        shutil.copy(SAMPLE / name, folder / name)
    return folder / "wave.toml"


@pytest.fixture
def study(tmp_path: Path) -> Path:
    """A copy of the Prolific sample study; returns its config."""
    folder = tmp_path / "prolific"
    folder.mkdir()
    for path in (SAMPLE / "prolific").glob("*"):
        if path.is_file():
            shutil.copy(path, folder / path.name)
    return folder / "study.toml"


@pytest.fixture(params=["mturk", "prolific"])
def config(request) -> Path:
    """Each panel's sample, in turn."""
    return request.getfixturevalue("wave" if request.param == "mturk" else "study")


def read_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def export_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """The survey export as text: its first header row, and its responses (3 header rows)."""
    rows = read_rows(path)
    return rows[0], rows[3:]


def by_response(path: Path) -> dict[str, dict[str, str]]:
    rows = read_rows(path)
    return {r[rows[0].index("ResponseId")]: dict(zip(rows[0], r)) for r in rows[1:]}


def run_close_out(config: Path):
    result = close_out(load_config(config), NOW)
    assert result.analysis == config.parent / "out" / _analysis_name(config)
    return result


def _analysis_name(config: Path) -> str:
    return MTURK[2] if config.name == "wave.toml" else PROLIFIC[2]


# --- The survey columns are the export's ---------------------------------------------------


def test_survey_columns_and_rows_are_the_exports_cell_by_cell(config):
    result = run_close_out(config)
    names, responses = export_rows(config.parent / "qualtrics_export.csv")
    rows = read_rows(result.analysis)
    assert rows[0] == names + OUTCOME
    assert len(rows) - 1 == len(responses)  # one row per response, preview/test rows included
    changed = []
    for got, want in zip(rows[1:], responses):
        assert len(got) == len(names) + len(OUTCOME)
        for column, g, w in zip(names, got, want):
            assert restore(g) == w, (column, g, w)
            if g != w:
                changed.append((column, w))
    # Only the formula in an answer was touched (a leading ').
    assert changed == [("Q9_TEXT", '=HYPERLINK("http://example.com","click me")')]
    # In export order, every status kept.
    assert [r[names.index("ResponseId")] for r in rows[1:]] == [r[names.index("ResponseId")] for r in responses]
    assert {"Survey Preview", "Survey Test"} <= {r[names.index("Status")] for r in rows[1:]}


def test_every_column_is_written_even_when_the_reader_keeps_a_few(wave, monkeypatch):
    """The close-out may read only the columns it uses; the file still has all of them."""
    import bridge.sources.survey as reader

    real = reader.read_qualtrics_csv
    kept = {"Random ID", "workerId", "bonus", "Q7"}
    monkeypatch.setattr(reader, "read_qualtrics_csv", lambda source, **kw: real(source, keep=kept))
    result = run_close_out(wave)
    assert set(result.survey.responses[0].fields) == kept
    names, responses = export_rows(wave.parent / "qualtrics_export.csv")
    rows = read_rows(result.analysis)
    assert [[restore(c) for c in r[: len(names)]] for r in rows[1:]] == responses


def test_leading_zero_codes_survive_in_the_file_and_the_frame(wave):
    p = MAKE.sample_wave().participants
    zero = next(x for x in p if x.code.startswith("0"))
    result = run_close_out(wave)
    assert by_response(result.analysis)[zero.response_id]["Random ID"] == zero.code
    frame = responses_frame(wave, now=NOW)
    assert frame.loc[frame["ResponseId"] == zero.response_id, "Random ID"].item() == zero.code


# --- Include follows SPEC §11 ---------------------------------------------------------------


def _consistent(rows: dict[str, dict[str, str]]) -> None:
    """Include, read back from the file's own text, is what SPEC §11 says."""
    for rid, r in rows.items():
        reasons = set(filter(None, r["Reasons"].split(";")))
        expected = r["Finished"] == "True" and r["Decision"] == "approve" and reasons <= PAY_FACTS
        assert r["Include"] == ("true" if expected else "false"), rid


def _numbered(people: list, first_extra: int) -> list:
    """The participants by make_sample's numbering (`p[i]`): it inserts the first take of a
    duplicate pair at `first_extra`, shifting the rest by one."""
    return people[:first_extra] + people[first_extra + 1 :]


def test_include_on_the_sample_waves_traps(wave):
    everyone = MAKE.sample_wave().participants
    p = _numbered(everyone, 10)
    by_id = {x.response_id: x for x in everyone}
    rows = by_response(run_close_out(wave).analysis)
    _consistent(rows)
    excel = next(x for x in p if "E+" in x.submitted_code)
    mistyped = p[1]
    zero = next(x for x in p if x.code.startswith("0"))
    shared = p[4]
    sharers = [y.assignment_id for y in p if y.submitted_code == shared.code and y.in_mturk]

    def row(x):
        return rows[x.response_id]

    # Near misses are not matches: no submission, not included, named as candidates.
    for x in (mistyped, excel, zero):
        assert row(x)["SubmissionId"] == "" and row(x)["Decision"] == "" and row(x)["Include"] == "false"
        assert "near_miss_candidate" in row(x)["Reasons"]
    # A shared code: every submission listed, not included.
    assert row(shared)["SubmissionId"].split(";") == sharers and len(sharers) == 2
    assert "code_shared" in row(shared)["Reasons"] and row(shared)["Include"] == "false"
    # Duplicate: the first finished response is matched but flagged; the second is unmatched.
    assert rows["R_1dUpLiCaTeFiRsT"]["Decision"] == "approve"
    assert rows["R_1dUpLiCaTeFiRsT"]["Include"] == "false"
    second = p[10]
    assert second.worker_id == by_id["R_1dUpLiCaTeFiRsT"].worker_id
    assert row(second)["SubmissionId"] == "" and row(second)["Include"] == "false"
    # Unfinished (a submitted code, and a quitter), previews, a finished response never submitted.
    unfinished = [x for x in everyone if not x.finished]
    assert len(unfinished) == 2
    for x in unfinished:
        assert row(x)["Include"] == "false" and row(x)["Reasons"] == "unfinished" and row(x)["Finished"] == "False"
    for status in ("Survey Preview", "Survey Test", "Spam"):
        (r,) = [r for r in rows.values() if r["Status"] == status]
        assert r["Include"] == "false" and r["Reasons"] == f"ignored_status:{status}"
    assert rows["R_nEvErSuBmItTeD"]["Include"] == "false" and rows["R_nEvErSuBmItTeD"]["Reasons"] == "no_assignment"
    # Rejected (attention), review (too fast, bad bonus, another worker's response): out.
    for x, decision in ((p[9], "reject"), (p[8], "review"), (p[16], "review"), (p[17], "review"), (p[21], "review")):
        assert (row(x)["Decision"], row(x)["Include"]) == (decision, "false"), x.response_id
    # Approved work with only pay facts: in, with the bonus paid.
    assert (row(p[11])["Reasons"], row(p[11])["Include"]) == ("not_submitted", "true")  # approved on MTurk already
    assert (row(p[14])["Reasons"], row(p[14])["Bonus"], row(p[14])["Include"]) == ("bonus_rounded", "0.13", "true")
    assert (row(p[15])["Reasons"], row(p[15])["Bonus"], row(p[15])["Include"]) == ("bonus_capped", "5.00", "true")
    assert row(p[18])["Include"] == "true" and row(p[18])["Q9_TEXT"].startswith("'=HYPERLINK(")
    clean = p[30]
    assert (row(clean)["SubmissionId"], row(clean)["ParticipantId"]) == (clean.assignment_id, clean.worker_id)
    assert (row(clean)["Decision"], row(clean)["Reasons"], row(clean)["Include"]) == ("approve", "", "true")
    assert row(p[0])["Include"] == "true"  # stray spaces around the code: a normalized match
    assert sum(r["Include"] == "true" for r in rows.values()) == 37


def test_an_unfinished_response_matched_to_approved_work_is_not_included(wave):
    """With include_unfinished, an unfinished response can match and be approved; it is
    still not data to analyse."""
    wave.write_text(wave.read_text().replace("[qualtrics]\n", "[qualtrics]\ninclude_unfinished = true\n"))
    p = _numbered(MAKE.sample_wave().participants, 10)
    row = by_response(run_close_out(wave).analysis)[p[20].response_id]
    assert (row["Finished"], row["SubmissionId"], row["Decision"]) == ("False", p[20].assignment_id, "approve")
    assert row["Include"] == "false"


def test_include_on_the_prolific_studys_traps(study):
    everyone = MAKE.sample_study().participants
    p = _numbered(everyone, 14)
    rows = by_response(run_close_out(study).analysis)
    _consistent(rows)

    def row(i):
        return rows[p[i].response_id]

    assert row(0)["Include"] == "true"  # the completion code with spaces and another case
    for i in (1, 2, 3):  # failed-check code, an unknown code, NOCODE
        assert row(i)["Include"] == "false" and row(i)["SubmissionId"] == p[i].assignment_id
    assert "bad_code" in row(2)["Reasons"] and "no_code" in row(3)["Reasons"]
    assert (row(5)["Decision"], row(5)["Include"]) == ("review", "false")  # returned with a response
    assert "returned_with_response" in row(5)["Reasons"]
    for i in (6, 7):  # timed out, screened out: their responses are unfinished
        assert (row(i)["SubmissionId"], row(i)["Reasons"], row(i)["Include"]) == ("", "unfinished", "false")
    assert row(10)["Decision"] == "reject" and row(10)["Include"] == "false"  # rejected on Prolific already
    assert "not_submitted" in row(10)["Reasons"]
    assert row(9)["Include"] == "true" and set(row(9)["Reasons"].split(";")) <= PAY_FACTS  # approved already
    assert (row(11)["Decision"], row(11)["Include"]) == ("reject", "false")  # far too fast
    assert (row(12)["Decision"], row(12)["Include"]) == ("reject", "false")  # attention
    first = rows[everyone[14].response_id]  # the first of two takes: matched, flagged
    assert first["Decision"] == "approve" and first["Include"] == "false" and "duplicate_response" in first["Reasons"]
    assert row(14)["SubmissionId"] == "" and row(14)["Include"] == "false"  # the second take
    assert row(16)["Include"] == "true" and "bonus_rounded" in row(16)["Reasons"]
    assert row(18)["Include"] == "false" and row(18)["Reasons"] == "bonus_invalid"
    near = row(20)  # the response whose participant id is one character off
    assert (near["SubmissionId"], near["Include"], near["Reasons"]) == ("", "false", "near_miss_candidate")
    for status in ("Survey Preview", "Survey Test"):
        (r,) = [r for r in rows.values() if r["Status"] == status]
        assert r["Include"] == "false"
    assert rows["R_nOsUbMiSsIoNpRo"]["Include"] == "false"
    assert row(30)["ParticipantId"] == p[30].worker_id and row(30)["Include"] == "true"


# --- responses_frame and the README ----------------------------------------------------------


def test_responses_frame_is_the_files_table_and_writes_nothing(config):
    import pandas as pd

    frame = responses_frame(config, now=NOW)
    assert not (config.parent / "out").exists()  # no workbook, no file: nothing written
    result = run_close_out(config)
    rows = read_rows(result.analysis)
    assert list(frame.columns) == rows[0]
    names, _ = export_rows(config.parent / "qualtrics_export.csv")
    for name in names + [c for c in OUTCOME if c != "Include"]:
        assert frame[name].dtype == pd.StringDtype(), name
    assert frame["Include"].dtype == bool
    as_text = [[*r[:-2], "true" if r[-2] else "false", r[-1]] for r in frame.itertuples(index=False)]
    assert as_text == rows[1:]


def test_readme_example_runs(tmp_path, wave):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Data for analysis", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len([line for line in code.splitlines() if line.strip()]) == 3
    names = {}
    cwd = os.getcwd()
    os.chdir(wave.parent)
    try:
        exec(compile(code, "README.md", "exec"), names)
    finally:
        os.chdir(cwd)
    assert len(names["responses"]) == 54 and len(names["included"]) == 37
    assert names["included"]["Include"].all()
    r_line = re.search(r'`(read\.csv\("out/(.+?)", colClasses = "character"\))`', section)
    assert r_line and r_line.group(2).endswith("-responses.csv")


def test_close_out_does_not_import_pandas(wave):
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bridge", "close-out", str(wave), "--now", "2026-11-21T12:00:00Z"],
        capture_output=True, text=True, cwd=wave.parent,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (wave.parent / "out" / MTURK[2]).exists()
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "bridge.responses" in imported
    assert not {m for m in imported if m == "pandas" or m.startswith("pandas.")}


# --- The file: safe, atomic, where the config says -------------------------------------------


def test_formula_cells_are_neutralised(wave):
    path = wave.parent / "qualtrics_export.csv"
    rows = read_rows(path)
    q1, q9, code = rows[0].index("Q1"), rows[0].index("Q9_TEXT"), rows[0].index("Random ID")
    hostile = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", "\uff1dHYPERLINK(1)", "\uff0d1+1", "-74.5", "-3"]
    for row, text in zip(rows[3:], hostile):
        row[q9] = text
    rows[0][q1] = "=Q1"  # a column name too
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    out = read_rows(run_close_out(wave).analysis)
    assert out[0][q1] == "'=Q1"
    got = [r[q9] for r in out[1 : len(hostile) + 1]]
    assert got == ["'" + t for t in hostile[:8]] + ["-74.5", "-3"]  # plain numbers are no formulas
    assert all(r[code] == w[code] for r, w in zip(out[1:], rows[3:]))


def test_a_second_close_out_replaces_the_file_atomically(wave, monkeypatch):
    first = run_close_out(wave).analysis
    before = first.read_bytes()
    inode = first.stat().st_ino
    assert stat.S_IMODE(first.stat().st_mode) == 0o666 & ~_umask()
    replaced = []
    real = os.replace

    def spy(src, dst, *a, **kw):
        replaced.append((Path(src), Path(dst)))
        return real(src, dst, *a, **kw)

    monkeypatch.setattr(os, "replace", spy)
    second = run_close_out(wave).analysis
    assert (second.parent / Path(replaced[-1][0]).name).parent == second.parent
    assert replaced[-1][1] == second and replaced[-1][0].parent == second.parent
    assert second.read_bytes() == before and second.stat().st_ino != inode
    assert sorted(p.name for p in second.parent.iterdir()) == sorted([MTURK[2], "sample-wave-1-reconciliation.xlsx",
                                                                    ".sample-wave-1-reconciliation.xlsx.written"])

    # A run that fails while writing leaves the previous file whole, and no temporary file.
    calls = {"n": 0}
    real_outcome = responses.outcome

    def failing(*args):
        calls["n"] += 1
        if calls["n"] == 20:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_outcome(*args)

    monkeypatch.setattr(responses, "outcome", failing)
    with pytest.raises(InputError, match="disk is full"):
        run_close_out(wave)
    assert second.read_bytes() == before
    assert sorted(p.name for p in second.parent.iterdir()) == sorted([MTURK[2], "sample-wave-1-reconciliation.xlsx",
                                                                    ".sample-wave-1-reconciliation.xlsx.written"])


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_output_analysis_key_and_its_guards(wave):
    text = wave.read_text()
    wave.write_text(text.replace("[output]\n", '[output]\nanalysis = "data/responses.csv"\n'))
    assert close_out(load_config(wave), NOW).analysis == wave.parent / "data" / "responses.csv"
    assert (wave.parent / "data" / "responses.csv").exists()

    # Never over an input of the run, nor over a file this tool did not write.
    wave.write_text(text.replace("[output]\n", '[output]\nanalysis = "qualtrics_export.csv"\n'))
    survey = (wave.parent / "qualtrics_export.csv").read_bytes()
    with pytest.raises(InputError, match=r"\[output\] analysis names an input"):
        close_out(load_config(wave), NOW)
    assert (wave.parent / "qualtrics_export.csv").read_bytes() == survey
    (wave.parent / "notes.csv").write_text("my,own,notes\n")
    wave.write_text(text.replace("[output]\n", '[output]\nanalysis = "notes.csv"\n'))
    with pytest.raises(InputError, match="did not write"):
        close_out(load_config(wave), NOW)
    assert (wave.parent / "notes.csv").read_text() == "my,own,notes\n"


def test_the_api_source_writes_the_same_file(tmp_path, wave, monkeypatch):
    """Read through the Qualtrics API, the close-out re-reads the export it downloaded."""
    from bridge.emulator.qualtrics import QualtricsEmulator

    from_csv = run_close_out(wave).analysis.read_bytes()
    monkeypatch.setenv("QUALTRICS_API_KEY", "lab-token-123")
    qualtrics = QualtricsEmulator(token="lab-token-123")
    qualtrics.add_survey("SV_sample01", wave.parent / "qualtrics_export.csv")
    with qualtrics:
        api = wave.parent / "api.toml"
        api.write_text(wave.read_text().replace('csv = "qualtrics_export.csv"',
                                                f'survey_id = "SV_sample01"\nbase_url = "{qualtrics.url}"'))
        result = close_out(load_config(api), NOW, workbook=tmp_path / "api" / "book.xlsx")
        assert result.survey_export is None  # closed and dropped once written
        frame = responses_frame(api, now=NOW)
    assert result.analysis == tmp_path / "api" / "sample-wave-1-responses.csv"
    assert result.analysis.read_bytes() == from_csv
    assert len(frame) == 54


def test_a_survey_column_named_like_an_outcome_column(wave):
    """The file keeps both columns; the DataFrame names the later one as pandas would."""
    path = wave.parent / "qualtrics_export.csv"
    rows = read_rows(path)
    rows[0][rows[0].index("Q1")] = "Include"
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    header = read_rows(run_close_out(wave).analysis)[0]
    assert header.count("Include") == 2 and header[-2:] == ["Include", "Flags"]
    frame = responses_frame(wave, now=NOW)
    assert list(frame.columns)[-2] == "Include.1" and frame["Include.1"].dtype == bool
    assert (frame["Include"] == "A friend").all()
