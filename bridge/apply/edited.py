"""A workbook a person edited, applied: plan the wave again and lay the edits over it.

`bridge.workbook.edits` reads the sheet and validates every edit; here the wave is planned
again from its config (`bridge.closeout.plan_wave`) and the bonuses the ledger already paid
are read, so a paid bonus is never changed.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bridge.closeout import plan_wave
from bridge.config import Settings
from bridge.ledger import DONE, Entry, is_url, open_ledger
from bridge.models import Plan
from bridge.workbook.edits import EditedPlan, apply_edits, read_sheet


def load_edited_plan(settings: Settings, workbook: Path, now: datetime) -> EditedPlan:
    """Plan the wave again (same config: its submissions and statuses) and lay the
    person's edits over it. No workbook is written, so the edited file stays as it is."""
    # Read first: a broken file fails before any work.
    rows = read_sheet(workbook, settings.panel.columns.submission)
    plan = plan_wave(settings, now).plan
    return apply_edits(plan, rows, settings, Path(workbook), paid=_paid_bonuses(settings, plan))


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
