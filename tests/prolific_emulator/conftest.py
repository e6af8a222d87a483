"""Fixtures for the Prolific emulator tests: emulators that record every exchange on an
injected clock, and the check, after each test, that every answer they gave conforms to
Prolific's OpenAPI file (see `openapi_support`)."""

from __future__ import annotations

import pytest
from openapi_support import assert_conform
from prolific_support import Api, FakeClock

from bridge.panels.prolific.emulator import ProlificEmulator


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def started():
    """Every emulator a test started; stopped afterwards."""
    emulators: list[ProlificEmulator] = []
    yield emulators
    for emu in emulators:
        emu.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def answers_conform_to_openapi(started):
    """After each test, every exchange of its emulators against prolific-openapi.yml."""
    yield
    assert_conform(started)


@pytest.fixture
def make_emu(clock: FakeClock, started):
    """Start emulators with any constructor arguments (recording, on the fixture's clock,
    asynchronous work due after 50 ms unless told)."""

    def make(**kwargs) -> ProlificEmulator:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("record", True)
        kwargs.setdefault("async_delay", 0.05)
        emu = ProlificEmulator(**kwargs).__enter__()
        started.append(emu)
        return emu

    return make


@pytest.fixture
def emu(make_emu) -> ProlificEmulator:
    return make_emu()


@pytest.fixture
def make_api():
    """`requests` sessions against any emulator (token optional); closed afterwards."""
    sessions: list[Api] = []

    def make(emulator: ProlificEmulator, **kwargs) -> Api:
        sessions.append(Api(emulator.url, **kwargs))
        return sessions[-1]

    yield make
    for session in sessions:
        session.close()


@pytest.fixture
def api(emu: ProlificEmulator, make_api) -> Api:
    return make_api(emu)
