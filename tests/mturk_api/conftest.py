"""Fixtures for the MTurk API source tests (helpers: mturk_api_support).

Every test runs with no AWS credentials in boto3's chain and with every HTTP request
checked: anything not addressed to 127.0.0.1 / localhost fails the test instead of leaving
the machine."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import botocore.httpsession
import pytest
from mturk_api_support import P808, SAMPLE_BATCH, hermetic_aws_env, seeded
from paths import need_shared

from bridge.panels.mturk.emulator import MTurkEmulator

_original_send = botocore.httpsession.URLLib3Session.send


def _is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LeftTheMachine(AssertionError):
    pass


@pytest.fixture(autouse=True)
def _local_only(monkeypatch):
    """Clear the AWS environment; refuse (and record) any request to a non-local host."""
    hermetic_aws_env(monkeypatch)
    outside: list[str] = []

    def guarded_send(self, request):
        if not _is_loopback(request.url):
            outside.append(request.url)
            raise LeftTheMachine(f"a request to {request.url} would have left 127.0.0.1")
        return _original_send(self, request)

    monkeypatch.setattr(botocore.httpsession.URLLib3Session, "send", guarded_send)
    yield outside
    assert not outside, f"requests outside 127.0.0.1: {outside}"


@pytest.fixture
def outside_requests(_local_only) -> list[str]:
    return _local_only


@pytest.fixture
def make_emu():
    """Start emulators with any constructor arguments; stopped after the test."""
    started: list[MTurkEmulator] = []

    def make(**kwargs) -> MTurkEmulator:
        emulator = MTurkEmulator(**kwargs).__enter__()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.__exit__(None, None, None)


@pytest.fixture
def emu(make_emu) -> MTurkEmulator:
    return make_emu()


def _served(path):
    emulator, table = seeded(path)
    with emulator:
        yield emulator, table


@pytest.fixture(scope="module")
def p808():
    """(served emulator seeded with the P808 batch file, its CSV table); read-only."""
    yield from _served(need_shared(P808))


@pytest.fixture(scope="module")
def sample_wave():
    yield from _served(SAMPLE_BATCH)
