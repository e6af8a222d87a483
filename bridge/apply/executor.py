"""Send a plan's actions exactly once: ledger first, then the panel, then the ledger again.

Stages run in SPEC order (approvals and rejections, bonuses, group grants). Each stage is
cut into the batches the marketplace takes per call (`Marketplace.batch`) and run through
a bounded thread pool (`Marketplace.workers`). Nothing is sent twice:

- an action `done` or `skipped` in the ledger is not sent again;
- an approval/rejection left `pending` by a crash is settled from the submission's state
  first, and one the panel refuses because the work is no longer awaiting review is
  settled the same way;
- before a bonus is paid, what the panel already shows paid is read (MTurk: one paginated
  ListBonusPayments per HIT); a bonus already paid with the plan's amount is `done`, one
  paid with another amount (a top-up paid by hand) is left for a person (`failed`);
- a bonus passes its recovery points, each committed before the next call: `prepared`
  before the set-up (a crash here paid nothing: the next run starts it again), `paying`
  with the id that pays it before the pay call, `paid` when the call is accepted,
  `confirmed` when the panel shows it (read by a later run where payments show late). A
  pay whose answer was lost (a crash, a timeout, a 5xx) is settled by reading what the
  panel shows paid. On a panel where paying again pays again (Prolific: `pay_repeats`), a
  bonus the panel does not show yet stays `pending` for a person and is never paid again
  by this tool; elsewhere (MTurk, whose request token refuses a repeat) it is `failed` and
  the next run sends it again;
- work decided elsewhere (SPEC 13): where payments show late (`payments_show_late`), a
  bonus on a submission the panel showed approved or rejected without this ledger having
  sent that decision waits (`pending`, phase `waiting`) until `settle` has passed since
  this ledger first saw it decided, and is then paid only if the panel still shows none:
  another run may have paid it. Approvals and rejections this ledger never sent are read
  before they are sent, so a decision another run made is found even when the plan was
  read from an export downloaded before it (recorded `done`, phase `elsewhere`);
- group grants are idempotent and are simply sent again; Eligible_Worker only goes to a
  participant whose approvals in this wave are all done;
- an override of a rejection is an approval of rejected work, settled by state like one;
- a batch the panel refuses as a whole for one member (an unknown or already-decided id:
  `BatchRefused`) is sent again in halves until that member is alone: it fails with the
  panel's reason (or is settled by its state), the rest go through (SPEC §12). A fault
  (5xx, timeout, throttling) is never split;
- revokes, invitations, compensation tasks and expiries (SPEC §9) run last, in that
  order, each once (`bridge.apply.stages`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from bridge.actions import LABELS, STAGES, Action, Kind
from bridge.apply import paying, stages
from bridge.apply.stages import Record, Result
from bridge.ledger import CONFIRMED, DONE, ELSEWHERE, FAILED, FINAL, PAID, PAYING, PENDING, SKIPPED, Entry, Ledger
from bridge.market import BatchRefused, Marketplace, MarketplaceError, Outcome, Reply
from bridge.models import State

# (completed, total, what is being sent); called on the caller's thread.
Progress = Callable[[int, int, str], None]
_TARGET = {Kind.APPROVE: State.APPROVED, Kind.REJECT: State.REJECTED, Kind.OVERRIDE: State.APPROVED}
_DONE_WORD = {Kind.APPROVE: "approved", Kind.REJECT: "rejected", Kind.OVERRIDE: "approved"}
# States from which the change is still to send (an override may find the work back in
# review half-way: Prolific's UNREJECT came through, its APPROVE not yet).
_FROM = {Kind.OVERRIDE: (State.REJECTED, State.PENDING)}
Decided = Mapping[str, tuple[State, "datetime | None"]]  # submission -> (state read, when decided)
_PAID_KINDS = (Kind.BONUS, Kind.COMPENSATE)  # what can be paid on a submission
_ELSEWHERE_WHY = "decided elsewhere, before this ledger sent anything"
_MAY_HAVE_PAID = (PAYING, PAID, CONFIRMED)  # phases from the pay call on


def _never_sent(entry: Entry | None) -> bool:
    """No record of this ledger sending the change: no row, or one whose failure left the
    panel unchanged (`failed`: nothing reached it, or it refused). A decision the panel
    shows for it was made by another run (SPEC 13)."""
    return entry is None or entry.status == FAILED


@dataclass(slots=True)
class Outcomes:
    """What this run did (the ledger holds the whole history)."""

    attempted: int = 0
    results: dict[str, Result] = field(default_factory=dict)  # key -> (status, detail)
    wait_until: datetime | None = None  # bonuses wait for work decided elsewhere: run again after this
    # Keys settled `done` without this run sending them: the panel already showed them done
    # (another run, another machine, a person by hand): never counted as sent this run.
    found: set[str] = field(default_factory=set)

    def count(self, status: str) -> int:
        return sum(s == status for s, _ in self.results.values())


def chunks(items: Sequence[Action], size: int) -> list[list[Action]]:
    size = max(1, size)
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


class Executor:
    """`decided`: the submissions the panel showed approved or rejected when the plan was
    read, with the decision's time where the panel gives one; `settle`: how long a payment
    may take to show once such a decision is seen (`[safety] settle_minutes`; 0: no wait);
    `clock`: now, UTC."""

    def __init__(self, market: Marketplace, ledger: Ledger, *, progress: Progress | None = None,
                 decided: Decided | None = None, settle: timedelta = timedelta(0),
                 clock: Callable[[], datetime] | None = None):
        self.market = market
        self.ledger = ledger
        self.progress = progress
        self.decided = dict(decided or {})
        self.settle = settle
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.wait_until: datetime | None = None
        self.found: set[str] = set()  # keys found already done on the panel (see Outcomes.found)
        # Changes this ledger never sent whose state could not be read before sending: if the
        # panel then accepts them, another run may have decided them first (SPEC 13), so their
        # approval counts as decided elsewhere and its bonus waits.
        self.unread: set[str] = set()

    def todo(self, actions: Iterable[Action]) -> list[Action]:
        """The actions not yet final (done or skipped) in the ledger."""
        entries = self.ledger.entries()
        return [a for a in actions if (e := entries.get(self.ledger.key(a))) is None or e.status not in FINAL]

    def run(self, actions: list[Action]) -> Outcomes:
        entries = self.ledger.entries()
        was_pending = {k: e for k, e in entries.items() if e.status == PENDING}
        todo = self.todo(actions)
        outcome = Outcomes(attempted=len(todo))
        completed = 0

        def finished(results: dict[Action, Result]) -> None:
            nonlocal completed
            for action, result in results.items():
                outcome.results[self.ledger.key(action)] = result
                completed += 1
                if self.progress:
                    self.progress(completed, len(todo), LABELS[action.kind])

        workers = max([1, *self.market.workers.values()])
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="apply") as pool:
            for stage in STAGES:
                batch = [a for a in todo if a.kind in stage]
                if batch:
                    self._run_jobs(pool, self._stage_jobs(stage, batch, actions, was_pending, finished), finished)
        self._confirm([a for a in actions if a.kind in _PAID_KINDS and a.submission_id
                       and (e := entries.get(self.ledger.key(a))) is not None and e.status == DONE and e.phase == PAID])
        outcome.wait_until = self.wait_until
        outcome.found = set(self.found)
        return outcome

    def settle_done(self, actions: list[Action]) -> dict[Action, Result]:
        """Before anything is sent: read what the panel already shows done for the actions
        not final in the ledger (approvals and rejections by state, bonuses of work the
        panel shows approved by what it shows paid) and record those `done`, found. Work
        this ledger has no record of sending is recorded as decided elsewhere (SPEC 13), so
        its bonus waits as the run's own reading would make it. Only on a panel that reads
        states a study at a time (`states_in_bulk`); elsewhere the run finds them as it
        goes. Errors leave the rest to the run."""
        if not getattr(self.market, "states_in_bulk", False):
            return {}
        entries = self.ledger.entries()
        todo = self.todo(actions)
        changes = [a for a in todo if a.kind in _TARGET]
        try:
            states = self.market.states(changes) if changes else {}
        except MarketplaceError:
            return {}
        records: list[Record] = []
        for a in changes:
            state = states.get(a.submission_id)
            if state is _TARGET[a.kind]:
                done = self._by_state(a, state, "found before sending")
                records.append((*done[:4], self._elsewhere) if _never_sent(entries.get(self.ledger.key(a))) else done)
        out = self.record_all(records, found=True)
        # Bonuses of work found approved, or approved before this plan (no approval to send).
        approved = {a.submission_id for a in changes if states.get(a.submission_id) is State.APPROVED}
        planned = {a.submission_id for a in changes}
        bonuses = [a for a in todo if a.kind is Kind.BONUS
                   and (a.submission_id in approved or a.submission_id not in planned)]
        if bonuses:
            paid, _ = paying.shown_paid(self, bonuses)
            shown = [paying.settle_paid(self, a, paid[a.submission_id], "found before sending")
                     for a in bonuses if a.submission_id in paid]
            out.update(self.record_all(shown, found=True))
        return out

    def _stage_jobs(self, stage: tuple[Kind, ...], batch: list[Action], actions: list[Action],
                    was_pending: dict[str, Entry], finished: Callable[[dict[Action, Result]], None]):
        if stage == (Kind.BONUS,):
            return self._bonus_jobs(batch, actions, was_pending, finished)
        if Kind.GRANT in stage:
            grants = [a for a in batch if a.kind is Kind.GRANT]
            return (self._grant_jobs(self._grants_to_send(grants, actions, finished))
                    + stages.revoke_jobs(self, [a for a in batch if a.kind is Kind.REVOKE], finished))
        if stage == (Kind.NOTIFY,):
            return stages.notify_jobs(self, batch, was_pending, finished)
        if stage == (Kind.COMPENSATE,):  # a bonus on a submission is paid like any bonus
            return (self._bonus_jobs([a for a in batch if a.submission_id], actions, was_pending, finished)
                    + stages.compensate_jobs(self, [a for a in batch if not a.submission_id]))
        if stage == (Kind.EXPIRE,):
            return stages.expire_jobs(self, batch)
        return self._status_jobs(batch, was_pending, finished)

    def _run_jobs(self, pool: ThreadPoolExecutor, jobs: list[tuple[Kind, Callable[[], dict[Action, Result]]]],
                  finished: Callable[[dict[Action, Result]], None]) -> None:
        """Run each kind's jobs with at most `workers[kind]` in flight."""
        by_kind: dict[Kind, list[Callable[[], dict[Action, Result]]]] = defaultdict(list)
        for kind, job in jobs:
            by_kind[kind].append(job)
        queue = {k: list(v) for k, v in by_kind.items()}
        running: dict[Future, Kind] = {}
        try:
            while queue or running:
                for kind in list(queue):
                    limit = max(1, self.market.workers.get(kind, 1))
                    while queue[kind] and sum(k is kind for k in running.values()) < limit:
                        running[pool.submit(queue[kind].pop(0))] = kind
                    if not queue[kind]:
                        del queue[kind]
                done = next(as_completed(running))
                del running[done]
                finished(done.result())
        except BaseException:  # Ctrl-C: stop queueing; what was sent stays pending/recorded
            for f in running:
                f.cancel()
            raise

    def record(self, action: Action, status: str, *, request_id: str = "", detail: str = "",
               phase: str | None = None, found: bool = False) -> Result:
        """Record an outcome in the ledger; `found`: done on the panel without this run sending it."""
        self.ledger.record(action, status, request_id=request_id, detail=detail, phase=phase)
        if found and status == DONE:
            self.found.add(self.ledger.key(action))
        return status, detail

    def record_all(self, records: Sequence[Record], *, found: bool = False) -> dict[Action, Result]:
        """Several outcomes, recorded in one transaction (they answer one call). `found`: those
        done were done on the panel without this run sending them."""
        if records:
            self.ledger.record_many(records)
            if found:
                self.found.update(self.ledger.key(a) for a, status, *_ in records if status == DONE)
        return {a: (status, detail) for a, status, _, detail, _ in records}

    def _guarded(self, batch: list[Action], job: Callable[[], dict[Action, Result]]) -> dict[Action, Result]:
        """Run one job; an error it did not place on an item fails the whole batch (retried
        next run), so no action is ever left unaccounted for. A payment that may have gone
        out (its pay call made: `paying` or later) is never turned into `failed`, which
        would send it again: it is left for the next run to settle from what the panel shows."""
        try:
            return job()
        except MarketplaceError as exc:
            return self._failed_batch(batch, str(exc))
        except Exception as exc:  # a bug must not leave the actions unaccounted for
            return self._failed_batch(batch, f"{type(exc).__name__}: {exc}")

    def _failed_batch(self, batch: list[Action], why: str) -> dict[Action, Result]:
        entries = self.ledger.entries()
        out: dict[Action, Result] = {}
        for a in batch:
            e = entries.get(self.ledger.key(a))
            if e is not None and a.kind in _PAID_KINDS and e.status == DONE:
                out[a] = (DONE, e.detail)  # recorded paid before the error: it stays so
            elif e is not None and a.kind in _PAID_KINDS and e.status == PENDING and e.phase in _MAY_HAVE_PAID:
                out[a] = self.record(a, PENDING, detail=f"outcome unknown ({why}); not paid again: the next run "
                                                        f"settles it from what {self.market.panel} shows paid")
            else:
                out[a] = self.record(a, FAILED, detail=why)
        return out

    # --- approvals and rejections ---------------------------------------------------------

    def _status_jobs(self, batch: list[Action], was_pending: dict[str, Entry],
                     finished: Callable[[dict[Action, Result]], None]):
        interrupted = [a for a in batch if self.ledger.key(a) in was_pending]
        if interrupted:  # sent before a crash? never resend blindly: settle from the state first
            settled = self._guarded(interrupted, lambda: self._settle_by_state(interrupted, "interrupted run"))
            finished({a: r for a, r in settled.items() if r is not None})
            resend = {a for a, r in settled.items() if r is None}
            batch = [a for a in batch if a not in interrupted or a in resend]
        if self.watches_elsewhere:
            # Work this ledger never sent may have been decided by another run (a copied
            # folder, a lost ledger, a downloaded export older than the panel): read the
            # states before sending, so that its bonus waits rather than being paid again.
            entries = self.ledger.entries()
            fresh = [a for a in batch if _never_sent(entries.get(self.ledger.key(a)))]
            if fresh:
                settled = self._guarded(fresh, lambda: self._settle_by_state(fresh, _ELSEWHERE_WHY, phase=ELSEWHERE))
                finished({a: r for a, r in settled.items() if r is not None})
                batch = [a for a in batch if a not in fresh or settled.get(a) is None]
        approvals = [a for a in batch if a.kind is Kind.APPROVE]
        rejections = [a for a in batch if a.kind is Kind.REJECT]
        jobs = [(Kind.APPROVE, self.job(chunk, self._approve))
                for chunk in chunks(approvals, self.market.batch.get(Kind.APPROVE, 1))]
        jobs += [(Kind.REJECT, self.job([a], self._reject)) for a in rejections]
        jobs += [(Kind.OVERRIDE, self.job(chunk, self._override))
                 for chunk in chunks([a for a in batch if a.kind is Kind.OVERRIDE],
                                     self.market.batch.get(Kind.OVERRIDE, 1))]
        return jobs

    def job(self, batch: list[Action], send: Callable[[list[Action]], dict[Action, Result]]):
        return lambda: self._guarded(batch, lambda: send(batch))

    @property
    def watches_elsewhere(self) -> bool:
        """Whether work decided by another run holds its bonus back (SPEC 13): where
        payments show late and the settle window is not zero."""
        return self.market.payments_show_late and self.settle > timedelta(0)

    @property
    def _elsewhere(self) -> str | None:
        """The phase of a decision found on the panel that this ledger never sent."""
        return ELSEWHERE if self.watches_elsewhere else None

    def _settle_by_state(self, actions: list[Action], why: str, *, phase: str | None = None
                         ) -> dict[Action, Result | None]:
        """Decide from each submission's state on the panel; None where it still awaits
        review, or where its state could not be read (`unread` collects those)."""
        states = self.market.states(actions)
        records = [(*r[:4], phase) for a in actions if (state := states.get(a.submission_id)) is not None
                   and (r := self._by_state(a, state, why)) is not None]
        self.unread.update(self.ledger.key(a) for a in actions if a.submission_id not in states)
        out: dict[Action, Result | None] = {a: None for a in actions}
        out.update(self.record_all(records, found=True))
        return out

    def _by_state(self, action: Action, state: State, why: str) -> Record | None:
        """What the submission's state says of the change (None: still to send)."""
        panel, words = self.market.panel, self.market.words
        if state is _TARGET[action.kind]:
            return action, DONE, "", f"already {words.of(state)} on {panel} ({why}; {words.state_check})", None
        if state not in _FROM.get(action.kind, (State.PENDING,)):
            return action, SKIPPED, "", f"{words.of(state)} on {panel}; not {_DONE_WORD[action.kind]}", None
        return None

    def _status_replies(self, replies: dict[str, Reply], batch: list[Action]) -> dict[Action, Result]:
        records: list[Record] = []
        found: list[Record] = []  # refused: the panel has it done already
        unsure: dict[Action, str] = {}
        for a in batch:
            reply = replies.get(a.submission_id) or Reply.failed(f"{self.market.panel} did not answer for it")
            if reply.outcome is Outcome.ACCEPTED:
                unsure_whose = self.ledger.key(a) in self.unread
                records.append((a, DONE, reply.request_id, reply.detail, self._elsewhere if unsure_whose else None))
            elif reply.outcome is Outcome.REFUSED:
                settled = self._by_state(a, reply.state, f"{self.market.panel} refused a second change") \
                    if reply.state is not None else None
                if settled is None:
                    unsure[a] = reply.detail
                else:
                    found.append((*settled[:4], self._elsewhere))  # decided before this run's call
            else:
                records.append((a, FAILED, "", reply.detail, None))
        out = self.record_all(records)
        out.update(self.record_all(found, found=True))
        if unsure:  # refused without saying the state: read it
            settled = self._settle_by_state(list(unsure), f"{self.market.panel} refused a second change")
            out.update(self.record_all([(a, FAILED, "", why, None) for a, why in unsure.items()
                                        if settled[a] is None]))
            out.update({a: r for a, r in settled.items() if r is not None})
        return out

    def _approve(self, batch: list[Action]) -> dict[Action, Result]:
        self.ledger.pending(batch)
        try:
            replies = self.market.approve(batch)
        except BatchRefused as exc:
            return self.split(batch, self._approve, exc, self._refused_change)
        return self._status_replies(replies, batch)

    def split(self, batch: list[Action], send: Callable[[list[Action]], dict[Action, Result]], exc: BatchRefused,
              alone: Callable[[Action, BatchRefused], Result]) -> dict[Action, Result]:
        """A batch refused as a whole: each half sent again (`send`), until the member the
        panel refuses is alone (`alone` says what becomes of it)."""
        if len(batch) == 1:
            return {batch[0]: alone(batch[0], exc)}
        half = len(batch) // 2
        return {**send(batch[:half]), **send(batch[half:])}

    def refused(self, action: Action, exc: BatchRefused) -> Result:
        return self.record(action, FAILED, detail=f"refused by {self.market.panel}: {exc.message}")

    def _refused_change(self, action: Action, exc: BatchRefused) -> Result:
        """An approval refused alone: its state settles it (approved already: done; returned,
        rejected: skipped); otherwise (an unknown id) it fails with the panel's reason."""
        try:
            settled = self._settle_by_state([action], f"{self.market.panel} refused the approval",
                                            phase=self._elsewhere)[action]
        except MarketplaceError:
            settled = None
        return settled or self.refused(action, exc)

    def _reject(self, batch: list[Action]) -> dict[Action, Result]:
        (a,) = batch
        self.ledger.pending(a)
        return self._status_replies({a.submission_id: self.market.reject(a)}, batch)

    def _override(self, batch: list[Action]) -> dict[Action, Result]:
        self.ledger.pending(batch)
        return self._status_replies(self.market.override(batch), batch)

    # --- bonuses (`bridge.apply.paying`) ------------------------------------------------------

    def _bonus_jobs(self, batch: list[Action], actions: list[Action], was_pending: dict[str, Entry],
                    finished: Callable[[dict[Action, Result]], None]):
        return paying.bonus_jobs(self, batch, actions, was_pending, finished)

    def _confirm(self, actions: list[Action]) -> None:
        if actions:
            paying.confirm(self, actions)

    # --- groups (qualifications) ----------------------------------------------------------------

    def _grant_jobs(self, batch: list[Action]):
        by_group: dict[str, list[Action]] = defaultdict(list)
        for a in batch:
            by_group[a.group_id].append(a)
        size = self.market.batch.get(Kind.GRANT, 1)
        return [(Kind.GRANT, self.job(chunk, self._grant)) for group in by_group.values()
                for chunk in chunks(group, size)]

    def _grant(self, batch: list[Action]) -> dict[Action, Result]:
        self.ledger.pending(batch)
        try:
            replies = self.market.add_to_group(batch[0].group_id, batch)
        except BatchRefused as exc:
            return self.split(batch, self._grant, exc, self.refused)
        records = []
        for a in batch:
            reply = replies.get(a.participant_id) or Reply.failed(f"{self.market.panel} did not answer for it")
            records.append((a, DONE if reply.outcome is Outcome.ACCEPTED else FAILED, reply.request_id, reply.detail,
                            None))
        return self.record_all(records)

    def _grants_to_send(self, batch: list[Action], actions: list[Action],
                        finished: Callable[[dict[Action, Result]], None]) -> list[Action]:
        """Hold back an Eligible_Worker grant unless every approval of that participant in
        this wave is done (work already approved when read has no approval action).
        Skipped when the panel forbids the approval, failed (retried next run) when it has
        not succeeded yet. Prev_Worker grants are unconditional."""
        entries = self.ledger.entries()
        approvals: dict[str, list[Action]] = defaultdict(list)
        for a in actions:
            if a.kind in (Kind.APPROVE, Kind.OVERRIDE):
                approvals[a.participant_id].append(a)
        to_send, held = [], []
        for g in batch:
            mine = approvals.get(g.participant_id, []) if g.role == "eligible_worker" else []
            blocking = [(a, e) for a in mine if (e := entries.get(self.ledger.key(a))) is None or e.status != DONE]
            if not blocking:
                to_send.append(g)
                continue
            a, e = blocking[0]
            if e is not None and e.status == SKIPPED:
                held.append((g, SKIPPED, "", f"not granted: the approval of {a.submission_id} was skipped ({e.detail})",
                             None))
            else:
                held.append((g, FAILED, "", f"not sent: the approval of {a.submission_id} has not succeeded yet", None))
        finished(self.record_all(held))
        return to_send
