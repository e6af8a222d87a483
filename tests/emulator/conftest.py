"""Fixtures for the MTurk emulator tests: served emulators on an injected clock, and an
unmodified boto3 client pointed at one."""

from __future__ import annotations

import threading

import pytest
from mturk_support import FakeClock, make_client

from bridge.emulator.mturk import MTurkEmulator


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_emu(clock: FakeClock):
    """Start emulators with any constructor arguments (clock defaults to the fixture's)."""
    started: list[MTurkEmulator] = []

    def make(**kwargs) -> MTurkEmulator:
        kwargs.setdefault("clock", clock)
        emulator = MTurkEmulator(**kwargs).__enter__()
        started.append(emulator)
        return emulator

    yield make
    # The server's accept loop notices shutdown only every half second; stopping in the
    # background keeps that wait out of every test's run time.
    for emulator in started:
        threading.Thread(target=emulator.__exit__, args=(None, None, None), daemon=True).start()


@pytest.fixture
def emu(make_emu) -> MTurkEmulator:
    return make_emu()


@pytest.fixture
def client(emu: MTurkEmulator):
    return make_client(emu.url)
