"""MTurk batch-results reader over the data-file matrix in tests/data/readers/cases.toml."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bridge.models import Assignment, Hit, MTurkTable
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
        assert len(table.assignments) == case["assignments"]
    if "hit_count" in case:
        assert len(table.hits) == case["hit_count"]
    if "source_rows" in case:
        assert [a.source_row for a in table.assignments] == case["source_rows"]
    if "answer_fields" in case:
        assert table.answer_fields == case["answer_fields"]
    for name in case.get("answer_fields_include", []):
        assert name in table.answer_fields
    for spec in case.get("hits", []):
        assert spec["hit_id"] in table.hits, f"no HIT {spec['hit_id']} (has {sorted(table.hits)})"
        check_attrs(table.hits[spec["hit_id"]], spec, f"hit {spec['hit_id']}")
    for spec in case.get("rows", []):
        check_attrs(table.assignments[spec["i"]], spec, f"assignments[{spec['i']}]")


def _invariants(table: MTurkTable, label: str) -> None:
    """What holds for every file read: IDs and answers are text, money Decimal, times aware UTC."""
    assert isinstance(table, MTurkTable)
    assert table.source == label
    assert all(type(n) is str for n in table.answer_fields)
    assert len(set(table.answer_fields)) == len(table.answer_fields)
    for hit_id, hit in table.hits.items():
        assert isinstance(hit, Hit) and hit.hit_id == hit_id and type(hit_id) is str
        assert hit.reward is None or type(hit.reward) is Decimal
        for t in (hit.creation_time, hit.expiration):
            assert t is None or (isinstance(t, datetime) and t.utcoffset() == timedelta(0))
    rows = [a.source_row for a in table.assignments]
    assert rows == sorted(set(rows)) and all(r >= 2 for r in rows)
    for a in table.assignments:
        assert isinstance(a, Assignment)
        for v in (a.assignment_id, a.worker_id, a.hit_id, a.status, a.requester_feedback):
            assert type(v) is str
        assert a.assignment_id == a.assignment_id.strip() and a.assignment_id
        assert a.hit_id in table.hits
        assert a.status in ("Submitted", "Approved", "Rejected")
        assert list(a.answers) == table.answer_fields
        assert all(type(v) is str for v in a.answers.values()), a.answers
        assert a.work_time_seconds is None or type(a.work_time_seconds) is int
        for t in (a.accept_time, a.submit_time, a.auto_approval_time, a.approval_time, a.rejection_time):
            assert t is None or (isinstance(t, datetime) and t.utcoffset() == timedelta(0))


def test_same_batch_as_path_str_and_bytes():
    """A str path, a Path and the bytes give the same table (only the source label differs)."""
    path = DATA / "mturk" / "answer_multiline.csv"
    by_path = read_batch_results(path)
    by_str = read_batch_results(str(path))
    by_bytes = read_batch_results(path.read_bytes(), name="x.csv")
    assert by_path.assignments == by_str.assignments == by_bytes.assignments
    assert by_path.hits == by_bytes.hits
    assert by_bytes.source == "x.csv"
