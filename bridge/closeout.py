"""One close-out: read both sides, match, decide, write the workbook (no money moves here).

The panel the wave ran on (`settings.panel`) reads its submissions, says how they join the
survey and gives the wave's terms (currency, fees, words); the rest is panel-neutral.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bridge.config import Settings
from bridge.errors import SourceError
from bridge.match import JoinKey, MatchOptions, match_wave
from bridge.models import Plan, SubmissionTable, SurveyTable
from bridge.report import write_workbook
from bridge.rules import build_plan
from bridge.sources.qualtrics_csv import read_qualtrics_csv


@dataclass(slots=True)
class CloseOut:
    plan: Plan
    workbook: Path | None
    survey: SurveyTable
    submissions: SubmissionTable


def read_survey(settings: Settings, env: Mapping[str, str] | None = None) -> SurveyTable:
    q = settings.qualtrics
    if q.csv is not None:
        return read_qualtrics_csv(settings.resolve(q.csv))
    from bridge.sources.qualtrics_api import fetch_survey, resolve_base_url, resolve_token

    env = os.environ if env is None else env
    base_url = resolve_base_url(q.datacenter, q.base_url, env)
    return fetch_survey(q.survey_id, base_url=base_url, token=resolve_token(env))


def missing_column(source: str, key: str, name: str, have: list[str]) -> str:
    """A message for a column the config names that a file does not have."""
    near = difflib.get_close_matches(name, have, n=1, cutoff=0.6)
    hint = f" Did you mean {near[0]!r}?" if near and near[0] != name else ""
    shown = ", ".join(repr(c) for c in have[:40]) + (" …" if len(have) > 40 else "")
    return f"{source}: has no column {name!r} (config {key}).{hint} Its columns are: {shown}."


def survey_columns(settings: Settings, opts: MatchOptions) -> list[tuple[str, str]]:
    """(config key, column) for every survey column the config names or the join needs."""
    q = settings.qualtrics
    wanted = []
    code = q.code_column or (opts.key_column if opts.key is JoinKey.CODE else None)
    if code:
        wanted.append(("[qualtrics] code_column", code))
    if q.participant:
        wanted.append(("[qualtrics] participant_column", q.participant))
    if settings.bonus.column:
        wanted.append(("[bonus] column", settings.bonus.column))
    for i, check in enumerate(settings.rules.attention_checks, 1):
        wanted.append((f"[rules] attention_checks[{i}].column", check.column))
    return wanted


def check_columns(settings: Settings, survey: SurveyTable, table: SubmissionTable) -> None:
    """Every column the config names must exist in the files; report every one missing."""
    panel = settings.panel
    problems = [missing_column(survey.source, key, name, survey.columns)
                for key, name in survey_columns(settings, panel.match_options(settings)) if name not in survey.columns]
    problems += panel.column_problems(settings, table)
    if problems:
        raise SourceError("\n".join(problems))


def plan_wave(settings: Settings, now: datetime, *, env: Mapping[str, str] | None = None) -> CloseOut:
    """Read both sides, match and decide; no workbook is written (`workbook` is None).
    `env` (default: the process environment) is where tokens and hosts are looked up."""
    env = os.environ if env is None else env
    panel = settings.panel
    survey = read_survey(settings, env)
    table = panel.read(settings, env)
    check_columns(settings, survey, table)
    result = match_wave(table, survey, panel.match_options(settings))
    plan = build_plan(result, settings, table, panel.terms(settings, table), now,
                      environment=panel.environment(settings))
    return CloseOut(plan=plan, workbook=None, survey=survey, submissions=table)


def close_out(
    settings: Settings, now: datetime, *, workbook: Path | None = None, env: Mapping[str, str] | None = None
) -> CloseOut:
    """`plan_wave`, then write the workbook (default: the config's `[output] workbook`)."""
    result = plan_wave(settings, now, env=env)
    result.workbook = write_workbook(result.plan, workbook or settings.workbook_path)
    return result
