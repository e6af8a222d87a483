"""Typed tables and the Plan: the data that flows between the layers, in no panel's words.

A panel's reader (`bridge.panels.<panel>`) produces a `SubmissionTable`; the survey reader
(`bridge.sources`) a `SurveyTable`; `match` pairs them; `rules` turns the matches plus the
config into a `Plan`, which `report` writes and `apply` executes through the panel's
adapter. A *submission* is one piece of work a participant handed in (an MTurk assignment,
a Prolific submission); a *task* is what they worked on (an MTurk HIT, a Prolific study).
IDs and codes are `str`, money is `Decimal` in the wave's currency, times are aware UTC
`datetime`s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

# --- The panel side -----------------------------------------------------------------------


class State(StrEnum):
    """Where a submission stands on its panel, in neutral words (the panel's own word is
    kept beside it in `Submission.status`)."""

    PENDING = "pending"  # handed in, awaiting the requester: the only state approved or rejected
    APPROVED = "approved"
    REJECTED = "rejected"
    RETURNED = "returned"  # the participant gave the place back
    TIMED_OUT = "timed_out"  # the time allowed ran out
    SCREENED_OUT = "screened_out"
    IN_PROGRESS = "in_progress"  # still being worked on (or a place held)
    OTHER = "other"  # a state the close-out has no rule for (left for a person)


@dataclass(frozen=True, slots=True)
class Task:
    """What participants worked on: an MTurk HIT, a Prolific study."""

    task_id: str
    type_id: str = ""
    title: str = ""
    description: str = ""
    keywords: str = ""
    reward: Decimal | None = None  # per submission, in the wave's currency
    places: int | None = None  # MTurk MaxAssignments, Prolific total_available_places
    duration_limit_seconds: int | None = None
    auto_approval_delay_seconds: int | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None
    masters: bool = False  # MTurk: the HIT requires Masters (a fee surcharge)
    annotation: str = ""  # MTurk RequesterAnnotation (batch file), as the requester set it


def batch_scope(tasks: Iterable[str]) -> str:
    """The study or batch a wave's work belongs to, for what is about a participant rather
    than one submission (grants, invitations, compensations): the study, or the batch's one
    HIT; for several HITs, a name derived from all of them. Never the wave's name, so a
    renamed wave is still the same work (SPEC 13)."""
    ids = sorted(dict.fromkeys(t for t in tasks if t))
    if len(ids) <= 1:
        return ids[0] if ids else ""
    return "batch-" + hashlib.sha256("\x1f".join(ids).encode()).hexdigest()[:20]


@dataclass(frozen=True, slots=True)
class Submission:
    submission_id: str
    participant_id: str
    task_id: str
    state: State
    status: str  # the panel's own word: "Submitted", "AWAITING REVIEW", ...
    started_at: datetime | None = None
    submitted_at: datetime | None = None
    auto_approval_time: datetime | None = None
    approved_at: datetime | None = None
    rejected_at: datetime | None = None
    feedback: str = ""  # what the requester told the participant (MTurk RequesterFeedback)
    time_taken_seconds: int | None = None  # as the panel measured it
    entered_code: str = ""  # the completion code the participant entered on the panel
    # Answers to the task's own form (MTurk `Answer.<field>`), by field name, as text.
    # The file readers give a `bridge.sources._fields.Fields` (a dict's behaviour, a fraction of
    # its memory: issue 11); the API sources a dict.
    answers: MutableMapping[str, str] = field(default_factory=dict)
    # Where it came from: 1-based line of the file (0 when from the API).
    source_row: int = 0
    # Problems found while reading that do not stop the wave (e.g. "answer_unreadable").
    flags: tuple[str, ...] = ()


@dataclass(slots=True)
class SubmissionTable:
    source: str  # the file path, or a description of the API pull
    tasks: dict[str, Task]
    submissions: list[Submission]
    answer_fields: list[str] = field(default_factory=list)
    currency: str | None = None  # when the source says (Prolific's API); else the config's
    # The completion codes the task defines and what each means (Prolific's API), by code.
    code_outcomes: dict[str, str] = field(default_factory=dict)


# --- The survey side ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Response:
    response_id: str
    status: str  # label: "IP Address", "Survey Preview", "Survey Test", "Spam", ...
    finished: bool | None
    duration_seconds: int | None
    progress: str
    recorded_date: str
    # Every column (or those the reader was asked to keep), as text, by field name: from the
    # reader a `bridge.sources._fields.Fields` (a dict's behaviour, a fraction of its memory).
    fields: MutableMapping[str, str]
    source_row: int = 0  # 1-based line of the CSV file


@dataclass(slots=True)
class SurveyTable:
    source: str
    columns: list[str]  # as the reader names them (`Response.fields`' keys), in the file's order
    responses: list[Response]
    legacy: bool = False
    # The column holding each response's id (its values are `Response.response_id`), or None
    # when the id is the row's number in the file (a spreadsheet's row, the header is row 1).
    id_column: str | None = "ResponseId"
    # Columns the reader renamed: the name the file shows -> the reader's name (a 2016
    # Qualtrics export's `ResponseID` -> `ResponseId`). A config names columns as the file
    # shows them; `Response.fields` answers to both names.
    aliases: dict[str, str] = field(default_factory=dict)
    what: str = "Qualtrics CSV export"  # the kind of file, for messages

    def has_column(self, name: str) -> bool:
        """Whether the file has the column a config names, as the file or the reader names it."""
        return name in self.aliases or name in self.columns

    @property
    def shown_columns(self) -> list[str]:
        """The columns as the file shows them, for messages."""
        shown = {new: old for old, new in self.aliases.items()}
        return [shown.get(c, c) for c in self.columns]


# --- What the core needs to know of the panel, as data --------------------------------------


class FeeRule(Protocol):
    """A panel's commission on one reward or one bonus, in the wave's currency."""

    def fee(self, amount: Decimal, *, is_reward: bool, task: Task | None) -> Decimal: ...


@dataclass(frozen=True, slots=True)
class Columns:
    """The workbook's column names for the panel's own ids (SPEC §4, §7)."""

    submission: str  # AssignmentId | SubmissionId
    participant: str  # WorkerId | ParticipantId
    task: str  # HITId | StudyId
    code: str  # SubmittedCode | EnteredCode
    status: str  # MTurkStatus | ProlificStatus
    group: str  # QualificationTypeId | ParticipantGroupId
    rejection_category: bool = False  # a RejectionCategory column after Feedback


@dataclass(frozen=True, slots=True)
class Terms:
    """The panel a wave ran on, as the pure core sees it: its name and words, the wave's
    currency, its fees, its pay floor, its rules for rejections."""

    panel: str  # "MTurk", "Prolific": used in labels and messages
    currency: str  # "USD", "GBP"
    fees: FeeRule
    columns: Columns
    submissions_label: str = "Submissions"  # the Summary's count row
    submission_word: str = "submission"  # "assignment" on MTurk
    task_word: str = "study"  # "HIT" on MTurk
    group_word: str = "participant group"  # "qualification type" on MTurk
    code_outcomes: Mapping[str, str] | None = None  # normalized completion code -> outcome (Prolific)
    pay_floor: Decimal | None = None  # per hour, in the wave's currency
    pay_floor_name: str = ""  # "the US federal minimum wage of 7.25 USD/hour"
    # Reason -> the category a rejection for it carries (None: the panel has none).
    rejection_categories: Mapping[str, str] | None = None
    category_values: tuple[str, ...] = ()  # every category the panel accepts
    # A speed rejection is allowed only this many standard deviations below the mean.
    speed_reject_min_sd: float | None = None
    # The panel's name for the time it counts per submission (the time it pays for):
    # "Time taken" on Prolific, "WorkTimeInSeconds" on MTurk (SPEC §8).
    time_name: str = "time"
    # How the panel pays a participant who did the survey but has no submission to pay:
    # "task" (a task for them alone: an MTurk compensation HIT), "bonus" (a bonus on a
    # submission they ended, e.g. returned on Prolific), "" (only a person can).
    compensates_with: str = ""


# --- Pictures (SPEC §15) ---------------------------------------------------------------------


@dataclass(slots=True)
class TimeChart:
    """The completion times of the finished, matched responses as a histogram (seconds),
    with the lines a PI judges them by: each speed rule's cut-off, the medians, the
    fair-pay duration. Bin i holds edges[i] <= t < edges[i + 1]; with `over`, the last bin
    holds every time from its lower edge up (outliers do not squash the plot)."""

    edges: list[float]
    counts: list[int]
    over: bool = False
    # (kind, label, seconds); kind: "cutoff" (label: the rule's key), "median" (the survey's),
    # "paid" (the median time the wage uses), "fair_pay" (where the reward meets [fair_pay]).
    markers: list[tuple[str, str, float]] = field(default_factory=list)


@dataclass(slots=True)
class SurveyPictures:
    """What the charts need from the survey side, counted while planning (a few dozen
    numbers): the completion times and each attention check's passes and failures among
    the finished, matched responses."""

    times: TimeChart | None = None
    checks: list[tuple[str, int, int]] = field(default_factory=list)  # (column, passed, failed)
    responses: int = 0  # finished, matched responses counted
    condition_column: str = ""  # `[report] condition_column`: the decisions are counted per its value


# --- Decisions --------------------------------------------------------------------------


class MatchKind(StrEnum):
    EXACT = "exact"
    NORMALIZED = "normalized"
    NEAR_MISS = "near_miss"
    NONE = "none"


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    REVIEW = "review"
    # Nothing to decide and nothing ever sent: work the participant ended (returned, timed
    # out, screened out) with no survey response (SPEC 4). Never a rejection.
    NONE = "none"


@dataclass(slots=True)
class Match:
    """One submission and what the survey side had for it."""

    submission: Submission
    key: str  # what it was joined on, as entered (a completion code, a participant id)
    kind: MatchKind
    response: Response | None = None  # the matched response (exact / normalized)
    candidate: Response | None = None  # the near-miss candidate, never paid automatically
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class SubmissionDecision:
    submission_id: str
    participant_id: str
    task_id: str
    state: State  # on the panel when read
    status: str  # the panel's own word for it
    entered_code: str
    response_id: str
    match: MatchKind
    decision: Decision
    bonus: Decimal | None
    reasons: list[str]
    feedback: str
    notes: list[str] = field(default_factory=list)
    reward: Decimal | None = None
    auto_approval_time: datetime | None = None
    duration_seconds: int | None = None
    rejection_category: str = ""  # panels that require one (Prolific)
    top_up: Decimal | None = None  # the part of `bonus` that is a fair-pay top-up
    time_taken_seconds: int | None = None  # as the panel counted it (the time it pays for, SPEC §8)
    condition: str = ""  # the matched response's `[report] condition_column` (SPEC §15)
    # When a person's edit overrides the tool's decision: the editable cells as the tool
    # decided them (the workbook keeps them, so the edit stays an edit in later runs).
    written: dict[str, str] | None = None
    # When the panel says the work was approved or rejected (None: not decided, or the
    # source gives no time, as Prolific's API): how long a payment may still be on its way.
    decided_at: datetime | None = None
    # What the ledger has for this submission's actions, by kind ("approve", "bonus", ...):
    # "done", "skipped", "failed" or "pending" (None: no ledger was read). The Summary tells
    # money spent from money still to send by it (SPEC 4.2).
    applied: dict[str, str] | None = None

    def ledger_status(self, kind: str) -> str:
        return self.applied.get(kind, "") if self.applied else ""

    @property
    def sends_status_change(self) -> bool:
        """Approve/reject is sent only for work still awaiting the requester."""
        return self.state is State.PENDING and self.decision in (Decision.APPROVE, Decision.REJECT)

    @property
    def overrides_rejection(self) -> bool:
        """Work the panel has as rejected that a person set to approve (SPEC §9): the
        approval overrides the rejection (MTurk's OverrideRejection)."""
        return self.state is State.REJECTED and self.decision is Decision.APPROVE and OVERRIDE_REASON in self.reasons


@dataclass(frozen=True, slots=True)
class UnmatchedResponse:
    response_id: str
    code: str
    participant_id: str
    finished: bool | None
    duration_seconds: int | None
    reasons: list[str]


@dataclass(frozen=True, slots=True)
class GroupAction:
    """A participant added to (or removed from) a group: an MTurk qualification, a
    Prolific participant group."""

    participant_id: str
    group_id: str
    action: str  # "grant" | "revoke"
    value: int
    role: str  # "prev_worker" | "eligible_worker"


OVERRIDE_REASON = "override_rejection"


@dataclass(frozen=True, slots=True)
class Compensation:
    """Pay for a participant who finished the survey but has no submission the wave can
    pay (SPEC §9): a task for them alone (`how` "task"), a bonus on a submission they
    ended (`how` "bonus"), or nothing the panel's API can do (`how` "": a person pays)."""

    participant_id: str
    response_id: str
    amount: Decimal | None  # None: not payable through the panel's API
    fee: Decimal
    how: str  # "task" | "bonus" | ""
    submission_id: str = ""  # "bonus": the submission paid
    task_id: str = ""
    title: str = ""  # "task": the task's title
    description: str = ""
    note: str = ""  # for the workbook: what happens, or why a person must act
    applied: str = ""  # the ledger's status of paying it ("done", ...), when a ledger was read


@dataclass(frozen=True, slots=True)
class Invite:
    """The message inviting the participants granted Eligible_Worker back (SPEC §9)."""

    subject: str
    message: str


@dataclass(slots=True)
class Plan:
    wave: str
    environment: str
    now: datetime
    terms: Terms
    decisions: list[SubmissionDecision]
    unmatched_responses: list[UnmatchedResponse]
    qualifications: list[GroupAction]
    tasks: dict[str, Task]
    warnings: list[str] = field(default_factory=list)
    bonus_reason: str = ""
    survey_responses: int = 0  # every response in the export, matched or not
    # Figures the rules produced that the Summary states (e.g. speed cut-offs in seconds).
    figures: list[tuple[str, object]] = field(default_factory=list)
    # The rest of a close-out (SPEC §9): pay for those who could not submit, the invitation
    # to the eligible, and closing the wave's tasks after applying.
    compensations: list[Compensation] = field(default_factory=list)
    invite: Invite | None = None
    expire_tasks: bool = False
    pictures: SurveyPictures = field(default_factory=SurveyPictures)  # the Charts sheet's survey side
