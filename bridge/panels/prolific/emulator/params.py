"""Reading the Prolific emulator's requests: the `Request`, request-body checks with DRF's
standard texts (the exact texts Prolific sends are unconfirmed), the list envelope with its
pagination (FACTS 1.4) and the submission-list filters and ordering.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from bridge.panels.prolific.emulator.records import COMPLETED_STATUSES, STATUSES, NotFound, bad_request

DEFAULT_PAGE_SIZE = 20  # FACTS 1.4
REQUIRED = "This field is required."


@dataclass
class Request:
    """One request as the handlers see it: the body already parsed from JSON."""

    method: str
    path: str  # without the query
    query: list[tuple[str, str]]  # in order, blanks kept
    body: Any  # parsed JSON, or None when there was none
    base: str  # scheme://host:port the client called

    def first(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)

    @property
    def url(self) -> str:
        return self.base + self.path + (f"?{urlencode(self.query)}" if self.query else "")

    def url_with(self, **params: object) -> str:
        """This request's URL with `params` replaced (or added at the end)."""
        query = [(k, str(params[k]) if k in params else v) for k, v in self.query]
        query += [(k, str(v)) for k, v in params.items() if all(k != q for q, _ in self.query)]
        return f"{self.base}{self.path}?{urlencode(query)}"


# --- request-body and query helpers -------------------------------------------------


def body_object(req: Request) -> dict:
    if not isinstance(req.body, dict):
        kind = "null" if req.body is None else type(req.body).__name__
        raise bad_request("non_field_errors", f"Invalid data. Expected a dictionary, but got {kind}.")
    return req.body


def body_string(body: dict, name: str, *, required: bool = True, blank: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise bad_request(name, REQUIRED)
        return None
    if not isinstance(value, str):
        raise bad_request(name, "Not a valid string.")
    if not blank and not value.strip():
        raise bad_request(name, "This field may not be blank.")
    return value


def body_strings(body: dict, name: str, *, required: bool = True) -> list[str] | None:
    value = body.get(name)
    if value is None:
        if required:
            raise bad_request(name, REQUIRED)
        return None
    if not isinstance(value, list):
        raise bad_request(name, f'Expected a list of items but got type "{type(value).__name__}".')
    if not all(isinstance(v, str) and v for v in value):
        raise bad_request(name, "Every item must be a non-empty string.")
    return value


def body_choice(body: dict, name: str, choices: tuple[str, ...] | dict) -> str:
    value = body_string(body, name)
    if value not in choices:
        raise bad_request(name, f'"{value}" is not a valid choice.')
    return value


def paginate(req: Request, items: list, serialise: Callable[[Any], dict]) -> dict:
    """One page in the envelope real list answers carry: `results`, `_links` and `meta`
    (FACTS 1.4). A page past the last (or not a whole number) is a 404, as in DRF; an empty
    list still has a page 1. Link titles other than "Current" are unconfirmed."""
    try:
        page = int(req.first("page") or 1)
    except ValueError:
        page = 0
    try:
        size = int(req.first("page_size") or DEFAULT_PAGE_SIZE)
    except ValueError:
        size = DEFAULT_PAGE_SIZE  # DRF ignores a bad page_size
    size = size if size > 0 else DEFAULT_PAGE_SIZE
    pages = max(1, math.ceil(len(items) / size))
    if not 1 <= page <= pages:
        raise NotFound("Invalid page.")
    return {
        "results": [serialise(i) for i in items[(page - 1) * size: page * size]],
        "_links": {
            "self": {"href": req.url, "title": "Current"},
            "next": {"href": req.url_with(page=page + 1) if page < pages else None, "title": "Next"},
            "previous": {"href": req.url_with(page=page - 1) if page > 1 else None, "title": "Previous"},
            "last": {"href": req.url_with(page=pages), "title": "Last"},
        },
        "meta": {"count": len(items)},
    }


# Boolean filters of GET /submissions/ (FACTS 1.4) as status sets (the sets are unconfirmed).
_FLAG_STATUSES = {
    "completed": COMPLETED_STATUSES, "returned": {"RETURNED"}, "awaiting_review": {"AWAITING REVIEW"},
    "approved": {"APPROVED"}, "active": {"ACTIVE"}, "timeout": {"TIMED-OUT"}, "rejected": {"REJECTED"},
    "screened_out": {"SCREENED OUT"}, "completeoractive": COMPLETED_STATUSES | {"ACTIVE"},
}
_TRUE, _FALSE = {"1", "true", "yes", "t"}, {"0", "false", "no", "f"}
_ORDERING = {
    "started_at": lambda s: s.started_at.timestamp(),
    "completed_at": lambda s: s.completed_at.timestamp() if s.completed_at else float("inf"),
    "status": lambda s: s.status, "ip": lambda s: s.ip or "", "time_taken": lambda s: s.time_taken or 0,
    "participant_id": lambda s: s.participant_id, "study_code": lambda s: s.entered_code or "",
    "submission_reward": lambda s: s.reward,
}


def ordered(req: Request, subs: list) -> list:
    """By `ordering` (a `-` prefix reverses); by start time otherwise. Unknown fields are
    ignored, as DRF's OrderingFilter does; the default order is unconfirmed."""
    subs = sorted(subs, key=lambda s: s.started_at)
    ordering = (req.first("ordering") or "").strip()
    key = _ORDERING.get(ordering.lstrip("-"))
    return sorted(subs, key=key, reverse=ordering.startswith("-")) if key else subs


def _day(req: Request, name: str) -> date | None:
    text = req.first(name)
    if not text:
        return None
    try:
        return datetime.strptime(text, "%d/%m/%Y").date()  # DD/MM/YYYY (FACTS 1.4)
    except ValueError:
        raise bad_request(name, "Enter a valid date.") from None


def filtered(req: Request, subs: list) -> list:
    status = req.first("status")
    if status:
        wanted = status.strip().upper().replace("_", " ")  # case-insensitive, underscores (FACTS 1.4)
        if wanted not in STATUSES:
            raise bad_request("status", f"Select a valid choice. {status} is not one of the available choices.")
        subs = [s for s in subs if s.status == wanted]
    for flag, statuses in _FLAG_STATUSES.items():
        value = (req.first(flag) or "").strip().lower()
        if value in _TRUE:
            subs = [s for s in subs if s.status in statuses]
        elif value in _FALSE:
            subs = [s for s in subs if s.status not in statuses]
    start, before = _day(req, "submitted_from"), _day(req, "submitted_before")
    if start:
        subs = [s for s in subs if s.completed_at and s.completed_at.date() >= start]
    if before:
        subs = [s for s in subs if s.completed_at and s.completed_at.date() < before]
    return subs
