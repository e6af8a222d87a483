"""Reader for a Prolific study's export, as the Prolific app gives it (FACTS §3, SPEC §14).

Every layout in use reads, each column found by name (`LAYOUTS`, a table):
- today's: `Submission id, Participant id, Status, Custom study tncs accepted at, Started
  at, Completed at, Reviewed at, Archived at, Time taken, Completion code, Total approvals`,
  then one column per demographic or filter (`Age`, `Sex`, `Fluent languages`, ...);
- the 2023 one, the same without `Custom study tncs accepted at`;
- the 2020–21 one: `session_id, participant_id, status, started_datetime,
  completed_date_time, time_taken, age, num_approvals, num_rejections, prolific_score,
  reviewed_at_datetime, entered_code`, then the demographics (`session_id` is the submission
  id, the `SESSION_ID` of the study link).
Times are ISO 8601 UTC with or without a fraction and a `Z` (`2024-10-25T12:27:09.179000Z`,
`2020-11-03 14:22:01.123000`); `Time taken` is whole seconds or a decimal (`258.0`,
`929.705`); statuses have spaces (`AWAITING REVIEW`) or a hyphen (`TIMED-OUT`); work finished
without a code has `NOCODE`; returned work has no completion time. Every value is read as
text. The columns that are not the submission's own facts are kept as its answers (the
participant's demographics). An export whose participant column a lab renamed is read
with `participant_column` (`[prolific] participant_column`). The export does not name its
study: the file name Prolific gives it does (`prolific_export_<study id>.csv`, also after a
second download: `prolific_export_<id>(1).csv`), or the config's `[prolific] study_id`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from bridge.errors import SourceError
from bridge.models import State, Submission, SubmissionTable, Task
from bridge.panels.prolific.words import STATES, auto_approval, parse_time, state_of, status_word
from bridge.sources import limits
from bridge.sources._csv import (
    Kept, check_unique, columns_found, fit_row, header_names, missing_column, open_csv, parse_int,
)
from bridge.sources._fields import Fields, Numbers, Repeats

WHAT = "Prolific export"
# The submission's facts and the column each layout names them by, today's first (compared
# without case, `_` read as a space: `Participant id` and `participant_id` are one name).
LAYOUTS = {
    "submission": ("Submission id", "session_id"),
    "participant": ("Participant id", "participant_id", "PROLIFIC_PID"),  # the last: the link's name for it
    "status": ("Status",),
    "started": ("Started at", "started_datetime"),
    "completed": ("Completed at", "completed_date_time"),
    "reviewed": ("Reviewed at", "reviewed_at_datetime"),
    "time_taken": ("Time taken",),
    "code": ("Completion code", "entered_code"),
}
# Columns about the submission that are not the participant's answers.
NOT_ANSWERS = ("Custom study tncs accepted at", "Archived at", "Total approvals")
REQUIRED = ("submission", "participant", "status")
_STUDY_IN_NAME = re.compile(r"prolific_export_([a-f0-9]{24})(?:\s*\(\d+\))?(?:\.csv)?$", re.IGNORECASE)
_ANY_STUDY_ID = re.compile(r"([a-f0-9]{24})")
_STATUS = {s: s for s in STATES}  # one object per status word, shared by every row


def _plain(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).casefold()


def study_id_from_name(path: str | os.PathLike | None) -> str | None:
    """The study id in a file name such as `prolific_export_6543aaaa....csv`, also after a
    second download (`prolific_export_<id>(1).csv`, `prolific_export_<id> (1).csv`)."""
    if path is None:
        return None
    name = Path(path).name
    m = _STUDY_IN_NAME.search(name) or _ANY_STUDY_ID.search(name)
    return m.group(1).lower() if m else None


def read_export(source: str | os.PathLike | bytes, *, name: str | None = None,
                study_id: str | None = None, participant_column: str | None = None) -> SubmissionTable:
    """The export as a SubmissionTable: one Task (the study), one Submission per row.
    `study_id` (else the one in the file name, else empty) names the study;
    `participant_column` the column holding the participant id when a lab renamed it.

    Memory (issue 11): at most MAX_SUBMISSION_ROWS records and MAX_SUBMISSION_KEPT_BYTES of
    kept text (`bridge.sources.limits`);
    a status is one object for all rows, values repeated in the first rows (completion codes,
    demographics) are shared, and `Submission.answers` is a `Fields`."""
    src = open_csv(source, name, WHAT, max_rows=limits.MAX_SUBMISSION_ROWS)
    label, rows = src.label, src.records()
    try:
        _, header = next(rows)
    except StopIteration:  # pragma: no cover - open_csv refuses empty files
        raise SourceError(f"{label}: the file is empty.") from None
    header = header_names(header)
    col = _columns(header, participant_column, label, src.head)
    width = len(header)
    study = study_id or (study_id_from_name(source) if not isinstance(source, (bytes, bytearray)) else None) \
        or study_id_from_name(name) or ""
    # The participant's demographics, kept as the submission's answers (as text).
    own_facts = set(col.values()) | {i for i, h in enumerate(header) if _plain(h) in _NOT_ANSWERS}
    extra_at = [i for i in range(width) if i not in own_facts]
    extra = [header[i] for i in extra_at]
    extra_index = {k: j for j, k in enumerate(extra)}  # shared by every row's Fields
    kept = Kept(label, WHAT, limits.MAX_SUBMISSION_KEPT_BYTES)
    repeats = Repeats()
    numbers = Numbers()
    i_sub, i_pid, i_status = col["submission"], col["participant"], col["status"]
    key_sub, key_pid, key_status = header[i_sub], header[i_pid], header[i_status]

    def get(row: list[str], key: str) -> str:
        i = col.get(key)
        return row[i] if i is not None else ""

    submissions: list[Submission] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        if not any(f.strip() for f in row):
            continue
        row = fit_row(row, width, may_lack=width - 1 - max(i_sub, i_pid, i_status), label=label, line=line,
                      again="download the export again")
        sid, pid = row[i_sub].strip(), row[i_pid].strip()
        status = status_word(row[i_status])
        for key, value in ((key_sub, sid), (key_pid, pid), (key_status, status)):
            if not value:
                raise SourceError(f"{label}, line {line}: {key} is empty. Download the export again.")
        check_unique(seen, key_sub, sid, label=label, line=line, again="download the export again")
        status = _STATUS.get(status, status)
        state = state_of(status)
        values = repeats.share([row[i] for i in extra_at] + [get(row, "code").strip()])
        code = values.pop()
        own = [sid, pid, *repeats.own(values), *repeats.own([code])]
        kept.values(own if status in _STATUS else [*own, status], line)
        completed = parse_time(get(row, "completed"))
        reviewed = parse_time(get(row, "reviewed"))
        submissions.append(Submission(
            submission_id=sid,
            participant_id=pid,
            task_id=study,
            state=state,
            status=status,
            started_at=parse_time(get(row, "started")),
            submitted_at=completed,
            auto_approval_time=auto_approval(state, completed),
            approved_at=reviewed if state is State.APPROVED else None,
            rejected_at=reviewed if state is State.REJECTED else None,
            time_taken_seconds=numbers.share(parse_int(get(row, "time_taken"))),
            entered_code=code,
            answers=Fields(extra_index, tuple(values)),
            source_row=line,
        ))
    tasks = {study: Task(task_id=study)} if submissions else {}
    return SubmissionTable(source=label, tasks=tasks, submissions=submissions, answer_fields=list(extra))


_NOT_ANSWERS = frozenset(_plain(n) for n in NOT_ANSWERS)


def _columns(header: list[str], participant_column: str | None, label: str, head: str) -> dict[str, int]:
    """Where each of the submission's facts is (`LAYOUTS`), by position; a SourceError when
    the submission, participant or status column is missing."""
    plain = {}
    for i, h in enumerate(header):
        plain.setdefault(_plain(h), i)
    col = {}
    for fact, names in LAYOUTS.items():
        at = next((plain[_plain(n)] for n in names if _plain(n) in plain), None)
        if at is not None:
            col[fact] = at
    if participant_column is not None:
        if participant_column not in header:
            raise SourceError(missing_column(label, "[prolific] participant_column", participant_column, header))
        col["participant"] = header.index(participant_column)
    missing = [LAYOUTS[f][0] for f in REQUIRED if f not in col]
    if missing:
        raise SourceError(f"{label}: not a {WHAT}: missing column(s) {', '.join(missing)}. "
                          f"Columns found: {columns_found(header)}.{_hint(header, head, missing)}")
    return col


def _hint(header: list[str], head: str, missing: list[str]) -> str:
    if "ResponseId" in header or "ResponseID" in head:
        return " It looks like a Qualtrics export: point [prolific] csv at the study's export from Prolific."
    if "AssignmentId" in header or "HITId" in header:
        return " It looks like an MTurk batch-results file: this wave's [wave] platform is prolific."
    if missing == ["Participant id"]:
        return (" If the participant id column was renamed, name it with [prolific] participant_column "
                "(e.g. participant_column = \"PROLIFIC_PID\").")
    return (" Download it from the study's Submissions page in Prolific (\"Download summary\" / "
            "demographic export).")
