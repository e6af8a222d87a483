"""The matcher: every match kind and flag of SPEC §3, on small typed tables."""

from __future__ import annotations

import pytest
from builders import asg, mturk, resp, survey

from bridge.match import MatchOptions, match_wave
from bridge.models import MatchKind

OPTS = MatchOptions(key_column="Random ID", participant_column="workerId", key_label="Answer.surveycode",
                    submissions_word="assignments")


def one(submitted: str, *responses, opts=OPTS):
    result = match_wave(mturk(asg(submitted)), survey(*responses), opts)
    return result.matches[0], result


@pytest.mark.parametrize(
    "submitted, code, kind",
    [
        ("4829301", "4829301", MatchKind.EXACT),
        (" 4829301 ", "4829301", MatchKind.NORMALIZED),
        ("ab12CD", "AB12cd", MatchKind.NORMALIZED),
        ("48 29 301", "4829301", MatchKind.NORMALIZED),
        ("4829302", "4829301", MatchKind.NEAR_MISS),  # one substitution
        ("482930", "4829301", MatchKind.NEAR_MISS),  # one deletion
        ("48293011", "4829301", MatchKind.NEAR_MISS),  # one insertion
        ("4823901", "4829301", MatchKind.NEAR_MISS),  # adjacent swap
        ("4.83E+06", "4829301", MatchKind.NEAR_MISS),  # Excel scientific notation
        ("4829301.0", "4829301", MatchKind.NEAR_MISS),  # Excel float
        ("12345", "0012345", MatchKind.NEAR_MISS),  # lost leading zeros
        ("4.82E+06", "4829301", MatchKind.NONE),  # rounds to 4.83E+06, not this code
        ("4800000", "4829301", MatchKind.NONE),  # two edits away
        ("", "4829301", MatchKind.NONE),
        ("completed!", "4829301", MatchKind.NONE),
    ],
)
def test_match_kinds(submitted, code, kind):
    r = resp(code)
    m, _ = one(submitted, r)
    assert m.kind is kind
    if kind in (MatchKind.EXACT, MatchKind.NORMALIZED):
        assert m.response is r and m.reasons == []
    elif kind is MatchKind.NEAR_MISS:
        assert m.response is None and m.candidate is r
        assert m.reasons == ["near_miss"]
        assert r.response_id in m.notes[0] and code in m.notes[0]
    else:
        assert m.response is None and m.candidate is None and "unmatched" in m.reasons


def test_near_miss_never_takes_a_response_matched_exactly():
    taken = resp("4829301")
    result = match_wave(mturk(asg("4829301"), asg("4829302")), survey(taken), OPTS)
    assert [m.kind for m in result.matches] == [MatchKind.EXACT, MatchKind.NONE]


def test_code_shared_flags_every_assignment_with_the_code():
    r = resp("1111111")
    result = match_wave(mturk(asg("1111111"), asg(" 1111111")), survey(r), OPTS)
    assert all("code_shared" in m.reasons for m in result.matches)
    assert all(m.response is r for m in result.matches)


def test_duplicate_responses_of_one_worker_use_the_first_finished():
    first = resp("2222222", worker="AWORKERDUP")
    second = resp("3333333", worker="AWORKERDUP")
    result = match_wave(mturk(asg("3333333", worker="AWORKERDUP")), survey(first, second), OPTS)
    m = result.matches[0]
    assert m.response is first and m.kind is MatchKind.EXACT
    assert "duplicate_response" in m.reasons and second.response_id in m.notes[0]
    (leftover, why), = result.unmatched
    assert leftover is second and "duplicate_response" in why


def test_two_responses_with_one_code_use_the_first():
    a, b = resp("4444444"), resp("4444444")
    m, result = one("4444444", a, b)
    assert m.response is a and "duplicate_response" in m.reasons
    assert [r for r, _ in result.unmatched] == [b]


@pytest.mark.parametrize("status", ["Survey Preview", "Survey Test", "Spam", "Survey Preview Spam"])
def test_preview_test_and_spam_rows_are_ignored(status):
    ignored = resp("5555555", status=status)
    m, result = one("5555555", ignored)
    assert m.kind is MatchKind.NONE
    assert result.unmatched == [(ignored, [f"ignored_status:{status}"])]


def test_unfinished_responses_do_not_match_unless_configured():
    r = resp("6666666", finished=False)
    m, result = one("6666666", r)
    assert m.kind is MatchKind.NONE and r.response_id in m.notes[0]
    assert result.unmatched == [(r, ["unfinished"])]
    opts = MatchOptions("Random ID", participant_column="workerId", include_unfinished=True)
    m, _ = one("6666666", r, opts=opts)
    assert m.kind is MatchKind.EXACT


def test_worker_mismatch_when_the_response_names_another_worker():
    r = resp("7777777", worker="AOTHERWORKER")
    m, _ = one("7777777", r)
    assert m.kind is MatchKind.EXACT and "worker_mismatch" in m.reasons


def test_every_response_is_accounted_for():
    rs = [resp(str(1000000 + i)) for i in range(5)] + [resp("9", status="Spam"), resp("8", finished=False)]
    result = match_wave(mturk(asg("1000000"), asg("1000001")), survey(*rs), OPTS)
    matched = {m.response.response_id for m in result.matches if m.response}
    unmatched = {r.response_id for r, _ in result.unmatched}
    assert matched | unmatched == {r.response_id for r in rs} and not matched & unmatched


def test_near_miss_search_scales_to_a_large_wave():
    """20,000 unmatched codes against 20,000 responses through the deletion index."""
    rs = [resp(str(1000000 + 3 * i)) for i in range(20000)]
    assignments = [asg(str(1000000 + 3 * i + 1)) for i in range(20000)]  # all one edit away
    result = match_wave(mturk(*assignments), survey(*rs), OPTS)
    assert all(m.kind is MatchKind.NEAR_MISS for m in result.matches)


def test_excel_scientific_notation_names_every_code_it_could_be():
    """`4.82E+06` is shown for any 7-digit code from 4,815,000 to 4,824,999 (half-up)."""
    codes = ["4814999", "4815000", "4819999", "4824999", "4825000", "482000"]
    m, _ = one("4.82E+06", *[resp(c) for c in codes])
    assert m.kind is MatchKind.NEAR_MISS
    named = m.notes[0]
    assert all(c in named for c in ["4815000", "4819999", "4824999"][:3])
    assert "4814999" not in named and "4825000" not in named and "(code 482000)" not in named
