"""The one narrow seam to the marketplace: exactly the MTurk calls applying a plan needs.

`Marketplace` is the protocol the executor talks to; `MTurkMarketplace` implements it over
a boto3 `mturk` client. Another panel can plug in by implementing the same few methods.
Errors come out as `MarketplaceError` (code and message, never credentials).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from bridge.money import fmt
from bridge.panels.mturk.api import ENDPOINTS, is_local_endpoint, make_mturk_client

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


@dataclass(frozen=True, slots=True)
class BonusPayment:
    worker_id: str
    assignment_id: str
    amount: Decimal


class MarketplaceError(Exception):
    """An answer other than success: the service's error code and message."""

    def __init__(self, code: str, message: str, turk_code: str | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.turk_code = turk_code

    @property
    def status_conflict(self) -> bool:
        """Approve/reject of work no longer Submitted."""
        return self.turk_code == "AWS.MechanicalTurk.InvalidAssignmentState" or bool(
            _STATUS_CONFLICT.search(self.message)
        )

    @property
    def duplicate_token(self) -> bool:
        """A UniqueRequestToken already processed in the last 24 hours."""
        return "idempotency token" in self.message.lower() or self.turk_code == "AWS.MechanicalTurk.DuplicateRequest"

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class Marketplace(Protocol):
    """What applying a plan needs from a panel; every call returns the request id."""

    environment: str

    def account_balance(self) -> Decimal: ...
    def assignment_status(self, assignment_id: str) -> str: ...
    def approve(self, assignment_id: str) -> str: ...
    def reject(self, assignment_id: str, feedback: str) -> str: ...
    def send_bonus(self, worker_id: str, assignment_id: str, amount: Decimal, reason: str, token: str) -> str: ...
    def bonus_payments(self, *, hit_id: str | None = None, assignment_id: str | None = None) -> list[BonusPayment]: ...
    def grant_qualification(self, qualification_type_id: str, worker_id: str, value: int) -> str: ...
    def qualification_type_exists(self, qualification_type_id: str) -> bool: ...


def _error(exc: Exception) -> MarketplaceError:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return MarketplaceError(err.get("Code", "Unknown"), err.get("Message", ""), exc.response.get("TurkErrorCode"))
    return MarketplaceError(type(exc).__name__, str(exc))  # connection refused, timeouts, ...


def _request_id(response: dict) -> str:
    return response.get("ResponseMetadata", {}).get("RequestId", "")


class MTurkMarketplace:
    """`Marketplace` over boto3: one client per thread, made on first use by `make_client`.

    Per-thread clients each carry botocore's adaptive rate limiter. One client shared by
    all threads also works, but its single limiter, after the first throttle, drops the
    whole run to a few calls per second and recovers slowly (about 28 calls/s against a
    40/s limit in bench/apply.py, against 35-38 with per-thread clients).
    """

    def __init__(self, make_client: Callable[[], Any], environment: str):
        self._make_client = make_client
        self.environment = environment
        self._local = threading.local()
        self._making = threading.Lock()  # boto3 sessions are not thread-safe: one client at a time
        self._counting = threading.Lock()
        self.requests = 0  # HTTP attempts, retries included

    @property
    def client(self):
        c = getattr(self._local, "client", None)
        if c is None:
            with self._making:
                c = self._make_client()
            c.meta.events.register("before-send", self._count)
            self._local.client = c
        return c

    def _count(self, **kwargs) -> None:
        with self._counting:
            self.requests += 1

    def _call(self, operation: str, **params) -> dict:
        try:
            return getattr(self.client, operation)(**params)
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc) from None

    def account_balance(self) -> Decimal:
        return Decimal(self._call("get_account_balance")["AvailableBalance"])

    def assignment_status(self, assignment_id: str) -> str:
        return self._call("get_assignment", AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"]

    def approve(self, assignment_id: str) -> str:
        return _request_id(self._call("approve_assignment", AssignmentId=assignment_id))

    def reject(self, assignment_id: str, feedback: str) -> str:
        return _request_id(self._call("reject_assignment", AssignmentId=assignment_id, RequesterFeedback=feedback))

    def send_bonus(self, worker_id: str, assignment_id: str, amount: Decimal, reason: str, token: str) -> str:
        return _request_id(self._call(
            "send_bonus", WorkerId=worker_id, AssignmentId=assignment_id, BonusAmount=fmt(amount), Reason=reason,
            UniqueRequestToken=token,
        ))

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

    def grant_qualification(self, qualification_type_id: str, worker_id: str, value: int) -> str:
        return _request_id(self._call(
            "associate_qualification_with_worker", QualificationTypeId=qualification_type_id, WorkerId=worker_id,
            IntegerValue=value, SendNotification=False,
        ))

    def qualification_type_exists(self, qualification_type_id: str) -> bool:
        try:
            self._call("get_qualification_type", QualificationTypeId=qualification_type_id)
        except MarketplaceError as exc:
            if exc.turk_code == "AWS.MechanicalTurk.QualificationTypeDoesNotExist" or "does not exist" in exc.message:
                return False
            raise
        return True


def connect(environment: str, *, profile: str | None = None, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> MTurkMarketplace:
    """A marketplace for `environment` (sandbox | production | http URL).

    Clients come from `bridge.panels.mturk.api.make_mturk_client` (the same endpoints and
    credential rules as reading HITs: boto3's own chain only, dummy keys for a local
    emulator, adaptive retries). The first one is made here, so missing credentials for a
    real endpoint fail now, as one InputError naming the environment, before any request.
    """
    def make_client():
        return make_mturk_client(environment, profile=profile, max_attempts=max_attempts)

    market = MTurkMarketplace(make_client, environment)
    market.client  # noqa: B018 - resolve credentials now, on the caller's thread
    return market
