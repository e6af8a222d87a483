"""Reader for a survey exported as a CSV file with one header row (SPEC §14): LimeSurvey,
SoSci Survey, oTree, a jsPsych/JATOS or Pavlovia data file, any tool that puts one response
on one row and the participant id (`PROLIFIC_PID`, however the survey named it) in a column.

A `CsvLayout` says where the close-out's few facts are: the response id (else the row's
number, the header being row 1, as a spreadsheet numbers it), whether the response is
finished (a column whose values in `finished_values` mean finished; without values, any
non-empty value does, as LimeSurvey's `submitdate`; without a column, every row is), and the
duration (a column of seconds, or a start and an end time). A preset (`bridge.sources.presets`)
gives one layout per heading style of its tool; the first whose id column the file has is
used. Every value is kept as text; the status is empty (ignored statuses are a Qualtrics
notion). Decoding, separators, limits and messages are the CSV layer's (`bridge.sources._csv`),
as for the Qualtrics reader.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from operator import itemgetter
from typing import BinaryIO

from bridge.errors import SourceError
from bridge.models import Response, SurveyTable
from bridge.sources import limits
from bridge.sources._csv import (
    Kept, check_unique, columns_found, fit_row, header_names, missing_column, open_csv, parse_int,
)
from bridge.sources._fields import Fields, Numbers

WHAT = "survey CSV export"
# The layout's keys (the [survey] keys of SPEC §14) that name a column.
COLUMN_KEYS = ("response_id_column", "finished_column", "duration_column", "started_column", "ended_column")
# Times a tool writes: ISO 8601 (with `T` or a space, a fraction, `Z` or an offset) first.
_TIME_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M")


@dataclass(frozen=True, slots=True)
class CsvLayout:
    """Where a one-header-row export keeps the facts the close-out reads (SPEC §14)."""

    style: str = ""  # a preset's heading style ("question codes"), for messages
    response_id_column: str | None = None  # None: the row's number
    finished_column: str | None = None  # None: every response is finished
    finished_values: tuple[str, ...] = ()  # compared without case; empty: any non-empty value
    duration_column: str | None = None  # seconds (`258`, `258.0`)
    started_column: str | None = None  # with ended_column: the duration from two times
    ended_column: str | None = None
    # Keys whose column the file must have (the config named them, or the preset needs them);
    # a preset's other columns are used when the file has them.
    required: frozenset[str] = field(default_factory=frozenset)
    # A preset's names also match a header that differs in case or in spaces written as
    # underscores (LimeSurvey's export can turn `Response ID` into `Response_ID`).
    loose: bool = False

    def column(self, key: str, names: Collection[str]) -> str | None:
        """The header name in `names` the layout's `key` names, or None."""
        wanted = getattr(self, key)
        if not wanted:
            return None
        if wanted in names:
            return wanted
        if self.loose:
            plain = _plain(wanted)
            return next((n for n in names if _plain(n) == plain), None)
        return None

    def fits(self, names: Collection[str]) -> bool:
        """The file has every column this layout requires."""
        return all(self.column(k, names) for k in self.required if getattr(self, k))


def _plain(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).casefold()


def read_survey_csv(
    source: str | os.PathLike | bytes | BinaryIO,
    layouts: Sequence[CsvLayout],
    *,
    name: str | None = None,
    keep: Collection[str] | None = None,
    what: str = WHAT,
    key: Callable[[str], str] = lambda k: f"[survey] {k}",
) -> SurveyTable:
    """Read an export from a path, bytes or a binary stream with the first of `layouts` that
    fits its header. `keep` names the columns each `Response.fields` holds (None: every
    column), as `read_qualtrics_csv`'s; `key(k)` names the config key `k` in messages."""
    src = open_csv(source, name, what)
    rows = src.records()
    try:
        return _read(rows, src.label, layouts, keep, what, key)
    finally:
        rows.close()


def _choose(names: list[str], layouts: Sequence[CsvLayout], label: str, what: str,
            key: Callable[[str], str]) -> CsvLayout:
    """The first layout the file fits; else the missing columns of the one whose id column
    it has (or of the only one), else what the file is not."""
    for layout in layouts:
        if layout.fits(names):
            return layout
    near = [layout for layout in layouts if layout.column("response_id_column", names)]
    if near or len(layouts) == 1:
        layout = (near or layouts)[0]
        problems = [missing_column(label, key(k), getattr(layout, k), names) for k in COLUMN_KEYS
                    if k in layout.required and getattr(layout, k) and not layout.column(k, names)]
        raise SourceError(" ".join(problems))
    wanted = " or ".join(repr(layout.response_id_column) for layout in layouts if layout.response_id_column)
    raise SourceError(f"{label}: not a {what}: no {wanted} column. Columns found: {columns_found(names)}. "
                      "Export the responses again with the headings as they came, or set the columns in [survey] "
                      "(format = \"csv\").")


def _read(rows: Iterator[tuple[int, list[str]]], label: str, layouts: Sequence[CsvLayout],
          keep: Collection[str] | None, what: str, key: Callable[[str], str]) -> SurveyTable:
    first = next(rows, None)
    if first is None:  # pragma: no cover - open_csv refuses empty files
        raise SourceError(f"{label}: the file is empty.")
    names = header_names(first[1])
    if not names:
        raise SourceError(f"{label}: the first row, the header, is empty. Export the responses again.")
    layout = _choose(names, layouts, label, what, key)
    col = {n: i for i, n in enumerate(names)}
    width = len(names)
    i_id, i_finished, i_duration, i_started, i_ended = (col.get(layout.column(k, col)) for k in COLUMN_KEYS)
    i_recorded = i_ended
    if i_duration is not None:
        i_started = i_ended = None  # the tool's own count of seconds wins over two times
    finished_values = {v.strip().casefold() for v in layout.finished_values}
    every_finished = layout.finished_column is None
    wanted = None if keep is None else set(keep)
    positions = list(range(width)) if wanted is None else [i for n, i in col.items() if n in wanted]
    index = {names[i]: j for j, i in enumerate(positions)}  # shared by every row's Fields
    take = itemgetter(*positions) if len(positions) > 1 else None
    shared: dict[str, str] = {}  # one object for each value repeated in the first rows
    share = shared.get
    kept = Kept(label, what, limits.MAX_SURVEY_KEPT_BYTES)
    numbers = Numbers()
    id_name = names[i_id] if i_id is not None else "row"

    responses: list[Response] = []
    seen: dict[str, int] = {}
    # Records are numbered as a spreadsheet numbers its rows: the header is row 1.
    for number, (line, row) in enumerate(rows, start=2):
        if not any(f.strip() for f in row):
            continue
        if len(row) != width:
            row = fit_row(row, width, may_lack=width, label=label, line=line, again="export it again")
        if len(responses) == _SHARE_AFTER:
            _learn_repeats(shared, responses)
        if i_id is None:
            response_id = str(number)
        else:
            response_id = row[i_id].strip()
            if not response_id:
                raise SourceError(f"{label}, line {line}: {id_name} is empty ({key('response_id_column')}). "
                                  "Export the responses again.")
            check_unique(seen, id_name, response_id, label=label, line=line, again="export again")
        if every_finished:
            finished = True
        else:
            done = row[i_finished].strip() if i_finished is not None else ""
            finished = done.casefold() in finished_values if finished_values else bool(done)
        if i_started is not None and i_ended is not None:
            duration = _seconds_between(row[i_started], row[i_ended])
        else:
            duration = parse_int(row[i_duration]) if i_duration is not None else None
        duration = numbers.share(duration)
        raw = take(row) if take is not None else tuple(row[i] for i in positions)
        values = tuple(map(share, raw, raw))
        recorded = row[i_recorded].strip() if i_recorded is not None else ""
        own = [v for v in values if v and v not in shared]
        if i_id is None or response_id not in raw:
            own.append(response_id)
        if recorded and recorded not in raw:
            own.append(recorded)
        kept.values(own, line)
        responses.append(Response(
            response_id=response_id,
            status="",
            finished=finished,
            duration_seconds=duration,
            progress="",
            recorded_date=recorded,
            fields=Fields(index, values),
            source_row=line,
        ))
    return SurveyTable(source=label, columns=names, responses=responses,
                       id_column=names[i_id] if i_id is not None else None, what=what)


# As the Qualtrics reader: after this many responses, the values they repeat are shared.
_SHARE_AFTER = 1000
_SHARE_MAX_LEN = 64


def _learn_repeats(shared: dict[str, str], responses: list[Response]) -> None:
    counts = Counter(v for r in responses for v in r.fields.values() if len(v) <= _SHARE_MAX_LEN)
    shared.update((v, v) for v, k in counts.items() if k > 1)


def parse_time(text: str) -> datetime | None:
    """A time as survey tools write it: ISO 8601 (`2026-11-20 16:00:00`, with `T`, a
    fraction, `Z` or an offset), or `20.11.2026 16:00:00`; None when empty or not a time."""
    text = text.strip()
    if not text or not text[0].isdigit():
        return None
    try:
        return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        pass
    for form in _TIME_FORMATS:
        try:
            return datetime.strptime(text, form)
        except ValueError:
            continue
    return None


def _seconds_between(start: str, end: str) -> int | None:
    """Whole seconds from `start` to `end`; None when either is not a time or the end comes
    first. A time without a zone is taken as UTC when the other has one."""
    a, b = parse_time(start), parse_time(end)
    if a is None or b is None:
        return None
    if (a.tzinfo is None) != (b.tzinfo is None):
        a, b = (t if t.tzinfo else t.replace(tzinfo=timezone.utc) for t in (a, b))
    seconds = int((b - a).total_seconds())
    return seconds if seconds >= 0 else None
