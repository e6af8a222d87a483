"""The ledger's one interface, shared by both backends: keys, states, phases and the SQL
every state change runs (SPEC 5, 13).

A backend supplies a connection and three primitives (`_run`, `_run_many`, `_rows`) plus a
transaction (`_begin`, `_commit`, `_rollback`); everything else is here, so SQLite and
PostgreSQL keep the same records and the executor never knows which it has.

Keys name the work, not the run: `panel|environment|scope|kind|target`, where the scope is
the study or batch the work belongs to (an action's own task: a Prolific study, an MTurk
HIT; for work about a participant rather than a submission, the batch: `batch_scope`), and
the target what the action is about (a submission, a participant in a group, a task). The
wave's name is kept beside each row as a label only; the folder and the workbook path are
nowhere.

States: `pending` (about to be sent, or sent and the answer not recorded), `done`,
`failed` (nothing changed: sent again next run), `skipped` (the panel's state forbids it).
A bonus also moves through phases, each committed before or after its call (the recovery
points of SPEC 13): `prepared` (recorded before the set-up call: never paid), `paying`
(the id that pays it recorded before the pay call: the outcome is unknown until the panel
shows it), `paid` (the pay call accepted), `confirmed` (the panel shows the payment); and
`waiting` (pending: the panel shows the work decided by another run, so the bonus waits for
the settle window, `seen_at` being when this ledger first saw that decision). An approval
or rejection the panel already showed made when this ledger was about to send it is
recorded with the phase `elsewhere`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from bridge.models import batch_scope
from bridge.redact import redact

PENDING, DONE, FAILED, SKIPPED = "pending", "done", "failed", "skipped"
FINAL = frozenset({DONE, SKIPPED})
PREPARED, PAYING, PAID, CONFIRMED, WAITING = "prepared", "paying", "paid", "confirmed", "waiting"
ELSEWHERE = "elsewhere"  # an approval or rejection found already made on the panel, not sent by this ledger
SCHEMA_VERSION = 3
# Kinds whose target is not the submission (the others: approve, reject, override, bonus).
_BY_GROUP, _BY_PARTICIPANT, _BY_TASK = ("grant", "revoke"), ("notify", "compensate"), ("expire",)



def actions_table(name: str, *, seq: str) -> str:
    """The one `actions` table both backends keep (each names its own type for `seq`)."""
    return f"""CREATE TABLE IF NOT EXISTS {name} (
    key TEXT PRIMARY KEY,
    seq {seq} NOT NULL,
    panel TEXT NOT NULL DEFAULT '',
    environment TEXT NOT NULL,
    scope TEXT NOT NULL DEFAULT '',
    wave TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    submission_id TEXT NOT NULL DEFAULT '',
    participant_id TEXT NOT NULL DEFAULT '',
    task_id TEXT NOT NULL DEFAULT '',
    group_id TEXT NOT NULL DEFAULT '',
    amount TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed', 'skipped')),
    phase TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    batch_id TEXT NOT NULL DEFAULT '',
    seen_at TEXT NOT NULL DEFAULT ''
)"""


ENTRY_COLUMNS = ("key, kind, submission_id, participant_id, task_id, group_id, amount, status, request_id, detail, "
                 "attempts, updated_at, batch_id, phase, seen_at")
ROW_COLUMNS = ("key, seq, panel, environment, scope, wave, kind, submission_id, participant_id, task_id, group_id, "
               "amount, status, phase, request_id, detail, attempts, updated_at, batch_id, seen_at")


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
    phase: str = ""
    seen_at: str = ""  # WAITING: when this ledger first saw the work decided elsewhere (UTC)


class Recordable(Protocol):
    """What the ledger reads of an action (`bridge.actions.Action`)."""

    kind: Any  # a str enum
    submission_id: str
    participant_id: str
    task_id: str
    group_id: str

    @property
    def amount_text(self) -> str: ...


def now_text(when: datetime | None = None) -> str:
    return (when or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def parse_time(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def target(kind: str, submission_id: str, participant_id: str, task_id: str, group_id: str) -> str:
    """What an action is about, in its key: a participant in a group, a participant, a
    task, or (approvals, rejections, overrides, bonuses) a submission."""
    if kind in _BY_GROUP:
        return f"{group_id}:{participant_id}"
    if kind in _BY_PARTICIPANT:
        return participant_id
    if kind in _BY_TASK:
        return task_id
    return submission_id


def _kind(action: Recordable) -> str:
    return getattr(action.kind, "value", action.kind)


class Ledger:
    """The actions of one panel and environment for one study or batch (`tasks`). Every
    method is one committed transaction (or joins the one `atomic()` holds); one
    connection, shared by the executor's threads behind a lock."""

    location: str  # for messages: a path, or a URL without credentials
    _seq: str  # the SQL giving a new row its place in the order

    def __init__(self, *, panel: str, environment: str, tasks: Sequence[str], wave: str = ""):
        self.panel = panel.lower()
        self.environment = environment
        self.tasks = tuple(dict.fromkeys(t for t in tasks if t))
        self.batch = batch_scope(self.tasks)
        self.wave = wave
        self._lock = threading.RLock()
        self._depth = 0
        # While this run is the study's one writer (`exclusive`), what it read stays true
        # until it writes: kept, and dropped by every transaction.
        self.exclusive = False
        self._read: dict[str, Entry] | None = None

    # --- the backend's primitives ------------------------------------------------------

    def _run(self, sql: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    def _run_many(self, sql: str, rows: list[Sequence[Any]]) -> None:
        raise NotImplementedError

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        raise NotImplementedError

    def _begin(self, durable: bool) -> None:
        raise NotImplementedError

    def _commit(self) -> None:
        raise NotImplementedError

    def _rollback(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def atomic(self, *, durable: bool = True) -> Iterator[None]:
        """One committed transaction around the block (joined by the calls inside it). Never
        hold it across a call to the panel: what precedes a call must be committed first.
        `durable=False` (an outcome recorded after a call) lets the server acknowledge the
        commit before it is on disk: a crash of the server, not of this run, can lose it,
        which leaves the action pending, settled from the panel next run, as SQLite's
        synchronous=NORMAL does."""
        with self._lock:
            self._read = None
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._begin(durable)
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._rollback()
                raise
            self._depth = 0
            self._commit()

    # --- keys ----------------------------------------------------------------------------

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*self.tasks, self.batch]))

    def scope_of(self, action: Recordable) -> str:
        return action.task_id or self.batch

    def key(self, action: Recordable) -> str:
        kind = _kind(action)
        return "|".join((self.panel, self.environment, self.scope_of(action), kind,
                         target(kind, action.submission_id, action.participant_id, action.task_id, action.group_id)))

    # --- reading -------------------------------------------------------------------------

    def entries(self) -> dict[str, Entry]:
        """Every recorded action of this panel, environment and study or batch, by key,
        whichever run (and whichever wave name) recorded it."""
        marks = ", ".join("?" for _ in self.scopes)
        with self._lock:
            if self._read is not None:
                return dict(self._read)
            rows = self._rows(f"SELECT {ENTRY_COLUMNS} FROM actions WHERE panel = ? AND environment = ? "
                              f"AND scope IN ({marks}) ORDER BY seq", (self.panel, self.environment, *self.scopes))
            read = {r[0]: Entry(*r) for r in rows}
            if self.exclusive:
                self._read = read
            return dict(read)

    def all_rows(self) -> list[tuple]:
        """Every row of every panel, environment and study, in ROW_COLUMNS order (copying)."""
        with self._lock:
            return self._rows(f"SELECT {ROW_COLUMNS} FROM actions ORDER BY seq")

    # --- recording -----------------------------------------------------------------------

    def _identity(self, a: Recordable) -> tuple:
        return (self.key(a), self.panel, self.environment, self.scope_of(a), self.wave, _kind(a), a.submission_id,
                a.participant_id, a.task_id, a.group_id)

    def pending(self, actions: Recordable | Sequence[Recordable], *, batch_id: str = "", phase: str = "") -> None:
        """Record the intent to send (with the id that pays a bonus, and its phase); called
        before the request leaves. Several actions are recorded in one transaction."""
        batch = list(actions) if isinstance(actions, (list, tuple)) else [actions]
        now = now_text()
        sql = (f"INSERT INTO actions (key, panel, environment, scope, wave, kind, submission_id, participant_id, "
               f"task_id, group_id, seq, amount, status, phase, attempts, updated_at, batch_id) "
               f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {self._seq}, ?, 'pending', ?, 1, ?, ?) "
               "ON CONFLICT (key) DO UPDATE SET status = 'pending', phase = excluded.phase, amount = excluded.amount, "
               "attempts = actions.attempts + 1, detail = '', updated_at = excluded.updated_at, "
               "batch_id = excluded.batch_id")
        with self.atomic():
            self._run_many(sql, [(*self._identity(a), a.amount_text, phase, now, batch_id) for a in batch])

    def advance(self, actions: Sequence[Recordable], phase: str, *, batch_id: str | None = None) -> None:
        """Move pending actions to the next phase (and record the id that pays them): the
        recovery point before the next call."""
        now = now_text()
        with self.atomic(durable=phase != CONFIRMED):  # confirming is only an observation
            if batch_id is None:
                self._run_many("UPDATE actions SET phase = ?, updated_at = ? WHERE key = ?",
                               [(phase, now, self.key(a)) for a in actions])
            else:
                self._run_many("UPDATE actions SET phase = ?, batch_id = ?, updated_at = ? WHERE key = ?",
                               [(phase, batch_id, now, self.key(a)) for a in actions])

    def note_batch(self, action: Recordable, batch_id: str) -> None:
        """Record, on an action already pending, the id it goes through (a compensation
        task's group) before the call that uses it."""
        with self.atomic():
            self._run("UPDATE actions SET batch_id = ?, updated_at = ? WHERE key = ?",
                      (batch_id, now_text(), self.key(action)))

    def record(self, action: Recordable, status: str, *, request_id: str = "", detail: str = "",
               phase: str | None = None) -> None:
        """Record an outcome (done / failed / skipped / still pending), inserting the row if
        it is new. The amount is the action's (for a bonus found already paid, what the
        panel paid). A recorded batch id is kept; so is the phase unless one is given."""
        self.record_many([(action, status, request_id, detail, phase)])

    def record_many(self, outcomes: Sequence[tuple[Recordable, str, str, str, str | None]]) -> None:
        """`record` for several (action, status, request id, detail, phase), in one transaction."""
        now = now_text()
        keep, change = [], []
        for a, status, request_id, detail, phase in outcomes:
            row = (*self._identity(a), a.amount_text, status, phase or "", request_id, redact(detail)[:1000], now)
            (keep if phase is None else change).append(row)
        base = (f"INSERT INTO actions (key, panel, environment, scope, wave, kind, submission_id, participant_id, "
                f"task_id, group_id, seq, amount, status, phase, request_id, detail, updated_at) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {self._seq}, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET status = excluded.status, request_id = excluded.request_id, "
                "amount = excluded.amount, detail = excluded.detail, updated_at = excluded.updated_at")
        with self.atomic(durable=False):
            if keep:
                self._run_many(base, keep)
            if change:
                self._run_many(base + ", phase = excluded.phase", change)

    def wait(self, action: Recordable, detail: str, *, seen_at: str) -> None:
        """Hold a bonus back for work decided elsewhere: pending, phase `waiting`, with when
        this ledger first saw that decision (kept if already recorded)."""
        sql = (f"INSERT INTO actions (key, panel, environment, scope, wave, kind, submission_id, participant_id, "
               f"task_id, group_id, seq, amount, status, phase, detail, updated_at, seen_at) "
               f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {self._seq}, ?, 'pending', '{WAITING}', ?, ?, ?) "
               f"ON CONFLICT (key) DO UPDATE SET status = 'pending', phase = '{WAITING}', amount = excluded.amount, "
               "detail = excluded.detail, updated_at = excluded.updated_at, "
               "seen_at = CASE WHEN actions.seen_at = '' THEN excluded.seen_at ELSE actions.seen_at END")
        with self.atomic(durable=False):
            self._run(sql, (*self._identity(action), action.amount_text, redact(detail)[:1000], now_text(), seen_at))

    # --- ledgers written before keys named the work -------------------------------------

    def claim_legacy(self) -> int:
        """Give this panel's keys to the rows an older version keyed by wave name (schema 2
        and before: no panel, no scope). A row is this study's when its task is one of
        `tasks`; a row about a participant (no task) when its wave wrote one of those rows,
        or has this run's wave name. Returns how many rows were claimed."""
        if not self.panel:
            return 0
        with self._lock:
            rows = self._rows("SELECT key, wave, kind, submission_id, participant_id, task_id, group_id FROM actions "
                              "WHERE panel = '' AND environment = ?", (self.environment,))
            if not rows:
                return 0
            tasks = set(self.tasks)
            waves = {r[1] for r in rows if r[5] in tasks} | ({self.wave} if self.wave else set())
            claims = []
            for old, wave, kind, sub, participant, task, group in rows:
                if task in tasks or (not task and wave in waves):
                    scope = task or self.batch
                    new = "|".join((self.panel, self.environment, scope, kind,
                                    target(kind, sub, participant, task, group)))
                    claims.append((new, scope, old))
            if not claims:
                return 0
            with self.atomic():
                taken = {r[0] for r in self._rows(
                    f"SELECT key FROM actions WHERE key IN ({', '.join('?' for _ in claims)})",
                    [c[0] for c in claims])}
                fresh = [c for c in claims if c[0] not in taken]
                self._run_many("UPDATE actions SET key = ?, panel = ?, scope = ? WHERE key = ?",
                               [(new, self.panel, scope, old) for new, scope, old in fresh])
            return len(fresh)

    # --- copying between ledgers --------------------------------------------------------

    def merge_rows(self, rows: Sequence[tuple]) -> tuple[int, int, int]:
        """Rows from another ledger (ROW_COLUMNS order), in one transaction: a key this one
        lacks is added; a key both hold keeps whichever record says more about money
        (`rank`). Returns (added, replaced, kept)."""
        columns = [c.strip() for c in ROW_COLUMNS.split(",")]
        at = {c: i for i, c in enumerate(columns)}
        names = [c for c in columns if c != "seq"]
        insert = (f"INSERT INTO actions ({', '.join(names)}, seq) VALUES ({', '.join('?' for _ in names)}, "
                  f"{self._seq}) ON CONFLICT (key) DO UPDATE SET "
                  + ", ".join(f"{c} = excluded.{c}" for c in names if c != "key"))
        added = replaced = kept = 0
        with self.atomic():
            ours = {r[0]: r for r in self._rows(f"SELECT {ROW_COLUMNS} FROM actions")}
            todo = []
            for row in rows:
                mine = ours.get(row[0])
                if mine is not None and rank(*(mine[at[c]] for c in ("status", "phase", "batch_id"))) >= rank(
                        *(row[at[c]] for c in ("status", "phase", "batch_id"))):
                    kept += 1
                    continue
                added, replaced = (added + 1, replaced) if mine is None else (added, replaced + 1)
                todo.append([row[at[c]] for c in names])
            if todo:
                self._run_many(insert, todo)
        return added, replaced, kept


def rank(status: str, phase: str, batch_id: str) -> int:
    """How much a record says about money, for merging two ledgers: a payment made outranks
    one whose outcome is unknown, which outranks everything that moved nothing."""
    if status == DONE:
        return 5
    if status == PENDING and (phase == PAYING or (batch_id and phase not in (PREPARED, WAITING))):
        return 4
    return {SKIPPED: 3, PENDING: 2, FAILED: 1}.get(status, 0)
