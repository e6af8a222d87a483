"""Printed, the workbook is readable (SPEC 4.3): rendered to PDF by LibreOffice (headless,
default settings) and read back with poppler's pdftotext, every page's text is at least 8 pt,
every `Decisions` page repeats the header row and the id column, and wrapped rows are as
tall as their text. Skipped where LibreOffice or poppler is not installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from paths import SAMPLE
from typer.testing import CliRunner

from bridge.cli import app
from bridge.workbook.xlsx import LINE_HEIGHT, MIN_SCALE, Sheet, print_layout, wrapped_lines, write_xlsx

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
needs_office = pytest.mark.skipif(not (SOFFICE and shutil.which("pdftotext")),
                                  reason="LibreOffice and poppler-utils are needed to render the workbook")
WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')


def render(folder: Path, *books: Path) -> list[Path]:
    subprocess.run([SOFFICE, "--headless", "--convert-to", "pdf", "--outdir", str(folder), *map(str, books)],
                   check=True, capture_output=True, timeout=180)
    return [folder / f"{b.stem}.pdf" for b in books]


def pages(pdf: Path) -> list[list[tuple[float, str]]]:
    """Each page's words as (box height in points, text)."""
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return [[(float(m[3]) - float(m[1]), m[4]) for m in WORD.findall(page)] for page in out.split("<page ")[1:]]


def sample(tmp_path: Path, kind: str) -> Path:
    folder = tmp_path / kind
    folder.mkdir()
    source = SAMPLE / "prolific" if kind == "prolific" else SAMPLE
    for f in source.iterdir():
        if f.is_file():
            shutil.copy(f, folder / f.name)
    config = folder / ("study.toml" if kind == "prolific" else "wave.toml")
    assert CliRunner().invoke(app, ["close-out", str(config), "--now", "2026-11-21T12:00:00Z"]).exit_code == 0
    return next((folder / "out").glob("*.xlsx"))


@needs_office
def test_both_samples_print_at_8_points_or_more_with_ids_and_header_on_every_page(tmp_path):
    # The reference: one short sheet at 100%, whose text is the 11-point body font.
    reference = tmp_path / "reference.xlsx"
    write_xlsx(reference, {"Sheet": Sheet([["Item", "Value"], ["Submissions", 44]])})
    books = [sample(tmp_path, "prolific"), sample(tmp_path, "mturk")]
    ref_pdf, *pdfs = render(tmp_path, reference, *books)
    eleven = max(h for h, _ in pages(ref_pdf)[0])
    for book, pdf in zip(books, pdfs):
        printed = pages(pdf)
        smallest = min(h for page in printed for h, _ in page) / eleven * 11
        assert smallest >= 8.0, (book.name, smallest)
        decisions = [page for page in printed if ("Decisions,", "page") in zip(
            [t for _, t in page], [t for _, t in page][1:])]  # the footer names the sheet
        assert len(decisions) >= 2, book.name
        id_column = "SubmissionId" if "study" in book.name else "AssignmentId"
        for page in decisions:
            words = [t for _, t in page]
            assert words[0] == id_column, (book.name, words[:5])  # the header row and the id column


def test_a_wide_sheet_goes_across_pages_and_never_below_the_smallest_scale():
    assert print_layout([20, 30]) == (100, False)
    scale, across = print_layout([30] * 4)
    assert MIN_SCALE <= scale < 100 and not across  # shrunk a little, still one page wide
    assert print_layout([30] * 20) == (MIN_SCALE, True)
    assert print_layout([30] * 3 + [60] * 20, hidden=range(3, 23))[1] is False  # hidden columns do not print


def test_wrapped_rows_are_as_tall_as_their_text():
    text = "Your survey took far less time than anyone could need to read the questions."  # 77 characters
    assert wrapped_lines(text, 40) == 2 and wrapped_lines(text, 80) == 1
    assert wrapped_lines("x" * 85, 40) == 3 and wrapped_lines("one\ntwo", 40) == 2
    from bridge.workbook.xlsx import _Columns, _Styles
    from openpyxl import Workbook

    cols = _Columns(Sheet([], wrap=[1], widths={1: 36}), _Styles(Workbook()))
    cols.grow(2)
    assert cols.height(["id", text]) == f' ht="{2 * LINE_HEIGHT}"'
    assert cols.height(["id", "short"]) == ""
