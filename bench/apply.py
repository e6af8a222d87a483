"""Benchmark: applying a clean wave through the MTurk API, beside a plain sequential loop.

A clean wave of N (default 150) with bonuses and both qualifications: N approvals, ~3/4 N
bonuses, 2N grants, plus the checks and the one bonus listing (about 600 calls). Each side
gets a fresh emulator in its own process with the same latency and rate limit (default
50 ms, 40 requests/second), measured in the same run:

- apply: `bridge.apply.apply_plan` (8 threads, a client each, adaptive retries);
- sequential: one boto3 client making the same calls one after another.

Prints calls/s for both (goal for apply: >= 32) and checks every bonus was paid once.

    python bench/apply.py [--n 150] [--latency-ms 50] [--rate-limit 40] [--workers 8]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import boto3
from botocore.config import Config

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bridge.apply import apply_plan, plan_actions
from bridge.panels.mturk.adapter import connect  # noqa: E402
from bridge.apply.actions import Kind
from bridge.panels.mturk.adapter import bonus_token  # noqa: E402
from bridge.closeout import plan_wave  # noqa: E402
from bridge.config import load_config  # noqa: E402
from bridge.money import fmt  # noqa: E402
from bridge.synthetic import clean_wave, write_batch_csv, write_qualtrics_csv  # noqa: E402

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


def start_emulator(batch: Path, latency_ms: float, rate_limit: float) -> tuple[subprocess.Popen, str]:
    args = [sys.executable, "-m", "bridge.panels.mturk.emulator", "--port", "0", "--seed-batch", str(batch),
            "--latency-ms", str(latency_ms), "--rate-limit", str(rate_limit)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)))
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise SystemExit("the emulator did not start")
    return proc, url


def plain_client(url: str):
    return boto3.session.Session().client(
        "mturk", region_name="us-east-1", endpoint_url=url, aws_access_key_id="x", aws_secret_access_key="x",
        config=Config(retries={"mode": "standard", "max_attempts": 10}),
    )


def create_types(client) -> dict[str, str]:
    return {role: client.create_qualification_type(Name=role, Description=role, QualificationTypeStatus="Active")
            ["QualificationType"]["QualificationTypeId"] for role in ("prev_worker", "eligible_worker")}


def make_config(folder: Path, url: str, quals: dict[str, str]) -> Path:
    config = folder / f"wave-{url.rsplit(':', 1)[1]}.toml"
    config.write_text(
        f'[wave]\nname = "bench"\n[qualtrics]\ncsv = "survey.csv"\nworker_id_column = "workerId"\n'
        f'[mturk]\ncsv = "batch.csv"\nenvironment = "{url}"\n'
        f'[bonus]\ncolumn = "bonus"\n'
        f'[qualifications]\nprev_worker = "{quals["prev_worker"]}"\neligible_worker = "{quals["eligible_worker"]}"\n'
        f'[output]\nworkbook = "{config_stem(url)}.xlsx"\n'
    )
    return config


def config_stem(url: str) -> str:
    return "out-" + url.rsplit(":", 1)[1]


def paid_once(client, hit_ids, plan) -> bool:
    paid = []
    for hit in hit_ids:
        for page in client.get_paginator("list_bonus_payments").paginate(HITId=hit, PaginationConfig={"PageSize": 100}):
            paid += [(b["AssignmentId"], Decimal(b["BonusAmount"])) for b in page["BonusPayments"]]
    want = {d.submission_id: d.bonus for d in plan.decisions if d.decision.value == "approve" and d.bonus}
    return len(paid) == len(want) and dict(paid) == want and max(Counter(a for a, _ in paid).values()) == 1


def prepare(folder: Path, url: str):
    """A plain client of the emulator at `url`, the wave's settings aimed at it (with its
    qualification types created there) and the wave's plan."""
    client = plain_client(url)
    settings = load_config(make_config(folder, url, create_types(client)))
    return client, settings, plan_wave(settings, NOW).plan


def run_apply(folder: Path, args) -> tuple[float, int, int, bool]:
    proc, url = start_emulator(folder / "batch.csv", args.latency_ms, args.rate_limit)
    try:
        checker, settings, plan = prepare(folder, url)
        market = connect(url)
        t0 = time.perf_counter()
        result = apply_plan(plan, settings, workbook=settings.workbook_path, confirm=lambda pre: True,
                            market=market, workers=args.workers)
        elapsed = time.perf_counter() - t0
        assert not result.failed, result.failed[:3]
        # Logical calls: 2 type checks, 2 balances, 1 listing per HIT, one per action.
        calls = 2 + 2 + len(plan.tasks) + len(plan_actions(plan))
        return elapsed, calls, market.requests, paid_once(checker, plan.tasks, plan)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_sequential(folder: Path, args) -> tuple[float, int, bool]:
    proc, url = start_emulator(folder / "batch.csv", args.latency_ms, args.rate_limit)
    try:
        client, _, plan = prepare(folder, url)
        actions = plan_actions(plan)
        calls = 0
        t0 = time.perf_counter()
        for qid in {a.group_id for a in actions if a.kind is Kind.GRANT}:
            client.get_qualification_type(QualificationTypeId=qid)
            calls += 1
        client.get_account_balance()
        for hit in plan.tasks:
            for _ in client.get_paginator("list_bonus_payments").paginate(HITId=hit, PaginationConfig={"PageSize": 100}):
                calls += 1
        for a in actions:
            if a.kind is Kind.APPROVE:
                client.approve_assignment(AssignmentId=a.submission_id)
            elif a.kind is Kind.REJECT:
                client.reject_assignment(AssignmentId=a.submission_id, RequesterFeedback=a.text)
            elif a.kind is Kind.BONUS:
                client.send_bonus(WorkerId=a.participant_id, AssignmentId=a.submission_id, BonusAmount=fmt(a.amount),
                                  Reason=a.text, UniqueRequestToken=bonus_token(url, "bench", a.submission_id))
            else:
                client.associate_qualification_with_worker(QualificationTypeId=a.group_id,
                                                           WorkerId=a.participant_id, IntegerValue=a.value,
                                                           SendNotification=False)
        client.get_account_balance()
        elapsed = time.perf_counter() - t0
        calls += 2 + len(actions)
        return elapsed, calls, paid_once(client, plan.tasks, plan)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=150)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--rate-limit", type=float, default=40)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-apply-") as tmp:
        folder = Path(tmp)
        wave = clean_wave(args.n, seed=11)
        write_qualtrics_csv(wave, folder / "survey.csv")
        write_batch_csv(wave, folder / "batch.csv")
        print(f"Wave of {args.n}; emulator latency {args.latency_ms:g} ms, limit {args.rate_limit:g} requests/s")
        elapsed, calls, http, once = run_apply(folder, args)
        print(f"apply ({args.workers} threads): {calls} calls in {elapsed:.1f} s = {calls / elapsed:.1f} calls/s "
              f"({http - calls} throttled requests retried); every bonus paid once: {once}")
        s_elapsed, s_calls, s_once = run_sequential(folder, args)
        print(f"sequential boto3 loop:  {s_calls} calls in {s_elapsed:.1f} s = {s_calls / s_elapsed:.1f} calls/s; "
              f"every bonus paid once: {s_once}")
        goal = calls / elapsed >= 32
        print(f"goal >= 32 calls/s: {'met' if goal else 'NOT met'}; apply is {s_elapsed / elapsed:.1f}x the sequential loop")


if __name__ == "__main__":
    main()
