"""`survey-bridge emulator`: URLs on the first two lines, both emulators answer, clean stop."""

from __future__ import annotations

import signal
import subprocess
import sys

import boto3
import requests
from paths import REALWORLD, SAMPLE


def test_emulator_command_serves_both_and_stops_on_sigterm():
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge", "emulator", "--seed-batch", str(SAMPLE / "batch_results.csv"),
         "--balance", "250.00", "--seed-survey", f"SV_sample01={REALWORLD / 'qualtrics_sample.csv'}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        mturk_url = proc.stdout.readline().strip()
        qualtrics_line = proc.stdout.readline().strip()
        assert mturk_url.startswith("http://127.0.0.1:")
        assert qualtrics_line.startswith("qualtrics: http://127.0.0.1:")
        client = boto3.client("mturk", region_name="us-east-1", endpoint_url=mturk_url,
                              aws_access_key_id="x", aws_secret_access_key="x")
        assert client.get_account_balance()["AvailableBalance"] == "250.00"
        assert client.list_hits()["NumResults"] == 1
        answer = requests.post(
            qualtrics_line.split(" ", 1)[1] + "/API/v3/surveys/SV_sample01/export-responses",
            json={"format": "csv"}, headers={"X-API-TOKEN": "test-token"}, timeout=10,
        )
        assert answer.status_code == 200 and answer.json()["result"]["progressId"].startswith("ES_")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert "Traceback" not in proc.stderr.read()


def test_emulator_bad_balance_is_one_message():
    proc = subprocess.run([sys.executable, "-m", "bridge", "emulator", "--balance", "lots"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "--balance 'lots' is not an amount" in proc.stderr
