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
from collections.abc import Callable, Iterator
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
    n = _SPACES.sub("", unicodedata.normalize("NFKC", code)).casefold()
    return code if n == code else n  # the same object when unchanged: an index keeps no copy


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


def _shown_by_excel(code: str, whole: str, digits: int, exp: int, target: Decimal) -> bool:
    """Would Excel show the numeric `code` as `target` with this many significant digits?"""
    if len(code) != exp + len(whole):
        return False
    shown = Decimal(code).scaleb(-exp).quantize(Decimal(1).scaleb(-(digits - len(whole))), rounding=ROUND_HALF_UP)
    return shown.scaleb(exp) == target


# Memory (issue 11): a near miss is looked for among keys of at most this many characters (a
# completion code, a participant id, a UUID, even a SHA-256 in hex); a longer one is matched
# exactly or normalized only, so a hostile export cannot make the search hold its square.
NEAR_MISS_MAX_CHARS = 64
# Memory (issue 11): a note names at most this many other responses (then "and N more"), each
# id at most ID_IN_NOTE characters, however many share one key.
NOTE_IDS = 10
ID_IN_NOTE = 64


def _shown(text: str) -> str:
    """An id or code as a note shows it: cut with `…` past ID_IN_NOTE characters."""
    return text if len(text) <= ID_IN_NOTE else text[: ID_IN_NOTE - 1] + "…"


def _listed(ids: list[str], count: int) -> str:
    """`a, b, c`, or the first NOTE_IDS of `count` and `and N more`."""
    text = ", ".join(_shown(i) for i in ids[:NOTE_IDS])
    return text + (f" and {count - NOTE_IDS:,} more" if count > NOTE_IDS else "")


def _all(value: Response | list[Response] | None) -> list[Response]:
    """The responses an index holds for a key (one Response, or a list when several)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _first(value: Response | list[Response]) -> Response:
    return value[0] if isinstance(value, list) else value


def _add(index: dict[str, Response | list[Response]], key: str, r: Response) -> None:
    """Index `r` under `key`: the Response itself when alone (no list per key), else a list."""
    have = index.get(key)
    if have is None:
        index[key] = r
    elif isinstance(have, list):
        have.append(r)
    else:
        index[key] = [have, r]


@dataclass(slots=True)
class _Survey:
    """The survey side, indexed once: which responses can match, by code and by worker.
    Each index holds one Response per key, or a list when several share it (`_all`)."""

    opts: MatchOptions
    by_code: dict[str, Response | list[Response]] = field(default_factory=dict)
    by_worker: dict[str, Response | list[Response]] = field(default_factory=dict)
    unfinished_by_code: dict[str, Response | list[Response]] = field(default_factory=dict)

    def code(self, r: Response) -> str:
        return normalize(r.fields.get(self.opts.key_column, ""))

    def worker(self, r: Response) -> str:
        column = self.opts.participant_column
        return r.fields.get(column, "").strip() if column else ""

    def why_not(self, r: Response, code: str) -> list[str]:
        """Why a response cannot match (empty when it can)."""
        if r.status in IGNORED_STATUSES:
            return [f"ignored_status:{r.status}"]
        if r.finished is not True and not self.opts.include_unfinished:
            return ["unfinished"]
        if not code:
            return ["no_code"]
        return []

    @classmethod
    def index(cls, survey: SurveyTable, opts: MatchOptions) -> "_Survey":
        s = cls(opts)
        for r in survey.responses:  # export order: the first of several is the one used
            code = s.code(r)
            why = s.why_not(r, code)
            if why == ["unfinished"]:
                _add(s.unfinished_by_code, code, r)
            elif not why:
                _add(s.by_code, code, r)
                worker = s.worker(r)
                if worker:
                    key = worker.upper()
                    _add(s.by_worker, worker if key == worker else key, r)
        return s


def _match_code(m: Match, code: str, survey: _Survey, shared_by: int, texts: dict[str, str],
                cache: dict[tuple[str, str], tuple[Response, str | None]]) -> Response:
    """Fill in a match whose code some eligible response has; returns the response used.
    `texts` shares equal notes; `cache` remembers the other responses of a (code, worker)
    whose lists are long."""
    a, opts = m.submission, survey.opts
    held, wkey = survey.by_code[code], a.participant_id.upper()
    first = _first(held)
    m.kind = MatchKind.EXACT if m.key == first.fields.get(opts.key_column, "") else MatchKind.NORMALIZED
    worker_held = survey.by_worker.get(wkey)
    long = isinstance(held, list) and len(held) > 32 or isinstance(worker_held, list) and len(worker_held) > 32
    if long and (code, wkey) in cache:
        first, others = cache[code, wkey]
    else:
        responses, worker_responses = _all(held), _all(worker_held)
        first_worker = survey.worker(first)
        # Is the first response one of the worker's? (It is in by_worker when its worker is `wkey`.)
        if len(worker_responses) > 1 and first_worker and first_worker.upper() == wkey:
            first = worker_responses[0]  # the worker's first finished response
        # The other responses: those of the code, then the worker's with another code.
        extra = [r for r in worker_responses if survey.code(r) != code] if worker_responses else []
        count = len(responses) + len(extra) - 1
        others = None
        if count:
            shown = [r.response_id for r in responses[: NOTE_IDS + 1] if r is not first]
            shown += (r.response_id for r in extra[: NOTE_IDS + 1] if r is not first)
            others = _listed(shown, count)
        if long:
            cache[code, wkey] = (first, others)
    m.response = first
    if others is not None:
        m.reasons.append("duplicate_response")
        m.notes.append(_text(texts, "other responses: " + others))
    if shared_by > 1:
        m.reasons.append("code_shared")
        m.notes.append(_text(texts, f"{opts.key.value} submitted by {shared_by} {opts.submissions_word}"))
    wid = survey.worker(first)
    if wid and wid.upper() != wkey:
        m.reasons.append("worker_mismatch")
        m.notes.append(_text(texts, f"response {_shown(first.response_id)} was recorded for participant {_shown(wid)}"))
    return first


def _text(texts: dict[str, str], text: str) -> str:
    """One object for each distinct note (a note many submissions share is held once)."""
    return texts.setdefault(text, text)


def _hash_add(index: dict[int, str | list[str]], key: str, code: str) -> None:
    h = hash(key)
    have = index.get(h)
    if have is None:
        index[h] = code
    elif isinstance(have, list):
        if code not in have:
            have.append(code)
    elif have != code:
        index[h] = [have, code]


class _Free:
    """The codes of the responses nobody matched by code, as a view of the survey index (no
    copy of it): `in`, look-up, and the codes in export order."""

    def __init__(self, by_code: dict[str, Response | list[Response]], used: set[str]):
        self.by_code = by_code
        # The few codes some used response holds: the index less these is what is free.
        self.taken = {code for code, held in by_code.items()
                      if any(r.response_id in used for r in _all(held))} if used else set()

    def __contains__(self, code: str) -> bool:
        return code in self.by_code and code not in self.taken

    def __getitem__(self, code: str) -> Response | list[Response]:
        if code in self.taken:
            raise KeyError(code)
        return self.by_code[code]

    def codes(self, longest: int = NEAR_MISS_MAX_CHARS) -> Iterator[str]:
        taken = self.taken
        return (c for c in self.by_code if len(c) <= longest and c not in taken)


NEAR_SHOWN = 3  # candidates a near miss names (the first is the one offered)


def _near_candidates(pending: set[str], free: _Free) -> Callable[[str], list[str]]:
    """For each pending code, the free codes that could be it: the first NEAR_SHOWN one edit
    away (insertion, deletion, substitution, adjacent swap) in export order, then the same
    digits without the leading zeros, then the numbers Excel could show as it (the function
    returned says, per pending code). A near miss names its first NEAR_SHOWN candidates and
    offers the first, so the list gives the same near misses as one of every candidate.

    Memory (issue 11): the pending codes are indexed, never the free ones: one pass per
    deletion position streams the free codes (in export order) and looks up the hash of each
    one, and of it less that position's character, among two keys per pending code; a pending
    code keeps its first NEAR_SHOWN candidates. So the search holds a few entries per pending
    code, not one per deletion of every response (24 million for a million Prolific ids), nor
    every pair of a degenerate file (two-character codes over a large alphabet)."""
    pending = {c for c in pending if len(c) <= NEAR_MISS_MAX_CHARS}
    if not pending:
        return lambda c: []
    # pending code -> its first (export position, free code); a tuple alone when only one
    hits: dict[str, tuple[int, str] | list[tuple[int, str]]] = {}

    def found(candidates: str | list[str] | None, n: int, code: str) -> None:
        if candidates is None:
            return
        for c in ([candidates] if isinstance(candidates, str) else candidates):
            have = hits.get(c)
            if isinstance(have, tuple):
                have = [have]
            if have is not None and (len(have) >= NEAR_SHOWN and n > have[-1][0] or any(f == code for _, f in have)):
                continue
            if not _one_edit_apart(c, code):
                continue
            if have is None:
                hits[c] = (n, code)
            else:
                have.append((n, code))
                have.sort()
                hits[c] = have[:NEAR_SHOWN]

    # Pass i: a free code less its i-th character may be the pending code (insertion), or the
    # pending code less its i-th (substitution) or (i+1)-th character (adjacent swap); the free
    # code itself may be the pending code less its i-th character (deletion).
    whole: dict[int, str | list[str]] = {}
    for c in pending:
        _hash_add(whole, c, c)
    passes = min(max(map(len, pending)), max(map(len, free.codes()), default=-1)) + 1
    for i in range(passes):
        keys: dict[int, str | list[str]] = {}
        for c in pending:
            for j in (i, i + 1):
                if j < len(c):
                    _hash_add(keys, c[:j] + c[j + 1:], c)
        for n, code in enumerate(free.codes()):
            if len(code) >= i:
                found(keys.get(hash(code)), n, code)
            if len(code) > i:
                h = hash(code[:i] + code[i + 1:])
                found(keys.get(h), n, code)
                found(whole.get(h), n, code)
        del keys
    del whole
    # The free digit codes that differ from a pending one by leading zeros, in export order.
    cores = {c.lstrip("0") for c in pending if c.isdigit()}
    stripped: dict[str, list[str]] = defaultdict(list)
    if cores:
        for code in free.codes():
            if code.isdigit() and code.lstrip("0") in cores:
                stripped[code.lstrip("0")].append(code)
    excel = _Excel(free, pending)

    def candidates(c: str) -> list[str]:
        if c not in pending:
            return []
        held = hits.get(c, ())
        out = [code for _, code in ([held] if isinstance(held, tuple) and held else held)]
        if c.isdigit():
            out += [f for f in stripped.get(c.lstrip("0"), ()) if f != c]
        out += excel.numbers(c, free)
        return list(dict.fromkeys(out))

    return candidates


class _Excel:
    """Codes Excel could have turned into a submitted `4.82E+06` or `4820193.0`: a range
    look-up in the free numeric codes sorted by value (built only when some pending code
    looks like one)."""

    def __init__(self, free: _Free, pending: set[str]):
        self.sorted: list[str] = []
        if any(_SCI.match(c) for c in pending):
            self.sorted = sorted((c for c in free.codes() if c.isdigit()), key=int)

    def numbers(self, submitted: str, free: _Free) -> list[str]:
        if re.fullmatch(r"[0-9]+\.0+", submitted):
            base = submitted.split(".")[0]
            return [base] if base in free and len(base) <= NEAR_MISS_MAX_CHARS else []
        m = _SCI.match(submitted)
        if not m:
            return []
        whole, frac, exp = m.group(1), m.group(2) or "", int(m.group(3))
        target = Decimal(submitted.upper())
        half_unit = Decimal(1).scaleb(exp - len(frac)) / 2
        lo = bisect.bisect_left(self.sorted, int(target - half_unit), key=int)
        hi = bisect.bisect_right(self.sorted, int(target + half_unit), key=int)
        return [
            code for code in self.sorted[lo:hi]
            if _shown_by_excel(code, whole, len(whole) + len(frac), exp, target)
        ]


def _deletions(code: str) -> set[str]:
    return {code[:i] + code[i + 1 :] for i in range(len(code))}


def _match_near(pending: list[Match], survey: _Survey, used: set[str], texts: dict[str, str]) -> None:
    """Near misses are looked for among responses nobody matched by code."""
    free = _Free(survey.by_code, used)
    candidates = _near_candidates({normalize(m.key) for m in pending}, free)
    column, word = survey.opts.key_column, survey.opts.key.value
    for m in pending:
        code = normalize(m.key)
        cands = candidates(code)
        if cands:
            m.kind = MatchKind.NEAR_MISS
            m.candidate = _first(free[cands[0]])
            m.reasons.append("near_miss")
            shown = [_first(free[c]) for c in cands[:3]]
            named = ", ".join(f"{_shown(r.response_id)} ({word} {_shown(r.fields.get(column, ''))})" for r in shown)
            m.notes.append(_text(texts, f"near miss of {named}"))
        else:
            m.reasons.append("unmatched")
            if code in survey.unfinished_by_code:
                unfinished = _all(survey.unfinished_by_code[code])
                ids = _listed([r.response_id for r in unfinished[:NOTE_IDS]], len(unfinished))
                m.notes.append(_text(texts, f"{survey.opts.key.value} belongs to unfinished response {ids}"))


def match_wave(table: SubmissionTable, survey: SurveyTable, opts: MatchOptions) -> MatchResult:
    index = _Survey.index(survey, opts)
    shared_by: dict[str, int] = defaultdict(int)
    for s in table.submissions:
        code = normalize(opts.key_of(s))
        if code:
            shared_by[code] += 1

    matches: list[Match] = []
    used: set[str] = set()
    pending_near: list[Match] = []
    texts: dict[str, str] = {}  # one object per distinct note
    cache: dict[tuple[str, str], tuple[Response, str | None]] = {}
    no_key = f"no {opts.key.value} in {opts.key_label}"
    for a in table.submissions:
        raw = opts.key_of(a)
        code = normalize(raw)
        m = Match(submission=a, key=raw, kind=MatchKind.NONE)
        m.reasons.extend(a.flags)  # e.g. answer_unreadable
        if not code:
            m.reasons.append("unmatched")
            m.notes.append(no_key)
        elif code in index.by_code:
            used.add(_match_code(m, code, index, shared_by[code], texts, cache).response_id)
        else:
            pending_near.append(m)
        matches.append(m)
    del cache, shared_by
    if pending_near:
        _match_near(pending_near, index, used, texts)
    del texts, pending_near

    near_ids = {m.candidate.response_id for m in matches if m.candidate is not None}
    unmatched: list[tuple[Response, list[str]]] = []
    reasons: dict[tuple[str, ...], list[str]] = {}  # equal reasons are one list (never changed after)
    for r in survey.responses:
        if r.response_id in used:
            continue
        code = index.code(r)
        why = index.why_not(r, code)
        if not why:
            worker = index.worker(r)
            if _first(index.by_code[code]) is not r or len(_all(index.by_worker.get(worker.upper()))) > 1:
                why.append("duplicate_response")
            why.append("near_miss_candidate" if r.response_id in near_ids else "no_assignment")
        unmatched.append((r, reasons.setdefault(tuple(why), why)))
    return MatchResult(matches=matches, unmatched=unmatched)
