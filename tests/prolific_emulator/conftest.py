"""Fixtures for the Prolific emulator tests: emulators that record every exchange on an
injected clock, and the check, after each test, that every answer they gave conforms to
Prolific's OpenAPI file (see `openapi_support`)."""

from __future__ import annotations

import pytest
from openapi_support import answers_conform_to_openapi, emulator_maker, started  # noqa: F401
from prolific_support import Api, FakeClock

from bridge.panels.prolific.emulator import ProlificEmulator


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_emu(clock: FakeClock, started):
    """Start emulators with any constructor arguments (recording, on the fixture's clock,
    asynchronous work due after 50 ms unless told)."""
    return emulator_maker(started, ProlificEmulator, clock=clock, async_delay=0.05)


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
