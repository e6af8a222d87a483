"""The config sections that describe the survey (SPEC §3, §14): `[qualtrics]` and its
generic form `[survey]`. Each gives the neutral `SurveySpec` (`spec`), which is all the rest
of the close-out reads (`bridge.config.Settings.survey`).
"""

from __future__ import annotations

import difflib
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from bridge.settings_base import Section
from bridge.sources import presets
from bridge.sources.csv_survey import COLUMN_KEYS, CsvLayout
from bridge.sources.csv_survey import WHAT as CSV_WHAT
from bridge.sources.survey import CSV, QUALTRICS, SurveySpec


class QualtricsSettings(Section):
    csv: Path | None = None
    survey_id: str | None = Field(default=None, pattern=r"^SV_[A-Za-z0-9]+$")
    datacenter: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.-]+$")
    base_url: str | None = Field(default=None, pattern=r"^https?://")
    code_column: str | None = Field(default=None, min_length=1)
    # The embedded-data field holding the panel's participant id (MTurk workerId, Prolific
    # PROLIFIC_PID). `worker_id_column` is its MTurk-era name, still accepted.
    participant_column: str | None = Field(default=None, min_length=1)
    worker_id_column: str | None = Field(default=None, min_length=1)
    study_column: str | None = Field(default=None, min_length=1)  # the panel's study id (Prolific STUDY_ID)
    include_unfinished: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> "QualtricsSettings":
        if (self.csv is None) == (self.survey_id is None):
            raise ValueError("give exactly one of csv = \"export.csv\" or survey_id = \"SV_...\"")
        if self.participant_column and self.worker_id_column and self.participant_column != self.worker_id_column:
            raise ValueError("participant_column and worker_id_column name the same thing; keep one")
        return self

    @property
    def participant(self) -> str | None:
        """The survey column holding the participant id, if the config names one."""
        return self.participant_column or self.worker_id_column

    def spec(self, resolve) -> SurveySpec:
        return SurveySpec(
            section="qualtrics", format=QUALTRICS, csv=resolve(self.csv) if self.csv is not None else None,
            participant_column=self.participant, code_column=self.code_column, study_column=self.study_column,
            include_unfinished=self.include_unfinished,
            participant_key="worker_id_column" if self.worker_id_column and not self.participant_column
            else "participant_column",
            survey_id=self.survey_id, datacenter=self.datacenter, base_url=self.base_url)


# [survey] keys that only a one-header-row export (format "csv" or a preset) has.
_CSV_KEYS = ("response_id_column", "finished_column", "finished_values", "duration_column", "started_column",
             "ended_column")


class SurveySettings(Section):
    """`[survey]` (SPEC §14): the survey, made with Qualtrics or any tool that exports a CSV."""

    format: str = Field(default=QUALTRICS, min_length=1)  # qualtrics | csv | a preset: limesurvey, ...
    csv: Path | None = None
    # Qualtrics only (format = "qualtrics"): the API.
    survey_id: str | None = Field(default=None, pattern=r"^SV_[A-Za-z0-9]+$")
    datacenter: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.-]+$")
    base_url: str | None = Field(default=None, pattern=r"^https?://")
    participant_column: str | None = Field(default=None, min_length=1)
    code_column: str | None = Field(default=None, min_length=1)
    study_column: str | None = Field(default=None, min_length=1)
    include_unfinished: bool = False
    # A one-header-row export (format "csv", or to change a preset's column).
    response_id_column: str | None = Field(default=None, min_length=1)
    finished_column: str | None = Field(default=None, min_length=1)
    finished_values: list[str] | None = Field(default=None, min_length=1)
    duration_column: str | None = Field(default=None, min_length=1)
    started_column: str | None = Field(default=None, min_length=1)
    ended_column: str | None = Field(default=None, min_length=1)

    @field_validator("format")
    @classmethod
    def _format(cls, v: str) -> str:
        known = [QUALTRICS, CSV, *presets.names()]
        if v not in known:
            near = difflib.get_close_matches(v.lower(), known, n=1, cutoff=0.6)
            hint = f"; did you mean {near[0]!r}?" if near else "."
            raise ValueError(f"{v!r} is not a format survey-bridge reads{hint} Known: {', '.join(known)} "
                             "(\"csv\" reads any export with one header row: name its columns)")
        return v

    @field_validator("finished_values")
    @classmethod
    def _values(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and not all(x.strip() for x in v):
            raise ValueError("a value is empty; an empty cell never means finished (leave finished_values "
                             "out and any non-empty value means finished)")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "SurveySettings":
        problems = []
        if self.format == QUALTRICS:
            given = [k for k in _CSV_KEYS if getattr(self, k) is not None]
            if given:
                problems.append(f"{', '.join(given)}: only for an export with one header row (format = \"csv\" or a "
                                "preset such as \"limesurvey\"); Qualtrics' own columns are known")
            if (self.csv is None) == (self.survey_id is None):
                problems.append("give exactly one of csv = \"export.csv\" or survey_id = \"SV_...\"")
        else:
            api = [k for k in ("survey_id", "datacenter", "base_url") if getattr(self, k) is not None]
            if api:
                problems.append(f"{', '.join(api)}: only for format = \"qualtrics\" (its API); give csv = \"...\", "
                                "the file the survey tool exported")
            elif self.csv is None:
                problems.append(f"csv is required with format = {self.format!r}: the file the survey tool exported")
        if self.finished_values is not None and self.finished_column is None and self.format == CSV:
            problems.append("finished_values needs finished_column (the column they are values of)")
        if self.duration_column and (self.started_column or self.ended_column):
            problems.append("give duration_column (seconds) or started_column + ended_column (times), not both")
        elif bool(self.started_column) != bool(self.ended_column) and self.format == CSV:
            problems.append("started_column and ended_column go together (the duration is the time between them)")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def spec(self, resolve) -> SurveySpec:
        common = dict(section="survey", format=self.format, csv=resolve(self.csv) if self.csv is not None else None,
                      participant_column=self.participant_column, code_column=self.code_column,
                      study_column=self.study_column, include_unfinished=self.include_unfinished)
        if self.format == QUALTRICS:
            return SurveySpec(**common, survey_id=self.survey_id, datacenter=self.datacenter, base_url=self.base_url)
        columns = {k: getattr(self, k) for k in _CSV_KEYS}
        if self.format == CSV:
            values = tuple(self.finished_values or ())
            named = frozenset(k for k in COLUMN_KEYS if columns[k])
            layout = CsvLayout(**{k: columns[k] for k in COLUMN_KEYS}, finished_values=values, required=named)
            return SurveySpec(**common, layouts=(layout,), what=CSV_WHAT)
        preset = presets.preset(self.format)
        return SurveySpec(**common, layouts=preset.layouts(columns), what=preset.what)
