"""The ledger: every action recorded before it is sent and after it is answered, so that
nothing is sent twice across crashes, re-runs, people and machines (SPEC 5, 13).

    with open_ledger(settings.ledger_location, panel="prolific", environment="production",
                     tasks=[study_id], wave="study-7", exclusive=True) as ledger:
        ledger.pending(actions); ...; ledger.record(action, DONE)

`base` is the one interface (keys, states, the phases of a bonus, the SQL); `sqlite` the
file for one person on one machine (the default, beside the workbook); `postgres` the
shared ledger a lab keeps on a PostgreSQL server; `location` tells them apart and keeps
credentials out of the config and of every message. `copy_ledger` moves records between
any two ledgers (`survey-bridge ledger copy`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bridge.errors import InputError, SafetyRefusal
from bridge.ledger.base import (
    CONFIRMED,
    DONE,
    ELSEWHERE,
    FAILED,
    FINAL,
    PAID,
    PAYING,
    PENDING,
    PREPARED,
    SKIPPED,
    WAITING,
    Entry,
    Ledger,
    batch_scope,
    now_text,
    parse_time,
    target,
)
from bridge.ledger.location import is_url, shown, url_problem

__all__ = [
    "CONFIRMED", "DONE", "ELSEWHERE", "FAILED", "FINAL", "PAID", "PAYING", "PENDING", "PREPARED", "SKIPPED", "WAITING",
    "Copied", "Entry", "Ledger", "batch_scope", "copy_ledger", "is_url", "now_text", "open_ledger", "parse_time",
    "shown", "target",
]


def open_ledger(location: str | Path, *, panel: str, environment: str, tasks: Sequence[str], wave: str = "",
                exclusive: bool = False) -> Ledger:
    """The ledger at `location` (a file path: SQLite; a postgresql:// URL: the shared
    ledger), for one panel, environment and study or batch (`tasks`: its study, or its
    HITs). `wave` only labels what this run records. With `exclusive`, this run is the
    study's one writer until `close()` (SafetyRefusal, exit 3, when another run is)."""
    if is_url(location):
        problem = url_problem(str(location))
        if problem:
            raise InputError(f"ledger: {problem}.")
        from bridge.ledger.postgres import PostgresLedger

        return PostgresLedger(str(location), panel=panel, environment=environment, tasks=tasks, wave=wave,
                              exclusive=exclusive)
    from bridge.ledger.sqlite import SqliteLedger

    return SqliteLedger(Path(location), panel=panel, environment=environment, tasks=tasks, wave=wave,
                        exclusive=exclusive)


@dataclass(frozen=True, slots=True)
class Copied:
    rows: int  # in the source
    added: int
    replaced: int  # the destination's record said less about money than the source's
    kept: int  # the destination's record was kept


def copy_ledger(source: str | Path, destination: str | Path) -> Copied:
    """Every record of `source` into `destination` (either backend, created if need be),
    in one transaction, while no run applies there: the destination is locked for each
    study the records name (a SQLite file: the whole file). A key both hold keeps the
    record that says more about money (a payment over an unknown outcome over nothing)."""
    if not is_url(source) and not Path(source).is_file():
        raise InputError(f"{source}: no such ledger file.")
    if not is_url(source) and not is_url(destination) and Path(source).resolve() == Path(destination).resolve():
        raise InputError(f"{source}: the source and the destination are the same ledger.")
    with open_ledger(source, panel="", environment="", tasks=()) as src:
        rows = src.all_rows()
    scopes = sorted({(r[2], r[3], r[4]) for r in rows if r[2]})
    dst = open_ledger(destination, panel="", environment="", tasks=(), exclusive=not is_url(destination))
    with dst:
        if is_url(destination):
            for panel, environment, scope in scopes:
                if not dst.lock_scope(panel, environment, scope):  # type: ignore[attr-defined]
                    raise SafetyRefusal(f"a run is applying {scope} on {shown(destination)} right now; nothing was "
                                        "copied. Copy again when it has finished.")
        added, replaced, kept = dst.merge_rows(rows)
    return Copied(len(rows), added, replaced, kept)
