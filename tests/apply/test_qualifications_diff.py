"""`survey-bridge qualifications diff QUAL_TYPE_ID --config CONFIG` (SPEC §9): who holds a
qualification now (paginated ListWorkersWithQualificationType against the emulator) versus
the close-out's plan, as a plain table; nothing is sent."""

from __future__ import annotations

from pathlib import Path

from apply_support import NOW_ARG, client, plan_for
from typer.testing import CliRunner

from bridge.apply.holders import diff_holders
from bridge.cli import app
from bridge.config import load_config

runner = CliRunner()
SENDING = ("ApproveAssignment", "RejectAssignment", "SendBonus", "AssociateQualificationWithWorker",
           "DisassociateQualificationFromWorker", "NotifyWorkers", "CreateHIT")


def grant(url: str, qualification_type_id: str, workers) -> None:
    c = client(url)
    for w in workers:
        c.associate_qualification_with_worker(QualificationTypeId=qualification_type_id, WorkerId=w, IntegerValue=1,
                                              SendNotification=False)


def test_the_diff_lists_holders_against_the_plan(wave: Path, emu, tmp_path: Path):
    wave.write_text(wave.read_text().replace("[qualifications]\n", "[qualifications]\nrevoke_eligible_on_flag = true\n"))
    eligible = load_config(wave).qualifications.eligible_worker
    plan = plan_for(wave, tmp_path)
    grants = [q.participant_id for q in plan.qualifications if q.group_id == eligible and q.action == "grant"]
    revokes = [q.participant_id for q in plan.qualifications if q.group_id == eligible and q.action == "revoke"]
    outsiders = [f"AOUTSIDER{i:04d}" for i in range(120)]  # more than one page (100) of holders
    grant(emu.url, eligible, [grants[0], revokes[0], *outsiders])

    result = runner.invoke(app, ["qualifications", "diff", eligible, "--config", str(wave), *NOW_ARG])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"Qualification type {eligible} in the MTurk endpoint")
    assert lines[1].split() == ["WorkerId", "Holds", "now", "Plan", "Status"]
    rows = {line.split()[0]: line for line in lines[2:-1]}
    assert rows[grants[0]].split()[1:] == ["yes", "grant", "already", "held"]
    assert rows[grants[1]].split()[1:] == ["no", "grant", "to", "grant"]
    assert rows[revokes[0]].split()[1:] == ["yes", "revoke", "to", "revoke"]
    assert rows[revokes[1]].split()[1:] == ["no", "revoke", "revoke:", "not", "held"]
    assert rows[outsiders[-1]].split()[1:] == ["yes", "-", "held,", "not", "in", "this", "wave"]
    assert lines[-1] == (f"{len(grants) - 1} to grant, 1 already held, 1 to revoke, {len(revokes) - 1} revoke: "
                         "not held, 120 held, not in this wave")
    assert emu.calls["ListWorkersWithQualificationType"] == 2  # 122 holders, 100 a page
    assert not any(emu.calls[op] for op in SENDING[:3]) and emu.calls["DisassociateQualificationFromWorker"] == 0


def test_a_holder_of_the_wave_the_plan_does_not_name(wave: Path, tmp_path: Path):
    plan = plan_for(wave, tmp_path)
    eligible = load_config(wave).qualifications.eligible_worker
    flagged = next(d.participant_id for d in plan.decisions
                   if d.participant_id not in {q.participant_id for q in plan.qualifications if q.group_id == eligible})
    (row,) = [r for r in diff_holders(plan, eligible, {flagged}) if r.participant_id == flagged]
    assert (row.holds, row.plan, row.status) == (True, "", "held, in this wave, not planned")


def test_an_unknown_qualification_type_is_one_clear_error(wave: Path, emu):
    result = runner.invoke(app, ["qualifications", "diff", "3NOSUCHTYPE0000000000000000000", "--config", str(wave),
                                 *NOW_ARG])
    assert result.exit_code == 1
    assert "3NOSUCHTYPE0000000000000000000: no such qualification type in the MTurk endpoint" in result.output
    assert "Traceback" not in result.output
