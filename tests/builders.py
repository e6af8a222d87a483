"""Small builders for typed tables, so matcher and rules tests state only what matters."""

from __future__ import annotations

import itertools
import textwrap
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from bridge.config import load_config
from bridge.models import Response, State, Submission, SubmissionTable, SurveyTable, Task

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
HIT = "3HITAAAAAAAAAAAAAAAAAAAAAAAAAA"
_ids = itertools.count(1)


def resp(code: str, *, rid: str | None = None, status: str = "IP Address", finished: bool | None = True,
         duration: int | None = 600, worker: str = "", **fields: str) -> Response:
    rid = rid or f"R_{next(_ids):015d}"
    f = {"ResponseId": rid, "Random ID": code, "workerId": worker, **fields}
    return Response(rid, status, finished, duration, "100", "2026-11-20 10:00:00", f)


_MTURK_STATES = {"Submitted": State.PENDING, "Approved": State.APPROVED, "Rejected": State.REJECTED}


def asg(code: str, *, worker: str | None = None, aid: str | None = None, status: str = "Submitted",
        auto_in: timedelta | None = timedelta(days=3), hit: str = HIT, taken: int | None = None) -> Submission:
    """An MTurk assignment whose worker pasted `code` (`taken`: its WorkTimeInSeconds)."""
    n = next(_ids)
    return Submission(
        submission_id=aid or f"3ASG{n:026d}",
        participant_id=worker or f"AWORKER{n:08d}",
        task_id=hit,
        state=_MTURK_STATES[status],
        status=status,
        auto_approval_time=NOW + auto_in if auto_in is not None else None,
        entered_code=code,
        answers={"surveycode": code},
        time_taken_seconds=taken,
    )


def mturk(*assignments: Submission, reward: str = "1.50", max_assignments: int = 20) -> SubmissionTable:
    hits = {a.task_id: Task(a.task_id, reward=Decimal(reward), places=max_assignments) for a in assignments}
    return SubmissionTable("batch.csv", hits, list(assignments), ["surveycode"], currency="USD")


def survey(*responses: Response) -> SurveyTable:
    cols = list(dict.fromkeys(k for r in responses for k in r.fields)) or ["ResponseId", "Random ID"]
    return SurveyTable("export.csv", cols, list(responses))


# The rules' own tests state a rule's decision on a handful of submissions, where one
# rejection is a large share: the gates on bulk harm (SPEC §12, tests/test_safety_gates.py)
# are off unless the test's config has its own [safety].
GATES_OFF = "\n[safety]\nmin_match_share = 0\nmax_reject_share = 1\n"


def _gates(extra: str) -> str:
    return "" if "[safety]" in extra else GATES_OFF


def settings(tmp_path: Path, extra: str = "", **sections: str):
    """A validated Settings from TOML text; `extra` is appended verbatim (gates off unless
    it has [safety])."""
    text = textwrap.dedent(
        """
        [wave]
        name = "w1"
        [qualtrics]
        csv = "export.csv"
        worker_id_column = "workerId"
        [mturk]
        csv = "batch.csv"
        """
    ) + textwrap.dedent(extra) + _gates(extra)
    path = tmp_path / "wave.toml"
    path.write_text(text)
    return load_config(path)


# --- Prolific -------------------------------------------------------------------------------

STUDY = "6543cccc0000000000000003"
LONG = "x" * 100  # a rejection message Prolific accepts


def sub(pid: str, *, status: str = "AWAITING REVIEW", code: str = "C1A2B3C4", sid: str | None = None,
        completed_in: timedelta | None = timedelta(days=-1), taken: int | None = None) -> Submission:
    """A Prolific submission of participant `pid` that entered `code` (`taken`: its Time taken)."""
    from bridge.panels.prolific.words import auto_approval, state_of

    n = next(_ids)
    state = state_of(status)
    completed = NOW + completed_in if completed_in is not None else None
    return Submission(submission_id=sid or f"{n:024x}", participant_id=pid, task_id=STUDY, state=state,
                      status=status, submitted_at=completed, auto_approval_time=auto_approval(state, completed),
                      entered_code=code, time_taken_seconds=taken)


def study(*submissions: Submission, reward: str = "1.50") -> SubmissionTable:
    return SubmissionTable("export.csv", {STUDY: Task(STUDY, reward=Decimal(reward))}, list(submissions))


def presp(pid: str, **kwargs) -> Response:
    """A survey response of Prolific participant `pid` (in PROLIFIC_PID)."""
    return resp("", PROLIFIC_PID=pid, **kwargs)


def prolific_settings(tmp_path: Path, extra: str = ""):
    text = textwrap.dedent(
        """
        [wave]
        name = "s1"
        platform = "prolific"
        [qualtrics]
        csv = "export.csv"
        participant_column = "PROLIFIC_PID"
        [prolific]
        csv = "prolific_export.csv"
        completion_codes = { C1A2B3C4 = "completed", C7FAIL00 = "failed_check" }
        """
    ) + textwrap.dedent(extra) + _gates(extra)
    path = tmp_path / "study.toml"
    path.write_text(text)
    return load_config(path)
