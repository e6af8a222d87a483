"""Prolific: the panel most labs now recruit on (export reader, API source, adapter, emulator).

`PANEL` describes Prolific to the panel-neutral core (`bridge.panels.Panel`). A submission
joins the survey on the participant id the survey captured (`participant_column` of
`[survey]` or `[qualtrics]`, usually `PROLIFIC_PID`); the completion code the participant entered
names an outcome (`[prolific] completion_codes`), shared by many. Rejections carry a
category and a message of at least 100 characters; a rejection for speed needs the time
to be more than 3 standard deviations below the mean (FACTS §2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit

from bridge.identity import Identity, disagreement
from bridge.match import JoinKey, MatchOptions, normalize
from bridge.models import Columns, SubmissionTable, Task, Terms
from bridge.money import rate_fee
from bridge.netloc import is_local_endpoint
from bridge.panels.prolific.settings import PROLIFIC_ID
from bridge.redact import redact

COLUMNS = Columns(submission="SubmissionId", participant="ParticipantId", task="StudyId", code="EnteredCode",
                  status="ProlificStatus", group="ParticipantGroupId", rejection_category=True)
DEFAULT_PARTICIPANT_COLUMN = "PROLIFIC_PID"
DEFAULT_STUDY_COLUMN = "STUDY_ID"  # the study id Prolific passes in the study URL (as the participant id)
MIN_MESSAGE = 100  # characters of a rejection message (FACTS 1.6)
MIN_SPEED_SD = 3  # a speed rejection only more than 3 SD below the mean (FACTS §2)
# Prolific's minimum pay per hour (FACTS §2).
PAY_FLOOR = {"GBP": Decimal("6.00"), "USD": Decimal("8.00")}
# SPEC §7: the category a rejection for each reason carries.
CATEGORIES = {"too_fast": "TOO_QUICKLY", "attention_failed": "FAILED_CHECK", "unmatched": "NO_DATA",
              "bad_code": "BAD_CODE", "no_code": "NO_CODE"}
# Every category Prolific accepts (FACTS 1.6).
CATEGORY_VALUES = ("TOO_QUICKLY", "TOO_SLOWLY", "FAILED_INSTRUCTIONS", "INCOMP_LONGITUDINAL", "FAILED_CHECK",
                   "LOW_EFFORT", "MALINGERING", "NO_CODE", "BAD_CODE", "NO_DATA", "UNSUPP_DEVICE", "OTHER")
PRODUCTION_URL = "https://api.prolific.com"


@dataclass(frozen=True, slots=True)
class ProlificFees:
    """`fee_rate` of every reward and bonus plus `vat_rate` of that fee (SPEC §7)."""

    fee_rate: Decimal
    vat_rate: Decimal

    def fee(self, amount: Decimal, *, is_reward: bool, task: Task | None) -> Decimal:
        return rate_fee(amount, fee_rate=self.fee_rate, vat_rate=self.vat_rate)


class ProlificPanel:
    key = "prolific"
    name = "Prolific"
    columns = COLUMNS

    def config_problems(self, settings) -> list[str]:
        problems = []
        p, rules = settings.prolific, settings.rules
        for role in ("prev_worker", "eligible_worker"):
            value = getattr(settings.qualifications, role)
            if value is not None and not PROLIFIC_ID.match(value):
                problems.append(f"[qualifications] {role}: {value!r} is not a participant group id "
                                "(24 lower-case hex characters, from the group's page in Prolific)")
        for reason, (key, text) in rules.feedback_for().items():
            if len(text) < MIN_MESSAGE:
                problems.append(
                    f"[rules] {key}: is {len(text)} characters; Prolific requires a rejection message of at least "
                    f"{MIN_MESSAGE} (it is sent when [rules] {_POLICY_KEY[reason]} = \"reject\"). Write a longer "
                    "message that tells the participant why.")
        if rules.too_fast == "reject" and (rules.too_fast_sd is None or rules.too_fast_sd < MIN_SPEED_SD):
            problems.append(
                f"[rules] too_fast = \"reject\": Prolific allows a rejection for speed only when the time is more "
                f"than {MIN_SPEED_SD} standard deviations below the mean; set [rules] too_fast_sd = {MIN_SPEED_SD} "
                "(or more), or too_fast = \"review\".")
        if p.csv is not None and not p.completion_codes:
            problems.append("[prolific] completion_codes is empty: list the study's codes and what each means, "
                            "e.g. completion_codes = { C1A2B3C4 = \"completed\", C7FAIL00 = \"failed_check\" }")
        return problems

    def read(self, settings, env: Mapping[str, str]) -> SubmissionTable:
        p = settings.prolific
        if p.csv is not None:
            from bridge.panels.prolific.reader import read_export

            return read_export(settings.resolve(p.csv), study_id=p.study_id, participant_column=p.participant_column)
        from bridge.panels.prolific.api import fetch_study

        return fetch_study(p.study_id, environment=p.environment, env=env)

    def column_problems(self, settings, table: SubmissionTable) -> list[str]:
        return []

    def identity(self, settings, table: SubmissionTable) -> Identity:
        """The study as the export's file name, `[prolific] study_id` and the API name it:
        they must agree (SPEC §12)."""
        from bridge.panels.prolific.reader import study_id_from_name

        p = settings.prolific
        sources = []
        if p.csv is not None and (in_name := study_id_from_name(p.csv)):
            sources.append((f"the export's file name ({p.csv.name})", in_name))
        if p.study_id:
            sources.append(("[prolific] study_id", p.study_id))
        if p.csv is None:
            sources += [("Prolific's API", t) for t in table.tasks]
        tasks = {i for _, i in sources}
        named_by = " and ".join(dict.fromkeys(s for s, _ in sources)) or "nothing"
        advice = ("The export is likely another study's: download this study's export from its Submissions page in "
                  "Prolific (it is named prolific_export_<study id>.csv), or correct [prolific] study_id.")
        found = disagreement(sources, "study", advice)
        return Identity(tasks=tasks, named_by=named_by, task_word="study", problems=[found] if found else [],
                        how_to_name="set [prolific] study_id (the study's 24-character id, from its page in Prolific)")

    def task_column(self, settings) -> str | None:
        """The survey's `study_column`, else `STUDY_ID` (checked when the survey has it)."""
        return settings.survey.study_column or DEFAULT_STUDY_COLUMN

    def match_options(self, settings) -> MatchOptions:
        survey = settings.survey
        column = survey.participant_column or DEFAULT_PARTICIPANT_COLUMN
        return MatchOptions(key_column=column, key=JoinKey.PARTICIPANT, participant_column=column,
                            include_unfinished=survey.include_unfinished, key_label="the submission",
                            submissions_word="submissions")

    def terms(self, settings, table: SubmissionTable) -> Terms:
        p = settings.prolific
        currency = table.currency or settings.wave.currency or "GBP"
        codes = dict(p.completion_codes) or table.code_outcomes
        return Terms(panel=self.name, currency=currency, fees=ProlificFees(p.fee_rate, p.vat_rate), columns=COLUMNS,
                     submissions_label="Submissions", submission_word="submission", task_word="study",
                     group_word="participant group", pay_floor=PAY_FLOOR.get(currency),
                     pay_floor_name="Prolific's minimum pay", rejection_categories=CATEGORIES,
                     category_values=CATEGORY_VALUES, speed_reject_min_sd=MIN_SPEED_SD, compensates_with="bonus",
                     time_name="Time taken",
                     code_outcomes={normalize(code): outcome for code, outcome in codes.items()})

    def environment(self, settings) -> str:
        return settings.prolific.environment

    def canonical_environment(self, environment: str) -> str:
        env = environment.strip().rstrip("/")
        if env in ("production", PRODUCTION_URL):
            return "production"
        if is_local_endpoint(env):
            return "local"
        parts = urlsplit(env)
        if not parts.scheme or not parts.hostname:
            return env
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme.lower()}://{parts.hostname}{port}{parts.path}"  # never the user-info part

    def describe_environment(self, environment: str) -> str:
        env = self.canonical_environment(environment)
        if env == "production":
            return "Prolific"
        if env == "local":
            return f"the Prolific emulator at {redact(environment.rstrip('/'))}"
        return f"Prolific at {redact(environment.rstrip('/'))}"

    def connect(self, settings, env: Mapping[str, str]):
        from bridge.panels.prolific.adapter import connect

        return connect(settings, env)

    def feedback_problem(self, text: str) -> str | None:
        if len(text) < MIN_MESSAGE:
            return f"is {len(text)} characters; Prolific requires at least {MIN_MESSAGE} for a rejection message"
        return None


_POLICY_KEY = {"unmatched": "unmatched", "too_fast": "too_fast", "attention_failed": "attention_failed"}

PANEL = ProlificPanel()
