"""`survey-bridge emulator` serves Prolific too: `prolific: URL` on the third line, its own
balance and token, the fault flags, and one clear message for bad Prolific options."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bridge", "emulator", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _prolific_url(proc: subprocess.Popen) -> str:
    lines = [proc.stdout.readline().strip() for _ in range(3)]
    assert lines[0].startswith("http://127.0.0.1:") and lines[1].startswith("qualtrics: http://127.0.0.1:")
    assert lines[2].startswith("prolific: http://127.0.0.1:")
    return lines[2].split(" ", 1)[1]


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert "Traceback" not in proc.stderr.read()


def test_prolific_line_balance_and_token():
    proc = _start("--prolific-workspace-balance", "250.00", "--prolific-token", "tok")
    try:
        url = _prolific_url(proc)
        me = requests.get(f"{url}/api/v1/users/me/", headers={"Authorization": "Token tok"}, timeout=10).json()
        balance = requests.get(f"{url}/api/v1/workspaces/{_workspace(url)}/balance/",
                               headers={"Authorization": "Token tok"}, timeout=10).json()
        assert me["currency_code"] == "GBP" and balance["total_balance"] == 25000
        assert requests.get(f"{url}/api/v1/users/me/", headers={"Authorization": "Token test-token"},
                            timeout=10).status_code == 401
    finally:
        _stop(proc)


def _workspace(url: str) -> str:
    answer = requests.get(f"{url}/api/v1/workspaces/", headers={"Authorization": "Token tok"}, timeout=10)
    return answer.json()["results"][0]["id"]


def test_the_pay_delay_holds_back_what_the_submissions_show(tmp_path):
    """`--prolific-pay-delay`: a bulk approval and a bonus payment are accepted at once and
    show on the submission (status, bonus_payments) only that many seconds later (SPEC 13)."""
    study = "58b2a2055bb55bcbb37d2f2a"
    export = REPO / "sample_data" / "prolific" / f"prolific_export_{study}.csv"
    proc = _start("--seed-prolific", f"{study}={export}", "--prolific-pay-delay", "2")
    try:
        url = _prolific_url(proc)
        auth = {"Authorization": "Token test-token"}
        listed = requests.get(f"{url}/api/v1/submissions/", params={"study": study}, headers=auth, timeout=10)
        sub = next(s["id"] for s in listed.json()["results"] if s["status"] == "AWAITING REVIEW")
        start = time.monotonic()
        assert requests.post(f"{url}/api/v1/submissions/bulk-approve/", json={"submission_ids": [sub]},
                             headers=auth, timeout=10).status_code == 200
        bonus = requests.post(f"{url}/api/v1/submissions/bonus-payments/", headers=auth, timeout=10,
                              json={"study_id": study, "csv_bonuses": f"{sub},0.75\n"}).json()["id"]
        assert requests.post(f"{url}/api/v1/bulk-bonus-payments/{bonus}/pay/", headers=auth,
                             timeout=10).status_code == 202

        def shown() -> tuple[str, list]:
            item = requests.get(f"{url}/api/v1/submissions/{sub}/", headers=auth, timeout=10).json()
            return item["status"], item["bonus_payments"]

        assert shown() == ("AWAITING REVIEW", []) and time.monotonic() - start < 2
        time.sleep(max(0.0, 2.1 - (time.monotonic() - start)))
        assert shown() == ("APPROVED", [75])
    finally:
        _stop(proc)


def test_fault_flags_apply_to_prolific():
    proc = _start("--fail-rate", "1")
    try:
        url = _prolific_url(proc)
        answer = requests.get(f"{url}/api/v1/users/me/", headers={"Authorization": "Token test-token"}, timeout=10)
        assert answer.status_code in (502, 503) and answer.json()["error"]["status"] == answer.status_code
    finally:
        _stop(proc)


def test_bad_prolific_options_are_one_message():
    for args, message in [
        (["--prolific-workspace-balance", "lots"], "--prolific-workspace-balance 'lots' is not an amount"),
        (["--seed-prolific", "no-equals-sign"], "--seed-prolific 'no-equals-sign' is not STUDY_ID=EXPORT.csv"),
        (["--seed-prolific", "6543f00dc0ffee0123456789=/nonexistent.csv"], "does not exist"),
        (["--prolific-pay-delay", "-1"], "--prolific-pay-delay -1.0 must be a number of seconds, 0 or more"),
        (["--prolific-pay-delay", "inf"], "--prolific-pay-delay inf must be a number of seconds, 0 or more"),
    ]:
        proc = subprocess.run([sys.executable, "-m", "bridge", "emulator", *args], cwd=REPO,
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 1 and proc.stdout == "", args
        assert message in proc.stderr and "Traceback" not in proc.stderr
