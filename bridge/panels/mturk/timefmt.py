"""Parse the time stamps found in MTurk batch-results files into aware UTC datetimes."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

# The requester website writes Pacific time with its abbreviation; re-saved files may
# carry other US zones or UTC. Fixed offsets: the abbreviation already says DST or not.
_ZONES = {
    "UTC": 0, "GMT": 0, "Z": 0,
    "PST": -8, "PDT": -7, "MST": -7, "MDT": -6,
    "CST": -6, "CDT": -5, "EST": -5, "EDT": -4,
}
_FORMATS = (
    "%a %b %d %H:%M:%S %Y",  # Mon Nov 04 21:32:54 2019 (zone removed)
    "%Y-%m-%d %H:%M:%S",  # 2016-09-24 10:47:53
    "%Y-%m-%dT%H:%M:%S",
    "%m/%d/%Y %H:%M",  # what Excel shows after a re-save
    "%m/%d/%Y %H:%M:%S",
)


_OFFSETS = {zone: timedelta(hours=hours) for zone, hours in _ZONES.items()}
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_WEBSITE = re.compile(
    r"^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([A-Z]{3}) ([0-9]{4})$"
)


def _website_time(text: str) -> datetime | None:
    """Fast path for the website's own `Mon Nov 04 21:32:54 PST 2019` (5 per row)."""
    m = _WEBSITE.match(text)
    if m is None:
        return None
    month, day, hh, mm, ss, zone, year = m.groups()
    if month not in _MONTHS or zone not in _OFFSETS:
        return None
    try:
        wall = datetime(int(year), _MONTHS[month], int(day), int(hh), int(mm), int(ss), tzinfo=timezone.utc)
    except ValueError:
        return None
    return wall - _OFFSETS[zone]


def parse_mturk_time(text: str) -> datetime | None:
    """`Mon Nov 04 21:32:54 PST 2019` or `2016-09-24 10:47:53 UTC` → UTC datetime.

    Returns None for an empty or unrecognised value: times are informative here (they
    feed warnings), so an odd stamp must not stop a close-out.
    """
    text = text.strip()
    if not text:
        return None
    fast = _website_time(text)
    if fast is not None:
        return fast
    parts = text.split()
    offset = 0  # no zone named (e.g. Excel's re-save): taken as UTC, the least surprising
    for i, part in enumerate(parts):
        if part.upper() in _ZONES:
            offset = _ZONES[part.upper()]
            del parts[i]
            break
    bare = " ".join(parts)
    for fmt in _FORMATS:
        try:
            naive = datetime.strptime(bare, fmt)
        except ValueError:
            continue
        return (naive - timedelta(hours=offset)).replace(tzinfo=timezone.utc)
    try:  # ISO 8601 with an explicit offset
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)
