"""Write an .xlsx whose sheets hold many rows, quickly.

openpyxl builds the package (workbook, styles, content types, relationships and one empty
worksheet per sheet); this module then streams each sheet's rows into its worksheet part.
openpyxl spends several microseconds per cell on cell objects, and a close-out's workbook
holds hundreds of thousands of cells; here a cell is one formatted string, in the same XML
openpyxl writes for inline strings and numbers, so the file reads back the same.

Text is stored as inline strings (never a formula, never a number); characters XML cannot
carry (ASCII controls other than tab, LF, CR) are dropped; CR is kept as `&#13;` so it
survives reading.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Iterable, Sequence
from xml.etree import ElementTree

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

Value = str | int | float | None

_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_ROWS_PER_WRITE = 2000


def _cell(ref: str, value: Value) -> str:
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        return f'<c r="{ref}" t="n"><v>{value!r}</v></c>'
    text = _ILLEGAL.sub("", str(value)).translate(_ESCAPES)
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return f'<c r="{ref}" t="inlineStr"><is><t{space}>{text}</t></is></c>'


def _rows_xml(rows: Iterable[Sequence[Value]]) -> Iterable[bytes]:
    letters: list[str] = []
    chunk: list[str] = []
    for r, row in enumerate(rows, 1):
        while len(letters) < len(row):
            letters.append(get_column_letter(len(letters) + 1))
        cells = "".join(_cell(f"{letters[i]}{r}", v) for i, v in enumerate(row) if v is not None and v != "")
        chunk.append(f'<row r="{r}">{cells}</row>')
        if len(chunk) >= _ROWS_PER_WRITE:
            yield "".join(chunk).encode("utf-8")
            chunk.clear()
    if chunk:
        yield "".join(chunk).encode("utf-8")


def _sheet_parts(package: zipfile.ZipFile) -> dict[str, str]:
    """Worksheet part name → sheet title, from the workbook and its relationships."""
    targets = {
        rel.get("Id"): rel.get("Target", "").lstrip("/")
        for rel in ElementTree.fromstring(package.read("xl/_rels/workbook.xml.rels")).iter(f"{_PKG_REL}Relationship")
    }
    parts = {}
    for sheet in ElementTree.fromstring(package.read("xl/workbook.xml")).iter(f"{_MAIN}sheet"):
        target = targets[sheet.get(f"{_REL}id")]
        parts[target if target.startswith("xl/") else f"xl/{target}"] = sheet.get("name")
    return parts


def write_xlsx(path: str | os.PathLike, sheets: dict[str, Iterable[Sequence[Value]]]) -> None:
    """Write `sheets` (title → rows, in order) to `path`. Rows are sequences of str, int,
    float or None (an empty cell)."""
    empty = Workbook(write_only=True)
    for title in sheets:
        empty.create_sheet(title)
    package_path = f"{path}.package"
    empty.save(package_path)
    try:
        with zipfile.ZipFile(package_path) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
            parts = _sheet_parts(src)
            for info in src.infolist():
                data = src.read(info)
                title = parts.get(info.filename)
                if title is None:
                    dst.writestr(info, data)
                    continue
                head, _, tail = data.decode("utf-8").replace("<sheetData/>", "<sheetData></sheetData>").partition(
                    "<sheetData></sheetData>"
                )
                with dst.open(info.filename, "w") as out:
                    out.write(f"{head}<sheetData>".encode("utf-8"))
                    for block in _rows_xml(sheets[title]):
                        out.write(block)
                    out.write(f"</sheetData>{tail}".encode("utf-8"))
    finally:
        if os.path.exists(package_path):
            os.unlink(package_path)
