"""Amazon Mechanical Turk: the batch-results reader, the API source, the adapter, the emulator.

`PANEL` describes MTurk to the panel-neutral core (`bridge.panels.Panel`). Submissions are
assignments, tasks are HITs, participants are workers; a submission joins the survey on
the completion code the worker pasted into the HIT (`[mturk] code_answer`). boto3 is
imported only when the API is used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from bridge.identity import Identity
from bridge.match import JoinKey, MatchOptions
from bridge.models import Columns, SubmissionTable, Task, Terms
from bridge.money import fee
from bridge.panels.mturk.settings import check_feedback
from bridge.sources._csv import missing_column

COLUMNS = Columns(submission="AssignmentId", participant="WorkerId", task="HITId", code="SubmittedCode",
                  status="MTurkStatus", group="QualificationTypeId")
_QUALIFICATION_ID = re.compile(r"^[A-Z0-9]+$")
DEFAULT_CODE_COLUMN = "Random ID"
# The US federal minimum wage the seeds recommend (SPEC §8).
MINIMUM_WAGE = Decimal("7.25")
NOTIFY_SUBJECT_MAX, NOTIFY_MESSAGE_MAX = 200, 4096  # NotifyWorkers (FORMATS.md)


@dataclass(frozen=True, slots=True)
class MTurkFees:
    """mturk.com pricing (FORMATS.md): `bridge.money.fee` on each reward and bonus."""

    def fee(self, amount: Decimal, *, is_reward: bool, task: Task | None) -> Decimal:
        return fee(amount, is_reward=is_reward, max_assignments=task.places if task else None,
                   masters=bool(task and task.masters))


class MTurkPanel:
    key = "mturk"
    name = "MTurk"
    columns = COLUMNS

    def config_problems(self, settings) -> list[str]:
        problems = []
        for role in ("prev_worker", "eligible_worker"):
            value = getattr(settings.qualifications, role)
            if value is not None and not _QUALIFICATION_ID.match(value):
                problems.append(f"[qualifications] {role}: {value!r} is not a qualification type id "
                                "(upper-case letters and digits)")
        rules = settings.rules
        for key in ("reject_feedback", "too_fast_feedback", "attention_feedback"):
            try:
                check_feedback(getattr(rules, key))
            except ValueError as exc:
                problems.append(f"[rules] {key}: {exc}")
        notify = settings.notify
        if notify.eligible_message and not notify.eligible_subject:
            problems.append("[notify] eligible_subject is required on MTurk (NotifyWorkers' Subject)")
        for key, limit in (("eligible_subject", NOTIFY_SUBJECT_MAX), ("eligible_message", NOTIFY_MESSAGE_MAX)):
            text = getattr(notify, key) or ""
            if len(text) > limit:
                problems.append(f"[notify] {key}: is {len(text)} characters; MTurk's NotifyWorkers accepts at most "
                                f"{limit}")
        return problems

    def read(self, settings, env: Mapping[str, str]) -> SubmissionTable:
        m = settings.mturk
        if m.csv is not None:
            from bridge.panels.mturk.reader import read_batch_results

            table = read_batch_results(settings.resolve(m.csv), code_answer=m.code_answer)
        else:
            from bridge.panels.mturk.api import fetch_assignments

            table = fetch_assignments(m.hit_ids or [], environment=m.environment, profile=m.profile,
                                      code_answer=m.code_answer)
        if m.masters:  # the batch file does not say; the API does (GetHIT's QualificationRequirements)
            table.tasks = {k: replace(t, masters=True) for k, t in table.tasks.items()}
        return table

    def column_problems(self, settings, table: SubmissionTable) -> list[str]:
        answer = settings.mturk.code_answer
        if answer in table.answer_fields or not table.submissions:
            return []
        return [missing_column(table.source, "[mturk] code_answer", f"Answer.{answer}",
                               [f"Answer.{f}" for f in table.answer_fields])]

    def identity(self, settings, table: SubmissionTable) -> Identity:
        """The batch file's HITs against `[mturk] hit_ids`, when both are given (SPEC §12):
        every HIT of the file must be listed; a listed HIT the file has no assignment for is
        a warning (a HIT nobody worked on, or another batch's file)."""
        m = settings.mturk
        in_file = set(table.tasks)
        if m.csv is None or m.hit_ids is None:
            return Identity(tasks=in_file, named_by="the HITs", task_word="HIT")
        listed = set(m.hit_ids)
        named_by = f"the batch file ({m.csv.name}) and [mturk] hit_ids"
        problems, warnings = [], []
        stray = sorted(in_file - listed)
        if stray:
            count = sum(s.task_id in stray for s in table.submissions)
            problems.append(
                f"The wave's HITs are named differently: the batch file {m.csv.name} holds {count} assignment(s) of "
                f"{len(stray)} HIT(s) that [mturk] hit_ids does not list ({', '.join(stray[:5])}"
                f"{' and more' if len(stray) > 5 else ''}). The file is likely another batch's: download this batch's "
                "results, or add those HITs to hit_ids. Nothing was written or sent.")
        idle = sorted(listed - in_file)
        if idle:
            warnings.append(f"[mturk] hit_ids lists {len(idle)} HIT(s) the batch file {m.csv.name} has no assignment "
                            f"of ({', '.join(idle[:5])}): a HIT nobody worked on, or the file is another batch's.")
        return Identity(tasks=in_file & listed, named_by=named_by, task_word="HIT", problems=problems,
                        warnings=warnings)

    def task_column(self, settings) -> str | None:
        return None

    def match_options(self, settings) -> MatchOptions:
        survey = settings.survey
        return MatchOptions(key_column=survey.code_column or DEFAULT_CODE_COLUMN, key=JoinKey.CODE,
                            participant_column=survey.participant_column,
                            include_unfinished=survey.include_unfinished,
                            key_label=f"Answer.{settings.mturk.code_answer}", submissions_word="assignments")

    def terms(self, settings, table: SubmissionTable) -> Terms:
        return Terms(panel=self.name, currency="USD", fees=MTurkFees(), columns=COLUMNS,
                     submissions_label="Submissions (assignments)", submission_word="assignment", task_word="HIT",
                     group_word="qualification type",
                     pay_floor=MINIMUM_WAGE, pay_floor_name="the US federal minimum wage", compensates_with="task",
                     time_name="WorkTimeInSeconds")

    def environment(self, settings) -> str:
        return settings.mturk.environment

    def canonical_environment(self, environment: str) -> str:
        from bridge.panels.mturk.adapter import canonical_environment

        return canonical_environment(environment)

    def describe_environment(self, environment: str) -> str:
        from bridge.panels.mturk.api import describe_environment

        return describe_environment(environment)

    def connect(self, settings, env: Mapping[str, str]):
        from bridge.panels.mturk.adapter import connect

        return connect(settings.mturk.environment, profile=settings.mturk.profile)

    def feedback_problem(self, text: str) -> str | None:
        try:
            check_feedback(text)
        except ValueError as exc:
            return str(exc)
        return None


PANEL = MTurkPanel()
