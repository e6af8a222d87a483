"""Synthetic Prolific studies in the real formats, for the sample study, the tests and the
benchmarks.

No complete real Prolific export exists in public (FACTS §3): the export written here
follows the facts file: the header order seen in real exports and analysis scripts,
ISO 8601 UTC times with six-digit fractions and `Z`, `Not Applicable` for unused terms,
statuses with spaces, `NOCODE`, empty `Completed at` on returned work, integer `Time
taken`, quoted multi-value demographic cells. The survey side is a Qualtrics export whose
embedded data holds `PROLIFIC_PID`, `STUDY_ID` and `SESSION_ID`, as Prolific's URL
parameters fill them (`write_survey`), or the same survey run on LimeSurvey
(`write_limesurvey`: its response export as LimeSurvey writes it, the URL parameters saved
to hidden questions).

A study reuses `bridge.synthetic.Participant`: `worker_id` is the participant id,
`assignment_id` the submission id, `assignment_status` the Prolific status,
`submitted_code` the completion code entered on Prolific, `in_mturk` "has a submission".
"""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from bridge.synthetic import Participant, Wave, write_qualtrics_csv

HEX = "0123456789abcdef"
COMPLETED_CODE = "C1A2B3C4"
FAILED_CHECK_CODE = "C7FAIL00"
EXPORT_HEAD = ["Submission id", "Participant id", "Status", "Custom study tncs accepted at", "Started at",
               "Completed at", "Reviewed at", "Archived at", "Time taken", "Completion code", "Total approvals"]
DEMOGRAPHICS = ["Fluent languages", "Age", "Sex", "Ethnicity simplified", "Country of birth",
                "Country of residence", "Nationality", "Language", "Student status", "Employment status"]
SURVEY_EMBEDDED = ["PROLIFIC_PID", "STUDY_ID", "SESSION_ID", "bonus"]
_ENDED = ("RETURNED", "TIMED-OUT", "SCREENED OUT", "ACTIVE", "RESERVED")


def hex_id(rng: random.Random) -> str:
    """A Prolific id: 24 lower-case hex characters (FACTS 1.1)."""
    return "".join(rng.choice(HEX) for _ in range(24))


@dataclass
class Study:
    study_id: str
    reward: Decimal
    participants: list[Participant]

    @property
    def wave(self) -> Wave:
        """The study as a `bridge.synthetic.Wave`, for the Qualtrics writer."""
        return Wave(self.study_id, "", self.reward, len(self.participants), 21 * 86400, datetime.now(timezone.utc),
                    self.participants)


def clean_study(n: int, *, seed: int = 1, start: datetime | None = None, reward: str = "1.25",
                mean_seconds: int = 600, sd_seconds: int = 80) -> Study:
    """n participants who finished the survey and entered the study's completion code;
    survey durations around `mean_seconds` (a normal spread, as real completion times
    roughly are)."""
    rng = random.Random(seed)
    start = start or datetime(2026, 11, 20, 16, 0, tzinfo=timezone.utc)
    study_id = hex_id(rng)
    people = []
    for _ in range(n):
        begin = start + timedelta(seconds=rng.randint(0, 6 * 3600))
        people.append(Participant(
            worker_id=hex_id(rng),
            assignment_id=hex_id(rng),
            response_id="R_" + "".join(rng.choice("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
                                       for _ in range(15)),
            code=COMPLETED_CODE,
            submitted_code=COMPLETED_CODE,
            start=begin,
            duration=max(120, int(rng.gauss(mean_seconds, sd_seconds))),
            assignment_status="AWAITING REVIEW",
            bonus=rng.choice(["", "", "0.50", "1.00"]),
            extra={"session": hex_id(rng)},
        ))
    return Study(study_id, Decimal(reward), people)


def _time(t: datetime | None) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if t else ""


def _demographics(rng: random.Random) -> list[str]:
    country = rng.choice(["United Kingdom", "United States", "Germany", "South Africa", "Canada"])
    return [
        rng.choice(["English", "English, French", "English, German, Spanish"]), str(rng.randint(18, 70)),
        rng.choice(["Female", "Male"]), rng.choice(["White", "Black", "Asian", "Mixed", "Other"]), country, country,
        country, "English", rng.choice(["Yes", "No", "DATA_EXPIRED"]),
        rng.choice(["Full-Time", "Part-Time", "Not in paid work (e.g. homemaker, retired or disabled)", "Other"]),
    ]


def write_export(study: Study, path: Path, *, seed: int = 7) -> Path:
    """The study's export as the Prolific app gives it (see the module docstring)."""
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(EXPORT_HEAD + DEMOGRAPHICS)
        for p in study.participants:
            if not p.in_mturk:
                continue
            status = p.assignment_status
            # Prolific's own clock: the consent page and the redirect add time to the survey's.
            started = p.start - timedelta(seconds=40, microseconds=rng.randint(0, 999999))
            taken = p.duration + 70
            completed = None if status in _ENDED else started + timedelta(seconds=taken)
            reviewed = completed + timedelta(hours=6) if completed and status in ("APPROVED", "REJECTED") else None
            w.writerow([
                p.assignment_id, p.worker_id, status, "Not Applicable", _time(started), _time(completed),
                _time(reviewed), _time(reviewed), str(taken) if completed else "", p.submitted_code,
                str(rng.randint(1, 900)), *_demographics(rng),
            ])
    return path


def write_survey(study: Study, path: Path, *, extra: Sequence[str] = ()) -> Path:
    """The Qualtrics export of the study's survey: `PROLIFIC_PID`, `STUDY_ID`, `SESSION_ID`
    and a `bonus` column as embedded data, then the `extra` columns (`write_qualtrics_csv`)."""
    def values(p: Participant) -> list[str]:
        return [p.extra.get("survey_pid", p.worker_id), study.study_id if p.worker_id else "",
                p.extra.get("session", ""), p.bonus]

    return write_qualtrics_csv(study.wave, path, embedded=SURVEY_EMBEDDED, values=values, extra=extra)


# LimeSurvey's response export (bridge/sources/presets/limesurvey.toml): its metadata columns,
# then the survey's questions by their codes. The link's parameters are saved to hidden
# questions; these are their codes in the sample survey.
LIMESURVEY_META = ["id", "submitdate", "lastpage", "startlanguage", "seed", "startdate", "datestamp"]
LIMESURVEY_QUESTIONS = ["PROLIFICPID", "STUDYID", "SESSIONID", "Q1", "Q7", "Q9", "bonus"]
LIMESURVEY_PAGES = 4


def _lime_time(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def write_limesurvey(study: Study, path: Path, *, seed: int = 11) -> Path:
    """The study's survey as LimeSurvey exports its responses (question-code headings): UTF-8
    with a BOM, every field quoted, CRLF, line breaks inside answers as LF, an empty line at
    the end (LimeSurvey's CsvWriter). `response_id` is LimeSurvey's numeric `id`; an
    unfinished response has no `submitdate` and stopped on an earlier page."""
    rng = random.Random(seed)

    def field(value: str) -> str:
        return '"' + value.replace("\r\n", "\n").replace("\r", "\n").replace('"', '""') + '"'

    lines = [",".join(field(c) for c in LIMESURVEY_META + LIMESURVEY_QUESTIONS)]
    for p in study.participants:
        if not p.in_survey:
            continue
        end = p.start + timedelta(seconds=p.duration)
        page = LIMESURVEY_PAGES if p.finished else rng.randint(1, LIMESURVEY_PAGES - 1)
        lines.append(",".join(field(v) for v in [
            p.response_id, _lime_time(end) if p.finished else "", str(page), p.extra.get("language", "en"),
            str(rng.randint(1, 99999999)), _lime_time(p.start), _lime_time(end),
            p.extra.get("survey_pid", p.worker_id), study.study_id if p.worker_id else "", p.extra.get("session", ""),
            "A friend", p.q7 if p.finished or page > 2 else "", p.q9 if p.finished else "", p.bonus,
        ]))
    with open(path, "wb") as f:
        f.write(b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
    return path
