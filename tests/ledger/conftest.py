"""Fixtures for the shared-ledger tests: a local Prolific holding the sample study, served
on 127.0.0.1 and stopped after the test, and the emulator's token where the tool reads it."""

from __future__ import annotations

import pytest
from lab_support import serve_study

from bridge.panels.prolific.emulator import DEFAULT_TOKEN


@pytest.fixture(autouse=True)
def prolific_token(monkeypatch):
    monkeypatch.setenv("PROLIFIC_API_TOKEN", DEFAULT_TOKEN)


@pytest.fixture
def prolific():
    """Start local Prolifics holding the sample study (`prolific(pay_delay=seconds)`)."""
    started = []

    def start(pay_delay: float = 0.05):
        emu = serve_study(pay_delay)
        started.append(emu)
        return emu

    yield start
    for emu in started:
        emu.__exit__(None, None, None)
