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
- a bonus is recorded `pending` with the id that pays it *before* the pay call. A pay whose
  answer was lost (a crash, a timeout, a 5xx) is settled by reading what the panel shows
  paid. On a panel where paying again pays again (Prolific: `pay_repeats`), a bonus the
  panel does not show yet stays `pending` for a person and is never paid again by this
  tool; elsewhere (MTurk, whose request token refuses a repeat) it is `failed` and the
  next run sends it again;
- group grants are idempotent and are simply sent again; Eligible_Worker only goes to a
  participant whose approvals in this wave are all done;
- an override of a rejection is an approval of rejected work, settled by state like one;
- revokes, invitations, compensation tasks and expiries (SPEC §9) run last, in that
  order, each once (`bridge.apply.stages`).
"""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from decimal import Decimal

from bridge.actions import LABELS, STAGES, Action, Kind, bonus_key
from bridge.apply import stages
from bridge.apply.ledger import DONE, FAILED, FINAL, PENDING, SKIPPED, Entry, Ledger
from bridge.apply.stages import Result
from bridge.market import Marketplace, MarketplaceError, Outcome, Reply
from bridge.models import State
from bridge.money import fmt

# (completed, total, what is being sent); called on the caller's thread.
Progress = Callable[[int, int, str], None]
_TARGET = {Kind.APPROVE: State.APPROVED, Kind.REJECT: State.REJECTED, Kind.OVERRIDE: State.APPROVED}
_DONE_WORD = {Kind.APPROVE: "approved", Kind.REJECT: "rejected", Kind.OVERRIDE: "approved"}
# States from which the change is still to send (an override may find the work back in
# review half-way: Prolific's UNREJECT came through, its APPROVE not yet).
_FROM = {Kind.OVERRIDE: (State.REJECTED, State.PENDING)}


@dataclass(slots=True)
class Outcomes:
    """What this run did (the ledger holds the whole history)."""

    attempted: int = 0
    results: dict[str, Result] = field(default_factory=dict)  # key -> (status, detail)
    # Keys settled `done` without this run sending them: the panel already showed them done
    # (another run, another machine, a person by hand): never counted as sent this run.
    found: set[str] = field(default_factory=set)

    def count(self, status: str) -> int:
        return sum(s == status for s, _ in self.results.values())


def chunks(items: Sequence[Action], size: int) -> list[list[Action]]:
    size = max(1, size)
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


class Executor:
    def __init__(self, market: Marketplace, ledger: Ledger, *, progress: Progress | None = None):
        self.market = market
        self.ledger = ledger
        self.progress = progress
        self.found: set[str] = set()  # keys found already done on the panel (see Outcomes.found)

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
        outcome.found = set(self.found)
        return outcome

    def settle_done(self, actions: list[Action]) -> dict[Action, Result]:
        """Before anything is sent: read what the panel already shows done for the actions
        not final in the ledger (approvals and rejections by state, bonuses of work the
        panel shows approved by what it shows paid) and record those `done`, found. Only
        on a panel that reads states a study at a time (`states_in_bulk`); elsewhere the
        run finds them as it goes. Errors leave the rest to the run."""
        if not getattr(self.market, "states_in_bulk", False):
            return {}
        todo = self.todo(actions)
        changes = [a for a in todo if a.kind in _TARGET]
        out: dict[Action, Result] = {}
        try:
            states = self.market.states(changes) if changes else {}
        except MarketplaceError:
            return out
        for a in changes:
            state = states.get(a.submission_id)
            if state is _TARGET[a.kind]:
                out[a] = self._by_state(a, state, "found before sending")
        # Bonuses of work found approved, or approved before this plan (no approval to send).
        approved = {a.submission_id for a in changes if states.get(a.submission_id) is State.APPROVED}
        planned = {a.submission_id for a in changes}
        bonuses = [a for a in todo if a.kind is Kind.BONUS
                   and (a.submission_id in approved or a.submission_id not in planned)]
        if bonuses:
            paid, _ = self._paid(bonuses)
            for a in bonuses:
                if a.submission_id in paid:
                    out[a] = self._settle_paid(a, paid[a.submission_id], "found before sending", found=True)
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
               found: bool = False) -> Result:
        """Record an outcome in the ledger; `found`: done on the panel without this run sending it."""
        self.ledger.record(action, status, request_id=request_id, detail=detail)
        if found and status == DONE:
            self.found.add(self.ledger.key(action))
        return status, detail

    def _guarded(self, batch: list[Action], job: Callable[[], dict[Action, Result]]) -> dict[Action, Result]:
        """Run one job; an error it did not place on an item fails the whole batch (retried
        next run), so no action is ever left unaccounted for."""
        try:
            return job()
        except MarketplaceError as exc:
            return {a: self.record(a, FAILED, detail=str(exc)) for a in batch}
        except Exception as exc:  # a bug must not leave the actions unaccounted for
            return {a: self.record(a, FAILED, detail=f"{type(exc).__name__}: {exc}") for a in batch}

    # --- approvals and rejections ---------------------------------------------------------

    def _status_jobs(self, batch: list[Action], was_pending: dict[str, Entry],
                     finished: Callable[[dict[Action, Result]], None]):
        interrupted = [a for a in batch if self.ledger.key(a) in was_pending]
        if interrupted:  # sent before a crash? never resend blindly: settle from the state first
            settled = self._guarded(interrupted, lambda: self._settle_by_state(interrupted, "interrupted run"))
            finished({a: r for a, r in settled.items() if r is not None})
            resend = {a for a, r in settled.items() if r is None}
            batch = [a for a in batch if a not in interrupted or a in resend]
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

    def _settle_by_state(self, actions: list[Action], why: str) -> dict[Action, Result | None]:
        """Decide from each submission's state on the panel; None where it still awaits review."""
        states = self.market.states(actions)
        out: dict[Action, Result | None] = {}
        for a in actions:
            state = states.get(a.submission_id)
            out[a] = self._by_state(a, state, why) if state is not None else None
        return out

    def _by_state(self, action: Action, state: State, why: str) -> Result | None:
        panel, words = self.market.panel, self.market.words
        if state is _TARGET[action.kind]:
            return self.record(action, DONE, detail=f"already {words.of(state)} on {panel} ({why}; "
                                                     f"{words.state_check})", found=True)
        if state not in _FROM.get(action.kind, (State.PENDING,)):
            return self.record(action, SKIPPED, detail=f"{words.of(state)} on {panel}; not {_DONE_WORD[action.kind]}")
        return None

    def _status_replies(self, replies: dict[str, Reply], batch: list[Action]) -> dict[Action, Result]:
        out: dict[Action, Result] = {}
        unsure: list[Action] = []
        for a in batch:
            reply = replies.get(a.submission_id) or Reply.failed(f"{self.market.panel} did not answer for it")
            if reply.outcome is Outcome.ACCEPTED:
                out[a] = self.record(a, DONE, request_id=reply.request_id, detail=reply.detail)
            elif reply.outcome is Outcome.REFUSED:
                settled = self._by_state(a, reply.state, f"{self.market.panel} refused a second change") \
                    if reply.state is not None else None
                if settled is None:
                    unsure.append(a)
                    out[a] = (FAILED, reply.detail)
                else:
                    out[a] = settled
            else:
                out[a] = self.record(a, FAILED, detail=reply.detail)
        if unsure:  # refused without saying the state: read it
            for a, settled in self._settle_by_state(unsure, f"{self.market.panel} refused a second change").items():
                out[a] = settled or self.record(a, FAILED, detail=out[a][1])
        return out

    def _approve(self, batch: list[Action]) -> dict[Action, Result]:
        self.ledger.pending(batch)
        return self._status_replies(self.market.approve(batch), batch)

    def _reject(self, batch: list[Action]) -> dict[Action, Result]:
        (a,) = batch
        self.ledger.pending(a)
        return self._status_replies({a.submission_id: self.market.reject(a)}, batch)

    def _override(self, batch: list[Action]) -> dict[Action, Result]:
        self.ledger.pending(batch)
        return self._status_replies(self.market.override(batch), batch)

    # --- bonuses -----------------------------------------------------------------------------

    def _bonus_jobs(self, batch: list[Action], actions: list[Action], was_pending: dict[str, Entry],
                    finished: Callable[[dict[Action, Result]], None]):
        """Settle what the panel already paid, what is unknown and what cannot be paid yet;
        return the jobs that pay the rest."""
        entries = self.ledger.entries()
        unknown = [a for a in batch if (e := was_pending.get(self.ledger.key(a))) is not None and e.batch_id
                   and self.market.pay_repeats]
        if unknown:  # paid before a crash? only what the panel shows settles it
            finished(self._settle_unknown(unknown, "the pay's answer was lost in an earlier run", ours=False))
        rest = [a for a in batch if a not in unknown]
        if not rest:
            return []
        paid, unlisted = self._paid(rest)
        status_of = {a.submission_id: entries.get(self.ledger.key(a)) for a in actions if a.kind in _TARGET}
        to_send: list[Action] = []
        settled: dict[Action, Result] = {}
        for a in rest:
            change = status_of.get(a.submission_id)
            if a.submission_id in paid:
                settled[a] = self._settle_paid(a, paid[a.submission_id], self.market.words.paid_check, found=True)
            elif a.submission_id in unlisted:
                settled[a] = self.record(a, FAILED, detail=f"not sent: could not read what {self.market.panel} "
                                                            f"already paid ({unlisted[a.submission_id]})")
            elif change is not None and change.status == SKIPPED:
                settled[a] = self.record(a, SKIPPED, detail=f"not sent: {change.detail}")
            elif change is not None and change.status != DONE:
                settled[a] = self.record(a, FAILED, detail="not sent: the approval of this submission has not "
                                                            "succeeded yet")
            else:
                to_send.append(a)
        finished(settled)
        return [(Kind.BONUS, self.job(chunk, self._pay))
                for chunk in chunks(to_send, self.market.batch.get(Kind.BONUS, 1))]

    def _paid(self, actions: list[Action]) -> tuple[dict[str, list[Decimal]], dict[str, str]]:
        """What the panel shows paid on these submissions, each amount checked to be a number."""
        try:
            paid, unlisted = self.market.paid_bonuses(actions)
        except MarketplaceError as exc:
            return {}, {a.submission_id: str(exc) for a in actions}
        for sid, amounts in list(paid.items()):
            if any(not isinstance(x, Decimal) or not x.is_finite() for x in amounts):
                unlisted[sid] = f"the listing has a bonus amount {amounts!r} for {sid}"
                del paid[sid]
        return paid, unlisted

    def _pay(self, batch: list[Action]) -> dict[Action, Result]:
        key = bonus_key(self.market.environment, self.ledger.wave, [a.submission_id for a in batch])
        batch_id = self.market.prepare_bonuses(batch, key)  # MarketplaceError: nothing paid, all failed
        self.ledger.pending(batch, batch_id=batch_id)  # durable before the pay call
        try:
            replies = self.market.pay_bonuses(batch_id, batch)
        except MarketplaceError as exc:
            replies = {a.submission_id: Reply(Outcome.UNKNOWN, str(exc)) for a in batch}
        out: dict[Action, Result] = {}
        unknown: list[Action] = []
        for a in batch:
            reply = replies.get(a.submission_id) or Reply(Outcome.UNKNOWN, f"{self.market.panel} did not answer")
            if reply.outcome is Outcome.ACCEPTED:
                out[a] = self.record(a, DONE, request_id=reply.request_id, detail=reply.detail)
            elif reply.outcome is Outcome.UNKNOWN:
                unknown.append(a)
            else:
                out[a] = self.record(a, FAILED, detail=reply.detail)
        if unknown:
            out.update(self._settle_unknown(unknown, f"the pay's answer was lost ({replies[unknown[0].submission_id].detail})"
                                            if unknown[0].submission_id in replies else "the pay's answer was lost",
                                            ours=True))
        return out

    def _settle_unknown(self, actions: list[Action], why: str, *, ours: bool) -> dict[Action, Result]:
        """A pay whose outcome is unknown: settled by what the panel shows paid, read again
        for `settle_seconds` (payments may show up late). What never shows is `failed`
        where a repeat is refused by the panel (sent again next run), and otherwise stays
        `pending`, for a person: never paid again by this tool. `ours`: this run sent the pay."""
        deadline = time.monotonic() + self.market.settle_seconds
        wait = 0.2
        left = list(actions)
        out: dict[Action, Result] = {}
        while True:
            paid, _ = self._paid(left)
            for a in [a for a in left if a.submission_id in paid]:
                out[a] = self._settle_paid(a, paid[a.submission_id], why, found=not ours)
                left.remove(a)
            if not left or time.monotonic() + wait > deadline:
                break
            time.sleep(wait)
            wait = min(wait * 2, 5.0)
        for a in left:
            if self.market.pay_repeats:
                out[a] = self.record(
                    a, PENDING,
                    detail=f"outcome unknown ({why}); {self.market.panel} does not show this bonus as paid yet. "
                           "Not paid again: run again later to settle it, or check it on "
                           f"{self.market.panel} (needs a person)")
            else:
                out[a] = self.record(a, FAILED, detail=f"not shown as paid after {why}; sent again next run")
        return out

    def _settle_paid(self, action: Action, paid: list[Decimal], how: str, *, found: bool) -> Result:
        """A bonus the panel already shows on the submission: done when one payment is the
        plan's amount; otherwise never sent automatically, left for a person (failed), with
        what the panel paid as its amount."""
        if action.amount in paid:
            others = list(paid)
            others.remove(action.amount)
            extra = (f"; also paid on this {self.market.words.submission}: {', '.join(fmt(a) for a in others)}"
                     if others else "")
            return self.record(action, DONE, detail=f"already paid {fmt(action.amount)} ({how}){extra}", found=found)
        total = sum(paid, Decimal("0.00"))
        what = (f"a bonus of {fmt(total)} was" if len(paid) == 1
                else f"bonuses of {' + '.join(fmt(a) for a in paid)} = {fmt(total)} were")
        return self.record(
            dataclasses.replace(action, amount=total), FAILED,
            detail=f"{what} already paid on this {self.market.words.submission}; the plan says {fmt(action.amount)}: "
                   f"needs a person (not sent; {how})",
        )

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
        replies = self.market.add_to_group(batch[0].group_id, batch)
        out = {}
        for a in batch:
            reply = replies.get(a.participant_id) or Reply.failed(f"{self.market.panel} did not answer for it")
            status = DONE if reply.outcome is Outcome.ACCEPTED else FAILED
            out[a] = self.record(a, status, request_id=reply.request_id, detail=reply.detail)
        return out

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
        to_send, held = [], {}
        for g in batch:
            mine = approvals.get(g.participant_id, []) if g.role == "eligible_worker" else []
            blocking = [(a, e) for a in mine if (e := entries.get(self.ledger.key(a))) is None or e.status != DONE]
            if not blocking:
                to_send.append(g)
                continue
            a, e = blocking[0]
            if e is not None and e.status == SKIPPED:
                held[g] = self.record(g, SKIPPED, detail=f"not granted: the approval of {a.submission_id} was "
                                                          f"skipped ({e.detail})")
            else:
                held[g] = self.record(g, FAILED, detail=f"not sent: the approval of {a.submission_id} has not "
                                                         "succeeded yet")
        finished(held)
        return to_send
