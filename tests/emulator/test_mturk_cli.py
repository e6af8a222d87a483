"""The serve-until-stopped entry, run in a subprocess as `survey-bridge emulator` will."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mturk_support import make_client

REPO = Path(__file__).resolve().parents[2]
from paths import REALWORLD, requires_shared  # noqa: E402  (the shared/ rule: tests/paths.py)

P808 = REALWORLD / "mturk_batch_results_P808.csv"
HANG_GUARD = 30  # seconds; only so a broken entry fails instead of hanging the suite


def _start(args: list[str]) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=REPO)
    ready, _, _ = select.select([proc.stdout], [], [], HANG_GUARD)
    if not ready:
        proc.kill()
        pytest.fail("the emulator printed nothing")
    return proc, proc.stdout.readline().rstrip("\n")


def _stop(proc: subprocess.Popen, signum: int) -> tuple[int, str, str]:
    proc.send_signal(signum)
    try:
        out, err = proc.communicate(timeout=HANG_GUARD)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the emulator did not stop")
    return proc.returncode, out, err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_module_entry_prints_url_first_and_stops_cleanly(signum):
    proc, url = _start(["-m", "bridge.panels.mturk.emulator", "--port", "0", "--balance", "12.34"])
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
    assert make_client(url).get_account_balance()["AvailableBalance"] == "12.34"
    code, out, err = _stop(proc, signum)
    assert code == 0 and out == "" and "Traceback" not in err


@requires_shared(P808)
def test_function_entry_with_a_seed_batch():
    code = ("import sys; from bridge.panels.mturk.emulator import serve_forever_cli; "
            f"sys.exit(serve_forever_cli(port=0, seed_batch={str(P808)!r}, latency_ms=1))")
    proc, url = _start(["-c", code])
    client = make_client(url)
    [hit] = client.list_hits()["HITs"]
    assert hit["NumberOfAssignmentsAvailable"] == 500 - 349
    code, _, err = _stop(proc, signal.SIGTERM)
    assert code == 0 and "Traceback" not in err
