"""The survey side of a wave, whatever tool made it (SPEC §3, §14): one neutral view of the
config's `[qualtrics]` or `[survey]` section, and the reader it chooses.

`SurveySpec` is what the rest of the close-out knows of the survey: the file (or the
Qualtrics survey to export), the participant, code and study columns, whether unfinished
responses match, and how to name a key in a message. Matching, rules, the workbook and the
analysis file read it and never ask which tool made the survey; `read_survey` gives the
same `SurveyTable` from a Qualtrics export, the Qualtrics API, a generic CSV or a preset.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bridge.models import SurveyTable
from bridge.sources.csv_survey import CsvLayout, read_survey_csv
from bridge.sources.qualtrics_csv import read_qualtrics_csv

QUALTRICS = "qualtrics"
CSV = "csv"


@dataclass(frozen=True, slots=True)
class SurveySpec:
    section: str  # the config section it came from ("qualtrics" or "survey")
    format: str  # "qualtrics", "csv", or a preset's name ("limesurvey")
    csv: Path | None = None  # the export (resolved); None: the Qualtrics API
    participant_column: str | None = None  # the column holding the panel's participant id
    code_column: str | None = None  # the completion code the survey showed
    study_column: str | None = None  # the column holding the panel's study id (Prolific STUDY_ID)
    include_unfinished: bool = False
    # The config key that named the participant column ([qualtrics] accepts worker_id_column).
    participant_key: str = "participant_column"
    # The Qualtrics API (format "qualtrics" without csv).
    survey_id: str | None = None
    datacenter: str | None = None
    base_url: str | None = None
    # A one-header-row export (format "csv" or a preset): the layouts tried in order.
    layouts: tuple[CsvLayout, ...] = ()
    what: str = "Qualtrics CSV export"  # the kind of file, for messages

    def key(self, name: str) -> str:
        """A config key as a message names it: `[survey] participant_column`."""
        return f"[{self.section}] {name}"

    @property
    def is_qualtrics(self) -> bool:
        return self.format == QUALTRICS


def read_survey(spec: SurveySpec, *, keep: Collection[str] | None = None, env: Mapping[str, str] | None = None,
                export_to: BinaryIO | None = None) -> SurveyTable:
    """The survey's responses, from the file or API `spec` names. `keep`: the columns each
    `Response.fields` holds (None: all); `env`: where the Qualtrics token and host are looked
    up (default the process's); `export_to`: receives the API export's CSV (`bridge.analysis`)."""
    if not spec.is_qualtrics:
        return read_survey_csv(spec.csv, spec.layouts, keep=keep, what=spec.what, key=spec.key)
    if spec.csv is not None:
        return read_qualtrics_csv(spec.csv, keep=keep)
    from bridge.sources.qualtrics_api import fetch_survey, resolve_base_url, resolve_token  # requests: only here

    env = os.environ if env is None else env
    base_url = resolve_base_url(spec.datacenter, spec.base_url, env)
    return fetch_survey(spec.survey_id, base_url=base_url, token=resolve_token(env), export_to=export_to, keep=keep)
