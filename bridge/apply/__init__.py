"""Apply a plan through the MTurk API, exactly once (SPEC §5).

    result = apply_plan(plan, settings, workbook=path, confirm=lambda pre: True)
    print(result.summary_line()); result.raise_for_failures()

`client` is the marketplace seam, `ledger` the SQLite record, `executor` the sending,
`edits` reads a workbook a person edited, `demo` runs the sample wave on the emulator.
"""

from bridge.apply.actions import Action, Kind, bonus_token, plan_actions
from bridge.apply.client import Marketplace, MarketplaceError, MTurkMarketplace, canonical_environment, connect
from bridge.apply.edits import EditedPlan, load_edited_plan
from bridge.apply.ledger import Ledger
from bridge.apply.run import ApplyResult, Preflight, apply_plan, log_rows, preflight

__all__ = [
    "Action", "ApplyResult", "EditedPlan", "Kind", "Ledger", "MTurkMarketplace", "Marketplace", "MarketplaceError",
    "Preflight", "apply_plan", "bonus_token", "canonical_environment", "connect", "load_edited_plan", "log_rows",
    "plan_actions", "preflight",
]
