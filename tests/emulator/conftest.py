"""Fixtures for the MTurk emulator tests: served emulators on an injected clock, and an
unmodified boto3 client pointed at one."""

from __future__ import annotations

import pytest
from mturk_support import FakeClock, make_client

from bridge.panels.mturk.emulator import MTurkEmulator


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_emu(clock: FakeClock, start_mturk):
    """Start emulators with any constructor arguments (clock defaults to the fixture's)."""

    def make(**kwargs) -> MTurkEmulator:
        kwargs.setdefault("clock", clock)
        return start_mturk(**kwargs)

    return make


@pytest.fixture
def emu(make_emu) -> MTurkEmulator:
    return make_emu()


@pytest.fixture
def client(emu: MTurkEmulator):
    return make_client(emu.url)
