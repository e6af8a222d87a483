"""Decisions on Prolific (SPEC §7) and the rules every wave can use (SPEC §8), pure."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from builders import LONG, NOW, STUDY, presp, prolific_settings, study, sub, survey

from bridge.cost import plan_cost
from bridge.errors import ConfigError
from bridge.match import match_wave
from bridge.models import Decision, MatchKind
from bridge.rules import build_plan

REJECTING = f"""
[rules]
unmatched = "reject"
reject_feedback = "{LONG}"
attention_checks = [ {{ column = "Q7", expected = "Blue" }} ]
attention_failed = "reject"
attention_feedback = "{LONG}"
too_fast = "reject"
too_fast_sd = 3
too_fast_feedback = "{LONG}"
"""


def plan_for(tmp_path, subs, responses, config="", reward="1.50"):
    s = prolific_settings(tmp_path, config)
    table = study(*subs, reward=reward)
    panel = s.panel
    return build_plan(match_wave(table, survey(*responses), panel.match_options(s)), s, table,
                      panel.terms(s, table), NOW, environment=panel.environment(s))


def one(tmp_path, submission, responses=None, config="", **kw):
    responses = [presp(submission.participant_id, Q7="Blue")] if responses is None else responses
    return plan_for(tmp_path, [submission], responses, config, **kw).decisions[0]


def test_joined_on_the_participant_id_not_the_code(tmp_path):
    a, b = sub("5f00000000000000000000a1"), sub("5f00000000000000000000b2")  # the same code, as on Prolific
    ra, rb = presp("5f00000000000000000000a1"), presp("5f00000000000000000000b2")
    p = plan_for(tmp_path, [a, b], [rb, ra])
    assert [(d.response_id, d.match, d.decision) for d in p.decisions] == [
        (ra.response_id, MatchKind.EXACT, Decision.APPROVE), (rb.response_id, MatchKind.EXACT, Decision.APPROVE)]
    assert "code_shared" not in p.decisions[0].reasons


@pytest.mark.parametrize(
    "code, decision, reason, category",
    [
        ("C1A2B3C4", Decision.APPROVE, None, ""),
        (" c1a2b3c4 ", Decision.APPROVE, None, ""),  # spaces and case
        ("C7FAIL00", Decision.REJECT, "attention_failed", "FAILED_CHECK"),  # the study's failed-check code
        ("C1A2B3C5", Decision.REVIEW, "bad_code", ""),  # not a code of the study
        ("NOCODE", Decision.REVIEW, "no_code", ""),
        ("", Decision.REVIEW, "no_code", ""),
    ],
)
def test_completion_code_outcomes(tmp_path, code, decision, reason, category):
    d = one(tmp_path, sub("5f00000000000000000000a1", code=code), config=REJECTING)
    assert d.decision is decision
    assert (reason in d.reasons) if reason else d.reasons == []
    assert d.rejection_category == category
    assert (d.feedback == LONG) is (decision is Decision.REJECT)


@pytest.mark.parametrize(
    "status, finished, decision, reasons",
    [
        ("RETURNED", True, Decision.REVIEW, ["returned", "returned_with_response"]),
        ("RETURNED", None, Decision.NONE, ["returned"]),
        ("TIMED-OUT", False, Decision.NONE, ["timed_out"]),
        ("SCREENED OUT", None, Decision.NONE, ["screened_out"]),
        ("ACTIVE", None, Decision.REVIEW, ["in_progress"]),
        ("RESERVED", None, Decision.REVIEW, ["in_progress"]),
        ("APPROVED", True, Decision.APPROVE, ["not_submitted"]),
        ("REJECTED", True, Decision.REJECT, ["not_submitted"]),
    ],
)
def test_only_awaiting_review_is_decided(tmp_path, status, finished, decision, reasons):
    pid = "5f00000000000000000000a1"
    responses = [] if finished is None else [presp(pid, finished=finished, Q7="Blue")]
    d = one(tmp_path, sub(pid, status=status, code="" if finished is None else "C1A2B3C4"), responses,
            config=REJECTING)
    assert (d.decision, d.reasons) == (decision, reasons)
    assert not d.sends_status_change and d.rejection_category == "" and d.feedback == ""


def test_a_returned_submission_with_a_response_shows_its_bonus_for_a_person(tmp_path):
    pid = "5f00000000000000000000a1"
    d = one(tmp_path, sub(pid, status="RETURNED"), [presp(pid, bonus="0.50")], config='[bonus]\ncolumn = "bonus"\n')
    assert d.decision is Decision.REVIEW and d.bonus == Decimal("0.50")


@pytest.mark.parametrize(
    "responses, reason, category",
    [([], "unmatched", "NO_DATA"), ([presp("5f00000000000000000000a1", Q7="Red")], "attention_failed", "FAILED_CHECK")],
)
def test_rejections_carry_a_category(tmp_path, responses, reason, category):
    d = one(tmp_path, sub("5f00000000000000000000a1"), responses, config=REJECTING)
    assert d.decision is Decision.REJECT and reason in d.reasons and d.rejection_category == category


def _durations(tmp_path, seconds, config):
    pids = [f"5f{i:022x}" for i in range(len(seconds))]
    subs = [sub(p) for p in pids]
    responses = [presp(p, duration=s, Q7="Blue") for p, s in zip(pids, seconds)]
    return plan_for(tmp_path, subs, responses, config)


def test_too_fast_sd_rejects_only_beyond_three_deviations(tmp_path):
    seconds = [600, 610, 590, 605, 595, 620, 580, 600, 615, 585, 100]
    p = _durations(tmp_path, seconds, REJECTING)
    fast = p.decisions[-1]
    assert fast.decision is Decision.REJECT and fast.rejection_category == "TOO_QUICKLY"
    assert all(d.decision is Decision.APPROVE for d in p.decisions[:-1])
    (cut,) = [v for k, v in p.figures if "too_fast_sd" in k]
    assert 100 < cut < 580  # the Summary states the cut-off in seconds


def test_a_faster_cut_than_three_deviations_is_only_reviewed_on_prolific(tmp_path):
    # min_duration_seconds flags 550 s, which is not 3 SD below the mean: Prolific forbids rejecting it.
    seconds = [600, 610, 590, 605, 595, 620, 580, 600, 615, 585, 550]
    p = _durations(tmp_path, seconds, REJECTING + "min_duration_seconds = 560\n")
    d = p.decisions[-1]
    assert d.decision is Decision.REVIEW and "too_fast" in d.reasons
    assert any("3 standard deviations" in n for n in d.notes)


def test_too_fast_percentile_flags_the_quickest_share(tmp_path):
    seconds = list(range(300, 1300, 50))  # 20 responses: 5% is the single quickest
    p = _durations(tmp_path, seconds, '[rules]\ntoo_fast_percentile = 5\n')
    flagged = [d.duration_seconds for d in p.decisions if "too_fast" in d.reasons]
    assert flagged == [300] and p.decisions[0].decision is Decision.REVIEW
    assert ("Too fast below (seconds), too_fast_percentile", 350.0) in p.figures


def test_fair_pay_tops_up_to_the_hourly_rate_at_the_median(tmp_path):
    # Median 600 s = 10 min; 9.00/hour owes 1.50; the reward is 1.25: top-up 0.25 each,
    # added to the performance bonus (one bonus per submission).
    p = plan_for(tmp_path, [sub("5f00000000000000000000a1"), sub("5f00000000000000000000b2")],
                 [presp("5f00000000000000000000a1", duration=600, bonus="0.50"),
                  presp("5f00000000000000000000b2", duration=600)],
                 '[fair_pay]\nhourly = "9.00"\n[bonus]\ncolumn = "bonus"\n', reward="1.25")
    assert [d.bonus for d in p.decisions] == [Decimal("0.75"), Decimal("0.25")]
    assert all("pay_top_up" in d.reasons for d in p.decisions)
    assert plan_cost(p).bonuses == Decimal("1.00")


def test_no_top_up_when_the_reward_already_pays_the_rate(tmp_path):
    p = plan_for(tmp_path, [sub("5f00000000000000000000a1")], [presp("5f00000000000000000000a1", duration=600)],
                 '[fair_pay]\nhourly = "9.00"\n', reward="1.50")
    assert p.decisions[0].bonus is None and "pay_top_up" not in p.decisions[0].reasons


def test_fees_and_vat_in_the_studys_currency(tmp_path):
    # 2 approvals of 1.50 and one bonus of 1.00: fee 0.333 -> 0.50 + 0.50 + 0.33; VAT 20% -> 0.10 + 0.10 + 0.07.
    s_extra = 'fee_rate = "0.333"\nvat_rate = "0.20"\n'
    p = plan_for(tmp_path, [sub("5f00000000000000000000a1"), sub("5f00000000000000000000b2")],
                 [presp("5f00000000000000000000a1", bonus="1.00"), presp("5f00000000000000000000b2")],
                 s_extra + '[bonus]\ncolumn = "bonus"\n')
    c = plan_cost(p)
    assert (c.rewards, c.bonuses, c.fees) == (Decimal("3.00"), Decimal("1.00"), Decimal("1.60"))
    assert p.terms.currency == "GBP"


def test_a_planned_rejection_that_auto_approval_beats_is_warned(tmp_path):
    late = sub("5f00000000000000000000a1", completed_in=-timedelta(days=21) + timedelta(hours=5))
    p = plan_for(tmp_path, [late], [], REJECTING)
    assert p.decisions[0].decision is Decision.REJECT
    assert any("planned for rejection" in w and "auto-approves" in w for w in p.warnings), p.warnings


@pytest.mark.parametrize(
    "extra, key",
    [
        ('[rules]\nunmatched = "reject"\nreject_feedback = "Too short."\n', "[rules] reject_feedback"),
        ('[rules]\nattention_failed = "reject"\n', "[rules] attention_feedback"),
        (f'[rules]\ntoo_fast = "reject"\ntoo_fast_feedback = "{LONG}"\n', "too_fast_sd"),
        (f'[rules]\ntoo_fast = "reject"\ntoo_fast_sd = 2\ntoo_fast_feedback = "{LONG}"\n', "too_fast_sd"),
        ('[qualifications]\nprev_worker = "3PREVQUAL"\n', "[qualifications] prev_worker"),
    ],
)
def test_configs_prolific_refuses_name_the_key(tmp_path, extra, key):
    with pytest.raises(ConfigError) as err:
        prolific_settings(tmp_path, extra)
    assert key in str(err.value)


def test_a_study_with_no_codes_listed_is_a_config_error(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text('[wave]\nname = "s1"\nplatform = "prolific"\n[qualtrics]\ncsv = "e.csv"\n'
                    '[prolific]\ncsv = "p.csv"\n')
    from bridge.config import load_config

    with pytest.raises(ConfigError, match="completion_codes is empty"):
        load_config(path)


def test_the_study_id_names_the_task(tmp_path):
    d = one(tmp_path, sub("5f00000000000000000000a1"))
    assert d.task_id == STUDY


def test_codes_the_config_does_not_list_are_named_in_a_warning(tmp_path):
    p = plan_for(tmp_path, [sub("5f00000000000000000000a1", code="C9NEW999"), sub("5f00000000000000000000b2",
                                                                                 code="C9NEW999")],
                 [presp("5f00000000000000000000a1"), presp("5f00000000000000000000b2")])
    (w,) = [w for w in p.warnings if "completion_codes does not list" in w]
    assert "'C9NEW999' (2)" in w and "[prolific] completion_codes" in w
