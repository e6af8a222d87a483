"""The close-out's last steps (SPEC §9), as the executor runs them, each exactly once:

- revokes: one listing of who holds the group now (MTurk's paginated
  ListWorkersWithQualificationType, Prolific's group participants); a participant who
  does not hold it is `done` with nothing sent, the others lose it;
- invitations: only to participants whose Eligible_Worker grant is done, in the chunks the
  panel takes (NotifyWorkers: 100). An invitation that may have gone out without its
  answer coming back (a crash, a 5xx, a dropped connection) is never sent again: it is
  settled as `skipped`, "may have been sent", rather than risk sending it twice. A
  participant the panel says it could not reach is `failed` with the panel's words;
- compensation tasks (a compensation with a submission is a bonus on it, paid by the
  executor's bonus path): the group that limits the task to its participant is found by name
  or created, and recorded in the ledger (`batch_id`) before the task is created; the task
  is found again through that group, and its creation carries a token derived from the
  environment, batch and participant (`task_token`; never the wave's name), so it is
  created once;
- expiries: each task closed once; closing a task again is harmless, so one whose answer
  was lost is simply sent again.

Each function takes the executor that runs it (a `Sender`: its market, ledger, `record`,
`record_all` and `job`) and returns jobs as `Executor._grant_jobs` does; the outcomes of
one call are recorded in one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import partial
from typing import Protocol

from bridge.actions import Action, Kind, task_token
from bridge.ledger import DONE, FAILED, SKIPPED, Entry, Ledger
from bridge.market import Marketplace, MarketplaceError, Outcome, Reply

Result = tuple[str, str]  # (ledger status, detail)
# (action, status, request id, detail, phase or None to keep it): one outcome to record.
Record = tuple[Action, str, str, str, "str | None"]
Finished = Callable[[dict[Action, Result]], None]
Send = Callable[[list[Action]], dict[Action, Result]]


class Sender(Protocol):
    """What a stage needs of the executor that runs it (`bridge.apply.executor.Executor`)."""

    market: Marketplace
    ledger: Ledger

    def record(self, action: Action, status: str, *, request_id: str = "", detail: str = "",
               phase: str | None = None, found: bool = False) -> Result:
        """Record an outcome in the ledger; returns it. `found`: done without this run sending it."""

    def record_all(self, records: Sequence[Record], *, found: bool = False) -> dict[Action, Result]:
        """Record the outcomes of one call in one transaction; returns them. `found`: those
        done were done on the panel without this run sending them."""

    def job(self, batch: list[Action], send: Send) -> Callable[[], dict[Action, Result]]:
        """A job that sends `batch` with `send`, every error placed on its actions."""

MAY_HAVE_BEEN_SENT = "may have been sent"


def _chunks(items: Sequence[Action], size: int) -> list[list[Action]]:
    size = max(1, size)
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def _reply(ex: Sender, replies: dict[str, Reply], key: str) -> Reply:
    return replies.get(key) or Reply.failed(f"{ex.market.panel} did not answer for it")


# --- revokes ------------------------------------------------------------------------------


def revoke_jobs(ex: Sender, batch: list[Action], finished: Finished):
    by_group: dict[str, list[Action]] = defaultdict(list)
    for a in batch:
        by_group[a.group_id].append(a)
    word = ex.market.words.group
    jobs = []
    for group, items in by_group.items():
        try:
            holders = ex.market.group_members(group)
        except MarketplaceError as exc:
            finished(ex.record_all([(a, FAILED, "", f"not sent: could not list who holds {word} {group} ({exc})",
                                     None) for a in items]))
            continue
        finished(ex.record_all([(a, DONE, "", "did not hold it: nothing to revoke", None)
                                for a in items if a.participant_id not in holders], found=True))
        held = [a for a in items if a.participant_id in holders]
        jobs += [(Kind.REVOKE, ex.job(chunk, partial(_revoke, ex, group)))
                 for chunk in _chunks(held, ex.market.batch.get(Kind.REVOKE, 1))]
    return jobs


def _revoke(ex: Sender, group: str, batch: list[Action]) -> dict[Action, Result]:
    ex.ledger.pending(batch)
    replies = ex.market.remove_from_group(group, batch)
    records = []
    for a in batch:
        reply = _reply(ex, replies, a.participant_id)
        records.append((a, DONE if reply.outcome is Outcome.ACCEPTED else FAILED, reply.request_id, reply.detail, None))
    return ex.record_all(records)


# --- invitations --------------------------------------------------------------------------


def notify_jobs(ex: Sender, batch: list[Action], was_pending: dict[str, Entry], finished: Finished):
    """Settle invitations a crash left unanswered (never resent), hold back those whose
    grant is not done, and return the jobs that send the rest."""
    entries = ex.ledger.entries()
    settled: list[Record] = []
    to_send: list[Action] = []
    word = ex.market.words.group
    for a in batch:
        if ex.ledger.key(a) in was_pending:
            settled.append((a, SKIPPED, "", f"{MAY_HAVE_BEEN_SENT}: an earlier run sent it and its answer was lost; "
                                            "not sent again, so no one gets it twice", None))
            continue
        grant = entries.get(ex.ledger.key(Action(Kind.GRANT, participant_id=a.participant_id, group_id=a.group_id)))
        if grant is not None and grant.status == DONE:
            to_send.append(a)
        elif grant is not None and grant.status == SKIPPED:
            settled.append((a, SKIPPED, "", f"not sent: the {word} grant was skipped ({grant.detail})", None))
        else:
            settled.append((a, FAILED, "", f"not sent: the {word} {a.group_id} grant has not succeeded yet", None))
    finished(ex.record_all(settled))
    return [(Kind.NOTIFY, ex.job(chunk, partial(_notify, ex)))
            for chunk in _chunks(to_send, ex.market.batch.get(Kind.NOTIFY, 1))]


def _notify(ex: Sender, batch: list[Action]) -> dict[Action, Result]:
    ex.ledger.pending(batch)  # durable before the call: a crash now is "may have been sent"
    replies = ex.market.notify(batch)
    records: list[Record] = []
    for a in batch:
        reply = _reply(ex, replies, a.participant_id)
        if reply.outcome is Outcome.ACCEPTED:
            records.append((a, DONE, reply.request_id, reply.detail, None))
        elif reply.outcome is Outcome.UNKNOWN:
            records.append((a, SKIPPED, "", f"{MAY_HAVE_BEEN_SENT} ({reply.detail}); not sent again, so no one gets it "
                                            "twice", None))
        else:
            records.append((a, FAILED, "", reply.detail, None))
    return ex.record_all(records)


# --- compensation tasks -------------------------------------------------------------------


def compensate_jobs(ex: Sender, batch: list[Action]):
    return [(Kind.COMPENSATE, ex.job([a], partial(_compensate, ex))) for a in batch]


def _compensate(ex: Sender, batch: list[Action]) -> dict[Action, Result]:
    (a,) = batch
    ex.ledger.pending(a)
    group = ex.market.compensation_group(a)  # MarketplaceError: failed, found by name next run
    ex.ledger.note_batch(a, group)  # durable before the task is created
    reply = ex.market.create_compensation(group, a, task_token(ex.market.environment, ex.ledger.batch,
                                                               a.participant_id))
    if reply.outcome is Outcome.ACCEPTED:
        return {a: ex.record(a, DONE, request_id=reply.request_id, detail=reply.detail)}
    # Whatever happened, the next run finds a task already created through its group.
    return {a: ex.record(a, FAILED, detail=reply.detail)}


# --- expiries -----------------------------------------------------------------------------


def expire_jobs(ex: Sender, batch: list[Action]):
    return [(Kind.EXPIRE, ex.job(chunk, partial(_expire, ex)))
            for chunk in _chunks(batch, ex.market.batch.get(Kind.EXPIRE, 1))]


def _expire(ex: Sender, batch: list[Action]) -> dict[Action, Result]:
    ex.ledger.pending(batch)
    replies = ex.market.expire_tasks(batch)
    records: list[Record] = []
    for a in batch:
        reply = _reply(ex, replies, a.task_id)
        records.append((a, {Outcome.ACCEPTED: DONE, Outcome.REFUSED: SKIPPED}.get(reply.outcome, FAILED),
                        reply.request_id, reply.detail, None))
    return ex.record_all(records)
