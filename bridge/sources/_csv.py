"""Shared helpers for reading CSV exports as text, with the line number of every record.

`open_csv` takes a path, bytes or a binary stream (the CSV inside a zip) and streams it:
decoded as UTF-8 with a leading BOM dropped until the first byte that is not UTF-8, from
there on as cp1252 (what Excel on Windows re-saves CSVs in); never held whole in memory;
within the limits of `bridge.sources.limits`. Before any parsing it names the wrong files
people give: a folder, an Excel workbook, a zip, UTF-16 text, binary data, a CSV separated
by ';' or tabs. Readers take `label` for messages, `head` for hints, then `records()`.
"""

from __future__ import annotations

import csv
import difflib
import io
import os
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from bridge.errors import SourceError
from bridge.sources._stream import BOM, CODEC, READ_CHUNK, Bounded, decode_bytes
from bridge.sources.limits import MAX_FIELD_CHARS, MAX_FILE_BYTES, MAX_RECORD_CHARS, MAX_ROWS, size_text

SNIFF_BYTES = 64 * 1024  # read before parsing, to recognise what the file is
HEAD_CHARS = 4096  # of text, for the readers' hints
_RETRY = "export it again"


class _Lines:
    """The lines of a text stream for csv.reader, each at most one record long; counts the
    characters of the current record, which starts on line `start` (both kept by `_parse`)."""

    def __init__(self, stream: io.TextIOBase, label: str, what: str):
        self.stream, self.label, self.what = stream, label, what
        self.chars = 0
        self.start = 1

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        text = self.stream.readline(MAX_RECORD_CHARS + 1)
        if not text:
            raise StopIteration
        self.chars += len(text)
        if self.chars > MAX_RECORD_CHARS:
            raise SourceError(
                f"{self.label}, line {self.start}: one row is longer than {MAX_RECORD_CHARS:,} characters, the limit "
                f"for a row; the file is damaged (a quote never closed?) or not a {self.what}: {_RETRY}."
            )
        return text


def _too_many_rows(label: str, what: str, max_rows: int) -> SourceError:
    return SourceError(f"{label}: more than {max_rows:,} rows, the limit for a {what}. "
                       "Export only this wave's rows (a date range or filter) or split the file.")


def _parse(open_text: Callable[[], io.TextIOBase], label: str, what: str,
           max_rows: int | None = None) -> Iterator[tuple[int, list[str]]]:
    """(1-based line where the record starts, fields) for every CSV record of the text
    stream `open_text` opens when the first record is asked for (and closes at the end);
    past `max_rows` records (default MAX_ROWS) a SourceError."""
    max_rows = MAX_ROWS if max_rows is None else max_rows
    with open_text() as stream:
        csv.field_size_limit(MAX_FIELD_CHARS)  # process-global: set again for every file read
        lines = _Lines(stream, label, what)
        reader = csv.reader(lines, strict=False)
        start, count = 1, 0
        try:
            for row in reader:
                count += 1
                if count > max_rows:
                    raise _too_many_rows(label, what, max_rows)
                yield start, row
                start = lines.start = reader.line_num + 1
                lines.chars = 0
        except csv.Error as exc:  # a NUL byte, a field past the limit, ...
            if "field larger than field limit" in str(exc):
                raise SourceError(
                    f"{label}, line {start}: a value longer than {MAX_FIELD_CHARS:,} characters, the limit "
                    f"for one field; the file is damaged (a quote never closed?) or not a {what}: {_RETRY}."
                ) from None
            raise SourceError(f"{label}, line {reader.line_num}: not readable as CSV ({exc}).") from None


class CsvText:
    """An opened CSV: `label` names it in messages, `head` is its first characters (for
    hints), `records()` streams its records once, at most `max_rows` of them (default
    MAX_ROWS, looked up when read)."""

    def __init__(self, label: str, what: str, head: str, open_raw: Callable[[], Bounded], *,
                 max_rows: int | None = None, rereadable: bool = False):
        self.label, self.what, self.head = label, what, head
        self._open_raw = open_raw
        self.max_rows = max_rows
        self._rereadable = rereadable  # a path or bytes: the rows can be counted before they are read

    def text(self) -> io.TextIOWrapper:
        """The whole file as a text stream (the caller closes it)."""
        stream = io.TextIOWrapper(io.BufferedReader(self._open_raw(), READ_CHUNK), encoding=CODEC, newline="")
        stream._CHUNK_SIZE = 1 << 16  # fewer decoder calls than the default 8 KiB
        return stream

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """The records, streamed. A file or bytes past the row limit is refused here, before
        any row is kept: its line ends are counted (fast, bytes only) and, only when there are
        more than the limit (a value may hold line breaks), its records (parsed, not kept). A
        stream is counted while it is read."""
        max_rows = MAX_ROWS if self.max_rows is None else self.max_rows
        if self._rereadable and _line_ends(self._open_raw) + 1 > max_rows:
            counted = _parse(self.text, self.label, self.what, max_rows)
            try:
                for _ in counted:
                    pass
            finally:
                counted.close()
        return _parse(self.text, self.label, self.what, max_rows)


def _line_ends(open_raw: Callable[[], Bounded]) -> int:
    """How many lines end in the raw bytes (LF, CR or CRLF): at least the records less one."""
    n, after_cr = 0, False
    with open_raw() as raw:
        while chunk := raw.read(READ_CHUNK):
            n += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
            if after_cr and chunk[:1] == b"\n":
                n -= 1  # a CRLF cut by the chunk's end was counted twice
            after_cr = chunk[-1:] == b"\r"
    return n


class Kept:
    """The memory the text a reader keeps takes (`sys.getsizeof` of each value a row keeps
    for itself, not shared with other rows), refused past `limit` (`limits.MAX_SURVEY_KEPT_BYTES`
    or `MAX_SUBMISSION_KEPT_BYTES`): with the row limit, this bounds what a file can make a
    close-out hold, however wide its rows or long its values (a 1 MiB value in every row; a
    row of thousands of answers)."""

    __slots__ = ("total", "limit", "label", "what")

    def __init__(self, label: str, what: str, limit: int):
        self.total = 0
        self.limit = limit
        self.label, self.what = label, what

    def add(self, nbytes: int, line: int) -> None:
        self.total += nbytes
        if self.total > self.limit:
            raise SourceError(
                f"{self.label}, line {line}: the rows up to here hold more than {size_text(self.limit)} of text the "
                f"close-out keeps (ids, codes, answers), the limit for a {self.what}; the file is damaged or not "
                "an export. Export only this wave's rows (a date range or filter) or split the file.")

    def values(self, values, line: int) -> None:
        """Count these values of line `line` (the ones the row keeps for itself)."""
        self.add(sum(map(sys.getsizeof, values)), line)


def open_csv(source: str | os.PathLike | bytes | BinaryIO, name: str | None, what: str, *,
             max_rows: int | None = None) -> CsvText:
    """Open a path, bytes, or a binary stream (read once, not closed) as a CSV `what` of at
    most `max_rows` records (default MAX_ROWS).

    Raises SourceError for a missing path, a folder, a file past MAX_FILE_BYTES, an empty
    file and the formats `_sniff` recognises; the size of a stream is checked while it is read.
    """
    rereadable = not hasattr(source, "read")
    if isinstance(source, (bytes, bytearray, memoryview)):
        label = name or f"<{what}>"
        data = bytes(source)
        _check_size(len(data), label, what)
        prefix = data[:SNIFF_BYTES]

        def open_raw() -> Bounded:
            return Bounded(b"", io.BytesIO(data), owned=True, limit=MAX_FILE_BYTES, label=label, what=what)

    elif hasattr(source, "read"):
        stream = source
        label = name or str(getattr(stream, "name", "") or f"<{what}>")
        prefix = _read_some(stream, SNIFF_BYTES, label, what)

        def open_raw() -> Bounded:
            return Bounded(prefix, stream, owned=False, limit=MAX_FILE_BYTES, label=label, what=what)

    else:
        path = Path(source)
        label = name or str(path)
        _check_path(path, label, what)
        with _open_path(path, label) as f:
            prefix = _read_some(f, SNIFF_BYTES, label, what)

        def open_raw() -> Bounded:
            return Bounded(b"", _open_path(path, label), owned=True, limit=MAX_FILE_BYTES, label=label, what=what)

    csv.field_size_limit(MAX_FIELD_CHARS)  # for _sniff's look at the first line; _parse sets it again
    head = _sniff(prefix, label, what, complete=len(prefix) < SNIFF_BYTES)
    return CsvText(label, what, head, open_raw, max_rows=max_rows, rereadable=rereadable)


def _read_some(stream: BinaryIO, n: int, label: str, what: str) -> bytes:
    raw = Bounded(b"", stream, owned=False, limit=MAX_FILE_BYTES, label=label, what=what)
    parts, got = [], 0
    while got < n:
        buffer = bytearray(n - got)
        k = raw.readinto(buffer)
        if not k:
            break
        parts.append(bytes(buffer[:k]))
        got += k
    return b"".join(parts)


def _open_path(path: Path, label: str) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:  # no permission, gone since it was checked
        raise SourceError(f"{label}: cannot be read ({exc.strerror or type(exc).__name__}).") from None


def _check_path(path: Path, label: str, what: str) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SourceError(f"{label}: file not found. Check the path of the {what} in the config.") from None
    except OSError as exc:
        raise SourceError(f"{label}: cannot be read ({exc.strerror or type(exc).__name__}).") from None
    if stat.S_ISDIR(info.st_mode):
        raise SourceError(f"{label}: is a folder, not a file. Point the config at the {what} file inside it.")
    if not stat.S_ISREG(info.st_mode):
        raise SourceError(f"{label}: is not a regular file (a device or a pipe?). Give the path of the {what} file.")
    _check_size(info.st_size, label, what)


def _check_size(size: int, label: str, what: str) -> None:
    if size > MAX_FILE_BYTES:
        raise SourceError(
            f"{label}: {size_text(size)}, more than the {size_text(MAX_FILE_BYTES)} a {what} may be. "
            "Export only this wave's rows (a date range or filter) or split the file."
        )


def _sniff(prefix: bytes, label: str, what: str, *, complete: bool) -> str:
    """Refuse what is plainly not a CSV from its first bytes; return the head as text."""
    body = prefix.removeprefix(BOM)
    again = f"download the {what} again and give it as it came, without opening it in a spreadsheet"
    if complete and not body.strip():
        raise SourceError(f"{label}: the file is empty. Export the {what} again.")
    if body.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        if b"[Content_Types].xml" in body or b"xl/" in body:
            raise SourceError(f"{label}: is an Excel workbook (.xlsx), not a CSV file; export it as CSV "
                              f"(Excel: File → Save As → CSV UTF-8), or {again}.")
        raise SourceError(f"{label}: is a zip archive, not a CSV file; unzip it and give the CSV file inside.")
    if body.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise SourceError(f"{label}: is an Excel workbook (.xls), not a CSV file; export it as CSV "
                          f"(Excel: File → Save As → CSV UTF-8), or {again}.")
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SourceError(f"{label}: is UTF-16 text (Excel's \"Unicode Text\"), not a CSV file; save it as CSV UTF-8 "
                          f"(comma delimited), or {again}.")
    if b"\x00" in body:
        raise SourceError(f"{label}: is not a text file (it holds binary data); give the {what} as a .csv file.")
    head = decode_bytes(prefix, final=complete)[:HEAD_CHARS]
    sep = _separator(next((line for line in head.splitlines() if line.strip()), ""))
    if sep:
        shown = "tabs, not commas (a TSV or \"Text (Tab delimited)\" file)" if sep == "\t" else (
            f"{sep!r}, not commas (a spreadsheet set to another region saved it)")
        raise SourceError(f"{label}: is separated by {shown}; save it as CSV (comma delimited), or {again}.")
    return head


def _separator(line: str) -> str | None:
    """';' or a tab when the first line splits into more fields by it than by commas."""
    fields = {sep: len(next(csv.reader([line], delimiter=sep, strict=False), [])) for sep in (",", ";", "\t")}
    best = max((";", "\t"), key=fields.__getitem__)
    return best if fields[best] >= 2 and fields[best] > fields[","] else None


def load_text(source: str | os.PathLike | bytes | BinaryIO, name: str | None, what: str) -> tuple[str, str]:
    """(label, the whole decoded text): for small files only; readers stream with `open_csv`."""
    src = open_csv(source, name, what)
    with src.text() as stream:
        return src.label, stream.read()


def records(text: str, label: str, what: str = "CSV file") -> Iterator[tuple[int, list[str]]]:
    """(1-based line where the record starts, fields) for every CSV record of a text."""
    return _parse(lambda: io.StringIO(text, newline=""), label, what)


def unique_names(names: list[str]) -> list[str]:
    """Make header names unique the way pandas does: `Q1, Q1` → `Q1, Q1.1`; a suffix that
    clashes with a later column gets its own (`Q1, Q1, Q1.1` → `Q1, Q1.1, Q1.1.1`)."""
    seen: set[str] = set()
    out = []
    for n in names:
        name, k = n, 0
        while name in seen:
            k += 1
            name = f"{n}.{k}"
        seen.add(name)
        out.append(name)
    return out


def parse_int(text: str) -> int | None:
    """`3600`, or `3600.0` after a spreadsheet re-save; None when empty or unreadable."""
    text = text.strip()
    try:
        return int(float(text)) if text else None
    except (ValueError, OverflowError):
        return None


def header_names(names: list[str]) -> list[str]:
    """Trimmed names without the empty ones a trailing comma leaves, made unique."""
    names = [n.strip() for n in names]
    while names and names[-1] == "":
        names.pop()
    return unique_names(names)


def columns_found(names: list[str]) -> str:
    """The first columns of a file, for a message: printable, each cut at 40 characters."""
    shown = []
    for n in names[:12]:
        n = "".join(c if c.isprintable() else "?" for c in n[:41])
        shown.append(n[:40] + "…" if len(n) > 40 else n)
    return (", ".join(shown) + ("…" if len(names) > 12 else "")) or "(none)"


def fit_row(row: list[str], width: int, *, may_lack: int, label: str, line: int, again: str) -> list[str]:
    """The row at the header's width: padded when at most `may_lack` fields short, trimmed
    when the extra fields are empty (a re-save's trailing commas). Anything else is a
    damaged file, which must not be guessed at."""
    if len(row) < width:
        if width - len(row) > may_lack:
            raise SourceError(
                f"{label}, line {line}: {len(row)} fields but the header has {width}. "
                f"The file may be cut short or edited by hand; {again}."
            )
        return row + [""] * (width - len(row))
    if len(row) > width:
        if any(f.strip() for f in row[width:]):
            raise SourceError(
                f"{label}, line {line}: {len(row)} fields but the header has {width}. "
                f"The file may have been edited by hand; {again}."
            )
        return row[:width]
    return row


def check_unique(seen: dict[str, int], key: str, value: str, *, label: str, line: int, again: str) -> None:
    """Remember where `value` was; a second time is an error naming both lines."""
    if value in seen:
        raise SourceError(
            f"{label}, line {line}: {key} {value} appears twice (also on line {seen[value]}). "
            f"Remove the repeated row or {again}."
        )
    seen[value] = line


def missing_column(source: str, key: str, name: str, have: list[str]) -> str:
    """A message for a column the config names (`key`) that a file does not have: the
    nearest name it has and its columns, as the file shows them (`have`)."""
    near = difflib.get_close_matches(name, have, n=1, cutoff=0.6)
    hint = f" Did you mean {near[0]!r}?" if near and near[0] != name else ""
    shown = ", ".join(repr(c) for c in have[:40]) + (" …" if len(have) > 40 else "")
    return f"{source}: has no column {name!r} (config {key}).{hint} Its columns are: {shown}."
