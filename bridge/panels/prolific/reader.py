"""Reader for a Prolific study's export, as the Prolific app gives it (FACTS §3).

Columns in order: `Submission id, Participant id, Status, Custom study tncs accepted at,
Started at, Completed at, Reviewed at, Archived at, Time taken, Completion code, Total
approvals`, then one column per demographic or filter (`Age`, `Sex`, `Fluent languages`,
...). Times are ISO 8601 UTC with microseconds (`2024-10-25T12:27:09.179000Z`); statuses
have spaces (`AWAITING REVIEW`, `SCREENED OUT`) or a hyphen (`TIMED-OUT`); a submission
finished without a code has `NOCODE`; returned work has no `Completed at`. Every value is
read as text. The export does not name its study: the file name Prolific gives it does
(`prolific_export_<study id>.csv`), or the config's `[prolific] study_id`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from bridge.errors import SourceError
from bridge.models import State, Submission, SubmissionTable, Task
from bridge.panels.prolific.words import STATES, auto_approval, parse_time, state_of, status_word
from bridge.sources import limits
from bridge.sources._csv import Kept, check_unique, columns_found, fit_row, header_names, open_csv, parse_int
from bridge.sources._fields import Fields, Numbers, Repeats

WHAT = "Prolific export"
REQUIRED = ("Submission id", "Participant id", "Status")
_STUDY_IN_NAME = re.compile(r"([a-f0-9]{24})")
_DEMOGRAPHICS_FROM = "Total approvals"  # the columns after it describe the participant
_STATUS = {s: s for s in STATES}  # one object per status word, shared by every row


def study_id_from_name(path: str | os.PathLike | None) -> str | None:
    """The study id in a file name such as `prolific_export_6543aaaa....csv`."""
    if path is None:
        return None
    m = _STUDY_IN_NAME.search(Path(path).name)
    return m.group(1) if m else None


def read_export(source: str | os.PathLike | bytes, *, name: str | None = None,
                study_id: str | None = None) -> SubmissionTable:
    """The export as a SubmissionTable: one Task (the study), one Submission per row.
    `study_id` (else the one in the file name, else empty) names the study.

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
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise SourceError(f"{label}: not a {WHAT}: missing column(s) {', '.join(missing)}. "
                          f"Columns found: {columns_found(header)}.{_hint(header, src.head)}")
    col = {h: i for i, h in enumerate(header)}
    width = len(header)
    study = study_id or (study_id_from_name(source) if not isinstance(source, (bytes, bytearray)) else None) \
        or study_id_from_name(name) or ""
    # The participant's demographics, kept as the submission's answers (as text).
    extra = header[col[_DEMOGRAPHICS_FROM] + 1:] if _DEMOGRAPHICS_FROM in col else []
    extra_index = {k: j for j, k in enumerate(extra)}  # shared by every row's Fields
    extra_at = [col[k] for k in extra]
    kept = Kept(label, WHAT, limits.MAX_SUBMISSION_KEPT_BYTES)
    repeats = Repeats()
    numbers = Numbers()

    def get(row: list[str], key: str) -> str:
        i = col.get(key)
        return row[i] if i is not None else ""

    submissions: list[Submission] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        if not any(f.strip() for f in row):
            continue
        row = fit_row(row, width, may_lack=width - len(REQUIRED), label=label, line=line,
                      again="download the export again")
        sid, pid = get(row, "Submission id").strip(), get(row, "Participant id").strip()
        status = status_word(get(row, "Status"))
        for key, value in (("Submission id", sid), ("Participant id", pid), ("Status", status)):
            if not value:
                raise SourceError(f"{label}, line {line}: {key} is empty. Download the export again.")
        check_unique(seen, "Submission id", sid, label=label, line=line, again="download the export again")
        status = _STATUS.get(status, status)
        state = state_of(status)
        values = repeats.share([row[i] for i in extra_at] + [get(row, "Completion code").strip()])
        code = values.pop()
        own = [sid, pid, *repeats.own(values), *repeats.own([code])]
        kept.values(own if status in _STATUS else [*own, status], line)
        completed = parse_time(get(row, "Completed at"))
        reviewed = parse_time(get(row, "Reviewed at"))
        submissions.append(Submission(
            submission_id=sid,
            participant_id=pid,
            task_id=study,
            state=state,
            status=status,
            started_at=parse_time(get(row, "Started at")),
            submitted_at=completed,
            auto_approval_time=auto_approval(state, completed),
            approved_at=reviewed if state is State.APPROVED else None,
            rejected_at=reviewed if state is State.REJECTED else None,
            time_taken_seconds=numbers.share(parse_int(get(row, "Time taken"))),
            entered_code=code,
            answers=Fields(extra_index, tuple(values)),
            source_row=line,
        ))
    tasks = {study: Task(task_id=study)} if submissions else {}
    return SubmissionTable(source=label, tasks=tasks, submissions=submissions, answer_fields=list(extra))


def _hint(header: list[str], head: str) -> str:
    if "ResponseId" in header or "ResponseID" in head:
        return " It looks like a Qualtrics export: point [prolific] csv at the study's export from Prolific."
    if "AssignmentId" in header or "HITId" in header:
        return " It looks like an MTurk batch-results file: this wave's [wave] platform is prolific."
    return (" Download it from the study's Submissions page in Prolific (\"Download summary\" / "
            "demographic export).")
