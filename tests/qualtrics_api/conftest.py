"""Fixtures for the Qualtrics API connector and emulator tests (helpers: qualtrics_support)."""

from __future__ import annotations

import pytest
from qualtrics_support import FakeClock, Script, ScriptHandler, load_cassette, make_big_csv

from bridge.emulator.base import EmulatorServer


@pytest.fixture(scope="session")
def cassette() -> list[dict]:
    return load_cassette()


@pytest.fixture(scope="session")
def big_csv() -> bytes:
    return make_big_csv()


@pytest.fixture
def fake() -> FakeClock:
    return FakeClock()


@pytest.fixture
def script_server():
    """`start(answers)` -> (Script, url); servers are stopped after the test."""
    servers = []

    def start(answers):
        script = Script(answers)
        server = EmulatorServer(ScriptHandler, script).start()
        servers.append(server)
        return script, server.url

    yield start
    for server in servers:
        server.stop()
