"""Apply a plan through the panel's API, exactly once (SPEC §5, §7).

    result = apply_plan(plan, settings, workbook=path, confirm=lambda pre: True)
    print(result.summary_line()); result.raise_for_failures()

The seam to a panel is below this room: `bridge.market` (the `Marketplace` protocol; each
panel's adapter lives in its folder) and `bridge.actions` (what a plan sends). Here:
`executor` the sending (`paying` its bonuses, `stages` its last steps: revokes,
invitations, compensation tasks, expiries) into the ledger (`bridge.ledger`: an SQLite
file, or a lab's shared PostgreSQL), `run` the balance check and the Log, `edited` a
workbook a person edited, planned again and applied (`bridge.workbook.edits` reads it),
`holders` compares who holds a qualification with the plan, `demo` runs the sample wave on
the emulators.
"""

from bridge.actions import Action, Kind, bonus_key, plan_actions
from bridge.apply.edited import load_edited_plan
from bridge.apply.run import ApplyResult, Preflight, apply_plan, log_rows, preflight
from bridge.market import Marketplace, MarketplaceError, Outcome, Reply
from bridge.workbook.edits import EditedPlan

__all__ = [
    "Action", "ApplyResult", "EditedPlan", "Kind", "Marketplace", "MarketplaceError", "Outcome", "Preflight",
    "Reply", "apply_plan", "bonus_key", "load_edited_plan", "log_rows", "plan_actions", "preflight",
]
