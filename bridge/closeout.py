"""One close-out: read both sides, match, decide, write the workbook (no money moves here).

Before matching, the wave's task must be named the same by every source and the survey is
cut to its responses (`one_task`, SPEC §12): a wrong file stops here, before any workbook.

The panel the wave ran on (`settings.panel`) reads its submissions, says how they join the
survey and gives the wave's terms (currency, fees, words); the rest is panel-neutral.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from bridge.config import Settings
from bridge.errors import SourceError
from bridge.identity import other_tasks_warning, split_survey
from bridge.match import JoinKey, MatchOptions, match_wave
from bridge.models import Plan, Response, SubmissionTable, SurveyTable
from bridge.responses import guard_analysis, write_responses
from bridge.rules import build_plan
from bridge.safety import attention_coding
from bridge.sources._csv import missing_column
from bridge.sources.limits import SPOOL_IN_MEMORY
from bridge.sources.survey import read_survey as read_from
from bridge.workbook.review import carry_over, guard_workbook
from bridge.workbook.write import write_workbook


@dataclass(slots=True)
class CloseOut:
    plan: Plan
    workbook: Path | None
    survey: SurveyTable
    submissions: SubmissionTable
    carried: list[str] = field(default_factory=list)  # a person's edits carried over from the workbook
    analysis: Path | None = None  # the survey responses joined to their outcome (bridge.responses)
    # The API export's CSV, kept when asked (plan_wave(keep_export=True)) so every column
    # can be read again; None when the survey came from a file. The caller closes it.
    survey_export: BinaryIO | None = None


def read_survey(settings: Settings, env: Mapping[str, str] | None = None, *,
                export_to: BinaryIO | None = None) -> SurveyTable:
    """The survey's responses, whichever tool made them (`settings.survey`), keeping only the
    columns the close-out reads (memory, issue 11)."""
    return read_from(settings.survey, keep=kept_columns(settings), env=env, export_to=export_to)


def kept_columns(settings: Settings) -> set[str]:
    """The survey columns the close-out reads from `Response.fields` (match and rules): the
    join column, the participant column, the code, study, bonus, attention-check and
    condition columns, and the column naming the panel's task even when the config does not
    (Prolific's STUDY_ID)."""
    opts = settings.panel.match_options(settings)
    keep = {name for _, name in survey_columns(settings, opts)} | {opts.key_column}
    if opts.participant_column:
        keep.add(opts.participant_column)
    if column := settings.panel.task_column(settings):
        keep.add(column)
    return keep


def survey_columns(settings: Settings, opts: MatchOptions) -> list[tuple[str, str]]:
    """(config key, column) for every survey column the config names or the join needs."""
    survey = settings.survey
    wanted = []
    code = survey.code_column or (opts.key_column if opts.key is JoinKey.CODE else None)
    if code:
        wanted.append((survey.key("code_column"), code))
    participant = survey.participant_column or (opts.key_column if opts.key is JoinKey.PARTICIPANT else None)
    if participant:
        wanted.append((survey.key(survey.participant_key), participant))
    if survey.study_column:
        wanted.append((survey.key("study_column"), survey.study_column))
    if settings.bonus.column:
        wanted.append(("[bonus] column", settings.bonus.column))
    for i, check in enumerate(settings.rules.attention_checks, 1):
        wanted.append((f"[rules] attention_checks[{i}].column", check.column))
    if settings.report.condition_column:
        wanted.append(("[report] condition_column", settings.report.condition_column))
    return wanted


def check_columns(settings: Settings, survey: SurveyTable, table: SubmissionTable) -> None:
    """Every column the config names must exist in the files; report every one missing."""
    panel = settings.panel
    problems = [missing_column(survey.source, key, name, survey.shown_columns)
                for key, name in survey_columns(settings, panel.match_options(settings)) if not survey.has_column(name)]
    problems += panel.column_problems(settings, table)
    if problems:
        raise SourceError("\n".join(problems))


def one_task(settings: Settings, survey: SurveyTable, table: SubmissionTable
             ) -> tuple[SurveyTable, list[tuple[Response, list[str]]], list[str]]:
    """SPEC §12 before anything is matched: the wave's task named the same by every source
    (SourceError naming each, else), the survey cut to this task's responses (the others,
    with why), the attention checks' coding read from them (ConfigError when a check's answer
    is in none); returns (this task's survey, the others, warnings)."""
    panel = settings.panel
    identity = panel.identity(settings, table)
    if identity.problems:
        raise SourceError("\n".join(identity.problems))
    column = panel.task_column(settings)
    mine, others = split_survey(survey, column, identity)
    warnings = list(identity.warnings)
    if others:
        warnings.append(other_tasks_warning(others, column or "", identity))
    warnings += attention_coding(settings, mine.responses)
    return mine, others, warnings


def plan_wave(settings: Settings, now: datetime, *, env: Mapping[str, str] | None = None,
              keep_export: bool = False) -> CloseOut:
    """Read both sides, match and decide; no workbook is written (`workbook` is None).
    `env` (default: the process environment) is where tokens and hosts are looked up.
    `keep_export`: keep an API export's CSV in `survey_export` (a spooled temporary file)."""
    env = os.environ if env is None else env
    panel = settings.panel
    export = tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY) if keep_export and settings.survey.csv is None else None
    try:
        survey = read_survey(settings, env, export_to=export)
        table = panel.read(settings, env)
        check_columns(settings, survey, table)
        mine, others, warnings = one_task(settings, survey, table)
        result = match_wave(table, mine, panel.match_options(settings))
        result.unmatched += others  # another study's responses: listed, never joined
        del mine, others
        plan = build_plan(result, settings, table, panel.terms(settings, table), now,
                          environment=panel.environment(settings), release=True)  # memory: matches let go
        plan.warnings = warnings + plan.warnings
        del result
    except BaseException:
        if export is not None:
            export.close()
        raise
    return CloseOut(plan=plan, workbook=None, survey=survey, submissions=table, survey_export=export)


def close_out(
    settings: Settings, now: datetime, *, workbook: Path | None = None, env: Mapping[str, str] | None = None,
    done: Callable[[Plan], Plan] | None = None,
) -> CloseOut:
    """`plan_wave`, then write the workbook (default: the config's `[output] workbook`),
    carrying over the edits a person made in the one already there (`bridge.workbook.review`), then
    the survey responses joined to their outcome (`bridge.responses`, SPEC §11). `done` lays
    what the wave's ledger already did over the plan (`bridge.apply.run.ledger_view`), so the
    counts and costs are of what is still to send."""
    path = Path(workbook or settings.workbook_path)
    guard_workbook(path, settings, key="--workbook" if workbook else "[output] workbook")
    analysis = guard_analysis(settings, path)
    result = plan_wave(settings, now, env=env, keep_export=True)
    try:
        carried = carry_over(result.plan, settings, path)
        result.plan, result.carried = carried.plan, carried.changes
        if done is not None:
            result.plan = done(result.plan)
        result.workbook = write_workbook(result.plan, path)
        result.analysis = write_responses(result, settings, analysis)
    finally:
        if result.survey_export is not None:
            result.survey_export.close()
            result.survey_export = None
    return result
