"""The SQLite ledger: every action recorded before it is sent and after it is answered.

One row per action key (environment, wave, kind, target). States: `pending` (about to be
sent, or sent and the answer not recorded: a crash in between, or an answer that left the
outcome unknown), `done` (with the request id), `failed` (with the error: nothing changed,
the next run sends it again) and `skipped` (the panel's state forbids it, e.g. approving
work someone rejected). A bonus also records the id that pays it (`batch_id`: Prolific's
bonus set-up, MTurk's request token) *before* it is paid, so a pay whose answer was lost is
settled from what the panel shows, never sent again blindly; a compensation task records
the group that limits it to its participant the same way. The close-out's other steps
(overrides, revokes, invitations, compensation tasks, expiries: SPEC §9) are new `kind`
values in the same table.

Every change is its own committed transaction in WAL mode: a killed process loses nothing
it had recorded. WAL with synchronous=NORMAL survives process crashes; only a power cut can
drop the last commits, and the executor's checks against the panel cover that too.

One writer per wave: the run that applies holds an exclusive lock on `<ledger>.lock`; a
second run applying the same wave at the same time is refused (exit 3) and counts nothing.
One connection, shared by the executor's threads behind a lock.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from bridge.actions import Action
from bridge.errors import InputError, SafetyRefusal
from bridge.files import disk_message
from bridge.redact import redact

PENDING, DONE, FAILED, SKIPPED = "pending", "done", "failed", "skipped"
FINAL = frozenset({DONE, SKIPPED})
SCHEMA_VERSION = "2"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS actions (
    key TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    environment TEXT NOT NULL,
    wave TEXT NOT NULL,
    kind TEXT NOT NULL,
    submission_id TEXT NOT NULL DEFAULT '',
    participant_id TEXT NOT NULL DEFAULT '',
    task_id TEXT NOT NULL DEFAULT '',
    group_id TEXT NOT NULL DEFAULT '',
    amount TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed', 'skipped')),
    request_id TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    batch_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS actions_wave ON actions (environment, wave);
"""
# Version 1 (MTurk only) named the columns in MTurk's words.
_V1_RENAMES = {"assignment_id": "submission_id", "worker_id": "participant_id", "hit_id": "task_id",
               "qualification_type_id": "group_id"}
_COLUMNS = ("key, kind, submission_id, participant_id, task_id, group_id, amount, status, request_id, detail, "
            "attempts, updated_at, batch_id")


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    kind: str
    submission_id: str
    participant_id: str
    task_id: str
    group_id: str
    amount: str
    status: str
    request_id: str
    detail: str
    attempts: int
    updated_at: str
    batch_id: str = ""


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


class Ledger:
    """The actions of one (environment, wave) in a SQLite file. `environment` is the
    marketplace's canonical spelling (`Panel.canonical_environment`). With `exclusive`, the
    ledger's lock is taken (SafetyRefusal if another run holds it) until `close()`."""

    def __init__(self, path: Path, environment: str, wave: str, *, exclusive: bool = False):
        self.path = Path(path)
        self.environment = environment
        self.wave = wave
        self._lock = threading.Lock()
        self._lock_file: int | None = None
        self._check_is_a_ledger()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if exclusive:
                self._take_lock()
            # isolation_level=None: autocommit, so each statement below commits at once.
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and "actions" not in tables:  # before anything changes the file
                self._db.close()
                raise InputError(self._not_ours("a database of another program"))
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._release_lock()
            raise InputError(f"{self.path}: cannot open the ledger ({exc}). It is left as it is; if it is not the "
                             "wave's ledger, set [output] ledger to another path.") from None
        except OSError as exc:
            self._release_lock()
            raise InputError(disk_message(self.path, "ledger", exc)) from None
        except InputError:
            self._release_lock()
            raise

    def _not_ours(self, what: str) -> str:
        return (f"{self.path}: is {what}, not a survey-bridge ledger; it is left as it is. Set [output] ledger "
                "(or move the file) so the ledger goes elsewhere.")

    def _check_is_a_ledger(self) -> None:
        """Never write into a file that is not a ledger (SPEC §10): an existing file must be
        an SQLite database (its header says so)."""
        if self.path.is_dir():
            raise InputError(f"{self.path}: [output] ledger is a folder; name a file such as wave.ledger.sqlite.")
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return
        with open(self.path, "rb") as f:
            if f.read(16) != b"SQLite format 3\x00":
                raise InputError(self._not_ours("another kind of file"))

    def _take_lock(self) -> None:
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SafetyRefusal(
                f"{self.path}: another run is applying this wave right now (the ledger is locked). Nothing was "
                "sent; wait for it to finish, then run again."
            ) from None
        self._lock_file = fd

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            os.close(self._lock_file)  # closing the descriptor releases the flock
            self._lock_file = None

    def _migrate(self) -> None:
        db = self._db
        old = {row[1] for row in db.execute("PRAGMA table_info(actions)")}
        if "assignment_id" in old:  # version 1
            db.execute("BEGIN IMMEDIATE")
            for before, after in _V1_RENAMES.items():
                db.execute(f"ALTER TABLE actions RENAME COLUMN {before} TO {after}")
            db.execute("ALTER TABLE actions ADD COLUMN batch_id TEXT NOT NULL DEFAULT ''")
            db.execute("COMMIT")
        db.executescript(_SCHEMA)
        db.execute("INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                   (SCHEMA_VERSION,))

    def key(self, action: Action) -> str:
        return "|".join((self.environment, self.wave, action.kind.value, action.target))

    def entries(self) -> dict[str, Entry]:
        """Every recorded action of this environment and wave, by key."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM actions WHERE environment = ? AND wave = ? ORDER BY seq",
                (self.environment, self.wave),
            ).fetchall()
        return {r[0]: Entry(*r) for r in rows}

    def pending(self, actions: Action | Sequence[Action], *, batch_id: str = "") -> None:
        """Record the intent to send (and the id that pays a bonus); called before the
        request leaves. Several actions are recorded in one transaction."""
        batch = [actions] if isinstance(actions, Action) else list(actions)
        now = _now()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for a in batch:
                    self._db.execute(
                        "INSERT INTO actions (key, seq, environment, wave, kind, submission_id, participant_id, "
                        "task_id, group_id, amount, status, attempts, updated_at, batch_id) "
                        "VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM actions), ?, ?, ?, ?, ?, ?, ?, ?, "
                        "'pending', 1, ?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET status = 'pending', amount = excluded.amount, "
                        "attempts = attempts + 1, detail = '', updated_at = excluded.updated_at, "
                        "batch_id = excluded.batch_id",
                        (self.key(a), self.environment, self.wave, a.kind.value, a.submission_id, a.participant_id,
                         a.task_id, a.group_id, a.amount_text, now, batch_id),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def note_batch(self, action: Action, batch_id: str) -> None:
        """Record, on an action already pending, the id it goes through (a compensation
        task's group) before the call that uses it."""
        with self._lock:
            self._db.execute("UPDATE actions SET batch_id = ?, updated_at = ? WHERE key = ?",
                             (batch_id, _now(), self.key(action)))

    def record(self, action: Action, status: str, *, request_id: str = "", detail: str = "") -> None:
        """Record the outcome (done / failed / skipped / still pending), inserting the row if
        it is new. The amount is the action's: for a bonus found already paid, what the
        panel paid. A recorded batch id is kept."""
        a = action
        with self._lock:
            self._db.execute(
                "INSERT INTO actions (key, seq, environment, wave, kind, submission_id, participant_id, task_id, "
                "group_id, amount, status, request_id, detail, updated_at) "
                "VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM actions), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET status = excluded.status, request_id = excluded.request_id, "
                "amount = excluded.amount, detail = excluded.detail, updated_at = excluded.updated_at",
                (self.key(a), self.environment, self.wave, a.kind.value, a.submission_id, a.participant_id,
                 a.task_id, a.group_id, a.amount_text, status, request_id, redact(detail)[:1000], _now()),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self._release_lock()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
