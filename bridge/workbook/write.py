"""The reconciliation workbook (SPEC §4, §4.1, §4.3): openpyxl makes the package, `bridge.workbook.xlsx` the rows.

Laid out for a PI, on screen and on paper: bold frozen header, autofilter, widths from the
content, landscape printing at 8 pt or more with the header repeated (`bridge.workbook.xlsx`);
money as number cells shown 0.00, counts as numbers, IDs and codes as text; review rows
filled. The Summary counts and costs what is still to send apart from what the ledger has
done (`SubmissionDecision.applied`), so after `apply` it shows the money spent.

Every text cell from outside (IDs, codes, answers, feedback, notes) that starts with `=`,
`+`, `-`, `@`, tab or CR after Unicode normalisation (fullwidth `＝` counts) is prefixed
with `'` so no spreadsheet runs it as a formula. A hidden last column of `Decisions`
(`AsWritten`) keeps each row's editable cells as written, so a later run can tell a
person's edits from its own (`bridge.workbook.review`); it travels with its row when a
person sorts. The file is written next to its destination and moved into place, so a
failure never leaves half a workbook; a record of it as written goes beside it
(`bridge.workbook.stamp`).
"""

from __future__ import annotations

import json
import statistics
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from itertools import chain
from pathlib import Path

from bridge.closing import COMPENSATION_COLUMNS, closing_rows, compensation_cells
from bridge.cost import DONE, SKIPPED, progress
from bridge.files import write_atomically
from bridge.models import OVERRIDE_REASON, Columns, Decision, MatchKind, Plan, State, SubmissionDecision
from bridge.money import to_cents
from bridge.pay_time import PaidTime, basis, paid_time
from bridge.redact import redact
from bridge.workbook.charts import charts_sheet
from bridge.workbook.stamp import write_stamp
from bridge.workbook.xlsx import Sheet, write_xlsx

CREATOR = "survey-bridge"
SHEETS = ("Summary", "Charts", "Decisions", "Unmatched responses", "Qualifications", "Log")
AS_WRITTEN = "AsWritten"  # hidden column: a row's editable cells as the tool wrote them (JSON)
EDITABLE = ("Decision", "Bonus", "Feedback", "RejectionCategory")
UNMATCHED_COLUMNS = ["ResponseId", "Code", "{participant}", "Finished", "DurationSeconds", "Reasons",
                     *COMPENSATION_COLUMNS]
QUALIFICATION_COLUMNS = ["{participant}", "{group}", "Action", "Value"]
LOG_COLUMNS = ["Action", "{submission}", "{participant}", "Amount", "Status", "Detail", "At"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NOTHING_APPROVED = "n/a (nothing approved)"
NOTHING_TO_DECIDE = "Nothing to decide (ended, no survey response)"


def decision_columns(columns: Columns) -> list[str]:
    """The Decisions sheet's header in the panel's words (SPEC §4, §7)."""
    head = [columns.submission, columns.participant, columns.task, columns.code, "ResponseId", "Match", "Decision",
            "Bonus", "Reasons", "Feedback"]
    if columns.rejection_category:
        head.append("RejectionCategory")
    return head + [columns.status, "DurationSeconds", "AutoApprovalTime", "Notes"]


def named(template: list[str], columns: Columns) -> list[str]:
    return [c.format(submission=columns.submission, participant=columns.participant, group=columns.group)
            for c in template]


def _formula_like(text: str) -> bool:
    if text.startswith(_FORMULA_START):
        return True
    # Spreadsheets fold fullwidth and other compatibility forms (＝, ＋, －, ＠) to ASCII.
    return not text.isascii() and unicodedata.normalize("NFKC", text[:4]).startswith(_FORMULA_START)


def safe(text: str) -> str | None:
    """Neutralise text that a spreadsheet would run as a formula; empty text is no cell."""
    if not text:
        return None
    return "'" + text if _formula_like(text) else text


def restore(text: str) -> str:
    """Undo `safe`: the text as the participant or survey wrote it."""
    return text[1:] if len(text) > 1 and text[0] == "'" and _formula_like(text[1:]) else text


def _money(value: Decimal | None) -> Decimal | None:
    return None if value is None else to_cents(value)


@dataclass(frozen=True, slots=True)
class LogRow:
    action: str
    submission_id: str
    participant_id: str
    amount: str
    status: str
    detail: str
    at: str


@dataclass(frozen=True, slots=True)
class Counts:
    """Decisions by what happens to them: still to send, sent (done, per the ledger), left
    for a person, decided on the panel before, nothing to decide. They sum to the
    submissions; `review` is the one count of review rows everywhere (SPEC 4.2)."""

    approve: int  # approve, awaiting review, not yet done: to send
    reject: int  # reject, awaiting review, not yet done: to send
    review: int  # Decision review: a person decides
    decided: int  # already decided on the panel (or the ledger found it could not be sent): nothing sent
    none: int = 0  # Decision none: ended by the participant, no response: nothing to decide
    approved: int = 0  # approvals (and overridden rejections) done, per the ledger
    rejected: int = 0  # rejections done, per the ledger

    @classmethod
    def of(cls, plan: Plan) -> "Counts":
        c: Counter[str] = Counter()
        for d in plan.decisions:
            if d.decision in (Decision.REVIEW, Decision.NONE):
                c[d.decision.value] += 1
                continue
            kind = "override" if d.decision is Decision.APPROVE and OVERRIDE_REASON in d.reasons else d.decision.value
            status = d.ledger_status(kind)
            if status == DONE:
                c["approved" if d.decision is Decision.APPROVE else "rejected"] += 1
            elif status != SKIPPED and d.sends_status_change:
                c[d.decision.value] += 1
            else:
                c["decided"] += 1
        return cls(c["approve"], c["reject"], c["review"], c["decided"], c["none"], c["approved"], c["rejected"])


def _wage(plan: Plan, median_minutes: Decimal | None, *, top_ups: bool) -> Decimal | None:
    """The median pay of approved work per hour at the median time paid for (`bridge.pay_time`)."""
    pays = [
        (d.reward or Decimal(0)) + (d.bonus or Decimal(0)) - (Decimal(0) if top_ups else d.top_up or Decimal(0))
        for d in plan.decisions
        if d.decision is Decision.APPROVE and d.reward is not None
    ]
    if not pays or not median_minutes:
        return None
    return to_cents(statistics.median(pays) / median_minutes * 60)


def summary_rows(plan: Plan, balance: Decimal | str | None = None) -> tuple[list[tuple[str, object]], list[str]]:
    """(Item, Value) rows of the Summary sheet and the warnings (plan's plus wage). Money
    is Decimal, counts int."""
    terms = plan.terms
    cur, panel = terms.currency, terms.panel
    money = progress(plan)
    spent, cost = money.spent, money.to_send
    counts = Counts.of(plan)
    kinds = Counter(d.match for d in plan.decisions)
    paid = paid_time(plan.decisions)
    median_minutes = Decimal(str(paid.seconds)) / 60 if paid.seconds is not None else None
    warnings = list(plan.warnings)
    wage = _wage(plan, median_minutes, top_ups=True)
    if wage is not None and terms.pay_floor is not None and wage < terms.pay_floor:
        warnings.append(
            f"Effective hourly wage {wage} {cur} is below {terms.pay_floor_name} of {terms.pay_floor} {cur}/hour "
            f"(at {basis(paid, terms)}, {median_minutes:.1f} minutes)."
        )
    rows: list[tuple[str, object]] = [
        ("Wave", plan.wave),
        ("Panel", panel),
        ("Environment", redact(plan.environment)),
        ("Computed at (UTC)", plan.now.strftime("%Y-%m-%d %H:%M:%S")),
        ("Currency", cur),
        (terms.submissions_label, len(plan.decisions)),
        ("Matched", kinds[MatchKind.EXACT] + kinds[MatchKind.NORMALIZED]),
        ("Matched exactly", kinds[MatchKind.EXACT]),
        ("Matched after normalizing", kinds[MatchKind.NORMALIZED]),
        ("Near misses", kinds[MatchKind.NEAR_MISS]),
        ("Unmatched", kinds[MatchKind.NONE]),
        ("Approve (to send)", counts.approve),
        ("Reject (to send)", counts.reject),
        *([(f"Approved (done on {panel})", counts.approved)] if counts.approved else []),
        *([(f"Rejected (done on {panel})", counts.rejected)] if counts.rejected else []),
        ("Review (a person decides)", counts.review),
        (f"Already decided on {panel} (nothing sent)", counts.decided),
        (NOTHING_TO_DECIDE, counts.none),
        ("Survey responses", plan.survey_responses),
        ("Survey responses not matched", len(plan.unmatched_responses)),
        (f"Rewards to pay ({cur})", cost.rewards),
        ("Bonuses to pay", cost.bonuses_count),
        *([("Bonuses paid", spent.bonuses_count)] if spent.bonuses_count else []),
        (f"Bonus total ({cur})", spent.bonuses + cost.bonuses),
        (f"{panel} fees ({cur})", spent.fees + cost.fees),
        (f"Total cost ({cur})", money.total),
        (f"Spent so far ({cur})", spent.total),
        (f"Still to send ({cur})", cost.total),
        (f"Account balance ({cur})", balance if balance is not None else "not checked (dry run)"),
        *_reward_rows(plan),
        *_time_rows(plan, paid),
        (f"Effective hourly wage ({cur})", wage if wage is not None else NOTHING_APPROVED),
    ]
    if any("pay_top_up" in d.reasons for d in plan.decisions):
        before = _wage(plan, median_minutes, top_ups=False)
        rows.append((f"Effective hourly wage before top-ups ({cur})", before if before is not None else ""))
    rows += plan.figures
    rows.append(("Qualification grants", sum(q.action == "grant" for q in plan.qualifications)))
    for role in ("prev_worker", "eligible_worker"):
        granted = [q for q in plan.qualifications if q.role == role and q.action == "grant"]
        if granted:
            rows.append((f"{role} grants ({granted[0].group_id})", len(granted)))
    rows += closing_rows(plan)  # SPEC §9: overrides, revokes, invitations, compensations, expiries
    if cost.unknown_rewards + spent.unknown_rewards:
        rows.append(("Approvals with unknown reward (not in cost)", cost.unknown_rewards + spent.unknown_rewards))
    rows.append(("Warnings", len(warnings)))
    return rows, warnings


def _time_rows(plan: Plan, paid: PaidTime) -> list[tuple[str, object]]:
    """Both medians of the approved work, the survey's and the panel's (SPEC §8), and which
    one the wage and the [fair_pay] top-up used."""
    terms = plan.terms
    approved = [d for d in plan.decisions if d.decision is Decision.APPROVE]
    survey = [d.duration_seconds for d in approved if d.duration_seconds is not None]
    panel = [d.time_taken_seconds for d in approved if d.time_taken_seconds]

    def minutes(seconds: list[int], missing: str) -> object:
        return round(statistics.median(seconds) / 60, 1) if seconds else missing

    return [
        ("Median survey minutes (approved)", minutes(survey, NOTHING_APPROVED if not approved else "")),
        (f"Median {terms.time_name} on {terms.panel} (minutes, approved)",
         minutes(panel, NOTHING_APPROVED if not approved else f"not given by {terms.panel}")),
        ("Effective hourly wage and top-ups use", basis(paid, terms) if approved else NOTHING_APPROVED),
    ]


def _reward_rows(plan: Plan) -> list[tuple[str, object]]:
    """One row per distinct reward (SPEC 4.1), naming the tasks when there are several."""
    terms = plan.terms
    rewards = {d.task_id: d.reward for d in plan.decisions}
    by_reward: dict[Decimal | None, list[str]] = {}
    for task_id, task in plan.tasks.items():
        by_reward.setdefault(rewards.get(task_id, task.reward), []).append(task_id)
    label = f"Reward per {terms.submission_word} ({terms.currency})"
    if len(by_reward) <= 1:
        return [(label, _money(next(iter(by_reward), None)) or "unknown")]
    return [(f"{label}, {terms.task_word} {', '.join(ids[:3])}" + (f" and {len(ids) - 3} more" if len(ids) > 3 else ""),
             _money(reward) if reward is not None else "unknown") for reward, ids in by_reward.items()]


def as_written(cells: dict[str, object]) -> str:
    """A row's editable cells as the tool decided them, as compact JSON text."""
    return json.dumps({k: (str(v) if isinstance(v, Decimal) else v) for k, v in cells.items()},
                      ensure_ascii=False, separators=(",", ":"))


def tool_cells(d: SubmissionDecision) -> dict[str, str]:
    """The editable cells of a decision as the tool made it (text, as `as_written` keeps them)."""
    return d.written or shown_cells(d)


def shown_cells(d: SubmissionDecision) -> dict[str, str]:
    """The editable cells of a decision as its row shows them (text, as `as_written` keeps them)."""
    return {"Decision": d.decision.value, "Bonus": str(_money(d.bonus)) if d.bonus is not None else None,
            "Feedback": safe(d.feedback), "RejectionCategory": d.rejection_category or None}


def decision_row(d: SubmissionDecision, columns: Columns) -> list:
    row = [safe(d.submission_id), safe(d.participant_id), safe(d.task_id), safe(d.entered_code),
           safe(d.response_id), d.match.value, d.decision.value, _money(d.bonus),
           ";".join(d.reasons) or None, safe(d.feedback)]
    if columns.rejection_category:
        row.append(d.rejection_category or None)
    return row + [
        safe(d.status), d.duration_seconds,
        # Only where a person must act before the panel approves on its own.
        d.auto_approval_time.strftime("%Y-%m-%d %H:%M:%S")
        if d.auto_approval_time and d.decision is Decision.REVIEW and d.state is State.PENDING else None,
        safe("; ".join(d.notes)),
    ]


def workbook_sheets(plan: Plan, *, balance: Decimal | str | None = None,
                    log: Iterable[LogRow] = ()) -> dict[str, Sheet]:
    columns = plan.terms.columns
    rows, warnings = summary_rows(plan, balance)
    summary = [["Item", "Value"], *([item, value] for item, value in rows), *(["Warning", w] for w in warnings)]
    head = decision_columns(columns)
    bonus, decision = head.index("Bonus"), head.index("Decision")
    feedback, notes = head.index("Feedback"), head.index("Notes")

    def with_baseline(d: SubmissionDecision) -> list:
        return [*decision_row(d, columns), as_written(tool_cells(d))]

    # In the panel's order; review rows are filled and the autofilter sorts or picks by Decision.
    decisions = chain([[*head, AS_WRITTEN]], (with_baseline(d) for d in plan.decisions))
    paying = compensation_cells(plan)
    unmatched = chain([named(UNMATCHED_COLUMNS, columns)], (
        [safe(u.response_id), safe(u.code), safe(u.participant_id),
         None if u.finished is None else ("True" if u.finished else "False"), u.duration_seconds, ";".join(u.reasons),
         *paying.get(u.response_id, [None, None, None])]
        for u in plan.unmatched_responses))
    qualifications = chain([named(QUALIFICATION_COLUMNS, columns)], (
        [safe(q.participant_id), safe(q.group_id), q.action, q.value if q.action == "grant" else None]
        for q in plan.qualifications))
    log_rows = chain([named(LOG_COLUMNS, columns)], (
        [r.action, safe(r.submission_id), safe(r.participant_id), Decimal(r.amount) if r.amount else None, r.status,
         safe(redact(r.detail)), r.at] for r in log))
    return {
        "Summary": Sheet(summary, wrap=[1], max_width=70),
        "Charts": charts_sheet(plan, safe),
        "Decisions": Sheet(decisions, money=[bonus], wrap=[feedback, notes], widths={feedback: 36, notes: 48},
                           highlight=lambda r: r[decision] == "review", hidden_columns=[len(head)]),
        "Unmatched responses": Sheet(unmatched, money=[6, 7], wrap=[8]),
        "Qualifications": Sheet(qualifications),
        "Log": Sheet(log_rows, money=[3], wrap=[5]),
    }


def write_workbook(plan: Plan, path: Path, *, balance: Decimal | str | None = None,
                   log: Iterable[LogRow] | None = None) -> Path:
    """Write the workbook at `path` (replacing it whole; the caller checks the path is the
    tool's to replace: `bridge.workbook.review.guard_workbook`)."""
    sheets = workbook_sheets(plan, balance=balance, log=log or ())
    written = write_atomically(Path(path), lambda tmp: write_xlsx(tmp, sheets, creator=CREATOR), what="workbook")
    # bridge.workbook.review reads it: the rows that hold a person's edits, as decision_row writes them
    columns = plan.terms.columns
    edits = [(i, {columns.submission: safe(d.submission_id), columns.participant: safe(d.participant_id),
                  **shown_cells(d), AS_WRITTEN: as_written(tool_cells(d))})
             for i, d in enumerate(plan.decisions, start=2) if d.written is not None]
    write_stamp(written, (d.submission_id for d in plan.decisions), edits)
    return written

