"""Qualtrics CSV reader over the data-file matrix in tests/data/readers/cases.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.models import Response, SurveyTable
from bridge.sources.qualtrics_csv import STATUS_CODES, read_qualtrics_csv

DATA = Path(__file__).resolve().parents[1] / "data" / "readers"

# FORMATS.md, "CSV export": the numeric Status codes of an export without labels.
FORMATS_STATUS_CODES = {
    "0": "IP Address", "1": "Survey Preview", "2": "Survey Test", "4": "Imported", "8": "Spam",
    "9": "Survey Preview Spam", "12": "Imported Spam", "16": "Offline", "17": "Offline Survey Preview",
}


def test_qualtrics_case(qualtrics_case, read_case, check_attrs, check_error):
    case = qualtrics_case
    table, exc, label = read_case(read_qualtrics_csv, case)
    if "error" in case:
        check_error(table, exc, label, case)
        return
    assert exc is None, f"unexpected SourceError: {exc}"
    _invariants(table, label)

    if "source" in case:
        assert table.source == case["source"]
    if "responses" in case:
        assert len(table.responses) == case["responses"]
    if "legacy" in case:
        assert table.legacy is case["legacy"]
    if "source_rows" in case:
        assert [r.source_row for r in table.responses] == case["source_rows"]
    if "columns" in case:
        assert table.columns == case["columns"]
    for name in case.get("columns_include", []):
        assert name in table.columns, f"no column {name!r} in {table.columns}"
    for name in case.get("columns_exclude", []):
        assert name not in table.columns, f"column {name!r} should not be in {table.columns}"
    for spec in case.get("rows", []):
        check_attrs(table.responses[spec["i"]], spec, f"responses[{spec['i']}]")


def _invariants(table: SurveyTable, label: str) -> None:
    """What holds for every file read: unique column names, every column of every response
    present and text, statuses as labels, line numbers increasing."""
    assert isinstance(table, SurveyTable)
    assert table.source == label
    assert len(set(table.columns)) == len(table.columns), f"column names not unique: {table.columns}"
    assert "" not in table.columns and "ResponseId" in table.columns
    assert not any(c.startswith("\ufeff") or c.startswith("ï»¿") for c in table.columns)
    rows = [r.source_row for r in table.responses]
    assert rows == sorted(set(rows)) and all(r >= 2 for r in rows)
    for r in table.responses:
        assert isinstance(r, Response)
        assert list(r.fields) == table.columns
        assert all(type(v) is str for v in r.fields.values()), r.fields
        assert type(r.response_id) is str and r.response_id == r.fields["ResponseId"].strip()
        assert type(r.status) is str and r.status not in FORMATS_STATUS_CODES
        assert r.finished is None or type(r.finished) is bool
        assert r.duration_seconds is None or type(r.duration_seconds) is int
        assert type(r.progress) is str and type(r.recorded_date) is str


def test_status_codes_match_formats_md():
    """The reader's code table is the one in FORMATS.md, no more, no less."""
    assert STATUS_CODES == FORMATS_STATUS_CODES


def test_labels_and_codes_read_the_same():
    """An export with labels and the same export with numeric codes give the same statuses."""
    labels = read_qualtrics_csv(DATA / "qualtrics" / "status_labels.csv")
    codes = read_qualtrics_csv(DATA / "qualtrics" / "status_codes.csv")
    assert [(r.response_id, r.status, r.finished) for r in labels.responses] == [
        (r.response_id, r.status, r.finished) for r in codes.responses
    ]
    assert sorted({r.status for r in codes.responses}) == sorted(FORMATS_STATUS_CODES.values())


def test_a_renamed_column_answers_to_the_name_the_file_shows():
    """SPEC §14: the 2016 export's `ResponseID` is read as `ResponseId`; a config may still
    name it as the file shows it, and messages list the columns so."""
    table = read_qualtrics_csv(DATA / "qualtrics" / "insights_2016.csv")
    assert table.aliases == {"ResponseID": "ResponseId", "ExternalDataReference": "ExternalReference"}
    assert table.has_column("ResponseID") and table.has_column("ResponseId") and not table.has_column("Response ID")
    assert "ResponseID" in table.shown_columns and "ResponseId" not in table.shown_columns
    r = table.responses[0]
    assert r.fields["ResponseID"] == r.fields.get("ResponseID") == r.fields["ResponseId"] == "R_3kPqRsTuVwXyZ01"
    assert "ExternalDataReference" in r.fields and r.fields["ExternalDataReference"] == "ext-17"
    assert "ResponseID" not in list(r.fields) and len(r.fields) == len(table.columns)
    assert r.fields.get("Response ID", "none") == "none"
    with pytest.raises(KeyError):
        r.fields["Response ID"]
    kept = read_qualtrics_csv(DATA / "qualtrics" / "insights_2016.csv", keep=["ResponseID", "code"])
    assert dict(kept.responses[0].fields) == {"ResponseId": "R_3kPqRsTuVwXyZ01", "code": "5012"}
    assert kept.responses[0].fields["ResponseID"] == "R_3kPqRsTuVwXyZ01"


def test_the_legacy_export_answers_to_its_own_names(realworld):
    table = read_qualtrics_csv(realworld / "qualtrics_sample_legacy.csv")
    assert table.aliases == {"ResponseID": "ResponseId", "ExternalDataReference": "ExternalReference",
                             "EmailAddress": "RecipientEmail"}
    assert table.responses[0].fields["ResponseID"] == "R_2YPOQ602ER1jkf1"


def test_a_current_export_has_no_aliases():
    table = read_qualtrics_csv(DATA / "qualtrics" / "status_labels.csv")
    assert table.aliases == {} and table.shown_columns == table.columns
    assert type(table.responses[0].fields._names) is dict  # the plain, fast index
