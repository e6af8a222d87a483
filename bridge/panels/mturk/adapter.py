"""MTurk behind the `Marketplace` seam (`bridge.market`): exactly the MTurk calls
applying a plan needs, over a boto3 `mturk` client.

One assignment per call and several calls at once; bonuses carry a deterministic
`UniqueRequestToken` and are checked against ListBonusPayments. Errors come out as
`MarketplaceError` or a `Reply` per assignment (code and message, never credentials).

The rest of a close-out (SPEC §9): overrides (ApproveAssignment with OverrideRejection),
revokes (DisassociateQualificationFromWorker; a worker who does not hold it is nothing to
do), invitations (NotifyWorkers, 100 workers a call, through a client that never repeats
a call after a 5xx or a dropped answer: a repeat could send the message twice; throttling
is waited out, it means MTurk did nothing), compensation HITs (a qualification type per
worker, found by name before it is created; the HIT found through it before it is created,
and created with a UniqueRequestToken) and expiries (UpdateExpirationForHIT to a past time).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError

from bridge.actions import Action, Kind, bonus_key
from bridge.market import MarketplaceError, Outcome, Reply, Words
from bridge.models import State
from bridge.money import fmt
from bridge.netloc import is_local_endpoint
from bridge.panels.mturk.api import ENDPOINTS, describe_environment, make_mturk_client
from bridge.panels.mturk.compensation import compensation_question
from bridge.panels.mturk.words import STATES

DEFAULT_WORKERS = 8
# Enough attempts that a 30% fault rate rarely exhausts them; adaptive mode adds the
# client-side rate limiter so throttling is met by slowing down, not by hammering.
DEFAULT_MAX_ATTEMPTS = 6
_STATUS_CONFLICT = re.compile(r"can be called with a status of", re.IGNORECASE)


_REAL_HOSTS = {urlsplit(url).hostname: name for name, url in ENDPOINTS.items()}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_environment(environment: str) -> str:
    """The one spelling of an environment used for ledger keys, bonus tokens and the
    production label.

    The real endpoints (with or without a trailing `/`) are `production` and `sandbox`;
    any loopback URL (127.0.0.0/8, ::1, localhost, any port: the emulator) is `local`;
    another URL keeps its scheme, host (lower case), port (unless the default) and path,
    without a trailing `/`. A name such as `sandbox` stays as given.
    """
    env = environment.strip()
    parts = urlsplit(env)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return env
    host = parts.hostname.lower()  # urlsplit strips IPv6 brackets
    path = parts.path.rstrip("/")
    try:
        port = parts.port
    except ValueError:  # not a number: keep the URL as written, only tidied
        return env.rstrip("/")
    if is_local_endpoint(env):
        return "local"
    if host in _REAL_HOSTS and not path:  # whatever scheme or port: never treat real money as a test
        return _REAL_HOSTS[host]
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{path}"


def bonus_token(environment: str, hit_id: str, assignment_id: str) -> str:
    """SendBonus's UniqueRequestToken: the same bonus always carries the same token.

    64 hex characters, the model's maximum length, from the environment, the assignment's
    HIT and the assignment (never the wave's name: a renamed wave sends the same token).
    The environment is taken in its canonical spelling, so an emulator on another port or
    `localhost` for `127.0.0.1` gives the same token.
    """
    return bonus_key(canonical_environment(environment), hit_id, [assignment_id])


def _error(exc: Exception) -> MarketplaceError:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = err.get("Code", "Unknown")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return MarketplaceError(code, err.get("Message", ""), exc.response.get("TurkErrorCode"),
                                transient=code in _TRANSIENT or status >= 500)
    # connection refused, timeouts, ...: the service did not answer (no credentials: a setting)
    return MarketplaceError(type(exc).__name__, str(exc), transient=type(exc).__name__ in _TRANSIENT
                            or isinstance(exc, (ConnectionError, TimeoutError, HTTPClientError)))


def status_conflict(exc: MarketplaceError) -> bool:
    """Approve/reject of work no longer Submitted."""
    return exc.service_code == "AWS.MechanicalTurk.InvalidAssignmentState" or bool(
        _STATUS_CONFLICT.search(exc.message))


def duplicate_token(exc: MarketplaceError) -> bool:
    """A UniqueRequestToken already processed in the last 24 hours."""
    return "idempotency token" in exc.message.lower() or exc.service_code == "AWS.MechanicalTurk.DuplicateRequest"


def _request_id(response: dict) -> str:
    return response.get("ResponseMetadata", {}).get("RequestId", "")


# A 5xx or a dropped connection after botocore's retries: the change may have been made.
_UNSURE = ("ServiceFault", "ServiceUnavailable", "InternalFailure", "ConnectionClosedError", "ReadTimeoutError",
           "EndpointConnectionError", "ConnectTimeoutError")
# The service was down or busy (not a refusal): running again later may succeed.
_TRANSIENT = frozenset({*_UNSURE, "ThrottlingException", "RequestLimitExceeded", "ServiceUnavailableException"})
# Errors after which a call cannot have been acted on (the connection was never made).
_NEVER_SENT = ("EndpointConnectionError", "ConnectTimeoutError")
NOTIFY_BATCH = 100  # NotifyWorkers' WorkerIds (FORMATS.md)
THROTTLE_WAITS = (0.5, 1, 2, 4, 8, 8)  # seconds between tries of a call that must not be repeated blindly
# A compensation HIT (SPEC §9): open long enough to be found, paid soon after it is submitted
# (it exists only to pay its one worker), one assignment. Unconfirmed best practice: chosen here.
COMPENSATION_LIFETIME = 14 * 24 * 3600
COMPENSATION_DURATION = 3600
COMPENSATION_AUTO_APPROVAL = 3600
_PAST = datetime(2015, 1, 1, tzinfo=timezone.utc)  # UpdateExpirationForHIT: a past time expires the HIT now
WORDS = Words(status={State.PENDING: "Submitted", State.APPROVED: "Approved", State.REJECTED: "Rejected"},
              submission="assignment", group="qualification", state_check="checked with GetAssignment",
              paid_check="found by ListBonusPayments")


class MTurkMarketplace:
    """`Marketplace` over boto3: one item per call, several calls at once, one client per
    thread, made on first use by `make_client`.

    Per-thread clients each carry botocore's adaptive rate limiter. One client shared by
    all threads also works, but its single limiter, after the first throttle, drops the
    whole run to a few calls per second and recovers slowly (about 28 calls/s against a
    40/s limit in bench/apply.py, against 35-38 with per-thread clients).
    """

    panel = "MTurk"
    words = WORDS
    batch: dict = {Kind.NOTIFY: NOTIFY_BATCH}  # otherwise one item per call
    pay_repeats = False  # a repeated UniqueRequestToken is refused by MTurk itself
    states_in_bulk = False  # GetAssignment, one call per assignment
    settle_seconds = 0.0  # ListBonusPayments shows a bonus as soon as SendBonus answers
    payments_show_late = False

    def __init__(self, make_client: Callable[[], Any], environment: str, *, workers: int = DEFAULT_WORKERS,
                 make_once_client: Callable[[], Any] | None = None):
        self._make_client = make_client
        # For calls that must never be repeated by botocore (NotifyWorkers): no retries.
        self._make_once_client = make_once_client or make_client
        self.environment = canonical_environment(environment)
        self.where = describe_environment(self.environment if self.environment in ENDPOINTS else environment)
        self.group_hint = " (sandbox and production qualification type ids differ)"
        self.workers = {kind: workers for kind in Kind}
        self._local = threading.local()
        self._making = threading.Lock()  # boto3 sessions are not thread-safe: one client at a time
        self._counting = threading.Lock()
        self.requests = 0  # HTTP attempts, retries included

    @property
    def client(self):
        return self._client("client", self._make_client)

    @property
    def once_client(self):
        """A client that never repeats a call (botocore retries nothing)."""
        return self._client("once_client", self._make_once_client)

    def _client(self, name: str, make: Callable[[], Any]):
        c = getattr(self._local, name, None)
        if c is None:
            with self._making:
                c = make()
            c.meta.events.register("before-send", self._count)
            setattr(self._local, name, c)
        return c

    def _count(self, **kwargs) -> None:
        with self._counting:
            self.requests += 1

    def _call(self, operation: str, **params) -> dict:
        try:
            return getattr(self.client, operation)(**params)
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc) from None

    def _status_reply(self, operation: str, **params) -> Reply:
        try:
            return Reply.accepted(_request_id(self._call(operation, **params)))
        except MarketplaceError as exc:
            if status_conflict(exc):
                return Reply(Outcome.REFUSED, str(exc))
            return Reply.failed(str(exc))

    def account_balance(self) -> Decimal:
        return Decimal(self._call("get_account_balance")["AvailableBalance"])

    def assignment_status(self, assignment_id: str) -> str:
        return self._call("get_assignment", AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"]

    def states(self, actions: Sequence[Action]) -> dict[str, State]:
        """GetAssignment for each (used for the few a crash or a refusal left unsure)."""
        return {a.submission_id: STATES.get(self.assignment_status(a.submission_id), State.OTHER) for a in actions}

    def approve(self, actions: Sequence[Action]) -> dict[str, Reply]:
        return {a.submission_id: self._status_reply("approve_assignment", AssignmentId=a.submission_id)
                for a in actions}

    def reject(self, action: Action) -> Reply:
        return self._status_reply("reject_assignment", AssignmentId=action.submission_id,
                                  RequesterFeedback=action.text)

    def paid_bonuses(self, actions: Sequence[Action]) -> tuple[dict[str, list[Decimal]], dict[str, str]]:
        """Every bonus paid on the actions' HITs: one paginated ListBonusPayments per HIT."""
        by_hit: dict[str, list[str]] = {}
        for a in actions:
            by_hit.setdefault(a.task_id, []).append(a.submission_id)
        paid: dict[str, list[Decimal]] = {}
        unlisted: dict[str, str] = {}
        for hit_id, ids in by_hit.items():
            try:
                for p in self.bonus_payments(hit_id=hit_id):
                    paid.setdefault(p.assignment_id, []).append(p.amount)
            except MarketplaceError as exc:
                unlisted.update(dict.fromkeys(ids, str(exc)))
            except (KeyError, TypeError, ArithmeticError) as exc:  # a malformed listing
                unlisted.update(dict.fromkeys(ids, f"{type(exc).__name__}: {exc}"))
        return paid, unlisted

    def bonus_payments(self, *, hit_id: str | None = None, assignment_id: str | None = None) -> list[BonusPayment]:
        """Every bonus paid for a HIT (or one assignment): one paginated listing."""
        params = {"HITId": hit_id} if hit_id else {"AssignmentId": assignment_id}
        out: list[BonusPayment] = []
        try:
            for page in self.client.get_paginator("list_bonus_payments").paginate(
                **params, PaginationConfig={"PageSize": 100}
            ):
                out += [
                    BonusPayment(b["WorkerId"], b["AssignmentId"], Decimal(b["BonusAmount"]))
                    for b in page.get("BonusPayments", [])
                ]
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc) from None
        return out

    def prepare_bonuses(self, actions: Sequence[Action], key: str) -> str:
        """No call: the bonus's deterministic key (`bonus_key`) is its UniqueRequestToken."""
        return key

    def pay_bonuses(self, batch_id: str, actions: Sequence[Action]) -> dict[str, Reply]:
        (a,) = actions
        try:
            response = self._call("send_bonus", WorkerId=a.participant_id, AssignmentId=a.submission_id,
                                  BonusAmount=fmt(a.amount), Reason=a.text, UniqueRequestToken=batch_id)
        except MarketplaceError as exc:
            # A retry whose first attempt got through (the answer was lost) meets its own
            # token; a 5xx after the retries may have paid: both are settled by listing.
            unsure = duplicate_token(exc) or exc.code in _UNSURE
            return {a.submission_id: Reply(Outcome.UNKNOWN if unsure else Outcome.FAILED, str(exc))}
        return {a.submission_id: Reply.accepted(_request_id(response))}

    def group_exists(self, group_id: str) -> bool:
        try:
            self._call("get_qualification_type", QualificationTypeId=group_id)
        except MarketplaceError as exc:
            if exc.service_code == "AWS.MechanicalTurk.QualificationTypeDoesNotExist" or "does not exist" in exc.message:
                return False
            raise
        return True

    def add_to_group(self, group_id: str, actions: Sequence[Action]) -> dict[str, Reply]:
        out = {}
        for a in actions:
            try:
                out[a.participant_id] = Reply.accepted(_request_id(self._call(
                    "associate_qualification_with_worker", QualificationTypeId=group_id, WorkerId=a.participant_id,
                    IntegerValue=a.value, SendNotification=False)))
            except MarketplaceError as exc:
                out[a.participant_id] = Reply.failed(str(exc))
        return out


    # --- the rest of a close-out (SPEC §9) -------------------------------------------------

    def override(self, actions: Sequence[Action]) -> dict[str, Reply]:
        """ApproveAssignment with OverrideRejection (a Rejected assignment submitted in the
        last 30 days, FORMATS.md). Work in another state is REFUSED (the executor reads it)."""
        return {a.submission_id: self._status_reply("approve_assignment", AssignmentId=a.submission_id,
                                                    OverrideRejection=True) for a in actions}

    def _paginate(self, operation: str, key: str, **params) -> list[dict]:
        out: list[dict] = []
        try:
            for page in self.client.get_paginator(operation).paginate(**params, PaginationConfig={"PageSize": 100}):
                out += page.get(key) or []
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc) from None
        return out

    def group_members(self, group_id: str) -> set[str]:
        """Every worker who holds the qualification now (paginated ListWorkersWithQualificationType)."""
        return {q["WorkerId"] for q in self._paginate("list_workers_with_qualification_type", "Qualifications",
                                                      QualificationTypeId=group_id, Status="Granted")}

    def remove_from_group(self, group_id: str, actions: Sequence[Action]) -> dict[str, Reply]:
        out = {}
        for a in actions:
            try:
                out[a.participant_id] = Reply.accepted(_request_id(self._call(
                    "disassociate_qualification_from_worker", QualificationTypeId=group_id,
                    WorkerId=a.participant_id)), detail="revoked")
            except MarketplaceError as exc:
                if not_held(exc):  # already revoked (a retry whose first try got through), or never held
                    out[a.participant_id] = Reply.accepted(detail=f"did not hold it ({exc.message})")
                else:
                    out[a.participant_id] = Reply.failed(str(exc))
        return out

    def _once(self, operation: str, **params) -> dict:
        """One call that is never repeated after it may have reached MTurk; ThrottlingException
        (MTurk did nothing) is waited out."""
        for wait in (*THROTTLE_WAITS, None):
            try:
                return getattr(self.once_client, operation)(**params)
            except (ClientError, BotoCoreError) as exc:
                error = _error(exc)
                if error.code != "ThrottlingException" or wait is None:
                    raise error from None
            time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def notify(self, actions: Sequence[Action]) -> dict[str, Reply]:
        """One NotifyWorkers for up to 100 workers; a worker in NotifyWorkersFailureStatuses
        is `failed` with MTurk's words; an error after which the message may have gone out
        is UNKNOWN (never sent again)."""
        ids = list(dict.fromkeys(a.participant_id for a in actions))
        first = actions[0]
        try:
            response = self._once("notify_workers", Subject=first.subject, MessageText=first.text, WorkerIds=ids)
        except MarketplaceError as exc:
            unsure = exc.code in _UNSURE and exc.code not in _NEVER_SENT
            return {w: Reply(Outcome.UNKNOWN if unsure else Outcome.FAILED, str(exc)) for w in ids}
        failures = {f.get("WorkerId"): f for f in response.get("NotifyWorkersFailureStatuses") or []}
        out = {}
        for w in ids:
            f = failures.get(w)
            if f is None:
                out[w] = Reply.accepted(_request_id(response), "sent (NotifyWorkers)")
            else:
                out[w] = Reply.failed(f"{f.get('NotifyWorkersFailureCode', 'Failure')}: "
                                      f"{f.get('NotifyWorkersFailureMessage', '')}")
        return out

    def _qualification_type_named(self, name: str) -> str | None:
        for qt in self._paginate("list_qualification_types", "QualificationTypes", Query=name,
                                 MustBeRequestable=False, MustBeOwnedByCaller=True):
            if qt.get("Name") == name:
                return qt["QualificationTypeId"]
        return None

    def compensation_group(self, action: Action) -> str:
        """The worker's own qualification type, named `action.group_id`: found by name
        (ListQualificationTypes), else created (CreateQualificationType has no idempotency
        token: a create whose answer was lost meets the name already taken, and is found)."""
        name = action.group_id
        found = self._qualification_type_named(name)
        if found:
            return found
        try:
            return self._call("create_qualification_type", Name=name, QualificationTypeStatus="Active",
                              Description=f"Granted only to worker {action.participant_id}: the compensation HIT "
                                          "made for them requires it.")["QualificationType"]["QualificationTypeId"]
        except MarketplaceError as exc:
            found = self._qualification_type_named(name)
            if found:
                return found
            raise exc from None

    def _task_of(self, group_id: str) -> str | None:
        hits = self._paginate("list_hits_for_qualification_type", "HITs", QualificationTypeId=group_id)
        return hits[0]["HITId"] if hits else None

    def create_compensation(self, group_id: str, action: Action, token: str) -> Reply:
        """Grant the worker their qualification (once: MTurk emails them about it), then find
        the HIT that requires it (ListHITsForQualificationType) or create it (CreateHIT with
        `token`: a repeat within 24 hours is refused, and is found through the type)."""
        worker = action.participant_id
        try:
            if worker not in self.group_members(group_id):
                self._call("associate_qualification_with_worker", QualificationTypeId=group_id, WorkerId=worker,
                           IntegerValue=1, SendNotification=True)
            found = self._task_of(group_id)
            if found:
                return Reply.accepted(found, f"HIT {found} for {worker} (found by ListHITsForQualificationType)")
        except MarketplaceError as exc:
            return Reply.failed(str(exc))
        try:
            hit = self._call("create_hit", Title=action.subject, Description=action.text, Keywords="compensation",
                             Reward=fmt(action.amount), MaxAssignments=1, LifetimeInSeconds=COMPENSATION_LIFETIME,
                             AssignmentDurationInSeconds=COMPENSATION_DURATION,
                             AutoApprovalDelayInSeconds=COMPENSATION_AUTO_APPROVAL,
                             Question=compensation_question(action.subject, action.text, self.environment),
                             RequesterAnnotation=action.group_id[:255], UniqueRequestToken=token,
                             QualificationRequirements=[{"QualificationTypeId": group_id, "Comparator": "Exists",
                                                         "ActionsGuarded": "DiscoverPreviewAndAccept"}])["HIT"]
        except MarketplaceError as exc:
            try:  # a repeated token, or an answer lost after MTurk created it: look again
                found = self._task_of(group_id)
            except MarketplaceError:
                found = None
            if found:
                return Reply.accepted(found, f"HIT {found} for {worker} (created earlier; {exc.code})")
            return Reply.failed(str(exc))
        return Reply.accepted(hit["HITId"], f"HIT {hit['HITId']} created for {worker}")

    def expire_tasks(self, actions: Sequence[Action]) -> dict[str, Reply]:
        """UpdateExpirationForHIT to a past time: the HIT expires now (no new worker can
        accept it; work already accepted can still be submitted). A HIT MTurk no longer
        lists as live (deleted) is REFUSED: nothing to close."""
        out = {}
        for a in actions:
            try:
                out[a.task_id] = Reply.accepted(_request_id(self._call(
                    "update_expiration_for_hit", HITId=a.task_id, ExpireAt=_PAST)), "expired (UpdateExpirationForHIT)")
            except MarketplaceError as exc:
                gone = status_conflict(exc) or exc.service_code == "AWS.MechanicalTurk.HITDoesNotExist"
                out[a.task_id] = Reply(Outcome.REFUSED, str(exc)) if gone else Reply.failed(str(exc))
        return out

    def outside_task(self, actions: Sequence[Action]) -> dict[str, str]:
        return {}  # one GetAssignment each: the batch file's HITIds are checked against hit_ids instead

    def bonus_cost(self) -> Decimal | None:
        return None  # MTurk has no per-HIT cost to read back; ListBonusPayments guards each bonus


def not_held(exc: MarketplaceError) -> bool:
    """DisassociateQualificationFromWorker of a qualification the worker does not hold."""
    return exc.service_code == "AWS.MechanicalTurk.QualificationDoesNotExist" or \
        "requested a Qualification that does not exist" in exc.message


@dataclass(frozen=True, slots=True)
class BonusPayment:
    worker_id: str
    assignment_id: str
    amount: Decimal


def connect(environment: str, *, profile: str | None = None, max_attempts: int = DEFAULT_MAX_ATTEMPTS,
            workers: int = DEFAULT_WORKERS) -> MTurkMarketplace:
    """A marketplace for `environment` (sandbox | production | http URL).

    Clients come from `bridge.panels.mturk.api.make_mturk_client` (the same endpoints and
    credential rules as reading HITs: boto3's own chain only, dummy keys for a local
    emulator, adaptive retries). The first one is made here, so missing credentials for a
    real endpoint fail now, as one InputError naming the environment, before any request.
    """
    def make_client():
        return make_mturk_client(environment, profile=profile, max_attempts=max_attempts)

    def make_once_client():  # botocore retries nothing (max_attempts counts retries after the first try)
        return make_mturk_client(environment, profile=profile, max_attempts=0)

    market = MTurkMarketplace(make_client, environment, workers=workers, make_once_client=make_once_client)
    market.client  # noqa: B018 - resolve credentials now, on the caller's thread
    return market
