"""Every operation of botocore's MTurk model (39), by name.

The handlers live by topic: `ops_hits` (HITs, HIT types, review policies, notification
settings), `ops_workers` (balance, assignments, files, bonuses, blocks, NotifyWorkers),
`ops_quals` (qualification types, grants, requests). `OPERATIONS` is the one mutable table
the server dispatches through (tests may patch an entry). `VALIDATION_ANSWERS` replaces the
generic ValidationException where an operation documents its own answer to a bad member.
"""

from __future__ import annotations

from collections.abc import Callable

from bridge.panels.mturk.emulator import ops_hits, ops_quals, ops_workers
from bridge.panels.mturk.emulator.records import ApiError
from bridge.panels.mturk.emulator.state import MTurkState
from bridge.panels.mturk.emulator.wire import Handler

OPERATIONS: dict[str, Handler] = {**ops_hits.OPERATIONS, **ops_workers.OPERATIONS, **ops_quals.OPERATIONS}

VALIDATION_ANSWERS: dict[str, Callable[[MTurkState, list[str]], ApiError | None]] = {
    "DeleteWorkerBlock": ops_workers.invalid_worker_for_unblock,
}

__all__ = ["OPERATIONS", "VALIDATION_ANSWERS", "Handler"]
