"""Helpers for the MTurk API source tests: data paths, emulators seeded on a clock that
keeps batch files' work pending, Answer XML builders, and the table comparison.

Test modules import these by this module's name, never from `conftest`."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

from bridge.models import SubmissionTable
from bridge.panels.mturk.emulator import MTurkEmulator
from bridge.panels.mturk.reader import read_batch_results

REPO = Path(__file__).resolve().parents[2]
# shared/ sits beside the repository, locally and in CI's fresh clone (tests/paths.py).
from paths import REALWORLD  # noqa: E402

P808 = REALWORLD / "mturk_batch_results_P808.csv"
SAMPLE_BATCH = REPO / "sample_data" / "batch_results.csv"

NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd"
AWS_VARS = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_MTURK", "AWS_DEFAULT_REGION", "AWS_REGION",
)


def hermetic_aws_env(monkeypatch) -> None:
    """No credentials anywhere in boto3's chain, and no instance-metadata lookups."""
    for var in AWS_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def write_aws_files(tmp: Path, monkeypatch, *, credentials: str = "", config: str = "") -> None:
    """Point boto3 at throwaway ~/.aws files."""
    cred_path, config_path = tmp / "credentials", tmp / "config"
    cred_path.write_text(credentials)
    config_path.write_text(config)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(cred_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_path))


class FixedClock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def seeded(path: Path) -> tuple[MTurkEmulator, SubmissionTable]:
    """An emulator (not yet serving) holding the batch file's HITs and assignments, and the
    CSV reader's table of that file.

    Its clock stands an hour before the first AutoApprovalTime, so every Submitted
    assignment keeps the AutoApprovalTime of the file (no auto-approval, no fresh time).
    """
    table = read_batch_results(path)
    due = [a.auto_approval_time for a in table.submissions if a.auto_approval_time is not None]
    start = min(due) - timedelta(hours=1)
    emulator = MTurkEmulator(clock=FixedClock(start))
    emulator.seed_table(table)
    return emulator, table


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- Answer XML ---------------------------------------------------------------------------


def answer(name: str, *parts: tuple[str, str]) -> str:
    """One <Answer>: parts are (element, text), e.g. ("FreeText", "x")."""
    inner = "".join(f"<{tag}>{escape(text)}</{tag}>" for tag, text in parts)
    return f"<Answer><QuestionIdentifier>{escape(name)}</QuestionIdentifier>{inner}</Answer>"


def form(*answers: str, encoding: str = "UTF-8", declaration: bool = True) -> str:
    decl = f'<?xml version="1.0" encoding="{encoding}" standalone="no"?>' if declaration else ""
    return f'{decl}<QuestionFormAnswers xmlns="{NS}">{"".join(answers)}</QuestionFormAnswers>'


def free_text(**fields: str) -> str:
    return form(*(answer(k, ("FreeText", v)) for k, v in fields.items()))


# --- comparing the API table with the CSV table ------------------------------------------


def _second(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(microsecond=0)


def table_differences(api: SubmissionTable, csv: SubmissionTable) -> list[str]:
    """What differs between the two readings of the same wave (empty: none)."""
    problems: list[str] = []
    by_id = {a.submission_id: a for a in api.submissions}
    if len(by_id) != len(api.submissions):
        problems.append("the API table repeats an assignment")
    if set(by_id) != {a.submission_id for a in csv.submissions}:
        problems.append(f"assignment ids differ: {sorted(set(by_id) ^ {a.submission_id for a in csv.submissions})[:5]}")
    for want in csv.submissions:
        got = by_id.get(want.submission_id)
        if got is None:
            continue
        for f in ("participant_id", "task_id", "status", "answers", "feedback", "time_taken_seconds"):
            if getattr(got, f) != getattr(want, f):
                problems.append(f"{want.submission_id} {f}: API {getattr(got, f)!r} CSV {getattr(want, f)!r}")
        times = ["started_at", "submitted_at", "approved_at", "rejected_at"]
        # The API sends AutoApprovalTime only while the work is Submitted; the CSV keeps it.
        if want.status == "Submitted":
            times.append("auto_approval_time")
        for f in times:
            if _second(getattr(got, f)) != _second(getattr(want, f)):
                problems.append(f"{want.submission_id} {f}: API {getattr(got, f)} CSV {getattr(want, f)}")
        if got.flags or got.source_row != 0:
            problems.append(f"{want.submission_id}: flags {got.flags}, source_row {got.source_row}")
    if set(api.tasks) != set(csv.tasks):
        problems.append(f"HITs differ: {sorted(api.tasks)} vs {sorted(csv.tasks)}")
    for hit_id, want_hit in csv.tasks.items():
        got_hit = api.tasks.get(hit_id)
        if got_hit is None:
            continue
        for f in ("reward", "places", "auto_approval_delay_seconds", "duration_limit_seconds",
                  "type_id", "title", "description", "keywords"):
            if getattr(got_hit, f) != getattr(want_hit, f):
                problems.append(f"HIT {hit_id} {f}: API {getattr(got_hit, f)!r} CSV {getattr(want_hit, f)!r}")
        for f in ("created_at", "expires_at"):
            if _second(getattr(got_hit, f)) != _second(getattr(want_hit, f)):
                problems.append(f"HIT {hit_id} {f}: API {getattr(got_hit, f)} CSV {getattr(want_hit, f)}")
    if api.answer_fields != csv.answer_fields:
        problems.append(f"answer fields: API {api.answer_fields} CSV {csv.answer_fields}")
    return problems
