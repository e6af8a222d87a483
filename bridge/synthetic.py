"""Synthetic waves in the real export formats, for the demo, the tests and the benchmarks.

`clean_wave` makes n participants who each finished the survey and submitted their code;
`write_qualtrics_csv` and `write_batch_csv` write them as Qualtrics (three header rows,
labels, CRLF) and the MTurk requester website (every field quoted, rows two fields short,
`$` reward, Pacific-time stamps) write them.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

PACIFIC = timezone(timedelta(hours=-8), "PST")
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

QUALTRICS_META = [
    "StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)", "Finished",
    "RecordedDate", "ResponseId", "RecipientLastName", "RecipientFirstName", "RecipientEmail",
    "ExternalReference", "LocationLatitude", "LocationLongitude", "DistributionChannel", "UserLanguage",
]
QUALTRICS_QUESTIONS = ["Q1", "Q7", "Q9_TEXT"]
QUALTRICS_EMBEDDED = ["Random ID", "workerId", "bonus"]
BATCH_META = [
    "HITId", "HITTypeId", "Title", "Description", "Keywords", "Reward", "CreationTime", "MaxAssignments",
    "RequesterAnnotation", "AssignmentDurationInSeconds", "AutoApprovalDelayInSeconds", "Expiration",
    "NumberOfSimilarHITs", "LifetimeInSeconds", "AssignmentId", "WorkerId", "AssignmentStatus", "AcceptTime",
    "SubmitTime", "AutoApprovalTime", "ApprovalTime", "RejectionTime", "RequesterFeedback", "WorkTimeInSeconds",
    "LifetimeApprovalRate", "Last30DaysApprovalRate", "Last7DaysApprovalRate",
]


def entity_id(rng: random.Random, n: int = 30) -> str:
    return "3" + "".join(rng.choice(ALNUM) for _ in range(n - 1))


def worker_id(rng: random.Random) -> str:
    return "A" + "".join(rng.choice(ALNUM) for _ in range(rng.randint(12, 13)))


@dataclass
class Participant:
    worker_id: str
    assignment_id: str
    response_id: str
    code: str  # the code the survey showed
    submitted_code: str  # what the worker typed into the HIT
    start: datetime
    duration: int
    status: str = "IP Address"
    finished: bool = True
    assignment_status: str = "Submitted"
    q7: str = "Blue"
    q9: str = "Nothing to add."
    bonus: str = ""
    in_survey: bool = True
    in_mturk: bool = True
    extra: dict = field(default_factory=dict)


@dataclass
class Wave:
    hit_id: str
    hit_type_id: str
    reward: Decimal
    max_assignments: int
    auto_approval_delay: int
    created: datetime
    participants: list[Participant]


def clean_wave(n: int, *, seed: int = 1, start: datetime | None = None, reward: str = "1.50") -> Wave:
    rng = random.Random(seed)
    start = start or datetime(2026, 11, 20, 16, 0, tzinfo=timezone.utc)
    codes = rng.sample(range(1000000, 10000000), n)
    people = []
    for i in range(n):
        begin = start + timedelta(seconds=rng.randint(0, 6 * 3600))
        people.append(
            Participant(
                worker_id=worker_id(rng),
                assignment_id=entity_id(rng),
                response_id="R_" + "".join(rng.choice("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(15)),
                code=str(codes[i]),
                submitted_code=str(codes[i]),
                start=begin,
                duration=rng.randint(300, 1500),
                bonus=rng.choice(["", "0.50", "1.00", "$0.75"]),
            )
        )
    return Wave(
        hit_id=entity_id(rng),
        hit_type_id=entity_id(rng),
        reward=Decimal(reward),
        max_assignments=n,
        auto_approval_delay=30 * 24 * 3600,
        created=start - timedelta(minutes=5),
        participants=people,
    )


def _q_time(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S")


def _mturk_time(t: datetime) -> str:
    return t.astimezone(PACIFIC).strftime("%a %b %d %H:%M:%S PST %Y")


def _mturk_embedded(p: Participant) -> list[str]:
    return [p.code, p.extra.get("survey_worker_id", p.worker_id), p.bonus]


def write_qualtrics_csv(wave: Wave, path: Path, *, embedded: list[str] = QUALTRICS_EMBEDDED,
                        values: Callable[[Participant], list[str]] = _mturk_embedded,
                        extra: Sequence[str] = ()) -> Path:
    """A current Qualtrics export with labels: three header rows, CRLF, no BOM. The
    embedded-data columns are `embedded`, each row's `values(participant)` (default: an
    MTurk survey's `Random ID`, `workerId`, `bonus`), then the `extra` columns, each from
    the participant's `extra` (e.g. `condition`, set by the survey's randomizer)."""
    names = QUALTRICS_META + QUALTRICS_QUESTIONS + embedded + list(extra)
    labels = (QUALTRICS_META[:] + ["How did you hear about us?", "Please select Blue.", "Any comments?"] + embedded
              + list(extra))
    import_ids = [json.dumps({"ImportId": n}, separators=(",", ":")) for n in names]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerows([names, labels, import_ids])
        for p in wave.participants:
            if not p.in_survey:
                continue
            end = p.start + timedelta(seconds=p.duration)
            w.writerow([
                _q_time(p.start), _q_time(end), p.status, "203.0.113.7", "100" if p.finished else "42", str(p.duration),
                "True" if p.finished else "False", _q_time(end), p.response_id, "", "", "", "", "40.7", "-74.0",
                "anonymous", "EN", "A friend", p.q7, p.q9, *values(p), *(p.extra.get(c, "") for c in extra),
            ])
    return path


def write_batch_csv(wave: Wave, path: Path) -> Path:
    """An MTurk batch-results file as the requester website writes it."""
    answers = ["Answer.surveycode"]
    header = BATCH_META + answers + ["Approve", "Reject"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\n")
        w.writerow(header)
        for p in wave.participants:
            if not p.in_mturk:
                continue
            accept = p.start - timedelta(seconds=60)
            submit = p.start + timedelta(seconds=p.duration + 45)
            approval = submit + timedelta(hours=5) if p.assignment_status == "Approved" else None
            rejection = submit + timedelta(hours=5) if p.assignment_status == "Rejected" else None
            w.writerow([
                wave.hit_id, wave.hit_type_id, "A short survey about everyday decisions (about 15 minutes)",
                "Answer a survey in Qualtrics and paste the completion code here.", "survey, research",
                f"${wave.reward:.2f}", _mturk_time(wave.created), str(wave.max_assignments), "BatchId:5012345;",
                "3600", str(wave.auto_approval_delay), _mturk_time(wave.created + timedelta(days=7)), "", "",
                p.assignment_id, p.worker_id, p.assignment_status, _mturk_time(accept), _mturk_time(submit),
                _mturk_time(submit + timedelta(seconds=wave.auto_approval_delay)),
                _mturk_time(approval) if approval else "", _mturk_time(rejection) if rejection else "", "",
                str(p.duration + 105), "98% (412/420)", "100% (40/40)", "100% (9/9)", p.submitted_code,
            ])  # two fields short: MTurk leaves out the empty Approve and Reject
    return path


def _fast_id(prefix: str, i: int, width: int, alphabet: str = ALNUM) -> str:
    """A unique id per `i` (base-len(alphabet) digits, zero-padded), cheap to make."""
    digits = []
    base = len(alphabet)
    for _ in range(width):
        i, d = divmod(i, base)
        digits.append(alphabet[d])
    return prefix + "".join(reversed(digits))


def write_fast_wave(folder: Path, n: int, *, seed: int = 1) -> tuple[Path, Path]:
    """`survey.csv` and `batch.csv` for n clean participants, in the layouts of
    `write_qualtrics_csv` and `write_batch_csv`, made quickly enough for a million rows
    (unique ids from a counter, a few random values per row). For the memory benchmark."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 20, 16, 0, tzinfo=timezone.utc)
    created = start - timedelta(minutes=5)
    hit_id, hit_type_id = entity_id(rng), entity_id(rng)
    names = QUALTRICS_META + QUALTRICS_QUESTIONS + QUALTRICS_EMBEDDED
    questions = ["How did you hear about us?", "Please select Blue.", "Any comments?"]
    labels = QUALTRICS_META + questions + QUALTRICS_EMBEDDED
    import_ids = [json.dumps({"ImportId": name}, separators=(",", ":")) for name in names]
    hit_head = [
        hit_id, hit_type_id, "A short survey about everyday decisions (about 15 minutes)",
        "Answer a survey in Qualtrics and paste the completion code here.", "survey, research", "$1.50",
        _mturk_time(created), str(n), "BatchId:5012345;", "3600", str(30 * 24 * 3600),
        _mturk_time(created + timedelta(days=7)), "", "",
    ]
    survey, batch = folder / "survey.csv", folder / "batch.csv"
    with open(survey, "w", newline="", encoding="utf-8") as fq, open(batch, "w", newline="", encoding="utf-8") as fb:
        wq = csv.writer(fq, lineterminator="\r\n")
        wb = csv.writer(fb, quoting=csv.QUOTE_ALL, lineterminator="\n")
        wq.writerows([names, labels, import_ids])
        wb.writerow(BATCH_META + ["Answer.surveycode", "Approve", "Reject"])
        for i in range(n):
            begin = start + timedelta(seconds=rng.randrange(6 * 3600))
            duration = rng.randint(300, 1500)
            end = begin + timedelta(seconds=duration)
            worker = _fast_id("A", i, 12)
            code = str(1000000 + i * 7 % 9000000)  # unique for i < 9,000,000 (7 and 9,000,000 are coprime)
            wq.writerow([
                _q_time(begin), _q_time(end), "IP Address", "203.0.113.7", "100", str(duration), "True", _q_time(end),
                _fast_id("R_", i, 15, "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"), "", "", "", "",
                "40.7", "-74.0", "anonymous", "EN", "A friend", "Blue", "Nothing to add.", code, worker,
                rng.choice(["", "0.50", "1.00", "$0.75"]),
            ])
            submit = end + timedelta(seconds=45)
            wb.writerow(hit_head + [
                _fast_id("3", i, 29), worker, "Submitted", _mturk_time(begin - timedelta(seconds=60)),
                _mturk_time(submit), _mturk_time(submit + timedelta(days=30)), "", "", "", str(duration + 105),
                "98% (412/420)", "100% (40/40)", "100% (9/9)", code,
            ])
    return survey, batch
