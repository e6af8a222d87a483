"""The reconciliation workbook (SPEC §4): openpyxl makes the package, `bridge.xlsx` the rows.

IDs and codes are written as text cells. Text from survey answers or workers that starts
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
from bridge.models import Decision, MatchKind, Plan
from bridge.money import fmt, to_cents
from bridge.xlsx import write_xlsx

MINIMUM_WAGE = Decimal("7.25")  # US federal minimum wage, USD per hour

DECISION_COLUMNS = [
    "AssignmentId", "WorkerId", "HITId", "SubmittedCode", "ResponseId", "Match", "Decision", "Bonus",
    "Reasons", "Feedback", "MTurkStatus", "DurationSeconds", "AutoApprovalTime", "Notes",
]
UNMATCHED_COLUMNS = ["ResponseId", "Code", "WorkerId", "Finished", "DurationSeconds", "Reasons"]
QUALIFICATION_COLUMNS = ["WorkerId", "QualificationTypeId", "Action", "Value"]
LOG_COLUMNS = ["Action", "AssignmentId", "WorkerId", "Amount", "Status", "Detail", "At"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe(text: str) -> str | None:
    """Neutralise text that a spreadsheet would run as a formula; empty text is no cell."""
    if not text:
        return None
    return "'" + text if text.startswith(_FORMULA_START) else text


def restore(text: str) -> str:
    """Undo `safe`: the text as the worker or survey wrote it."""
    return text[1:] if len(text) > 1 and text[0] == "'" and text[1:].startswith(_FORMULA_START) else text


def _text(text: str) -> str | None:
    return text or None  # write-only sheets skip None cells: a clean wave writes far fewer


@dataclass(frozen=True, slots=True)
class LogRow:
    action: str
    assignment_id: str
    worker_id: str
    amount: str
    status: str
    detail: str
    at: str


def summary_rows(plan: Plan, balance: str | None = None) -> tuple[list[tuple[str, object]], list[str]]:
    """(Item, Value) rows of the Summary sheet and the warnings (plan's plus wage)."""
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
        if wage < MINIMUM_WAGE:
            warnings.append(
                f"Effective hourly wage {wage} USD is below the US federal minimum wage of {MINIMUM_WAGE} USD/hour "
                f"(median survey time {median_minutes:.1f} minutes)."
            )
    rows: list[tuple[str, object]] = [
        ("Wave", plan.wave),
        ("Environment", plan.environment),
        ("Computed at (UTC)", plan.now.strftime("%Y-%m-%d %H:%M:%S")),
        ("Submissions (assignments)", len(plan.decisions)),
        ("Matched", kinds[MatchKind.EXACT] + kinds[MatchKind.NORMALIZED]),
        ("Matched exactly", kinds[MatchKind.EXACT]),
        ("Matched after normalizing", kinds[MatchKind.NORMALIZED]),
        ("Near misses", kinds[MatchKind.NEAR_MISS]),
        ("Unmatched", kinds[MatchKind.NONE]),
        ("Approve", counts[Decision.APPROVE]),
        ("Reject", counts[Decision.REJECT]),
        ("Review", counts[Decision.REVIEW]),
        ("Already decided on MTurk (not sent again)", sum(d.status != "Submitted" for d in plan.decisions)),
        ("Survey responses", plan.survey_responses),
        ("Survey responses not matched", len(plan.unmatched_responses)),
        ("Approvals to send", cost.approvals),
        ("Rewards to pay (USD)", fmt(cost.rewards)),
        ("Bonuses to pay", cost.bonuses_count),
        ("Bonus total (USD)", fmt(cost.bonuses)),
        ("MTurk fees (USD)", fmt(cost.fees)),
        ("Total cost (USD)", fmt(cost.total)),
        ("Account balance (USD)", balance if balance is not None else "not checked (dry run)"),
        ("Median survey minutes", float(round(median_minutes, 1)) if median_minutes is not None else ""),
        ("Effective hourly wage (USD)", fmt(wage) if wage is not None else ""),
        ("Qualification grants", len(plan.qualifications)),
    ]
    rewards = {d.hit_id: d.reward for d in plan.decisions}
    for hit_id, hit in plan.hits.items():
        reward = rewards.get(hit_id, hit.reward)
        rows.append((f"Reward per assignment, HIT {hit_id} (USD)", fmt(reward) or "unknown"))
    for role in ("prev_worker", "eligible_worker"):
        granted = [q for q in plan.qualifications if q.role == role]
        if granted:
            rows.append((f"{role} grants (type {granted[0].qualification_type_id})", len(granted)))
    if cost.unknown_rewards:
        rows.append(("Approvals with unknown reward (not in cost)", cost.unknown_rewards))
    rows.append(("Warnings", len(warnings)))
    return rows, warnings


def write_workbook(plan: Plan, path: Path, *, balance: str | None = None, log: list[LogRow] | None = None) -> Path:
    rows, warnings = summary_rows(plan, balance)
    summary = [["Item", "Value"], *([item, value] for item, value in rows), *(["Warning", w] for w in warnings)]
    decisions = chain([DECISION_COLUMNS], (
        [
            d.assignment_id, d.worker_id, d.hit_id, safe(d.submitted_code), _text(d.response_id), d.match.value,
            d.decision.value, _text(fmt(d.bonus)), _text(";".join(d.reasons)), safe(d.feedback), d.status,
            d.duration_seconds,
            # Only where a person must act before MTurk approves on its own.
            d.auto_approval_time.strftime("%Y-%m-%d %H:%M:%S")
            if d.auto_approval_time and d.decision is Decision.REVIEW and d.status == "Submitted" else None,
            safe("; ".join(d.notes)),
        ]
        for d in plan.decisions
    ))
    unmatched = chain([UNMATCHED_COLUMNS], (
        [safe(u.response_id), safe(u.code), safe(u.worker_id),
         None if u.finished is None else ("True" if u.finished else "False"), u.duration_seconds, ";".join(u.reasons)]
        for u in plan.unmatched_responses
    ))
    qualifications = chain([QUALIFICATION_COLUMNS], ([q.worker_id, q.qualification_type_id, q.action, q.value]
                                                     for q in plan.qualifications))
    log_rows = chain([LOG_COLUMNS], ([r.action, r.assignment_id, r.worker_id, r.amount, r.status, safe(r.detail), r.at]
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
