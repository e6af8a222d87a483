"""What the Qualtrics emulator exports: a survey's rows, the export options checked as
Qualtrics documents them, the rows an export selects, and the file it writes.

Source for the options: Qualtrics' API reference, "Start Response Export"
(https://api.qualtrics.com/6b00592b9c013-start-response-export), and its response-export
workflows, continuation included
(https://developers.qodex.ai/qualtrics-public/surveys-response-import-export-api). Where
they are silent the choice is the least surprising one and says so ("unconfirmed").
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FORMATS = {"csv", "tsv", "json", "ndjson", "spss", "xml"}
SERVED_FORMATS = {"csv": ",", "tsv": "\t"}  # the emulator holds CSV rows; TSV is the same rows
# Labels of the numeric codes of an export without labels (FORMATS.md, "CSV export").
STATUS_LABELS = {
    "0": "IP Address", "1": "Survey Preview", "2": "Survey Test", "4": "Imported", "8": "Spam",
    "9": "Survey Preview Spam", "12": "Imported Spam", "16": "Offline", "17": "Offline Survey Preview",
}
FINISHED_LABELS = {"1": "True", "0": "False"}
_LABELLED = {"Status": STATUS_LABELS, "Finished": FINISHED_LABELS}
_CODES = {name: {label: code for code, label in labels.items()} for name, labels in _LABELLED.items()}
IN_PROGRESS_PREFIX = "FS_"  # ResponseIds of responses still in progress

# The body members by type [doc]. Members not listed are accepted and ignored (the API
# grows; refusing an option the real service takes would fail a rehearsal for nothing).
BOOLEANS = ("useLabels", "compress", "exportResponsesInProgress", "allowContinuation", "breakoutSets",
            "includeDisplayOrder", "formatDecimalAsComma", "sortByLastModifiedDate")
INTEGERS = ("limit", "seenUnansweredRecode", "multiselectSeenUnansweredRecode")
STRINGS = ("format", "startDate", "endDate", "timeZone", "newlineReplacement", "filterId", "continuationToken")
LISTS = ("questionIds", "embeddedDataIds", "surveyMetadataIds")


class OptionError(ValueError):
    """A bad export body: `member` names the field, `code` is the emulator's errorCode."""

    def __init__(self, member: str, message: str, code: str = "QVAL_3"):
        super().__init__(message)
        self.member, self.message, self.code = member, message, code


@dataclass
class Row:
    seq: int  # order of recording; continuation tokens remember how far an export went
    values: list[str]
    in_progress: bool


@dataclass
class ExportOptions:
    fmt: str
    use_labels: bool = False  # the documented default
    compress: bool = True  # the documented default
    in_progress: bool = False
    limit: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    allow_continuation: bool = False
    continuation_token: str | None = None
    extra: dict = field(default_factory=dict)


def _iso(member: str, value: str) -> datetime:
    """An ISO 8601 date-time; without an offset it is UTC ("the specified UTC date" [doc])."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise OptionError(member, f"{member} must be an ISO 8601 date-time such as 2024-05-01T00:00:00Z, "
                                  f"not {value!r}.") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def check_options(body: object) -> ExportOptions:
    """The export options of a request body; OptionError names the first bad member."""
    if not isinstance(body, dict):
        raise OptionError("body", "The request body must be a JSON object.", "QVAL_1")
    for names, kind, ok in ((BOOLEANS, "a boolean", lambda v: isinstance(v, bool)),
                            (INTEGERS, "an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
                            (STRINGS, "a string", lambda v: isinstance(v, str)),
                            (LISTS, "a list of strings", lambda v: isinstance(v, list)
                             and all(isinstance(x, str) for x in v))):
        for name in names:
            if name in body and not ok(body[name]):
                raise OptionError(name, f"{name} must be {kind}, not {json.dumps(body[name])}.")
    fmt = body.get("format")
    if fmt not in FORMATS:
        raise OptionError("format", f"format is required: one of {', '.join(sorted(FORMATS))}.", "QVAL_2")
    if fmt not in SERVED_FORMATS:
        raise OptionError("format", f"The emulator exports format csv or tsv, not {fmt}.", "QVAL_2")
    limit = body.get("limit")
    if limit is not None and limit < 1:
        raise OptionError("limit", f"limit must be an integer of at least 1, not {limit}.", "QVAL_4")
    if "timeZone" in body:
        try:
            ZoneInfo(body["timeZone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise OptionError("timeZone", f"timeZone {body['timeZone']!r} is not an IANA time zone such as "
                                          "America/Denver.", "QVAL_4") from None
    start = _iso("startDate", body["startDate"]) if "startDate" in body else None
    end = _iso("endDate", body["endDate"]) if "endDate" in body else None
    if start is not None and end is not None and start > end:
        raise OptionError("startDate", "startDate must not be after endDate.", "QVAL_4")
    token = body.get("continuationToken")
    if token is not None and not token.strip():
        raise OptionError("continuationToken", "continuationToken must not be empty.", "QVAL_4")
    # Unconfirmed combinations, refused as the least surprise: a continuation defines its own
    # window (so no startDate/endDate with a continuationToken), and it follows recorded
    # responses, which in-progress ones are not.
    if token is not None and (start is not None or end is not None):
        raise OptionError("continuationToken", "continuationToken cannot be combined with startDate or endDate.",
                          "QVAL_4")
    if body.get("exportResponsesInProgress") and (body.get("allowContinuation") or token is not None):
        raise OptionError("exportResponsesInProgress", "exportResponsesInProgress cannot be combined with "
                          "allowContinuation or continuationToken.", "QVAL_4")
    return ExportOptions(
        fmt=fmt, use_labels=body.get("useLabels", False), compress=body.get("compress", True),
        in_progress=body.get("exportResponsesInProgress", False), limit=limit, start=start, end=end,
        allow_continuation=body.get("allowContinuation", False), continuation_token=token,
        extra={k: v for k, v in body.items() if k not in (*BOOLEANS, *INTEGERS, *STRINGS, *LISTS)},
    )


def _import_id(cell: str) -> dict:
    try:
        value = json.loads(cell)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class SurveyData:
    """A seeded CSV export: its header rows, and one Row per response (in-progress ones
    apart). The seeded bytes are kept to be served as they are when nothing changes."""

    def __init__(self, survey_id: str, name: str, data: bytes):
        self.id, self.name, self.data = survey_id, name, data
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig", errors="replace"), newline="")))
        self.fields = rows[0] if rows else []
        self.texts = rows[1] if len(rows) > 1 else []
        has_imports = len(rows) > 2 and rows[2][:1] != [] and rows[2][0].startswith('{"ImportId"')
        imports = rows[2] if has_imports else []
        self.header = rows[: 3 if has_imports else 2]
        self.import_ids = [str(_import_id(cell).get("ImportId", "")) for cell in imports]
        self.col = {name: i for i, name in enumerate(self.fields)}
        recorded = self.col.get("RecordedDate")
        tz_name = _import_id(imports[recorded]).get("timeZone") if recorded is not None and recorded < len(imports) else None
        try:
            self.zone = ZoneInfo(tz_name) if tz_name else timezone.utc
        except (ZoneInfoNotFoundError, ValueError):
            self.zone = timezone.utc
        self.rows: list[Row] = []
        for values in rows[len(self.header):]:
            if any(v.strip() for v in values):
                self.rows.append(Row(len(self.rows), values, self._response_id(values).startswith(IN_PROGRESS_PREFIX)))
        self.seeded = [r.seq for r in self.rows if not r.in_progress]

    @property
    def responses(self) -> int:
        """Recorded responses (in-progress ones are not)."""
        return sum(1 for r in self.rows if not r.in_progress)

    @property
    def next_seq(self) -> int:
        return len(self.rows)

    def _response_id(self, values: list[str]) -> str:
        i = self.col.get("ResponseId")
        return values[i].strip() if i is not None and i < len(values) else ""

    def append(self, values: list[str], in_progress: bool) -> Row:
        row = Row(self.next_seq, values, in_progress)
        self.rows.append(row)
        return row

    def recorded_at(self, row: Row) -> datetime | None:
        i = self.col.get("RecordedDate")
        text = row.values[i].strip() if i is not None and i < len(row.values) else ""
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=self.zone)).astimezone(timezone.utc)

    def select(self, options: ExportOptions, since: int | None) -> tuple[list[Row], int]:
        """The rows an export holds, in order, and how far it went (for a continuation).

        Recorded responses, or only in-progress ones; with a continuation token only those
        recorded after the export that gave it; startDate inclusive and endDate exclusive
        on RecordedDate (half-open, so back-to-back windows neither overlap nor drop a
        response; unconfirmed), a row without a readable RecordedDate left out when a date
        is given; then the first `limit`.
        """
        pool = [r for r in self.rows if r.in_progress == options.in_progress]
        if since is not None:
            pool = [r for r in pool if r.seq >= since]
        if options.start is not None or options.end is not None:
            def inside(row: Row) -> bool:
                at = self.recorded_at(row)
                return at is not None and (options.start is None or at >= options.start) and (
                    options.end is None or at < options.end)
            pool = [r for r in pool if inside(r)]
        reached = self.next_seq
        if options.limit is not None and len(pool) > options.limit:
            pool = pool[: options.limit]
            reached = pool[-1].seq + 1  # the rest is still ahead of the continuation
        return pool, reached

    def _converted(self, values: list[str], use_labels: bool) -> list[str]:
        out = list(values)
        for name, labels in _LABELLED.items():
            i = self.col.get(name)
            if i is not None and i < len(out):
                mapping = labels if use_labels else _CODES[name]
                out[i] = mapping.get(out[i].strip(), out[i])
        return out

    def render(self, rows: list[Row], options: ExportOptions) -> bytes:
        """The export file: the seeded bytes when the export is exactly the seeded rows and
        labels change nothing; otherwise the header rows and the rows, UTF-8 without a BOM,
        CRLF line ends (as the API's files are)."""
        converted = [self._converted(r.values, options.use_labels) for r in rows]
        unchanged = all(c == r.values for c, r in zip(converted, rows))
        if options.fmt == "csv" and unchanged and [r.seq for r in rows] == self.seeded:
            return self.data
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=SERVED_FORMATS[options.fmt], lineterminator="\r\n")
        writer.writerows(self.header)
        writer.writerows(converted)
        return buf.getvalue().encode("utf-8")
