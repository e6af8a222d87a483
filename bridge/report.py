"""The reconciliation workbook (SPEC §4): openpyxl makes the package, `bridge.xlsx` the rows.

IDs and codes are written as text cells. Text from survey answers or participants that starts
with `=`, `+`, `-`, `@`, tab or CR is prefixed with `'` so no spreadsheet runs it as a
formula. The file is written next to its destination and moved into place, so a failure
never leaves half a workbook.
"""

from __future__ import annotations

import os
import statistics
import tempfile
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from itertools import chain
from pathlib import Path

from bridge.cost import plan_cost
from bridge.errors import InputError
from bridge.models import Columns, Decision, MatchKind, Plan, State, SubmissionDecision
from bridge.money import fmt, to_cents
from bridge.xlsx import write_xlsx

UNMATCHED_COLUMNS = ["ResponseId", "Code", "{participant}", "Finished", "DurationSeconds", "Reasons"]
QUALIFICATION_COLUMNS = ["{participant}", "{group}", "Action", "Value"]
LOG_COLUMNS = ["Action", "{submission}", "{participant}", "Amount", "Status", "Detail", "At"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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


def safe(text: str) -> str | None:
    """Neutralise text that a spreadsheet would run as a formula; empty text is no cell."""
    if not text:
        return None
    return "'" + text if text.startswith(_FORMULA_START) else text


def restore(text: str) -> str:
    """Undo `safe`: the text as the participant or survey wrote it."""
    return text[1:] if len(text) > 1 and text[0] == "'" and text[1:].startswith(_FORMULA_START) else text


def _text(text: str) -> str | None:
    return text or None  # write-only sheets skip None cells: a clean wave writes far fewer


@dataclass(frozen=True, slots=True)
class LogRow:
    action: str
    submission_id: str
    participant_id: str
    amount: str
    status: str
    detail: str
    at: str


def summary_rows(plan: Plan, balance: str | None = None) -> tuple[list[tuple[str, object]], list[str]]:
    """(Item, Value) rows of the Summary sheet and the warnings (plan's plus wage)."""
    terms = plan.terms
    cur = terms.currency
    cost = plan_cost(plan)
    counts = Counter(d.decision for d in plan.decisions)
    kinds = Counter(d.match for d in plan.decisions)
    seconds = [d.duration_seconds for d in plan.decisions if d.duration_seconds is not None]
    median_minutes = Decimal(statistics.median(seconds)) / 60 if seconds else None
    warnings = list(plan.warnings)
    wage = None
    pays = [
        (d.reward or Decimal(0)) + (d.bonus or Decimal(0))
        for d in plan.decisions
        if d.decision is Decision.APPROVE and d.reward is not None
    ]
    if pays and median_minutes:
        wage = to_cents(statistics.median(pays) / median_minutes * 60)
        if terms.pay_floor is not None and wage < terms.pay_floor:
            warnings.append(
                f"Effective hourly wage {wage} {cur} is below {terms.pay_floor_name} of {terms.pay_floor} {cur}/hour "
                f"(median survey time {median_minutes:.1f} minutes)."
            )
    rows: list[tuple[str, object]] = [
        ("Wave", plan.wave),
        ("Environment", plan.environment),
        ("Computed at (UTC)", plan.now.strftime("%Y-%m-%d %H:%M:%S")),
        (terms.submissions_label, len(plan.decisions)),
        ("Matched", kinds[MatchKind.EXACT] + kinds[MatchKind.NORMALIZED]),
        ("Matched exactly", kinds[MatchKind.EXACT]),
        ("Matched after normalizing", kinds[MatchKind.NORMALIZED]),
        ("Near misses", kinds[MatchKind.NEAR_MISS]),
        ("Unmatched", kinds[MatchKind.NONE]),
        ("Approve", counts[Decision.APPROVE]),
        ("Reject", counts[Decision.REJECT]),
        ("Review", counts[Decision.REVIEW]),
        (f"Already decided on {terms.panel} (not sent again)", sum(d.state is not State.PENDING
                                                                  for d in plan.decisions)),
        ("Survey responses", plan.survey_responses),
        ("Survey responses not matched", len(plan.unmatched_responses)),
        ("Approvals to send", cost.approvals),
        (f"Rewards to pay ({cur})", fmt(cost.rewards)),
        ("Bonuses to pay", cost.bonuses_count),
        (f"Bonus total ({cur})", fmt(cost.bonuses)),
        (f"{terms.panel} fees ({cur})", fmt(cost.fees)),
        (f"Total cost ({cur})", fmt(cost.total)),
        (f"Account balance ({cur})", balance if balance is not None else "not checked (dry run)"),
        ("Median survey minutes", float(round(median_minutes, 1)) if median_minutes is not None else ""),
        (f"Effective hourly wage ({cur})", fmt(wage) if wage is not None else ""),
        ("Qualification grants", len(plan.qualifications)),
    ]
    rewards = {d.task_id: d.reward for d in plan.decisions}
    for task_id, task in plan.tasks.items():
        reward = rewards.get(task_id, task.reward)
        rows.append((f"Reward per {terms.submission_word}, {terms.task_word} {task_id} ({cur})",
                     fmt(reward) or "unknown"))
    rows += plan.figures
    for role in ("prev_worker", "eligible_worker"):
        granted = [q for q in plan.qualifications if q.role == role]
        if granted:
            rows.append((f"{role} grants ({terms.group_word} {granted[0].group_id})", len(granted)))
    if cost.unknown_rewards:
        rows.append(("Approvals with unknown reward (not in cost)", cost.unknown_rewards))
    rows.append(("Warnings", len(warnings)))
    return rows, warnings


def write_workbook(plan: Plan, path: Path, *, balance: str | None = None, log: list[LogRow] | None = None) -> Path:
    rows, warnings = summary_rows(plan, balance)
    summary = [["Item", "Value"], *([item, value] for item, value in rows), *(["Warning", w] for w in warnings)]
    columns = plan.terms.columns
    category = [columns.rejection_category]

    def decision_row(d: SubmissionDecision) -> list:
        row = [safe(d.submission_id), safe(d.participant_id), safe(d.task_id), safe(d.entered_code),
               _text(d.response_id), d.match.value, d.decision.value, _text(fmt(d.bonus)),
               _text(";".join(d.reasons)), safe(d.feedback)]
        if category[0]:
            row.append(_text(d.rejection_category))
        return row + [
            safe(d.status), d.duration_seconds,
            # Only where a person must act before the panel approves on its own.
            d.auto_approval_time.strftime("%Y-%m-%d %H:%M:%S")
            if d.auto_approval_time and d.decision is Decision.REVIEW and d.state is State.PENDING else None,
            safe("; ".join(d.notes)),
        ]

    decisions = chain([decision_columns(columns)], (decision_row(d) for d in plan.decisions))
    unmatched = chain([named(UNMATCHED_COLUMNS, columns)], (
        [safe(u.response_id), safe(u.code), safe(u.participant_id),
         None if u.finished is None else ("True" if u.finished else "False"), u.duration_seconds, ";".join(u.reasons)]
        for u in plan.unmatched_responses
    ))
    qualifications = chain([named(QUALIFICATION_COLUMNS, columns)], (
        [safe(q.participant_id), safe(q.group_id), q.action, q.value] for q in plan.qualifications))
    log_rows = chain([named(LOG_COLUMNS, columns)], (
        [r.action, safe(r.submission_id), safe(r.participant_id), r.amount, r.status, safe(r.detail), r.at]
        for r in log or []))
    sheets = {
        "Summary": summary,
        "Decisions": decisions,
        "Unmatched responses": unmatched,
        "Qualifications": qualifications,
        "Log": log_rows,
    }

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".xlsx.tmp", dir=path.parent)
        os.close(fd)
        try:
            write_xlsx(tmp, sheets)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except PermissionError:
        raise InputError(f"{path}: cannot write the workbook (is it open in Excel?). Close it and run again.") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot write the workbook: {exc.strerror}.") from None
    return path
