"""`[survey]` (SPEC §14): the survey from any tool, one neutral view (`Settings.survey`) for
both it and `[qualtrics]`, and every problem named with its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import load_config
from bridge.errors import ConfigError
from bridge.sources.csv_survey import CsvLayout

PROLIFIC = """
[wave]
name = "study-1"
platform = "prolific"
[prolific]
csv = "prolific_export_6543aaaabbbbccccddddeeee.csv"
completion_codes = { C1 = "completed" }
"""


def load(tmp_path: Path, survey: str, panel: str = PROLIFIC):
    path = tmp_path / "study.toml"
    path.write_text(panel + survey)
    return load_config(path)


def problems(tmp_path: Path, survey: str, panel: str = PROLIFIC) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, survey, panel)
    return info.value.problems


def test_a_generic_csv_and_every_mapping_key(tmp_path):
    s = load(tmp_path, """
[survey]
format = "csv"
csv = "data/responses.csv"
participant_column = "prolific_id"
response_id_column = "session"
finished_column = "status"
finished_values = ["complete", "done"]
started_column = "t0"
ended_column = "t1"
study_column = "study"
code_column = "code"
include_unfinished = true
""")
    survey = s.survey
    assert (survey.section, survey.format, survey.csv) == ("survey", "csv", tmp_path / "data" / "responses.csv")
    assert (survey.participant_column, survey.study_column, survey.code_column) == ("prolific_id", "study", "code")
    assert survey.include_unfinished and survey.what == "survey CSV export"
    assert survey.layouts == (CsvLayout(
        response_id_column="session", finished_column="status", finished_values=("complete", "done"),
        started_column="t0", ended_column="t1",
        required=frozenset({"response_id_column", "finished_column", "started_column", "ended_column"})),)
    assert survey.key("participant_column") == "[survey] participant_column"
    options = s.panel.match_options(s)
    assert options.key_column == options.participant_column == "prolific_id" and options.include_unfinished


def test_a_generic_csv_needs_only_its_file(tmp_path):
    s = load(tmp_path, '[survey]\nformat = "csv"\ncsv = "r.csv"\n')
    assert s.survey.layouts == (CsvLayout(),)  # row numbers, every row finished, no duration
    assert s.panel.match_options(s).key_column == "PROLIFIC_PID"  # the panel's default join column


def test_the_limesurvey_preset_and_a_key_it_lets_change(tmp_path):
    survey = load(tmp_path, '[survey]\nformat = "limesurvey"\ncsv = "results-survey1.csv"\n'
                            'duration_column = "Zeit"\n').survey
    assert survey.what == "LimeSurvey response export"
    codes, full = survey.layouts
    assert (codes.response_id_column, codes.finished_column, codes.duration_column) == ("id", "submitdate", "Zeit")
    assert codes.started_column is None and "duration_column" in codes.required
    assert (full.response_id_column, full.duration_column) == ("Response ID", "Zeit")


def test_survey_in_qualtrics_form_is_the_qualtrics_section(tmp_path):
    a = load(tmp_path, '[survey]\nformat = "qualtrics"\nsurvey_id = "SV_abc"\ndatacenter = "iad1"\n'
                       'participant_column = "PROLIFIC_PID"\n').survey
    b = load(tmp_path, '[qualtrics]\nsurvey_id = "SV_abc"\ndatacenter = "iad1"\n'
                       'participant_column = "PROLIFIC_PID"\n').survey
    assert a.section == "survey" and b.section == "qualtrics"
    assert {k: getattr(a, k) for k in a.__slots__ if k != "section"} == \
        {k: getattr(b, k) for k in b.__slots__ if k != "section"}
    assert a.is_qualtrics and a.csv is None and a.survey_id == "SV_abc"


def test_qualtrics_keeps_worker_id_column_and_gains_study_column(tmp_path):
    mturk = '[wave]\nname = "w"\n[mturk]\ncsv = "b.csv"\n'
    survey = load(tmp_path, '[qualtrics]\ncsv = "q.csv"\nworker_id_column = "workerId"\nstudy_column = "hit"\n',
                  mturk).survey
    assert (survey.participant_column, survey.participant_key, survey.study_column) == (
        "workerId", "worker_id_column", "hit")


@pytest.mark.parametrize("survey, expected", [
    ("", "[survey] is required"),
    ('[survey]\nformat = "csv"\ncsv = "r.csv"\n[qualtrics]\ncsv = "q.csv"\n', "[qualtrics] and [survey] both"),
    ('[survey]\nformat = "limesurvy"\ncsv = "r.csv"\n', "did you mean 'limesurvey'?"),
    ('[survey]\nformat = "gorilla"\ncsv = "r.csv"\n', "'gorilla' is not a format survey-bridge reads"),
    ('[survey]\nformat = "csv"\n', "csv is required with format = 'csv'"),
    ('[survey]\nformat = "csv"\ncsv = "r.csv"\nsurvey_id = "SV_abc"\n', "survey_id: only for format = \"qualtrics\""),
    ('[survey]\ncsv = "q.csv"\nfinished_column = "done"\n', "finished_column: only for an export with one header"),
    ('[survey]\nformat = "csv"\ncsv = "r.csv"\nduration_column = "s"\nstarted_column = "a"\nended_column = "b"\n',
     "give duration_column (seconds) or started_column + ended_column (times), not both"),
    ('[survey]\nformat = "csv"\ncsv = "r.csv"\nstarted_column = "a"\n', "started_column and ended_column go together"),
    ('[survey]\nformat = "csv"\ncsv = "r.csv"\nfinished_values = ["1"]\n', "finished_values needs finished_column"),
    ('[survey]\nformat = "csv"\ncsv = "r.csv"\nfinished_column = "f"\nfinished_values = [" "]\n', "a value is empty"),
    ('[survey]\nformat = "csv"\ncsv = "r.csv"\nparticipant_colum = "pid"\n',
     "unknown key 'participant_colum' in [survey]; did you mean participant_column?"),
    ('[survey]\nformat = "csv"\ncsv = "r.csv"\nworker_id_column = "pid"\n',
     "unknown key 'worker_id_column' in [survey]; did you mean participant_column?"),
])
def test_problems_name_the_key(tmp_path, survey, expected):
    found = problems(tmp_path, survey)
    assert any(expected in p for p in found), found


def test_prolific_participant_column_goes_with_the_export(tmp_path):
    panel = PROLIFIC.replace('csv = "prolific_export_6543aaaabbbbccccddddeeee.csv"',
                             'study_id = "6543aaaabbbbccccddddeeee"\nparticipant_column = "PROLIFIC_PID"')
    found = problems(tmp_path, '[survey]\nformat = "csv"\ncsv = "r.csv"\n', panel)
    assert any("[prolific]: participant_column names a column of the study's export" in p for p in found), found
    s = load(tmp_path, '[survey]\nformat = "csv"\ncsv = "r.csv"\n',
             PROLIFIC.replace('completion_codes', 'participant_column = "Prolific ID"\ncompletion_codes'))
    assert s.prolific.participant_column == "Prolific ID"


def test_the_limesurvey_template_is_valid():
    s = load_config(Path(__file__).resolve().parents[1] / "templates" / "limesurvey.toml")
    assert s.survey.format == "limesurvey" and s.survey.participant_column
