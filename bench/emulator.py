"""Throughput of the MTurk emulator as boto3 sees it.

By default the emulator runs as `python -m bridge.panels.mturk.emulator` in a subprocess, seeded
with sample_data/batch_results.csv, so client and server do not share one interpreter
lock (as in real use); `--in-process` serves it from this process instead. Timed:

- GetAssignment from one client thread: CALLS calls per round, median of ROUNDS rounds;
- GetAssignment from THREADS threads, each with its own client, CALLS calls each.

Usage: python bench/emulator.py [--calls 2000] [--rounds 5] [--threads 8] [--in-process]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
from botocore.config import Config

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SEED_CSV = REPO / "sample_data" / "batch_results.csv"


def client_for(session: boto3.session.Session, url: str):
    return session.client(
        "mturk", region_name="us-east-1", endpoint_url=url, aws_access_key_id="x", aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 0}, max_pool_connections=4),
    )


def start_subprocess(seed: Path) -> tuple[subprocess.Popen, str]:
    args = [sys.executable, "-m", "bridge.panels.mturk.emulator", "--port", "0", "--seed-batch", str(seed)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise SystemExit("the emulator did not start")
    return proc, url


def timed_calls(client, assignment_id: str, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        client.get_assignment(AssignmentId=assignment_id)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--in-process", action="store_true", help="serve from this process instead")
    args = parser.parse_args()

    proc = None
    if args.in_process:
        from bridge.panels.mturk.emulator import MTurkEmulator

        emulator = MTurkEmulator().__enter__()
        emulator.add_assignment(emulator.add_hit(), "ABENCHWORKER")
        url = emulator.url
    else:
        if not SEED_CSV.exists():
            raise SystemExit(f"{SEED_CSV} is missing: run with --in-process")
        proc, url = start_subprocess(SEED_CSV)
    try:
        session = boto3.session.Session()
        client = client_for(session, url)
        hits = client.list_hits()["HITs"]
        assignment_id = client.list_assignments_for_hit(HITId=hits[0]["HITId"])["Assignments"][0]["AssignmentId"]
        timed_calls(client, assignment_id, 100)  # warm up connection and botocore caches

        rates = [args.calls / timed_calls(client, assignment_id, args.calls) for _ in range(args.rounds)]
        print(f"GetAssignment, 1 thread:  {statistics.median(rates):7.0f} calls/s "
              f"(median of {args.rounds} rounds of {args.calls}; min {min(rates):.0f}, max {max(rates):.0f})")

        clients = [client_for(session, url) for _ in range(args.threads)]
        for c in clients:
            timed_calls(c, assignment_id, 10)
        barrier = threading.Barrier(args.threads + 1)

        def work(c) -> None:
            barrier.wait()
            timed_calls(c, assignment_id, args.calls)

        threads = [threading.Thread(target=work, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        barrier.wait()
        start = time.perf_counter()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        total = args.threads * args.calls
        print(f"GetAssignment, {args.threads} threads: {total / elapsed:7.0f} calls/s in total "
              f"({total} calls, one client per thread)")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
        else:
            emulator.__exit__(None, None, None)


if __name__ == "__main__":
    main()
