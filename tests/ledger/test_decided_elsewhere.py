"""Work decided elsewhere is waited for, not paid again (SPEC 13), at the executor: a bonus on
work Prolific shows decided that this ledger never sent waits `settle` from when this ledger
first saw it, then is paid only if Prolific shows no payment; a compensation waits when
other work of the study was decided elsewhere. The executor's clock is moved by hand; the
local Prolific is real, over HTTP."""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "prolific_apply"))

from fakes import FakeClock  # noqa: E402
from prolific_apply_support import bonuses, ledger_at, market_for, pid, seed  # noqa: E402

from bridge.actions import Action, Kind  # noqa: E402
from bridge.apply.executor import Executor  # noqa: E402
from bridge.ledger import WAITING  # noqa: E402
from bridge.models import State  # noqa: E402
from bridge.panels.prolific.emulator import ProlificEmulator  # noqa: E402

SETTLE = timedelta(minutes=10)


def run(market, path, actions, clock, decided):
    with ledger_at(path, market, exclusive=True) as ledger:
        outcome = Executor(market, ledger, decided=decided, settle=SETTLE, clock=clock).run(actions)
        return {e.submission_id: e for e in ledger.entries().values()}, outcome


def test_a_bonus_on_work_decided_elsewhere_waits_then_is_paid_only_if_none_shows(tmp_path):
    with ProlificEmulator(async_delay=0.05) as emu:
        # Both approved by another run, which paid the first one's bonus: Prolific does not show it yet.
        study, (paid_by_another, never_paid) = seed(emu, 2, status="APPROVED")
        market = market_for(emu, study)
        clock = FakeClock()
        decided = {s: (State.APPROVED, None) for s in (paid_by_another, never_paid)}
        actions = bonuses(study, [paid_by_another, never_paid])

        entries, outcome = run(market, tmp_path / "l.sqlite", actions, clock, decided)

        assert {e.status for e in entries.values()} == {"pending"} and {e.phase for e in entries.values()} == {WAITING}
        assert outcome.wait_until == clock.now + SETTLE and emu.calls["pay-bonus-payments"] == 0
        assert "decided elsewhere: Prolific shows this submission APPROVED" in entries[never_paid].detail
        seen = entries[never_paid].seen_at
        clock.advance(minutes=9)  # run again too soon: still waiting, counted from when first seen
        entries, outcome = run(market, tmp_path / "l.sqlite", actions, clock, decided)
        assert entries[never_paid].seen_at == seen and outcome.wait_until == clock.now + timedelta(minutes=1)
        assert emu.calls["pay-bonus-payments"] == 0
        # Meanwhile Prolific shows the payment the other run made.
        emu.state.submissions[paid_by_another].bonus_payments.append(Decimal(75))
        clock.advance(minutes=1, seconds=1)

        entries, outcome = run(market, tmp_path / "l.sqlite", actions, clock, decided)

        assert entries[paid_by_another].status == "done" and "already paid 0.75" in entries[paid_by_another].detail
        assert entries[never_paid].status == "done" and outcome.wait_until is None
        assert emu.calls["pay-bonus-payments"] == 1  # only the one nobody had paid
        time.sleep(0.1)
        assert emu.bonus_payments(never_paid) == [Decimal("0.75")]
        assert emu.bonus_payments(paid_by_another) == [Decimal("0.75")]


def test_work_this_ledger_decided_itself_is_paid_at_once(tmp_path):
    with ProlificEmulator(async_delay=0.05) as emu:
        study, (sub,) = seed(emu, 1)
        market = market_for(emu, study)
        actions = [Action(Kind.APPROVE, sub, pid(0), study), *bonuses(study, [sub])]
        entries, outcome = run(market, tmp_path / "l.sqlite", actions, FakeClock(), {})
        assert entries[sub].status == "done" and emu.calls["pay-bonus-payments"] == 1
        # The next run reads the submission as approved: by this ledger, so nothing waits.
        entries, outcome = run(market, tmp_path / "l.sqlite", actions, FakeClock(),
                               {sub: (State.APPROVED, None)})
        assert outcome.wait_until is None and emu.calls["pay-bonus-payments"] == 1


def test_a_compensation_waits_when_the_rest_of_the_study_was_decided_elsewhere(tmp_path):
    with ProlificEmulator(async_delay=0.05) as emu:
        study, (approved,) = seed(emu, 1, status="APPROVED")
        _, (returned,) = seed(emu, 1, status="RETURNED", study_id=study, first=1)
        market = market_for(emu, study)
        compensation = Action(Kind.COMPENSATE, returned, pid(1), study, amount=Decimal("1.50"), text="thanks")
        clock = FakeClock()

        entries, outcome = run(market, tmp_path / "l.sqlite", [compensation], clock, {approved: (State.APPROVED, None)})

        assert entries[returned].phase == WAITING and "other work of this study decided" in entries[returned].detail
        assert emu.calls["pay-bonus-payments"] == 0
        clock.advance(minutes=11)
        entries, _ = run(market, tmp_path / "l.sqlite", [compensation], clock, {approved: (State.APPROVED, None)})
        assert entries[returned].status == "done" and emu.calls["pay-bonus-payments"] == 1
