"""Regenerate the demo waves in this folder (deterministic): `python sample_data/make_sample.py`.

MTurk: a clean wave of 52 workers, then the traps a real wave has (`sample_wave`).
Prolific: a clean study of 44 participants, then the traps a real study has
(`sample_study`), in `prolific/`.
LimeSurvey: a Prolific study of 36 participants whose survey ran on LimeSurvey, then the
traps such a study has (`sample_limesurvey_study`), in `limesurvey/`.
"""

from __future__ import annotations

import copy
import sys
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bridge.panels.prolific.synthetic import (  # noqa: E402
    COMPLETED_CODE, FAILED_CHECK_CODE, clean_study, write_export, write_limesurvey, write_survey,
)
from bridge.synthetic import clean_wave, write_batch_csv, write_qualtrics_csv  # noqa: E402


def sample_wave():
    wave = clean_wave(52, seed=20261120)
    p = wave.participants
    p[0].submitted_code = f" {p[0].code} "  # stray spaces: normalized
    c = p[1].code  # one digit mistyped: near miss
    p[1].submitted_code = c[:3] + str((int(c[3]) + 1) % 10) + c[4:]
    p[2].submitted_code = f"{int(p[2].code):.2E}"  # Excel: 4.82E+06
    p[3].code = "0" + p[3].code[1:]  # a code with a leading zero that Excel dropped
    p[3].submitted_code = p[3].code.lstrip("0")
    p[5].submitted_code = p[4].code  # two workers, one code
    p[5].in_survey = False
    p[6].submitted_code = "I finished the survey"  # no code at all
    p[6].in_survey = False
    p[7].submitted_code = ""  # left the field empty
    p[7].in_survey = False
    p[8].duration = 41  # too fast
    p[9].q7 = "Red"  # failed the attention check
    # p[10] took the survey twice; the first finished response counts.
    first = copy.deepcopy(p[10])
    first.response_id = "R_1dUpLiCaTeFiRsT"
    first.code = str(int(p[10].code) + 7)
    first.start = p[10].start - timedelta(minutes=40)
    first.in_mturk = False
    p[11].assignment_status = "Approved"  # auto-approved before the close-out
    p[11].bonus = "1.00"
    p[12].bonus = "$1.50"
    p[13].bonus = "1.5"
    p[14].bonus = "0.125"  # rounded half-up to 0.13
    p[15].bonus = "7.00"  # above max_per_worker
    p[16].bonus = "-1"  # negative: review
    p[17].bonus = "two dollars"  # unreadable: review
    p[18].q9 = '=HYPERLINK("http://example.com","click me")'  # formula in an answer
    p[19].submitted_code = "=cmd|' /C calc'!A0"  # formula as a code
    p[19].in_survey = False
    p[20].finished = False  # submitted the code of an unfinished response
    p[21].extra["survey_worker_id"] = "A2SOMEONEELSE01"  # the response names another worker
    extras = [first]
    base = p[30]
    for i, status in enumerate(["Survey Preview", "Survey Test", "Spam"]):
        row = copy.deepcopy(base)
        row.response_id = f"R_{status.replace(' ', '')[:10]}{i:05d}"
        row.code, row.status, row.in_mturk, row.worker_id = str(9000000 + i), status, False, ""
        extras.append(row)
    quitter = copy.deepcopy(base)  # started, never finished, never submitted
    quitter.response_id, quitter.code, quitter.finished, quitter.in_mturk = "R_qUiTtErNoFiNiSh", "9100000", False, False
    quitter.worker_id = "A3QUITTERWORKER1"
    extras.append(quitter)
    lost = copy.deepcopy(base)  # finished the survey, never submitted the HIT
    lost.response_id, lost.code, lost.in_mturk, lost.worker_id = "R_nEvErSuBmItTeD", "9200000", False, "A1NEVERSUBMITTED"
    extras.append(lost)
    wave.participants = p[:10] + [first] + p[10:] + extras[1:]
    return wave


def sample_study():
    """A Prolific study with every trap the close-out must handle (SPEC §7, §8)."""
    study = clean_study(44, seed=20261121)
    p = study.participants
    p[0].submitted_code = f" {COMPLETED_CODE.lower()} "  # spaces and case: the code still counts
    p[1].submitted_code = FAILED_CHECK_CODE  # the study's failed-check code: attention_failed
    p[2].submitted_code = "C1A2B3C5"  # a code the study does not have: bad_code
    p[3].submitted_code = "NOCODE"  # finished without a code: no_code
    p[4].assignment_status, p[4].in_survey = "RETURNED", False  # returned before the survey: nothing to do
    p[5].assignment_status = "RETURNED"  # returned after finishing the survey: returned_with_response
    p[5].bonus = "0.50"
    p[6].assignment_status, p[6].finished = "TIMED-OUT", False  # ran out of time half-way
    p[7].assignment_status, p[7].finished, p[7].submitted_code = "SCREENED OUT", False, "SCREEN01"
    p[8].assignment_status, p[8].in_survey, p[8].submitted_code = "ACTIVE", False, ""  # still working
    p[9].assignment_status, p[9].bonus = "APPROVED", "1.00"  # approved by hand already: bonus still paid
    p[10].assignment_status = "REJECTED"  # rejected by hand already
    p[11].duration = 95  # far too fast: more than 3 SD below the mean
    p[12].q7 = "Red"  # failed the attention check
    p[13].in_survey = False  # no survey response at all: unmatched
    # p[14] took the survey twice; the first finished response counts.
    first = copy.deepcopy(p[14])
    first.response_id = "R_pRoLiFiCfIrStTaKe"[:17]
    first.start = p[14].start - timedelta(minutes=30)
    first.in_mturk = False
    p[15].bonus = "$0.75"
    p[16].bonus = "0.125"  # rounded half-up to 0.13
    p[17].bonus = "7.00"  # above max_per_worker
    p[18].bonus = "-1"  # negative: review
    p[19].q9 = '=HYPERLINK("http://example.com","click me")'  # formula in an answer
    p[20].extra["survey_pid"] = p[20].worker_id[:-1] + ("0" if p[20].worker_id[-1] != "0" else "1")  # one char off
    extras = [first]
    base = p[30]
    for i, status in enumerate(["Survey Preview", "Survey Test"]):
        row = copy.deepcopy(base)
        row.response_id = f"R_{status.replace(' ', '')[:10]}P{i:04d}"
        row.status, row.in_mturk, row.extra = status, False, {"survey_pid": "", "session": ""}
        extras.append(row)
    lost = copy.deepcopy(base)  # did the survey, never submitted on Prolific
    lost.response_id, lost.in_mturk = "R_nOsUbMiSsIoNpRo", False
    lost.worker_id = "5f0c0ffee0ddba11c0ffee00"
    extras.append(lost)
    study.participants = p[:14] + [first] + p[14:] + extras[1:]
    return study


def sample_limesurvey_study():
    """A Prolific study whose survey ran on LimeSurvey: the traps of such a study (SPEC §14)."""
    study = clean_study(36, seed=20261122)
    p = study.participants
    for i, person in enumerate(p):  # LimeSurvey numbers responses; deleted ones leave gaps
        person.response_id = str(101 + 2 * i)
    # p[1] left on page 2, came back through the link and finished in a new response.
    first_try = copy.deepcopy(p[1])
    first_try.response_id, first_try.finished, first_try.in_mturk = "100", False, False
    first_try.start = p[1].start - timedelta(minutes=25)
    first_try.duration = 140
    p[2].finished, p[2].submitted_code = False, "NOCODE"  # gave up half-way, submitted on Prolific anyway
    p[3].extra["survey_pid"] = ""  # came without the link's parameters: the response names no one
    p[4].extra["survey_pid"] = p[4].worker_id.upper()  # typed the id by hand, in capitals
    p[5].assignment_status, p[5].bonus = "RETURNED", "0.50"  # returned after finishing: may be paid a bonus
    p[6].assignment_status, p[6].finished = "TIMED-OUT", False  # ran out of time half-way
    p[7].assignment_status, p[7].submitted_code = "APPROVED", "NOCODE"  # approved by hand without a code
    # p[8] took the survey twice and finished both times: the first finished response counts.
    again = copy.deepcopy(p[8])
    again.response_id, again.in_mturk = str(int(p[8].response_id) + 1), False
    again.start = p[8].start + timedelta(minutes=30)
    p[9].duration = 90  # far too fast: more than 3 SD below the mean
    p[10].q7 = "Red"  # failed the attention check
    p[11].q9 = 'Nice study!\nOne remark: "page 3" was long – danke, ça va.'  # quotes, a line break, accents
    p[12].q9 = '=HYPERLINK("http://example.com","click me")'  # a formula in an answer
    p[13].bonus = "1,50"  # a decimal comma (a German LimeSurvey): unreadable, for a person
    p[14].bonus = "0.125"  # rounded half-up to 0.13
    p[15].in_mturk = False  # finished the survey, never submitted on Prolific
    p[16].extra["language"] = "de"
    tester = copy.deepcopy(p[20])  # the lab's own test run, before the launch
    tester.response_id, tester.in_mturk, tester.extra = "99", False, {"survey_pid": "TEST", "session": ""}
    tester.start = p[20].start - timedelta(days=1)
    study.participants = [tester, first_try] + p[:9] + [again] + p[9:]
    return study


def with_conditions(participants) -> None:
    """The survey's randomizer: each participant is shown one of two versions, evenly, and
    the survey records it as embedded data `condition` ([report] condition_column)."""
    for i, p in enumerate(participants):
        p.extra.setdefault("condition", ("control", "treatment")[i % 2])


def main() -> None:
    wave = sample_wave()
    with_conditions(wave.participants)
    write_qualtrics_csv(wave, HERE / "qualtrics_export.csv", extra=["condition"])
    write_batch_csv(wave, HERE / "batch_results.csv")
    print(f"wrote {HERE / 'qualtrics_export.csv'} and {HERE / 'batch_results.csv'}")
    study = sample_study()
    folder = HERE / "prolific"
    folder.mkdir(exist_ok=True)
    export = folder / f"prolific_export_{study.study_id}.csv"
    for old in folder.glob("prolific_export_*.csv"):
        old.unlink()
    write_export(study, export)
    with_conditions(study.participants)
    write_survey(study, folder / "qualtrics_export.csv", extra=["condition"])
    print(f"wrote {export} and {folder / 'qualtrics_export.csv'}")
    lime = sample_limesurvey_study()
    folder = HERE / "limesurvey"
    folder.mkdir(exist_ok=True)
    for old in folder.glob("prolific_export_*.csv"):
        old.unlink()
    export = folder / f"prolific_export_{lime.study_id}(1).csv"  # downloaded a second time
    write_export(lime, export)
    write_limesurvey(lime, folder / "results-survey482915.csv")
    print(f"wrote {export} and {folder / 'results-survey482915.csv'}")


if __name__ == "__main__":
    main()
