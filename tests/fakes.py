"""Test doubles every emulator's tests share: a clock moved by hand and scripted faults."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bridge.emulator.base import Fault, Faults

START = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime = START):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


class ScriptedFaults(Faults):
    """Faults decided by a script (then none), so fault tests do not depend on chance."""

    def __init__(self, *script: Fault):
        super().__init__()
        self.script = list(script)

    def decide(self) -> Fault:
        return self.script.pop(0) if self.script else Fault.NONE
