"""Hostile input, paths, concurrent runs and full disks (SPEC §10): nothing lost, nothing
clobbered, no live formula, no credential shown, one message a person can act on."""

from __future__ import annotations

import errno
import gc
import io
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook
from paths import SAMPLE
from typer.testing import CliRunner

from bridge.ledger import open_ledger
from bridge.cli import app
from bridge.workbook.write import restore, safe

NOW = ["--now", "2026-11-21T12:00:00Z"]


@pytest.fixture
def wave(tmp_path: Path) -> Path:
    for name in ("wave.toml", "qualtrics_export.csv", "batch_results.csv"):
        shutil.copy(SAMPLE / name, tmp_path / name)
    return tmp_path / "wave.toml"


def run(*args, env=None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


@pytest.mark.parametrize("text", ['=HYPERLINK("http://x")', "＝HYPERLINK(\"http://x\")", "＋1+1", "－2", "＠SUM(A1)",
                                  "+1", "-1", "@x", "\tx", "\rx"])
def test_formula_text_is_neutralised_after_unicode_normalisation(text):
    assert safe(text) == "'" + text and restore(safe(text)) == text


@pytest.mark.parametrize("text", ["plain", "'quoted", "R_abc", "ａｂｃ", "1.50"])
def test_other_text_is_kept_as_it_is(text):
    assert safe(text) == text and restore(text) == text


def test_every_outside_text_cell_is_neutralised(wave):
    survey = wave.parent / "qualtrics_export.csv"
    survey.write_text(survey.read_text(encoding="utf-8").replace("Nothing to add.", "＝1+1", 1), encoding="utf-8")
    batch = wave.parent / "batch_results.csv"
    text = batch.read_text(encoding="utf-8")
    first_code = text.splitlines()[1].rsplit(",", 1)[1]
    batch.write_text(text.replace(first_code, '"＠SUM(A1)"', 1), encoding="utf-8")
    assert run("close-out", wave, *NOW).exit_code == 0
    wb = load_workbook(wave.parent / "out" / "sample-wave-1-reconciliation.xlsx")
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            for value in row:
                if isinstance(value, str) and value:
                    assert not safe(value[:4]).startswith("'") or value.startswith("'"), (ws.title, value)


def test_a_password_in_a_url_is_never_printed_or_stored(tmp_path):
    folder = tmp_path / "study"
    shutil.copytree(SAMPLE / "prolific", folder, ignore=shutil.ignore_patterns("out"))
    config = folder / "study.toml"
    config.write_text(config.read_text().replace('environment = "production"',
                                                 'environment = "http://labuser:hunter2secret@127.0.0.1:9"'))
    result = run("close-out", config, *NOW)
    assert result.exit_code == 0, result.output
    book = folder / "out" / "sample-study-1-reconciliation.xlsx"
    cells = [str(v) for ws in load_workbook(book).worksheets for row in ws.iter_rows(values_only=True) for v in row]
    assert not any("hunter2secret" in c for c in cells)
    assert "http://***@127.0.0.1:9" in cells
    # Applying fails to connect: the message names the endpoint without the password.
    applied = run("close-out", config, "--apply", "--yes", *NOW, env={"PROLIFIC_API_TOKEN": "tok"})
    assert applied.exit_code != 0 and "hunter2secret" not in applied.output


def test_ctrl_c_exits_130_and_says_how_to_resume(wave, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("bridge.closeout.plan_wave", interrupted)
    result = run("close-out", wave, *NOW)
    assert result.exit_code == 130 and "Run the same command again to resume" in result.output


def test_swapped_apply_arguments_are_recognised(wave):
    result = run("apply", wave, "--config", wave.parent / "out.xlsx")
    assert result.exit_code == 1 and "swapped" in result.output
    assert f"survey-bridge apply {wave.parent / 'out.xlsx'} --config {wave}" in result.output


def test_a_folder_given_as_the_config_is_named(wave):
    result = run("close-out", wave.parent, *NOW)
    assert result.exit_code == 1 and "is a folder, not a config file" in result.output and "wave.toml" in result.output


def test_answer_prefix_in_code_answer_is_accepted(wave):
    wave.write_text(wave.read_text().replace('code_answer = "surveycode"', 'code_answer = "Answer.surveycode"'))
    result = run("close-out", wave, *NOW)
    assert result.exit_code == 0, result.output


class FullDisk(io.FileIO):
    """A file on a disk that fills up after 4 kB, as a real one does mid-write."""

    def write(self, data):
        if self.tell() + len(data) > 4_000:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)


def test_a_failed_workbook_write_leaves_no_zip_to_finish_later(tmp_path, monkeypatch):
    from bridge.workbook.xlsx import write_xlsx

    monkeypatch.setattr("bridge.workbook.xlsx.open", lambda path, mode: FullDisk(path, mode), raising=False)
    unraisable = []  # a zip writer left to finish itself would fail again in its __del__, here
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    try:
        write_xlsx(tmp_path / "x.xlsx", {"S": [["a"], *([f"row {i} " * 20] for i in range(2000))]})
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    else:
        raise AssertionError("the write did not fail")
    gc.collect()
    assert not unraisable, [u.exc_value for u in unraisable]


def test_a_full_disk_is_one_message_and_the_previous_workbook_stays(wave, monkeypatch, capfd):
    assert run("close-out", wave, *NOW).exit_code == 0
    book = wave.parent / "out" / "sample-wave-1-reconciliation.xlsx"
    before = book.read_bytes()
    files = sorted(p.name for p in book.parent.iterdir())

    monkeypatch.setattr("bridge.workbook.xlsx.open", lambda path, mode: FullDisk(path, mode), raising=False)
    unraisable = []  # e.g. a zip writer left open, failing again from its __del__
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    result = run("close-out", wave, *NOW)
    gc.collect()
    assert not unraisable, [u.exc_value for u in unraisable]
    assert result.exit_code == 1, result.output
    assert "disk is full" in result.output and str(book) in result.output
    assert "Traceback" not in result.output and "Exception ignored" not in capfd.readouterr().err
    assert book.read_bytes() == before
    assert sorted(p.name for p in book.parent.iterdir()) == files  # no temporary file left


def test_a_file_that_is_not_a_ledger_is_never_written_into(wave, tmp_path):
    other = tmp_path / "notes.sqlite"
    other.write_text("my notes\n")
    with pytest.raises(Exception) as err:
        open_ledger(other, panel="mturk", environment="local", tasks=["3HIT"])
    assert "not a survey-bridge ledger" in str(err.value) and other.read_text() == "my notes\n"
    db = tmp_path / "app.sqlite"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE people (name TEXT)")
    before = db.read_bytes()
    with pytest.raises(Exception) as err:
        open_ledger(db, panel="mturk", environment="local", tasks=["3HIT"])
    assert "another program" in str(err.value) and db.read_bytes() == before


def test_a_second_run_applying_the_same_wave_is_refused(tmp_path):
    path = tmp_path / "wave.ledger.sqlite"
    def ledger():
        return open_ledger(path, panel="mturk", environment="local", tasks=["3HIT"], exclusive=True)

    with ledger():
        with pytest.raises(Exception) as err:
            ledger()
        assert getattr(err.value, "exit_code", None) == 3 and str(path) in str(err.value)
    with ledger():  # released when the first closed
        pass
