"""A run killed (SIGKILL) at every state the ledger records, then the same run again: nobody
is paid twice, on either backend (SPEC 5, 13).

The run is a child process forked from the test (the plan already made, the local Prolific
served here) that kills itself right after the ledger has committed the state, or right
before it records an answer it got: its connection dies with it, so the shared ledger's
lock is released by the server, as for a laptop that crashed. What Prolific paid is read
over plain HTTP."""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from lab_support import BONUSES, assert_paid_once, planned_bonuses, shown_bonuses, study_folder

from bridge.actions import Kind
from bridge.apply.run import apply_plan
from bridge.closeout import plan_wave
from bridge.config import load_config
from bridge.ledger import DONE, PAID, PAYING, PREPARED, Ledger
from bridge.panels.prolific.adapter import connect

NOW = datetime(2026, 11, 21, 12, tzinfo=timezone.utc)


def _kinds(actions) -> set:
    batch = actions if isinstance(actions, (list, tuple)) else [actions]
    return {a.kind for a in batch}


def _records(args, kind, status=DONE, phase=None) -> bool:
    return any(r[0].kind is kind and r[1] == status and (phase is None or r[4] == phase) for r in args[0])


# state -> (the Ledger method, True: kill once it committed / False: kill instead of recording,
# when(positional args, keyword args) it is that state).
STATES = {
    "approvals pending": ("pending", True, lambda args, kw: Kind.APPROVE in _kinds(args[0])),
    "approvals sent, answer not recorded": ("record_many", False, lambda args, kw: _records(args, Kind.APPROVE)),
    "bonuses prepared": ("pending", True, lambda args, kw: kw.get("phase") == PREPARED),
    "bonuses paying, pay not sent": ("advance", True, lambda args, kw: args[1] == PAYING),
    "bonuses paid, answer not recorded": ("record_many", False, lambda args, kw: _records(args, Kind.BONUS)),
    "bonuses paid": ("record_many", True, lambda args, kw: _records(args, Kind.BONUS, phase=PAID)),
    "grants pending": ("pending", True, lambda args, kw: Kind.GRANT in _kinds(args[0])),
}


def _market(settings):
    return connect(settings, {"PROLIFIC_API_TOKEN": os.environ["PROLIFIC_API_TOKEN"]}, settle_seconds=1.0,
                   confirm_seconds=10, poll_first=0.05, poll_max=0.2)


def _killed_at(state: str, plan, settings, workbook: Path) -> None:
    """Fork a run of `plan` that SIGKILLs itself at `state`; wait for it."""
    name, after, when = STATES[state]
    pid = os.fork()
    if pid == 0:  # the child: never returns into the test
        try:
            method = getattr(Ledger, name)

            def hooked(self, *args, **kwargs):
                fire = when(args, kwargs)
                if fire and not after:
                    os.kill(os.getpid(), signal.SIGKILL)
                out = method(self, *args, **kwargs)
                if fire:
                    os.kill(os.getpid(), signal.SIGKILL)
                return out

            setattr(Ledger, name, hooked)
            apply_plan(plan, settings, workbook=workbook, confirm=lambda pre: True, market=_market(settings))
        finally:
            os._exit(17)  # not killed: the state was never reached
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"{state}: not killed ({status})"


@pytest.mark.parametrize("state", list(STATES))
def test_killed_at_every_state_then_run_again_pays_nobody_twice(prolific, ledger_backend, tmp_path, state):
    emu = prolific(pay_delay=0.05)
    config = study_folder(tmp_path / "study", emu.url, ledger_backend.new(), settle_minutes=0)
    settings = load_config(config)
    plan = plan_wave(settings, NOW).plan
    workbook = tmp_path / "study" / "out" / "study.xlsx"

    _killed_at(state, plan, settings, workbook)
    resumed = apply_plan(plan, settings, workbook=workbook, confirm=lambda pre: True, market=_market(settings))

    time.sleep(0.2)  # payments show 0.05 s after they are made
    if state == "bonuses paying, pay not sent":
        # Recorded as about to be paid, then killed before the call: nobody can know it was
        # not sent, so it is never sent again; Prolific shows none, a person settles it.
        assert len(resumed.failed) == BONUSES and all("needs a person" in e.detail for e in resumed.failed)
        assert not any(shown_bonuses(emu.url).values()) and emu.calls["pay-bonus-payments"] == 0
        return
    assert not resumed.failed and not resumed.waiting, [e.detail for e in resumed.failed + resumed.waiting]
    assert resumed.done[Kind.BONUS] == BONUSES and emu.calls["pay-bonus-payments"] == 1
    assert_paid_once(emu.url, planned_bonuses(config))
