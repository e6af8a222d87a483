"""Injected faults: throttling, failures before and after the change, latency."""

from __future__ import annotations

from decimal import Decimal

import pytest
from botocore.exceptions import ClientError
from mturk_support import WORKER, ScriptedFaults, error_of, make_client

from bridge.emulator.base import Fault


def test_throttling_above_the_rate(make_emu):
    emu = make_emu(rate_limit=2)
    client = make_client(emu.url, retries=0)
    outcomes = []
    for _ in range(30):
        try:
            client.get_account_balance()
            outcomes.append("ok")
        except ClientError as e:
            code, message, _, status = error_of(e)
            assert (code, message, status) == ("ThrottlingException", "Rate exceeded", 400)
            outcomes.append("throttled")
    assert outcomes[0] == "ok" and "throttled" in outcomes
    assert emu.calls["GetAccountBalance"] == 30


def test_failure_before_the_change_leaves_state_alone(emu):
    hit = emu.add_hit(reward="1.00")
    aid = emu.add_assignment(hit, WORKER)
    emu.faults = ScriptedFaults(Fault.FAIL_BEFORE)
    client = make_client(emu.url, retries=0)
    with pytest.raises(client.exceptions.ServiceFault) as e:
        client.approve_assignment(AssignmentId=aid)
    assert error_of(e)[3] == 500
    assert emu.assignment(aid).status == "Submitted" and emu.balance == Decimal("10000.00")


def test_failure_after_the_change_took_effect(emu):
    hit = emu.add_hit(reward="1.00")
    aid = emu.add_assignment(hit, WORKER)
    emu.faults = ScriptedFaults(Fault.FAIL_AFTER)
    client = make_client(emu.url, retries=0)
    with pytest.raises(ClientError) as e:
        client.approve_assignment(AssignmentId=aid)
    code, _, _, status = error_of(e)
    assert code == "ServiceFault" and status >= 500
    assert emu.assignment(aid).status == "Approved"
    assert emu.balance == Decimal("10000.00") - Decimal("1.20")
    # What a naive retry then sees:
    with pytest.raises(client.exceptions.RequestError):
        client.approve_assignment(AssignmentId=aid)


def test_boto3_retry_after_a_lost_answer_meets_the_idempotency_token(emu):
    aid = emu.add_assignment(emu.add_hit(), WORKER, status="Approved")
    emu.faults = ScriptedFaults(Fault.FAIL_AFTER)
    client = make_client(emu.url, retries=2)  # botocore retries the 5xx itself
    with pytest.raises(client.exceptions.RequestError) as e:
        client.send_bonus(WorkerId=WORKER, AssignmentId=aid, BonusAmount="1.00", Reason="r",
                          UniqueRequestToken="once")
    assert "has already been processed" in error_of(e)[1]
    assert len(emu.bonuses) == 1 and emu.calls["SendBonus"] == 2


def test_fail_rate_fails_every_call_and_half_after_the_change(make_emu):
    emu = make_emu(fail_rate=1.0, fault_seed=7)
    hit = emu.add_hit(max_assignments=40)
    ids = [emu.add_assignment(hit, f"AW{i:03d}") for i in range(40)]
    client = make_client(emu.url, retries=0)
    for aid in ids:
        with pytest.raises(client.exceptions.ServiceFault):
            client.approve_assignment(AssignmentId=aid)
    approved = sum(emu.assignment(aid).status == "Approved" for aid in ids)
    assert 0 < approved < 40


def test_latency_still_answers(make_emu):
    emu = make_emu(latency_ms=20)
    assert make_client(emu.url).get_account_balance()["AvailableBalance"] == "10000.00"
