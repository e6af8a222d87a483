"""Helpers for the apply tests: the sample wave pointed at an emulator, boto3 checks, the
workbook's sheets and an emulator in a subprocess."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import boto3
from botocore.config import Config
from openpyxl import load_workbook

from bridge.closeout import close_out
from bridge.config import load_config
from bridge.models import Decision, Plan, State

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_data"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
NOW_ARG = ["--now", "2026-11-21T12:00:00Z"]
MONEY_OPS = ("ApproveAssignment", "RejectAssignment", "SendBonus")

_session = boto3.session.Session()


def client(url: str):
    """A plain boto3 client for checking the emulator's state through the API."""
    return _session.client("mturk", region_name="us-east-1", endpoint_url=url, aws_access_key_id="x",
                           aws_secret_access_key="x", config=Config(retries={"max_attempts": 10, "mode": "standard"}))


def create_qualification_types(url: str) -> dict[str, str]:
    c = client(url)
    return {
        role: c.create_qualification_type(Name=name, Description=name, QualificationTypeStatus="Active")
        ["QualificationType"]["QualificationTypeId"]
        for role, name in (("prev_worker", "Prev_Worker"), ("eligible_worker", "Eligible_Worker"))
    }


def write_wave(folder: Path, environment: str, quals: dict[str, str] | None = None) -> Path:
    """The sample wave copied into `folder`, its config aimed at `environment`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("qualtrics_export.csv", "batch_results.csv"):
        shutil.copy(SAMPLE / name, folder / name)
    text = (SAMPLE / "wave.toml").read_text()
    text = text.replace('environment = "sandbox"', f'environment = "{environment}"')
    quals = quals or {}
    for role in ("prev_worker", "eligible_worker"):
        start = text.index(f"{role} = ")
        end = text.index("\n", start)
        line = f'{role} = "{quals[role]}"' if role in quals else ""
        text = text[:start] + line + text[end:]
    config = folder / "wave.toml"
    config.write_text(text)
    return config


def edit_csv(path: Path, key_column: str, key: str, column: str, value: str) -> None:
    """Set `column` of the row whose `key_column` is `key` in a copied CSV (first row: header)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    hits = [r for r in rows[1:] if r[header.index(key_column)] == key]
    assert len(hits) == 1, (key_column, key)
    hits[0][header.index(column)] = value
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, quoting=csv.QUOTE_MINIMAL).writerows(rows)


def plan_for(config: Path, tmp: Path) -> Plan:
    """The close-out's plan, its workbook written aside so it does not touch the real one."""
    return close_out(load_config(config), NOW, workbook=tmp / "aside.xlsx").plan


def ledger_for(settings, plan: Plan, **kwargs):
    """The wave's ledger as the apply opens it: its panel, environment and tasks."""
    from bridge.ledger import open_ledger

    return open_ledger(settings.ledger_location, panel=plan.terms.panel,
                       environment=settings.panel.canonical_environment(plan.environment), tasks=list(plan.tasks),
                       wave=plan.wave, **kwargs)


def sheet(path: Path, name: str) -> list[dict]:
    wb = load_workbook(path, read_only=True)
    rows = list(wb[name].iter_rows(values_only=True))
    wb.close()
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def statuses(url: str, hit_ids) -> dict[str, str]:
    c = client(url)
    out = {}
    for hit in hit_ids:
        for page in c.get_paginator("list_assignments_for_hit").paginate(HITId=hit):
            out.update((a["AssignmentId"], a["AssignmentStatus"]) for a in page["Assignments"])
    return out


def bonuses(url: str, hit_ids) -> list[tuple[str, Decimal]]:
    """(assignment, amount) of every bonus MTurk lists for these HITs."""
    c = client(url)
    out = []
    for hit in hit_ids:
        for page in c.get_paginator("list_bonus_payments").paginate(HITId=hit):
            out += [(b["AssignmentId"], Decimal(b["BonusAmount"])) for b in page["BonusPayments"]]
    return out


def granted(url: str, qualification_type_id: str) -> set[str]:
    c = client(url)
    return {
        q["WorkerId"]
        for page in c.get_paginator("list_workers_with_qualification_type").paginate(
            QualificationTypeId=qualification_type_id, Status="Granted")
        for q in page["Qualifications"]
    }


def balance(url: str) -> Decimal:
    return Decimal(client(url).get_account_balance()["AvailableBalance"])


def assert_applied_once(url: str, plan: Plan) -> None:
    """MTurk holds exactly the plan: statuses, one bonus per bonused assignment, grants."""
    got = statuses(url, plan.tasks)
    for d in plan.decisions:
        want = {Decision.APPROVE: "Approved", Decision.REJECT: "Rejected"}.get(d.decision, "Submitted")
        if d.state is not State.PENDING:
            want = d.status
        assert got[d.submission_id] == want, (d.submission_id, d.decision, got[d.submission_id])
    paid = bonuses(url, plan.tasks)
    counts = Counter(a for a, _ in paid)
    assert all(n == 1 for n in counts.values()), f"paid twice: {[a for a, n in counts.items() if n > 1]}"
    want_bonus = {d.submission_id: d.bonus for d in plan.decisions if d.decision is Decision.APPROVE and d.bonus}
    assert dict(paid) == want_bonus
    for role in ("prev_worker", "eligible_worker"):
        want = {q.participant_id for q in plan.qualifications if q.role == role}
        if want:
            qid = next(q.group_id for q in plan.qualifications if q.role == role)
            assert granted(url, qid) == want


def start_emulator_process(*args: str) -> tuple[subprocess.Popen, str]:
    """`python -m bridge.panels.mturk.emulator --port 0 ...` in a subprocess; returns (process, URL)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "bridge.panels.mturk.emulator", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise RuntimeError(f"the emulator did not start: {proc.stderr.read()}")
    return proc, url
