"""Reader for the MTurk requester website's batch-results CSV ("Download CSV").

Handles the file as MTurk writes it (every field quoted, data rows two fields shorter
than the header) and as spreadsheets re-save it (no quotes, trailing empty fields).
Every value is read as text; rewards become Decimal, times aware UTC datetimes.
"""

from __future__ import annotations

import os

from bridge.errors import SourceError
from bridge.models import Submission, SubmissionTable, Task
from bridge.money import AmountError, parse_amount
from bridge.panels.mturk.timefmt import parse_mturk_time
from bridge.panels.mturk.words import ASSIGNMENT_STATUSES, STATES
from bridge.sources import limits
from bridge.sources._csv import Kept, check_unique, columns_found, fit_row, header_names, open_csv, parse_int
from bridge.sources._fields import Fields, Numbers, Repeats

REQUIRED = ("HITId", "AssignmentId", "WorkerId", "AssignmentStatus")
WHAT = "MTurk batch-results CSV"
_STATUS = {s: s for s in ASSIGNMENT_STATUSES}  # one object per status word, shared by every row


def read_batch_results(source: str | os.PathLike | bytes, *, name: str | None = None,
                       code_answer: str | None = None) -> SubmissionTable:
    """The batch file as a SubmissionTable: one Task per HIT, one Submission per assignment.
    `code_answer` names the answer field holding the completion code (without `Answer.`).

    Memory (issue 11): at most MAX_SUBMISSION_ROWS records and MAX_SUBMISSION_KEPT_BYTES of
    kept text (`bridge.sources.limits`);
    a HIT id and a status are one object for all rows, values repeated in the first rows
    (feedback, answers) are shared, and `Submission.answers` is a `Fields`."""
    src = open_csv(source, name, WHAT, max_rows=limits.MAX_SUBMISSION_ROWS)
    label, rows = src.label, src.records()
    try:
        header_line, header = next(rows)
    except StopIteration:  # pragma: no cover - open_csv refuses empty files
        raise SourceError(f"{label}: the file is empty.") from None
    header = header_names(header)
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        head = src.head  # the legacy Qualtrics export names ResponseID on its second row
        hint = (
            " It looks like a Qualtrics export: point [mturk] csv at the batch-results file."
            if "ResponseId" in head or "ResponseID" in head
            else " Download it from the requester website (Manage → Results → Download CSV)."
        )
        raise SourceError(
            f"{label}: not an {WHAT}: missing column(s) {', '.join(missing)}. "
            f"Columns found: {columns_found(header)}.{hint}"
        )
    col = {h: i for i, h in enumerate(header)}
    width = len(header)
    # The website leaves out the empty trailing Approve and Reject fields; any other short
    # row is a damaged file (a cut-off download, a hand edit).
    may_lack = 0
    while may_lack < width and header[width - 1 - may_lack] in ("Approve", "Reject"):
        may_lack += 1
    answer_cols = [(h[len("Answer."):], i) for h, i in col.items() if h.startswith("Answer.")]
    answer_index = {name: j for j, (name, _) in enumerate(answer_cols)}  # shared by every row's Fields
    answer_at = [i for _, i in answer_cols]
    code_at = answer_index.get(code_answer) if code_answer else None

    def get(row: list[str], key: str) -> str:
        i = col.get(key)
        return row[i] if i is not None else ""

    hits: dict[str, Task] = {}
    assignments: list[Submission] = []
    seen: dict[str, int] = {}
    kept = Kept(label, WHAT, limits.MAX_SUBMISSION_KEPT_BYTES)
    repeats = Repeats()
    numbers = Numbers()
    for line, row in rows:
        if not any(f.strip() for f in row):
            continue  # blank line
        row = fit_row(row, width, may_lack=may_lack, label=label, line=line, again="download it again")
        assignment_id = get(row, "AssignmentId").strip()
        worker_id = get(row, "WorkerId").strip()
        hit_id = get(row, "HITId").strip()
        status = get(row, "AssignmentStatus").strip()
        for key, value in (("AssignmentId", assignment_id), ("WorkerId", worker_id), ("HITId", hit_id)):
            if not value:
                raise SourceError(f"{label}, line {line}: {key} is empty. Download the batch results again.")
        if status not in ASSIGNMENT_STATUSES:
            raise SourceError(
                f"{label}, line {line}: AssignmentStatus {status!r} for assignment {assignment_id} is not one of "
                f"{', '.join(ASSIGNMENT_STATUSES)}."
            )
        check_unique(seen, "AssignmentId", assignment_id, label=label, line=line,
                     again="download the batch results again")
        task = hits.get(hit_id)
        if task is None:
            task = hits[hit_id] = _read_hit(label, line, hit_id, row, get)
            kept.values([hit_id, task.type_id, task.title, task.description, task.keywords, task.annotation], line)
        hit_id = task.task_id  # one object for every assignment of the HIT
        answers = repeats.share([row[i] for i in answer_at] + [get(row, "RequesterFeedback")])
        feedback = answers.pop()
        kept.values([assignment_id, worker_id, *repeats.own(answers), *repeats.own([feedback])], line)
        answers = tuple(answers)
        assignments.append(
            Submission(
                submission_id=assignment_id,
                participant_id=worker_id,
                task_id=hit_id,
                state=STATES[status],
                status=_STATUS[status],
                started_at=parse_mturk_time(get(row, "AcceptTime")),
                submitted_at=parse_mturk_time(get(row, "SubmitTime")),
                auto_approval_time=parse_mturk_time(get(row, "AutoApprovalTime")),
                approved_at=parse_mturk_time(get(row, "ApprovalTime")),
                rejected_at=parse_mturk_time(get(row, "RejectionTime")),
                feedback=feedback,
                time_taken_seconds=numbers.share(parse_int(get(row, "WorkTimeInSeconds"))),
                entered_code=answers[code_at] if code_at is not None else "",
                answers=Fields(answer_index, answers),
                source_row=line,
            )
        )
    return SubmissionTable(source=label, tasks=hits, submissions=assignments, answer_fields=[n for n, _ in answer_cols],
                           currency="USD")


def _read_hit(label: str, line: int, hit_id: str, row: list[str], get) -> Task:
    reward_text = get(row, "Reward").strip()
    reward = None
    if reward_text:
        try:
            reward = parse_amount(reward_text)
        except AmountError:
            raise SourceError(
                f"{label}, line {line}: Reward {reward_text!r} of HIT {hit_id} is not an amount like $1.50."
            ) from None
    return Task(
        task_id=hit_id,
        type_id=get(row, "HITTypeId").strip(),
        title=get(row, "Title"),
        description=get(row, "Description"),
        keywords=get(row, "Keywords"),
        reward=reward,
        places=parse_int(get(row, "MaxAssignments")),
        duration_limit_seconds=parse_int(get(row, "AssignmentDurationInSeconds")),
        auto_approval_delay_seconds=parse_int(get(row, "AutoApprovalDelayInSeconds")),
        created_at=parse_mturk_time(get(row, "CreationTime")),
        expires_at=parse_mturk_time(get(row, "Expiration")),
        annotation=get(row, "RequesterAnnotation"),
    )
