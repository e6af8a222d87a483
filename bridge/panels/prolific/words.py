"""Prolific's own words: submission statuses, what each means to the close-out, and the
time stamps its export and API use (FACTS 1.5, §3)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bridge.models import State

# The list endpoint's statuses and the detail endpoint's extra two (FACTS 1.5). Spaces, not
# underscores: "AWAITING REVIEW", "SCREENED OUT".
STATES = {
    "AWAITING REVIEW": State.PENDING,
    "APPROVED": State.APPROVED,
    "REJECTED": State.REJECTED,
    "RETURNED": State.RETURNED,
    "TIMED-OUT": State.TIMED_OUT,
    "SCREENED OUT": State.SCREENED_OUT,
    "ACTIVE": State.IN_PROGRESS,
    "RESERVED": State.IN_PROGRESS,
    "PARTIALLY APPROVED": State.OTHER,
    "UNKNOWN": State.OTHER,
}
# Spellings seen elsewhere: the 2025 spec's TIME-OUT, filter-style AWAITING_REVIEW.
_ALIASES = {"TIME-OUT": "TIMED-OUT", "TIMED OUT": "TIMED-OUT", "TIMED_OUT": "TIMED-OUT"}
# Unreviewed submissions are approved automatically after 21 days (FACTS 1.5; counted
# from completion: unconfirmed, the least surprising reading).
AUTO_APPROVAL = timedelta(days=21)
NO_CODE = "NOCODE"


def status_word(text: str) -> str:
    """Prolific's status as it spells it now: upper case, spaces, `TIMED-OUT`."""
    word = " ".join(text.strip().upper().replace("_", " ").split())
    return _ALIASES.get(word, word)


def state_of(status: str) -> State:
    return STATES.get(status, State.OTHER)


def parse_time(text: str) -> datetime | None:
    """ISO 8601 (`2024-10-25T12:27:09.179000Z`) -> aware UTC; None when empty or not a time
    (`Not Applicable`)."""
    text = text.strip()
    if not text or not text[0].isdigit():
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        return None
    if parsed.tzinfo is None:  # the export's times are UTC (FACTS §3)
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def auto_approval(state: State, completed_at: datetime | None) -> datetime | None:
    return completed_at + AUTO_APPROVAL if state is State.PENDING and completed_at is not None else None
