"""The workbook a PI can read (SPEC 4.1) and a review loop that never loses a person's work
(SPEC 4.2): the workbook reopened with openpyxl, edits carried over or refused byte for byte."""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from paths import SAMPLE
from typer.testing import CliRunner

from bridge.cli import app
from bridge.workbook.xlsx import MIN_SCALE

NOW = ["--now", "2026-11-21T12:00:00Z"]
BOOK = "out/sample-wave-1-reconciliation.xlsx"


@pytest.fixture
def wave(tmp_path: Path) -> Path:
    (tmp_path / "wave").mkdir()
    for name in ("wave.toml", "qualtrics_export.csv", "batch_results.csv"):
        shutil.copy(SAMPLE / name, tmp_path / "wave" / name)
    return tmp_path / "wave" / "wave.toml"


@pytest.fixture
def study(tmp_path: Path) -> Path:
    (tmp_path / "study").mkdir()
    for f in (SAMPLE / "prolific").iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / "study" / f.name)
    return tmp_path / "study" / "study.toml"


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def header(ws) -> list[str]:
    return [c.value for c in ws[1]]


@pytest.mark.parametrize("kind", ["mturk", "prolific"])
def test_every_sheet_is_laid_out_for_reading_and_printing(kind, wave, study):
    config = wave if kind == "mturk" else study
    assert run("close-out", config, *NOW).exit_code == 0
    path = config.parent / ("out/sample-wave-1-reconciliation.xlsx" if kind == "mturk"
                            else "out/sample-study-1-reconciliation.xlsx")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~_umask()  # 0644 under the usual umask
    wb = load_workbook(path)
    assert wb.sheetnames == ["Summary", "Charts", "Decisions", "Unmatched responses", "Qualifications", "Log"]
    charts = wb["Charts"]  # a page of charts (SPEC §15), not a table: printed whole on one page
    assert charts.page_setup.orientation == "landscape" and charts.sheet_properties.pageSetUpPr.fitToPage
    assert (charts.page_setup.fitToWidth, charts.page_setup.fitToHeight) == (1, 1)
    assert charts.print_area and len(charts._charts) == 4
    for ws in wb.worksheets:
        if ws is charts:
            continue
        cols = len([v for v in header(ws) if v])
        assert all(c.font.b for c in ws[1] if c.value), ws.title  # bold header
        assert ws.freeze_panes == "A2", ws.title
        assert ws.auto_filter.ref == f"A1:{get_column_letter(ws.max_column)}{ws.max_row}", ws.title
        assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.scale) >= MIN_SCALE, ws.title
        assert ws.print_title_rows in ("1:1", "$1:$1"), ws.title  # SPEC 4.3: readable, header on every page
        for i in range(1, cols + 1):  # every column at least as wide as its longest short text
            letter = get_column_letter(i)
            if ws.column_dimensions[letter].hidden:
                continue
            longest = max((len(str(c.value)) for c in ws[letter] if c.value is not None), default=0)
            assert ws.column_dimensions[letter].width >= min(longest, 30), (ws.title, letter)
    d = wb["Decisions"]
    head = header(d)
    bonus, decision, sid = head.index("Bonus") + 1, head.index("Decision") + 1, 1
    for row in d.iter_rows(min_row=2):
        id_cell, bonus_cell, decision_cell = row[sid - 1], row[bonus - 1], row[decision - 1]
        assert isinstance(id_cell.value, str) and len(id_cell.value) >= 24  # IDs whole, as text
        if bonus_cell.value is not None:
            assert isinstance(bonus_cell.value, (int, float)) and bonus_cell.number_format == "0.00"
        filled = decision_cell.fill.fgColor.rgb not in (None, "00000000")
        assert filled is (decision_cell.value == "review"), (decision_cell.value, decision_cell.fill.fgColor.rgb)
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(min_row=2, values_only=True)}
    cur = "USD" if kind == "mturk" else "GBP"
    for key in (f"Bonus total ({cur})", f"Total cost ({cur})", f"Rewards to pay ({cur})"):
        assert isinstance(summary[key], (int, float)), key
    assert sum(1 for k in summary if k.startswith("Reward per")) == 1  # one row per distinct reward
    assert isinstance(summary["Approve (to send)"], int)
    s = wb["Summary"]
    assert s.column_dimensions["A"].width >= max(len(str(k)) for k in summary)  # labels readable
    assert any(c.alignment.wrap_text for c in s["B"] if isinstance(c.value, str) and len(c.value) > 60)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _edit(path: Path, change) -> None:
    wb = load_workbook(path)
    ws = wb["Decisions"]
    head = header(ws)
    rows = {r[0].value: {h: c for h, c in zip(head, r)} for r in ws.iter_rows(min_row=2)}
    change(rows)
    wb.save(path)


def test_edits_are_carried_over_into_the_next_close_out(wave):
    assert run("close-out", wave, *NOW).exit_code == 0
    path = wave.parent / BOOK
    picked = {}

    def change(rows):
        for sid, cells in rows.items():
            if cells["Decision"].value == "review" and cells["Bonus"].value is None and "review" not in picked:
                picked["review"] = sid
                cells["Decision"].value, cells["Bonus"].value = "approve", 1.25
            elif cells["Decision"].value == "reject" and cells["MTurkStatus"].value == "Submitted" \
                    and "reject" not in picked:
                picked["reject"] = sid
                cells["Feedback"].value = "A longer explanation written by the RA after checking the response."

    _edit(path, change)
    again = run("close-out", wave, *NOW)
    assert again.exit_code == 0, again.output
    assert again.output.count("edit kept:") == 2, again.output
    rows = {r["AssignmentId"]: r for r in _sheet(path)}
    assert (rows[picked["review"]]["Decision"], rows[picked["review"]]["Bonus"]) == ("approve", 1.25)
    assert rows[picked["reject"]]["Feedback"].startswith("A longer explanation")
    assert "edited in the workbook" in rows[picked["review"]]["Notes"]
    # A third run keeps them too (the edits are now in the written baseline and the plan).
    third = run("close-out", wave, *NOW)
    assert third.exit_code == 0
    assert {r["AssignmentId"]: r for r in _sheet(path)}[picked["review"]]["Decision"] == "approve"


def test_edits_that_cannot_be_carried_over_are_refused_and_the_file_is_untouched(wave):
    assert run("close-out", wave, *NOW).exit_code == 0
    path = wave.parent / BOOK

    def change(rows):
        sid = next(s for s, c in rows.items() if c["Decision"].value == "review")
        rows[sid]["Decision"].value = "maybe later"

    _edit(path, change)
    before = path.read_bytes()
    result = run("close-out", wave, *NOW)
    assert result.exit_code == 3, result.output
    assert str(path) in result.output and "survey-bridge apply" in result.output and "--workbook" in result.output
    assert "maybe later" in result.output
    assert path.read_bytes() == before


def test_a_file_the_tool_did_not_write_is_never_replaced(wave):
    path = wave.parent / BOOK
    path.parent.mkdir()
    path.write_bytes(b"the PI's own notes")
    result = run("close-out", wave, *NOW)
    assert result.exit_code == 1 and str(path) in result.output and "did not write" in result.output
    assert path.read_bytes() == b"the PI's own notes"


@pytest.mark.parametrize("target", ["qualtrics_export.csv", "wave.toml", "batch_results.csv"])
def test_the_workbook_path_never_names_an_input(wave, target):
    inputs = {p.name: p.read_bytes() for p in wave.parent.iterdir() if p.is_file()}
    result = run("close-out", wave, "--workbook", wave.parent / target, *NOW)
    assert result.exit_code == 1, result.output
    assert target in result.output
    assert {p.name: p.read_bytes() for p in wave.parent.iterdir() if p.is_file()} == inputs


def _sheet(path: Path, name: str = "Decisions") -> list[dict]:
    ws = load_workbook(path)[name]
    rows = list(ws.iter_rows(values_only=True))
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def test_a_shared_code_carries_no_bonus_and_a_near_miss_shows_its_candidates(wave):
    assert run("close-out", wave, *NOW).exit_code == 0
    rows = _sheet(wave.parent / BOOK)
    shared = [r for r in rows if "code_shared" in (r["Reasons"] or "")]
    assert len(shared) == 2 and all(r["Bonus"] is None for r in shared)
    near = [r for r in rows if r["Match"] == "near_miss"]
    assert near and all(r["Decision"] == "review" for r in near)
    assert any(r["Bonus"] is not None for r in near)  # the candidate response's bonus, for the person


def test_the_terminal_summary_is_one_figure_a_line_and_agrees_with_the_workbook(wave):
    result = run("close-out", wave, *NOW)
    lines = result.output.splitlines()
    figures = dict(re.match(r"  (.+?)\s{2,}(\S.*)$", line).groups() for line in lines if line.startswith("  "))
    summary = {r["Item"]: r["Value"] for r in _sheet(wave.parent / BOOK, "Summary")}
    for key, value in figures.items():
        assert str(summary[key]) == value or f"{summary[key]:.2f}" == value, key
    assert {"Approve (to send)", "Reject (to send)", "Review (a person decides)"} <= set(figures)


def test_an_empty_wage_reads_not_applicable(tmp_path, wave):
    text = wave.read_text().replace('unmatched = "reject"', 'unmatched = "review"')
    text = text.replace('attention_failed = "reject"', 'attention_failed = "review"')
    wave.write_text(text)
    batch = (wave.parent / "batch_results.csv").read_text()
    (wave.parent / "batch_results.csv").write_text(batch.replace('"Submitted"', '"Rejected"')
                                                   .replace('"Approved"', '"Rejected"'))
    result = run("close-out", wave, *NOW)
    assert result.exit_code == 0, result.output
    assert re.search(r"Effective hourly wage \(USD\) +n/a \(nothing approved\)", result.output), result.output


def test_rich_markup_never_eats_bracketed_text(wave):
    text = wave.read_text().replace('[output]\nworkbook = "out/sample-wave-1-reconciliation.xlsx"',
                                    '[output]\nworkbook = "out/sample-wave-1-reconciliation.csv"')
    wave.write_text(text)
    result = run("close-out", wave, *NOW)
    assert result.exit_code == 1 and "[output] workbook must end in .xlsx" in result.output
    assert "instead of [output] workbook" in run("close-out", "--help").output
