"""Join submissions to survey responses on the key the panel names (pure: no I/O).

The key is the completion code the participant entered (MTurk: one code per person) or
the participant id the survey captured (Prolific: its codes name outcomes, shared by many).
Kinds (SPEC §3): `exact` (the same text), `normalized` (equal after trimming whitespace,
ignoring case and inner spaces), `near_miss` (one edit away, a code Excel turned into
`4.82E+06`, or one that lost its leading zeros: always sent to a person with the candidate
named), `none`. Flags: `code_shared` (one key submitted by several submissions),
`duplicate_response` (one key or one participant behind several finished responses: the
first is used), `worker_mismatch` (the response's participant id is not the submission's).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from bridge.models import Match, MatchKind, Response, Submission, SubmissionTable, SurveyTable

# Survey rows that are not participants' work (labels, after numeric codes are mapped).
IGNORED_STATUSES = frozenset(
    {"Survey Preview", "Survey Test", "Spam", "Survey Preview Spam", "Imported Spam", "Offline Survey Preview"}
)
_SCI = re.compile(r"^([0-9]+)(?:\.([0-9]+))?E\+?([0-9]+)$", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def normalize(code: str) -> str:
    return _SPACES.sub("", unicodedata.normalize("NFKC", code)).casefold()


class JoinKey(StrEnum):
    CODE = "code"  # the completion code the participant entered
    PARTICIPANT = "participant"  # the participant id


@dataclass(slots=True)
class MatchOptions:
    key_column: str  # the survey column holding the key
    key: JoinKey = JoinKey.CODE
    participant_column: str | None = None  # the survey column holding the participant id
    include_unfinished: bool = False
    key_label: str = "the completion code"  # for notes: where the key was looked for
    submissions_word: str = "submissions"  # for notes: "code submitted by 2 assignments"

    def key_of(self, s: Submission) -> str:
        return s.entered_code if self.key is JoinKey.CODE else s.participant_id


@dataclass(slots=True)
class MatchResult:
    matches: list[Match]
    # Responses no submission was matched to, with why (e.g. "ignored_status", "unfinished").
    unmatched: list[tuple[Response, list[str]]] = field(default_factory=list)


def _one_edit_apart(a: str, b: str) -> bool:
    """True when b is one insertion, deletion, substitution or adjacent swap from a."""
    if a == b:
        return False
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    if la > lb:
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]


def _deletions(code: str) -> set[str]:
    return {code[:i] + code[i + 1 :] for i in range(len(code))}


def _shown_by_excel(code: str, whole: str, digits: int, exp: int, target: Decimal) -> bool:
    """Would Excel show the numeric `code` as `target` with this many significant digits?"""
    if len(code) != exp + len(whole):
        return False
    shown = Decimal(code).scaleb(-exp).quantize(Decimal(1).scaleb(-(digits - len(whole))), rounding=ROUND_HALF_UP)
    return shown.scaleb(exp) == target


class _NearMissIndex:
    """Finds codes one edit away without comparing against every code (deletion index)."""

    def __init__(self, codes: dict[str, list[Response]]):
        self.codes = codes
        self.by_deletion: dict[str, list[str]] = defaultdict(list)
        self.by_stripped: dict[str, list[str]] = defaultdict(list)
        numeric: list[tuple[int, str]] = []
        for code in codes:
            for d in _deletions(code):
                self.by_deletion[d].append(code)
            if code.isdigit():
                self.by_stripped[code.lstrip("0")].append(code)
                numeric.append((int(code), code))
        numeric.sort()
        self.numeric_values = [v for v, _ in numeric]
        self.numeric_codes = [c for _, c in numeric]

    def _excel_numbers(self, submitted: str) -> list[str]:
        """Codes Excel could have turned into `submitted` (`4.82E+06`, `4820193.0`): a
        range look-up in the sorted numeric codes, not a scan of every code."""
        if re.fullmatch(r"[0-9]+\.0+", submitted):
            base = submitted.split(".")[0]
            return [base] if base in self.codes else []
        m = _SCI.match(submitted)
        if not m:
            return []
        whole, frac, exp = m.group(1), m.group(2) or "", int(m.group(3))
        target = Decimal(submitted.upper())
        half_unit = Decimal(1).scaleb(exp - len(frac)) / 2
        lo = bisect.bisect_left(self.numeric_values, int(target - half_unit))
        hi = bisect.bisect_right(self.numeric_values, int(target + half_unit))
        return [
            code for code in self.numeric_codes[lo:hi]
            if _shown_by_excel(code, whole, len(whole) + len(frac), exp, target)
        ]

    def candidates(self, submitted: str) -> list[str]:
        found: dict[str, None] = {}
        probes = _deletions(submitted) | {submitted}
        for probe in probes:
            if probe in self.codes:
                found.setdefault(probe)
            for code in self.by_deletion.get(probe, ()):
                found.setdefault(code)
        hits = [c for c in found if _one_edit_apart(submitted, c)]
        if submitted.isdigit():
            hits += [c for c in self.by_stripped.get(submitted.lstrip("0"), ()) if c != submitted]
        hits += self._excel_numbers(submitted)
        return list(dict.fromkeys(hits))


@dataclass(slots=True)
class _Survey:
    """The survey side, indexed once: which responses can match, by code and by worker."""

    opts: MatchOptions
    why_not: dict[str, list[str]] = field(default_factory=dict)  # response id → why it cannot match
    by_code: dict[str, list[Response]] = field(default_factory=lambda: defaultdict(list))
    by_worker: dict[str, list[Response]] = field(default_factory=lambda: defaultdict(list))
    unfinished_by_code: dict[str, list[Response]] = field(default_factory=lambda: defaultdict(list))

    def code(self, r: Response) -> str:
        return normalize(r.fields.get(self.opts.key_column, ""))

    def worker(self, r: Response) -> str:
        column = self.opts.participant_column
        return r.fields.get(column, "").strip() if column else ""

    @classmethod
    def index(cls, survey: SurveyTable, opts: MatchOptions) -> "_Survey":
        s = cls(opts)
        for r in survey.responses:  # export order: the first of several is the one used
            code = s.code(r)
            if r.status in IGNORED_STATUSES:
                s.why_not[r.response_id] = [f"ignored_status:{r.status}"]
            elif r.finished is not True and not opts.include_unfinished:
                s.why_not[r.response_id] = ["unfinished"]
                s.unfinished_by_code[code].append(r)
            elif not code:
                s.why_not[r.response_id] = ["no_code"]
            else:
                s.by_code[code].append(r)
                if s.worker(r):
                    s.by_worker[s.worker(r).upper()].append(r)
        return s


def _match_code(m: Match, code: str, survey: _Survey, shared_by: int) -> Response:
    """Fill in a match whose code some eligible response has; returns the response used."""
    a, opts = m.submission, survey.opts
    responses = survey.by_code[code]
    first = responses[0]
    m.kind = MatchKind.EXACT if m.key == first.fields.get(opts.key_column, "") else MatchKind.NORMALIZED
    worker_responses = survey.by_worker.get(a.participant_id.upper(), [])
    if len(worker_responses) > 1 and any(r is first for r in worker_responses):
        first = worker_responses[0]  # the worker's first finished response
    m.response = first
    others = list({r.response_id: r for r in responses + worker_responses if r is not first}.values())
    if others:
        m.reasons.append("duplicate_response")
        m.notes.append("other responses: " + ", ".join(r.response_id for r in others))
    if shared_by > 1:
        m.reasons.append("code_shared")
        m.notes.append(f"{opts.key.value} submitted by {shared_by} {opts.submissions_word}")
    wid = survey.worker(first)
    if wid and wid.upper() != a.participant_id.upper():
        m.reasons.append("worker_mismatch")
        m.notes.append(f"response {first.response_id} was recorded for participant {wid}")
    return first


def _match_near(pending: list[Match], survey: _Survey, used: set[str]) -> None:
    """Near misses are looked for among responses nobody matched by code."""
    free = {c: rs for c, rs in survey.by_code.items() if not any(r.response_id in used for r in rs)}
    index = _NearMissIndex(free)
    for m in pending:
        code = normalize(m.key)
        cands = index.candidates(code)
        if cands:
            m.kind = MatchKind.NEAR_MISS
            m.candidate = free[cands[0]][0]
            m.reasons.append("near_miss")
            column, word = survey.opts.key_column, survey.opts.key.value
            named = ", ".join(f"{free[c][0].response_id} ({word} {free[c][0].fields.get(column, '')})" for c in cands[:3])
            m.notes.append(f"near miss of {named}")
        else:
            m.reasons.append("unmatched")
            if code in survey.unfinished_by_code:
                ids = ", ".join(r.response_id for r in survey.unfinished_by_code[code])
                m.notes.append(f"{survey.opts.key.value} belongs to unfinished response {ids}")


def match_wave(table: SubmissionTable, survey: SurveyTable, opts: MatchOptions) -> MatchResult:
    index = _Survey.index(survey, opts)
    submitted = [(s, opts.key_of(s)) for s in table.submissions]
    shared_by: dict[str, int] = defaultdict(int)
    for _, raw in submitted:
        if normalize(raw):
            shared_by[normalize(raw)] += 1

    matches: list[Match] = []
    used: set[str] = set()
    pending_near: list[Match] = []
    for a, raw in submitted:
        code = normalize(raw)
        m = Match(submission=a, key=raw, kind=MatchKind.NONE)
        m.reasons.extend(a.flags)  # e.g. answer_unreadable
        if not code:
            m.reasons.append("unmatched")
            m.notes.append(f"no {opts.key.value} in {opts.key_label}")
        elif code in index.by_code:
            used.add(_match_code(m, code, index, shared_by[code]).response_id)
        else:
            pending_near.append(m)
        matches.append(m)
    if pending_near:
        _match_near(pending_near, index, used)

    near_ids = {m.candidate.response_id for m in matches if m.candidate is not None}
    unmatched: list[tuple[Response, list[str]]] = []
    for r in survey.responses:
        if r.response_id in used:
            continue
        why = list(index.why_not.get(r.response_id, []))
        if not why:
            if index.by_code[index.code(r)][0] is not r or len(index.by_worker.get(index.worker(r).upper(), [])) > 1:
                why.append("duplicate_response")
            why.append("near_miss_candidate" if r.response_id in near_ids else "no_assignment")
        unmatched.append((r, why))
    return MatchResult(matches=matches, unmatched=unmatched)
