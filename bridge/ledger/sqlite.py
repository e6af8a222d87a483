"""The SQLite ledger: one file for one person on one machine (SPEC 5, 13).

Every change is its own committed transaction in WAL mode: a killed process loses nothing it
had recorded (synchronous=NORMAL: only a power cut can drop the last commits, and the
executor's checks against the panel cover that too).

A new ledger is built whole in a temporary file beside it and moved into place, so a full
disk or a crash never leaves half of one; an existing file that is ours but unfinished (an
empty file, a schema an older version left half-made, e.g. `meta` without `actions`) is
completed in one transaction, never refused. A file that is not an SQLite database, or a
database with tables of another program, is never written into (SPEC 10).

One writer at a time: the run that applies holds an exclusive lock on `<ledger>.lock` (and
writes who it is into it); a second run is refused (exit 3) with that name.
"""

from __future__ import annotations

import fcntl
import getpass
import os
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any, Sequence

from bridge.errors import InputError, SafetyRefusal
from bridge.files import disk_message, umask_mode
from bridge.ledger.base import SCHEMA_VERSION, Ledger, actions_table, now_text

_TABLES = {
    "meta": "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "actions": actions_table("actions", seq="INTEGER"),
}
_INDEXES = ("CREATE INDEX IF NOT EXISTS actions_scope ON actions (panel, environment, scope)",
            "CREATE INDEX IF NOT EXISTS actions_seq ON actions (seq)")
# Version 1 (MTurk only) named the columns in MTurk's words; version 2 keyed rows by wave.
_V1_RENAMES = {"assignment_id": "submission_id", "worker_id": "participant_id", "hit_id": "task_id",
               "qualification_type_id": "group_id"}
_ADDED = {"batch_id": "TEXT NOT NULL DEFAULT ''", "panel": "TEXT NOT NULL DEFAULT ''",
          "scope": "TEXT NOT NULL DEFAULT ''", "phase": "TEXT NOT NULL DEFAULT ''",
          "seen_at": "TEXT NOT NULL DEFAULT ''"}


def holder() -> str:
    """Who is applying, for the message a second run gets: user@host, pid, since when."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name (a container): the uid will do
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()} (pid {os.getpid()}) since {now_text()} UTC"


class SqliteLedger(Ledger):
    _seq = "(SELECT COALESCE(MAX(seq), 0) + 1 FROM actions)"

    def __init__(self, path: Path, *, panel: str, environment: str, tasks: Sequence[str], wave: str = "",
                 exclusive: bool = False):
        super().__init__(panel=panel, environment=environment, tasks=tasks, wave=wave)
        self.path = Path(path)
        self.location = str(self.path)
        self._lock_file: int | None = None
        self._db: sqlite3.Connection | None = None
        self._check_is_a_ledger()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if exclusive:
                self._take_lock()
            if not self.path.exists() or self.path.stat().st_size == 0:
                self._create()
            # isolation_level=None: autocommit; transactions are explicit (`atomic`).
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            self._setup()
            self.claim_legacy()
        except sqlite3.DatabaseError as exc:
            self._abandon()
            raise InputError(f"{self.path}: cannot open the ledger ({exc}). It is left as it is; if it is not the "
                             "wave's ledger, set [output] ledger to another path.") from None
        except OSError as exc:
            self._abandon()
            raise InputError(disk_message(self.path, "ledger", exc)) from None
        except BaseException:
            self._abandon()
            raise

    # --- the primitives ----------------------------------------------------------------

    def _run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._db.execute(sql, params)

    def _run_many(self, sql: str, rows: list[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self._db.execute(sql, params).fetchall()

    def _begin(self, durable: bool) -> None:
        self._db.execute("BEGIN IMMEDIATE")  # synchronous=NORMAL in WAL: every commit survives a crash of this run

    def _commit(self) -> None:
        self._db.execute("COMMIT")

    def _rollback(self) -> None:
        self._db.execute("ROLLBACK")

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
        self._release_lock()

    def _abandon(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        self._release_lock()

    # --- the file ----------------------------------------------------------------------

    def _not_ours(self, what: str) -> str:
        return (f"{self.path}: is {what}, not a survey-bridge ledger; it is left as it is. Set [output] ledger "
                "(or move the file) so the ledger goes elsewhere.")

    def _check_is_a_ledger(self) -> None:
        """Never write into a file that is not a ledger (SPEC 10): an existing file must be
        an SQLite database (its header says so)."""
        if self.path.is_dir():
            raise InputError(f"{self.path}: [output] ledger is a folder; name a file such as wave.ledger.sqlite.")
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return
        with open(self.path, "rb") as f:
            if f.read(16) != b"SQLite format 3\x00":
                raise InputError(self._not_ours("another kind of file"))

    def _create(self) -> None:
        """Build the ledger in a temporary file beside it, then move it into place whole."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.creating")
        try:
            db = sqlite3.connect(tmp, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("BEGIN IMMEDIATE")
                self._schema(db, set())
                db.execute("COMMIT")
            finally:
                db.close()
            os.chmod(tmp, umask_mode())
            if not self.path.exists() or self.path.stat().st_size == 0:  # nobody made it meanwhile
                os.replace(tmp, self.path)
        finally:
            for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
                try:
                    leftover.unlink()
                except FileNotFoundError:
                    pass

    def _setup(self) -> None:
        """Check the file is ours, then finish or migrate its schema in one transaction."""
        db = self._db
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                  if not r[0].startswith("sqlite_")}
        if tables - set(_TABLES) or not self._meta_is_ours(tables):  # before anything changes the file
            raise InputError(self._not_ours("a database of another program"))
        version = self._version(tables)
        if version > SCHEMA_VERSION:
            raise InputError(f"{self.path}: this ledger was written by a newer survey-bridge (schema {version}); "
                             "upgrade survey-bridge to use it. It is left as it is.")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        if version == SCHEMA_VERSION and tables == set(_TABLES):
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            self._schema(db, tables)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _meta_is_ours(self, tables: set[str]) -> bool:
        if "meta" not in tables:
            return True
        columns = [r[1] for r in self._db.execute("PRAGMA table_info(meta)")]
        names = {r[0] for r in self._db.execute("SELECT name FROM meta")}
        return columns == ["name", "value"] and names <= {"schema_version"}

    def _version(self, tables: set[str]) -> int:
        if "meta" not in tables:
            return 0
        row = self._db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
        try:
            return int(row[0]) if row else 0
        except ValueError:
            return 0

    @staticmethod
    def _schema(db: sqlite3.Connection, tables: set[str]) -> None:
        """Create what is missing and bring older tables to this version (inside the
        caller's transaction: SQLite's DDL is transactional)."""
        if "actions" in tables:
            columns = {r[1] for r in db.execute("PRAGMA table_info(actions)")}
            if "assignment_id" in columns:  # version 1
                for before, after in _V1_RENAMES.items():
                    db.execute(f"ALTER TABLE actions RENAME COLUMN {before} TO {after}")
            for name, decl in _ADDED.items():
                if name not in columns:
                    db.execute(f"ALTER TABLE actions ADD COLUMN {name} {decl}")
        for create in (*_TABLES.values(), *_INDEXES):
            db.execute(create)
        db.execute("INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT (name) DO UPDATE SET value = "
                   "excluded.value", (str(SCHEMA_VERSION),))

    # --- one writer at a time ------------------------------------------------------------

    def _take_lock(self) -> None:
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            who = ""
            for _ in range(20):  # the holder names itself right after it takes the lock
                who = os.pread(fd, 300, 0).decode("utf-8", "replace").strip()
                if who:
                    break
                time.sleep(0.05)
            os.close(fd)
            raise SafetyRefusal(
                f"{self.path}: another run is applying with this ledger right now"
                + (f" ({who})" if who.isprintable() and who else "") + ". Nothing was sent; wait for it to finish, "
                "then run again."
            ) from None
        self._lock_file = fd
        self.exclusive = True
        try:
            who = holder().encode()
            os.pwrite(fd, who, 0)
            os.ftruncate(fd, len(who))
        except OSError:  # only the message of a second run is poorer
            pass

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            os.close(self._lock_file)  # closing the descriptor releases the flock
            self._lock_file = None
