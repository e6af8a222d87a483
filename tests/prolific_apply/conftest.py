"""Fixtures for the Prolific API source and adapter tests: emulators served on 127.0.0.1
that record every exchange, and the check, after each test, that every answer the adapter
provoked (and every request body the emulator accepted) conforms to Prolific's OpenAPI
file (tests/prolific_emulator/openapi_support.py, reused as is)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "prolific_emulator"))

from openapi_support import answers_conform_to_openapi, emulator_maker, started  # noqa: E402, F401
from prolific_apply_support import FaultyEmulator  # noqa: E402


@pytest.fixture
def make_emu(started):
    """Start emulators (recording; asynchronous work due after 50 ms unless told)."""
    return emulator_maker(started, FaultyEmulator, async_delay=0.05)


@pytest.fixture
def emu(make_emu) -> FaultyEmulator:
    return make_emu()
