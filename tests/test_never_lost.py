"""A person's review is never lost (SPEC 4.2), in every way a person's work can stop fitting:
a row edited then deleted, an edited submission gone from the export, a formula typed into
a cell, and the workbook saved while `apply` runs. Each is refused with exit 3 naming the
rows, the file left byte for byte as the person saved it (sha256 before and after). The
workbook is edited with openpyxl, which rewrites the whole file as a spreadsheet program does."""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openpyxl import load_workbook
from paths import REPO, SAMPLE
from typer.testing import CliRunner

from bridge.cli import app

NOW = ["--now", "2026-11-21T12:00:00Z"]
BOOK = "out/sample-study-1-reconciliation.xlsx"
STUDY = "58b2a2055bb55bcbb37d2f2a"
EXPORT = f"prolific_export_{STUDY}.csv"


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


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def edit(path: Path, change) -> None:
    """Open the workbook, let `change(ws, rows)` edit Decisions (rows: id -> {column: cell}), save."""
    wb = load_workbook(path)
    ws = wb["Decisions"]
    header = [c.value for c in ws[1]]
    rows = {ws.cell(r, 1).value: {h: ws.cell(r, i + 1) for i, h in enumerate(header)}
            for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value}
    change(ws, rows)
    wb.save(path)


def decisions(path: Path) -> dict[str, dict]:
    wb = load_workbook(path, read_only=True)
    rows = list(wb["Decisions"].iter_rows(values_only=True))
    wb.close()
    return {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}


def pick(rows, decision: str, *, reason: str = "", status: str = "AWAITING REVIEW") -> str:
    return next(sid for sid, c in rows.items() if c["Decision"].value == decision and c["ProlificStatus"].value == status
                and reason in (c["Reasons"].value or ""))


def closed_out(study: Path) -> Path:
    result = run("close-out", study, *NOW)
    assert result.exit_code == 0, result.output
    return study.parent / BOOK


def test_a_row_edited_then_deleted_is_refused_byte_for_byte(study):
    path = closed_out(study)
    chosen = {}

    def approve(ws, rows):
        chosen["sid"] = pick(rows, "review", reason="no_code")
        chosen["row"] = rows[chosen["sid"]]["Decision"].row
        rows[chosen["sid"]]["Decision"].value = "approve"

    edit(path, approve)
    edit(path, lambda ws, rows: ws.delete_rows(rows[chosen["sid"]]["Decision"].row))  # "take it out"
    before = sha(path)

    result = run("close-out", study, *NOW)

    assert result.exit_code == 3, result.output
    assert f"row {chosen['row']} (submission {chosen['sid']}) was deleted from the sheet" in result.output
    assert "set its Decision to review" in result.output and "--workbook" in result.output
    assert sha(path) == before


def test_an_edited_submission_gone_from_the_export_is_refused_byte_for_byte(study):
    path = closed_out(study)
    chosen = {}

    def approve(ws, rows):
        chosen["sid"] = pick(rows, "review", reason="no_code")
        chosen["row"] = rows[chosen["sid"]]["Decision"].row
        rows[chosen["sid"]]["Decision"].value = "approve"

    edit(path, approve)
    export = study.parent / EXPORT
    with open(export, newline="", encoding="utf-8") as f:
        lines = list(csv.reader(f))
    kept = [r for r in lines if chosen["sid"] not in r]
    assert len(kept) == len(lines) - 1
    with open(export, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(kept)
    before = sha(path)

    result = run("close-out", study, *NOW)

    assert result.exit_code == 3, result.output
    assert f"row {chosen['row']}: submission {chosen['sid']} was edited (Decision)" in result.output
    assert "no longer in the wave" in result.output
    assert sha(path) == before


def test_an_unedited_row_gone_from_the_export_is_simply_left_out(study):
    path = closed_out(study)
    sid = next(iter(decisions(path)))
    export = study.parent / EXPORT
    text = export.read_text(encoding="utf-8").splitlines(keepends=True)
    export.write_text("".join(line for line in text if sid not in line), encoding="utf-8")
    result = run("close-out", study, *NOW)
    assert result.exit_code == 0, result.output
    assert sid not in decisions(path)


@pytest.mark.parametrize("column, formula", [("Bonus", "=0.5*2"), ("Feedback", '="See "&"the instructions"')])
def test_a_formula_in_an_editable_cell_is_refused_naming_the_row(study, column, formula):
    path = closed_out(study)
    at = {}

    def change(ws, rows):
        sid = pick(rows, "approve")
        at["row"] = rows[sid][column].row
        rows[sid][column].value = formula

    edit(path, change)
    before = sha(path)
    result = run("close-out", study, *NOW)
    assert result.exit_code == 3, result.output
    assert f"row {at['row']}: {column} holds a formula ({formula})" in result.output
    assert sha(path) == before


def test_an_untouched_workbook_keeps_its_carried_edits_without_being_read(study):
    from datetime import datetime, timezone

    from bridge.closeout import plan_wave
    from bridge.config import load_config
    from bridge.workbook.review import find_edits

    path = closed_out(study)
    edit(path, lambda ws, rows: setattr(rows[pick(rows, "review", reason="no_code")]["Decision"], "value", "approve"))
    assert run("close-out", study, *NOW).exit_code == 0  # carries the edit over and writes the workbook again
    plan = plan_wave(load_config(study), datetime(2026, 11, 21, 12, tzinfo=timezone.utc)).plan
    untouched = find_edits(path, plan)
    read = find_edits(path, plan, read_untouched=True)
    assert untouched.untouched and not read.untouched
    assert [(r.number, r.submission_id, r.edited) for r in untouched.rows] == \
        [(r.number, r.submission_id, r.edited) for r in read.rows] == \
        [(r.number, r.submission_id, ["Decision"]) for r in read.rows]
    third = run("close-out", study, *NOW)
    assert third.exit_code == 0 and third.output.count("edit kept:") == 1, third.output


def test_a_workbook_saved_while_apply_runs_is_never_written_over(tmp_path):
    """A real concurrent save: `apply` runs in its own process against the Prolific emulator,
    slowed to 40 ms an answer, while this process saves an edit into the workbook."""
    from bridge.panels.prolific.emulator import ProlificEmulator

    folder = tmp_path / "study"
    folder.mkdir()
    for f in (SAMPLE / "prolific").iterdir():
        if f.is_file():
            shutil.copy(f, folder / f.name)
    with ProlificEmulator(token="test-token", currency="GBP", fee_rate="0.333", vat_rate="0.20", latency_ms=40,
                          async_delay=0.0) as emu:
        emu.seed_export(STUDY, folder / EXPORT, reward="1.25",
                        completion_codes={"C1A2B3C4": "COMPLETED", "C7FAIL00": "FAILED_ATTENTION_CHECK"})
        prev, eligible = emu.add_group("Prev"), emu.add_group("Eligible")
        config = folder / "study.toml"
        text = config.read_text().replace('environment = "production"', f'environment = "{emu.url}"')
        # A fresh emulator nobody else applies to: the sample's submission approved by hand needs
        # no settle window before its bonus (SPEC 13's window is tested in tests/ledger).
        text += "\n[safety]\nsettle_minutes = 0\n"
        config.write_text(text.replace("6543aaaa0000000000000001", prev).replace("6543bbbb0000000000000002", eligible))
        path = closed_out(config)
        env = {**os.environ, "PROLIFIC_API_TOKEN": "test-token", "PYTHONPATH": str(REPO)}
        command = [sys.executable, "-m", "bridge", "apply", str(path), "--config", str(config), "--yes", *NOW]
        apply = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in apply.stderr:  # the workbook has been read once this line comes
            if "checking the balance" in line:
                break
        chosen = {}

        def approve(ws, rows):
            chosen["sid"] = pick(rows, "review", reason="no_code")
            chosen["row"] = rows[chosen["sid"]]["Decision"].row
            rows[chosen["sid"]]["Decision"].value = "approve"

        edit(path, approve)
        saved = sha(path)
        assert apply.poll() is None, "apply ended before the save: the window was not real"
        out, err = apply.communicate(timeout=120)

        assert apply.returncode == 3, out + err
        assert f"row {chosen['row']} (submission {chosen['sid']}): Decision approve" in err
        assert "was saved while apply ran" in err and "Sent this run: 29 approvals" in out
        assert sha(path) == saved  # the person's file, byte for byte
        assert decisions(path)[chosen["sid"]]["Decision"] == "approve"
        assert emu.submission(chosen["sid"]).status == "AWAITING REVIEW"

        # The edit is not lost: applying the workbook again sends it, and nothing twice.
        again = CliRunner(env={"PROLIFIC_API_TOKEN": "test-token"}).invoke(
            app, ["apply", str(path), "--config", str(config), "--yes", *NOW])
        assert again.exit_code == 0, again.output
        assert "Sent this run: 1 approvals" in again.output
        deadline = time.monotonic() + 10
        while emu.submission(chosen["sid"]).status != "APPROVED" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert emu.submission(chosen["sid"]).status == "APPROVED"
        assert decisions(path)[chosen["sid"]]["Decision"] == "approve"
