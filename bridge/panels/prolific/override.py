"""Overriding a rejection on Prolific (SPEC §9): Prolific has no approval that overrides a
rejection, but reversing one puts the submission back in review and the transition API has
the action UNREJECT (FACTS 1.6): an override is UNREJECT, then APPROVE, each a transition
(idempotent), read back where one answers an error. Used by `adapter.ProlificMarketplace`
(`market`: its HTTP client, error texts and submission reads)."""

from __future__ import annotations

from typing import Any

from bridge.market import Outcome, Reply
from bridge.models import State
from bridge.panels.prolific.http import Unreachable
from bridge.panels.prolific.words import state_of, status_word


def override_reply(market: Any, sid: str) -> Reply:
    """UNREJECT then APPROVE one submission; an error is read back (the first may have come
    through already, or an earlier run's)."""
    doing = f"overriding the rejection of submission {sid}"
    for action in ("UNREJECT", "APPROVE"):
        try:
            answer = market.http.post(f"/api/v1/submissions/{sid}/transition/", {"action": action})
        except Unreachable as exc:
            return Reply.failed(f"cannot reach {market.where} while {doing}: {exc}")
        if answer.ok:
            continue
        error = str(market._error(answer, doing, f"{market.where} has no submission {sid}"))
        item, _ = market._detail(sid)
        state = state_of(status_word(str(item.get("status") or ""))) if item else None
        if state is State.APPROVED:
            return Reply.accepted(detail="approved (read back from Prolific)")
        if action == "UNREJECT" and state is State.PENDING:
            continue  # an earlier UNREJECT came through: approve it now
        if state is not None and state not in (State.REJECTED, State.PENDING):
            return Reply(Outcome.REFUSED, error, state=state)
        return Reply.failed(error)
    return Reply.accepted(detail="rejection reversed (UNREJECT), then approved")
