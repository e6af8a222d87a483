"""Rules: policies, bonuses, not_submitted, qualifications and warnings (pure, `now` passed in)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from builders import NOW, asg, mturk, resp, settings, survey

from bridge.cost import plan_cost
from bridge.match import match_wave
from bridge.models import Decision, Task
from bridge.rules import build_plan


def _plan(s, table, responses):
    panel = s.panel
    return build_plan(match_wave(table, survey(*responses), panel.match_options(s)), s, table,
                      panel.terms(s, table), NOW, environment=panel.environment(s))


def plan_for(tmp_path, assignments, responses, config=""):
    s = settings(tmp_path, config)
    table = mturk(*assignments)
    return _plan(s, table, responses)


@pytest.mark.parametrize(
    "config, submitted, decision, feedback_part",
    [
        ("", "nope", Decision.REVIEW, ""),
        ('[rules]\nunmatched = "reject"\n', "nope", Decision.REJECT, "does not match"),
        ('[rules]\nunmatched = "reject"\nreject_feedback = "No code, sorry."\n', "nope", Decision.REJECT, "No code, sorry."),
        ('[rules]\nunmatched = "reject"\n', "1000001", Decision.REVIEW, ""),  # near miss: never rejected
    ],
)
def test_unmatched_policy(tmp_path, config, submitted, decision, feedback_part):
    p = plan_for(tmp_path, [asg(submitted)], [resp("1000000")], config)
    d = p.decisions[0]
    assert d.decision is decision
    assert (feedback_part in d.feedback) if feedback_part else d.feedback == ""


@pytest.mark.parametrize(
    "policy, duration, decision",
    [("review", 30, Decision.REVIEW), ("reject", 30, Decision.REJECT), ("approve", 30, Decision.APPROVE),
     ("reject", 60, Decision.APPROVE), ("reject", None, Decision.REVIEW)],
)
def test_too_fast(tmp_path, policy, duration, decision):
    cfg = f'[rules]\nmin_duration_seconds = 60\ntoo_fast = "{policy}"\n'
    d = plan_for(tmp_path, [asg("1000000")], [resp("1000000", duration=duration)], cfg).decisions[0]
    assert d.decision is decision
    assert ("too_fast" in d.reasons) == (duration == 30)
    if decision is Decision.REJECT:
        assert "faster than the minimum" in d.feedback


@pytest.mark.parametrize(
    "answer, expected, failed",
    [("Blue", '"Blue"', False), (" blue ", '"Blue"', False), ("Red", '"Blue"', True), ("", '"Blue"', True),
     ("Navy", '["Blue", "Navy"]', False)],
)
def test_attention_checks(tmp_path, answer, expected, failed):
    cfg = f'[rules]\nattention_checks = [{{ column = "Q7", expected = {expected} }}]\nattention_failed = "reject"\n'
    d = plan_for(tmp_path, [asg("1000000")], [resp("1000000", Q7=answer)], cfg).decisions[0]
    assert ("attention_failed" in d.reasons) is failed
    assert d.decision is (Decision.REJECT if failed else Decision.APPROVE)


def test_review_outranks_reject(tmp_path):
    cfg = '[rules]\nmin_duration_seconds = 60\ntoo_fast = "reject"\n'
    a, b = asg("1000000"), asg("1000000")  # shared code: review
    d = plan_for(tmp_path, [a, b], [resp("1000000", duration=5)], cfg).decisions[0]
    assert d.decision is Decision.REVIEW and {"code_shared", "too_fast"} <= set(d.reasons)
    assert d.feedback == ""


BONUS = '[bonus]\ncolumn = "bonus"\nmax_per_worker = "5.00"\n'


@pytest.mark.parametrize(
    "text, bonus, reason, decision",
    [
        ("$1.50", "1.50", None, Decision.APPROVE),
        ("1.5", "1.50", None, Decision.APPROVE),
        ("0.125", "0.13", "bonus_rounded", Decision.APPROVE),
        ("0.124", "0.12", "bonus_rounded", Decision.APPROVE),
        ("7.00", "5.00", "bonus_capped", Decision.APPROVE),
        ("-1", None, "bonus_invalid", Decision.REVIEW),
        ("two dollars", None, "bonus_invalid", Decision.REVIEW),
        ("", None, None, Decision.APPROVE),
        ("0", None, None, Decision.APPROVE),
    ],
)
def test_bonus_column(tmp_path, text, bonus, reason, decision):
    d = plan_for(tmp_path, [asg("1000000")], [resp("1000000", bonus=text)], BONUS).decisions[0]
    assert d.bonus == (Decimal(bonus) if bonus else None)
    assert d.decision is decision
    if reason:
        assert reason in d.reasons


def test_bonus_cap_is_per_worker_across_assignments(tmp_path):
    a1 = asg("1000000", worker="ASAMEWORKER1", hit="3HITONE")
    a2 = asg("2000000", worker="ASAMEWORKER1", hit="3HITTWO")
    p = plan_for(tmp_path, [a1, a2], [resp("1000000", bonus="3.00"), resp("2000000", bonus="3.00")], BONUS)
    assert [d.bonus for d in p.decisions] == [Decimal("3.00"), Decimal("2.00")]
    assert "bonus_capped" in p.decisions[1].reasons


def test_bonus_only_for_approved_work(tmp_path):
    cfg = BONUS + '[rules]\nattention_checks = [{ column = "Q7", expected = "Blue" }]\nattention_failed = "reject"\n'
    d = plan_for(tmp_path, [asg("1000000")], [resp("1000000", bonus="1.00", Q7="Red")], cfg).decisions[0]
    assert d.decision is Decision.REJECT and d.bonus is None
    assert plan_cost(plan_for(tmp_path, [asg("1000000")], [resp("1000000", bonus="1.00", Q7="Red")], cfg)).bonuses == 0


@pytest.mark.parametrize(
    "status, decision, bonus, sends",
    # Work already decided shows the decision it has on MTurk (SPEC §9).
    [("Approved", Decision.APPROVE, Decimal("1.00"), False), ("Rejected", Decision.REJECT, None, False),
     ("Submitted", Decision.APPROVE, Decimal("1.00"), True)],
)
def test_not_submitted(tmp_path, status, decision, bonus, sends):
    d = plan_for(tmp_path, [asg("1000000", status=status)], [resp("1000000", bonus="1.00")], BONUS).decisions[0]
    assert d.decision is decision and d.bonus == bonus
    assert ("not_submitted" in d.reasons) is (status != "Submitted")
    assert d.sends_status_change is sends


def test_qualifications(tmp_path):
    cfg = '[qualifications]\nprev_worker = "3PREV"\neligible_worker = "3ELIG"\n[rules]\nunmatched = "reject"\n'
    clean = asg("1000000", worker="ACLEAN")
    rejected = asg("nope", worker="AREJECTED")
    approved_before = asg("2000000", worker="AEARLIER", status="Approved")
    p = plan_for(tmp_path, [clean, rejected, approved_before], [resp("1000000"), resp("2000000")], cfg)
    grants = {(q.participant_id, q.group_id) for q in p.qualifications}
    assert grants == {("ACLEAN", "3PREV"), ("AREJECTED", "3PREV"), ("AEARLIER", "3PREV"),
                      ("ACLEAN", "3ELIG"), ("AEARLIER", "3ELIG")}


def test_eligible_needs_every_assignment_of_the_worker_clean(tmp_path):
    cfg = '[qualifications]\neligible_worker = "3ELIG"\n'
    a1 = asg("1000000", worker="ATWO", hit="3H1")
    a2 = asg("nope", worker="ATWO", hit="3H2")
    p = plan_for(tmp_path, [a1, a2], [resp("1000000")], cfg)
    assert p.qualifications == []


def test_cost_and_fees(tmp_path):
    # 3 approvals of 1.50 on a 20-assignment HIT: fee 40% = 0.60 each; bonus 1.00 → fee 0.20.
    p = plan_for(tmp_path, [asg("1000000"), asg("2000000"), asg("3000000")],
                 [resp("1000000", bonus="1.00"), resp("2000000"), resp("3000000")], BONUS)
    c = plan_cost(p)
    assert (c.approvals, c.rewards, c.bonuses, c.fees, c.total) == (
        3, Decimal("4.50"), Decimal("1.00"), Decimal("2.00"), Decimal("7.50"))


def test_warning_names_the_first_auto_approval(tmp_path):
    p = plan_for(tmp_path, [asg("nope", auto_in=timedelta(hours=10)), asg("nada", auto_in=timedelta(days=5))],
                 [resp("1000000")])
    (w,) = [w for w in p.warnings if "need review" in w]
    assert "2 assignment(s)" in w and (NOW + timedelta(hours=10)).strftime("%Y-%m-%d %H:%M") in w
    assert "1 within 48 hours" in w


def test_warning_when_auto_approval_already_passed(tmp_path):
    p = plan_for(tmp_path, [asg("nope", auto_in=timedelta(hours=-1))], [resp("1000000")])
    assert any("already passed" in w for w in p.warnings)


@pytest.mark.parametrize(
    "configured, hit_reward, expected, warned",
    [(None, "1.50", "1.50", False), ("2.00", "1.50", "1.50", True), ("1.50", "1.50", "1.50", False),
     ("2.00", None, "2.00", False)],
)
def test_reward_comes_from_the_hit_and_config_is_the_fallback(tmp_path, configured, hit_reward, expected, warned):
    s = settings(tmp_path)
    s.wave.reward = Decimal(configured) if configured else None
    table = mturk(asg("1000000"))
    if hit_reward is None:
        table.tasks = {hit_id: Task(hit_id) for hit_id in table.tasks}
    p = _plan(s, table, [resp("1000000")])
    assert p.decisions[0].reward == Decimal(expected)
    assert any("differs from the reward MTurk has" in w for w in p.warnings) is warned
