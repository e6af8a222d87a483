"""The emulator's clock: seeding keeps a batch's own times, and `--now` runs the emulator
as of a given time (then on with real time), from `survey-bridge emulator` and the module."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from mturk_support import make_client
from paths import SAMPLE

from bridge.panels.mturk.emulator import parse_now, starting_at

REPO = Path(__file__).resolve().parents[2]
BATCH = SAMPLE / "batch_results.csv"  # 51 Submitted (auto-approving 2026-12-20 PST) and 1 Approved, $1.50, 52 places
BEFORE = "2026-11-21T00:00:00Z"
AFTER = "2027-01-15T09:30:00+01:00"


def test_starting_at_begins_at_the_instant_and_runs_on():
    start = datetime(2019, 11, 5, 5, 32, 54, tzinfo=timezone.utc)
    clock = starting_at(start)
    first = clock()
    time.sleep(0.05)
    second = clock()
    assert timedelta(0) <= first - start < timedelta(seconds=1)
    assert timedelta(seconds=0.05) <= second - start < timedelta(seconds=5)
    assert starting_at(datetime(2020, 1, 1))().tzinfo is not None  # naive means UTC
    assert parse_now("2020-01-01T01:00:00+01:00") == datetime(2020, 1, 1, tzinfo=timezone.utc)
    with pytest.raises(ValueError):
        parse_now("yesterday")


@pytest.mark.parametrize("now, submitted", [(BEFORE, 51), (AFTER, 0)])
def test_seeding_keeps_the_files_times_on_the_emulators_clock(start_mturk, now, submitted):
    emu = start_mturk(clock=starting_at(parse_now(now)))
    emu.seed_batch(BATCH)
    client = make_client(emu.url)
    [hit] = client.list_hits()["HITs"]
    pages = client.get_paginator("list_assignments_for_hit").paginate(HITId=hit["HITId"])
    listed = [a for p in pages for a in p["Assignments"]]
    assert sum(a["AssignmentStatus"] == "Submitted" for a in listed) == submitted
    due = datetime(2026, 12, 20, tzinfo=timezone.utc)
    # AutoApprovalTime as the file has it (never moved); after it, approved at that very time.
    times = [a.get("AutoApprovalTime") or a.get("ApprovalTime") for a in listed]
    assert sum(due < t < due + timedelta(days=1) for t in times) == 51  # the one approved in the file is earlier
    charged = Decimal("10000.00") - emu.balance
    assert charged == (Decimal("0") if submitted else 51 * Decimal("2.10"))  # 1.50 + 40% fee (52 places)


def _start(*args: str) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO, env=env)
    url = proc.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        proc.kill()
        pytest.fail(f"no URL: {url!r} {proc.stderr.read()}")
    return proc, url


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert "Traceback" not in proc.stderr.read()


@pytest.mark.parametrize("entry", [["-m", "bridge", "emulator"], ["-m", "bridge.panels.mturk.emulator"]])
@pytest.mark.parametrize("now, submitted", [(BEFORE, 51), (AFTER, 0)])
def test_now_option_runs_the_emulator_as_of_that_time(entry, now, submitted):
    proc, url = _start(*entry, "--port", "0", "--seed-batch", str(BATCH), "--now", now)
    try:
        client = make_client(url)
        [hit] = client.list_hits()["HITs"]
        statuses = [a["AssignmentStatus"] for p in client.get_paginator("list_assignments_for_hit").paginate(
            HITId=hit["HITId"]) for a in p["Assignments"]]
        assert statuses.count("Submitted") == submitted and len(statuses) == 52
        made = client.create_hit(LifetimeInSeconds=600, HITLayoutId="3LAYOUT", AssignmentDurationInSeconds=600,
                                 Reward="0.10", Title="t", Description="d")["HIT"]
        # The emulator's clock started at --now and runs on from there.
        assert timedelta(0) <= made["CreationTime"] - parse_now(now) < timedelta(minutes=2)
    finally:
        _stop(proc)


def test_a_bad_now_is_one_message():
    proc = subprocess.run([sys.executable, "-m", "bridge", "emulator", "--now", "last tuesday"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "--now 'last tuesday' is not an ISO time" in proc.stderr and "Traceback" not in proc.stderr
