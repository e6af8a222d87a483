"""Fixtures for the MTurk emulator tests: a served emulator on an injected clock, and an
unmodified boto3 client pointed at it."""

from __future__ import annotations

import pytest
from mturk_support import FakeClock, make_client

from bridge.emulator.mturk import MTurkEmulator


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock):
    with MTurkEmulator(clock=clock) as emulator:
        yield emulator


@pytest.fixture
def client(emu: MTurkEmulator):
    return make_client(emu.url)
