from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Test helper modules (builders, paths) live beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from paths import REALWORLD  # noqa: E402


@pytest.fixture
def realworld() -> Path:
    if not REALWORLD.exists():
        pytest.fail(f"{REALWORLD} is missing: the shared folder must sit beside the repository")
    return REALWORLD


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
