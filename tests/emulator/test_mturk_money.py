"""Balance, fees, bonuses, idempotency tokens and insufficient funds."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from mturk_support import OTHER_WORKER, WORKER, error_of, make_client

from bridge.panels.mturk.emulator.state import bonus_fee, reward_fee

INSUFFICIENT = "This Requester has insufficient funds in their account to complete this transaction."


def test_fee_schedule():
    assert reward_fee(Decimal("1.50"), 10) == Decimal("0.60")  # 20% + 20% for 10+ assignments
    assert reward_fee(Decimal("1.50"), 9) == Decimal("0.30")
    assert reward_fee(Decimal("0.05"), 500) == Decimal("0.02")
    assert reward_fee(Decimal("0.01"), 1) == Decimal("0.01")  # minimum fee
    assert reward_fee(Decimal("0.33"), 1) == Decimal("0.07")
    assert reward_fee(Decimal("0.10"), 1, masters=True) == Decimal("0.03")  # 0.025 half-up
    assert reward_fee(Decimal("0.00"), 20) == Decimal("0.00")
    assert bonus_fee(Decimal("1.00")) == Decimal("0.20")
    assert bonus_fee(Decimal("0.02")) == Decimal("0.01")
    assert isinstance(bonus_fee(Decimal("3")), Decimal)


def test_balance_after_approval_and_bonus_to_the_cent(emu, client):
    hit = emu.add_hit(reward="1.50", max_assignments=10)
    aid = emu.add_assignment(hit, WORKER)
    client.approve_assignment(AssignmentId=aid)
    assert client.get_account_balance()["AvailableBalance"] == "9997.90"  # 1.50 + 0.60
    client.send_bonus(WorkerId=WORKER, AssignmentId=aid, BonusAmount="1.00", Reason="Top-up",
                      UniqueRequestToken="wave3-" + aid)
    assert client.get_account_balance()["AvailableBalance"] == "9996.70"  # 1.00 + 0.20
    assert emu.balance == Decimal("9996.70") and emu.fees_charged == Decimal("0.80")
    [bonus] = emu.bonuses
    assert (bonus.amount, bonus.fee, bonus.worker_id, bonus.token) == (Decimal("1.00"), Decimal("0.20"), WORKER,
                                                                       "wave3-" + aid)


def test_masters_hit_costs_five_percent_more(emu, client):
    hit = emu.add_hit(reward="0.10", qualification_requirements=[
        {"QualificationTypeId": "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH", "Comparator": "Exists"}])
    client.approve_assignment(AssignmentId=emu.add_assignment(hit, WORKER))
    assert emu.balance == Decimal("10000.00") - Decimal("0.13")


def test_same_token_twice_refused_then_accepted_after_24_hours(emu, client, clock):
    hit = emu.add_hit()
    aid = emu.add_assignment(hit, WORKER, status="Approved")
    args = dict(WorkerId=WORKER, AssignmentId=aid, BonusAmount="2.50", Reason="Bonus", UniqueRequestToken="tok-1")
    client.send_bonus(**args)
    with pytest.raises(client.exceptions.RequestError) as e:
        client.send_bonus(**args)
    assert re.fullmatch(r'The idempotency token "tok-1" has already been processed\. \(\d{13}\)', error_of(e)[1])
    assert len(emu.bonuses) == 1
    clock.advance(hours=23, minutes=59)
    with pytest.raises(client.exceptions.RequestError):
        client.send_bonus(**args)
    clock.advance(minutes=1)
    client.send_bonus(**args)  # MTurk forgets tokens after 24 hours: a token alone is not enough
    assert len(emu.bonuses) == 2
    assert emu.balance == Decimal("10000.00") - 2 * Decimal("3.00")


def test_bonus_to_the_wrong_worker_or_a_missing_assignment(emu, client):
    hit = emu.add_hit()
    aid = emu.add_assignment(hit, WORKER, status="Approved")
    for worker, assignment in ((OTHER_WORKER, aid), (WORKER, "3MISSING")):
        with pytest.raises(client.exceptions.RequestError) as e:
            client.send_bonus(WorkerId=worker, AssignmentId=assignment, BonusAmount="1", Reason="r")
        _, message, turk, _ = error_of(e)
        assert turk == "AWS.MechanicalTurk.AssignmentDoesNotExist"
        assert re.fullmatch(rf"Assignment \[{assignment}\] does not exist\. \(\d{{13}}\)", message)
    assert emu.bonuses == []


def test_bonus_statuses_amounts_and_reason(emu, client):
    hit = emu.add_hit(max_assignments=3)
    submitted = emu.add_assignment(hit, WORKER)
    rejected = emu.add_assignment(hit, OTHER_WORKER, status="Rejected")
    client.send_bonus(WorkerId=WORKER, AssignmentId=submitted, BonusAmount="5", Reason="r")
    with pytest.raises(client.exceptions.RequestError):
        client.send_bonus(WorkerId=OTHER_WORKER, AssignmentId=rejected, BonusAmount="1", Reason="r")
    with pytest.raises(client.exceptions.RequestError):
        client.send_bonus(WorkerId=WORKER, AssignmentId=submitted, BonusAmount="0.00", Reason="r")
    with pytest.raises(client.exceptions.RequestError):
        client.send_bonus(WorkerId=WORKER, AssignmentId=submitted, BonusAmount="1", Reason="  ")
    assert [b.amount for b in emu.bonuses] == [Decimal("5.00")]


def test_insufficient_funds_for_an_approval(make_emu):
    emu = make_emu(balance=Decimal("2.00"))
    client = make_client(emu.url)
    hit = emu.add_hit(reward="1.50", max_assignments=10)
    aid = emu.add_assignment(hit, WORKER)
    with pytest.raises(client.exceptions.RequestError) as e:
        client.approve_assignment(AssignmentId=aid)  # 1.50 + 0.60 > 2.00
    _, message, turk, _ = error_of(e)
    assert message.startswith(INSUFFICIENT) and turk == "AWS.MechanicalTurk.InsufficientFunds"
    assert emu.assignment(aid).status == "Submitted" and emu.balance == Decimal("2.00")


def test_insufficient_funds_for_a_bonus_keeps_the_token_unused(make_emu):
    emu = make_emu(balance=Decimal("2.00"))
    client = make_client(emu.url)
    aid = emu.add_assignment(emu.add_hit(), WORKER, status="Approved")
    args = dict(WorkerId=WORKER, AssignmentId=aid, Reason="r", UniqueRequestToken="tok")
    with pytest.raises(client.exceptions.RequestError) as e:
        client.send_bonus(BonusAmount="1.68", **args)  # 1.68 + 0.34 = 2.02
    assert error_of(e)[1].startswith(INSUFFICIENT)
    client.send_bonus(BonusAmount="1.66", **args)  # 1.66 + 0.33 = 1.99; the token was not spent
    assert client.get_account_balance()["AvailableBalance"] == "0.01"


def test_list_bonus_payments_by_hit_or_assignment(emu, client):
    hit = emu.add_hit(max_assignments=30)
    other_hit = emu.add_hit()
    ids = [emu.add_assignment(hit, f"AW{i:03d}", status="Approved") for i in range(25)]
    for i, aid in enumerate(ids):
        client.send_bonus(WorkerId=f"AW{i:03d}", AssignmentId=aid, BonusAmount=f"0.{i + 10}", Reason="r")
    pages = list(client.get_paginator("list_bonus_payments").paginate(HITId=hit, PaginationConfig={"PageSize": 10}))
    assert len(pages) == 3
    payments = [p for page in pages for p in page["BonusPayments"]]
    assert [p["AssignmentId"] for p in payments] == ids
    assert payments[3]["BonusAmount"] == "0.13" and payments[3]["WorkerId"] == "AW003"
    assert "GrantTime" in payments[0] and payments[0]["Reason"] == "r"
    one = client.list_bonus_payments(AssignmentId=ids[7])
    assert one["NumResults"] == 1 and one["BonusPayments"][0]["BonusAmount"] == "0.17"
    assert client.list_bonus_payments(HITId=other_hit)["BonusPayments"] == []
    for kwargs in ({}, {"HITId": hit, "AssignmentId": ids[0]}):
        with pytest.raises(client.exceptions.RequestError):
            client.list_bonus_payments(**kwargs)
