"""The fast sheet writer: what it writes reads back through openpyxl exactly."""

from __future__ import annotations

import zipfile

import pytest
from openpyxl import load_workbook

from bridge.xlsx import write_xlsx

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
