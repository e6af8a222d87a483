"""Regenerate the demo wave in this folder (deterministic): `python sample_data/make_sample.py`.

A clean wave of 52 workers, then the traps a real wave has; sample_data/README.md lists them.
"""

from __future__ import annotations

import copy
import sys
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bridge.synthetic import Participant, clean_wave, write_batch_csv, write_qualtrics_csv  # noqa: E402


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


def main() -> None:
    wave = sample_wave()
    write_qualtrics_csv(wave, HERE / "qualtrics_export.csv")
    write_batch_csv(wave, HERE / "batch_results.csv")
    print(f"wrote {HERE / 'qualtrics_export.csv'} and {HERE / 'batch_results.csv'}")


if __name__ == "__main__":
    main()
