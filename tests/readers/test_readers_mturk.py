"""MTurk batch-results reader over the data-file matrix in tests/data/readers/cases.toml."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bridge.models import Submission, SubmissionTable, Task
from bridge.panels.mturk.reader import read_batch_results

DATA = Path(__file__).resolve().parents[1] / "data" / "readers"


def test_mturk_case(mturk_case, read_case, check_attrs, check_error):
    case = mturk_case
    table, exc, label = read_case(read_batch_results, case)
    if "error" in case:
        check_error(table, exc, label, case)
        return
    assert exc is None, f"unexpected SourceError: {exc}"
    _invariants(table, label)

    if "source" in case:
        assert table.source == case["source"]
    if "assignments" in case:
        assert len(table.submissions) == case["assignments"]
    if "hit_count" in case:
        assert len(table.tasks) == case["hit_count"]
    if "source_rows" in case:
        assert [a.source_row for a in table.submissions] == case["source_rows"]
    if "answer_fields" in case:
        assert table.answer_fields == case["answer_fields"]
    for name in case.get("answer_fields_include", []):
        assert name in table.answer_fields
    for spec in case.get("hits", []):
        assert spec["hit_id"] in table.tasks, f"no HIT {spec['hit_id']} (has {sorted(table.tasks)})"
        check_attrs(table.tasks[spec["hit_id"]], neutral(spec), f"hit {spec['hit_id']}")
    for spec in case.get("rows", []):
        check_attrs(table.submissions[spec["i"]], neutral(spec), f"assignments[{spec['i']}]")


# The matrix names attributes in MTurk's words; the reader's table is panel-neutral.
NEUTRAL = {"hit_id": "task_id", "hit_type_id": "type_id", "max_assignments": "places",
           "assignment_duration_seconds": "duration_limit_seconds", "creation_time": "created_at",
           "expiration": "expires_at", "assignment_id": "submission_id", "worker_id": "participant_id",
           "accept_time": "started_at", "submit_time": "submitted_at", "approval_time": "approved_at",
           "rejection_time": "rejected_at", "requester_feedback": "feedback", "work_time_seconds": "time_taken_seconds"}


def neutral(spec: dict) -> dict:
    out = {NEUTRAL.get(k, k): v for k, v in spec.items()}
    if "none" in out:
        out["none"] = [NEUTRAL.get(k, k) for k in out["none"]]
    return out


def _invariants(table: SubmissionTable, label: str) -> None:
    """What holds for every file read: IDs and answers are text, money Decimal, times aware UTC."""
    assert isinstance(table, SubmissionTable)
    assert table.source == label
    assert all(type(n) is str for n in table.answer_fields)
    assert len(set(table.answer_fields)) == len(table.answer_fields)
    for hit_id, hit in table.tasks.items():
        assert isinstance(hit, Task) and hit.task_id == hit_id and type(hit_id) is str
        assert hit.reward is None or type(hit.reward) is Decimal
        for t in (hit.created_at, hit.expires_at):
            assert t is None or (isinstance(t, datetime) and t.utcoffset() == timedelta(0))
    rows = [a.source_row for a in table.submissions]
    assert rows == sorted(set(rows)) and all(r >= 2 for r in rows)
    for a in table.submissions:
        assert isinstance(a, Submission)
        for v in (a.submission_id, a.participant_id, a.task_id, a.status, a.feedback):
            assert type(v) is str
        assert a.submission_id == a.submission_id.strip() and a.submission_id
        assert a.task_id in table.tasks
        assert a.status in ("Submitted", "Approved", "Rejected")
        assert list(a.answers) == table.answer_fields
        assert all(type(v) is str for v in a.answers.values()), a.answers
        assert a.time_taken_seconds is None or type(a.time_taken_seconds) is int
        for t in (a.started_at, a.submitted_at, a.auto_approval_time, a.approved_at, a.rejected_at):
            assert t is None or (isinstance(t, datetime) and t.utcoffset() == timedelta(0))


def test_same_batch_as_path_str_and_bytes():
    """A str path, a Path and the bytes give the same table (only the source label differs)."""
    path = DATA / "mturk" / "answer_multiline.csv"
    by_path = read_batch_results(path)
    by_str = read_batch_results(str(path))
    by_bytes = read_batch_results(path.read_bytes(), name="x.csv")
    assert by_path.submissions == by_str.submissions == by_bytes.submissions
    assert by_path.tasks == by_bytes.tasks
    assert by_bytes.source == "x.csv"
