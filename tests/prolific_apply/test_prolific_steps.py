"""The rest of a close-out on Prolific (SPEC §9), through the project's adapter against the
emulator over HTTP (every answer checked against Prolific's OpenAPI file by conftest):
a rejection a person sets to approve is reversed (UNREJECT) then approved, Eligible_Worker
membership is taken back from flagged participants, the eligible are invited by one bulk
message, and compensation is a bonus on a submission the participant ended; a participant
with no submission is left for a person. Each step happens once."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

from openpyxl import load_workbook
from prolific_apply_support import ENV, TOKEN, bonuses, ledger_at, market_for, pid, seed
from typer.testing import CliRunner

from bridge.actions import Action, Kind
from bridge.apply.executor import Executor
from bridge.cli import app
from bridge.config import load_config
from bridge.emulator.base import Fault

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_data" / "prolific"
STUDY = "58b2a2055bb55bcbb37d2f2a"  # the sample export's study (in its file name)
RETURNED = ("3ea5d87be473c18cb9c38bbc", "922e66046cbadfa9dda16151")  # returned, with a finished response
NO_SUBMISSION = "5f0c0ffee0ddba11c0ffee00"  # finished the survey, no submission in the study
NOW_ARG = ["--now", "2026-11-21T12:00:00Z"]


def run(market, tmp_path, actions):
    with ledger_at(tmp_path / "ledger.sqlite", market) as ledger:
        Executor(market, ledger).run(actions)
        return {f"{e.kind}:{e.submission_id or e.participant_id}": e for e in ledger.entries().values()}


def test_an_override_unrejects_then_approves_once_and_its_bonus_follows(emu, tmp_path):
    study, (sub,) = seed(emu, 1, status="REJECTED")
    market = market_for(emu, study)
    actions = [Action(Kind.OVERRIDE, sub, pid(0), study), *bonuses(study, [sub], "0.60")]

    entries = run(market, tmp_path, actions)

    assert entries[f"override:{sub}"].status == "done" and entries[f"bonus:{sub}"].status == "done"
    assert "UNREJECT" in entries[f"override:{sub}"].detail
    emu.settle()
    assert emu.submission(sub).status == "APPROVED" and emu.bonus_payments(sub) == [Decimal("0.60")]
    assert emu.calls["transition-submission"] == 2  # UNREJECT, APPROVE
    run(market, tmp_path, actions)
    assert emu.calls["transition-submission"] == 2 and emu.calls["pay-bonus-payments"] == 1


def test_an_override_half_done_by_a_crash_is_finished(emu, tmp_path):
    study, (sub, returned) = seed(emu, 2, status="REJECTED")
    with emu.state.lock:  # the crashed run's UNREJECT came through; its APPROVE never left
        emu.state.submissions[sub].status = "AWAITING REVIEW"
        emu.state.submissions[returned].status = "RETURNED"  # meanwhile returned by the participant
    market = market_for(emu, study)
    actions = [Action(Kind.OVERRIDE, sub, pid(0), study), Action(Kind.OVERRIDE, returned, pid(1), study)]
    with ledger_at(tmp_path / "ledger.sqlite", market) as ledger:
        ledger.pending(actions)

    entries = run(market, tmp_path, actions)

    assert entries[f"override:{sub}"].status == "done" and emu.submission(sub).status == "APPROVED"
    assert entries[f"override:{returned}"].status == "skipped"
    assert "RETURNED on Prolific; not approved" in entries[f"override:{returned}"].detail
    assert emu.submission(returned).status == "RETURNED"


def test_flagged_participants_leave_the_eligible_group_once(emu, tmp_path):
    study, _ = seed(emu, 3)
    group = emu.add_group("Eligible", participant_ids=[pid(0), pid(1), pid(9)])
    market = market_for(emu, study)
    actions = [Action(Kind.REVOKE, participant_id=p, group_id=group, role="eligible_worker") for p in (pid(0), pid(2))]

    entries = run(market, tmp_path, actions)

    assert {e.status for e in entries.values()} == {"done"}
    assert "did not hold it" in entries[f"revoke:{pid(2)}"].detail
    assert emu.calls["remove-from-participant-group"] == 1  # only the member
    assert sorted(emu.group_members(group)) == sorted([pid(1), pid(9)])
    assert market.group_members(group) == {pid(1), pid(9)}
    run(market, tmp_path, actions)
    assert emu.calls["remove-from-participant-group"] == 1


def test_the_eligible_get_one_bulk_message_with_the_subject_first(emu, tmp_path):
    study, _ = seed(emu, 3)
    group = emu.add_group("Eligible")
    market = market_for(emu, study)
    people = [pid(0), pid(1), pid(2)]
    actions = [Action(Kind.GRANT, participant_id=p, group_id=group, role="eligible_worker") for p in people]
    actions += [Action(Kind.NOTIFY, participant_id=p, group_id=group, task_id=study, subject="Next study",
                       text="You are invited.") for p in people]

    entries = run(market, tmp_path, actions)

    assert {e.status for k, e in entries.items() if k.startswith("notify:")} == {"done"}
    assert emu.calls["bulk-message-participants"] == 1
    assert sorted(m.recipient_id for m in emu.messages) == sorted(people)
    assert {(m.body, m.study_id) for m in emu.messages} == {("Next study\n\nYou are invited.", study)}
    run(market, tmp_path, actions)
    assert emu.calls["bulk-message-participants"] == 1


def test_a_message_whose_answer_was_lost_is_never_sent_twice(emu, tmp_path):
    study, _ = seed(emu, 2)
    group = emu.add_group("Eligible")
    emu.faults.script["bulk-message-participants"] = [Fault.FAIL_AFTER]  # delivered, then a 502
    market = market_for(emu, study)
    people = [pid(0), pid(1)]
    actions = [Action(Kind.GRANT, participant_id=p, group_id=group) for p in people]
    actions += [Action(Kind.NOTIFY, participant_id=p, group_id=group, task_id=study, text="Hello") for p in people]

    for _ in range(2):
        entries = run(market, tmp_path, actions)
        notes = [e for k, e in entries.items() if k.startswith("notify:")]
        assert {e.status for e in notes} == {"skipped"} and all("may have been sent" in e.detail for e in notes)
    assert emu.calls["bulk-message-participants"] == 1 and len(emu.messages) == 2


def test_what_prolific_cannot_do_is_answered_clearly(emu):
    study, _ = seed(emu, 1)
    market = market_for(emu, study)
    reply = market.expire_tasks([Action(Kind.EXPIRE, task_id=study)])[study]
    assert reply.outcome.value == "failed" and "Prolific's app" in reply.detail
    assert "bonus on the participant's submission" in str(
        _raises(lambda: market.compensation_group(Action(Kind.COMPENSATE, participant_id=pid(0)))))


def _raises(call):
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - the test reads its message
        return exc
    raise AssertionError("no error")


# --- the sample study closed out and applied through the CLI ---------------------------------------


def study_against(emu, folder: Path, extra: str) -> Path:
    """The sample study copied into `folder`, its config aimed at `emu` (seeded with it)."""
    folder.mkdir(parents=True)
    for f in SAMPLE.glob("*.csv"):
        shutil.copy(f, folder / f.name)
    emu.seed_export(STUDY, folder / f"prolific_export_{STUDY}.csv", reward="1.25",
                    completion_codes={"C1A2B3C4": "COMPLETED", "C7FAIL00": "FAILED_ATTENTION_CHECK"})
    prev, eligible = emu.add_group("Prev"), emu.add_group("Eligible")
    text = (SAMPLE / "study.toml").read_text()
    text = text.replace('environment = "production"', f'environment = "{emu.url}"')
    text = text.replace('prev_worker = "6543aaaa0000000000000001"', f'prev_worker = "{prev}"')
    text = text.replace('eligible_worker = "6543bbbb0000000000000002"',
                        f'eligible_worker = "{eligible}"\nrevoke_eligible_on_flag = true')
    # A fresh emulator nobody else applies to: the sample's submission approved by hand needs
    # no settle window before its bonus (SPEC 13's window is tested in tests/ledger).
    text += "\n[safety]\nsettle_minutes = 0\n"
    config = folder / "study.toml"
    config.write_text(text + extra)
    return config


def sheet(path: Path, name: str) -> list[dict]:
    wb = load_workbook(path, read_only=True)
    rows = list(wb[name].iter_rows(values_only=True))
    wb.close()
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def test_the_sample_study_compensates_overrides_revokes_and_invites_once(make_emu, tmp_path):
    # The workspace's rates are the sample config's: a bonus set-up is checked against them (SPEC §12).
    emu = make_emu(async_delay=0.0, fee_rate="0.333", vat_rate="0.20")
    config = study_against(emu, tmp_path / "study", '\n[notify]\neligible_subject = "Our next study"\n'
                                                    'eligible_message = "You are invited to our next study."\n'
                                                    '\n[compensation]\nreward = "1.50"\n')
    settings = load_config(config)
    eligible = settings.qualifications.eligible_worker
    flagged_member = next(s.participant_id for s in emu.submissions_of(STUDY) if s.status == "TIMED-OUT")
    emu.state.add_members(emu.state.groups[eligible], [flagged_member])  # eligible from an earlier study
    runner = CliRunner(env=ENV)
    assert runner.invoke(app, ["close-out", str(config), *NOW_ARG]).exit_code == 0
    workbook = settings.workbook_path
    # A rejection made by mistake: a person sets it to approve in the workbook.
    rejected = next(s for s in emu.submissions_of(STUDY) if s.status == "REJECTED")
    wb = load_workbook(workbook)
    ws = wb["Decisions"]
    for r in range(2, ws.max_row + 1):
        if ws.cell(r, 1).value == rejected.id:
            ws.cell(r, [c.value for c in ws[1]].index("Decision") + 1).value = "approve"
    wb.save(workbook)

    result = runner.invoke(app, ["apply", str(workbook), "--config", str(config), "--yes", *NOW_ARG])

    assert result.exit_code == 0, result.output
    emu.settle()
    # Override: reversed, then approved.
    assert emu.submission(rejected.id).status == "APPROVED"
    # Compensation: a bonus on the returned submission of a participant with a finished response.
    assert emu.bonus_payments(RETURNED[0]) == [Decimal("1.50")]
    # Revoke: the flagged participant who held the group lost it; the eligible are in it.
    members = set(emu.group_members(eligible))
    assert flagged_member not in members and rejected.participant_id in members
    # Invitations: one message per eligible participant, subject first.
    assert sorted(m.recipient_id for m in emu.messages) == sorted(members)
    assert {m.body for m in emu.messages} == {"Our next study\n\nYou are invited to our next study."}
    unmatched = {r["ParticipantId"]: r for r in sheet(workbook, "Unmatched responses")}
    assert unmatched[NO_SUBMISSION]["Compensation"] is None
    assert "a person must pay them" in unmatched[NO_SUBMISSION]["CompensationNote"]
    assert "cannot be paid through Prolific's API" in result.output  # the warning
    decisions = {r["SubmissionId"]: r for r in sheet(workbook, "Decisions")}
    assert "compensation: a bonus of 1.50 GBP" in decisions[RETURNED[0]]["Notes"]
    assert "override_rejection" in decisions[rejected.id]["Reasons"]

    calls = dict(emu.calls)
    again = runner.invoke(app, ["apply", str(workbook), "--config", str(config), "--yes", *NOW_ARG])
    assert again.exit_code == 0, again.output
    assert "Nothing to send" in again.output
    for route in ("transition-submission", "pay-bonus-payments", "bulk-message-participants",
                  "remove-from-participant-group"):
        assert emu.calls[route] == calls.get(route, 0), route
    assert emu.bonus_payments(RETURNED[0]) == [Decimal("1.50")]
    assert TOKEN not in result.output


def test_the_qualifications_diff_reads_a_participant_group(make_emu, tmp_path):
    emu = make_emu()
    config = study_against(emu, tmp_path / "study", "")
    eligible = load_config(config).qualifications.eligible_worker
    outsider = "5f" + "ab" * 11
    timed_out = next(s.participant_id for s in emu.submissions_of(STUDY) if s.status == "TIMED-OUT")
    emu.state.add_members(emu.state.groups[eligible], [outsider, timed_out])

    result = CliRunner(env=ENV).invoke(app, ["qualifications", "diff", eligible, "--config", str(config), *NOW_ARG])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"Participant group {eligible} in the Prolific emulator")
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:-1]}
    assert rows[outsider] == ["yes", "-", "held,", "not", "in", "this", "wave"]
    assert rows[timed_out] == ["yes", "revoke", "to", "revoke"]
    assert lines[-1].startswith("29 to grant, 1 to revoke, ")
    assert emu.calls["get-participant-group-participants"] == 1
