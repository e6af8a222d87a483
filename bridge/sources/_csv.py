"""Shared helpers for reading CSV exports as text, with the line number of every record."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path

from bridge.errors import SourceError


def load_text(source: str | os.PathLike | bytes, name: str | None, what: str) -> tuple[str, str]:
    """Return (display name, decoded text) of a file path or raw bytes.

    A UTF-8 BOM is dropped; bytes that are not UTF-8 fall back to cp1252, the encoding
    Excel on Windows re-saves CSVs in.
    """
    if isinstance(source, (bytes, bytearray)):
        label = name or f"<{what}>"
        raw = bytes(source)
    else:
        path = Path(source)
        label = name or str(path)
        if not path.exists():
            raise SourceError(f"{label}: file not found. Check the path of the {what} in the config.")
        if path.is_dir():
            raise SourceError(f"{label}: is a folder, not a {what} file.")
        raw = path.read_bytes()
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    if not text.strip():
        raise SourceError(f"{label}: the file is empty. Export the {what} again.")
    return label, text


def records(text: str, label: str) -> Iterator[tuple[int, list[str]]]:
    """Yield (1-based line where the record starts, fields) for every CSV record."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    start = 1
    try:
        for row in reader:
            yield start, row
            start = reader.line_num + 1
    except csv.Error as exc:  # e.g. a NUL byte or an unterminated quote at the end
        raise SourceError(f"{label}, line {reader.line_num}: not readable as CSV ({exc}).") from None


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
    """The first columns of a file, for a message."""
    return (", ".join(names[:12]) + ("…" if len(names) > 12 else "")) or "(none)"


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
