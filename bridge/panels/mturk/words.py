"""MTurk's own words: assignment statuses and what each means to the close-out."""

from __future__ import annotations

from bridge.models import State

ASSIGNMENT_STATUSES = ("Submitted", "Approved", "Rejected")
STATES = {"Submitted": State.PENDING, "Approved": State.APPROVED, "Rejected": State.REJECTED}
