"""The SQLite ledger: every action recorded before it is sent and after it is answered.

One row per action key (environment, wave, kind, target). States: `pending` (about to be
sent, or sent and the answer not recorded: a crash in between), `done` (with the request
id), `failed` (with the error) and `skipped` (MTurk's state forbids it, e.g. approving
work someone rejected). Every change is its own committed transaction in WAL mode: a
killed process loses nothing it had recorded. WAL with synchronous=NORMAL survives
process crashes; only a power cut can drop the last commits, and the executor's checks
against MTurk (GetAssignment, ListBonusPayments) cover that too.

One connection, shared by the executor's threads behind a lock.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from bridge.apply.actions import Action
from bridge.apply.client import canonical_environment
from bridge.errors import InputError

PENDING, DONE, FAILED, SKIPPED = "pending", "done", "failed", "skipped"
FINAL = frozenset({DONE, SKIPPED})
SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS actions (
    key TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    environment TEXT NOT NULL,
    wave TEXT NOT NULL,
    kind TEXT NOT NULL,
    assignment_id TEXT NOT NULL DEFAULT '',
    worker_id TEXT NOT NULL DEFAULT '',
    hit_id TEXT NOT NULL DEFAULT '',
    qualification_type_id TEXT NOT NULL DEFAULT '',
    amount TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed', 'skipped')),
    request_id TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS actions_wave ON actions (environment, wave);
"""


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    kind: str
    assignment_id: str
    worker_id: str
    hit_id: str
    qualification_type_id: str
    amount: str
    status: str
    request_id: str
    detail: str
    attempts: int
    updated_at: str


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


class Ledger:
    """The actions of one (environment, wave) in a SQLite file. The environment is kept in
    its canonical spelling (`canonical_environment`): `local` for any emulator URL."""

    def __init__(self, path: Path, environment: str, wave: str):
        self.path = Path(path)
        self.environment = canonical_environment(environment)
        self.wave = wave
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: autocommit, so each statement below commits at once.
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: cannot open the ledger ({exc}). Is it another kind of file?") from None

    def key(self, action: Action) -> str:
        return "|".join((self.environment, self.wave, action.kind.value, action.target))

    def entries(self) -> dict[str, Entry]:
        """Every recorded action of this environment and wave, by key."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, kind, assignment_id, worker_id, hit_id, qualification_type_id, amount, status, "
                "request_id, detail, attempts, updated_at FROM actions WHERE environment = ? AND wave = ? "
                "ORDER BY seq",
                (self.environment, self.wave),
            ).fetchall()
        return {r[0]: Entry(*r) for r in rows}

    def pending(self, action: Action) -> None:
        """Record the intent to send; called before the request leaves."""
        a = action
        with self._lock:
            self._db.execute(
                "INSERT INTO actions (key, seq, environment, wave, kind, assignment_id, worker_id, hit_id, "
                "qualification_type_id, amount, status, attempts, updated_at) "
                "VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM actions), ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 1, ?) "
                "ON CONFLICT (key) DO UPDATE SET status = 'pending', amount = excluded.amount, "
                "attempts = attempts + 1, detail = '', updated_at = excluded.updated_at",
                (self.key(a), self.environment, self.wave, a.kind.value, a.assignment_id, a.worker_id, a.hit_id,
                 a.qualification_type_id, a.amount_text, _now()),
            )

    def record(self, action: Action, status: str, *, request_id: str = "", detail: str = "") -> None:
        """Record the outcome (done / failed / skipped), inserting the row if it is new.
        The amount is the action's: for a bonus found already paid, what MTurk paid."""
        a = action
        with self._lock:
            self._db.execute(
                "INSERT INTO actions (key, seq, environment, wave, kind, assignment_id, worker_id, hit_id, "
                "qualification_type_id, amount, status, request_id, detail, updated_at) "
                "VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM actions), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET status = excluded.status, request_id = excluded.request_id, "
                "amount = excluded.amount, detail = excluded.detail, updated_at = excluded.updated_at",
                (self.key(a), self.environment, self.wave, a.kind.value, a.assignment_id, a.worker_id, a.hit_id,
                 a.qualification_type_id, a.amount_text, status, request_id, detail[:1000], _now()),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
