"""SPEC §12, one bad id does not block the rest: a bulk call Prolific refuses for one member
(an unknown or already-decided submission, a malformed participant id) is sent again in
halves until that member is alone; it fails with Prolific's reason, the others go through
with their bonuses and group additions. A fault (5xx) is never split. Through the CLI,
against the emulator on 127.0.0.1."""

from __future__ import annotations

import math

from safety_support import NOW, lab, run, seed, study

from bridge.emulator.base import Fault
from bridge.panels.prolific.http import ATTEMPTS


def _seed_all_but_last(emu, s, files, tmp_path):
    """Prolific knows every submission of the export but its last row's (an id it never had)."""
    lines = files.export.read_text(encoding="utf-8").splitlines(keepends=True)
    known = tmp_path / f"prolific_export_{s.study_id}.csv"
    known.write_text("".join(lines[:-1]), encoding="utf-8")
    seed(emu, s, known)
    return lines[-1].split(",")[0]


def test_one_unknown_submission_fails_alone_and_the_rest_are_approved_paid_and_grouped(quick, emu, tmp_path):
    s = study(31, seed=6)
    for p in s.participants:
        p.bonus = "0.50"
    group = emu.add_group("Prev")
    files = lab(tmp_path / "lab", export_of=s, url=emu.url, groups=f'[qualifications]\nprev_worker = "{group}"\n')
    unknown = _seed_all_but_last(emu, s, files, tmp_path)

    result = run("close-out", files.config, "--apply", "--yes", *NOW)

    assert result.exit_code == 2, result.output
    assert "Applied: 30 approvals, 0 rejections, 30 bonuses (15.00 GBP), 31 qualification grants" in result.output
    assert "2 action(s) failed (1 approvals, 1 bonuses)" in result.output  # its bonus waits for its approval
    assert f"approve {unknown}: refused by Prolific: Prolific refused approving 1 submissions (400: " \
           f"submission_ids: Not found: {unknown}.). The ledger keeps" in result.output
    statuses = {sub.id: sub.status for sub in emu.submissions_of(s.study_id)}
    assert set(statuses.values()) == {"APPROVED"} and len(statuses) == 30
    assert sum(len(emu.bonus_payments(i)) for i in statuses) == 30
    assert len(emu.group_members(group)) == 31
    # Bisection: the whole batch, then two halves at each of ceil(log2(31)) levels.
    assert emu.calls["bulk-approve-submissions"] <= 1 + 2 * math.ceil(math.log2(31))

    before = emu.calls["bulk-approve-submissions"]
    again = run("close-out", files.config, "--apply", "--yes", *NOW)

    assert again.exit_code == 2, again.output
    assert emu.calls["bulk-approve-submissions"] == before + 1  # only the bad one, alone
    assert "Sent this run: nothing." in again.output


def test_one_malformed_participant_fails_its_group_addition_alone(quick, emu, tmp_path):
    s = study(12, seed=7)
    s.participants[5].worker_id = "not-a-participant-id"
    s.participants[5].assignment_status = "APPROVED"  # decided already: only its group addition is sent
    group = emu.add_group("Prev")
    files = lab(tmp_path / "lab", export_of=s, url=emu.url, groups=f'[qualifications]\nprev_worker = "{group}"\n')
    seed(emu, s, files.export)

    result = run("close-out", files.config, "--apply", "--yes", *NOW)

    assert result.exit_code == 2, result.output
    assert "1 action(s) failed (1 qualification grants)" in result.output
    assert "refused by Prolific" in result.output and "Not a participant id: not-a-participant-id" in result.output
    assert len(emu.group_members(group)) == 11 and "not-a-participant-id" not in emu.group_members(group)
    assert {sub.status for sub in emu.submissions_of(s.study_id)} == {"APPROVED"}


def test_a_service_fault_on_a_bulk_approval_is_not_split(quick, emu, tmp_path):
    s = study(8, seed=8)
    files = lab(tmp_path / "lab", export_of=s, url=emu.url)
    seed(emu, s, files.export)
    emu.faults.always["bulk-approve-submissions"] = Fault.FAIL_BEFORE  # a 503 on every try

    result = run("close-out", files.config, "--apply", "--yes", *NOW)

    assert result.exit_code == 2, result.output
    assert emu.calls["bulk-approve-submissions"] == ATTEMPTS  # retried as one call, never halved
    assert "action(s) failed (8 approvals, " in result.output and "Prolific answered 503" in result.output
