"""Small builders for typed tables, so matcher and rules tests state only what matters."""

from __future__ import annotations

import itertools
import textwrap
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from bridge.config import load_config
from bridge.models import Assignment, Hit, MTurkTable, QualtricsTable, Response

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
HIT = "3HITAAAAAAAAAAAAAAAAAAAAAAAAAA"
_ids = itertools.count(1)


def resp(code: str, *, rid: str | None = None, status: str = "IP Address", finished: bool | None = True,
         duration: int | None = 600, worker: str = "", **fields: str) -> Response:
    rid = rid or f"R_{next(_ids):015d}"
    f = {"ResponseId": rid, "Random ID": code, "workerId": worker, **fields}
    return Response(rid, status, finished, duration, "100", "2026-11-20 10:00:00", f)


def asg(code: str, *, worker: str | None = None, aid: str | None = None, status: str = "Submitted",
        auto_in: timedelta | None = timedelta(days=3), hit: str = HIT) -> Assignment:
    n = next(_ids)
    return Assignment(
        assignment_id=aid or f"3ASG{n:026d}",
        worker_id=worker or f"AWORKER{n:08d}",
        hit_id=hit,
        status=status,
        auto_approval_time=NOW + auto_in if auto_in is not None else None,
        answers={"surveycode": code},
    )


def mturk(*assignments: Assignment, reward: str = "1.50", max_assignments: int = 20) -> MTurkTable:
    hits = {a.hit_id: Hit(a.hit_id, reward=Decimal(reward), max_assignments=max_assignments) for a in assignments}
    return MTurkTable("batch.csv", hits, list(assignments), ["surveycode"])


def survey(*responses: Response) -> QualtricsTable:
    cols = list(dict.fromkeys(k for r in responses for k in r.fields)) or ["ResponseId", "Random ID"]
    return QualtricsTable("export.csv", cols, list(responses))


def settings(tmp_path: Path, extra: str = "", **sections: str):
    """A validated Settings from TOML text; `extra` is appended verbatim."""
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
    ) + textwrap.dedent(extra)
    path = tmp_path / "wave.toml"
    path.write_text(text)
    return load_config(path)
