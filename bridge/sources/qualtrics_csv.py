"""Reader for Qualtrics CSV exports: the current three-header-row export and the legacy one.

Current export: row 1 field names, row 2 question text or labels, row 3 `{"ImportId":...}`.
The 2016 "Insights" export has the same three rows with legacy names on row 1 (`ResponseID`).
Legacy export: UTF-8 BOM, row 1 `V1..V10` + question codes, row 2 the metadata names for
V1..V10 + question text, a trailing comma on every line. Labels (`Survey Preview`,
`True`) and numeric codes (`1`, `1`) are both understood. Every value is kept as text.
The legacy names are read as today's (`ResponseID` as `ResponseId`); `SurveyTable.aliases`
keeps the names the file shows, and each row answers to them too.
"""

from __future__ import annotations

import itertools
import os
import re
from collections import Counter
from collections.abc import Collection, Iterator
from datetime import datetime
from operator import itemgetter
from typing import BinaryIO

from bridge.errors import SourceError
from bridge.models import Response, SurveyTable
from bridge.sources import limits
from bridge.sources._csv import Kept, check_unique, columns_found, fit_row, header_names, open_csv, parse_int
from bridge.sources._fields import Fields, Names, Numbers

WHAT = "Qualtrics CSV export"

# Numeric `Status` codes of an export without labels (FORMATS.md).
STATUS_CODES = {
    "0": "IP Address",
    "1": "Survey Preview",
    "2": "Survey Test",
    "4": "Imported",
    "8": "Spam",
    "9": "Survey Preview Spam",
    "12": "Imported Spam",
    "16": "Offline",
    "17": "Offline Survey Preview",
}
# Legacy metadata names (row 2 of the legacy export) → current names.
LEGACY_NAMES = {"ResponseID": "ResponseId", "ExternalDataReference": "ExternalReference", "EmailAddress": "RecipientEmail"}
_LEGACY_V = re.compile(r"^V\d+$")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def _finished(text: str) -> bool | None:
    t = text.strip().lower()
    return True if t in _TRUE else False if t in _FALSE else None


def _legacy_duration(start: str, end: str) -> int | None:
    try:
        a = datetime.strptime(start.strip(), "%Y-%m-%d %H:%M:%S")
        b = datetime.strptime(end.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return int((b - a).total_seconds())


def read_qualtrics_csv(
    source: str | os.PathLike | bytes | BinaryIO,
    *,
    name: str | None = None,
    keep: Collection[str] | None = None,
) -> SurveyTable:
    """Read an export from a path, bytes, or a binary stream (the CSV inside the API's zip).

    `keep` names the columns each `Response.fields` holds (None: every column); the others
    are dropped as soon as the row is read, so a close-out that passes the few columns it
    uses holds half a million responses in a few hundred MB. `SurveyTable.columns` lists every
    column whatever `keep` says, and the metadata a Response has as attributes (ResponseId,
    Status, Finished, Duration, Progress, RecordedDate) is read from the row in any case.
    `Response.fields` is a `Fields` (a dict's behaviour in a fraction of its memory). A file
    past MAX_ROWS records, or whose kept text takes more than MAX_SURVEY_KEPT_BYTES, is refused.
    """
    src = open_csv(source, name, WHAT)
    rows = src.records()
    try:
        return _read(rows, src.label, keep)
    finally:
        rows.close()


def _read(rows: Iterator[tuple[int, list[str]]], label: str, keep: Collection[str] | None) -> SurveyTable:
    first = next(rows, (1, []))[1]
    second = next(rows, (2, []))[1]
    legacy = bool(first) and _LEGACY_V.match(first[0].strip() or "") is not None and "ResponseID" in second
    insights = False
    if legacy:  # V1..V10 are named on row 2
        shown = [second[i] if _LEGACY_V.match(n.strip()) and i < len(second) else n for i, n in enumerate(first)]
        names = [LEGACY_NAMES.get(n.strip(), n) for n in shown]
    else:
        names = shown = first
        stripped = {n.strip() for n in first}
        if "ResponseId" not in stripped and "ResponseID" in stripped:
            # The 2016 "Insights" export: three header rows like today's, the legacy names on row 1.
            insights = True
            names = [_renamed(n, stripped) for n in first]
    names = header_names(names)
    # The names the file shows for the columns renamed: a config may name them so.
    aliases = {old.strip(): new for old, new in zip(shown, names) if old.strip() != new and old.strip() not in names}
    if "ResponseId" not in names:
        hint = (
            " It looks like an MTurk batch-results file: point [qualtrics] csv at the survey export."
            if "AssignmentId" in names
            else " Export the responses from Qualtrics (Data & Analysis → Export → CSV)."
        )
        raise SourceError(f"{label}: not a {WHAT}: no ResponseId column. Columns found: {columns_found(names)}.{hint}")

    width = len(names)
    col = {n: i for i, n in enumerate(names)}
    rid = col["ResponseId"]
    pending: list[tuple[int, list[str]]] = []
    if not legacy and _looks_like_data(second, rid):
        # Both extra header rows were deleted: row 2 is already a response.
        pending.append((2, second))
    elif not legacy:
        # Row 2 is labels. Row 3 is the ImportId row in current exports; tolerate files
        # where a person deleted it (then row 3 is already data).
        third = next(rows, None)
        if third is not None:
            cells = third[1]
            marker = cells[rid] if rid < len(cells) else ""
            if not marker.lstrip().startswith("{"):
                pending.append(third)

    i_status, i_finished, i_progress = col.get("Status"), col.get("Finished"), col.get("Progress")
    i_recorded = col.get("RecordedDate", col.get("EndDate"))
    i_duration = col.get("Duration (in seconds)")
    i_start, i_end = col.get("StartDate"), col.get("EndDate")
    from_dates = legacy or (insights and i_duration is None)
    wanted = None if keep is None else {aliases.get(n, n) for n in keep}
    positions = list(range(width)) if wanted is None else [i for n, i in col.items() if n in wanted]
    # Every row's Fields share one column -> position dict; each row keeps a tuple of values.
    index = {names[i]: j for j, i in enumerate(positions)}
    if aliases:
        index = Names(index, {old: new for old, new in aliases.items() if new in index})
    take = itemgetter(*positions) if len(positions) > 1 else None
    shared: dict[str, str] = {}  # one object for each value repeated in the first rows
    share = shared.get
    kept = Kept(label, WHAT, limits.MAX_SURVEY_KEPT_BYTES)
    numbers = Numbers()  # one object per duration

    responses: list[Response] = []
    seen: dict[str, int] = {}
    for line, row in itertools.chain(pending, rows):
        if not any(f.strip() for f in row):
            continue
        if len(row) != width:
            # A short row is padded: nothing in the export's layout tells a dropped trailing
            # empty field from a cut row (no source says Qualtrics does either; least surprise).
            row = fit_row(row, width, may_lack=width, label=label, line=line, again="export it again")
        if len(responses) == _SHARE_AFTER:
            _learn_repeats(shared, responses)
        response_id = row[rid].strip()
        if not response_id:
            raise SourceError(f"{label}, line {line}: ResponseId is empty. Export the responses again.")
        check_unique(seen, "ResponseId", response_id, label=label, line=line, again="export again")
        status = row[i_status].strip() if i_status is not None else ""
        if from_dates:
            duration = _legacy_duration(_at(row, i_start), _at(row, i_end))
        else:
            duration = parse_int(_at(row, i_duration))
        duration = numbers.share(duration)
        progress = _at(row, i_progress).strip()
        raw = take(row) if take is not None else tuple(row[i] for i in positions)
        values = tuple(map(share, raw, raw))
        recorded = _at(row, i_recorded).strip()
        recorded = share(recorded, recorded)
        status = STATUS_CODES.get(status) or share(status, status)
        progress = share(progress, progress)
        # The text this response keeps for itself: counted against MAX_SURVEY_KEPT_BYTES.
        own = [v for v in values if v and v not in shared]
        own += (v for v in (response_id, recorded, status, progress) if v and v not in shared and v not in raw)
        kept.values(own, line)
        responses.append(
            Response(
                response_id=response_id,
                status=status,
                finished=_finished(_at(row, i_finished)),
                duration_seconds=duration,
                progress=progress,
                recorded_date=recorded,
                fields=Fields(index, values),
                source_row=line,
            )
        )
    return SurveyTable(source=label, columns=names, responses=responses, legacy=legacy, aliases=aliases)


# After this many responses, the values they repeat are shared by the rows that follow (a
# million "True", "IP Address", "100" cost one object each); unique values are left alone.
_SHARE_AFTER = 1000
_SHARE_MAX_LEN = 64


def _learn_repeats(shared: dict[str, str], responses: list[Response]) -> None:
    counts = Counter(v for r in responses for v in r.fields.values() if len(v) <= _SHARE_MAX_LEN)
    counts.update(v for r in responses for v in (r.status, r.progress))
    shared.update((v, v) for v, k in counts.items() if k > 1)


def _renamed(name: str, present: set[str]) -> str:
    """A legacy metadata name as today's, unless today's is there too."""
    new = LEGACY_NAMES.get(name.strip())
    return new if new and new not in present else name


def _at(row: list[str], i: int | None) -> str:
    return row[i] if i is not None else ""


def _looks_like_data(row: list[str], rid: int) -> bool:
    return rid < len(row) and re.match(r"^R_[A-Za-z0-9]+$", row[rid].strip()) is not None
