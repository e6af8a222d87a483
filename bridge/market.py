"""The one seam between applying a plan and a panel: the `Marketplace` protocol.

The verbs are batch-shaped: the executor hands a panel's adapter as many items per call as
the adapter says it takes (`batch`), and the adapter answers, per submission, what the
panel *accepted* (`Reply`). MTurk's adapter takes one item a call and the executor runs
several calls at once; Prolific's takes up to 1,000 approvals or 200 bonuses in one call.
Adapters live in their panel's folder (`bridge.panels.<panel>.adapter`).

Errors the adapter cannot place on one item come out as `MarketplaceError` (a code and a
message, never a credential; `transient` when the service was down, throttling or did not
answer, so running again later may succeed). A batch the panel refused as a whole for a
reason it placed on no item (one unknown or already-decided id among many) comes out as
`BatchRefused`: nothing in it was done, and the executor sends it again in halves until the
member at fault is alone (SPEC §12).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from bridge.models import State

if TYPE_CHECKING:
    from bridge.actions import Action, Kind


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # the panel took the change (for bonuses: the payment)
    REFUSED = "refused"  # the submission's state no longer allows it (`Reply.state` says which)
    FAILED = "failed"  # an error after which nothing changed: safe to send again
    UNKNOWN = "unknown"  # an error after which the change may have happened


@dataclass(frozen=True, slots=True)
class Reply:
    outcome: Outcome
    detail: str = ""
    request_id: str = ""
    state: State | None = None  # REFUSED: the state the submission is in, when known

    @classmethod
    def accepted(cls, request_id: str = "", detail: str = "") -> "Reply":
        return cls(Outcome.ACCEPTED, detail, request_id)

    @classmethod
    def failed(cls, detail: str) -> "Reply":
        return cls(Outcome.FAILED, detail)


@dataclass(frozen=True, slots=True)
class Words:
    """How a panel says things in the ledger's details and the Log."""

    status: Mapping[State, str]  # the panel's own word for a state ("Approved", "APPROVED")
    submission: str = "submission"  # "assignment" on MTurk
    group: str = "group"  # what a group is called ("qualification", "participant group")
    state_check: str = "checked"  # how a state was read ("checked with GetAssignment")
    paid_check: str = "shown paid"  # how paid bonuses were read ("found by ListBonusPayments")

    def of(self, state: State) -> str:
        return self.status.get(state, state.value)


class MarketplaceError(Exception):
    """An answer other than success that is not about one item: the service's code and message.
    `transient`: the service was down, throttled or gave no answer (not a refusal of the
    request): the same call may succeed later."""

    def __init__(self, code: str, message: str, service_code: str | None = None, *, transient: bool = False):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.service_code = service_code
        self.transient = transient

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class BatchRefused(MarketplaceError):
    """The panel refused a batch call as a whole (a validation error, such as one unknown or
    already-decided id among many) without placing it on one item; nothing in the batch was
    done. Never raised for a fault (5xx, timeout, throttling) or a refusal of the token."""


class Marketplace(Protocol):
    """What applying a plan needs from a panel."""

    environment: str  # canonical (`Panel.canonical_environment`): part of every ledger key
    panel: str  # "MTurk", "Prolific"
    where: str  # the environment for a person: "the MTurk sandbox", "Prolific at http://..."
    group_hint: str  # after "no such group in <where>": what to check
    words: Words
    requests: int  # HTTP requests made so far, retries included
    batch: Mapping[Kind, int]  # items per call, by kind (missing: 1)
    workers: Mapping[Kind, int]  # calls in flight at once, by kind (missing: 1)
    # True when paying a bonus twice pays it twice and nothing on the panel refuses a
    # repeat (Prolific): a pay whose outcome is unknown is then only ever settled by
    # reading what the panel shows paid, never sent again.
    pay_repeats: bool
    # True when `states` reads a whole study in one listing (Prolific): before asking, the run
    # then reads what is already done on the panel, so "To send" and its cost leave it out.
    states_in_bulk: bool
    # Seconds to keep reading what the panel shows paid before leaving an unknown pay for a
    # person (payments may show up some time after they were accepted).
    settle_seconds: float
    # True when an accepted payment shows on the submission only some minutes later
    # (Prolific): a bonus on work another run decided then waits for `[safety]
    # settle_minutes` before it is paid (SPEC 13). False when the panel shows it at once
    # and refuses a repeat by itself (MTurk's listing and token).
    payments_show_late: bool

    def account_balance(self) -> Decimal: ...
    def group_exists(self, group_id: str) -> bool: ...
    def states(self, actions: Sequence[Action]) -> dict[str, State]:
        """Each submission's state now, by submission id."""
    def approve(self, actions: Sequence[Action]) -> dict[str, Reply]: ...
    def reject(self, action: Action) -> Reply: ...
    def paid_bonuses(self, actions: Sequence[Action]) -> tuple[dict[str, list[Decimal]], dict[str, str]]:
        """(amounts the panel shows paid, by submission id; submissions it could not
        list, with why). Only submissions of `actions` need be answered for."""
    def prepare_bonuses(self, actions: Sequence[Action], key: str) -> str:
        """Set the bonuses up; returns the id that pays them (raises MarketplaceError).
        `key` is deterministic for these bonuses (`bonus_key`): an idempotency token."""
    def pay_bonuses(self, batch_id: str, actions: Sequence[Action]) -> dict[str, Reply]: ...
    def add_to_group(self, group_id: str, actions: Sequence[Action]) -> dict[str, Reply]: ...

    # --- the rest of a close-out (SPEC §9); a panel that cannot do one answers a Reply
    # `failed` (or raises MarketplaceError) that says so --------------------------------

    def override(self, actions: Sequence[Action]) -> dict[str, Reply]:
        """Approve work the panel has as rejected; replies by submission id (REFUSED with
        the state when the work is in another state)."""
    def group_members(self, group_id: str) -> set[str]:
        """Every participant who holds the group now (all pages; raises MarketplaceError)."""
    def remove_from_group(self, group_id: str, actions: Sequence[Action]) -> dict[str, Reply]:
        """Take the group back; replies by participant id. Removing someone who does not
        hold it is `accepted` (nothing to do)."""
    def notify(self, actions: Sequence[Action]) -> dict[str, Reply]:
        """Send the actions' message (their `subject` and `text`) to their participants in
        one call; replies by participant id. Never repeated by the adapter after an error
        that may have come after the message went out: that reply is UNKNOWN."""
    def compensation_group(self, action: Action) -> str:
        """The id of the group that limits `action`'s compensation task to its participant
        (named `action.group_id`): found by that name, else created. Raises MarketplaceError."""
    def create_compensation(self, group_id: str, action: Action, token: str) -> Reply:
        """Grant the group to the participant and create their task (once: found again
        through the group, and `token` is the creation's idempotency token). Accepted with
        the task's id as `request_id`."""
    def expire_tasks(self, actions: Sequence[Action]) -> dict[str, Reply]:
        """Close each action's task to new participants now; replies by task id."""

    # --- the checks that keep a plan to its own task and its own money (SPEC §12) -------

    def outside_task(self, actions: Sequence[Action]) -> dict[str, str]:
        """The submissions among `actions` that the panel shows in another task than the
        wave's, each with that task's id (an unknown id is not listed: it fails alone when
        sent). A panel that cannot tell cheaply answers {}."""
    def bonus_cost(self) -> Decimal | None:
        """What the panel has charged in bonuses (without fees) on the wave's task, major
        units; None when the panel does not say (raises MarketplaceError)."""
