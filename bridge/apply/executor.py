"""Send a plan's actions exactly once: ledger first, then MTurk, then ledger again.

Stages run in SPEC order (approvals and rejections, bonuses, qualification grants), each
through a bounded thread pool. Nothing is sent twice:

- an action `done` or `skipped` in the ledger is not sent again;
- an approval/rejection left `pending` by a crash is checked with GetAssignment first, and
  one MTurk refuses because the work is no longer Submitted is confirmed the same way;
- bonuses are checked against ListBonusPayments (one paginated listing per HIT) right
  before sending, since UniqueRequestTokens are forgotten after 24 hours; each still
  carries a deterministic token so a retry within a day is refused by MTurk itself;
- qualification grants are idempotent and are simply sent again.

Throttling and 5xx faults are retried inside botocore (adaptive mode); what still fails is
recorded `failed` with its error, and the next run retries it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from bridge.apply.actions import LABELS, STAGES, Action, Kind, bonus_token
from bridge.apply.client import DEFAULT_WORKERS, BonusPayment, Marketplace, MarketplaceError
from bridge.apply.ledger import DONE, FAILED, FINAL, PENDING, SKIPPED, Ledger
from bridge.money import fmt

# (completed, total, what is being sent); called on the caller's thread.
Progress = Callable[[int, int, str], None]
_TARGET_STATUS = {Kind.APPROVE: "Approved", Kind.REJECT: "Rejected"}


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
            return self._record(action, SKIPPED, detail=f"{status} on MTurk; not {action.kind.value}d")
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
            if exc.duplicate_token and self.market.bonus_payments(assignment_id=action.assignment_id):
                return self._record(action, DONE, detail="paid by an earlier attempt (token already processed)")
            return self._record(action, FAILED, detail=str(exc))
        return self._record(action, DONE, request_id=request_id)

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
        listings = {pool.submit(self.market.bonus_payments, hit_id=h): h for h in by_hit}
        paid: dict[str, BonusPayment] = {}
        unlisted: dict[str, str] = {}
        for future in as_completed(listings):
            try:
                paid.update((p.assignment_id, p) for p in future.result())
            except MarketplaceError as exc:
                unlisted[listings[future]] = str(exc)

        entries = self.ledger.entries()
        status_of = {a.assignment_id: entries.get(self.ledger.key(a)) for a in actions if a.kind in _TARGET_STATUS}
        to_send = []
        for a in batch:
            change = status_of.get(a.assignment_id)
            if a.assignment_id in paid:
                p = paid[a.assignment_id]
                note = "" if p.amount == a.amount else f"; the plan says {fmt(a.amount)}"
                result = self._record(a, DONE, detail=f"already paid {fmt(p.amount)} (found by ListBonusPayments){note}")
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
