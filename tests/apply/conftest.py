"""Fixtures for the apply tests: the sample wave seeded into served MTurk emulators, and no
AWS credentials anywhere (so a real endpoint can never be reached by accident)."""

from __future__ import annotations

import threading

import pytest
from apply_support import SAMPLE, create_qualification_types, write_wave

from bridge.emulator.mturk import MTurkEmulator


@pytest.fixture(autouse=True)
def no_aws_credentials(monkeypatch, tmp_path_factory):
    empty = tmp_path_factory.mktemp("aws")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def make_emu():
    """Served emulators seeded with the sample batch; any constructor arguments."""
    started: list[MTurkEmulator] = []

    def make(**kwargs) -> MTurkEmulator:
        emulator = MTurkEmulator(**kwargs)
        emulator.seed_batch(SAMPLE / "batch_results.csv")
        started.append(emulator.__enter__())
        return emulator

    yield make
    # Stopping waits on the server's poll loop; do it in the background.
    for emulator in started:
        threading.Thread(target=emulator.__exit__, args=(None, None, None), daemon=True).start()


@pytest.fixture
def emu(make_emu) -> MTurkEmulator:
    return make_emu()


@pytest.fixture
def wave(tmp_path, emu):
    """The sample wave's config aimed at `emu`, with its qualification types created there."""
    return write_wave(tmp_path / "wave", emu.url, create_qualification_types(emu.url))
