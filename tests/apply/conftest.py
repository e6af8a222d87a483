"""Fixtures for the apply tests: the sample wave seeded into served MTurk emulators, and no
AWS credentials anywhere (so a real endpoint can never be reached by accident)."""

from __future__ import annotations

import pytest
from apply_support import NOW, SAMPLE, create_qualification_types, write_wave

from bridge.panels.mturk.emulator import MTurkEmulator, starting_at


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
def make_emu(start_mturk):
    """Served emulators seeded with the sample batch; any constructor arguments."""

    def make(**kwargs) -> MTurkEmulator:
        # As of the sample's day: its Submitted work auto-approves on 2026-12-20.
        kwargs.setdefault("clock", starting_at(NOW))
        emulator = start_mturk(**kwargs)
        emulator.seed_batch(SAMPLE / "batch_results.csv")
        return emulator

    return make


@pytest.fixture
def emu(make_emu) -> MTurkEmulator:
    return make_emu()


@pytest.fixture
def wave(tmp_path, emu):
    """The sample wave's config aimed at `emu`, with its qualification types created there."""
    return write_wave(tmp_path / "wave", emu.url, create_qualification_types(emu.url))
