"""The executor applying actions through the real Prolific adapter, against the emulator over
HTTP: approvals in bulk confirmed by reading them back, refusals skipped (never done),
rejections with their category and message, bonuses set up 200 at a time and paid once
each, groups, and nothing sent twice."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from prolific_apply_support import (
    ENV,
    REJECTION,
    approvals,
    bonuses,
    ledger_at,
    market_for,
    pid,
    seed,
    settings_for,
)

from bridge.actions import Action, Kind
from bridge.apply.executor import Executor
from bridge.emulator.base import Fault
from bridge.errors import InputError
from bridge.market import BatchRefused
from bridge.models import State
from bridge.panels.prolific.adapter import connect

MONEY = ("bulk-approve-submissions", "transition-submission", "create-bonus-payments", "pay-bonus-payments")


def run(market, tmp_path, actions, kind=None):
    """Run the executor; the ledger's entries (of one kind, if given) by submission id (grants: group:participant)."""
    with ledger_at(tmp_path / "ledger.sqlite", market) as ledger:
        Executor(market, ledger).run(actions)
        entries = [e for e in ledger.entries().values() if kind is None or e.kind == kind]
    out = {e.submission_id or f"{e.group_id}:{e.participant_id}": e for e in entries}
    assert len(out) == len(entries), "one kind per run, or name the kind"
    return out


def test_approvals_go_in_one_bulk_call_and_are_confirmed_by_reading_back(emu, tmp_path):
    study, subs = seed(emu, 60)
    market = market_for(emu, study)
    entries = run(market, tmp_path, approvals(study, subs))
    assert {e.status for e in entries.values()} == {"done"}
    assert all("read back" in e.detail for e in entries.values())
    assert emu.calls["bulk-approve-submissions"] == 1 and emu.calls["transition-submission"] == 0
    assert {emu.submission(s).status for s in subs} == {"APPROVED"}
    assert market.requests == sum(emu.calls.values())


def test_a_refused_approval_is_skipped_never_done(emu, tmp_path):
    study, subs = seed(emu, 3)
    returned = emu.add_submission(study, pid(50), "RETURNED")
    actions = approvals(study, subs) + [Action(Kind.APPROVE, returned, pid(50), study),
                                       Action(Kind.BONUS, returned, pid(50), study, amount=Decimal("1.00"))]
    market = market_for(emu, study)
    approve = run(market, tmp_path, actions, kind="approve")
    assert approve[returned].status == "skipped" and "RETURNED on Prolific" in approve[returned].detail
    assert [approve[s].status for s in subs] == ["done"] * 3
    bonus = run(market, tmp_path, actions, kind="bonus")
    assert bonus[returned].status == "skipped" and "not sent" in bonus[returned].detail
    assert emu.calls["pay-bonus-payments"] == emu.calls["create-bonus-payments"] == 0
    assert emu.submission(returned).status == "RETURNED"


def test_an_approval_prolific_does_not_confirm_in_time_fails_and_a_later_run_settles_it(make_emu, tmp_path):
    emu = make_emu(async_delay=60)
    study, subs = seed(emu, 2)
    market = market_for(emu, study, confirm_seconds=0.3)
    entries = run(market, tmp_path, approvals(study, subs))
    assert {e.status for e in entries.values()} == {"failed"}
    assert all("not confirmed by Prolific yet; run again" in e.detail for e in entries.values())
    emu.settle()
    entries = run(market, tmp_path, approvals(study, subs))
    assert {e.status for e in entries.values()} == {"done"}
    assert emu.balance == Decimal("10000.00") - 2 * Decimal("2.00")  # each paid once (1.50 + 0.50 fee)


def test_a_bulk_approval_prolific_refuses_is_refused_whole_for_the_executor_to_split(emu):
    # SPEC §12: the adapter no longer fails every member; it says the batch was refused
    # (BatchRefused) and the executor splits it (tests/prolific_apply/test_prolific_safety.py).
    study, subs = seed(emu, 2)
    market = market_for(emu, study)
    with pytest.raises(BatchRefused) as refused:
        market.approve(approvals(study, subs) + [Action(Kind.APPROVE, "f" * 24, pid(9), study)])
    assert "f" * 24 in str(refused.value) and not refused.value.transient
    emu.settle()
    assert {emu.submission(s).status for s in subs} == {"AWAITING REVIEW"}


def test_rejections_carry_their_category_and_message(emu, tmp_path):
    study, subs = seed(emu, 6)
    approved = emu.add_submission(study, pid(40), "APPROVED")
    actions = [Action(Kind.REJECT, s, pid(i), study, text=REJECTION, category="NO_DATA") for i, s in enumerate(subs)]
    actions.append(Action(Kind.REJECT, approved, pid(40), study, text=REJECTION, category="NO_DATA"))
    entries = run(market_for(emu, study), tmp_path, actions)
    assert [entries[s].status for s in subs] == ["done"] * 6
    assert entries[approved].status == "skipped" and "APPROVED on Prolific" in entries[approved].detail
    for s in subs:
        record = emu.submission(s)
        assert (record.status, record.rejection_category, record.rejection_message) == ("REJECTED", "NO_DATA",
                                                                                         REJECTION)


def test_a_rejection_prolific_refuses_as_invalid_fails_with_its_reason(emu, tmp_path):
    study, subs = seed(emu, 1)
    entries = run(market_for(emu, study), tmp_path, [Action(Kind.REJECT, subs[0], pid(0), study, text="too short",
                                                            category="NO_DATA")])
    assert entries[subs[0]].status == "failed" and "at least 100 characters" in entries[subs[0]].detail
    assert emu.submission(subs[0]).status == "AWAITING REVIEW"


def test_bonuses_are_set_up_200_at_a_time_then_paid_once_each(emu, tmp_path):
    study, subs = seed(emu, 250, status="APPROVED")
    market = market_for(emu, study)
    entries = run(market, tmp_path, bonuses(study, subs, "0.75"))
    assert {e.status for e in entries.values()} == {"done"}
    assert emu.calls["create-bonus-payments"] == 2 and emu.calls["pay-bonus-payments"] == 2
    sizes = sorted(len(ex.request_body["csv_bonuses"].splitlines()) for ex in emu.exchanges
                   if ex.name == "create-bonus-payments")
    assert sizes == [50, 200]
    emu.settle()
    assert all(emu.bonus_payments(s) == [Decimal("0.75")] for s in subs)
    # A second run pays nothing more: the ledger says done.
    before = sum(emu.calls[name] for name in MONEY)
    run(market, tmp_path, bonuses(study, subs, "0.75"))
    assert sum(emu.calls[name] for name in MONEY) == before


def test_a_bonus_prolific_already_shows_is_not_paid_again(emu, tmp_path):
    study, subs = seed(emu, 3, status="APPROVED")
    emu.submission(subs[1]).bonus_payments.append(Decimal(75))  # paid by hand, in pence
    entries = run(market_for(emu, study), tmp_path, bonuses(study, subs, "0.75"))
    assert {e.status for e in entries.values()} == {"done"} and "already paid" in entries[subs[1]].detail
    emu.settle()
    assert [emu.bonus_payments(s) for s in subs] == [[Decimal("0.75")]] * 3


def test_a_throttled_pay_is_retried_and_pays_once(emu, tmp_path):
    study, subs = seed(emu, 2, status="APPROVED")
    emu.faults.script["pay-bonus-payments"] = [Fault.THROTTLE]
    entries = run(market_for(emu, study), tmp_path, bonuses(study, subs))
    assert {e.status for e in entries.values()} == {"done"}
    assert emu.calls["pay-bonus-payments"] == 2  # the 429 (nothing paid) and the retry
    emu.settle()
    assert [emu.bonus_payments(s) for s in subs] == [[Decimal("0.75")]] * 2


def test_groups_get_every_participant_in_one_call(emu, tmp_path):
    study, subs = seed(emu, 30, status="APPROVED")
    prev, eligible = emu.add_group("Prev"), emu.add_group("Eligible", participant_ids=[pid(0)])
    actions = [Action(Kind.GRANT, participant_id=pid(i), group_id=g, role=role)
               for i in range(30) for g, role in ((prev, "prev_worker"), (eligible, "eligible_worker"))]
    entries = run(market_for(emu, study), tmp_path, actions)
    assert len(entries) == 60 and {e.status for e in entries.values()} == {"done"}
    assert sorted(emu.group_members(prev)) == sorted(emu.group_members(eligible)) == [pid(i) for i in range(30)]
    assert emu.calls["add-to-participant-group"] == 2


def test_balance_and_groups_for_the_preflight(emu):
    study, _ = seed(emu, 1)
    group = emu.add_group()
    market = market_for(emu, study)
    assert market.account_balance() == Decimal("10000.00")
    assert market.group_exists(group) and not market.group_exists("c" * 24)
    assert (market.panel, market.environment, market.pay_repeats) == ("Prolific", "local", True)
    assert market.where.startswith("the Prolific emulator at http://127.0.0.1:")


def test_connect_resolves_the_token_and_the_study_before_any_request(emu):
    study, _ = seed(emu, 1)
    with pytest.raises(InputError, match="PROLIFIC_API_TOKEN is not set"):
        connect(settings_for(emu.url, study), {})
    with pytest.raises(InputError, match=r"set \[prolific\] study_id"):
        connect(settings_for(emu.url, None, csv_path="export.csv"), ENV)
    market = connect(settings_for(emu.url, None, csv_path=f"data/prolific_export_{study}.csv"), ENV)
    assert market.study_id == study and not emu.calls
    assert market.states([]) == {} and not emu.calls  # nothing asked: no call
    assert market.words.of(State.PENDING) == "AWAITING REVIEW"


def test_workspace_id_from_the_config_skips_reading_the_study(emu):
    study, _ = seed(emu, 1)
    market = connect(SimpleNamespace(prolific=SimpleNamespace(study_id=study, csv=None, environment=emu.url,
                                                              workspace_id=emu.workspace_id)), ENV)
    assert market.account_balance() == Decimal("10000.00") and emu.calls["get-study"] == 0
