"""Fixtures for the Prolific API source and adapter tests: emulators served on 127.0.0.1
that record every exchange, and the check, after each test, that every answer the adapter
provoked (and every request body the emulator accepted) conforms to Prolific's OpenAPI
file (tests/prolific_emulator/openapi_support.py, reused as is)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "prolific_emulator"))

from openapi_support import assert_conform  # noqa: E402
from prolific_apply_support import FaultyEmulator  # noqa: E402


@pytest.fixture
def started():
    emulators: list[FaultyEmulator] = []
    yield emulators
    for emu in emulators:
        emu.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def answers_conform_to_openapi(started):
    """After each test, every exchange of its emulators against prolific-openapi.yml."""
    yield
    assert_conform(started)


@pytest.fixture
def make_emu(started):
    """Start emulators (recording; asynchronous work due after 50 ms unless told)."""

    def make(**kwargs) -> FaultyEmulator:
        kwargs.setdefault("record", True)
        kwargs.setdefault("async_delay", 0.05)
        emu = FaultyEmulator(**kwargs).__enter__()
        started.append(emu)
        return emu

    return make


@pytest.fixture
def emu(make_emu) -> FaultyEmulator:
    return make_emu()
