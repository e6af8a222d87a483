"""A local MTurk Requester API (2017-01-17) that an unmodified boto3 client talks to.

`server` holds the emulator and its HTTP handler, `seeding` how state is built without
requests, `ops` (with `ops_hits`, `ops_workers`, `ops_quals`) the 39 operations, `wire` the
JSON shapes, `state` (with `state_hits`, `state_quals`, `records`) the account's state and
server rules, `validate` the checks against botocore's own model.
`python -m bridge.panels.mturk.emulator --port 0 [--now ISO]` serves it alone.
"""

from bridge.panels.mturk.emulator.ops import OPERATIONS
from bridge.panels.mturk.emulator.records import starting_at
from bridge.panels.mturk.emulator.server import (
    DEFAULT_BALANCE,
    MTurkEmulator,
    parse_balance,
    parse_now,
    serve_forever_cli,
    wait_for_stop_signal,
)

__all__ = ["DEFAULT_BALANCE", "OPERATIONS", "MTurkEmulator", "parse_balance", "parse_now", "serve_forever_cli",
           "starting_at", "wait_for_stop_signal"]
