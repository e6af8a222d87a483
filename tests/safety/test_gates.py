"""SPEC §12, gates on bulk harm (`[safety]`): too few submissions matching, or one rule
rejecting too many, sends those rejections to a person, stated in the Summary with its
figures; an attention check exported as numeric codes is a config error naming the values,
a column mixing codes and text a warning. Run through the CLI as a person would; applying
goes to the Prolific emulator on 127.0.0.1."""

from __future__ import annotations

import re

from builders import NOW as NOW_DT
from builders import asg, mturk, resp, settings, survey
from safety_support import LONG, NOW, lab, run, seed, sent, sheet, study, summary

from bridge.match import match_wave
from bridge.models import Decision
from bridge.rules import build_plan


def _row(output: str, label: str) -> str:
    found = re.search(rf"^  {re.escape(label)} +(.*)$", output, re.MULTILINE)
    assert found, output
    return found.group(1)


def test_a_survey_that_matches_no_one_sends_the_rejections_to_a_person(emu, tmp_path):
    ours, wrong_survey = study(34, seed=1), study(30, seed=2)
    files = lab(tmp_path / "lab", export_of=ours, survey_of=wrong_survey, url=emu.url, survey_columns=False)
    seed(emu, ours, files.export)

    dry = run("close-out", files.config, *NOW)

    assert dry.exit_code == 0, dry.output
    assert _row(dry.output, "Reject (to send)") == "0" and _row(dry.output, "Review (a person decides)") == "34"
    assert _row(dry.output, "Match share (matched / decidable)") == (
        "0 / 34 = 0.00 (min_match_share 0.5): 34 rejection(s) for unmatched sent to review (low_match_share)")
    assert "warning: Only 0 of the 34 submissions awaiting review match a survey response (0%" in dry.output
    assert "another study's export, another survey's export, or the join column ('PROLIFIC_PID')" in dry.output
    rows = sheet(files.workbook, "Decisions")
    assert {(r["Decision"], r["Reasons"], r["Feedback"], r["RejectionCategory"]) for r in rows} == {
        ("review", "unmatched;low_match_share;many_rejections", None, None)}
    assert summary(files.workbook)["Match share (matched / decidable)"].startswith("0 / 34 = 0.00")

    applied = run("close-out", files.config, "--apply", "--yes", *NOW)

    assert applied.exit_code == 0, applied.output
    assert sent(emu) == {}
    assert {s.status for s in emu.submissions_of(ours.study_id)} == {"AWAITING REVIEW"}


def test_a_person_can_still_reject_what_the_gate_sent_to_review(emu, tmp_path):
    ours, wrong_survey = study(4, seed=1), study(4, seed=2)
    files = lab(tmp_path / "lab", export_of=ours, survey_of=wrong_survey, url=emu.url, survey_columns=False)
    seed(emu, ours, files.export)
    assert run("close-out", files.config, *NOW).exit_code == 0
    from openpyxl import load_workbook

    wb = load_workbook(files.workbook)
    ws = wb["Decisions"]
    head = [c.value for c in ws[1]]
    ws.cell(2, head.index("Decision") + 1).value = "reject"
    rejected = ws.cell(2, 1).value
    wb.save(files.workbook)

    applied = run("apply", files.workbook, "--config", files.config, "--yes", *NOW)

    assert applied.exit_code == 0, applied.output
    assert emu.submission(rejected).status == "REJECTED"
    assert emu.submission(rejected).rejection_category == "NO_DATA"
    assert sent(emu) == {"transition-submission": 1}


def test_an_attention_check_exported_as_numeric_codes_is_a_config_error_naming_the_values(emu, tmp_path):
    coded = study(37, seed=4)
    for i, p in enumerate(coded.participants):  # "Blue" exported as its code 4; a few chose 1 or 2
        p.q7 = "1" if i < 7 else "2" if i < 11 else "4"
    files = lab(tmp_path / "lab", export_of=coded, url=emu.url)

    result = run("close-out", files.config, "--apply", "--yes", *NOW)

    assert result.exit_code == 1, result.output
    assert ("[rules] attention_checks[1]: the expected answer 'Blue' is in none of the 37 finished responses' "
            "column 'Q7', which holds 4 (26), 1 (7), 2 (4)") in result.output
    assert 'export the responses with choice text' in result.output and 'expected = "4"' in result.output
    assert not files.out.exists() and sent(emu) == {}


def test_a_column_mixing_codes_and_text_warns_and_its_mass_rejection_goes_to_review(emu, tmp_path):
    mixed = study(37, seed=5)
    for p in mixed.participants[:20]:
        p.q7 = "4"
    files = lab(tmp_path / "lab", export_of=mixed, url=emu.url)
    seed(emu, mixed, files.export)

    result = run("close-out", files.config, "--apply", "--yes", *NOW)

    assert result.exit_code == 0, result.output
    assert ("warning: [rules] attention_checks[1]: column 'Q7' mixes numeric codes (4 (20)) and choice text "
            "(Blue (17)): the 20 coded answer(s) are read as wrong answers to 'Blue'") in result.output
    assert _row(result.output, "Would reject for attention_failed (share of decidable)") == (
        "20 / 37 = 0.54 (max_reject_share 0.25): sent to review (many_rejections)")
    assert "The rule attention_failed would reject 20 of the 37 submissions awaiting review (54%" in result.output
    assert emu.calls["transition-submission"] == 0  # nobody rejected
    statuses = [s.status for s in emu.submissions_of(mixed.study_id)]
    assert statuses.count("APPROVED") == 17 and statuses.count("AWAITING REVIEW") == 20


def test_the_gates_can_be_opened_in_the_config(emu, tmp_path):
    mixed = study(10, seed=5)
    for p in mixed.participants[:4]:
        p.q7 = "Red"
    files = lab(tmp_path / "lab", export_of=mixed, url=emu.url, extra="[safety]\nmax_reject_share = 1\n")

    result = run("close-out", files.config, *NOW)

    assert result.exit_code == 0, result.output
    assert _row(result.output, "Reject (to send)") == "4"
    assert _row(result.output, "Would reject for attention_failed (share of decidable)") == (
        "4 / 10 = 0.40 (max_reject_share 1)")


def test_a_gate_outside_zero_to_one_is_a_config_error(emu, tmp_path):
    files = lab(tmp_path / "lab", export_of=study(3), url=emu.url, extra="[safety]\nmin_match_share = 1.5\n")
    result = run("close-out", files.config, *NOW)
    assert result.exit_code == 1 and "[safety] min_match_share: Input should be less than or equal to 1" \
        in result.output


def test_a_rejection_another_rule_also_makes_stands_with_that_rules_message(tmp_path):
    s = settings(tmp_path, f"""
        [rules]
        min_duration_seconds = 60
        too_fast = "reject"
        too_fast_feedback = "Too fast."
        attention_checks = [ {{ column = "Q7", expected = "Blue" }} ]
        attention_failed = "reject"
        attention_feedback = "{LONG}"
        [safety]
        max_reject_share = 0.25
        """)
    codes = [f"{1000000 + i}" for i in range(10)]
    table = mturk(*(asg(c) for c in codes))
    answers = ["Red"] * 4 + ["Blue"] * 6  # 4 of 10 fail the check: the gate trips for it
    responses = [resp(c, duration=30 if i == 0 else 600, Q7=a) for i, (c, a) in enumerate(zip(codes, answers))]
    panel = s.panel

    plan = build_plan(match_wave(table, survey(*responses), panel.match_options(s)), s, table,
                      panel.terms(s, table), NOW_DT, environment="sandbox")

    fast, *others = plan.decisions[:4]
    assert fast.decision is Decision.REJECT and fast.feedback == "Too fast."  # too_fast (1 of 10) still rejects
    assert "many_rejections" in fast.reasons and "rejected for too_fast" in " ".join(fast.notes)
    assert {d.decision for d in others} == {Decision.REVIEW}
    assert all(d.feedback == "" and "many_rejections" in d.reasons for d in others)
    assert dict(plan.figures)["Would reject for attention_failed (share of decidable)"].startswith("4 / 10 = 0.40")


