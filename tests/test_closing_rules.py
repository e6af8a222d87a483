"""The rest of a close-out in the pure core (SPEC §9): its config keys, the plan's revokes,
compensations, invitation and expiries, the actions they become (with their ledger
targets), their cost, and an edit that overrides a rejection."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from builders import NOW, asg, mturk, presp, prolific_settings, resp, settings, study, sub, survey

from bridge.actions import Action, Kind, plan_actions, task_token
from bridge.cost import plan_cost
from bridge.errors import ConfigError, InputError
from bridge.match import match_wave
from bridge.models import OVERRIDE_REASON, Decision, batch_scope
from bridge.rules import build_plan
from bridge.workbook.edits import apply_edits

QUALS = '[qualifications]\nprev_worker = "3PREV"\neligible_worker = "3ELIG"\n'


def plan_of(s, table, *responses):
    panel = s.panel
    return build_plan(match_wave(table, survey(*responses), panel.match_options(s)), s, table,
                      panel.terms(s, table), NOW, environment=panel.environment(s))


def problems(tmp_path: Path, extra: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        settings(tmp_path, extra)
    return info.value.problems


@pytest.mark.parametrize("extra, expected", [
    ('[qualifications]\nrevoke_eligible_on_flag = true\n', "revoke_eligible_on_flag = true needs [qualifications] "
                                                           "eligible_worker"),
    ('[notify]\neligible_message = "Hi"\n', "[notify] invites the participants granted"),
    (QUALS + '[notify]\neligible_message = "Hi"\n', "[notify] eligible_subject is required on MTurk"),
    (QUALS + '[notify]\neligible_subject = "Hi"\n', "eligible_subject is given without eligible_message"),
    (QUALS + f'[notify]\neligible_subject = "{"s" * 201}"\neligible_message = "Hi"\n',
     "is 201 characters; MTurk's NotifyWorkers accepts at most 200"),
    (QUALS + f'[notify]\neligible_subject = "S"\neligible_message = "{"m" * 4097}"\n', "at most 4096"),
    ('[compensation]\nreward = "0"\n', "[compensation] reward: must be more than 0"),
    ('[compensation]\nreward = "1.505"\n', "more than two decimals"),
    ('[compensation]\nrewrd = "1.50"\n', "did you mean reward?"),
])
def test_config_problems_name_the_key(tmp_path, extra, expected):
    found = problems(tmp_path, extra)
    assert any(expected in p for p in found), found


def test_mturk_keys_and_a_typo(tmp_path):
    s = settings(tmp_path).mturk
    assert (s.expire_hits, s.masters) == (False, False)
    path = tmp_path / "typo.toml"
    path.write_text((tmp_path / "wave.toml").read_text().replace("[mturk]\n", "[mturk]\nexpire_hit = true\n"))
    from bridge.config import load_config

    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert any("did you mean expire_hits?" in p for p in info.value.problems)


def test_revokes_go_to_the_flagged_of_this_wave(tmp_path):
    s = settings(tmp_path, QUALS.replace("[qualifications]\n", "[qualifications]\nrevoke_eligible_on_flag = true\n"))
    clean, flagged = asg("1000000", worker="ACLEAN"), asg("nope", worker="AFLAGGED")
    p = plan_of(s, mturk(clean, flagged), resp("1000000"))
    got = {(q.participant_id, q.group_id, q.action) for q in p.qualifications if q.group_id == "3ELIG"}
    assert got == {("ACLEAN", "3ELIG", "grant"), ("AFLAGGED", "3ELIG", "revoke")}
    revoke = next(a for a in plan_actions(p) if a.kind is Kind.REVOKE)
    assert (revoke.participant_id, revoke.group_id, revoke.target) == ("AFLAGGED", "3ELIG", "3ELIG:AFLAGGED")
    # Without the key, nobody loses anything.
    s2 = settings(tmp_path, QUALS)
    assert not [q for q in plan_of(s2, mturk(clean, flagged), resp("1000000")).qualifications if q.action == "revoke"]


def test_the_invitation_goes_to_each_eligible_grant(tmp_path):
    s = settings(tmp_path, QUALS + '[notify]\neligible_subject = "Next"\neligible_message = "Come back"\n')
    p = plan_of(s, mturk(asg("1000000", worker="ACLEAN"), asg("nope", worker="AFLAGGED")), resp("1000000"))
    (notify,) = [a for a in plan_actions(p) if a.kind is Kind.NOTIFY]
    assert (notify.participant_id, notify.group_id, notify.subject, notify.text, notify.target) == (
        "ACLEAN", "3ELIG", "Next", "Come back", "ACLEAN")


def test_a_compensation_hit_per_worker_who_finished_without_an_assignment(tmp_path):
    s = settings(tmp_path, '[compensation]\nreward = "1.50"\n')
    a = asg("1000000", worker="AONE")
    p = plan_of(s, mturk(a), resp("1000000", worker="AONE"),
                resp("2000000", worker="ALOST"), resp("2000001", worker="ALOST"),  # twice: one HIT
                resp("3000000", worker="AQUIT", finished=False),  # unfinished: none
                resp("4000000", worker="aone"))  # has an assignment (ids compared without case): none
    (c,) = p.compensations
    assert (c.participant_id, c.amount, c.fee, c.how, c.title) == ("ALOST", Decimal("1.50"), Decimal("0.30"), "task",
                                                                   "Compensation HIT for ALOST")
    (action,) = [x for x in plan_actions(p) if x.kind is Kind.COMPENSATE]
    # Named after the batch (its one HIT), not the wave: a renamed wave finds the same group.
    assert (action.participant_id, action.amount, action.group_id, action.target) == (
        "ALOST", Decimal("1.50"), f"Compensation for ALOST ({batch_scope(p.tasks)})", "ALOST")
    assert batch_scope(p.tasks) == next(iter(p.tasks)) and "w1" not in action.group_id
    cost = plan_cost(p)
    assert (cost.compensations, cost.compensation) == (1, Decimal("1.50"))
    assert cost.total == Decimal("1.50") + Decimal("0.60") + Decimal("1.50") + Decimal("0.30")
    token = task_token("local", "3HIT1", "ALOST")
    assert len(token) == 64 and token == task_token("local", "3HIT1", "ALOST") != task_token("local", "3HIT2", "ALOST")


def test_without_the_reward_or_a_worker_id_nothing_is_created(tmp_path):
    s = settings(tmp_path)
    assert plan_of(s, mturk(asg("1000000")), resp("1000000"), resp("2000000", worker="ALOST")).compensations == []
    s = settings(tmp_path, '[compensation]\nreward = "1.50"\n')
    (c,) = plan_of(s, mturk(asg("1000000")), resp("1000000"), resp("2000000")).compensations
    assert c.amount is None and "names no participant" in c.note
    assert not [x for x in plan_actions(plan_of(s, mturk(asg("1000000")), resp("1000000"), resp("2000000")))
                if x.kind is Kind.COMPENSATE]


def test_prolific_compensates_with_a_bonus_on_a_returned_submission(tmp_path):
    s = prolific_settings(tmp_path, '[compensation]\nreward = "2.00"\n')
    returned = sub("5f" + "1" * 22, status="RETURNED")
    table = study(sub("5f" + "0" * 22), returned)
    p = plan_of(s, table, presp("5f" + "0" * 22), presp("5f" + "1" * 22), presp("5f" + "2" * 22))
    paid, by_hand = p.compensations
    assert (paid.how, paid.submission_id, paid.amount) == ("bonus", returned.submission_id, Decimal("2.00"))
    assert (by_hand.how, by_hand.amount) == ("", None) and "a person must pay them" in by_hand.note
    (action,) = [x for x in plan_actions(p) if x.kind is Kind.COMPENSATE]
    assert (action.submission_id, action.amount) == (returned.submission_id, Decimal("2.00"))
    assert any("cannot be paid through Prolific's API" in w for w in p.warnings)
    d = next(d for d in p.decisions if d.submission_id == returned.submission_id)
    assert d.decision is Decision.REVIEW and any(n.startswith("compensation: a bonus of 2.00") for n in d.notes)


def test_expiring_is_one_action_per_task(tmp_path):
    s = settings(tmp_path, "")
    path = tmp_path / "wave.toml"
    path.write_text(path.read_text().replace("[mturk]\n", "[mturk]\nexpire_hits = true\n"))
    from bridge.config import load_config

    s = load_config(path)
    p = plan_of(s, mturk(asg("1000000", hit="3H1"), asg("2000000", hit="3H2")), resp("1000000"), resp("2000000"))
    assert p.expire_tasks
    assert [(a.task_id, a.target) for a in plan_actions(p) if a.kind is Kind.EXPIRE] == [("3H1", "3H1"), ("3H2", "3H2")]


def _rows(plan, decision_of: dict[str, str], bonus_of: dict[str, object] | None = None):
    bonus_of = bonus_of or {}
    return [(i + 2, {"AssignmentId": d.submission_id, "WorkerId": d.participant_id,
                     "Decision": decision_of.get(d.submission_id, d.decision.value),
                     "Bonus": bonus_of.get(d.submission_id, d.bonus), "Feedback": d.feedback})
            for i, d in enumerate(plan.decisions)]


def test_a_rejected_row_set_to_approve_overrides_the_rejection(tmp_path):
    s = settings(tmp_path, QUALS + '[bonus]\ncolumn = "bonus"\n')
    rejected = asg("1000000", worker="AWRONGED", status="Rejected")
    p = plan_of(s, mturk(rejected), resp("1000000", bonus="0.75"))
    d = p.decisions[0]
    assert (d.decision, d.bonus) == (Decision.REJECT, None) and "not_submitted" in d.reasons
    assert [a.kind for a in plan_actions(p)] == [Kind.GRANT]  # Prev_Worker only: nothing else is sent

    edited = apply_edits(p, _rows(p, {d.submission_id: "approve"}, {d.submission_id: 0.75}), s, Path("w.xlsx")).plan

    e = edited.decisions[0]
    assert e.overrides_rejection and OVERRIDE_REASON in e.reasons and e.bonus == Decimal("0.75")
    kinds = [(a.kind, a.submission_id or a.group_id) for a in plan_actions(edited)]
    assert (Kind.OVERRIDE, d.submission_id) in kinds and (Kind.BONUS, d.submission_id) in kinds
    assert (Kind.GRANT, "3ELIG") in kinds  # an overridden rejection counts as approved
    cost = plan_cost(edited)  # its reward, fee, bonus and bonus fee
    assert (cost.rewards, cost.bonuses, cost.fees) == (Decimal("1.50"), Decimal("0.75"), Decimal("0.75"))


def test_approved_work_still_cannot_be_set_to_reject(tmp_path):
    s = settings(tmp_path)
    p = plan_of(s, mturk(asg("1000000", status="Approved")), resp("1000000"))
    with pytest.raises(InputError, match="already Approved on MTurk; its decision cannot be changed here"):
        apply_edits(p, _rows(p, {p.decisions[0].submission_id: "reject"}), s, Path("w.xlsx"))


def test_ledger_targets_of_the_new_kinds():
    assert Action(Kind.OVERRIDE, "3A").target == "3A"
    assert Action(Kind.REVOKE, participant_id="AW", group_id="3Q").target == "3Q:AW"
    assert Action(Kind.NOTIFY, participant_id="AW", group_id="3Q").target == "AW"
    assert Action(Kind.COMPENSATE, "3A", participant_id="AW").target == "AW"
    assert Action(Kind.EXPIRE, task_id="3H").target == "3H"
