"""Drive the emulator with `pyrolific`, a client generated from Prolific's own (2025) OpenAPI
file, unmodified but for its base URL. Where that older client disagrees with the 2026 file
the emulator follows, the 2026 file wins; each such place is shown and commented."""

from __future__ import annotations

import pytest
from prolific_support import REJECTION, TOKEN, pid, seed_study
from pyrolific import AuthenticatedClient
from pyrolific import models as m
from pyrolific.api.bonuses import create_bonus_payments, pay_bonus_payments
from pyrolific.api.messages import get_messages, post_api_v1_messages_bulk, send_message
from pyrolific.api.participant_groups import (
    add_to_participant_group,
    create_participant_group,
    get_participant_group_participants,
    get_participant_groups,
    remove_from_participant_group,
)
from pyrolific.api.studies import get_study, get_study_submissions
from pyrolific.api.submissions import bulk_approve_submissions, get_submission, get_submissions, transition_submission
from pyrolific.api.users import get_user
from pyrolific.api.workspaces import get_workspace_balance
from pyrolific.errors import UnexpectedStatus

AUTH = f"Token {TOKEN}"  # most generated functions take the header as an argument as well


@pytest.fixture
def client(emu):
    # Prolific's scheme is "Token", not the generator's default "Bearer" (FACTS 1.1).
    with AuthenticatedClient(base_url=emu.url, token=TOKEN, prefix="Token") as c:
        yield c


def test_user_study_and_balance(emu, client):
    study, _ = seed_study(emu, 2)
    assert get_user.sync(client=client, authorization=AUTH).id == emu.user_id
    parsed = get_study.sync(study, client=client, authorization=AUTH)
    assert parsed.id == study and parsed.reward == 150 and parsed.status == m.StudyStatus.ACTIVE
    assert parsed.additional_properties["currency_code"] == "GBP"  # real but undocumented (FACTS 1.9)
    balance = get_workspace_balance.sync(emu.workspace_id, client=client, authorization=AUTH)
    assert balance.total_balance == balance.available_balance == 1_000_000


def test_list_get_and_transition(emu, client):
    study, subs = seed_study(emu, 3)
    listed = get_submissions.sync(client=client, study=study, authorization=AUTH)
    assert sorted(s.id for s in listed.results) == sorted(subs)
    assert listed.results[0].status == m.SubmissionShortStatus.AWAITING_REVIEW
    assert listed.additional_properties["meta"] == {"count": 3}  # pagination fields: not in either file
    detail = get_submission.sync(subs[0], client=client, authorization=AUTH)
    assert detail.participant == pid(0) and detail.entered_code == "C1A2B3C4" and detail.bonus_payments == []
    approved = transition_submission.sync(subs[0], client=client, authorization=AUTH,
                                          body=m.SubmissionTransition(action=m.SubmissionTransitionAction.APPROVE))
    assert approved.status == m.SubmissionStatus.APPROVED
    rejected = transition_submission.sync(
        subs[1], client=client, authorization=AUTH,
        body=m.SubmissionTransition(action=m.SubmissionTransitionAction.REJECT, message=REJECTION,
                                    rejection_category=m.SubmissionTransitionRejectionCategory.FAILED_CHECK))
    assert rejected.status == m.SubmissionStatus.REJECTED


def test_a_short_rejection_is_an_error_the_client_sees_as_a_400(emu, client):
    _, subs = seed_study(emu, 1)
    body = m.SubmissionTransition(action=m.SubmissionTransitionAction.REJECT, message="No.",
                                  rejection_category=m.SubmissionTransitionRejectionCategory.LOW_EFFORT)
    answer = transition_submission.sync_detailed(subs[0], client=client, authorization=AUTH, body=body)
    assert answer.status_code == 400 and answer.parsed is None  # the client parses only the 200


def test_timed_out_is_the_2026_spelling(emu, client):
    """The 2025 file (pyrolific) spells the list status `TIME-OUT`; the 2026 file says
    `TIMED-OUT` (FACTS 1.5). The emulator answers the 2026 value, so pyrolific's list model
    fails to parse it: the raw body is what counts."""
    study, _ = seed_study(emu, 1)
    emu.add_submission(study, pid(8), "TIMED-OUT")
    with pytest.raises(ValueError, match="TIMED-OUT"):
        get_submissions.sync_detailed(client=client, study=study, authorization=AUTH)
    raw = client.get_httpx_client().get("/api/v1/submissions/", params={"study": study})
    assert sorted(s["status"] for s in raw.json()["results"]) == ["AWAITING REVIEW", "TIMED-OUT"]
    assert "TIMED-OUT" not in {s.value for s in m.SubmissionShortStatus}


def test_paging_needs_the_next_link_the_old_client_does_not_follow(emu, client):
    """pyrolific's get_submissions sends only `study` (no `page`): it sees the first 20.
    The rest is reached through `_links.next` (FACTS 1.4), parsed with pyrolific's model."""
    study, subs = seed_study(emu, 25)
    first = get_submissions.sync_detailed(client=client, study=study, authorization=AUTH)
    assert len(first.parsed.results) == 20
    seen = [s.id for s in first.parsed.results]
    href = first.parsed.additional_properties["_links"]["next"]["href"]
    while href:
        page = m.SubmissionListResponse.from_dict(client.get_httpx_client().get(href).json())
        seen += [s.id for s in page.results]
        href = page.additional_properties["_links"]["next"]["href"]
    assert sorted(seen) == sorted(subs)
    assert len(get_study_submissions.sync(study, client=client, authorization=AUTH).results) == 20


def test_bulk_approve_then_read_back(emu, client):
    _, subs = seed_study(emu, 3)
    answer = bulk_approve_submissions.sync(client=client, authorization=AUTH, body=m.SubmissionIDs(submission_ids=subs))
    assert answer == "The request to bulk approve has been made successfully."
    emu.settle()
    statuses = {get_submission.sync(s, client=client, authorization=AUTH).status for s in subs}
    assert statuses == {m.SubmissionDetailStatus.APPROVED}


def test_bonus_set_up_and_paid_twice(emu, client):
    study, subs = seed_study(emu, 2)
    bonus = create_bonus_payments.sync(client=client, authorization=AUTH, body=m.CreateBonusPaymentsBody(
        study_id=study, csv_bonuses=f"{subs[0]},2.00\n{pid(1)},1.00\n"))
    assert (bonus.amount, bonus.fees, bonus.vat, bonus.total_amount) == (300.0, 100.0, 0.0, 400.0)
    for _ in range(2):  # NOT idempotent (FACTS 1.8)
        assert pay_bonus_payments.sync_detailed(bonus.id, client=client, authorization=AUTH).status_code == 202
    emu.settle()
    assert get_submission.sync(subs[0], client=client, authorization=AUTH).bonus_payments == [200, 200]
    assert get_workspace_balance.sync(emu.workspace_id, client=client, authorization=AUTH).total_balance == 1_000_000 - 800


def test_pay_an_unknown_bonus_raises_with_raise_on_unexpected_status(emu):
    # A 404 is undeclared in both files: a strict client raises rather than guess.
    with AuthenticatedClient(base_url=emu.url, token=TOKEN, prefix="Token", raise_on_unexpected_status=True) as c:
        with pytest.raises(UnexpectedStatus) as caught:
            pay_bonus_payments.sync_detailed("0123456789abcdef01234567", client=c, authorization=AUTH)
    assert caught.value.status_code == 404


def test_participant_groups(emu, client):
    group = create_participant_group.sync(client=client, body=m.CreateParticipantGroupBody(
        name="prev_worker", workspace_id=emu.workspace_id, participant_ids=[pid(1)]))
    added = add_to_participant_group.sync(group.id, client=client, body=m.ParticipantIDList(participant_ids=[pid(1), pid(2)]))
    assert [x.participant_id for x in added.results] == [pid(1), pid(2)]
    removed = remove_from_participant_group.sync(group.id, client=client, body=m.ParticipantIDList(participant_ids=[pid(1)]))
    assert [x.participant_id for x in removed.results] == [pid(2)]
    assert [x.participant_id for x in get_participant_group_participants.sync(group.id, client=client).results] == [pid(2)]


def test_listing_groups_uses_the_flat_workspace_id(emu, client):
    """pyrolific puts the spec's `filter` object into one `filter=` parameter (Python's repr
    of a dict); the real API takes the flat `workspace_id=` (FACTS 1.10), which is also how
    OpenAPI's default form/explode style serialises that object. The emulator follows the
    real API: pyrolific's call is a 400, the flat one works and pyrolific's model parses it."""
    group = emu.add_group("eligible")
    odd = get_participant_groups.sync_detailed(client=client, filter_=m.WorkspaceID(workspace_id=emu.workspace_id))
    assert odd.status_code == 400
    flat = client.get_httpx_client().get("/api/v1/participant-groups/", params={"workspace_id": emu.workspace_id})
    assert [g.id for g in m.ParticipantGroupListResponse.from_dict(flat.json()).results] == [group]


def test_messages(emu, client):
    study, _ = seed_study(emu, 2)
    sent = send_message.sync_detailed(client=client, authorization=AUTH,
                                      body=m.SendMessage(recipient_id=pid(0), body="Thanks", study_id=study))
    assert sent.status_code == 204
    bulk = post_api_v1_messages_bulk.sync_detailed(client=client, authorization=AUTH,
                                                   body=m.SendBulkMessage(ids=[pid(0), pid(1)], body="Bonus", study_id=study))
    assert bulk.status_code == 204
    mine = get_messages.sync(client=client, user_id=pid(0), authorization=AUTH)
    assert [x.body for x in mine.results] == ["Thanks", "Bonus"]
    # `id` is in the 2026 Message schema, not in the 2025 one pyrolific was built from.
    assert mine.results[0].additional_properties["id"] == emu.messages[0].id
