"""Survey exports with one header row (SPEC §14) over their data-file matrix
(tests/data/readers/survey_cases.toml): `[survey]` as a config gives it, read through the
same path as a close-out (`SurveySettings.spec` → `bridge.sources.survey.read_survey`)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bridge.errors import SourceError
from bridge.models import Response, SurveyTable
from bridge.sources.settings import SurveySettings
from bridge.sources.survey import read_survey

DATA = Path(__file__).resolve().parents[1] / "data" / "readers"
CASES = tomllib.loads((DATA / "survey_cases.toml").read_text(encoding="utf-8"))["survey"]


def _spec(case: dict):
    return SurveySettings(**case["survey"]).spec(lambda p: DATA / p)


@pytest.mark.parametrize("case", [dict(c, id=k) for k, c in CASES.items()], ids=list(CASES))
def test_survey_case(case, check_attrs, check_error):
    spec = _spec(case)
    raw = spec.csv.read_bytes()
    for guard in case.get("bytes", []):
        if guard == "bom":
            assert raw.startswith(b"\xef\xbb\xbf"), "fixture lost its BOM"
        elif guard == "crlf":
            assert b"\r\n" in raw, "fixture lost its CRLF line ends"
        elif guard == "not-utf8":
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")
    try:
        table, exc = read_survey(spec, keep=case.get("keep")), None
    except SourceError as e:
        table, exc = None, e
    if "error" in case:
        check_error(table, exc, str(spec.csv), case)
        return
    assert exc is None, f"unexpected SourceError: {exc}"
    _invariants(table, case)
    assert len(table.responses) == case["responses"]
    if "columns" in case:
        assert table.columns == case["columns"]
    if "id_column" in case:
        assert table.id_column == (case["id_column"] or None)
    if "what" in case:
        assert table.what == case["what"]
    for spec_row in case.get("rows", []):
        check_attrs(table.responses[spec_row["i"]], spec_row, f"responses[{spec_row['i']}]")


def _invariants(table: SurveyTable, case: dict) -> None:
    """Ids and values are text; the fields are the kept columns in the file's order."""
    keep = case.get("keep")
    for r in table.responses:
        assert isinstance(r, Response)
        assert type(r.response_id) is str and r.response_id
        assert r.status == "" and isinstance(r.finished, bool)
        assert all(type(v) is str for v in r.fields.values())
        assert list(r.fields) == [c for c in table.columns if keep is None or c in keep]
        if table.id_column is not None and (keep is None or table.id_column in keep):
            assert r.fields[table.id_column].strip() == r.response_id
    assert len({r.response_id for r in table.responses}) == len(table.responses)


def test_limesurvey_preset_names_the_columns_of_both_heading_styles():
    """SPEC §14: the preset is the table of LimeSurvey's column names, both styles, with its source."""
    from bridge.sources.presets import names, preset

    assert "limesurvey" in names()
    lime = preset("limesurvey")
    assert lime.source.startswith("https://manual.limesurvey.org/")
    codes, full = lime.styles
    assert (codes.response_id_column, codes.finished_column, codes.started_column) == ("id", "submitdate", "startdate")
    assert (full.response_id_column, full.finished_column, full.started_column) == (
        "Response ID", "Date submitted", "Date started")
    assert lime.other_columns == (("lastpage", "startlanguage", "seed", "datestamp"),
                                  ("Last page", "Start language", "Seed", "Date last action"))
    assert codes.finished_values == () and full.finished_values == ()  # any submit date means finished
