"""A workbook a person edited, applied: plan the wave again and lay the edits over it.

The wave is planned again from its config (`bridge.closeout.plan_wave`), the workbook is
read back against that plan by the check the close-out uses too
(`bridge.workbook.review.find_edits`), and the bonuses the ledger already paid are read, so
a paid bonus is never changed. A row a person deleted is held back (`review`, kept as their
edit); a row the workbook never had (new since it was written) is not applied either.
"""

from __future__ import annotations

import zipfile
from datetime import datetime
from pathlib import Path

from bridge.closeout import plan_wave
from bridge.config import Settings
from bridge.errors import InputError
from bridge.ledger import DONE, Entry, is_url, open_ledger
from bridge.models import Plan
from bridge.workbook.edits import EditedPlan, EditsRefused, apply_edits
from bridge.workbook.review import find_edits


def load_edited_plan(settings: Settings, workbook: Path, now: datetime) -> EditedPlan:
    """Plan the wave again (same config: its submissions and statuses) and lay the
    person's edits over it. No workbook is written, so the edited file stays as it is;
    `EditedPlan.read` is the workbook as read, for `apply_plan` to check before rewriting it."""
    workbook = Path(workbook)
    if not workbook.exists():  # a broken file fails before any work
        raise InputError(f"{workbook}: file not found.")
    if not zipfile.is_zipfile(workbook):
        raise InputError(f"{workbook}: not an .xlsx workbook (save it from Excel as .xlsx).")
    plan = plan_wave(settings, now).plan
    found = find_edits(workbook, plan, read_untouched=True, every_row=True)
    problems = list(found.problems)
    absent = {d.submission_id for d in plan.decisions if d.submission_id not in found.seen}
    try:
        edited = apply_edits(plan, [(r.number, r.cells) for r in found.rows], settings, workbook,
                             paid=_paid_bonuses(settings, plan), absent=absent, held={sid for _, sid in found.deleted})
    except EditsRefused as exc:
        problems += exc.problems
    if problems:
        raise EditsRefused(workbook, problems)
    edited.read = found
    return edited


def _paid_bonuses(settings: Settings, plan: Plan) -> dict[str, Entry]:
    """The bonuses the ledger has `done` for the wave's study or batch, by submission (none
    when there is no ledger yet)."""
    location = settings.ledger_location
    if not is_url(location) and not Path(location).exists():
        return {}
    environment = settings.panel.canonical_environment(plan.environment)
    with open_ledger(location, panel=plan.terms.panel, environment=environment, tasks=list(plan.tasks),
                     wave=plan.wave) as ledger:
        return {e.submission_id: e for e in ledger.entries().values() if e.kind == "bonus" and e.status == DONE}
