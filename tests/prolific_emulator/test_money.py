"""Money over plain HTTP: asynchronous bulk approval, bonuses set up then paid (again on every
pay call), fees and VAT, the workspace balance and refusals for lack of funds."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from prolific_support import pid, seed_study

BULK_OK = "The request to bulk approve has been made successfully."


def _statuses(api, study):
    return [s["status"] for s in api.get(f"/api/v1/submissions/?study={study}").json()["results"]]


def test_bulk_approval_is_asynchronous(make_emu, make_api):
    emu = make_emu(async_delay=0.3)
    api = make_api(emu)
    study, subs = seed_study(emu, 3)
    answer = api.post("/api/v1/submissions/bulk-approve/", json={"submission_ids": subs})
    assert answer.status_code == 200 and answer.json() == BULK_OK
    assert _statuses(api, study) == ["AWAITING REVIEW"] * 3  # not yet
    assert emu.balance == Decimal("10000.00") and emu.available_balance == Decimal("9994.00")  # held back
    time.sleep(0.35)
    assert _statuses(api, study) == ["APPROVED"] * 3
    assert emu.balance == Decimal("9994.00") == emu.available_balance  # 3 x (1.50 + 0.50 fee)


def test_settle_finishes_queued_work_at_once(make_emu, make_api):
    emu = make_emu(async_delay=60)
    study, subs = seed_study(emu, 2)
    make_api(emu).post("/api/v1/submissions/bulk-approve/", json={"submission_ids": subs})
    assert emu.pending == 2 and emu.settle() == 2 and emu.pending == 0
    assert [emu.submission(s).status for s in subs] == ["APPROVED", "APPROVED"]


def test_bulk_approve_by_study_and_participants(emu, api):
    study, subs = seed_study(emu, 3)
    answer = api.post("/api/v1/submissions/bulk-approve/", json={"study_id": study, "participant_ids": [pid(0), pid(2)]})
    assert answer.status_code == 200
    emu.settle()
    assert [emu.submission(s).status for s in subs] == ["APPROVED", "AWAITING REVIEW", "APPROVED"]


def test_bulk_approve_refuses_unknown_ids_and_more_than_1000(emu, api):
    _, subs = seed_study(emu, 1)
    unknown = api.post("/api/v1/submissions/bulk-approve/", json={"submission_ids": subs + ["f" * 24]})
    assert unknown.status_code == 400 and "f" * 24 in str(unknown.json()["error"]["detail"])
    many = api.post("/api/v1/submissions/bulk-approve/", json={"submission_ids": subs * 1001})
    assert many.status_code == 400
    emu.settle()
    assert emu.submission(subs[0]).status == "AWAITING REVIEW"


def test_bulk_approve_refuses_a_submission_that_cannot_be_approved_and_skips_one_approved(emu, api):
    # SPEC §12: a bulk call is refused for one already-decided member (the executor then
    # splits it); an approval repeated is ignored, as a transition repeated is (FACTS 1.6).
    study, subs = seed_study(emu, 2)
    returned = emu.add_submission(study, pid(9), "RETURNED")
    refused = api.post("/api/v1/submissions/bulk-approve/", json={"submission_ids": subs + [returned]})
    assert refused.status_code == 400 and f"{returned} is RETURNED" in str(refused.json()["error"]["detail"])
    emu.settle()
    assert emu.submission(subs[0]).status == "AWAITING REVIEW" and emu.balance == Decimal("10000.00")
    assert api.post("/api/v1/submissions/bulk-approve/", json={"submission_ids": subs[:1]}).status_code == 200
    emu.settle()
    assert api.post("/api/v1/submissions/bulk-approve/", json={"submission_ids": subs}).status_code == 200
    emu.settle()
    assert [emu.submission(s).status for s in subs] == ["APPROVED", "APPROVED"]
    assert emu.submission(returned).status == "RETURNED" and emu.balance == Decimal("9996.00")


def test_bonus_setup_fees_and_vat_in_minor_units(make_emu, make_api):
    emu = make_emu(fee_rate="0.333", vat_rate="0.20")
    study, subs = seed_study(emu, 2)
    answer = make_api(emu).post("/api/v1/submissions/bonus-payments/",
                               json={"study_id": study, "csv_bonuses": f"{subs[0]},8.50\n{pid(1)},1\n"})
    assert answer.status_code == 201
    body = answer.json()
    # 850 -> fee 283.05 -> 283, VAT 56.6 -> 57; 100 -> fee 33.3 -> 33, VAT 6.6 -> 7 (half-up per bonus).
    assert body["study"] == study
    assert (body["amount"], body["fees"], body["vat"], body["total_amount"]) == (950.0, 316.0, 64.0, 1330.0)
    assert emu.balance == Decimal("10000.00")  # setting up pays nothing


def test_paying_twice_pays_twice(emu, api):
    study, subs = seed_study(emu, 2)
    bonus = api.post("/api/v1/submissions/bonus-payments/",
                     json={"study_id": study, "csv_bonuses": f"{subs[0]},1.50\n{pid(1)},0.75"}).json()
    assert bonus["total_amount"] == 300.0  # 225 + 75 fee
    for _ in range(2):
        paid = api.post(f"/api/v1/bulk-bonus-payments/{bonus['id']}/pay/")
        assert paid.status_code == 202 and isinstance(paid.json(), str)
    assert api.get(f"/api/v1/submissions/{subs[0]}/").json()["bonus_payments"] == []  # asynchronous
    emu.settle()
    assert api.get(f"/api/v1/submissions/{subs[0]}/").json()["bonus_payments"] == [150, 150]
    assert emu.bonus_payments(subs[1]) == [Decimal("0.75"), Decimal("0.75")]
    assert emu.balance == Decimal("10000.00") - 2 * Decimal("3.00")
    assert emu.bulk_bonus(bonus["id"]).payments_made == 2


def test_bonus_ids_that_did_not_take_part_are_named(emu, api):
    study, subs = seed_study(emu, 1)
    other = emu.add_study()
    stranger = emu.add_submission(other, pid(8))
    answer = api.post("/api/v1/submissions/bonus-payments/",
                      json={"study_id": study, "csv_bonuses": f"{subs[0]},1.00\n{stranger},1.00\n{pid(9)},2.00"})
    assert answer.status_code == 400
    detail = " ".join(answer.json()["error"]["detail"])
    assert stranger in detail and pid(9) in detail and subs[0] not in detail


@pytest.mark.parametrize("csv", ["abc", "x,-1", "x,1.005", ",1.00", ""])
def test_malformed_bonus_csv_is_a_400(emu, api, csv):
    study, _ = seed_study(emu, 1)
    answer = api.post("/api/v1/submissions/bonus-payments/", json={"study_id": study, "csv_bonuses": csv})
    assert answer.status_code == 400


def test_paying_an_unknown_bonus_is_not_found(emu, api):
    answer = api.post("/api/v1/bulk-bonus-payments/0123456789abcdef01234567/pay/")
    assert answer.status_code == 404 and answer.json() == {"detail": "Not found."}


def test_balance_endpoint_and_insufficient_funds(make_emu, make_api):
    emu = make_emu(balance="3.00")
    api = make_api(emu)
    study, subs = seed_study(emu, 2)
    balance = api.get(f"/api/v1/workspaces/{emu.workspace_id}/balance/").json()
    assert balance["currency_code"] == "GBP" and balance["total_balance"] == 300
    assert sum(balance["balance_breakdown"].values()) == 300
    # Two approvals cost 4.00: refused whole, nothing queued.
    refused = api.post("/api/v1/submissions/bulk-approve/", json={"submission_ids": subs})
    assert refused.status_code == 400 and "Insufficient funds" in refused.json()["error"]["detail"]
    assert emu.pending == 0
    assert api.post(f"/api/v1/submissions/{subs[0]}/transition/", json={"action": "APPROVE"}).status_code == 200
    assert api.post(f"/api/v1/submissions/{subs[1]}/transition/", json={"action": "APPROVE"}).status_code == 400
    bonus = api.post("/api/v1/submissions/bonus-payments/", json={"study_id": study, "csv_bonuses": f"{subs[0]},1"})
    assert api.post(f"/api/v1/bulk-bonus-payments/{bonus.json()['id']}/pay/").status_code == 400  # 1.33 > 1.00
    assert emu.balance == Decimal("1.00")
    after = api.get(f"/api/v1/workspaces/{emu.workspace_id}/balance/").json()
    assert after["available_balance"] == 100 == after["total_balance"]


def test_the_study_cost_counts_approved_rewards_and_paid_bonuses_in_minor_units(make_emu, make_api):
    # GET /studies/{id}/cost/ (FACTS 1.9, StudyTotalCost): what the study has been charged.
    emu = make_emu(fee_rate="0.333", vat_rate="0.20")
    api = make_api(emu)
    study, subs = seed_study(emu, 3)
    other = emu.add_study()
    stranger = emu.add_submission(other, pid(50), entered_code="C1")
    api.post(f"/api/v1/submissions/{subs[0]}/transition/", json={"action": "APPROVE"})
    for s, amount in ((subs[0], "1.50"), (stranger, "9.00")):
        setup = api.post("/api/v1/submissions/bonus-payments/",
                         json={"study_id": emu.submission(s).study_id, "csv_bonuses": f"{s},{amount}"}).json()
        api.post(f"/api/v1/bulk-bonus-payments/{setup['id']}/pay/")
    emu.settle()
    cost = api.get(f"/api/v1/studies/{study}/cost/").json()
    # Reward 150 -> fee 49.95 -> 50, VAT 10; bonus 150 likewise; the other study's bonus is not here.
    assert cost["rewards"]["rewards"] == {"amount": 150.0, "currency": "GBP"}
    assert (cost["rewards"]["fees"]["amount"], cost["rewards"]["tax"]["amount"]) == (50.0, 10.0)
    assert (cost["bonuses"]["rewards"]["amount"], cost["bonuses"]["fees"]["amount"]) == (150.0, 50.0)
    projected = api.get(f"/api/v1/studies/{study}/cost/?is_projected=true").json()
    assert projected["rewards"]["rewards"]["amount"] == 150.0 * emu.study(study).total_available_places
    assert api.get("/api/v1/studies/0123456789abcdef01234567/cost/").status_code == 404


def test_a_bonus_set_up_that_misreads_its_amounts_answers_what_it_would_pay(emu, api):
    # The fault switch for the 100x trap (SPEC §12): the set-up's answer is what pay would send.
    study, subs = seed_study(emu, 1)
    emu.state.bonus_scale = Decimal(100)
    setup = api.post("/api/v1/submissions/bonus-payments/",
                     json={"study_id": study, "csv_bonuses": f"{subs[0]},1.50"}).json()
    assert setup["amount"] == 15000.0


def test_a_group_append_naming_a_malformed_participant_id_is_refused_whole(emu, api):
    group = emu.add_group("Prev")
    answer = api.post(f"/api/v1/participant-groups/{group}/participants/",
                      json={"participant_ids": [pid(1), "not-a-participant"]})
    assert answer.status_code == 400 and "not-a-participant" in str(answer.json()["error"]["detail"])
    assert emu.group_members(group) == []
