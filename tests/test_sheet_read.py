"""The Decisions sheet read back streaming (bridge.workbook.sheet): the same values openpyxl
reads, from packages written the ways spreadsheet programs write them (shared strings, rich
text, escapes, formulas, cells without references), and a workbook LibreOffice saved."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile

import pytest
from openpyxl import load_workbook
from paths import SAMPLE
from typer.testing import CliRunner

from bridge.cli import app
from bridge.workbook.sheet import Formula, Read, read_sheet_columns

CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>
</Types>"""
ROOT_RELS = """<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""
WORKBOOK = """<?xml version="1.0" encoding="UTF-8"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<sheets><sheet name="Decisions" sheetId="1" r:id="rId1"/></sheets></workbook>"""
WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="/xl/sharedStrings.xml"/>
</Relationships>"""
SHARED = """<?xml version="1.0" encoding="UTF-8"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="7" uniqueCount="7">
<si><t>Id</t></si><si><t>Decision</t></si><si><t>Bonus</t></si><si><t>Feedback</t></si>
<si><r><rPr><b/></rPr><t>app</t></r><r><t xml:space="preserve">rove</t></r></si>
<si><t>Tom &amp; Jerry_x000D_
&lt;said&gt; hi</t><rPh sb="0" eb="1"><t>ignored</t></rPh></si>
<si><t>3ID</t></si>
</sst>"""


def sheet(rows: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
            f'2006/main"><sheetData>{rows}</sheetData></worksheet>')


def package(rows: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, text in (("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", ROOT_RELS),
                           ("xl/workbook.xml", WORKBOOK), ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
                           ("xl/sharedStrings.xml", SHARED), ("xl/worksheets/sheet1.xml", sheet(rows))):
            z.writestr(name, text)
    return out.getvalue()


HEADER = '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" s="1" t="s"><v>2</v></c>' \
         '<c r="D1" t="s"><v>3</v></c></row>'
WANTED = {"Id", "Decision", "Bonus", "Feedback"}


def read(data: bytes) -> tuple[list, Read]:
    got = Read()
    return list(read_sheet_columns(io.BytesIO(data), "Decisions", WANTED, got)), got


def test_shared_strings_rich_text_escapes_and_numbers_as_excel_writes_them():
    rows = HEADER + ('<row r="2" spans="1:4"><c r="A2" s="3" t="s"><v>6</v></c><c r="B2" t="s"><v>4</v></c>'
                     '<c r="C2" s="2"><v>1.5</v></c><c r="D2" t="s"><v>5</v></c></row>'
                     '<row r="4"><c r="A4" t="inlineStr"><is><t>4ID</t></is></c><c r="B4" t="str"><v>reject</v></c>'
                     '<c r="C4"><v>2</v></c><c r="D4" t="b"><v>1</v></c></row>')
    data = package(rows)
    got, info = read(data)
    assert info.header == ["Id", "Decision", "Bonus", "Feedback"]
    assert got == [(2, {"Id": "3ID", "Decision": "approve", "Bonus": 1.5, "Feedback": "Tom & Jerry\r\n<said> hi"}),
                   (4, {"Id": "4ID", "Decision": "reject", "Bonus": 2, "Feedback": True})]
    wb = load_workbook(io.BytesIO(data), read_only=True)  # openpyxl reads the same values
    back = {r[0]: r for r in wb["Decisions"].iter_rows(min_row=2, values_only=True) if r and r[0]}
    assert back["3ID"][1:3] == ("approve", 1.5) and back["4ID"][1:] == ("reject", 2, True)
    # (_x000D_ is Excel's escape of a carriage return: read as Excel shows it.)
    assert back["3ID"][3].replace("_x000D_", "\r") == "Tom & Jerry\r\n<said> hi"


def test_a_formula_comes_back_as_a_formula_with_its_cached_value():
    rows = HEADER + ('<row r="2"><c r="A2" t="s"><v>6</v></c><c r="C2"><f>0.5*2</f><v>1</v></c>'
                     '<c r="D2" t="str"><f>"a"&amp;"b"</f><v>ab</v></c></row>')
    (number, cells), = read(package(rows))[0]
    assert number == 2 and isinstance(cells["Bonus"], Formula) and cells["Bonus"] == "0.5*2"
    assert cells["Bonus"].cached == 1 and cells["Feedback"] == '"a"&"b"' and cells["Feedback"].cached == "ab"
    assert read(package(rows))[1].formula_rows == {2}


def test_cells_without_references_are_read_with_openpyxl_instead():
    rows = ('<row r="1"><c t="s"><v>0</v></c><c t="s"><v>1</v></c></row>'
            '<row r="2"><c t="s"><v>6</v></c><c t="s"><v>4</v></c></row>')
    got, info = read(package(rows))
    assert got == [(2, {"Id": "3ID", "Decision": "approve"})] and info.header == ["Id", "Decision"]


@pytest.mark.skipif(not (shutil.which("soffice") or shutil.which("libreoffice")), reason="LibreOffice is not installed")
def test_a_workbook_libreoffice_saved_reads_as_written(tmp_path):
    folder = tmp_path / "study"
    folder.mkdir()
    for f in (SAMPLE / "prolific").iterdir():
        if f.is_file():
            shutil.copy(f, folder / f.name)
    config = folder / "study.toml"
    now = ["--now", "2026-11-21T12:00:00Z"]
    assert CliRunner().invoke(app, ["close-out", str(config), *now]).exit_code == 0
    book = folder / "out" / "sample-study-1-reconciliation.xlsx"
    saved = tmp_path / "saved"
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    subprocess.run([soffice, "--headless", "--convert-to", "xlsx", "--outdir", str(saved), str(book)], check=True,
                   capture_output=True, timeout=180)
    with zipfile.ZipFile(saved / book.name) as z:
        assert "xl/sharedStrings.xml" in z.namelist()  # saved the way spreadsheet programs save
    shutil.copy(saved / book.name, book)
    again = CliRunner().invoke(app, ["close-out", str(config), *now])
    assert again.exit_code == 0, again.output
    assert "edit kept" not in again.output  # nothing a person changed
