"""A person's review is never lost (SPEC 4.2), and the workbook path never replaces a file
that is not the tool's (SPEC §10).

The workbook is a working document: a person edits `Decisions` (Decision, Bonus, Feedback,
RejectionCategory), then runs `apply`. A hidden column (`AsWritten`, see `bridge.workbook.write`)
keeps those cells as the tool wrote them, so a later `close-out` tells the person's edits
from its own. It carries every edited row over into the new workbook (same submission,
same edited cells, a note saying so); when an edit cannot be carried (the work was decided
on the panel meanwhile, say) it refuses (exit 3) and leaves the file byte for byte as it
was. A workbook without that sheet (an older version's) counts as edited wherever its
cells differ from the new plan.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bridge.config import Settings
from bridge.errors import InputError, SafetyRefusal
from bridge.files import guard_output
from bridge.models import Plan, SubmissionDecision
from bridge.money import fmt
from bridge.workbook.edits import EditedPlan, apply_edits, cell_bonus, cell_text, iter_sheet
from bridge.workbook.write import AS_WRITTEN, CREATOR, EDITABLE, restore

_CORE = "docProps/core.xml"


def _inputs(settings: Settings) -> list[Path | None]:
    panel = getattr(settings, settings.wave.platform)
    files = [settings.path, panel.csv]
    return [settings.resolve(f) if f is not None else None for f in files] + [settings.survey.csv]


def is_ours(path: Path) -> bool:
    """A workbook this tool wrote: its creator, or (older versions) its sheets."""
    try:
        with zipfile.ZipFile(path) as z:
            if f"<dc:creator>{CREATOR}</dc:creator>" in z.read(_CORE).decode("utf-8", "replace"):
                return True
            workbook = z.read("xl/workbook.xml").decode("utf-8", "replace")
    except (OSError, zipfile.BadZipFile, KeyError):
        return False
    return all(f'name="{name}"' in workbook for name in ("Summary", "Decisions"))


def guard_workbook(path: Path, settings: Settings, *, key: str = "[output] workbook") -> None:
    """InputError (exit 1) unless `path` may be (re)written: an .xlsx that is not one of
    the run's inputs, and either new or a workbook this tool wrote."""
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise InputError(f"{path}: {key} must end in .xlsx (the workbook is an Excel file).")
    guard_output(path, _inputs(settings), key=key)
    if path.is_dir():
        raise InputError(f"{path}: {key} is a folder; name a file such as {path / 'wave-reconciliation.xlsx'}.")
    if path.exists() and not is_ours(path):
        raise InputError(f"{path}: a file that survey-bridge did not write is already there; it is left as it is. "
                         f"Move it, or choose another path with {key} or --workbook.")


def _written(cells: dict[str, object]) -> dict[str, object] | None:
    """The row's editable cells as the tool wrote them; None without the column (or when a
    person damaged it)."""
    text = cells.get(AS_WRITTEN)
    if not isinstance(text, str):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _same(column: str, a: object, b: object) -> bool:
    if column == "Bonus":
        try:
            return cell_bonus(a) == cell_bonus(b)
        except ValueError:
            return False
    text_a, text_b = restore(cell_text(a)), restore(cell_text(b))
    if column in ("Decision", "RejectionCategory"):
        return text_a.lower() == text_b.lower()
    return text_a == text_b


def _cells(d: SubmissionDecision, cols) -> dict[str, object]:
    return {cols.submission: d.submission_id, cols.participant: d.participant_id, "Decision": d.decision.value,
            "Bonus": fmt(d.bonus), "Feedback": d.feedback, "RejectionCategory": d.rejection_category}


@dataclass(slots=True)
class Carried:
    plan: Plan
    changes: list[str]  # one line per carried-over row, for the person to check


def carry_over(plan: Plan, settings: Settings, path: Path) -> Carried:
    """The new plan with the edits a person made in the workbook at `path` (none when it is
    absent). SafetyRefusal (exit 3, the file untouched) when the edits cannot be carried.
    The sheet is read a row at a time; only edited rows are kept."""
    path = Path(path)
    if not path.exists():
        return Carried(plan, [])
    cols = plan.terms.columns
    by_id = {d.submission_id: d for d in plan.decisions}
    edited: list[tuple[int, dict[str, object]]] = []
    try:
        for number, cells in iter_sheet(path, cols.submission):
            d = by_id.get(restore(cell_text(cells.get(cols.submission))))
            if d is None:
                continue
            new = _cells(d, cols)
            before = _written(cells) or new
            changed = [c for c in EDITABLE if c in cells and not _same(c, cells.get(c), before.get(c, new[c]))]
            if changed:
                edited.append((number, {**new, **{c: cells.get(c) for c in changed}}))
    except (InputError, OSError, zipfile.BadZipFile, KeyError) as exc:
        raise SafetyRefusal(f"{path}: cannot read the workbook already there ({exc}), so edits a person made in it "
                            "cannot be carried over. It is left as it is: close it if it is open, or write elsewhere "
                            "with --workbook.") from None
    if not edited:
        return Carried(plan, [])
    try:
        result: EditedPlan = apply_edits(plan, edited, settings, path, partial=True)
    except InputError as exc:
        raise SafetyRefusal(
            f"{path} holds edits made since it was written that cannot be carried into this close-out:\n"
            f"{exc.message}\nThe workbook is left as it is: apply it as edited (survey-bridge apply {path} --config "
            f"{settings.path}), or write this close-out elsewhere with --workbook.") from None
    return Carried(result.plan, [f"{line} (carried over from the workbook)" for line in result.changes])
