"""Prolific export reader over its data-file matrix (tests/data/readers/prolific_cases.toml).

No complete real Prolific export exists in public: the files are built from the facts in
shared/prolific/FACTS.md §3 (tests/data/readers/prolific/README.md says which row is real).
"""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bridge.models import State, Submission, SubmissionTable
from bridge.panels.prolific.reader import read_export

DATA = Path(__file__).resolve().parents[1] / "data" / "readers"
CASES = tomllib.loads((DATA / "prolific_cases.toml").read_text(encoding="utf-8"))["prolific"]


@pytest.mark.parametrize("case", [dict(c, id=k) for k, c in CASES.items()], ids=list(CASES))
def test_prolific_case(case, read_case, check_attrs, check_error):
    table, exc, label = read_case(read_export, case)
    if "error" in case:
        check_error(table, exc, label, case)
        return
    assert exc is None, f"unexpected SourceError: {exc}"
    _invariants(table, label)
    assert len(table.submissions) == case["submissions"]
    if "task_id" in case:
        assert {s.task_id for s in table.submissions} == {case["task_id"]}
    for name in case.get("answer_fields_include", []):
        assert name in table.answer_fields
    if "answer_fields" in case:
        assert table.answer_fields == case["answer_fields"]
    for spec in case.get("rows", []):
        spec = dict(spec)
        state = spec.pop("state", None)
        row = table.submissions[spec["i"]]
        if state is not None:
            assert row.state is State(state), (row.state, state)
        check_attrs(row, spec, f"submissions[{spec['i']}]")


def _invariants(table: SubmissionTable, label: str) -> None:
    """IDs, statuses, codes and answers are text; times aware UTC; one task, the study."""
    assert table.source == label
    assert set(table.tasks) == {s.task_id for s in table.submissions}
    for s in table.submissions:
        assert isinstance(s, Submission)
        for v in (s.submission_id, s.participant_id, s.task_id, s.status, s.entered_code):
            assert type(v) is str
        assert all(type(v) is str for v in s.answers.values())
        assert list(s.answers) == table.answer_fields
        for t in (s.started_at, s.submitted_at, s.auto_approval_time, s.approved_at, s.rejected_at):
            assert t is None or (isinstance(t, datetime) and t.utcoffset() == timedelta(0))


def test_study_id_from_the_config_wins_over_the_file_name():
    path = DATA / "prolific" / "prolific_export_671b7c0ee3d2b4b3f8bd1a8e.csv"
    table = read_export(path, study_id="6543aaaa0000000000000001")
    assert set(table.tasks) == {"6543aaaa0000000000000001"}


def test_the_sample_study_reads_whole():
    folder = Path(__file__).resolve().parents[2] / "sample_data" / "prolific"
    (path,) = folder.glob("prolific_export_*.csv")
    table = read_export(path)
    assert len(table.submissions) == 44 and len(table.tasks) == 1
    assert {s.status for s in table.submissions} >= {"AWAITING REVIEW", "RETURNED", "TIMED-OUT", "SCREENED OUT",
                                                      "ACTIVE", "APPROVED", "REJECTED"}
