"""Reader for Qualtrics CSV exports: the current three-header-row export and the legacy one.

Current export: row 1 field names, row 2 question text or labels, row 3 `{"ImportId":...}`.
Legacy export: UTF-8 BOM, row 1 `V1..V10` + question codes, row 2 the metadata names for
V1..V10 + question text, a trailing comma on every line. Labels (`Survey Preview`,
`True`) and numeric codes (`1`, `1`) are both understood. Every value is kept as text.
"""

from __future__ import annotations

import itertools
import os
import re
from datetime import datetime

from bridge.errors import SourceError
from bridge.models import SurveyTable, Response
from bridge.sources._csv import check_unique, columns_found, fit_row, header_names, load_text, parse_int, records

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


def read_qualtrics_csv(source: str | os.PathLike | bytes, *, name: str | None = None) -> SurveyTable:
    label, text = load_text(source, name, WHAT)
    rows = records(text, label)
    first = next(rows, (1, []))[1]
    second = next(rows, (2, []))[1]
    legacy = bool(first) and _LEGACY_V.match(first[0].strip() or "") is not None and "ResponseID" in second
    if legacy:  # V1..V10 are named on row 2
        names = [
            LEGACY_NAMES.get(second[i].strip(), second[i]) if _LEGACY_V.match(n.strip()) and i < len(second) else n
            for i, n in enumerate(first)
        ]
    else:
        names = first
    names = header_names(names)
    if "ResponseId" not in names:
        hint = (
            " It looks like an MTurk batch-results file: point [qualtrics] csv at the survey export."
            if "AssignmentId" in names
            else " Export the responses from Qualtrics (Data & Analysis → Export → CSV)."
        )
        raise SourceError(f"{label}: not a {WHAT}: no ResponseId column. Columns found: {columns_found(names)}.{hint}")

    width = len(names)
    rid = names.index("ResponseId")
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
    responses: list[Response] = []
    seen: dict[str, int] = {}
    for line, row in itertools.chain(pending, rows):
        if not any(f.strip() for f in row):
            continue
        # A short row is padded: nothing in the export's layout tells a dropped trailing
        # empty field from a cut row (no source says Qualtrics does either; least surprise).
        row = fit_row(row, width, may_lack=width, label=label, line=line, again="export it again")
        fields = dict(zip(names, row))
        response_id = fields["ResponseId"].strip()
        if not response_id:
            raise SourceError(f"{label}, line {line}: ResponseId is empty. Export the responses again.")
        check_unique(seen, "ResponseId", response_id, label=label, line=line, again="export again")
        status = fields.get("Status", "").strip()
        if legacy:
            duration = _legacy_duration(fields.get("StartDate", ""), fields.get("EndDate", ""))
        else:
            duration = parse_int(fields.get("Duration (in seconds)", ""))
        responses.append(
            Response(
                response_id=response_id,
                status=STATUS_CODES.get(status, status),
                finished=_finished(fields.get("Finished", "")),
                duration_seconds=duration,
                progress=fields.get("Progress", "").strip(),
                recorded_date=fields.get("RecordedDate", fields.get("EndDate", "")).strip(),
                fields=fields,
                source_row=line,
            )
        )
    return SurveyTable(source=label, columns=names, responses=responses, legacy=legacy)


def _looks_like_data(row: list[str], rid: int) -> bool:
    return rid < len(row) and re.match(r"^R_[A-Za-z0-9]+$", row[rid].strip()) is not None
