"""Read the `Decisions` sheet as a person edited it and rebuild the plan from it.

Editable: `Decision` (approve / reject / review), `Bonus` (changed or cleared),
`Feedback` (for rejections; empty means the config's reject_feedback) and, on panels that
require one, `RejectionCategory` (empty: the one the reasons give). Everything is
validated first and every problem is reported with its row number before anything is
sent. Rows missing from the sheet are not applied (they become `review`).

Not editable here: the decision of work the panel no longer holds as awaiting review (an
approval or rejection cannot be sent again; a decision that agrees with the panel's is
accepted), except rejected work set to `approve`, which overrides the rejection (SPEC §9,
reason `override_rejection`; its bonus follows the approval); and a bonus the ledger
already has paid.
"""

from __future__ import annotations

import dataclasses
import zipfile
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from bridge.closing import qualifications_for
from bridge.config import Settings
from bridge.errors import InputError
from bridge.models import OVERRIDE_REASON, Decision, Plan, State, SubmissionDecision
from bridge.money import AmountError, fmt, has_sub_cent, parse_amount, to_cents
from bridge.rules import plan_warnings, rejection_category
from bridge.workbook.write import restore, tool_cells

MISSING_NOTE = "not in the edited Decisions sheet: not applied"


class PaidBonus(Protocol):
    """A bonus already paid (a ledger entry): it cannot be changed by an edit."""

    amount: str
    updated_at: str


@dataclass(slots=True)
class EditedPlan:
    plan: Plan
    changes: list[str]  # one line per edited row, for the person to check
    missing: int  # plan rows the sheet no longer has


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def cell_bonus(value: object) -> Decimal | None:
    """The cell's amount in whole cents; None when empty or zero. Raises ValueError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(f"Bonus {value!r} is not an amount")
    text = repr(value) if isinstance(value, float) else str(value)  # repr: the shortest exact float text
    try:
        amount = parse_amount(text)
    except AmountError:
        raise ValueError(f"Bonus {cell_text(value)!r} is not an amount such as 1.50") from None
    if amount < 0:
        raise ValueError(f"Bonus {cell_text(value)} is negative")
    if has_sub_cent(amount):
        raise ValueError(f"Bonus {cell_text(value)} has more than two decimals; payments are in whole cents")
    return to_cents(amount) if amount > 0 else None


def read_sheet(path: Path, id_column: str) -> list[tuple[int, dict[str, object]]]:
    """(row number, {column: value}) for every non-empty row of the Decisions sheet."""
    return list(iter_sheet(path, id_column))


def iter_sheet(path: Path, id_column: str) -> Iterator[tuple[int, dict[str, object]]]:
    """`read_sheet` one row at a time (a large sheet need not be held whole)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found.")
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError):
        raise InputError(f"{path}: not an .xlsx workbook (save it from Excel as .xlsx).") from None
    try:
        if "Decisions" not in wb.sheetnames:
            raise InputError(f"{path}: has no 'Decisions' sheet; sheets: {', '.join(wb.sheetnames)}.")
        rows = wb["Decisions"].iter_rows(values_only=True)
        header = [cell_text(c) for c in next(rows, ())]
        missing = [c for c in (id_column, "Decision", "Bonus", "Feedback") if c not in header]
        if missing:
            raise InputError(f"{path}: the Decisions sheet has no column(s) {', '.join(missing)} in its first row.")
        for number, row in enumerate(rows, start=2):
            if any(cell_text(v) for v in row):
                yield number, {h: row[i] if i < len(row) else None for i, h in enumerate(header) if h}
    finally:
        wb.close()


_STATE_OF = {Decision.APPROVE: State.APPROVED, Decision.REJECT: State.REJECTED}


def apply_edits(plan: Plan, rows: list[tuple[int, dict[str, object]]], settings: Settings, path: Path,
                paid: Mapping[str, PaidBonus] | None = None, *, partial: bool = False) -> EditedPlan:
    """The plan with the sheet's decisions; InputError listing every invalid row.
    `paid`: the bonuses the ledger has `done`, by submission (they cannot be changed).
    A plan row the sheet lacks becomes `review`, unless `partial` (only some rows given:
    the others stay as the plan has them)."""
    paid = paid or {}
    terms = plan.terms
    id_col, who_col, word = terms.columns.submission, terms.columns.participant, terms.submission_word
    by_id = {d.submission_id: d for d in plan.decisions}
    problems: list[str] = []
    seen: dict[str, int] = {}
    edited: dict[str, SubmissionDecision] = {}
    changes: list[str] = []
    for number, cells in rows:
        aid = restore(cell_text(cells.get(id_col)))
        where = f"row {number}"
        if not aid:
            problems.append(f"{where}: no {id_col}")
            continue
        if aid in seen:
            problems.append(f"{where}: {id_col} {aid} is also on row {seen[aid]}")
            continue
        seen[aid] = number
        d = by_id.get(aid)
        if d is None:
            problems.append(f"{where}: {id_col} {aid} is not a{'n' if word[0] in 'aeiou' else ''} {word} of wave "
                            f"{plan.wave}")
            continue
        worker = restore(cell_text(cells.get(who_col)))
        if worker and worker != d.participant_id:
            problems.append(f"{where}: {who_col} {worker} does not match the wave's {d.participant_id} for {aid}")
        raw = cell_text(cells.get("Decision")).lower()
        valid = True  # collect every problem of the row before giving up on it
        try:
            decision = Decision(raw)
        except ValueError:
            problems.append(f"{where}: Decision {raw!r} is not approve, reject or review")
            valid = False
        try:
            bonus = cell_bonus(cells.get("Bonus"))
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            valid = False
        if not valid:
            continue
        # Rejected work set to approve overrides the rejection (SPEC §9: MTurk's OverrideRejection;
        # Prolific: its rejection reversed, then approved).
        override = d.state is State.REJECTED and decision is Decision.APPROVE
        if decision is not d.decision and d.state is not State.PENDING and _STATE_OF.get(decision) is not d.state \
                and not override:
            problems.append(f"{where}: {word} {aid} is already {d.status} on {terms.panel}; its decision cannot be "
                            f"changed here (to {decision.value})")
        done = paid.get(aid)
        want = bonus if decision is Decision.APPROVE else None
        if done is not None and done.amount and Decimal(done.amount) != want:
            problems.append(f"{where}: bonus already paid {done.amount} on {done.updated_at[:10]}; it cannot be "
                            f"changed to {fmt(want) or 'none'} here")
        if bonus is not None and (decision is Decision.REJECT or (d.state is State.REJECTED and not override)):
            problems.append(f"{where}: a bonus goes only to approved work ({aid} is "
                            f"{'rejected' if decision is Decision.REJECT else f'{d.status} on {terms.panel}'})")
        feedback = category = ""
        if decision is Decision.REJECT:
            feedback = restore(cell_text(cells.get("Feedback"))) or settings.rules.reject_feedback
            problem = settings.panel.feedback_problem(feedback)
            if problem:
                problems.append(f"{where}: Feedback {problem}")
            if terms.rejection_categories is not None:
                category = cell_text(cells.get("RejectionCategory")).upper() or rejection_category(d.reasons, terms)
                if category not in terms.category_values:
                    problems.append(f"{where}: RejectionCategory {category!r} is not one of "
                                    f"{', '.join(terms.category_values)}")
        change = []
        if decision is not d.decision:
            change.append(f"{d.decision.value} -> {decision.value}")
        if bonus != d.bonus:
            change.append(f"bonus {fmt(d.bonus) or 'none'} -> {fmt(bonus) or 'none'}")
        if decision is Decision.REJECT and feedback != d.feedback:
            change.append("feedback edited")
        if decision is Decision.REJECT and category != d.rejection_category:
            change.append(f"category {d.rejection_category or 'none'} -> {category}")
        if change:
            changes.append(f"row {number} {aid}: " + "; ".join(change))
            d = dataclasses.replace(d, decision=decision, bonus=bonus, feedback=feedback, rejection_category=category,
                                    notes=[*d.notes, "edited in the workbook: " + "; ".join(change)],
                                    written=tool_cells(d))
        if override and OVERRIDE_REASON not in d.reasons:
            d = dataclasses.replace(d, reasons=[*d.reasons, OVERRIDE_REASON],
                                    notes=[*d.notes, f"approving overrides the rejection on {terms.panel}"])
        edited[aid] = d
    problems += _over_cap({d.submission_id: d for d in plan.decisions} | edited if partial else edited, seen,
                          settings)
    if problems:
        shown = "\n".join(f"  - {p}" for p in problems)
        raise InputError(f"{path}: {len(problems)} problem(s) in the Decisions sheet; nothing was sent:\n{shown}")

    decisions = []
    for d in plan.decisions:
        if d.submission_id in edited:
            decisions.append(edited[d.submission_id])
        elif partial:
            decisions.append(d)
        else:
            decisions.append(dataclasses.replace(d, decision=Decision.REVIEW, feedback="", notes=[*d.notes, MISSING_NOTE]))
    new = dataclasses.replace(plan, decisions=decisions, qualifications=qualifications_for(decisions, settings))
    new.warnings = plan_warnings(new, settings, plan.now)
    return EditedPlan(new, changes, 0 if partial else len(plan.decisions) - len(edited))


def _over_cap(edited: dict[str, SubmissionDecision], rows: dict[str, int], settings: Settings) -> list[str]:
    cap = settings.bonus.max_per_worker
    if cap is None:
        return []
    totals: dict[str, Decimal] = defaultdict(Decimal)
    last: dict[str, int] = {}
    for aid, d in edited.items():
        if d.decision is Decision.APPROVE and d.bonus:
            # The cap is on performance bonuses: a fair-pay top-up is not counted against it.
            totals[d.participant_id] += d.bonus - min(d.top_up or Decimal(0), d.bonus)
            if aid in rows:
                last[d.participant_id] = rows[aid]
    return [f"row {last.get(w, '?')}: bonuses to participant {w} total {fmt(t)}, above [bonus] max_per_worker {fmt(cap)}"
            for w, t in totals.items() if t > cap]
