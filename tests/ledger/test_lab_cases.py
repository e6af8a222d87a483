"""Exactly once across people, machines and renamed waves (SPEC 13), the way a lab works the
sample study: each case with both ledgers (an SQLite file, the shared PostgreSQL ledger),
against a local Prolific whose payments show only seconds after they are made, as
Prolific's do "in the following minutes". What Prolific paid is read over plain HTTP."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from lab_support import NOW_ARG, REPO, assert_paid_once, planned_bonuses, study_folder
from typer.testing import CliRunner

from bridge.cli import app

PAY_DELAY = 1.5  # seconds before Prolific shows an approval or a payment
SETTLE = 0.04  # minutes (2.4 s): longer than the pay delay, as settle_minutes is for Prolific
# The sample's one submission approved on Prolific's website before the study was closed out
# (its export says so): no ledger sent that, so its bonus waits the settle window once.
BY_HAND = "6a43ef18fe3eef28ad442db8"


def run(config: Path, *more: str):
    return CliRunner().invoke(app, ["close-out", str(config), "--apply", "--yes", *NOW_ARG, *more])


def test_two_people_applying_one_study_at_once_from_two_folders(prolific, ledger_backend, tmp_path):
    emu = prolific(pay_delay=PAY_DELAY)
    ledger = ledger_backend.new()  # the lab's one ledger: a shared file, or the PostgreSQL database
    # No settle window: the point is the lock (the window is the next tests').
    configs = [study_folder(tmp_path / who, emu.url, ledger, settle_minutes=0) for who in ("alice", "bob")]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = [subprocess.Popen([sys.executable, "-m", "bridge", "close-out", str(c), "--apply", "--yes", *NOW_ARG],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in configs]
    answers = [p.communicate(timeout=120) for p in procs]
    codes = [p.returncode for p in procs]

    # One applied; the other was refused (exit 3), naming who holds the study, and sent nothing.
    assert sorted(codes) == [0, 3], answers
    refused = answers[codes.index(3)][1]
    assert "another run is applying" in refused and f"(pid {procs[codes.index(0)].pid})" in refused, refused
    assert emu.calls["pay-bonus-payments"] == 1
    # The refused one runs again when the other has finished: everything is done already.
    again = run(configs[codes.index(3)])
    assert again.exit_code == 0, again.output
    assert "Nothing to send" in again.output and emu.calls["pay-bonus-payments"] == 1
    time.sleep(PAY_DELAY)
    assert_paid_once(emu.url, planned_bonuses(configs[0]))


def test_the_ledger_lost_then_the_same_command_again_waits_then_pays_nobody_twice(prolific, ledger_backend,
                                                                                  tmp_path):
    emu = prolific(pay_delay=PAY_DELAY)
    ledger = ledger_backend.new()
    config = study_folder(tmp_path / "study", emu.url, ledger, settle_minutes=SETTLE)
    first = run(config)
    assert first.exit_code == 2 and "1 bonus(es) wait" in first.output and BY_HAND in first.output, first.output
    assert emu.calls["pay-bonus-payments"] == 1  # the other 29
    # The ledger is deleted (its file; its tables), while Prolific does not show the payments yet.
    ledger_backend.delete(ledger)

    waits = run(config)

    assert waits.exit_code == 2, waits.output
    assert "30 bonus(es) wait" in waits.output and "Run the same command again after" in waits.output
    assert "Nothing was paid twice" in waits.output and "Sent this run: 73 qualification grants (no money)." in waits.output
    assert emu.calls["pay-bonus-payments"] == 1 and emu.calls["bulk-approve-submissions"] == 1
    sleep_until(waits.output)

    done = run(config)

    assert done.exit_code == 0, done.output
    # Prolific showed the first run's 29 payments: only the one nobody had paid was sent.
    assert emu.calls["pay-bonus-payments"] == 2 and emu.calls["bulk-approve-submissions"] == 1
    time.sleep(PAY_DELAY)
    assert_paid_once(emu.url, planned_bonuses(config))


def sleep_until(output: str) -> None:
    """Sleep until the time a waiting run named to run again after."""
    until = datetime.strptime(output.split("Run the same command again after ")[1].split(" UTC")[0],
                              "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    assert timedelta(0) < until - datetime.now(timezone.utc) <= timedelta(minutes=SETTLE)
    time.sleep((until - datetime.now(timezone.utc)).total_seconds() + 0.5)


def test_a_copy_of_the_folder_applied_after_the_first_finished(prolific, ledger_backend, tmp_path):
    """Another laptop: the study read through Prolific's API (its submissions already
    approved), the ledger beside it new unless it is the lab's shared one."""
    emu = prolific(pay_delay=PAY_DELAY)
    shared = ledger_backend.name == "postgresql"
    first_ledger = ledger_backend.new()
    config = study_folder(tmp_path / "alice", emu.url, first_ledger, api=True, settle_minutes=SETTLE)
    first = run(config)
    assert first.exit_code == 2 and "1 bonus(es) wait" in first.output, first.output  # the one approved by hand
    copy = tmp_path / "bob"
    shutil.copytree(config.parent, copy, ignore=shutil.ignore_patterns("out"))
    if not shared:  # Bob's own file: the copy does not carry Alice's ledger
        text = (copy / "study.toml").read_text()
        (copy / "study.toml").write_text(text.replace(first_ledger, str(copy / "out" / "bob.ledger.sqlite")))

    second = run(copy / "study.toml")

    # The lab's ledger knows it all (only the one approved by hand still waits); Bob's own
    # file knows nothing: every bonus waits for Prolific to show what the first run paid.
    assert second.exit_code == 2, second.output
    assert f"{1 if shared else 30} bonus(es) wait" in second.output
    assert ("Sent this run: nothing." if shared else "(no money).") in second.output
    assert emu.calls["pay-bonus-payments"] == 1
    sleep_until(second.output)
    third = run(copy / "study.toml")
    assert third.exit_code == 0, third.output
    assert emu.calls["pay-bonus-payments"] == 2  # the one nobody had paid
    time.sleep(PAY_DELAY)
    assert_paid_once(emu.url, planned_bonuses(config))


def test_a_renamed_wave_finds_the_same_records(prolific, ledger_backend, tmp_path):
    emu = prolific()
    # SQLite: the default ledger beside the workbooks, whose name is not the wave's either.
    ledger = ledger_backend.new() if ledger_backend.name == "postgresql" else None
    config = study_folder(tmp_path / "study", emu.url, ledger, settle_minutes=0)
    assert run(config).exit_code == 0
    calls = sum(emu.calls.values())
    config.write_text(config.read_text().replace('name = "sample-study-1"', 'name = "pilot-study-renamed"'))

    again = run(config)

    assert again.exit_code == 0, again.output
    assert "Nothing to send: every action is already done" in again.output
    assert f"Applied: 29 approvals, 4 rejections, 30 bonuses ({sum(planned_bonuses(config).values())} GBP), 73 qualification grants" in again.output
    assert emu.calls["pay-bonus-payments"] == 1 and emu.calls["bulk-approve-submissions"] == 1
    assert sum(emu.calls.values()) - calls < 10  # the checks before sending, and no more
    time.sleep(0.2)
    assert_paid_once(emu.url, planned_bonuses(config))
