"""The shared ledger on PostgreSQL: the same records every member of a lab reaches (SPEC 13).

`[output] ledger = "postgresql://HOST:PORT/DB"`; the user and password come from libpq's
usual sources (`PGUSER`, `PGPASSWORD`, `~/.pgpass`), never from the config. The tables
live in their own schema, `survey_bridge`, created and migrated by the tool (under an
advisory lock, so two first runs do not race). One row per action; every state change is
its own committed transaction before or after the panel's call, as with SQLite.

One writer per study at a time: the applying run takes `pg_try_advisory_lock` on a hash of
(panel, environment, scope) for each of its scopes on its own connection (released by the
server if the process dies) and names itself in the `locks` table (user@host, pid, since),
which is what a second run is told when it is refused (exit 3).
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any, Sequence

from bridge.errors import InputError, SafetyRefusal
from bridge.ledger.base import SCHEMA_VERSION, Ledger, actions_table, now_text
from bridge.ledger.location import shown
from bridge.ledger.sqlite import holder
from bridge.redact import redact

SCHEMA = "survey_bridge"
HOLDER_READS, HOLDER_WAIT = 20, 0.05  # up to a second for a new holder to name itself
_SCHEMA_LOCK = 0x5B_1D_6E_00  # serialises creating and migrating the schema
_DDL = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"CREATE TABLE IF NOT EXISTS {SCHEMA}.meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    f"CREATE SEQUENCE IF NOT EXISTS {SCHEMA}.actions_seq",
    actions_table(f"{SCHEMA}.actions", seq="BIGINT"),
    f"CREATE INDEX IF NOT EXISTS actions_scope ON {SCHEMA}.actions (panel, environment, scope)",
    f"CREATE INDEX IF NOT EXISTS actions_order ON {SCHEMA}.actions (seq)",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.locks (
    scope_key TEXT PRIMARY KEY, holder TEXT NOT NULL, pid INTEGER NOT NULL, since TEXT NOT NULL)""",
)


def lock_id(panel: str, environment: str, scope: str) -> int:
    """The advisory lock's key: 64 bits of a hash of what it guards."""
    digest = hashlib.sha256(f"survey-bridge\x1f{panel}\x1f{environment}\x1f{scope}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _first_line(exc: BaseException) -> str:
    return redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)


class PostgresLedger(Ledger):
    _seq = f"nextval('{SCHEMA}.actions_seq')"

    def __init__(self, url: str, *, panel: str, environment: str, tasks: Sequence[str], wave: str = "",
                 exclusive: bool = False):
        import psycopg

        super().__init__(panel=panel, environment=environment, tasks=tasks, wave=wave)
        self.location = shown(url)
        self._held: list[str] = []
        try:
            self._db = psycopg.connect(url, autocommit=True, connect_timeout=10, application_name="survey-bridge")
        except psycopg.Error as exc:
            raise InputError(
                f"cannot reach the shared ledger at {self.location} ({_first_line(exc)}). Check [output] ledger and "
                "that the server is up; your user and password come from PGUSER and PGPASSWORD or ~/.pgpass. Nothing "
                "was sent.") from None
        try:
            self._setup()
            if exclusive:
                self._take_locks()
            self.claim_legacy()
        except psycopg.Error as exc:
            self._db.close()
            raise InputError(f"the shared ledger at {self.location} refused: {_first_line(exc)}. The tool creates its "
                             f"tables in the schema {SCHEMA}: your user needs CREATE on the database the first time, "
                             "then SELECT, INSERT and UPDATE on them. Nothing was sent.") from None
        except BaseException:
            self._db.close()
            raise

    # --- the primitives ----------------------------------------------------------------

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")

    def _run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._db.execute(self._sql(sql), params)

    def _run_many(self, sql: str, rows: list[Sequence[Any]]) -> None:
        with self._db.cursor() as cur:  # pipelined by psycopg: one round trip, not one a row
            cur.executemany(self._sql(sql), rows)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self._db.execute(self._sql(sql), params).fetchall()

    def _begin(self, durable: bool) -> None:
        self._db.execute("BEGIN")
        if not durable:
            self._db.execute("SET LOCAL synchronous_commit = off")

    def _commit(self) -> None:
        self._db.execute("COMMIT")

    def _rollback(self) -> None:
        self._db.execute("ROLLBACK")

    def close(self) -> None:
        with self._lock:
            if self._db.closed:
                return
            try:
                if self._held:
                    self._run(f"DELETE FROM locks WHERE scope_key IN ({', '.join('?' for _ in self._held)}) "
                              "AND pid = ?", (*self._held, os.getpid()))
                    self._db.execute("SELECT pg_advisory_unlock_all()")
            except Exception:  # the server went away: it released the locks with the connection
                pass
            finally:
                self._db.close()

    # --- schema ------------------------------------------------------------------------

    def _version(self) -> int:
        row = self._db.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.meta",)).fetchone()
        if row[0] is None:
            return 0
        row = self._db.execute(f"SELECT value FROM {SCHEMA}.meta WHERE name = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def _setup(self) -> None:
        version = self._version()
        if version < SCHEMA_VERSION or self._db.execute("SELECT to_regclass(%s)",
                                                        (f"{SCHEMA}.locks",)).fetchone()[0] is None:
            with self._db.transaction():
                self._db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                version = self._version()
                for statement in _DDL:  # migrations from later versions go here, by `version`
                    self._db.execute(statement)
                self._db.execute(f"INSERT INTO {SCHEMA}.meta VALUES ('schema_version', %s) ON CONFLICT (name) DO "
                                 "UPDATE SET value = excluded.value", (str(SCHEMA_VERSION),))
        elif version > SCHEMA_VERSION:
            raise InputError(f"the shared ledger at {self.location} was written by a newer survey-bridge (schema "
                             f"{version}); upgrade survey-bridge to use it.")
        self._db.execute(f"SET search_path TO {SCHEMA}")

    # --- one writer per study ------------------------------------------------------------

    def _scope_key(self, scope: str) -> str:
        return f"{self.panel}|{self.environment}|{scope}"

    def _take_locks(self) -> None:
        for scope in sorted(self.scopes):
            if self.lock_scope(self.panel, self.environment, scope):
                self.exclusive = True
                continue
            row = self._holder_of(self._scope_key(scope))
            self._db.execute("SELECT pg_advisory_unlock_all()")
            self._held = []
            who = f" ({row[0]})" if row else ""
            raise SafetyRefusal(
                f"another run is applying {scope} right now{who}, on the shared ledger at {self.location}. Nothing was "
                "sent; wait for it to finish, then run again.")

    def _holder_of(self, name: str) -> tuple | None:
        """The holder the `locks` table names for a scope whose lock another run holds. The
        holder takes the lock, then writes its row: a run refused between the two reads again
        for a moment, so the message can name who holds it."""
        for _ in range(HOLDER_READS):
            row = self._db.execute("SELECT holder FROM locks WHERE scope_key = %s", (name,)).fetchone()
            if row is not None:
                return row
            time.sleep(HOLDER_WAIT)
        return None

    def lock_scope(self, panel: str, environment: str, scope: str) -> bool:
        """Take the advisory lock of one scope on this connection and name this run as its
        holder; False when another connection holds it."""
        got = self._db.execute("SELECT pg_try_advisory_lock(%s)", (lock_id(panel, environment, scope),)).fetchone()[0]
        if not got:
            return False
        name = f"{panel}|{environment}|{scope}"
        self._db.execute("INSERT INTO locks VALUES (%s, %s, %s, %s) ON CONFLICT (scope_key) DO UPDATE SET "
                         "holder = excluded.holder, pid = excluded.pid, since = excluded.since",
                         (name, holder(), os.getpid(), now_text()))
        self._held.append(name)
        return True
