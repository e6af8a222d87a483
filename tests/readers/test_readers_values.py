"""Value tables for what the readers lean on: MTurk time stamps, amounts, fees, cents."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from bridge.money import AmountError, fee, parse_amount, to_cents
from bridge.panels.mturk.timefmt import parse_mturk_time


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


# --- parse_mturk_time ---------------------------------------------------------------------

TIMES = {
    # the requester website: Pacific time with its abbreviation
    "Mon Nov 04 22:33:52 PST 2019": utc(2019, 11, 5, 6, 33, 52),
    "Mon Nov 04 21:32:54 PST 2019": utc(2019, 11, 5, 5, 32, 54),
    "Thu Dec 31 23:59:59 PST 2020": utc(2021, 1, 1, 7, 59, 59),  # crosses the year
    "Tue Jul 09 09:31:15 PDT 2019": utc(2019, 7, 9, 16, 31, 15),
    "Sun Mar 10 03:00:00 PDT 2019": utc(2019, 3, 10, 10, 0, 0),  # the abbreviation decides, not the date
    "Mon Nov 04 21:32:54 EST 2019": utc(2019, 11, 5, 2, 32, 54),
    "  Mon Nov 04 22:33:52 PST 2019 ": utc(2019, 11, 5, 6, 33, 52),
    "Mon Nov 4 21:32:54 PST 2019": utc(2019, 11, 5, 5, 32, 54),  # day not zero-padded
    "Mon Nov 04 21:32:54 pst 2019": utc(2019, 11, 5, 5, 32, 54),  # zone in lower case
    # ApprovalTime as some files carry it
    "2016-09-24 10:47:53 UTC": utc(2016, 9, 24, 10, 47, 53),
    "2016-09-24 10:47:53 GMT": utc(2016, 9, 24, 10, 47, 53),
    # ISO 8601
    "2019-11-05T06:33:52Z": utc(2019, 11, 5, 6, 33, 52),
    "2019-11-05T06:33:52+00:00": utc(2019, 11, 5, 6, 33, 52),
    "2019-11-04T22:33:52-08:00": utc(2019, 11, 5, 6, 33, 52),
    "2019-11-05T06:33:52": utc(2019, 11, 5, 6, 33, 52),
    # what Excel shows after a re-save: no zone, read as UTC (pinned current behaviour)
    "11/4/2019 21:32": utc(2019, 11, 4, 21, 32),
    "11/04/2019 21:32:10": utc(2019, 11, 4, 21, 32, 10),
}
NOT_TIMES = [
    "", "   ", "garbage", "N/A", "#VALUE!",
    "Mon Nov 04 21:32:54 CET 2019",  # a zone it does not know: None, not a guess
    "Sun Feb 30 10:00:00 PST 2019",  # no such day
    "13/45/2019 10:00",
    "2019",
    "1572931972",  # epoch seconds are not a batch-file format
    "Mon Nov 04 24:00:00 PST 2019",
]
# Near misses of the website format that its fast path must not take for dates.
NOT_TIMES_MALFORMED = {
    "Foo Nov 04 21:32:54 PST 2019": "fast path does not check the weekday name",
    "Mon Nov 04 21-32-54 PST 2019": "fast path checks only len(clock) == 8, not the ':' separators",
    "Mon Nov 04 21:32:54 PST 19": "fast path takes a 2-digit year as year 19 (0019-11-05 05:32:54 UTC)",
}


@pytest.mark.parametrize(("text", "expected"), list(TIMES.items()), ids=list(TIMES))
def test_parse_mturk_time(text, expected):
    got = parse_mturk_time(text)
    assert got == expected
    assert got.utcoffset() == timedelta(0) and got.tzinfo is not None


@pytest.mark.parametrize("text", NOT_TIMES, ids=[t or "<empty>" for t in NOT_TIMES])
def test_parse_mturk_time_unreadable_is_none(text):
    assert parse_mturk_time(text) is None


@pytest.mark.parametrize(
    "text",
    [pytest.param(t, id=t) for t in NOT_TIMES_MALFORMED],
)
def test_parse_mturk_time_malformed_website_stamp_is_none(text):
    assert parse_mturk_time(text) is None


# --- parse_amount -------------------------------------------------------------------------

AMOUNTS = {  # text -> the exact Decimal, as its string (sign kept, never rounded, no float)
    "$1.50": "1.50",
    "1.5": "1.5",
    "1,000.00": "1000.00",
    "$1,234.5": "1234.5",
    "-0.25": "-0.25",
    "-$0.25": "-0.25",
    "2 USD": "2",
    "2 usd": "2",
    " $ 3 ": "3",
    "$0.05": "0.05",
    "0.05": "0.05",
    ".5": "0.5",
    "0.125": "0.125",
    "+1": "1",
    "0": "0",
}
NOT_AMOUNTS = ["abc", "1.2.3", "NaN", "nan", "1e3", "", "   ", "$", "Infinity", "1 EUR", "$$1", "1 2", "1.50$", "five"]
# Once accepted by mistake: a decimal comma read as a thousands separator would pay $50
# for a $0.50 bonus.
NOT_AMOUNTS_MALFORMED = {
    "0,50": "a decimal comma is taken for a thousands separator: '0,50' reads as 50 (a $0.50 bonus becomes $50)",
    "1,5": "a decimal comma is taken for a thousands separator: '1,5' reads as 15",
    "1,,,": "thousands groups are not checked: '1,,,' reads as 1",
    "--5": "a doubled sign is accepted: '--5' reads as -5",
}


@pytest.mark.parametrize(("text", "expected"), list(AMOUNTS.items()), ids=list(AMOUNTS))
def test_parse_amount(text, expected):
    got = parse_amount(text)
    assert type(got) is Decimal
    assert str(got) == expected


@pytest.mark.parametrize("text", NOT_AMOUNTS, ids=[t or "<empty>" for t in NOT_AMOUNTS])
def test_parse_amount_rejects(text):
    with pytest.raises(AmountError, match="not an amount"):
        parse_amount(text)


@pytest.mark.parametrize(
    "text",
    [pytest.param(t, id=t) for t in NOT_AMOUNTS_MALFORMED],
)
def test_parse_amount_rejects_malformed_separators_and_signs(text):
    with pytest.raises(AmountError):
        parse_amount(text)


def test_amount_error_is_a_value_error():
    assert issubclass(AmountError, ValueError)


# --- fee ----------------------------------------------------------------------------------
# 20% of every reward and bonus; +20% of the reward on HITs with 10 or more assignments;
# at least $0.01; half-up to the cent; nothing on zero.

FEES = [
    # amount, is_reward, max_assignments, expected fee, why
    ("0.05", True, 9, "0.01", "reward on a 9-assignment HIT: 20%"),
    ("0.05", True, 10, "0.02", "reward on a 10-assignment HIT: 40%"),
    ("1.00", True, 9, "0.20", "20% of $1"),
    ("1.00", True, 10, "0.40", "40% of $1"),
    ("1.00", True, 500, "0.40", "a big batch"),
    ("0.50", True, None, "0.10", "MaxAssignments unknown: the basic 20%"),
    ("1.00", False, 500, "0.20", "a bonus pays 20% whatever the HIT size"),
    ("1.00", False, None, "0.20", "bonus, HIT size unknown"),
    ("0.01", False, None, "0.01", "minimum $0.01 on a bonus (20% would be 0.002)"),
    ("0.01", True, 10, "0.01", "minimum $0.01 on a reward (40% would be 0.004)"),
    ("0.02", True, 9, "0.01", "0.004 -> minimum"),
    ("0.125", False, None, "0.03", "0.025 half-up (banker's rounding would give 0.02)"),
    ("0.0625", True, 10, "0.03", "0.025 half-up on the 40% rate"),
    ("0.625", True, 9, "0.13", "0.125 half-up (banker's: 0.12)"),
    ("1.125", False, None, "0.23", "0.225 half-up (banker's: 0.22)"),
    ("0.33", True, 9, "0.07", "0.066 -> 0.07"),
    ("0", True, 9, "0.00", "zero reward: no fee, no minimum"),
    ("0", False, None, "0.00", "zero bonus: no fee, no minimum"),
    ("-1.00", False, None, "0.00", "a negative amount costs nothing"),
]


@pytest.mark.parametrize(("amount", "is_reward", "max_assignments", "expected", "why"), FEES, ids=[f[4] for f in FEES])
def test_fee(amount, is_reward, max_assignments, expected, why):
    got = fee(Decimal(amount), is_reward=is_reward, max_assignments=max_assignments)
    assert type(got) is Decimal
    assert str(got) == expected, why


CENTS = {"0.125": "0.13", "0.135": "0.14", "0.115": "0.12", "0.005": "0.01", "0.004": "0.00",
         "-0.125": "-0.13", "1": "1.00", "2.5": "2.50", "1000.999": "1001.00"}


@pytest.mark.parametrize(("value", "expected"), list(CENTS.items()), ids=list(CENTS))
def test_to_cents_half_up(value, expected):
    assert str(to_cents(Decimal(value))) == expected
