"""Exactly once when a decision's origin is unclear (SPEC 13): an approval that failed or
whose state could not be read is not taken for this ledger's own when the panel shows the
work approved, and an error after a pay call never turns a possibly-paid bonus into one
sent again."""
from __future__ import annotations

from datetime import timedelta

from fakes import FakeClock
from prolific_apply_support import bonuses, ledger_at, market_for, pid, seed

from bridge.actions import Action, Kind
from bridge.apply.executor import Executor
from bridge.market import MarketplaceError
from bridge.panels.prolific.emulator import ProlificEmulator

SETTLE = timedelta(minutes=10)


def _fail_states_once(market):
    real = market.states
    calls = {"n": 0}

    def states(actions):
        calls["n"] += 1
        if calls["n"] == 1:
            raise MarketplaceError("503", "Prolific is down", transient=True)
        return real(actions)
    market.states = states


def test_failed_never_sent_approval_found_approved_later_still_holds_its_bonus(tmp_path):
    """Run 1 could not read the state before sending: the approval is `failed`, nothing was
    sent. Another run (copied folder) approves it and pays its bonus; Prolific does not show
    the payment yet. Run 2 finds the work approved: this ledger never sent that decision, so
    the bonus must wait (SPEC 13), not be paid again."""
    with ProlificEmulator(async_delay=0.05) as emu:
        study, (sub,) = seed(emu, 1)
        market = market_for(emu, study)
        actions = [Action(Kind.APPROVE, sub, pid(0), study), *bonuses(study, [sub])]
        _fail_states_once(market)
        with ledger_at(tmp_path / "l.sqlite", market, exclusive=True) as ledger:
            Executor(market, ledger, settle=SETTLE, clock=FakeClock()).run(actions)
            e = ledger.entries()[ledger.key(actions[0])]
            assert e.status == "failed" and e.attempts == 0  # never sent
        assert emu.calls["bulk-approve-submissions"] == 0
        # Another run approves it and pays its bonus; the payment is not shown yet.
        emu.state.submissions[sub].status = "APPROVED"
        with ledger_at(tmp_path / "l.sqlite", market, exclusive=True) as ledger:
            ex = Executor(market, ledger, settle=SETTLE, clock=FakeClock())
            ex.settle_done(actions)  # as preflight does
            ex.run(actions)
        assert emu.calls["pay-bonus-payments"] == 0, "paid at once: a bonus another run may have paid"


def test_unreadable_state_of_fresh_approval_does_not_pay_a_bonus_another_run_may_have_paid(tmp_path):
    """The state read before sending could not read this submission (a GET that failed):
    `_settle_by_state` gives None, the approval is sent, Prolific shows it APPROVED (another
    run approved it and paid its bonus, not shown yet): recorded done without `elsewhere`,
    so the bonus is paid at once."""
    with ProlificEmulator(async_delay=0.05) as emu:
        study, (sub,) = seed(emu, 1)
        market = market_for(emu, study)
        actions = [Action(Kind.APPROVE, sub, pid(0), study), *bonuses(study, [sub])]
        emu.state.submissions[sub].status = "APPROVED"  # another run approved and paid it
        real = market.states
        calls = {"n": 0}

        def states(acts):  # the first read (before sending) could not read it
            calls["n"] += 1
            return {} if calls["n"] == 1 else real(acts)
        market.states = states
        with ledger_at(tmp_path / "l.sqlite", market, exclusive=True) as ledger:
            Executor(market, ledger, settle=SETTLE, clock=FakeClock()).run(actions)
        assert emu.calls["pay-bonus-payments"] == 0


def test_an_unexpected_error_after_the_pay_call_leaves_the_bonus_unknown_not_failed(tmp_path):
    """The pay call's answer is lost (a 5xx after paying); while it is settled an unexpected
    error (a bug) escapes: `_guarded` records the whole chunk `failed` (phase `paying` kept),
    so the next run, before Prolific shows the payment, pays it again."""
    from prolific_apply_support import FaultyEmulator

    from bridge.emulator.base import Fault

    with FaultyEmulator(async_delay=3.0) as emu:  # payments show 3 s late
        study, (sub,) = seed(emu, 1, status="APPROVED")
        market = market_for(emu, study, settle_seconds=0.2)
        actions = bonuses(study, [sub])
        emu.faults.script["pay-bonus-payments"] = [Fault.FAIL_AFTER]
        real = market.paid_bonuses
        calls = {"n": 0}

        def paid_bonuses(acts):
            calls["n"] += 1
            if calls["n"] == 2:  # while settling the lost answer
                raise RuntimeError("a bug")
            return real(acts)
        market.paid_bonuses = paid_bonuses
        with ledger_at(tmp_path / "l.sqlite", market, exclusive=True) as ledger:
            Executor(market, ledger).run(actions)
            e = ledger.entries()[ledger.key(actions[0])]
        market.paid_bonuses = real
        with ledger_at(tmp_path / "l.sqlite", market, exclusive=True) as ledger:
            Executor(market, ledger).run(actions)
        assert emu.calls["pay-bonus-payments"] == 1, f"paid twice (first run left it {e.status}/{e.phase})"
