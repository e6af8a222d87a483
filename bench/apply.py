"""Benchmark: applying a clean wave through the MTurk API and a Prolific study through the
Prolific adapter, each beside a plain sequential loop.

A clean wave of N (default 150) with bonuses and both qualifications: N approvals, ~3/4 N
bonuses, 2N grants, plus the checks and the one bonus listing (about 600 calls). Each side
gets a fresh emulator in its own process with the same latency and rate limit (default
50 ms, 40 requests/second), measured in the same run:

- apply: `bridge.apply.apply_plan` (8 threads, a client each, adaptive retries);
- sequential: one boto3 client making the same calls one after another.

Prints calls/s for both (goal for apply: >= 32) and checks every bonus was paid once.

Prolific (`--prolific-n`, default 1,000 submissions, same latency, no rate limit): the
executor through `ProlificMarketplace` (bulk approval read back, bonuses 200 a set-up, one
append per group) against a loop of one call per submission (a transition per approval, a
set-up and a pay per bonus, a group append per participant), each on a fresh in-process
emulator. Prints API calls and seconds of both and the ratios (goal: at most 1/10 of the
calls and 1/5 of the time) and checks every approval and bonus landed once.

    python bench/apply.py [--panel both|mturk|prolific] [--n 150] [--prolific-n 1000]
                          [--latency-ms 50] [--rate-limit 40] [--workers 8]
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

from bridge.actions import Kind
from bridge.apply import apply_plan, plan_actions
from bridge.closeout import plan_wave  # noqa: E402
from bridge.config import load_config  # noqa: E402
from bridge.money import fmt  # noqa: E402
from bridge.panels.mturk.adapter import (
    bonus_token,  # noqa: E402
    connect,  # noqa: E402
)
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
        market = connect(url, workers=args.workers)
        t0 = time.perf_counter()
        result = apply_plan(plan, settings, workbook=settings.workbook_path, confirm=lambda pre: True,
                            market=market)
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
                                  Reason=a.text, UniqueRequestToken=bonus_token(url, a.task_id, a.submission_id))
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
    parser.add_argument("--panel", choices=("both", "mturk", "prolific"), default="both")
    parser.add_argument("--n", type=int, default=150)
    parser.add_argument("--prolific-n", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--rate-limit", type=float, default=40)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    if args.panel in ("both", "mturk"):
        bench_mturk(args)
    if args.panel in ("both", "prolific"):
        bench_prolific(args.prolific_n, args.latency_ms)


def bench_mturk(args) -> None:
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


# --- Prolific ------------------------------------------------------------------------------

P_TOKEN = "bench-token"
P_BONUS = Decimal("0.75")


def prolific_wave(latency_ms: float, n: int):
    """A fresh emulator (started, 50 ms a call) with one study of `n` submissions awaiting
    review, two participant groups, and the actions a close-out sends: n approvals, a bonus
    for every other submission, every participant into both groups."""
    from bridge.actions import Action
    from bridge.panels.prolific.emulator import ProlificEmulator

    emu = ProlificEmulator(token=P_TOKEN, latency_ms=latency_ms).__enter__()
    study = emu.add_study(reward="1.50", total_available_places=n)
    subs = [(emu.add_submission(study, f"5f{i:022x}", entered_code="C1A2B3C4", time_taken=600), f"5f{i:022x}")
            for i in range(n)]
    groups = {role: emu.add_group(role) for role in ("prev_worker", "eligible_worker")}
    actions = [Action(Kind.APPROVE, s, p, study) for s, p in subs]
    actions += [Action(Kind.BONUS, s, p, study, amount=P_BONUS, text="bench") for s, p in subs[::2]]
    actions += [Action(Kind.GRANT, participant_id=p, group_id=g, role=role) for _, p in subs
                for role, g in groups.items()]
    return emu, study, actions


def prolific_landed(emu, actions) -> bool:
    """Every approval shown APPROVED, every bonus paid exactly once, every grant a member."""
    emu.settle()
    members = {g: set(emu.group_members(g)) for g in {a.group_id for a in actions if a.kind is Kind.GRANT}}
    return all(emu.submission(a.submission_id).status == "APPROVED" if a.kind is Kind.APPROVE
               else emu.bonus_payments(a.submission_id) == [a.amount] if a.kind is Kind.BONUS
               else a.participant_id in members[a.group_id] for a in actions)


def run_prolific_adapter(latency_ms: float, n: int, folder: Path) -> tuple[float, int, bool]:
    """The executor through the adapter, with the checks apply_plan's preflight makes."""
    from types import SimpleNamespace

    from bridge.apply.executor import Executor
    from bridge.ledger import open_ledger
    from bridge.panels.prolific.adapter import connect as prolific_connect

    emu, study, actions = prolific_wave(latency_ms, n)
    try:
        settings = SimpleNamespace(prolific=SimpleNamespace(study_id=study, csv=None, environment=emu.url,
                                                            workspace_id=None))
        market = prolific_connect(settings, {"PROLIFIC_API_TOKEN": P_TOKEN})
        t0 = time.perf_counter()
        for gid in {a.group_id for a in actions if a.kind is Kind.GRANT}:
            market.group_exists(gid)
        market.account_balance()
        with open_ledger(folder / "prolific-ledger.sqlite", panel=market.panel, environment=market.environment,
                         tasks=[study], wave="bench") as ledger:
            out = Executor(market, ledger).run(actions)
        market.account_balance()
        elapsed = time.perf_counter() - t0
        assert out.count("done") == len(actions), Counter(s for s, _ in out.results.values())
        return elapsed, market.requests, prolific_landed(emu, actions)
    finally:
        emu.__exit__(None, None, None)


def run_prolific_loop(latency_ms: float, n: int) -> tuple[float, int, bool]:
    """One call per submission, one after another, as a copy-pasted script would."""
    import requests

    emu, study, actions = prolific_wave(latency_ms, n)
    api = requests.Session()
    api.headers["Authorization"] = f"Token {P_TOKEN}"
    calls = 0

    def call(method: str, path: str, body=None) -> object:
        nonlocal calls
        calls += 1
        answer = api.request(method, emu.url + path, json=body, timeout=30)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    try:
        t0 = time.perf_counter()
        for gid in {a.group_id for a in actions if a.kind is Kind.GRANT}:
            call("GET", f"/api/v1/participant-groups/{gid}/")
        call("GET", f"/api/v1/workspaces/{emu.workspace_id}/balance/")
        for a in actions:
            if a.kind is Kind.APPROVE:
                call("POST", f"/api/v1/submissions/{a.submission_id}/transition/", {"action": "APPROVE"})
            elif a.kind is Kind.BONUS:
                bonus = call("POST", "/api/v1/submissions/bonus-payments/",
                             {"study_id": study, "csv_bonuses": f"{a.submission_id},{a.amount:.2f}\n"})
                call("POST", f"/api/v1/bulk-bonus-payments/{bonus['id']}/pay/")
            else:
                call("POST", f"/api/v1/participant-groups/{a.group_id}/participants/",
                     {"participant_ids": [a.participant_id]})
        call("GET", f"/api/v1/workspaces/{emu.workspace_id}/balance/")
        return time.perf_counter() - t0, calls, prolific_landed(emu, actions)
    finally:
        api.close()
        emu.__exit__(None, None, None)


def bench_prolific(n: int, latency_ms: float) -> None:
    print(f"Prolific study of {n}: {n} approvals, {len(range(0, n, 2))} bonuses, {2 * n} group grants; "
          f"emulator latency {latency_ms:g} ms")
    with tempfile.TemporaryDirectory(prefix="bench-apply-prolific-") as tmp:
        a_elapsed, a_calls, a_ok = run_prolific_adapter(latency_ms, n, Path(tmp))
    print(f"adapter:             {a_calls:5d} API calls in {a_elapsed:6.1f} s; everything landed once: {a_ok}")
    l_elapsed, l_calls, l_ok = run_prolific_loop(latency_ms, n)
    print(f"one call per item:   {l_calls:5d} API calls in {l_elapsed:6.1f} s; everything landed once: {l_ok}")
    calls, seconds = a_calls / l_calls, a_elapsed / l_elapsed
    print(f"ratios: calls {calls:.3f} (goal <= 0.1: {'met' if calls <= 0.1 else 'NOT met'}), "
          f"time {seconds:.3f} (goal <= 0.2: {'met' if seconds <= 0.2 else 'NOT met'})")


if __name__ == "__main__":
    main()
