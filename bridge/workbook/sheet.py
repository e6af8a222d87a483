"""Read a sheet of a saved workbook back: streaming, only the columns asked for.

A re-run of a close-out reads the `Decisions` sheet a person may have edited, and a wave of
20,000 submissions has some 300,000 cells there; openpyxl builds an object for each (about
2 s), where the edit check needs six columns. Here the sheet's XML is read from the package
a megabyte at a time and one regular expression picks the cells of the wanted columns by
their reference (`<c r="G17" ...>`), as Excel, LibreOffice, openpyxl and this project's
writer all write them; shared strings (Excel's and LibreOffice's way of storing text) are
looked up by index, inline strings read in place. A cell holding a formula comes back as a
`Formula` (its text; its cached value beside it), never as its value alone: what a formula
shows is not what a person typed. A sheet laid out otherwise (cells without a reference)
is read with openpyxl instead: slower, the same rows.

The file is read once through one handle: its sha256 (`Read.digest`) is of the very bytes
whose cells are returned, even when another program saves the file meanwhile.
"""

from __future__ import annotations

import hashlib
import html
import re
import zipfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from xml.etree import ElementTree

from bridge.workbook.xlsx import sheet_parts

_CHUNK = 1 << 20
_SHARED = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_ANY_CELL = re.compile(rb'<c r="([A-Z]{1,3})([0-9]+)"([^>]*?)(?:/>|>(.*?)</c>)', re.S)
_TYPE = re.compile(rb'\bt="([a-zA-Z]+)"')
_VALUE = re.compile(rb"<v>(.*?)</v>", re.S)
_FORMULA = re.compile(rb"<f\b[^>]*?(?:/>|>(.*?)</f>)", re.S)
_TEXT = re.compile(rb"<t\b[^>]*?(?:/>|>(.*?)</t>)", re.S)
_PHONETIC = re.compile(rb"<rPh\b.*?</rPh>", re.S)
_SI = re.compile(rb"<si\b[^>]*?(?:/>|>(.*?)</si>)", re.S)
_EXCEL_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


class Formula(str):
    """A cell holding a formula: the formula's text (without `=`), and what it last showed."""

    cached: object = None


class Unusual(Exception):
    """A sheet this reader does not take apart (the caller reads it with openpyxl)."""


@dataclass(slots=True)
class Read:
    digest: str = ""  # sha256 of the file read
    header: list[str] = field(default_factory=list)
    formula_rows: set[int] = field(default_factory=set)  # rows with a formula in a wanted column


def _text(raw: bytes) -> str:
    text = html.unescape(raw.decode("utf-8"))
    return _EXCEL_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


def _rich(inner: bytes) -> str:
    """The text of an `<is>` or `<si>` element: its `<t>` runs, phonetic guides left out."""
    if b"<rPh" in inner:
        inner = _PHONETIC.sub(b"", inner)
    return "".join(_text(m.group(1) or b"") for m in _TEXT.finditer(inner))


class _Shared:
    """The package's shared strings, decoded on first use."""

    def __init__(self, package: zipfile.ZipFile, sheet_part: str):
        self._raw: list[bytes | None] = []
        self._done: dict[int, str] = {}
        part = _shared_part(package)
        if part is not None:
            data = package.read(part)
            self._raw = [m.group(1) or b"" for m in _SI.finditer(data)]

    def __getitem__(self, index: int) -> str:
        text = self._done.get(index)
        if text is None:
            try:
                raw = self._raw[index]
            except IndexError:
                raise Unusual(f"shared string {index} is missing") from None
            text = self._done[index] = _rich(raw) if b"<" in raw else _text(raw)
        return text


def _shared_part(package: zipfile.ZipFile) -> str | None:
    try:
        rels = ElementTree.fromstring(package.read("xl/_rels/workbook.xml.rels"))
    except KeyError:
        return None
    for rel in rels.iter(f"{_PKG_REL}Relationship"):
        if rel.get("Type") == _SHARED:
            target = rel.get("Target", "").lstrip("/")
            return target if target.startswith("xl/") else f"xl/{target}"
    return None


def _value(attrs: bytes, inner: bytes | None, shared: _Shared) -> object:
    kind = _TYPE.search(attrs)
    t = kind.group(1) if kind else b"n"
    if not inner:
        return None
    formula = _FORMULA.search(inner) if b"<f" in inner else None
    if t == b"inlineStr":
        value: object = _rich(inner)
    else:
        v = _VALUE.search(inner)
        raw = v.group(1) if v else None
        if raw is None:
            value = None
        elif t == b"s":
            value = shared[int(raw)]
        elif t in (b"str", b"e", b"d"):
            value = _text(raw)
        elif t == b"b":
            value = raw.strip() == b"1"
        else:
            number = raw.decode("ascii", "replace").strip()
            try:
                value = int(number) if number.lstrip("-").isdigit() else float(number)
            except ValueError:
                value = number
    if formula is not None:
        cell = Formula(_text(formula.group(1) or b""))
        cell.cached = value
        return cell
    return value


def _columns_regex(letters: Collection[str]) -> re.Pattern[bytes]:
    """Cells of these columns; the common shapes (a plain inline text, a plain `<v>`) are
    taken apart by the expression itself: (column, row, attributes, text, v, other inner)."""
    alternatives = b"|".join(sorted((x.encode() for x in letters), key=len, reverse=True))
    return re.compile(rb'<c r="(' + alternatives + rb')([0-9]+)"([^>]*?)(?:/>|><is><t>([^<&_]*)</t></is></c>'
                      rb'|><v>([^<]*)</v></c>|>(.*?)</c>)', re.S)


def _plain(attrs: bytes, raw: bytes, shared: _Shared) -> object:
    """A cell whose only content is `<v>raw</v>`."""
    if b't="' not in attrs or b't="n"' in attrs:
        try:
            return int(raw) if raw.isdigit() else float(raw)
        except ValueError:
            return raw.decode("ascii", "replace").strip()
    if b't="s"' in attrs:
        return shared[int(raw)]
    return _value(attrs, b"<v>" + raw + b"</v>", shared)


def _rows(package: zipfile.ZipFile, part: str, wanted: Collection[str], read: Read
          ) -> Iterator[tuple[int, dict[str, object]]]:
    shared = _Shared(package, part)
    with package.open(part) as stream:
        buffer = b""
        start = -1
        while start < 0:  # up to the first row: the header
            chunk = stream.read(_CHUNK)
            if not chunk:
                return
            buffer += chunk
            start = buffer.find(b"</row>")
        head, buffer = buffer[: start + 6], buffer[start + 6:]
        _check(head)
        by_letter = {}
        for m in _ANY_CELL.finditer(head[head.find(b"<sheetData"):]):
            name = _value(m.group(3), m.group(4), shared)
            if isinstance(name, str) and name.strip():
                by_letter[m.group(1).decode()] = name.strip()
                read.header.append(name.strip())
        letters = {letter: name for letter, name in by_letter.items() if name in wanted}
        if not letters:
            return
        cells = _columns_regex(letters)
        names = {letter.encode(): name for letter, name in letters.items()}
        checked = False
        while True:
            chunk = stream.read(_CHUNK)
            buffer += chunk
            end = buffer.rfind(b"</row>") + 6 if chunk else len(buffer)
            if end < 6:
                continue
            piece, buffer = buffer[:end], buffer[end:]
            if not checked:
                _check(piece)
                checked = True
            row: dict[str, object] = {}
            at = b""  # the row's number as written in the references (compared as bytes: cheaper)
            for letter, r, attrs, text, v, inner in cells.findall(piece):
                if text:
                    value: object = text.decode("utf-8")
                elif v:
                    value = _plain(attrs, v, shared)
                elif inner:
                    value = _value(attrs, inner, shared)
                    if isinstance(value, Formula):
                        read.formula_rows.add(int(r))
                else:
                    continue
                if value == "":
                    continue
                if r != at:
                    if row:
                        yield int(at), row
                    row, at = {}, r
                row[names[letter]] = value
            if row:
                yield int(at), row
            if not chunk:
                return


def _check(piece: bytes) -> None:
    """Every cell carries its reference first (else the sheet is read with openpyxl)."""
    if piece.count(b"<c ") != piece.count(b'<c r="') or b"<c>" in piece:
        raise Unusual("cells without a reference")


def read_sheet_columns(handle: IO[bytes], sheet: str, wanted: Collection[str], read: Read
                       ) -> Iterator[tuple[int, dict[str, object]]]:
    """(row number, {column name: value}) of every row with a value in a `wanted` column,
    after the header row (whose names fill `read.header`). Empty cells are left out.
    Raises KeyError without the sheet, zipfile.BadZipFile for a file that is no package."""
    handle.seek(0)
    with zipfile.ZipFile(handle) as package:
        parts = {title: part for part, title in sheet_parts(package).items()}
        if sheet not in parts:
            raise KeyError(sheet)
        try:
            yield from _rows(package, parts[sheet], set(wanted), read)
            return
        except Unusual:
            read.header.clear()
    yield from _openpyxl_rows(handle, sheet, set(wanted), read)


def _openpyxl_rows(handle: IO[bytes], sheet: str, wanted: set[str], read: Read
                   ) -> Iterator[tuple[int, dict[str, object]]]:
    from openpyxl import load_workbook

    handle.seek(0)
    wb = load_workbook(handle, read_only=True, data_only=False)
    try:
        rows = wb[sheet].iter_rows(values_only=True)
        header = [str(c).strip() if c is not None else "" for c in next(rows, ())]
        read.header[:] = [h for h in header if h]
        index = [(i, h) for i, h in enumerate(header) if h in wanted]
        for number, values in enumerate(rows, start=2):
            row = {}
            for i, name in index:
                value = values[i] if i < len(values) else None
                if isinstance(value, str) and value.startswith("="):
                    value = Formula(value[1:])
                    read.formula_rows.add(number)
                if value is not None and value != "":
                    row[name] = value
            if row:
                yield number, row
    finally:
        wb.close()


def digest_of(handle: IO[bytes]) -> str:
    """sha256 of everything `handle` holds, read from its start."""
    handle.seek(0)
    h = hashlib.sha256()
    while chunk := handle.read(_CHUNK):
        h.update(chunk)
    return h.hexdigest()


def file_digest(path: Path) -> str:
    with open(path, "rb") as f:
        return digest_of(f)
