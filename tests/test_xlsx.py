"""The fast sheet writer: what it writes reads back through openpyxl exactly."""

from __future__ import annotations

import tracemalloc
import zipfile
from decimal import Decimal
from xml.etree import ElementTree

import pytest
from openpyxl import load_workbook

from bridge.workbook.xlsx import MIN_SCALE, Sheet, write_xlsx

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"

TEXTS = [
    "plain", "0012345", "4.82E+06", "1e3", "TRUE", "  spaced  ", "a & b < c > d", 'quote " and \' apostrophe',
    "line\nbreak", "carriage\r\nreturn", "tab\there", "emoji 😀 and ü", "'=1+1", "]]>", "<t>not a tag</t>",
]


def read_back(path, title):
    return [list(r) for r in load_workbook(path)[title].iter_rows(values_only=True)]


def test_text_numbers_and_empty_cells_read_back(tmp_path):
    path = tmp_path / "t.xlsx"
    rows = [["Text", "Int", "Float", "Empty", "Last"]] + [[t, i, i / 4, None, "x"] for i, t in enumerate(TEXTS)]
    write_xlsx(path, {"One": rows, "Two": [["a"], ["b"]], "Empty": []})
    assert load_workbook(path).sheetnames == ["One", "Two", "Empty"]
    back = read_back(path, "One")
    assert back == rows
    # Text stays text: a code never becomes a number or a formula.
    assert all(isinstance(r[0], str) for r in back)
    ws = load_workbook(path)["One"]
    assert ws["A2"].data_type == "s" and ws["B3"].data_type == "n"
    assert read_back(path, "Two") == [["a"], ["b"]]
    assert zipfile.ZipFile(path).testzip() is None
    assert not list(tmp_path.glob("*.package"))


def test_characters_xml_cannot_carry_are_dropped_not_fatal(tmp_path):
    path = tmp_path / "t.xlsx"
    write_xlsx(path, {"S": [["bell\x07 and \x0bvertical", "ok"]]})
    assert read_back(path, "S") == [["bell and vertical", "ok"]]


def test_empty_strings_are_empty_cells(tmp_path):
    path = tmp_path / "t.xlsx"
    write_xlsx(path, {"S": [["a", "", "c"]]})
    assert read_back(path, "S") == [["a", None, "c"]]


@pytest.mark.parametrize("n", [1, 2001, 4500])
def test_many_rows_cross_write_chunks(tmp_path, n):
    path = tmp_path / "t.xlsx"
    write_xlsx(path, {"S": ([f"R{i}", i] for i in range(n))})
    back = read_back(path, "S")
    assert len(back) == n and back[-1] == [f"R{n - 1}", n - 1]


# --- Layout for a person (SPEC §4.1) ---------------------------------------------------

HEADER = ["AssignmentId", "WorkerId", "Bonus", "Decision", "Notes"]
ID = "3ABCDEFGHIJKLMNOPQRSTUVWXYZ012"  # 30 characters, like an MTurk assignment id


def decisions_sheet(**kw) -> Sheet:
    rows = [
        HEADER,
        [ID, "0012345", Decimal("1.10"), "approve", None],
        ["A2", "W2", "0.30", "review", "look at this"],
        ["A3", "W3", None, "reject", "x" * 200],
        ["A4", "W4", 2, "review"],  # shorter than the header
    ]
    return Sheet(rows, money=[2], highlight=lambda row: row[3] == "review", **kw)


def sheet_xml(path, n=1) -> str:
    return zipfile.ZipFile(path).read(f"xl/worksheets/sheet{n}.xml").decode()


def test_header_bold_frozen_and_filtered(tmp_path):
    path = tmp_path / "t.xlsx"
    write_xlsx(path, {"Decisions": decisions_sheet()})
    ws = load_workbook(path)["Decisions"]
    assert [c.font.b for c in ws[1]] == [True] * 5
    assert not any(c.font.b for c in ws[2])
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:E5"
    assert '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"' in sheet_xml(path)
    assert '<dimension ref="A1:E5"/>' in sheet_xml(path)


def test_column_widths_fit_ids_and_are_capped(tmp_path):
    path = tmp_path / "t.xlsx"
    write_xlsx(path, {"Decisions": decisions_sheet(max_width=50, widths={3: 11.5})})
    widths = {k: v.width for k, v in load_workbook(path)["Decisions"].column_dimensions.items()}
    assert widths["A"] >= len(ID) and widths["A"] <= 50
    assert widths["B"] >= len("WorkerId")  # at least the header's
    assert widths["C"] >= len("Bonus")
    assert widths["D"] == 11.5  # fixed
    assert widths["E"] == 50  # 200 characters, capped


def test_money_is_an_exact_two_place_number(tmp_path):
    path = tmp_path / "t.xlsx"
    rows = [
        ["Id", "Amount", "Other"],
        ["0012345", Decimal("1.10"), "1.50"],
        ["a", "0.30", Decimal("12345678901.23")],
        ["b", Decimal("1E+2"), Decimal("0.1000000000000000055511151231257827")],
        ["c", "1,50", Decimal("NaN")],
        ["d", 3, 2.5],
    ]
    write_xlsx(path, {"S": Sheet(rows, money=[1])})
    ws = load_workbook(path)["S"]
    assert ws["A2"].value == "0012345" and ws["A2"].data_type == "s"
    for ref, value in [("B2", 1.1), ("B3", 0.3), ("C3", 12345678901.23), ("B4", 100), ("B6", 3)]:
        assert ws[ref].data_type == "n" and ws[ref].value == value, ref
        assert ws[ref].number_format == "0.00", ref
    assert ws["C2"].value == "1.50"  # a decimal string outside a money column stays text
    assert ws["B5"].value == "1,50" and ws["C5"].value == "NaN"  # not plain decimals: text
    assert ws["C6"].value == 2.5 and ws["C6"].number_format == "General"
    xml = sheet_xml(path)
    for text in ["1.10", "12345678901.23", "100", "0.1000000000000000055511151231257827"]:
        assert f"<v>{text}</v>" in xml  # the decimal's own digits, never via float


def test_highlighted_rows_are_filled_and_others_not(tmp_path):
    path = tmp_path / "t.xlsx"
    write_xlsx(path, {"Decisions": decisions_sheet()})
    ws = load_workbook(path)["Decisions"]

    def filled(cell):
        return cell.fill.fill_type == "solid" and cell.fill.fgColor.rgb == "FFFFF2CC"

    assert [all(filled(c) for c in ws[r]) for r in range(1, 6)] == [False, False, True, False, True]
    assert not any(filled(c) for r in (1, 2, 4) for c in ws[r])
    assert ws["C3"].value == 0.3 and ws["C3"].number_format == "0.00"  # a money cell keeps its format
    assert ws["E5"].value is None  # padding of a short highlighted row is no value


def test_landscape_readable_size_with_header_on_every_page(tmp_path):
    """SPEC 4.3 (it replaced 4.1's one page wide): a fixed scale, never below MIN_SCALE; a sheet
    too wide for a page at that size goes across pages with its first column repeated."""
    path = tmp_path / "t.xlsx"
    wide = [[f"column {i}" for i in range(30)], ["x" * 20] * 30]
    write_xlsx(path, {"First": [["a"], ["b"]], "Sheet two": decisions_sheet(), "Wide": wide})
    wb = load_workbook(path)
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape"
        assert MIN_SCALE <= int(ws.page_setup.scale) <= 100
        assert not ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.print_title_rows.replace("$", "") == "1:1"
    assert int(wb["First"].page_setup.scale) == 100 and not wb["First"].print_title_cols
    assert int(wb["Wide"].page_setup.scale) == MIN_SCALE and wb["Wide"].print_title_cols.replace("$", "") == "A:A"
    assert wb["Wide"].page_setup.pageOrder == "overThenDown"
    workbook = zipfile.ZipFile(path).read("xl/workbook.xml").decode()
    names = workbook.replace("'", "")
    assert """<definedName name="_xlnm.Print_Titles" localSheetId="0">First!$1:$1</definedName>""" in names
    assert """<definedName name="_xlnm.Print_Titles" localSheetId="2">Wide!$1:$1,Wide!$A:$A</definedName>""" in names


# CT_Worksheet's children, in the order the schema requires.
SCHEMA_ORDER = """sheetPr dimension sheetViews sheetFormatPr cols sheetData sheetCalcPr sheetProtection
protectedRanges scenarios autoFilter sortState dataConsolidate customSheetViews mergeCells phoneticPr
conditionalFormatting dataValidations hyperlinks printOptions pageMargins pageSetup headerFooter rowBreaks
colBreaks customProperties cellWatches ignoredErrors smartTags drawing legacyDrawing legacyDrawingHF picture
oleObjects controls webPublishItems tableParts extLst""".split()


def test_sheet_elements_in_schema_order_and_styles_exist(tmp_path):
    path = tmp_path / "t.xlsx"
    write_xlsx(path, {"Decisions": decisions_sheet(wrap=[4]), "Empty": []})
    package = zipfile.ZipFile(path)
    cell_xfs = ElementTree.fromstring(package.read("xl/styles.xml")).find(f"{MAIN}cellXfs")
    for n in (1, 2):
        root = ElementTree.fromstring(package.read(f"xl/worksheets/sheet{n}.xml"))
        names = [child.tag.removeprefix(MAIN) for child in root]
        assert names == sorted(names, key=SCHEMA_ORDER.index)
        assert {"sheetPr", "dimension", "sheetViews", "sheetData", "pageSetup"} <= set(names)
        used = {int(c.get("s", 0)) for c in root.iter(f"{MAIN}c")}
        assert max(used, default=0) < len(cell_xfs)
    assert "autoFilter" not in names and "cols" not in names  # the sheet without rows: nothing to filter


def test_sheet_with_only_a_header(tmp_path):
    path = tmp_path / "t.xlsx"
    write_xlsx(path, {"Log": Sheet([["Action", "AssignmentId", "Amount"]], money=[2])})
    ws = load_workbook(path)["Log"]
    assert read_back(path, "Log") == [["Action", "AssignmentId", "Amount"]]
    assert ws.auto_filter.ref == "A1:C1"
    assert ws["A1"].font.b and ws.freeze_panes == "A2"
    assert ws.print_title_rows.replace("$", "") == "1:1"


def test_wrapped_column_wraps_and_gets_taller_rows(tmp_path):
    path = tmp_path / "t.xlsx"
    warning = "Effective hourly wage is below the US federal minimum wage. " * 4
    rows = [["Item", "Value"], ["Approve", 3], ["Warning", warning], ["Warning", "one\ntwo"]]
    write_xlsx(path, {"Summary": Sheet(rows, wrap=[1], max_width=60)})
    ws = load_workbook(path)["Summary"]
    assert ws["B3"].alignment.wrap_text and ws["B3"].value == warning
    assert ws.column_dimensions["B"].width == 60
    assert ws.column_dimensions["A"].width >= len("Approve")
    assert ws.row_dimensions[3].height == 4 * 15 and ws.row_dimensions[4].height == 2 * 15  # as tall as the text (SPEC 4.3)
    assert ws.row_dimensions[2].height is None
    assert ws["B2"].value == 3 and ws["B2"].number_format == "General"


def test_awkward_text_in_a_laid_out_sheet(tmp_path):
    path = tmp_path / "t.xlsx"
    rows = [["Text", "Money"], *([t, Decimal(i)] for i, t in enumerate(TEXTS)), ["bell\x07 and \x0bvertical", None]]
    write_xlsx(path, {"S": Sheet(rows, money=[1], wrap=[0], highlight=lambda row: row[1] == 1)})
    back = read_back(path, "S")
    assert [r[0] for r in back[1:-1]] == TEXTS
    assert back[-1] == ["bell and vertical", None]


def test_plain_rows_are_laid_out_too(tmp_path):
    path = tmp_path / "t.xlsx"
    write_xlsx(path, {"S": iter([["Id", "N"], [ID, 1]])})
    ws = load_workbook(path)["S"]
    assert ws["A1"].font.b and ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:B2"
    assert ws.column_dimensions["A"].width >= len(ID)


def test_failing_rows_leave_no_file_behind(tmp_path):
    def rows():
        yield ["a"]
        for i in range(5000):
            yield [str(i)]
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError):
        write_xlsx(tmp_path / "t.xlsx", {"S": Sheet(rows())})
    assert list(tmp_path.iterdir()) == []


def test_memory_stays_bounded_however_many_rows(tmp_path):
    n = 60_000  # about 12 MB of row XML
    tracemalloc.start()
    try:
        write_xlsx(tmp_path / "t.xlsx", {"S": Sheet(([f"R{i:06d}", "some text here", i] for i in range(n)), money=[2])})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 6 * 2**20
    assert load_workbook(tmp_path / "t.xlsx", read_only=True)["S"].max_row == n
