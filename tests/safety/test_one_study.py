"""SPEC §12, one study named the same everywhere: the export's file name, `[prolific]
study_id`, the study on Prolific and the survey's STUDY_ID column must agree, or nothing is
written or sent (exit 1, each source named); a survey shared by several studies joins only
this study's responses. MTurk: the batch file's HITs against `[mturk] hit_ids`. Each runs the
CLI as a person would, against the emulators on 127.0.0.1."""

from __future__ import annotations

import csv
import re

from safety_support import NOW, lab, run, seed, sent, sheet, study, summary


def test_another_studys_export_is_refused_before_anything_is_written_or_sent(emu, tmp_path):
    ours, theirs = study(30, seed=1), study(34, seed=2)
    seed(emu, ours, lab(tmp_path / "ours", export_of=ours, url=emu.url).export)
    seed(emu, theirs, lab(tmp_path / "theirs", export_of=theirs, url=emu.url).export)
    # The config names our study; the export downloaded is the other study's (its file name says so).
    wrong = lab(tmp_path / "lab", export_of=theirs, survey_of=ours, url=emu.url, study_id=ours.study_id)

    result = run("close-out", wrong.config, "--apply", "--yes", *NOW)

    assert result.exit_code == 1, result.output
    assert f"[prolific] study_id says {ours.study_id}" in result.output
    assert f"the export's file name (prolific_export_{theirs.study_id}.csv) says {theirs.study_id}" in result.output
    assert "Nothing was written or sent" in result.output
    assert not wrong.out.exists()
    assert sent(emu) == {}
    assert {s.status for s in emu.submissions_of(theirs.study_id)} == {"AWAITING REVIEW"}


def test_a_survey_of_another_study_is_refused_naming_its_study_column(emu, tmp_path):
    ours, theirs = study(10, seed=1), study(10, seed=2)
    wrong = lab(tmp_path / "lab", export_of=ours, survey_of=theirs, url=emu.url)

    result = run("close-out", wrong.config, *NOW)

    assert result.exit_code == 1, result.output
    assert f"it is {ours.study_id} by the export's file name (prolific_export_{ours.study_id}.csv)" in result.output
    assert f"the survey's column 'STUDY_ID'" in result.output and f"{theirs.study_id} (10 responses)" in result.output
    assert not wrong.out.exists()


def test_a_renamed_export_of_another_study_is_caught_by_prolific_before_anything_is_sent(emu, tmp_path):
    ours, theirs = study(30, seed=1), study(34, seed=2)
    seed(emu, ours, lab(tmp_path / "ours", export_of=ours, url=emu.url).export)
    seed(emu, theirs, lab(tmp_path / "theirs", export_of=theirs, url=emu.url).export)
    group = emu.add_group("Prev")
    # Renamed, so its name says nothing; the survey never captured STUDY_ID.
    wrong = lab(tmp_path / "lab", export_of=theirs, survey_of=ours, url=emu.url, study_id=ours.study_id,
                export_name="export.csv", survey_columns=False, groups=f'[qualifications]\nprev_worker = "{group}"\n')

    dry = run("close-out", wrong.config, *NOW)
    assert dry.exit_code == 0, dry.output
    assert re.search(r"Reject \(to send\) +0\n", dry.output)  # the gate sent them to a person
    applied = run("close-out", wrong.config, "--apply", "--yes", *NOW)

    assert applied.exit_code == 1, applied.output
    assert f"34 of the plan's submissions belong to another study on Prolific" in applied.output
    assert f"is in {theirs.study_id}), not the wave's ({ours.study_id})" in applied.output
    assert "Nothing was sent" in applied.output
    assert sent(emu) == {} and emu.group_members(group) == []


def test_a_survey_of_several_studies_joins_only_this_studys_responses(emu, tmp_path):
    ours, theirs = study(12, seed=1), study(6, seed=2)
    # One participant took both studies and answered only the other study's survey.
    both = theirs.participants[0]
    ours.participants[0].in_survey = False
    ours.participants[0].worker_id = both.worker_id
    shared = lab(tmp_path / "lab", export_of=ours, url=emu.url)
    other = tmp_path / "other.csv"
    from bridge.panels.prolific.synthetic import write_survey

    write_survey(theirs, other)
    with open(shared.survey, "a", newline="", encoding="utf-8") as f:  # the other study's rows appended
        f.writelines(other.read_text(encoding="utf-8").splitlines(keepends=True)[3:])

    result = run("close-out", shared.config, *NOW)

    assert result.exit_code == 0, result.output
    assert f"6 response(s) of other studies in its column 'STUDY_ID' ({theirs.study_id} (6 responses))" \
        in result.output
    decisions = {r["ParticipantId"]: r for r in sheet(shared.workbook, "Decisions")}
    assert decisions[both.worker_id]["Match"] == "none"  # never joined to the other study's response
    assert "low_match_share" not in (decisions[both.worker_id]["Reasons"] or "")
    unmatched = {r["ResponseId"]: r for r in sheet(shared.workbook, "Unmatched responses")}
    assert {unmatched[p.response_id]["Reasons"] for p in theirs.participants} == {"other_study"}
    with open(shared.out / "study-x-responses.csv", encoding="utf-8") as f:
        rows = {r["ResponseId"]: r for r in csv.DictReader(f)}
    assert {rows[p.response_id]["Reasons"] for p in theirs.participants} == {"other_study"}
    assert {rows[p.response_id]["Include"] for p in theirs.participants} == {"false"}
    assert summary(shared.workbook)["Survey responses"] == 11 + 6


# --- MTurk: the batch file's HITs against [mturk] hit_ids ---------------------------------------


def _mturk_lab(tmp_path, url: str, hit_ids: list[str]):
    from bridge.synthetic import clean_wave, write_batch_csv, write_qualtrics_csv

    wave = clean_wave(8, seed=3)
    folder = tmp_path / "mturk"
    folder.mkdir()
    write_batch_csv(wave, folder / "batch.csv")
    write_qualtrics_csv(wave, folder / "survey.csv")
    config = folder / "wave.toml"
    config.write_text(f"""
[wave]
name = "wave-x"
[qualtrics]
csv = "survey.csv"
[mturk]
csv = "batch.csv"
hit_ids = [{", ".join(f'"{h}"' for h in hit_ids)}]
environment = "{url}"
[output]
workbook = "out/wave-x.xlsx"
""")
    return wave, folder, config


def test_a_batch_file_of_hits_hit_ids_does_not_list_is_refused(start_mturk, tmp_path):
    emu = start_mturk()
    wave, folder, config = _mturk_lab(tmp_path, emu.url, ["3OTHERHIT00000000000000000000"])

    result = run("close-out", config, "--apply", "--yes", "--now", "2026-12-05T08:42:00Z")

    assert result.exit_code == 1, result.output
    assert f"holds 8 assignment(s) of 1 HIT(s) that [mturk] hit_ids does not list ({wave.hit_id})" in result.output
    assert not (folder / "out").exists()
    assert sum(emu.calls.values()) == 0


def test_hit_ids_naming_a_hit_the_file_lacks_is_a_warning(tmp_path):
    from bridge.synthetic import clean_wave

    idle = "3IDLEHIT000000000000000000000"
    hit = clean_wave(8, seed=3).hit_id
    wave, folder, config = _mturk_lab(tmp_path, "sandbox", [hit, idle])

    result = run("close-out", config, "--now", "2026-12-05T08:42:00Z")

    assert result.exit_code == 0, result.output
    assert f"warning: [mturk] hit_ids lists 1 HIT(s) the batch file batch.csv has no assignment of ({idle})" \
        in result.output


def test_the_study_column_a_survey_section_names_is_checked_too(tmp_path):
    # A LimeSurvey export whose STUDYID question ([survey] study_column) names another study.
    import shutil

    from paths import SAMPLE

    folder = tmp_path / "limesurvey"
    shutil.copytree(SAMPLE / "limesurvey", folder)
    shutil.rmtree(folder / "out", ignore_errors=True)  # a demo run's, if any
    export = folder / "results-survey482915.csv"
    text = export.read_text(encoding="utf-8-sig")
    assert text.count("7c11c05dff7b9c8f9a4cbd78") >= 30
    export.write_text(text.replace("7c11c05dff7b9c8f9a4cbd78", "0123456789abcdef01234567"), encoding="utf-8-sig")

    result = run("close-out", folder / "study.toml", *NOW)

    assert result.exit_code == 1, result.output
    assert "the survey's column 'STUDYID'" in result.output and "0123456789abcdef01234567" in result.output
    assert "7c11c05dff7b9c8f9a4cbd78" in result.output and not (folder / "out").exists()
