"""Refusals before spending: balance, confirmation, production, credentials, qualification
types. Each one sends nothing."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest
from apply_support import MONEY_OPS, NOW_ARG, client, create_qualification_types, plan_for, write_wave
from typer.testing import CliRunner

from bridge.apply import apply_plan
from bridge.cli import app
from bridge.config import load_config
from bridge.errors import InputError, SafetyRefusal
from bridge.ledger import open_ledger
from bridge.panels.mturk.adapter import MTurkMarketplace, canonical_environment, connect

PRODUCTION_URL = "https://mturk-requester.us-east-1.amazonaws.com/"

runner = CliRunner()


def run(*args, **kwargs):
    return runner.invoke(app, [str(a) for a in args], **kwargs)


def money_calls(emu) -> int:
    return sum(emu.calls[op] for op in MONEY_OPS)


def test_insufficient_balance_is_refused_before_anything_is_sent(make_emu, tmp_path: Path):
    emu = make_emu(balance=Decimal("100.00"))  # the wave costs 111.16
    config = write_wave(tmp_path / "wave", emu.url, create_qualification_types(emu.url))

    result = run("close-out", config, "--apply", "--yes", *NOW_ARG)

    assert result.exit_code == 3, result.output
    assert "cannot cover" in result.output and "111.16" in result.output and "100.00" in result.output
    assert money_calls(emu) == 0 and emu.calls["AssociateQualificationWithWorker"] == 0
    assert emu.balance == Decimal("100.00")


def test_apply_without_yes_and_without_a_terminal_is_refused_before_any_call(wave: Path, emu):
    calls = sum(emu.calls.values())
    result = run("close-out", wave, "--apply", *NOW_ARG)
    assert result.exit_code == 3, result.output
    assert "--yes" in result.output and "Nothing was sent" in result.output
    assert sum(emu.calls.values()) == calls  # not even the balance was asked for
    assert (wave.parent / "out" / "sample-wave-1-reconciliation.xlsx").exists()  # the dry run is still written


def _no_client(*args, **kwargs):
    raise AssertionError("an MTurk client was created")


def test_production_without_yes_is_refused_before_any_client(tmp_path: Path, monkeypatch):
    config = write_wave(tmp_path / "wave", "production")
    monkeypatch.setattr("bridge.panels.mturk.adapter.make_mturk_client", _no_client)
    monkeypatch.setattr("boto3.Session", _no_client)
    result = run("close-out", config, "--apply", *NOW_ARG)
    assert result.exit_code == 3, result.output
    assert "production (real money)" in result.output and "--yes" in result.output


def test_the_production_endpoint_url_is_production(wave: Path, emu, tmp_path: Path, monkeypatch):
    # Written out as a URL, production is still refused without --yes before any client...
    config = write_wave(tmp_path / "prod", PRODUCTION_URL)
    monkeypatch.setattr("bridge.panels.mturk.adapter.make_mturk_client", _no_client)
    result = run("close-out", config, "--apply", *NOW_ARG)
    assert result.exit_code == 3, result.output
    assert "production (real money)" in result.output
    monkeypatch.undo()

    # ...and labelled REAL MONEY when asked, with production's ledger keys (here aimed at the emulator).
    settings = load_config(wave)
    plan = dataclasses.replace(plan_for(wave, tmp_path), environment=PRODUCTION_URL)
    seen = []

    def decline(pre) -> bool:
        seen.append(pre)
        return False

    with pytest.raises(SafetyRefusal):
        apply_plan(plan, settings, workbook=tmp_path / "w.xlsx", confirm=decline,
                   market=MTurkMarketplace(lambda: client(emu.url), PRODUCTION_URL))
    assert seen[0].environment == "production"
    assert seen[0].lines()[0] == "MTurk production: REAL MONEY"
    with open_ledger(settings.ledger_path, panel="mturk", environment=canonical_environment(PRODUCTION_URL),
                     tasks=list(plan.tasks)) as ledger:
        assert ledger.environment == "production"
    assert money_calls(emu) == 0


def test_production_without_credentials_names_the_environment(tmp_path: Path, monkeypatch):
    config = write_wave(tmp_path / "wave", "production")
    result = run("close-out", config, "--apply", "--yes", *NOW_ARG)
    assert result.exit_code == 1, result.output
    assert "No AWS credentials found" in result.output and "MTurk production" in result.output
    with pytest.raises(InputError, match="sandbox"):
        connect("sandbox")


def test_unknown_profile_is_an_input_error():
    with pytest.raises(InputError, match="'nosuchprofile'.*was not found"):
        connect("sandbox", profile="nosuchprofile")


def test_local_emulator_needs_no_credentials(emu):
    assert connect(emu.url).account_balance() == Decimal("10000.00")


def test_declined_confirmation_sends_nothing(wave: Path, emu, monkeypatch):
    monkeypatch.setattr("bridge.cli._can_ask", lambda: True)
    result = run("close-out", wave, "--apply", *NOW_ARG, input="n\n")
    assert result.exit_code == 3, result.output
    assert "Send this to the MTurk endpoint" in result.output and "Not confirmed" in result.output
    assert "To send: 37 approvals, 5 rejections, 29 bonuses, 89 qualification grants" in result.output
    assert money_calls(emu) == 0


def test_end_of_input_at_the_prompt_is_not_a_confirmation(wave: Path, emu, monkeypatch):
    monkeypatch.setattr("bridge.cli._can_ask", lambda: True)
    result = run("close-out", wave, "--apply", *NOW_ARG, input="")  # EOF, as Ctrl-D; Ctrl-C is the same Abort
    assert result.exit_code == 3, result.output
    assert "Not confirmed; nothing was sent." in result.output and "Aborted" not in result.output
    assert money_calls(emu) == 0


def test_confirmed_at_the_prompt_applies(wave: Path, emu, monkeypatch):
    monkeypatch.setattr("bridge.cli._can_ask", lambda: True)
    result = run("close-out", wave, "--apply", *NOW_ARG, input="y\n")
    assert result.exit_code == 0, result.output
    assert emu.calls["SendBonus"] == 29


def test_review_warnings_are_printed_before_applying(wave: Path, emu):
    result = run("close-out", wave, "--apply", "--yes", *NOW_ARG)
    assert "warning: 9 assignment(s) need review; MTurk auto-approves the first at" in result.output


def test_missing_qualification_type_is_refused_before_spending(emu, tmp_path: Path):
    config = write_wave(tmp_path / "wave", emu.url, {"prev_worker": "3NOSUCHTYPE", "eligible_worker": "3NOTHIS"})
    result = run("close-out", config, "--apply", "--yes", *NOW_ARG)
    assert result.exit_code == 1, result.output
    assert "no such qualification type" in result.output
    assert money_calls(emu) == 0
