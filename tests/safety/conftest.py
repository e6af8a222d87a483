"""Fixtures for SPEC §12 (safe by default): the Prolific emulator served on 127.0.0.1 with
faults scripted per endpoint (tests/prolific_apply), every answer it gives checked against
Prolific's OpenAPI file after each test, as the apply tests do."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "prolific_emulator"))
sys.path.insert(0, str(HERE.parent / "prolific_apply"))

from openapi_support import answers_conform_to_openapi, emulator_maker, started  # noqa: E402, F401
from prolific_apply_support import FaultyEmulator  # noqa: E402


@pytest.fixture
def make_emu(started):
    return emulator_maker(started, FaultyEmulator, async_delay=0.0, fee_rate="0.333")


@pytest.fixture
def emu(make_emu) -> FaultyEmulator:
    return make_emu()


@pytest.fixture
def quick(monkeypatch):
    """Prolific's back-off and waits cut short (the CLI builds its own client)."""
    import bridge.panels.prolific.adapter as adapter
    import bridge.panels.prolific.http as http

    monkeypatch.setattr(http, "BACKOFF", 0.001)
    real = adapter.connect
    waits = {"settle_seconds": 0.5, "confirm_seconds": 2.0, "poll_first": 0.02, "poll_max": 0.1}
    monkeypatch.setattr(adapter, "connect", lambda settings, env, **options: real(settings, env, **waits | options))
