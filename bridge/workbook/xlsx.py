"""Write an .xlsx whose sheets hold many rows, quickly, laid out for a person to read.

openpyxl spends several microseconds per cell on cell objects, and a close-out's workbook
holds hundreds of thousands of cells; here a cell is one formatted string, in the same XML
openpyxl writes for inline strings and numbers, so the file reads back the same.

How a sheet is written:

1. Its rows are turned into `<row>` XML and spooled to an anonymous temporary file next to
   the output (at most `_ROWS_PER_WRITE` rows' XML is in memory at a time), while the
   longest text of each column is measured. The first row is the header.
2. openpyxl then builds the whole package in normal mode with every sheet empty but
   otherwise complete: frozen pane under the header, autofilter over the table (whose size
   is now known), column widths, and print setup (`print_layout`, SPEC 4.3): landscape, the
   header row repeated on every page, and a fixed scale that keeps the body text at least
   8 pt on A4 and Letter. A sheet that fits one page wide at that size is printed one page
   wide; a wider one (`Decisions`) goes on as many pages across as it takes, left to right
   first, with its first column (the id) repeated on each. openpyxl therefore writes the sheet elements in the order the schema wants
   and the workbook-level defined names (`_xlnm._FilterDatabase`, `_xlnm.Print_Titles`).
   A sheet that is a page rather than a table (`Sheet(table=False)`, the Charts sheet) gets
   its charts here instead: openpyxl writes their drawing and chart parts, the sheet's
   `<drawing>` and the relationships between them, all of which are copied as they are.
3. Each worksheet part is copied into the output with its empty `<sheetData>` replaced by
   the spooled rows and its `<dimension>` set to the table's extent.

Styles (bold header, "0.00" money, wrapped text, highlight fill) are registered with the
same openpyxl workbook before it is saved: a detached `Cell` (never stored in a sheet) is
given the font/format/fill/alignment and its `style_id` is the `cellXfs` index that
openpyxl writes to styles.xml, which streamed cells then name as `s="N"`.

Text is stored as inline strings (never a formula, never a number); characters XML cannot
carry (ASCII controls other than tab, LF, CR) are dropped; CR is kept as `&#13;` so it
survives reading. Money (`Decimal`, or a plain decimal string in a money column) is a number
cell holding the decimal's exact text, shown with two places.
"""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from copy import copy
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO
from xml.etree import ElementTree

from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.styles import Alignment, PatternFill
from openpyxl.styles.fonts import DEFAULT_FONT
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

Value = str | int | float | Decimal | None
Row = Sequence[Value]

FILL = "FFFFF2CC"  # light yellow: rows a person must look at
MONEY_FORMAT = "0.00"
LINE_HEIGHT = 15  # points, of the default 11-point font
# Column widths count the default font's "0"; capitals and other fonts (LibreOffice without
# Calibri) run wider, so a text of n characters gets n * CHAR_WIDTH + 2.
CHAR_WIDTH = 1.2
# Wrapped text: characters of running text per width unit (a width unit is one "0", about
# 7 px; running text averages about 6 px a character in Calibri or DejaVu Sans at 11 pt).
TEXT_PER_UNIT = 7 / 6
# Printing (SPEC 4.3): the body font is 11 pt, so 75% prints it at 8.25 pt, the least that is
# readable. The page: landscape Letter (the narrower of Letter and A4), these margins in inches.
FONT_POINTS = 11
MIN_SCALE = 75
PAGE_POINTS = 792  # landscape Letter's width; A4's is 842
MARGINS = {"left": 0.4, "right": 0.4, "top": 0.5, "bottom": 0.5, "header": 0.25, "footer": 0.25}
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_ROWS_PER_WRITE = 2000
_NUMBER_WIDTH = 12  # Excel shows at most ~11 digits of a number in General format
_ZIP64_LIMIT = (1 << 31) - 1
PLAIN, FILLED, HEADER = 0, 1, 2  # kinds of row


@dataclass
class Sheet:
    """A sheet's rows (the first is the header) and how to lay them out (0-based columns).

    In a `money` column, ints, floats and plain decimal strings ("1.50", "-3") are number
    cells shown as 0.00; a `Decimal` is such a cell in any column. A column mixing counts
    and amounts (the Summary's Value) should not be `money`: give its amounts as `Decimal`.
    A sheet with `wrap` columns aligns its cells to the top, and a row whose wrapped text
    needs several lines is stored with that height.
    """

    rows: Iterable[Row]
    money: Collection[int] = ()  # number cells shown as 0.00
    wrap: Collection[int] = ()  # text wraps within the column (its width: content, up to max_width)
    highlight: Callable[[Row], bool] | None = None  # rows filled with FILL
    max_width: float = 60  # cap on a width measured from content, in characters
    widths: Mapping[int, float] = field(default_factory=dict)  # fixed widths, overriding the measure
    hidden_columns: Collection[int] = ()  # columns for the program, not the reader
    # A sheet that is not one table (the Charts sheet): no frozen header, no autofilter, no
    # repeated header row; printed whole on one page (its `print_area`, else all of it).
    table: bool = True
    print_area: str | None = None
    header_rows: Collection[int] = ()  # rows drawn bold besides the first (0-based)
    # Native charts drawn over the cells, (openpyxl chart, anchor): openpyxl writes their
    # drawing and chart parts, which the streamed sheet keeps (its <drawing> is after the rows).
    charts: Sequence[tuple[object, object]] = ()


class _Styles:
    """`s="N"` attributes of the cell styles used, registered in the workbook on first use."""

    def __init__(self, workbook: Workbook):
        self._sheet = workbook.create_sheet("styles")  # only a parent for detached cells
        workbook.remove(self._sheet)
        self._attrs: dict[tuple[bool, ...], str] = {}

    def attr(self, *, bold=False, money=False, wrap=False, top=False, fill=False) -> str:
        key = (bold, money, wrap, top, fill)
        if key not in self._attrs:
            cell = Cell(self._sheet)
            if bold:
                font = copy(DEFAULT_FONT)
                font.b = True
                cell.font = font
            if money:
                cell.number_format = MONEY_FORMAT
            if wrap or top:
                cell.alignment = Alignment(wrap_text=wrap or None, vertical="top")
            if fill:
                cell.fill = PatternFill("solid", fgColor=FILL)
            index = cell.style_id
            self._attrs[key] = f' s="{index}"' if index else ""
        return self._attrs[key]


class _Columns:
    """Per column: its letter, the `s` attribute of each kind of cell in each kind of row,
    and the longest content seen (in characters)."""

    def __init__(self, sheet: Sheet, styles: _Styles):
        self._sheet, self._styles = sheet, styles
        self._money, self._wrap = set(sheet.money), set(sheet.wrap)
        self.wraps = bool(sheet.wrap)
        self.letters: list[str] = []
        self.is_money: list[bool] = []
        # [kind][column], kind being PLAIN, FILLED (a highlighted row) or HEADER
        self.text: tuple[list[str], ...] = ([], [], [])
        self.number: tuple[list[str], ...] = ([], [], [])
        self.decimal: tuple[list[str], ...] = ([], [], [])
        self.header: list[float] = []
        self.longest: list[int] = []

    def grow(self, n: int) -> None:
        attr = self._styles.attr
        while len(self.letters) < n:
            i = len(self.letters)
            money, wrap = i in self._money, i in self._wrap
            self.letters.append(get_column_letter(i + 1))
            self.is_money.append(money)
            for kind in (PLAIN, FILLED, HEADER):
                fill, bold, wrap = kind == FILLED, kind == HEADER, wrap and kind != HEADER
                self.text[kind].append(attr(bold=bold, wrap=wrap, top=self.wraps, fill=fill))
                self.number[kind].append(attr(bold=bold, money=money, wrap=wrap, top=self.wraps, fill=fill))
                self.decimal[kind].append(attr(bold=bold, money=True, wrap=wrap, top=self.wraps, fill=fill))
            self.header.append(0)
            self.longest.append(0)

    def height(self, row: Row) -> str:
        """A `ht` attribute for a row whose wrapped text needs more than one line (Excel
        fits such rows itself, LibreOffice keeps the stored height): as many lines as the
        text takes wrapped at word breaks in its column."""
        lines = 1
        for i in self._wrap:
            text = row[i] if i < len(row) else None
            if isinstance(text, str):
                per_line = max(int((self._sheet.widths.get(i, self._sheet.max_width) - 1) * TEXT_PER_UNIT), 1)
                if len(text) > per_line or "\n" in text:
                    lines = max(lines, wrapped_lines(text, per_line))
        return f' ht="{LINE_HEIGHT * lines}"' if lines > 1 else ""

    def widths(self) -> list[float]:
        cap, fixed = self._sheet.max_width, self._sheet.widths
        return [
            fixed.get(i, min(cap, max(self.header[i], self.longest[i] * CHAR_WIDTH + 2, 6)))
            for i in range(len(self.letters))
        ]


def wrapped_lines(text: str, per_line: int) -> int:
    """Lines `text` takes in a column holding `per_line` characters, wrapped at spaces (a
    word longer than a line is cut)."""
    lines = 0
    for part in text.split("\n"):
        lines += 1
        used = -1
        for word in part.split(" "):
            if used + 1 + len(word) <= per_line:
                used += 1 + len(word)
                continue
            if used > 0:
                lines += 1
            extra, used = divmod(len(word), per_line)
            lines += extra - (1 if extra and not used else 0)
            used = used or (per_line if extra else 0)
    return max(lines, 1)


def _text(ref: str, style: str, value: str) -> str:
    text = _ILLEGAL.sub("", value).translate(_ESCAPES)
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{text}</t></is></c>'


def _row(r: int, row: Row, cols: _Columns, kind: int) -> str:
    letters, longest, is_money = cols.letters, cols.longest, cols.is_money
    texts, numbers, decimals = cols.text[kind], cols.number[kind], cols.decimal[kind]
    fill = kind == FILLED
    cells = []
    for i, v in enumerate(row):
        if v is None or v == "":
            if fill:  # an unbroken band across the highlighted row
                cells.append(f'<c r="{letters[i]}{r}"{texts[i]}/>')
            continue
        if isinstance(v, str):
            if is_money[i] and _PLAIN_DECIMAL.fullmatch(v):
                cells.append(f'<c r="{letters[i]}{r}"{decimals[i]} t="n"><v>{v}</v></c>')
            else:
                cells.append(_text(f"{letters[i]}{r}", texts[i], v))
            width = len(v)
        elif isinstance(v, bool):
            cells.append(f'<c r="{letters[i]}{r}"{numbers[i]} t="b"><v>{int(v)}</v></c>')
            width = 5
        elif isinstance(v, (int, float)) and (isinstance(v, int) or math.isfinite(v)):
            number = repr(v)
            cells.append(f'<c r="{letters[i]}{r}"{numbers[i]} t="n"><v>{number}</v></c>')
            width = min(len(number), _NUMBER_WIDTH)
        elif isinstance(v, Decimal) and v.is_finite():
            number = format(v, "f")  # exact digits, never an exponent
            cells.append(f'<c r="{letters[i]}{r}"{decimals[i]} t="n"><v>{number}</v></c>')
            width = max(len(number), len(format(v, ".2f")))
        else:  # NaN, infinities, anything else: text
            cells.append(_text(f"{letters[i]}{r}", texts[i], str(v)))
            width = len(str(v))
        if width > longest[i]:
            longest[i] = width
    if fill:
        cells.extend(f'<c r="{letters[i]}{r}"{texts[i]}/>' for i in range(len(row), len(letters)))
    height = cols.height(row) if cols.wraps and kind != HEADER else ""
    return f'<row r="{r}"{height}>{"".join(cells)}</row>'


def _spool(sheet: Sheet, cols: _Columns, out: IO[bytes]) -> int:
    """Write the sheet's `<row>` elements to `out`; return the number of rows."""
    rows = iter(sheet.rows)
    header = next(rows, None)
    if header is None:
        return 0
    cols.grow(len(header))
    out.write(_row(1, header, cols, HEADER).encode("utf-8"))
    for i, width in enumerate(cols.longest):
        cols.header[i] = width * CHAR_WIDTH * 1.1 + 4 if width else 0  # bold, and the filter button
        cols.longest[i] = 0
    highlight, bold = sheet.highlight, set(sheet.header_rows)
    r = 1
    chunk: list[str] = []
    for r, row in enumerate(rows, 2):
        if len(row) > len(cols.letters):
            cols.grow(len(row))
        kind = HEADER if r - 1 in bold else FILLED if highlight is not None and highlight(row) else PLAIN
        chunk.append(_row(r, row, cols, kind))
        if len(chunk) >= _ROWS_PER_WRITE:
            out.write("".join(chunk).encode("utf-8"))
            chunk.clear()
    out.write("".join(chunk).encode("utf-8"))
    return r


def column_points(width: float) -> float:
    """A column's printed width in points at 100%, at most: `width` units of the default
    font's "0" (7 px at 96 dpi in Calibri; 9.3 px in DejaVu Sans, which LibreOffice uses
    where neither Calibri nor Carlito is installed) and 5 px of padding."""
    return (width * 9.3 + 5) * 0.75


def print_layout(widths: Sequence[float], hidden: Collection[int] = ()) -> tuple[int, bool]:
    """(scale in percent, whether the sheet spans pages across) for columns of these widths
    on a landscape page: the largest scale up to 100% that fits the sheet one page wide, but
    never below MIN_SCALE (the body stays readable); a sheet that does not fit at that size
    goes on across pages."""
    total = sum(column_points(w) for i, w in enumerate(widths) if i not in hidden)
    room = (PAGE_POINTS - 72 * (MARGINS["left"] + MARGINS["right"])) * 100
    fits = int(room // total) if total else 100
    return max(MIN_SCALE, min(100, fits)), fits < MIN_SCALE


def _lay_out(ws: Worksheet, widths: list[float], nrows: int, sheet: Sheet) -> None:
    """Frozen header, autofilter, column widths and print setup of an (empty) openpyxl sheet."""
    if not sheet.table:
        _lay_out_page(ws, widths, sheet)
        return
    ws.freeze_panes = "A2"
    if widths:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(widths))}{nrows}"
        ws.print_title_rows = "1:1"
    for i, width in enumerate(widths):
        ws.column_dimensions[get_column_letter(i + 1)].width = round(width, 2)
    scale, across = print_layout(widths, set(sheet.hidden_columns))
    ws.page_setup.orientation = "landscape"
    ws.page_setup.scale = scale
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=False)
    if across:  # the id column on every page, and a row's pages one after the other
        ws.print_title_cols = "A:A"
        ws.page_setup.pageOrder = "overThenDown"
    ws.page_margins = PageMargins(**MARGINS)
    ws.oddFooter.center.text = "&A, page &P of &N"


def _lay_out_page(ws: Worksheet, widths: list[float], sheet: Sheet) -> None:
    """A sheet read as a page (charts over cells): its widths, its charts, one printed page."""
    for i, width in enumerate(widths):
        ws.column_dimensions[get_column_letter(i + 1)].width = round(width, 2)
    for chart, anchor in sheet.charts:
        ws.add_chart(chart, anchor)
    if sheet.print_area:
        ws.print_area = sheet.print_area
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = ws.page_setup.fitToHeight = 1
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.print_options.horizontalCentered = True


def sheet_parts(package: zipfile.ZipFile) -> dict[str, str]:
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


def _split(xml: str, dimension: str) -> tuple[bytes, bytes]:
    """The worksheet XML before and after its rows, with `dimension` as its extent."""
    xml = re.sub(r"<dimension ref=\"[^\"]*\"\s*/>", f'<dimension ref="{dimension}"/>', xml, count=1)
    empty = re.search(r"<sheetData\s*/>|<sheetData>\s*</sheetData>", xml)
    if empty is None:
        raise ValueError("openpyxl wrote a worksheet without an empty <sheetData>")
    return f"{xml[: empty.start()]}<sheetData>".encode("utf-8"), f"</sheetData>{xml[empty.end():]}".encode("utf-8")


def write_xlsx(path: str | os.PathLike, sheets: Mapping[str, Sheet | Iterable[Row]], *,
               creator: str | None = None) -> None:
    """Write `sheets` (title → `Sheet`, or plain rows laid out with the defaults; in order)
    to `path`. Rows are sequences of str, int, float, Decimal or None (an empty cell).
    `creator` is the package's creator property. An OSError (a full disk) leaves a partial
    file at `path` for the caller to remove, and nothing open."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    if creator:
        workbook.properties.creator = creator
    styles = _Styles(workbook)
    spools: dict[str, IO[bytes]] = {}  # title → its rows' XML; deleted when closed
    dimensions: dict[str, str] = {}
    try:
        for title, given in sheets.items():
            sheet = given if isinstance(given, Sheet) else Sheet(given)
            ws = workbook.create_sheet(title)  # validates the title before its rows are read
            spools[title] = spool = tempfile.TemporaryFile(dir=os.path.dirname(os.path.abspath(path)))
            cols = _Columns(sheet, styles)
            nrows = _spool(sheet, cols, spool)
            widths = cols.widths()
            _lay_out(ws, widths, nrows, sheet)
            for i in sheet.hidden_columns:
                ws.column_dimensions[get_column_letter(i + 1)].hidden = True
            dimensions[title] = f"A1:{get_column_letter(max(len(widths), 1))}{nrows}" if nrows else "A1"
        package = io.BytesIO()
        workbook.save(package)
        with zipfile.ZipFile(package) as src, open(path, "wb") as raw:
            dst = zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED)
            try:
                _copy(src, dst, spools, dimensions)
                dst.close()
            finally:
                # After a failed write (a full disk) the zip must not try to finish itself
                # later, from its __del__, and print a traceback there.
                dst.fp = None
    finally:
        for spool in spools.values():
            spool.close()


def _copy(src: zipfile.ZipFile, dst: zipfile.ZipFile, spools: Mapping[str, IO[bytes]],
          dimensions: Mapping[str, str]) -> None:
    """The package's parts into `dst`, each worksheet with its spooled rows."""
    parts = sheet_parts(src)
    for info in src.infolist():
        title = parts.get(info.filename)
        if title is None:
            dst.writestr(info, src.read(info))
            continue
        spool = spools[title]
        head, tail = _split(src.read(info).decode("utf-8"), dimensions[title])
        size = len(head) + spool.tell() + len(tail)
        spool.seek(0)
        with dst.open(info.filename, "w", force_zip64=size >= _ZIP64_LIMIT) as out:
            out.write(head)
            shutil.copyfileobj(spool, out, 1 << 20)
            out.write(tail)
