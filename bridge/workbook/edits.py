"""A person's edits of the `Decisions` sheet, checked and laid over a plan.

Editable: `Decision` (approve / reject / review; `none` only where the tool wrote it),
`Bonus` (changed or cleared), `Feedback` and, on panels that require one,
`RejectionCategory`. The rows come from `bridge.workbook.review.find_edits`, each with the
cells the tool wrote (`AsWritten`), so what a person changed is told from what the tool
wrote, and nothing is invented for a row nobody touched. Everything is validated first and
every problem is reported with its row number before anything is sent.

- `review` → `reject` takes the rejection message and category of the row's own reason
  (`too_fast` → `too_fast_feedback`, `attention_failed` → `attention_feedback`, `unmatched`
  → `reject_feedback`; SPEC 4.2); a row whose reasons have no configured message needs the
  person's `Feedback`, and is refused until it has one. A bonus the tool showed on the row
  is dropped, with a note; a bonus the person typed on a rejection is refused.
- A cell holding a formula is refused: what it shows is not what a person typed.
- `none` (nothing to decide) cannot be given to work that has something to decide (use
  `review` to leave it undecided), and work with nothing to decide cannot be decided.

Not editable here: the decision of work the panel no longer holds as awaiting review (an
approval or rejection cannot be sent again; a decision that agrees with the panel's is
accepted), except rejected work set to `approve`, which overrides the rejection (SPEC §9,
reason `override_rejection`; its bonus follows the approval); and a bonus the ledger
already has paid.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from bridge.closing import qualifications_for
from bridge.config import Settings
from bridge.errors import InputError
from bridge.models import OVERRIDE_REASON, Decision, Plan, State, SubmissionDecision
from bridge.money import AmountError, fmt, has_sub_cent, parse_amount, to_cents
from bridge.rules import configured_feedback, plan_warnings, rejection_category
from bridge.workbook.sheet import Formula
from bridge.workbook.write import AS_WRITTEN, EDITABLE, restore, tool_cells

MISSING_NOTE = "not in the edited Decisions sheet: not applied"
HELD_NOTE = "its row was deleted from the Decisions sheet: held back as review"


class PaidBonus(Protocol):
    """A bonus already paid (a ledger entry): it cannot be changed by an edit."""

    amount: str
    updated_at: str


class EditsRefused(InputError):
    """Edits that cannot be applied, every one named by its row."""

    def __init__(self, path: Path, problems: list[str]):
        self.problems = sorted(problems, key=_row_number)
        shown = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} problem(s) in the Decisions sheet; nothing was sent:\n{shown}")


def _row_number(problem: str) -> int:
    """Problems in the order of their rows ("row 12: ..."), others last."""
    head = problem.split(":", 1)[0].split()
    return int(head[1]) if len(head) == 2 and head[0] == "row" and head[1].isdigit() else 1 << 30


@dataclass(slots=True)
class EditedPlan:
    plan: Plan
    changes: list[str]  # one line per row a person edited, for the person to check
    missing: int  # plan rows the sheet does not have (not applied: review)
    # Rows nobody edited that show otherwise than the rules decide now (the panel's state or
    # the survey changed since the workbook was written): applied as the workbook shows them.
    since: list[str] = field(default_factory=list)
    read: Any = None  # the workbook as read (`bridge.workbook.review.Found`), when from a file


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


def same(column: str, a: object, b: object) -> bool:
    """Two values of an editable cell say the same (a bonus typed 1.5 is 1.50)."""
    if column == "Bonus":
        try:
            return cell_bonus(a) == cell_bonus(b)
        except ValueError:
            return False
    text_a, text_b = restore(cell_text(a)), restore(cell_text(b))
    if column in ("Decision", "RejectionCategory"):
        return text_a.lower() == text_b.lower()
    return text_a == text_b


def written_cells(cells: Mapping[str, object]) -> dict[str, object] | None:
    """A row's editable cells as the tool wrote them (its `AsWritten` cell); None without
    the column, or when a person damaged it. Do not change what it returns: many rows
    written alike share one answer."""
    text = cells.get(AS_WRITTEN)
    if not isinstance(text, str):
        return None
    return _parsed(text)


@functools.lru_cache(maxsize=4096)
def _parsed(text: str) -> dict[str, object] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def plan_cells(d: SubmissionDecision) -> dict[str, object]:
    """A decision's editable cells as the Decisions sheet shows them."""
    return {"Decision": d.decision.value, "Bonus": fmt(d.bonus), "Feedback": d.feedback,
            "RejectionCategory": d.rejection_category}


def changed_cells(cells: Mapping[str, object], against: Mapping[str, object]) -> list[str]:
    """The editable cells whose values say otherwise than `against`'s (`same`)."""
    return [c for c in EDITABLE if not _alike(c, cells.get(c), against.get(c))]


def _alike(column: str, a: object, b: object) -> bool:
    """`same`, with the common cases first: equal values, a bonus cell read as the number
    the tool wrote as text."""
    if a == b:
        return True
    if isinstance(a, (float, int)) and not isinstance(a, bool) and isinstance(b, str) and column == "Bonus":
        try:
            return f"{a:.2f}" == b and abs(a - float(b)) < 1e-9
        except ValueError:
            return False
    return same(column, a, b)


def formula_problems(number: int, cells: Mapping[str, object]) -> list[str]:
    return [f"row {number}: {c} holds a formula (={value}); type the value itself (what a formula shows is not "
            "what was seen)" for c in EDITABLE if isinstance(value := cells.get(c), Formula)]


_STATE_OF = {Decision.APPROVE: State.APPROVED, Decision.REJECT: State.REJECTED}


def apply_edits(plan: Plan, rows: list[tuple[int, dict[str, object]]], settings: Settings, path: Path,
                paid: Mapping[str, PaidBonus] | None = None, *, absent: Collection[str] = (),
                held: Collection[str] = ()) -> EditedPlan:
    """The plan with the sheet's rows laid over it; EditsRefused (an InputError) listing
    every invalid row. `rows`: (row number, cells) of the rows that show otherwise than
    `plan`; plan rows not given stay as planned, except those `absent` from the sheet, which
    become `review` and are not applied (`held`: deleted by a person, kept as their edit so
    a later close-out holds them back too). `paid`: the bonuses the ledger has `done`, by
    submission (they cannot be changed)."""
    paid = paid or {}
    terms = plan.terms
    id_col, who_col, word = terms.columns.submission, terms.columns.participant, terms.submission_word
    by_id = {d.submission_id: d for d in plan.decisions}
    problems: list[str] = []
    seen: dict[str, int] = {}
    edited: dict[str, SubmissionDecision] = {}
    changes: list[str] = []
    since: list[str] = []
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
        formulas = formula_problems(number, cells)
        if formulas:
            problems += formulas
            continue
        worker = restore(cell_text(cells.get(who_col)))
        if worker and worker != d.participant_id:
            problems.append(f"{where}: {who_col} {worker} does not match the wave's {d.participant_id} for {aid}")
        written = written_cells(cells)
        person = changed_cells(cells, written if written is not None else tool_cells(d))
        row = _row(number, aid, cells, d, person, settings, plan, paid, problems)
        if row is None:
            continue
        new, change = row
        if change:
            (changes if person else since).append(f"row {number} {aid}: " + "; ".join(change))
        edited[aid] = new
    # The cap per participant, for the participants whose rows changed (their other rows as planned).
    touched = {d.participant_id for d in edited.values()}
    problems += _over_cap({sid: edited.get(sid, d) for sid, d in by_id.items() if d.participant_id in touched}, seen,
                          settings)
    if problems:
        raise EditsRefused(path, problems)

    decisions = []
    for d in plan.decisions:
        if d.submission_id in edited:
            decisions.append(edited[d.submission_id])
        elif d.submission_id in absent:
            keep = d.submission_id in held
            decisions.append(dataclasses.replace(
                d, decision=Decision.REVIEW if d.decision is not Decision.NONE else d.decision, feedback="",
                rejection_category="", notes=[*d.notes, HELD_NOTE if keep else MISSING_NOTE],
                written=tool_cells(d) if keep else d.written))
        else:
            decisions.append(d)
    # Groups and warnings follow decisions and reasons: a bonus or a message edited leaves them as planned.
    regroup = absent or any(e.decision is not by_id[sid].decision or e.reasons != by_id[sid].reasons
                            for sid, e in edited.items())
    new_plan = dataclasses.replace(plan, decisions=decisions, qualifications=qualifications_for(decisions, settings)
                                   if regroup else plan.qualifications)
    new_plan.warnings = plan_warnings(new_plan, settings, plan.now) if regroup else list(plan.warnings)
    return EditedPlan(new_plan, changes, len(absent), since)


def _row(number: int, aid: str, cells: Mapping[str, object], d: SubmissionDecision, person: list[str],
         settings: Settings, plan: Plan, paid: Mapping[str, PaidBonus], problems: list[str]
         ) -> tuple[SubmissionDecision, list[str]] | None:
    """One row's decision and the list of what changed; None (problems noted) when invalid."""
    terms = plan.terms
    where = f"row {number}"
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
        return None
    notes: list[str] = []
    if (decision is Decision.NONE) is not (d.decision is Decision.NONE):
        problems.append(f"{where}: Decision none is only for work with nothing to decide; use review to leave "
                        f"{aid} undecided" if decision is Decision.NONE else
                        f"{where}: {terms.submission_word} {aid} has nothing to decide ({d.status} on {terms.panel}); "
                        f"its Decision stays none")
        return None
    # Rejected work set to approve overrides the rejection (SPEC §9: MTurk's OverrideRejection;
    # Prolific: its rejection reversed, then approved).
    override = d.state is State.REJECTED and decision is Decision.APPROVE
    if decision is not d.decision and d.state is not State.PENDING and _STATE_OF.get(decision) is not d.state \
            and not override:
        problems.append(f"{where}: {terms.submission_word} {aid} is already {d.status} on {terms.panel}; its "
                        f"decision cannot be changed here (to {decision.value})")
        return None
    if decision is Decision.REJECT and bonus is not None and "Bonus" not in person:
        notes.append(f"bonus {fmt(bonus)} dropped: rejected work gets no bonus")
        bonus = None
    done = paid.get(aid)
    want = bonus if decision is Decision.APPROVE else None
    if done is not None and done.amount and Decimal(done.amount) != want:
        problems.append(f"{where}: bonus already paid {done.amount} on {done.updated_at[:10]}; it cannot be "
                        f"changed to {fmt(want) or 'none'} here")
    if bonus is not None and (decision in (Decision.REJECT, Decision.NONE)
                              or (d.state is State.REJECTED and not override)):
        problems.append(f"{where}: a bonus goes only to approved work ({aid} is "
                        f"{'rejected' if decision is Decision.REJECT else f'{d.status} on {terms.panel}'})")
    feedback = category = ""
    if decision is Decision.REJECT and d.state is not State.PENDING:  # agrees with the panel: nothing is sent
        feedback, category = d.feedback, d.rejection_category
    elif decision is Decision.REJECT:
        feedback = restore(cell_text(cells.get("Feedback")))
        if not feedback and d.decision is Decision.REJECT:
            feedback = d.feedback
        elif not feedback:
            feedback = configured_feedback(d.reasons, settings)
            if not feedback:
                problems.append(f"{where}: rejecting {aid} needs a Feedback message: its reasons "
                                f"({', '.join(d.reasons) or 'none'}) have no configured message. Write one in "
                                "Feedback")
        problem = settings.panel.feedback_problem(feedback) if feedback else None
        if problem:
            problems.append(f"{where}: Feedback {problem}")
        if terms.rejection_categories is not None:
            category = cell_text(cells.get("RejectionCategory")).upper()
            if not category:
                category = d.rejection_category if d.decision is Decision.REJECT and d.rejection_category \
                    else rejection_category(d.reasons, terms)
            if category not in terms.category_values:
                problems.append(f"{where}: RejectionCategory {category!r} is not one of "
                                f"{', '.join(terms.category_values)}")
    change = []
    if decision is not d.decision:
        change.append(f"{d.decision.value} -> {decision.value}")
    if bonus != d.bonus:
        change.append(f"bonus {fmt(d.bonus) or 'none'} -> {fmt(bonus) or 'none'}")
    if decision is Decision.REJECT and feedback != d.feedback and d.decision is Decision.REJECT:
        change.append("feedback edited")
    if decision is Decision.REJECT and category != d.rejection_category and d.decision is Decision.REJECT:
        change.append(f"category {d.rejection_category or 'none'} -> {category}")
    if change:
        d = dataclasses.replace(d, decision=decision, bonus=bonus, feedback=feedback, rejection_category=category,
                                notes=[*d.notes, ("edited in the workbook: " if person else
                                                  "applied as the workbook shows: ") + "; ".join(change), *notes],
                                written=tool_cells(d))
    if override and OVERRIDE_REASON not in d.reasons:
        d = dataclasses.replace(d, reasons=[*d.reasons, OVERRIDE_REASON],
                                notes=[*d.notes, f"approving overrides the rejection on {terms.panel}"])
    return d, change


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
