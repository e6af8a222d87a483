"""Send a plan's actions exactly once: ledger first, then MTurk, then ledger again.

Stages run in SPEC order (approvals and rejections, bonuses, qualification grants), each
through a bounded thread pool. Nothing is sent twice:

- an action `done` or `skipped` in the ledger is not sent again;
- an approval/rejection left `pending` by a crash is checked with GetAssignment first, and
  one MTurk refuses because the work is no longer Submitted is confirmed the same way;
- bonuses are checked against ListBonusPayments (one paginated listing per HIT) right
  before sending, since UniqueRequestTokens are forgotten after 24 hours; each still
  carries a deterministic token so a retry within a day is refused by MTurk itself;
- a bonus MTurk already lists for the assignment with another amount than the plan's
  (e.g. a top-up paid by hand) is not sent: it is `failed`, for a person to settle, with
  the amount MTurk paid;
- qualification grants are idempotent and are simply sent again; Eligible_Worker only
  goes to a worker whose approvals in this wave are all done.

Throttling and 5xx faults are retried inside botocore (adaptive mode); what still fails is
recorded `failed` with its error, and the next run retries it.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from decimal import Decimal

from bridge.apply.actions import LABELS, STAGES, Action, Kind, bonus_token
from bridge.apply.client import DEFAULT_WORKERS, BonusPayment, Marketplace, MarketplaceError
from bridge.apply.ledger import DONE, FAILED, FINAL, PENDING, SKIPPED, Ledger
from bridge.money import fmt

# (completed, total, what is being sent); called on the caller's thread.
Progress = Callable[[int, int, str], None]
_TARGET_STATUS = {Kind.APPROVE: "Approved", Kind.REJECT: "Rejected"}
_DONE_WORD = {Kind.APPROVE: "approved", Kind.REJECT: "rejected"}


@dataclass(slots=True)
class Outcome:
    """What this run did (the ledger holds the whole history)."""

    attempted: int = 0
    results: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (status, detail)

    def count(self, status: str) -> int:
        return sum(s == status for s, _ in self.results.values())


class Executor:
    def __init__(self, market: Marketplace, ledger: Ledger, *, workers: int = DEFAULT_WORKERS,
                 progress: Progress | None = None):
        self.market = market
        self.ledger = ledger
        self.workers = max(1, workers)
        self.progress = progress

    def todo(self, actions: Iterable[Action]) -> list[Action]:
        """The actions not yet final (done or skipped) in the ledger."""
        entries = self.ledger.entries()
        return [a for a in actions if (e := entries.get(self.ledger.key(a))) is None or e.status not in FINAL]

    def run(self, actions: list[Action]) -> Outcome:
        entries = self.ledger.entries()
        was_pending = {k for k, e in entries.items() if e.status == PENDING}
        todo = self.todo(actions)
        outcome = Outcome(attempted=len(todo))
        completed = 0

        def finished(action: Action, result: tuple[str, str]) -> None:
            nonlocal completed
            outcome.results[self.ledger.key(action)] = result
            completed += 1
            if self.progress:
                self.progress(completed, len(todo), LABELS[action.kind])

        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="apply") as pool:
            for stage in STAGES:
                batch = [a for a in todo if a.kind in stage]
                if not batch:
                    continue
                if stage == (Kind.BONUS,):
                    batch = self._bonuses_to_send(batch, actions, pool, finished)
                elif stage == (Kind.GRANT,):
                    batch = self._grants_to_send(batch, actions, finished)
                futures: dict[Future, Action] = {
                    pool.submit(self._one, a, self.ledger.key(a) in was_pending): a for a in batch
                }
                try:
                    for future in as_completed(futures):
                        finished(futures[future], future.result())
                except BaseException:  # Ctrl-C: stop queueing; what was sent stays pending/recorded
                    for f in futures:
                        f.cancel()
                    raise
        return outcome

    # --- one action ---------------------------------------------------------------------

    def _one(self, action: Action, was_pending: bool) -> tuple[str, str]:
        try:
            if action.kind in _TARGET_STATUS:
                return self._status_change(action, was_pending)
            if action.kind is Kind.BONUS:
                return self._bonus(action)
            return self._grant(action)
        except MarketplaceError as exc:  # a confirming call failed: retry on the next run
            return self._record(action, FAILED, detail=str(exc))
        except Exception as exc:  # a bug must not leave the action unaccounted for
            return self._record(action, FAILED, detail=f"{type(exc).__name__}: {exc}")

    def _record(self, action: Action, status: str, *, request_id: str = "", detail: str = "") -> tuple[str, str]:
        self.ledger.record(action, status, request_id=request_id, detail=detail)
        return status, detail

    def _settle_by_status(self, action: Action, why: str) -> tuple[str, str] | None:
        """Decide from the assignment's status on MTurk; None when it is still Submitted."""
        status = self.market.assignment_status(action.assignment_id)
        if status == _TARGET_STATUS[action.kind]:
            return self._record(action, DONE, detail=f"already {status} on MTurk ({why}; checked with GetAssignment)")
        if status != "Submitted":
            return self._record(action, SKIPPED, detail=f"{status} on MTurk; not {_DONE_WORD[action.kind]}")
        return None

    def _status_change(self, action: Action, was_pending: bool) -> tuple[str, str]:
        if was_pending:  # sent before a crash? never resend blindly
            settled = self._settle_by_status(action, "interrupted run")
            if settled:
                return settled
        self.ledger.pending(action)
        try:
            if action.kind is Kind.APPROVE:
                request_id = self.market.approve(action.assignment_id)
            else:
                request_id = self.market.reject(action.assignment_id, action.text)
        except MarketplaceError as exc:
            if exc.status_conflict:
                settled = self._settle_by_status(action, "MTurk refused a second change")
                if settled:
                    return settled
            return self._record(action, FAILED, detail=str(exc))
        return self._record(action, DONE, request_id=request_id)

    def _bonus(self, action: Action) -> tuple[str, str]:
        assert action.amount is not None
        token = bonus_token(self.market.environment, self.ledger.wave, action.assignment_id)
        self.ledger.pending(action)
        try:
            request_id = self.market.send_bonus(action.worker_id, action.assignment_id, action.amount, action.text, token)
        except MarketplaceError as exc:
            # A retry whose first attempt got through (the answer was lost) meets its own token.
            if exc.duplicate_token:
                paid = [p.amount for p in self.market.bonus_payments(assignment_id=action.assignment_id)]
                if paid:
                    return self._settle_paid(action, paid, "paid by an earlier attempt (token already processed)")
            return self._record(action, FAILED, detail=str(exc))
        return self._record(action, DONE, request_id=request_id)

    def _settle_paid(self, action: Action, paid: list[Decimal], how: str) -> tuple[str, str]:
        """A bonus MTurk already lists for the assignment: done when one payment is the
        plan's amount; otherwise never sent automatically, left for a person (failed), with
        what MTurk paid as its amount."""
        if action.amount in paid:
            others = list(paid)
            others.remove(action.amount)
            extra = f"; also paid on this assignment: {', '.join(fmt(a) for a in others)}" if others else ""
            return self._record(action, DONE, detail=f"already paid {fmt(action.amount)} ({how}){extra}")
        total = sum(paid, Decimal("0.00"))
        what = (f"a bonus of {fmt(total)} was" if len(paid) == 1
                else f"bonuses of {' + '.join(fmt(a) for a in paid)} = {fmt(total)} were")
        return self._record(
            dataclasses.replace(action, amount=total), FAILED,
            detail=f"{what} already paid on this assignment; the plan says {fmt(action.amount)}: "
                   f"needs a person (not sent; {how})",
        )

    def _grant(self, action: Action) -> tuple[str, str]:
        self.ledger.pending(action)
        try:
            request_id = self.market.grant_qualification(action.qualification_type_id, action.worker_id, action.value)
        except MarketplaceError as exc:
            return self._record(action, FAILED, detail=str(exc))
        return self._record(action, DONE, request_id=request_id)

    # --- bonuses: what MTurk already paid, what must wait ------------------------------

    def _bonuses_to_send(self, batch: list[Action], actions: list[Action], pool: ThreadPoolExecutor,
                         finished: Callable[[Action, tuple[str, str]], None]) -> list[Action]:
        """Settle the bonuses MTurk already paid or that cannot be sent yet; return the rest."""
        by_hit: dict[str, list[Action]] = defaultdict(list)
        for a in batch:
            by_hit[a.hit_id].append(a)
        listings = {pool.submit(self._listing, h): h for h in by_hit}
        paid: dict[str, list[Decimal]] = defaultdict(list)
        unlisted: dict[str, str] = {}
        for future in as_completed(listings):
            try:
                for p in future.result():
                    paid[p.assignment_id].append(p.amount)
            except MarketplaceError as exc:
                unlisted[listings[future]] = str(exc)
            except Exception as exc:  # a malformed listing: that HIT's bonuses wait, the rest go on
                unlisted[listings[future]] = f"{type(exc).__name__}: {exc}"

        entries = self.ledger.entries()
        status_of = {a.assignment_id: entries.get(self.ledger.key(a)) for a in actions if a.kind in _TARGET_STATUS}
        to_send = []
        for a in batch:
            change = status_of.get(a.assignment_id)
            if a.assignment_id in paid:
                result = self._settle_paid(a, paid[a.assignment_id], "found by ListBonusPayments")
            elif a.hit_id in unlisted:
                result = self._record(a, FAILED, detail=f"not sent: could not list the HIT's bonuses ({unlisted[a.hit_id]})")
            elif change is not None and change.status == SKIPPED:
                result = self._record(a, SKIPPED, detail=f"not sent: {change.detail}")
            elif change is not None and change.status != DONE:
                result = self._record(a, FAILED, detail="not sent: the approval of this assignment has not succeeded yet")
            else:
                to_send.append(a)
                continue
            finished(a, result)
        return to_send

    def _listing(self, hit_id: str) -> list[BonusPayment]:
        """Every bonus paid for the HIT, each amount checked to be a number."""
        payments = self.market.bonus_payments(hit_id=hit_id)
        for p in payments:
            if not isinstance(p.amount, Decimal) or not p.amount.is_finite():
                raise ValueError(f"the listing has a bonus amount {p.amount!r} for {p.assignment_id}")
        return payments

    # --- Eligible_Worker only after the worker's approvals ---------------------------------

    def _grants_to_send(self, batch: list[Action], actions: list[Action],
                        finished: Callable[[Action, tuple[str, str]], None]) -> list[Action]:
        """Hold back an Eligible_Worker grant unless every approval of that worker in this
        wave is done (work already Approved when read has no approval action). Skipped when
        MTurk forbids the approval, failed (retried next run) when it has not succeeded yet.
        Prev_Worker grants are unconditional."""
        entries = self.ledger.entries()
        approvals: dict[str, list[Action]] = defaultdict(list)
        for a in actions:
            if a.kind is Kind.APPROVE:
                approvals[a.worker_id].append(a)
        to_send = []
        for g in batch:
            mine = approvals.get(g.worker_id, []) if g.role == "eligible_worker" else []
            blocking = [(a, e) for a in mine if (e := entries.get(self.ledger.key(a))) is None or e.status != DONE]
            if not blocking:
                to_send.append(g)
                continue
            a, e = blocking[0]
            if e is not None and e.status == SKIPPED:
                result = self._record(g, SKIPPED, detail=f"not granted: the approval of {a.assignment_id} was "
                                                         f"skipped ({e.detail})")
            else:
                result = self._record(g, FAILED, detail=f"not sent: the approval of {a.assignment_id} has not "
                                                        "succeeded yet")
            finished(g, result)
        return to_send
