"""Participant groups (Prolific's "previous / eligible workers") and messages over plain HTTP."""

from __future__ import annotations

from prolific_support import pid, seed_study


def _members(api, group):
    return [m["participant_id"] for m in api.get(f"/api/v1/participant-groups/{group}/participants/").json()["results"]]


def test_adding_twice_is_harmless(emu, api):
    group = emu.add_group("prev_worker")
    for _ in range(2):
        answer = api.post(f"/api/v1/participant-groups/{group}/participants/",
                          json={"participant_ids": [pid(1), pid(2), pid(1)]})
        assert answer.status_code == 200
        assert [m["participant_id"] for m in answer.json()["results"]] == [pid(1), pid(2)]
    assert emu.group_members(group) == [pid(1), pid(2)]
    assert api.get(f"/api/v1/participant-groups/{group}/").json()["participant_count"] == 2


def test_remove_ignores_non_members(emu, api):
    group = emu.add_group(participant_ids=[pid(1), pid(2)])
    answer = api.delete(f"/api/v1/participant-groups/{group}/participants/", json={"participant_ids": [pid(2), pid(5)]})
    assert answer.status_code == 200 and _members(api, group) == [pid(1)]


def test_create_list_patch_overwrites_and_delete(emu, api):
    created = api.post("/api/v1/participant-groups/",
                       json={"name": "eligible", "workspace_id": emu.workspace_id, "participant_ids": [pid(1)]})
    assert created.status_code == 201
    group = created.json()["id"]
    assert len(group) == 24 and created.json()["workspace_id"] == emu.workspace_id
    listed = api.get("/api/v1/participant-groups/", params={"workspace_id": emu.workspace_id}).json()
    assert [g["id"] for g in listed["results"]] == [group] and listed["meta"]["count"] == 1
    patched = api.patch(f"/api/v1/participant-groups/{group}/", json={"name": "renamed", "participant_ids": [pid(3)]})
    assert patched.json()["name"] == "renamed" and _members(api, group) == [pid(3)]
    deleted = api.delete(f"/api/v1/participant-groups/{group}/")
    assert deleted.status_code == 204 and deleted.content == b""
    assert api.get(f"/api/v1/participant-groups/{group}/").status_code == 404


def test_groups_need_a_workspace_and_a_name(emu, api):
    assert api.get("/api/v1/participant-groups/").status_code == 400
    nameless = api.post("/api/v1/participant-groups/", json={"workspace_id": emu.workspace_id})
    assert nameless.status_code == 400 and nameless.json()["error"]["detail"] == {"name": ["This field is required."]}
    listed = api.post("/api/v1/participant-groups/0123456789abcdef01234567/participants/", json={"participant_ids": []})
    assert listed.status_code == 404


def test_messages_one_bulk_and_group(emu, api):
    study, _ = seed_study(emu, 3)
    group = emu.add_group(participant_ids=[pid(0), pid(2)])
    one = api.post("/api/v1/messages/", json={"recipient_id": pid(0), "body": "Thanks!", "study_id": study})
    assert one.status_code == 204 and one.content == b""
    bulk = api.post("/api/v1/messages/bulk/", json={"ids": [pid(1), pid(2)], "body": "Bonus coming", "study_id": study})
    assert bulk.status_code == 204
    to_group = api.post("/api/v1/messages/participant-group/", json={"participant_group_id": group, "body": "Hi"})
    assert to_group.status_code == 204
    assert [(m.recipient_id, m.body) for m in emu.messages] == [
        (pid(0), "Thanks!"), (pid(1), "Bonus coming"), (pid(2), "Bonus coming"), (pid(0), "Hi"), (pid(2), "Hi")]
    mine = api.get("/api/v1/messages/", params={"user_id": pid(0)}).json()["results"]
    assert [m["body"] for m in mine] == ["Thanks!", "Hi"] and mine[0]["sender_id"] == emu.user_id
    assert mine[0]["data"] == {"study_id": study}
    assert api.get("/api/v1/messages/unread/").json() == {"results": []}


def test_messages_only_reach_participants_of_the_study(emu, api):
    study, _ = seed_study(emu, 1)
    stranger = api.post("/api/v1/messages/bulk/", json={"ids": [pid(0), pid(7)], "body": "x", "study_id": study})
    assert stranger.status_code == 400 and pid(7) in str(stranger.json()["error"]["detail"])
    missing = api.post("/api/v1/messages/", json={"recipient_id": pid(0), "body": "x"})
    assert missing.status_code == 400 and missing.json()["error"]["detail"] == {"study_id": ["This field is required."]}
    assert emu.messages == [] and api.get("/api/v1/messages/").status_code == 400
