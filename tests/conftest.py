from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Test helper modules (builders, paths) live beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from paths import REALWORLD, need_shared, uses_shared  # noqa: E402


@pytest.fixture
def realworld() -> Path:
    return need_shared(REALWORLD)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test that names a shared/ path skips without shared/ (fails under CI), before any of
    its fixtures reads the file (tests/paths.py)."""
    if uses_shared(item):
        need_shared(REALWORLD)


@pytest.fixture
def start_mturk():
    """Start MTurk emulators (any constructor arguments); all are stopped after the test."""
    from bridge.panels.mturk.emulator import MTurkEmulator

    started = []

    def start(**kwargs):
        emulator = MTurkEmulator(**kwargs).__enter__()
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.__exit__(None, None, None)
