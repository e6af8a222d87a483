"""Paying bonuses exactly once, as the executor runs it (SPEC 5, 7, 13).

Before anything is paid, what the panel already shows paid is read (MTurk: one paginated
ListBonusPayments per HIT; Prolific: `bonus_payments`); a bonus already paid with the
plan's amount is `done`, one paid with another amount is left for a person (`failed`).

Each chunk of bonuses then passes its recovery points, each committed before the next
call (the ledger's phases):

    prepared  before the set-up call: a crash here paid nothing, the next run starts over
    paying    the id that pays them, before the pay call: from here the outcome is unknown
              until the panel shows it
    paid      the pay call was accepted (`done`)
    confirmed the panel shows the payment (at once on MTurk; on Prolific, read by a later
              run, since a payment shows "in the following minutes")

A pay whose answer was lost (a crash, a timeout, a 5xx) is settled by reading what the
panel shows paid, for `Marketplace.settle_seconds`. Where paying again pays again
(Prolific: `pay_repeats`) a bonus the panel does not show stays `pending` for a person and
is never paid again by this tool; elsewhere (MTurk: its request token refuses a repeat) it
is `failed` and sent again next run.

Work decided elsewhere (SPEC 13): where payments show late (`payments_show_late`), a bonus
on a submission the panel showed approved or rejected, when this ledger has no record of
sending that decision, may already have been paid by the run that decided it (so may a
compensation, paid on work nobody decides, when other work of the study was decided
elsewhere). It is held back (`pending`, phase `waiting`, with when this ledger first saw
the decision) until the settle window (`Executor.settle`, `[safety] settle_minutes`) has
passed since then (or since the decision, if the panel's time for it is later: work decided
long ago may have had its bonus paid by another run only just now), and then paid only if
the panel still shows no payment. The run exits 2 naming when to run again.

Each function takes the executor that runs it (a `Payer`: a `stages.Sender` that also knows
the decisions read and the settle window) as `stages` does.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from bridge.actions import Action, Kind, bonus_key
from bridge.apply.stages import Finished, Record, Result, Sender
from bridge.ledger import (
    CONFIRMED,
    DONE,
    ELSEWHERE,
    FAILED,
    PAID,
    PAYING,
    PENDING,
    PREPARED,
    SKIPPED,
    WAITING,
    Entry,
    now_text,
    parse_time,
)
from bridge.market import BatchRefused, MarketplaceError, Outcome, Reply
from bridge.models import State
from bridge.money import fmt


class Payer(Sender, Protocol):
    """What paying needs of the executor that runs it (`bridge.apply.executor.Executor`)."""

    decided: dict[str, tuple[State, datetime | None]]  # submission -> (state read, when decided)
    settle: timedelta  # `[safety] settle_minutes`
    clock: Callable[[], datetime]
    wait_until: datetime | None  # set here: the latest time a held-back bonus may be paid

    def split(self, batch: list[Action], send: Callable[[list[Action]], dict[Action, Result]], exc: BatchRefused,
              alone: Callable[[Action, BatchRefused], Result]) -> dict[Action, Result]:
        """A batch refused as a whole, sent again in halves until the refused member is alone."""

    def refused(self, action: Action, exc: BatchRefused) -> Result:
        """Record a member the panel refused alone as failed, with its reason."""

    @property
    def watches_elsewhere(self) -> bool:
        """Whether work decided elsewhere holds its bonus back."""

_DECISIONS = (Kind.APPROVE, Kind.OVERRIDE, Kind.REJECT)


def unknown_outcome(entry: Entry | None) -> bool:
    """A pay sent (or about to be) whose outcome was never recorded: `paying`, or, in a
    ledger older than the phases, pending with the id that pays it."""
    return entry is not None and entry.status == PENDING and (
        entry.phase == PAYING or (bool(entry.batch_id) and entry.phase == ""))


def bonus_jobs(ex: Payer, batch: list[Action], actions: list[Action], was_pending: dict[str, Entry],
               finished: Finished):
    """Settle what the panel already paid, what is unknown and what cannot be paid yet;
    return the jobs that pay the rest."""
    entries = ex.ledger.entries()
    unknown = [a for a in batch if ex.market.pay_repeats and unknown_outcome(was_pending.get(ex.ledger.key(a)))]
    if unknown:  # paid before a crash? only what the panel shows settles it
        finished(settle_unknown(ex, unknown, "the pay's answer was lost in an earlier run", ours=False))
    rest = [a for a in batch if a not in unknown]
    if not rest:
        return []
    paid, unlisted = shown_paid(ex, rest)
    status_of = {a.submission_id: entries.get(ex.ledger.key(a)) for a in actions if a.kind in _DECISIONS}
    to_send: list[Action] = []
    records: list[Record] = []
    shown: list[Record] = []  # already paid on the panel: found, not sent by this run
    waiting: dict[Action, tuple[str, str]] = {}
    for a in rest:
        change = status_of.get(a.submission_id)
        if a.submission_id in paid:
            shown.append(settle_paid(ex, a, paid[a.submission_id], ex.market.words.paid_check))
        elif a.submission_id in unlisted:
            records.append((a, FAILED, "", f"not sent: could not read what {ex.market.panel} already paid "
                                           f"({unlisted[a.submission_id]})", ""))
        elif change is not None and change.status == SKIPPED:
            records.append((a, SKIPPED, "", f"not sent: {change.detail}", ""))
        elif change is not None and change.status != DONE:
            records.append((a, FAILED, "", "not sent: the approval of this submission has not succeeded yet", ""))
        elif (held := _held_back(ex, a, entries)) is not None:
            waiting[a] = held
        else:
            to_send.append(a)
    settled = ex.record_all(records)
    settled.update(_by_original([a for a in rest if a.submission_id in paid], ex.record_all(shown, found=True)))
    for a, (detail, seen_at) in waiting.items():
        ex.ledger.wait(a, detail, seen_at=seen_at)
        settled[a] = (PENDING, detail)
    finished(settled)
    size = ex.market.batch.get(Kind.BONUS, 1)
    return [(Kind.BONUS, ex.job(to_send[i:i + size], lambda chunk: pay(ex, chunk)))
            for i in range(0, len(to_send), max(1, size))]


def _held_back(ex: Payer, action: Action, entries: dict[str, Entry]) -> tuple[str, str] | None:
    """A bonus on work decided elsewhere, while the panel may still be about to show its
    payment: (detail, when first seen) to record it as waiting; None to pay it. Decided
    elsewhere: the plan read it approved or rejected, or the executor found it so before
    sending its own decision (`elsewhere`), and this ledger has no record of sending one."""
    if not ex.watches_elsewhere:
        return None
    decided = ex.decided.get(action.submission_id)
    for kind in _DECISIONS:
        e = entries.get(ex.ledger.key(Action(kind, action.submission_id, action.participant_id, action.task_id)))
        if e is None:
            continue
        if e.phase == ELSEWHERE and decided is None:
            decided = (State.REJECTED if kind is Kind.REJECT else State.APPROVED, None)
        elif e.status in (DONE, PENDING) and e.phase != ELSEWHERE:
            return None  # this ledger sent the decision: the run that did is this one's
    if decided is None and action.kind is Kind.COMPENSATE:
        # A compensation is paid on work nobody decides (returned, timed out): the run that
        # decided the rest of the study may have paid it too.
        if ex.decided or any(e.phase == ELSEWHERE for e in entries.values()):
            decided = (State.OTHER, None)
    if decided is None:
        return None
    state, decided_at = decided
    now = ex.clock()
    mine = entries.get(ex.ledger.key(action))
    seen = (parse_time(mine.seen_at) if mine is not None and mine.phase == WAITING and mine.seen_at else None) or now
    # From when this ledger first saw it decided (or the decision, if later): work decided
    # long ago may have had its bonus paid by another run only just now.
    until = max(seen, decided_at or seen) + ex.settle
    if now >= until:
        return None
    ex.wait_until = max(until, ex.wait_until or until)
    panel, words = ex.market.panel, ex.market.words
    when = f"decided at {decided_at:%Y-%m-%d %H:%M} UTC, " if decided_at else ""
    minutes = f"{ex.settle.total_seconds() / 60:g}"
    what = (f"this {words.submission} {words.of(state)}" if state is not State.OTHER
            else "other work of this study decided")
    detail = (f"decided elsewhere: {panel} shows {what} ({when}first seen so by this ledger at "
              f"{seen:%Y-%m-%d %H:%M:%S} UTC), which this ledger never sent, so another run may have paid this "
              f"bonus, and {panel} shows a payment only some minutes later. Not paid before "
              f"{until:%Y-%m-%d %H:%M:%S} UTC ([safety] settle_minutes = {minutes}); run the same command again "
              f"after that: it is paid then only if {panel} still shows no payment")
    return detail, now_text(seen)


def shown_paid(ex: Payer, actions: list[Action]) -> tuple[dict[str, list[Decimal]], dict[str, str]]:
    """What the panel shows paid on these submissions, each amount checked to be a number."""
    try:
        paid, unlisted = ex.market.paid_bonuses(actions)
    except MarketplaceError as exc:
        return {}, {a.submission_id: str(exc) for a in actions}
    for sid, amounts in list(paid.items()):
        if any(not isinstance(x, Decimal) or not x.is_finite() for x in amounts):
            unlisted[sid] = f"the listing has a bonus amount {amounts!r} for {sid}"
            del paid[sid]
    return paid, unlisted


def pay(ex: Payer, batch: list[Action]) -> dict[Action, Result]:
    """One chunk: set up, then one pay call, each after its recovery point."""
    key = bonus_key(ex.market.environment, ex.ledger.scope_of(batch[0]), [a.submission_id for a in batch])
    ex.ledger.pending(batch, phase=PREPARED)
    try:
        batch_id = ex.market.prepare_bonuses(batch, key)
    except BatchRefused as exc:  # one id the panel will not set up: the others still are
        return ex.split(batch, lambda half: pay(ex, half), exc, ex.refused)
    except MarketplaceError as exc:  # nothing paid: all failed, sent again next run
        return ex.record_all([(a, FAILED, "", str(exc), "") for a in batch])
    ex.ledger.advance(batch, PAYING, batch_id=batch_id)  # durable before the pay call
    try:
        replies = ex.market.pay_bonuses(batch_id, batch)
    except MarketplaceError as exc:
        replies = {a.submission_id: Reply(Outcome.UNKNOWN, str(exc)) for a in batch}
    accepted = PAID if ex.market.payments_show_late else CONFIRMED
    records: list[Record] = []
    unknown: list[Action] = []
    for a in batch:
        reply = replies.get(a.submission_id) or Reply(Outcome.UNKNOWN, f"{ex.market.panel} did not answer")
        if reply.outcome is Outcome.ACCEPTED:
            records.append((a, DONE, reply.request_id, reply.detail, accepted))
        elif reply.outcome is Outcome.UNKNOWN:
            unknown.append(a)
        else:
            records.append((a, FAILED, "", reply.detail, ""))  # refused: nothing paid
    out = ex.record_all(records)
    if unknown:
        first = replies.get(unknown[0].submission_id)
        out.update(settle_unknown(ex, unknown, f"the pay's answer was lost ({first.detail})" if first
                                  else "the pay's answer was lost", ours=True))
    return out


def settle_unknown(ex: Payer, actions: list[Action], why: str, *, ours: bool) -> dict[Action, Result]:
    """A pay whose outcome is unknown: settled by what the panel shows paid, read again for
    `settle_seconds` (payments may show up late). What never shows is `failed` where a
    repeat is refused by the panel (sent again next run), and otherwise stays `pending`,
    for a person: never paid again by this tool. `ours`: this run sent the pay (else an
    earlier run did: what shows paid is found, not sent by this run)."""
    deadline = time.monotonic() + ex.market.settle_seconds
    wait = 0.2
    left = list(actions)
    out: dict[Action, Result] = {}
    while True:
        paid, _ = shown_paid(ex, left)
        found = [a for a in left if a.submission_id in paid]
        out.update(_by_original(found, ex.record_all([settle_paid(ex, a, paid[a.submission_id], why) for a in found],
                                                          found=not ours)))
        left = [a for a in left if a not in found]
        if not left or time.monotonic() + wait > deadline:
            break
        time.sleep(wait)
        wait = min(wait * 2, 5.0)
    panel = ex.market.panel
    if ex.market.pay_repeats:
        records = [(a, PENDING, "", f"outcome unknown ({why}); {panel} does not show this bonus as paid yet. Not paid "
                                    f"again: run again later to settle it, or check it on {panel} (needs a person)",
                    None) for a in left]
    else:
        records = [(a, FAILED, "", f"not shown as paid after {why}; sent again next run", "") for a in left]
    out.update(ex.record_all(records))
    return out


def _by_original(actions: list[Action], results: dict[Action, Result]) -> dict[Action, Result]:
    """Results keyed by the actions given (a record may carry the amount the panel paid)."""
    by_sid = {a.submission_id: r for a, r in results.items()}
    return {a: by_sid[a.submission_id] for a in actions}


def settle_paid(ex: Payer, action: Action, paid: list[Decimal], how: str) -> Record:
    """A bonus the panel already shows on the submission: done (confirmed) when one
    payment is the plan's amount; otherwise never sent automatically, left for a person
    (failed), with what the panel paid as its amount."""
    words = ex.market.words
    if action.amount in paid:
        others = list(paid)
        others.remove(action.amount)
        extra = f"; also paid on this {words.submission}: {', '.join(fmt(a) for a in others)}" if others else ""
        return action, DONE, "", f"already paid {fmt(action.amount)} ({how}){extra}", CONFIRMED
    total = sum(paid, Decimal("0.00"))
    what = (f"a bonus of {fmt(total)} was" if len(paid) == 1
            else f"bonuses of {' + '.join(fmt(a) for a in paid)} = {fmt(total)} were")
    return (dataclasses.replace(action, amount=total), FAILED, "",
            f"{what} already paid on this {words.submission}; the plan says {fmt(action.amount)}: needs a person "
            f"(not sent; {how})", None)


def confirm(ex: Payer, actions: list[Action]) -> None:
    """Bonuses an earlier run paid (`paid`) that the panel now shows with their amount:
    `confirmed`. One reading; an error leaves them as they are."""
    paid, _ = shown_paid(ex, actions)
    shown = [a for a in actions if a.amount in paid.get(a.submission_id, [])]
    if shown:
        ex.ledger.advance(shown, CONFIRMED)
