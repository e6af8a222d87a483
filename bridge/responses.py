"""Data for analysis (SPEC §11): the survey responses joined to their outcome.

Every close-out writes `[output] analysis` (default: `<wave>-responses.csv` in the workbook's
folder), an output beside the workbook; `bridge.analysis.responses_frame(config)` returns the
same table as a pandas DataFrame. Nothing here moves money or imports pandas.

The table: UTF-8 CSV (no BOM, so R's `read.csv` and Python's `csv` read the first name
cleanly), one row per survey response in export order, preview/test/spam rows included (their
`Status` column says which). First every survey column as exported: the names of the first
header row as the reader names them (trimmed, repeats made unique `Q1`, `Q1.1`; a legacy
export's `V1..V10` take the metadata names of its second row), the values as text exactly as
in the file (codes keep their leading zeros). Then:

- `SubmissionId`: the submission (MTurk assignment, Prolific submission) matched to the
  response, exactly or after normalising the code; empty if none.
- `ParticipantId`: that submission's participant (worker) id; empty if none.
- `Decision`: `approve`, `reject` or `review` as the plan has it, a person's edits carried
  over from the workbook included; empty if no submission matched.
- `Reasons`: the decision's rule ids, `;`-separated; for a response no submission matched,
  why (the workbook's `Unmatched responses` reasons: `unfinished`, `ignored_status:…`,
  `no_assignment`, `duplicate_response`, `near_miss_candidate`).
- `Bonus`: the bonus the plan pays for it, two places (`1.50`); empty if none.
- `Decision` is the final one, a person's edits included (`none`: nothing to decide).
- `Include`: `true` only for a finished response matched to approved work whose reasons are
  none or only facts about pay and status (`not_submitted`, `bonus_rounded`, `bonus_capped`,
  `pay_top_up`, and `override_rejection`: a person approved it); and for work a person
  approved after review (SPEC §11), unless it carries a data-quality flag; `false` otherwise.
- `Flags`: the data-quality flags among the reasons (`too_fast`, `attention_failed`,
  `duplicate_response`, `code_shared`), `;`-separated: paying someone fairly does not make
  their data clean, so the analyst can choose otherwise.

Choices where the SPEC is silent:

- A response matched by several submissions (a code submitted by several people,
  `code_shared`): one row still; `SubmissionId` and `ParticipantId` list every one of them
  `;`-separated in submission order, `Decision` their distinct decisions, `Reasons` the union,
  `Bonus` the total the plan pays for the response. `code_shared` is a reason, so `Include`
  is false.
- A near-miss candidate is not a match: `SubmissionId`, `ParticipantId`, `Decision` and
  `Bonus` are empty (the same as for any response nothing matched), `Reasons` says
  `near_miss_candidate`, `Include` is false. The submission that nearly matched it is in the
  workbook's `Decisions` sheet, whose `ResponseId` names the candidate.
- Formula safety: every cell, header included, that a spreadsheet would run as a formula is
  neutralised by `bridge.workbook.write.safe` (a leading `'`; `bridge.workbook.write.restore` undoes it).
  Plain decimal numbers (`-74.0`, `-3`) are left as they are: a number is not a formula, and
  a `'-3` in a slider column would become a missing value in R or pandas.
- Names: our six columns come after the survey's even when the survey has a column of the
  same name (the file keeps both; the DataFrame makes the later one unique, `Include.1`, as
  `pandas.read_csv` and R's `read.csv` would).
- The survey is streamed again from its source to write every column, whatever the reader
  kept in memory: the survey's `csv` file through `bridge.sources._csv.open_csv` (same
  decoding, limits and header handling), or the CSV the API export downloaded, which the
  close-out keeps in a spooled temporary file (`CloseOut.survey_export`). A source that
  changed between the two reads is an error (run again), never a silently wrong table.
- The file is written next to its destination and moved into place (`bridge.files`), mode
  0666 less the umask; it never replaces an input of the run, the workbook or the ledger, or
  a file at that path that this tool did not write.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from bridge.closing import NOT_FLAGS
from bridge.config import Settings
from bridge.errors import InputError, SourceError
from bridge.files import guard_output, write_atomically
from bridge.models import Decision, MatchKind, Plan, Response, SubmissionDecision, SurveyTable, UnmatchedResponse
from bridge.money import fmt
from bridge.sources._csv import fit_row, open_csv
from bridge.sources.limits import MAX_RECORD_CHARS
from bridge.workbook.write import _FORMULA_START, safe

if TYPE_CHECKING:
    import os


class Planned(Protocol):
    """A planned close-out (`bridge.closeout.CloseOut`): its plan, the survey it read and,
    for an API source, the export's CSV kept to be streamed again."""

    plan: Plan
    survey: SurveyTable
    survey_export: BinaryIO | None

OUTCOME_COLUMNS = ("SubmissionId", "ParticipantId", "Decision", "Reasons", "Bonus", "Include", "Flags")
# Doubts about the data itself (SPEC §11): a person's approval does not clear them.
DATA_FLAGS = ("too_fast", "attention_failed", "duplicate_response", "code_shared")
# Reasons that are facts about pay or the panel's status, not doubts about the data (SPEC §11).
PAY_FACTS = NOT_FLAGS  # facts about pay and status, not problems (the rules' own list)
_MATCHED = (MatchKind.EXACT, MatchKind.NORMALIZED)
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# The header's last names: this version's, and the one before `Flags` (its files are ours too).
_TAILS = ("," + ",".join(OUTCOME_COLUMNS), "," + ",".join(OUTCOME_COLUMNS[:-1]))
# First characters after which `safe` may act; ASCII text starting otherwise is left as it is.
_RISKY = frozenset(_FORMULA_START)


def analysis_path(settings: Settings, workbook: Path | None = None) -> Path:
    """`[output] analysis`, else `<wave>-responses.csv` beside `workbook` (the one this
    close-out writes; default the config's)."""
    if settings.output.analysis is None and workbook is not None:
        return Path(workbook).parent / f"{settings.wave.name}-responses.csv"
    return settings.analysis_path


def _key(settings: Settings) -> str:
    return "[output] analysis" if settings.output.analysis is not None else "the analysis file ([output] analysis)"


def guard_analysis(settings: Settings, workbook: Path | None = None) -> Path:
    """The analysis path of this close-out; InputError (exit 1, before anything is written)
    when it names an input of the run, the workbook, the ledger, a folder, or a file this
    tool did not write."""
    path = analysis_path(settings, workbook)
    key = _key(settings)
    panel = getattr(settings, settings.wave.platform)
    inputs = [settings.path, getattr(panel, "csv", None)]
    inputs = [settings.resolve(Path(p)) if p is not None else None for p in inputs] + [settings.survey.csv]
    guard_output(path, [*inputs, Path(workbook or settings.workbook_path), settings.ledger_path], key=key)
    if path.is_dir():
        raise InputError(f"{path}: {key} is a folder; name a file such as {path / 'wave-responses.csv'}.")
    if path.exists() and not _is_ours(path):
        raise InputError(f"{path}: a file that survey-bridge did not write is already there; it is left as it is. "
                         f"Move it, or choose another path with [output] analysis.")
    return path


def _is_ours(path: Path) -> bool:
    """A file this module wrote: its header ends with the outcome columns."""
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as f:
            head = f.readline(MAX_RECORD_CHARS)
    except OSError:
        return False
    return head.rstrip("\r\n").endswith(_TAILS)


# --- The rows -----------------------------------------------------------------------------


def cell(text: str) -> str:
    """A value as the file holds it: neutralised when a spreadsheet would run it as a formula."""
    if text[:1] not in _RISKY and text.isascii():  # most cells: nothing `safe` would change
        return text
    out = safe(text)
    if out is None:
        return ""
    if len(out) != len(text) and _NUMBER.fullmatch(text):
        return text
    return out


def person_approved(d: SubmissionDecision) -> bool:
    """Work a person approved (an edit of the tool's decision to approve)."""
    return d.decision is Decision.APPROVE and d.written is not None and \
        str(d.written.get("Decision") or "").lower() != Decision.APPROVE.value


def flags(reasons: list[str]) -> list[str]:
    return [r for r in DATA_FLAGS if r in reasons]


def include(response: Response, matched: list[SubmissionDecision]) -> bool:
    """SPEC §11: a finished response matched to approved work whose reasons are only pay
    facts, or that a person approved after review and that carries no data-quality flag."""
    return (response.finished is True and bool(matched)
            and all(d.decision is Decision.APPROVE and (set(d.reasons) <= PAY_FACTS
                                                        or (person_approved(d) and not flags(d.reasons)))
                    for d in matched))


def outcome(response: Response, matched: list[SubmissionDecision], unmatched: UnmatchedResponse | None) -> list[str]:
    """The outcome cells of one response (before neutralising)."""
    if not matched:
        reasons = unmatched.reasons if unmatched is not None else []
        return ["", "", "", ";".join(reasons), "", "false", ";".join(flags(reasons))]
    bonuses = [d.bonus for d in matched if d.bonus is not None]
    return [
        ";".join(d.submission_id for d in matched),
        ";".join(dict.fromkeys(d.participant_id for d in matched)),
        ";".join(dict.fromkeys(d.decision.value for d in matched)),
        ";".join(dict.fromkeys(r for d in matched for r in d.reasons)),
        fmt(sum(bonuses, Decimal("0.00"))) if bonuses else "",
        "true" if include(response, matched) else "false",
        ";".join(flags([r for d in matched for r in d.reasons])),
    ]


def export_rows(survey: SurveyTable, source: str | os.PathLike | BinaryIO, name: str | None = None) -> Iterator[list[str]]:
    """Every column of every response of `survey`, in export order, streamed again from
    `source` (the file or stream it was read from): the reader's own record numbers say which
    records are responses, so header rows, blank lines and legacy layouts are skipped as it
    skipped them; each is checked to hold the response's id (its id column, or its row
    number). SourceError when the source no longer holds the same responses."""
    src = open_csv(source, name, survey.what)
    width = len(survey.columns)
    rid = survey.columns.index(survey.id_column) if survey.id_column is not None else None
    changed = SourceError(f"{src.label}: changed while the close-out read it (the responses are not the ones it "
                          "just read); the analysis file is not written. Run the close-out again.")
    wanted = iter(survey.responses)
    expected = next(wanted, None)
    records = src.records()
    try:
        for number, (line, row) in enumerate(records, start=1):
            if expected is None:
                break
            if line != expected.source_row:
                continue
            row = fit_row(row, width, may_lack=width, label=src.label, line=line, again="export it again")
            if (row[rid].strip() if rid is not None else str(number)) != expected.response_id:
                raise changed
            yield row
            expected = next(wanted, None)
    finally:
        records.close()
    if expected is not None:
        raise changed


def survey_source(result: Planned, settings: Settings) -> tuple[str | os.PathLike | BinaryIO, str | None]:
    """Where the survey can be streamed again: the config's CSV, or the API export kept."""
    if result.survey_export is not None:
        result.survey_export.seek(0)
        return result.survey_export, result.survey.source
    if settings.survey.csv is None:
        raise SourceError("The survey was read through the API and its export was not kept; "
                          "plan the wave with plan_wave(..., keep_export=True).")
    return settings.survey.csv, None


def table(result: Planned, settings: Settings) -> tuple[list[str], Iterator[list[str]]]:
    """(header, rows) of the analysis table, every cell as the file holds it."""
    plan: Plan = result.plan
    survey = result.survey
    matched: dict[str, list[SubmissionDecision]] = defaultdict(list)
    for d in plan.decisions:
        if d.match in _MATCHED and d.response_id:
            matched[d.response_id].append(d)
    unmatched = {u.response_id: u for u in plan.unmatched_responses}
    header = [cell(c) for c in (*survey.columns, *OUTCOME_COLUMNS)]
    source, name = survey_source(result, settings)

    def rows() -> Iterator[list[str]]:
        nothing: list[SubmissionDecision] = []
        for response, row in zip(survey.responses, export_rows(survey, source, name)):
            out = list(map(cell, row))
            out += map(cell, outcome(response, matched.get(response.response_id, nothing),
                                     unmatched.get(response.response_id)))
            yield out

    return header, rows()


def write_responses(result: Planned, settings: Settings, path: Path) -> Path:
    """Write the analysis CSV of a planned close-out to `path`, atomically."""
    header, rows = table(result, settings)

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(rows)

    try:
        return write_atomically(Path(path), write, what="analysis file")
    finally:
        rows.close()
