"""Fixtures for the Prolific emulator tests: emulators that record every exchange on an
injected clock, and the check, after each test, that every answer they gave conforms to
Prolific's OpenAPI file (see `openapi_support`)."""

from __future__ import annotations

import pytest
from openapi_support import check_exchanges, openapi_spec
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
    """After each test, validate every recorded exchange of its emulators (answers, and the
    request bodies they accepted) against prolific-openapi.yml. Without the file this check
    is left out on a developer machine and fails under CI (`openapi_spec`)."""
    yield
    exchanges = [ex for emu in started for ex in emu.exchanges]
    if not exchanges:
        return
    spec = openapi_spec(skip=False)
    if spec is None:
        return
    problems = check_exchanges(spec, exchanges)
    assert not problems, "answers that do not conform to prolific-openapi.yml:\n" + "\n".join(problems)


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
