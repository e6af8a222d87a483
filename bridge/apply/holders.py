"""`survey-bridge qualifications diff`: who holds a qualification (an MTurk qualification
type, a Prolific participant group) now, against what the close-out plans for it (SPEC §9).

The holders come from the panel (MTurk: paginated ListWorkersWithQualificationType,
Granted only; Prolific: the group's participants); the plan is the close-out's (the
config's files or API sources, the rules). Nothing is sent.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from bridge.closeout import plan_wave
from bridge.config import Settings
from bridge.errors import InputError, SourceError
from bridge.market import Marketplace, MarketplaceError
from bridge.models import Plan

# Each status, in the order the table lists them.
STATUSES = ("to grant", "already held", "to revoke", "revoke: not held", "held, in this wave, not planned",
            "held, not in this wave")


@dataclass(frozen=True, slots=True)
class HolderRow:
    participant_id: str
    holds: bool  # holds the group now
    plan: str  # "grant" | "revoke" | ""
    status: str  # one of STATUSES


def diff_holders(plan: Plan, group_id: str, holders: set[str]) -> list[HolderRow]:
    """Every participant the plan names for `group_id` or who holds it now (pure)."""
    planned = {q.participant_id: q.action for q in plan.qualifications if q.group_id == group_id}
    in_wave = {d.participant_id for d in plan.decisions}
    rows = []
    for pid in sorted(set(planned) | holders):
        holds, action = pid in holders, planned.get(pid, "")
        if action == "grant":
            status = "already held" if holds else "to grant"
        elif action == "revoke":
            status = "to revoke" if holds else "revoke: not held"
        else:
            status = "held, in this wave, not planned" if pid in in_wave else "held, not in this wave"
        rows.append(HolderRow(pid, holds, action, status))
    return sorted(rows, key=lambda r: (STATUSES.index(r.status), r.participant_id))


def table(rows: list[HolderRow], participant_word: str) -> list[str]:
    """A plain text table, then one line of counts."""
    head = (participant_word, "Holds now", "Plan", "Status")
    cells = [head, *((r.participant_id, "yes" if r.holds else "no", r.plan or "-", r.status) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(3)]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(3)) + "  " + c[3] for c in cells]
    counts = Counter(r.status for r in rows)
    lines.append(", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s]) or "nobody holds it and the plan "
                                                                                 "names nobody for it")
    return lines


def qualification_diff(settings: Settings, group_id: str, now: datetime, *, env: Mapping[str, str] | None = None,
                       market: Marketplace | None = None) -> tuple[Plan, list[HolderRow], str]:
    """(the plan, the rows, where the holders were read). InputError when the panel has no
    such group; SourceError when it does not answer."""
    env = os.environ if env is None else env
    plan = plan_wave(settings, now, env=env).plan
    if market is None:
        market = settings.panel.connect(settings, env)
    try:
        if not market.group_exists(group_id):
            raise InputError(f"{group_id}: no such {plan.terms.group_word} in {market.where}{market.group_hint}.")
        holders = market.group_members(group_id)
    except MarketplaceError as exc:
        raise SourceError(f"{market.where[0].upper()}{market.where[1:]} did not answer while listing who holds "
                          f"{group_id} ({exc}).") from None
    return plan, diff_holders(plan, group_id, holders), market.where
