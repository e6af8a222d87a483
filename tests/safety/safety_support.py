"""A Prolific study laid out as a lab has it (the export as downloaded, the Qualtrics export,
a config next to them), its study seeded into the emulator, and the CLI run on it as a
person would: `survey-bridge close-out study.toml [--apply --yes]`."""

from __future__ import annotations

import dataclasses
import sqlite3
import zipfile
from pathlib import Path

from openpyxl import load_workbook
from typer.testing import CliRunner

from bridge.cli import app
from bridge.panels.prolific.synthetic import (
    COMPLETED_CODE,
    FAILED_CHECK_CODE,
    SURVEY_EMBEDDED,
    Study,
    clean_study,
    write_export,
    write_survey,
)
from bridge.synthetic import write_qualtrics_csv

TOKEN = "test-token"  # the emulator's
NOW = ["--now", "2026-11-21T12:00:00Z"]
LONG = ("We could not approve this submission: the survey shows no complete response for it. Please message us "
        "through Prolific if you think this is a mistake.")
MONEY = ("bulk-approve-submissions", "transition-submission", "create-bonus-payments", "pay-bonus-payments",
         "add-to-participant-group", "remove-from-participant-group", "bulk-message-participants")


def study(n: int, seed: int = 1, **kwargs) -> Study:
    return clean_study(n, seed=seed, **kwargs)


def survey_without_study_column(s: Study, path: Path) -> Path:
    """The study's survey export without the STUDY_ID column (a survey that never captured it)."""
    embedded = [c for c in SURVEY_EMBEDDED if c != "STUDY_ID"]
    return write_qualtrics_csv(s.wave, path, embedded=embedded,
                               values=lambda p: [p.worker_id, p.extra.get("session", ""), p.bonus])


@dataclasses.dataclass
class Lab:
    folder: Path
    config: Path
    export: Path
    survey: Path

    @property
    def out(self) -> Path:
        return self.folder / "out"

    @property
    def workbook(self) -> Path:
        return self.out / "study-x-reconciliation.xlsx"

    @property
    def ledger(self) -> Path:
        return self.out / "study-x-reconciliation.ledger.sqlite"


def lab(folder: Path, *, export_of: Study, survey_of: Study | None = None, url: str, study_id: str | None = None,
        export_name: str | None = None, extra: str = "", survey_columns: bool = True, groups: str = "") -> Lab:
    """The files of a study in `folder`: the export of `export_of` (named as Prolific names
    it unless `export_name`), the survey of `survey_of` (default: the same study; without
    STUDY_ID unless `survey_columns`), a config naming `study_id` (if given) and `url`."""
    folder.mkdir(parents=True, exist_ok=True)
    survey_of = survey_of or export_of
    export = write_export(export_of, folder / (export_name or f"prolific_export_{export_of.study_id}.csv"))
    survey = folder / "survey.csv"
    (write_survey if survey_columns else survey_without_study_column)(survey_of, survey)
    config = folder / "study.toml"
    config.write_text(f"""
[wave]
name = "study-x"
platform = "prolific"
reward = "1.25"
currency = "GBP"

[qualtrics]
csv = "survey.csv"
participant_column = "PROLIFIC_PID"

[prolific]
csv = "{export.name}"
{f'study_id = "{study_id}"' if study_id else ""}
completion_codes = {{ {COMPLETED_CODE} = "completed", {FAILED_CHECK_CODE} = "failed_check" }}
environment = "{url}"
fee_rate = "0.333"

[rules]
unmatched = "reject"
reject_feedback = "{LONG}"
attention_checks = [ {{ column = "Q7", expected = "Blue" }} ]
attention_failed = "reject"
attention_feedback = "{LONG}"

[bonus]
column = "bonus"
{groups}
[output]
workbook = "out/study-x-reconciliation.xlsx"
{extra}
""")
    return Lab(folder, config, export, survey)


def seed(emu, s: Study, path: Path) -> str:
    """The study `s` on the emulator, its submissions those of the export at `path`."""
    emu.seed_export(s.study_id, path, reward="1.25",
                    completion_codes={COMPLETED_CODE: "COMPLETED", FAILED_CHECK_CODE: "FAILED_ATTENTION_CHECK"})
    return s.study_id


def run(*args: str | Path, env: dict[str, str] | None = None):
    runner = CliRunner(env={"PROLIFIC_API_TOKEN": TOKEN} | (env or {}))
    return runner.invoke(app, [str(a) for a in args])


def sent(emu) -> dict[str, int]:
    """The calls that change anything on Prolific, by operationId."""
    return {op: emu.calls[op] for op in MONEY if emu.calls[op]}


def sheet(path: Path, name: str) -> list[dict]:
    wb = load_workbook(path, read_only=True)
    rows = list(wb[name].iter_rows(values_only=True))
    wb.close()
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def summary(path: Path) -> dict[str, object]:
    return {r["Item"]: r["Value"] for r in sheet(path, "Summary")}


def every_text(folder: Path) -> str:
    """Every file the tool wrote under `folder` as text (the configs a person wrote are left
    out): a workbook's XML parts, a ledger's rows, the rest raw."""
    parts = []
    for f in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix != ".toml"):
        if f.suffix == ".xlsx":
            with zipfile.ZipFile(f) as z:
                parts += [z.read(n).decode("utf-8", "replace") for n in z.namelist()]
        elif f.suffix == ".sqlite":
            with sqlite3.connect(f) as db:
                for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
                    parts += [repr(row) for row in db.execute(f"SELECT * FROM {table}")]
            parts.append(f.read_bytes().decode("latin-1"))
        else:
            parts.append(f.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)
