"""The record of a workbook as the tool wrote it: a small file beside it (`.<name>.written`)
holding the file's sha256, the `Decisions` rows' submissions in the order written, and the
rows that carry a person's edits (their editable cells and `AsWritten`, as written).

A re-run whose workbook still has those bytes need not read it: the edits it holds are the
record's. One whose bytes changed reads it back and tells, from the submissions written,
which rows a person deleted (`bridge.workbook.review`). A missing or damaged record only
means the workbook is read, as an older version's would be.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bridge.files import write_atomically
from bridge.workbook.sheet import file_digest


def stamp_path(path: Path) -> Path:
    """The file beside the workbook that records it as written."""
    path = Path(path)
    return path.with_name(f".{path.name}.written")


@dataclass(frozen=True, slots=True)
class Stamp:
    sha256: str
    ids: list[str]  # the Decisions rows' submissions, in the order written
    edits: list[tuple[int, dict[str, object]]]  # (row number, cells) of the rows holding a person's edits


def write_stamp(path: Path, ids: Iterable[str], edits: Iterable[tuple[int, dict[str, object]]] = ()) -> None:
    """Record the workbook at `path` as the tool just wrote it."""
    text = json.dumps({"sha256": file_digest(path), "ids": list(ids), "edits": [list(e) for e in edits]},
                      separators=(",", ":"), ensure_ascii=False)
    write_atomically(stamp_path(path), lambda tmp: Path(tmp).write_text(text, encoding="utf-8"),
                     what="workbook's record")


def read_stamp(path: Path) -> Stamp | None:
    try:
        data = json.loads(stamp_path(path).read_text(encoding="utf-8"))
        return Stamp(str(data["sha256"]), [str(i) for i in data["ids"]],
                     [(int(n), dict(cells)) for n, cells in data["edits"]])
    except (OSError, ValueError, KeyError, TypeError):
        return None
