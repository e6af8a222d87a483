"""A person's review is never lost (SPEC 4.2), and the workbook path never replaces a file
that is not the tool's (SPEC §10).

The workbook is a working document: a person edits `Decisions` (Decision, Bonus, Feedback,
RejectionCategory), then runs `apply`. Two records tell a person's edits from the tool's own:

- a hidden last column (`AsWritten`, see `bridge.workbook.write`) keeps each row's editable
  cells as the tool wrote them, and travels with its row when a person sorts;
- a small file beside the workbook (`.<name>.written`, `stamp_path`) keeps the sha256 of the
  file as written and the submissions in the order written. A workbook whose bytes are
  still those is not read at all; one whose bytes changed is read back streaming, only the
  columns the check needs (`bridge.workbook.sheet`).

`find_edits` is the one check both commands use. It finds the rows whose editable cells a
person changed, the rows a person deleted (written, no longer in the sheet), edited rows
whose submission is gone from the new plan, and editable cells holding a formula.
`carry_over` (the close-out) carries the edits into the new plan, or refuses (exit 3) and
leaves the file byte for byte as it was; `unapplied_edits` (apply, right before it rewrites
the workbook) names the edits saved while it ran, so they are never written over. A
workbook without these records (an older version's) counts as edited wherever its cells
differ from the new plan.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from bridge.config import Settings
from bridge.errors import InputError, SafetyRefusal
from bridge.files import guard_output
from bridge.models import Plan, SubmissionDecision
from bridge.money import to_cents
from bridge.workbook.edits import (EditedPlan, EditsRefused, apply_edits, cell_text, changed_cells,
                                   formula_problems, plan_cells, written_cells)
from bridge.workbook.sheet import Read, digest_of, file_digest, read_sheet_columns
from bridge.workbook.stamp import read_stamp
from bridge.workbook.write import AS_WRITTEN, CREATOR, EDITABLE, restore, safe

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


# --- The check --------------------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    number: int
    submission_id: str
    cells: dict[str, object]
    edited: list[str]  # cells a person changed since the tool wrote the row
    differs: bool  # the row shows otherwise than the plan checked against


@dataclass(slots=True)
class Found:
    """What a workbook holds beyond what the tool wrote (see `find_edits`)."""

    digest: str
    untouched: bool = False  # byte for byte as the tool wrote it: nothing was read
    rows: list[Row] = field(default_factory=list)  # edited, or showing otherwise than the plan
    seen: set[str] = field(default_factory=set)  # submissions with a row in the sheet
    deleted: list[tuple[int, str]] = field(default_factory=list)  # (row as written, submission)
    new: set[str] = field(default_factory=set)  # plan submissions the workbook never had
    problems: list[str] = field(default_factory=list)  # rows that cannot stand: named

    @property
    def edited(self) -> list[Row]:
        return [r for r in self.rows if r.edited]


def find_edits(path: Path, plan: Plan, *, read_untouched: bool = False, every_row: bool = False) -> Found:
    """The Decisions sheet of the workbook at `path` against `plan`.

    Unless `read_untouched`, a file whose bytes are those the tool recorded is not read
    (`Found.untouched`). Otherwise every row is read (streaming, the columns the check needs)
    and kept when a person edited it (its cells differ from `AsWritten`; without that
    column, from the plan) or when it shows otherwise than the plan. Problems named by row:
    editable cells holding a formula, rows without an id, two rows with one id, edited rows
    (with `every_row`, any row) whose submission is not in the plan; rows the tool wrote that
    are gone from the sheet are `deleted`. `every_row` (apply, which applies the sheet as it
    shows) also keeps the rows that show otherwise than the plan and reads the participant
    column to check it; the close-out carries only edits over, and reads less.
    Raises InputError for a file that cannot be read as a workbook."""
    path = Path(path)
    cols = plan.terms.columns
    id_col, who_col = cols.submission, cols.participant
    stamp = read_stamp(path)
    by_id = {d.submission_id: d for d in plan.decisions}
    try:
        with open(path, "rb") as handle:
            found = Found(digest_of(handle))
            read = Read(found.digest)
            if stamp is not None and stamp.sha256 == found.digest and not read_untouched:
                # As written: its edits are the record's (the rows that carry a person's edits).
                found.untouched = True
                found.seen = set(stamp.ids)
                rows = iter(stamp.edits)
                read.header = [id_col, "Decision", "Bonus", "Feedback"]
            else:
                wanted = {id_col, *EDITABLE, AS_WRITTEN} | ({who_col} if every_row else set())
                rows = read_sheet_columns(handle, "Decisions", wanted, read)
            word = plan.terms.submission_word
            first_row: dict[str, int] = {}
            for number, cells in rows:
                sid = restore(cell_text(cells.get(id_col)))
                if number in read.formula_rows:
                    found.problems += formula_problems(number, cells)
                if not sid:
                    if any(c in cells for c in EDITABLE):
                        found.problems.append(f"row {number}: no {id_col} (a row must keep its id)")
                    continue
                if sid in first_row:
                    found.problems.append(f"row {number}: {id_col} {sid} is also on row {first_row[sid]}")
                    continue
                first_row[sid] = number
                found.seen.add(sid)
                d = by_id.get(sid)
                written = written_cells(cells)
                now = plan_cells(d) if d is not None and written is None else None
                edited = changed_cells(cells, written if written is not None else now or {})
                if d is None:
                    if every_row:
                        found.problems.append(f"row {number}: {id_col} {sid} is not a{'n' if word[0] in 'aeiou' else ''} "
                                              f"{word} of wave {plan.wave}")
                    elif edited:
                        found.problems.append(
                            f"row {number}: {word} {sid} was edited ({', '.join(edited)}) but is no longer in the "
                            f"wave as read now (gone from the {plan.terms.panel} export?)")
                    continue
                if not every_row:
                    differs = False
                elif written is not None and not edited:  # as written: does the plan still say that?
                    differs = not _says(written, d)
                else:
                    differs = bool(changed_cells(cells, now or plan_cells(d)))
                if edited or differs:
                    found.rows.append(Row(number, sid, cells, edited, differs))
            _check_header(path, read.header, id_col)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found.") from None
    except KeyError:
        raise InputError(f"{path}: has no 'Decisions' sheet.") from None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise InputError(f"{path}: not an .xlsx workbook (save it from Excel as .xlsx).") from None
    if stamp is not None:
        written_ids = set(stamp.ids)
        # A deleted row whose submission the wave no longer has loses nothing: it is left out.
        found.deleted = [(i + 2, sid) for i, sid in enumerate(stamp.ids) if sid not in found.seen and sid in by_id]
        found.new = {sid for sid in by_id if sid not in written_ids and sid not in found.seen}
    return found


def _says(written: dict[str, object], d: SubmissionDecision) -> bool:
    """The cells as written (`AsWritten`) are the decision's (`shown_cells`, without its cost)."""
    bonus = d.bonus if d.bonus is None or d.bonus.as_tuple().exponent == -2 else to_cents(d.bonus)
    return (written.get("Decision") == d.decision.value and written.get("Bonus") == (None if bonus is None else str(bonus))
            and written.get("Feedback") == safe(d.feedback)
            and written.get("RejectionCategory") == (d.rejection_category or None))


def _check_header(path: Path, header: list[str], id_col: str) -> None:
    missing = [c for c in (id_col, "Decision", "Bonus", "Feedback") if c not in header]
    if missing:
        raise InputError(f"{path}: the Decisions sheet has no column(s) {', '.join(missing)} in its first row.")


def _deleted_lines(found: Found, word: str) -> list[str]:
    return [f"row {row} ({word} {sid}) was deleted from the sheet: set its Decision to review instead of deleting "
            "it, or undo the deletion" for row, sid in found.deleted]


# --- The close-out --------------------------------------------------------------------------


@dataclass(slots=True)
class Carried:
    plan: Plan
    changes: list[str]  # one line per carried-over row, for the person to check


def carry_over(plan: Plan, settings: Settings, path: Path) -> Carried:
    """The new plan with the edits a person made in the workbook at `path` (none when it is
    absent or byte for byte as written). SafetyRefusal (exit 3, the file untouched) when an
    edit cannot be carried: an invalid value, a formula, a row deleted, an edited submission
    gone from the wave."""
    path = Path(path)
    if not path.exists():
        return Carried(plan, [])
    try:
        found = find_edits(path, plan)
    except InputError as exc:
        raise SafetyRefusal(f"{path}: cannot read the workbook already there ({exc.message}), so edits a person "
                            "made in it cannot be carried over. It is left as it is: close it if it is open, or write "
                            "elsewhere with --workbook.") from None
    problems = found.problems + _deleted_lines(found, plan.terms.submission_word)
    edited = [(r.number, r.cells) for r in found.edited]
    result: EditedPlan | None = None
    if edited:
        try:
            result = apply_edits(plan, edited, settings, path)
        except EditsRefused as exc:
            problems += exc.problems
    if problems:
        shown = "\n".join(f"  - {p}" for p in problems)
        raise SafetyRefusal(
            f"{path} holds edits made since it was written that cannot be carried into this close-out:\n{shown}\n"
            f"The workbook is left as it is: apply it as edited (survey-bridge apply {path} --config "
            f"{settings.path}), or write this close-out elsewhere with --workbook.")
    if result is None:
        return Carried(plan, [])
    return Carried(result.plan, [f"{line} (carried over from the workbook)" for line in result.changes])


# --- apply, right before it rewrites the workbook ---------------------------------------------


def unapplied_edits(path: Path, applied: Plan, first: Found) -> list[str]:
    """Edits in the workbook at `path` that `apply` did not apply: it was saved after `apply`
    read it (`first`), and its rows now show otherwise than the plan applied, or rows it
    had are gone. Empty when the file is byte for byte what was read."""
    path = Path(path)
    try:
        if file_digest(path) == first.digest:
            return []
        now = find_edits(path, applied, read_untouched=True, every_row=True)
    except (InputError, OSError):
        return [f"{path} cannot be read back (saved while apply ran?)"]
    word = applied.terms.submission_word
    by_id = {d.submission_id: d for d in applied.decisions}
    lines = [f"row {r.number} ({word} {r.submission_id}): " + ", ".join(
        f"{c} {cell_text(r.cells.get(c)) or 'empty'}" for c in changed_cells(r.cells, plan_cells(by_id[r.submission_id])))
             for r in now.rows if r.differs]
    lines += [f"{word} {sid}: its row was deleted" for sid in sorted(first.seen - now.seen)]
    return lines + now.problems
