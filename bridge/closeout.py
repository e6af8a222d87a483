"""One close-out: read both sides, match, decide, write the workbook (no money moves here)."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bridge.config import Settings
from bridge.errors import SourceError
from bridge.match import MatchOptions, match_wave
from bridge.models import MTurkTable, Plan, QualtricsTable
from bridge.report import write_workbook
from bridge.rules import build_plan
from bridge.panels.mturk.reader import read_batch_results
from bridge.sources.qualtrics_csv import read_qualtrics_csv


@dataclass(slots=True)
class CloseOut:
    plan: Plan
    workbook: Path | None
    survey: QualtricsTable
    mturk: MTurkTable


def read_survey(settings: Settings, env: Mapping[str, str] | None = None) -> QualtricsTable:
    q = settings.qualtrics
    if q.csv is not None:
        return read_qualtrics_csv(settings.resolve(q.csv))
    from bridge.sources.qualtrics_api import fetch_survey, resolve_base_url, resolve_token

    env = os.environ if env is None else env
    base_url = resolve_base_url(q.datacenter, q.base_url, env)
    return fetch_survey(q.survey_id, base_url=base_url, token=resolve_token(env))


def read_mturk(settings: Settings) -> MTurkTable:
    m = settings.mturk
    if m.csv is not None:
        return read_batch_results(settings.resolve(m.csv))
    from bridge.panels.mturk.api import fetch_assignments

    return fetch_assignments(m.hit_ids or [], environment=m.environment, profile=m.profile)


def _missing_column(source: str, key: str, name: str, have: list[str]) -> SourceError:
    near = difflib.get_close_matches(name, have, n=1, cutoff=0.6)
    hint = f" Did you mean {near[0]!r}?" if near else ""
    shown = ", ".join(repr(c) for c in have[:40]) + (" …" if len(have) > 40 else "")
    return SourceError(f"{source}: has no column {name!r} (config {key}).{hint} Its columns are: {shown}.")


def check_columns(settings: Settings, survey: QualtricsTable, mturk: MTurkTable) -> None:
    """Every column the config names must exist in the files; report the first missing."""
    wanted = [("[qualtrics] code_column", settings.qualtrics.code_column)]
    if settings.qualtrics.worker_id_column:
        wanted.append(("[qualtrics] worker_id_column", settings.qualtrics.worker_id_column))
    if settings.bonus.column:
        wanted.append(("[bonus] column", settings.bonus.column))
    for i, check in enumerate(settings.rules.attention_checks, 1):
        wanted.append((f"[rules] attention_checks[{i}].column", check.column))
    problems = [_missing_column(survey.source, key, name, survey.columns) for key, name in wanted if name not in survey.columns]
    if settings.mturk.code_answer not in mturk.answer_fields and mturk.assignments:
        problems.append(
            _missing_column(
                mturk.source,
                "[mturk] code_answer",
                f"Answer.{settings.mturk.code_answer}",
                [f"Answer.{f}" for f in mturk.answer_fields],
            )
        )
    if problems:
        raise SourceError("\n".join(p.message for p in problems))


def plan_wave(settings: Settings, now: datetime, *, env: Mapping[str, str] | None = None) -> CloseOut:
    """Read both sides, match and decide; no workbook is written (`workbook` is None).
    `env` (default: the process environment) is where the Qualtrics token and host are
    looked up."""
    survey = read_survey(settings, env)
    mturk = read_mturk(settings)
    check_columns(settings, survey, mturk)
    opts = MatchOptions(
        code_column=settings.qualtrics.code_column,
        code_answer=settings.mturk.code_answer,
        worker_id_column=settings.qualtrics.worker_id_column,
        include_unfinished=settings.qualtrics.include_unfinished,
    )
    plan = build_plan(match_wave(mturk, survey, opts), settings, mturk.hits, now)
    return CloseOut(plan=plan, workbook=None, survey=survey, mturk=mturk)


def close_out(
    settings: Settings, now: datetime, *, workbook: Path | None = None, env: Mapping[str, str] | None = None
) -> CloseOut:
    """`plan_wave`, then write the workbook (default: the config's `[output] workbook`)."""
    result = plan_wave(settings, now, env=env)
    result.workbook = write_workbook(result.plan, workbook or settings.workbook_path)
    return result
