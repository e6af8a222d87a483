"""Helpers for the Prolific emulator tests: a hand-moved clock, scripted faults, a `requests`
session speaking to the emulator, and ids shaped like Prolific's."""

from __future__ import annotations

from datetime import timedelta

import requests
from fakes import START, FakeClock, ScriptedFaults  # noqa: F401 - re-exported to the tests

TOKEN = "test-token"
CODE = "C1A2B3C4"
# A rejection message long enough for Prolific (>= 100 characters, FACTS 1.6).
REJECTION = ("Your submission failed the attention checks included in the survey, so we cannot approve it. "
             "Thank you for your time.")


def pid(n: int) -> str:
    """A participant id shaped like Prolific's (24 lowercase hex characters)."""
    return f"5f{n:022x}"


class Api(requests.Session):
    """`requests` against one emulator: paths relative to its URL, the token sent by default."""

    def __init__(self, base: str, token: str | None = TOKEN):
        super().__init__()
        self.base = base
        if token is not None:
            self.headers["Authorization"] = f"Token {token}"

    def request(self, method, url, *args, **kwargs):  # noqa: D401 (requests' signature)
        kwargs.setdefault("timeout", 10)
        return super().request(method, url if url.startswith("http") else self.base + url, *args, **kwargs)


def seed_study(emu, n: int = 3, *, reward: str = "1.50", status: str = "AWAITING REVIEW", **study) -> tuple[str, list[str]]:
    """A study with `n` finished submissions (participants pid(0..n-1)); returns (study id, submission ids)."""
    study_id = emu.add_study(reward=reward, completion_codes={CODE: "COMPLETED"}, **study)
    subs = [emu.add_submission(study_id, pid(i), status, entered_code=CODE, time_taken=600 + i,
                               started_at=START - timedelta(hours=1) + timedelta(minutes=i))
            for i in range(n)]
    return study_id, subs
