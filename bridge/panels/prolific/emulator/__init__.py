"""A local Prolific API v1 (studies, submissions, bulk approval, bonuses, participant groups,
messages, workspace balance) that Prolific's own generated client talks to.

`server` holds the emulator, its seeding and inspection helpers and its HTTP handler;
`routes` the endpoints (`params` reads their requests and pages their lists); `state` the
workspace's state and server rules, `records` what it is made of; `wire` the JSON shapes of
Prolific's OpenAPI file.
"""

from bridge.panels.prolific.emulator.records import DEFAULT_ASYNC_DELAY, DEFAULT_FEE_RATE
from bridge.panels.prolific.emulator.routes import ROUTES
from bridge.panels.prolific.emulator.server import (
    DEFAULT_BALANCE,
    DEFAULT_TOKEN,
    Exchange,
    ProlificEmulator,
    add_cli_exports,
)

__all__ = ["DEFAULT_ASYNC_DELAY", "DEFAULT_BALANCE", "DEFAULT_FEE_RATE", "DEFAULT_TOKEN", "ROUTES", "Exchange",
           "ProlificEmulator", "add_cli_exports"]
