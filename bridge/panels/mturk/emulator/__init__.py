"""A local MTurk Requester API (2017-01-17) that an unmodified boto3 client talks to.

`server` holds the emulator and its HTTP handler, `ops` the operations, `state` the
account's state and server rules, `validate` the checks against botocore's own model.
`python -m bridge.panels.mturk.emulator --port 0` serves it alone.
"""

from bridge.panels.mturk.emulator.ops import OPERATIONS
from bridge.panels.mturk.emulator.server import (
    DEFAULT_BALANCE,
    MTurkEmulator,
    parse_balance,
    serve_forever_cli,
    wait_for_stop_signal,
)

__all__ = ["DEFAULT_BALANCE", "OPERATIONS", "MTurkEmulator", "parse_balance", "serve_forever_cli",
           "wait_for_stop_signal"]
