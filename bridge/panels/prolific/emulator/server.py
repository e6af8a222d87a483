"""A local Prolific API v1 that Prolific's own generated client (`pyrolific`) talks to.

JSON over HTTP on 127.0.0.1, paths under `/api/v1/...` (with or without the trailing
slash), `Authorization: Token <token>`. The endpoints, their rules and their shapes are in
`routes`, `state` and `wire`; faults (latency, 429 throttling, 5xx failures before or after
the change) come from `bridge.emulator.base.Faults`.

In tests:

    with ProlificEmulator(balance="100.00", async_delay=0) as emu:
        study = emu.add_study(reward="1.50")
        sub = emu.add_submission(study, "5f0c0ffee0ddba11c0ffee00", entered_code="C1A2B3C4", time_taken=600)
        requests.get(f"{emu.url}/api/v1/submissions/{sub}/", headers={"Authorization": "Token test-token"})

Python-side amounts (constructor, seeding, inspection) are `Decimal`s in major units
(pounds, dollars); the wire carries minor units, as Prolific does.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bridge.emulator.base import Fault, Faults, QuietHandler, Serving, seed_spec
from bridge.panels.prolific.emulator.records import (
    COMPLETED_STATUSES,
    DEFAULT_ASYNC_DELAY,
    DEFAULT_FEE_RATE,
    STATUSES,
    STUDY_STATUSES,
    ZERO,
    ApiError,
    BulkBonusRecord,
    Clock,
    GroupRecord,
    MessageRecord,
    StudyRecord,
    SubmissionRecord,
    new_id,
    to_major,
    to_minor,
)
from bridge.panels.prolific.emulator.routes import Request, resolve
from bridge.panels.prolific.emulator.state import ProlificState

DEFAULT_BALANCE = Decimal("10000.00")
DEFAULT_TOKEN = "test-token"

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Exchange:
    """One answered request, as the opt-in recorder keeps it (`record=True`)."""

    method: str
    template: str | None  # the OpenAPI path template, None when no route matched
    name: str | None  # the spec's operationId
    status: int
    body: Any  # the JSON answer, None for an empty body
    request_body: Any  # the JSON the client sent, None when none
    query: tuple[tuple[str, str], ...]


class ProlificEmulator(Serving):
    """The emulated workspace plus its request dispatcher; state in `self.state`.

    `balance` is the workspace's starting balance (major units); `token` the one API token
    accepted; `currency` GBP or USD; `fee_rate` Prolific's service fee on rewards and bonuses
    (default 1/3, the academic 33.3%) and `vat_rate` the VAT on that fee (0; 0.20 for UK
    workspaces), FACTS 2. Bulk approvals and bonus payments take effect `async_delay` seconds
    after they are asked for (`settle()` applies them at once). `latency_ms`, `rate_limit`,
    `fail_rate` and `fault_seed` are `bridge.emulator.base.Faults`' (`self.faults` may be
    replaced). With `record`, every exchange is kept in `self.exchanges`.
    """

    def __init__(
        self,
        balance: Decimal | str = DEFAULT_BALANCE,
        *,
        token: str = DEFAULT_TOKEN,
        currency: str = "GBP",
        fee_rate: Decimal | str = DEFAULT_FEE_RATE,
        vat_rate: Decimal | str = ZERO,
        clock: Clock | None = None,
        async_delay: float = DEFAULT_ASYNC_DELAY,
        latency_ms: float = 0.0,
        rate_limit: float | None = None,
        fail_rate: float = 0.0,
        fault_seed: int | None = None,
        record: bool = False,
    ):
        amount = Decimal(str(balance))
        if not amount.is_finite() or amount < 0:
            raise ValueError(f"balance must be an amount such as 10000.00, not {balance!r}")
        self.token = token
        self.state = ProlificState(to_minor(amount), currency=currency, fee_rate=Decimal(str(fee_rate)),
                                   vat_rate=Decimal(str(vat_rate)), clock=clock, async_delay=async_delay)
        self.faults = Faults(latency_ms=latency_ms, rate_limit=rate_limit, fail_rate=fail_rate, seed=fault_seed)
        self.calls: Counter[str] = Counter()  # requests per operationId, whatever the answer
        self.record = record
        self.exchanges: list[Exchange] = []
        self._record_lock = threading.Lock()

    # --- identity and settings -------------------------------------------------------

    @property
    def clock(self) -> Clock:
        return self.state.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self.state.clock = clock

    @property
    def workspace_id(self) -> str:
        return self.state.workspace_id

    @property
    def user_id(self) -> str:
        return self.state.user_id

    @property
    def project_id(self) -> str:
        return self.state.project_id

    # --- building state ----------------------------------------------------------------

    def add_study(
        self,
        *,
        study_id: str | None = None,
        name: str = "Survey",
        internal_name: str | None = None,
        description: str = "Take our survey",
        reward: Decimal | str = "1.50",
        total_available_places: int = 100,
        estimated_completion_time: int = 10,
        maximum_allowed_time: int | None = None,
        completion_codes: Mapping[str, str] | Iterable[dict] | None = None,
        status: str = "ACTIVE",
        date_created: datetime | None = None,
        published_at: datetime | None = None,
    ) -> str:
        """Add a published study (reward in major units); returns its id (24 hex characters
        unless given). `completion_codes` maps code -> code_type (each then reviewed by hand)
        or lists Prolific's own objects; by default one random COMPLETED code."""
        if status not in STUDY_STATUSES:
            raise ValueError(f"status must be one of {STUDY_STATUSES}, not {status!r}")
        if completion_codes is None:
            completion_codes = {secrets.token_hex(4).upper(): "COMPLETED"}
        if isinstance(completion_codes, Mapping):
            codes = [{"code": code, "code_type": kind, "actions": [{"action": "MANUALLY_REVIEW"}],
                      "actor": "participant"} for code, kind in completion_codes.items()]
        else:
            codes = [dict(c) for c in completion_codes]
        with self.state.lock:
            study_id = study_id or new_id()
            if study_id in self.state.studies:
                raise ValueError(f"study {study_id} already exists")
            created = date_created or self.state.now()
            self.state.studies[study_id] = StudyRecord(
                id=study_id, name=name, internal_name=internal_name, description=description,
                reward=to_minor(reward), total_available_places=total_available_places,
                estimated_completion_time=estimated_completion_time,
                # Prolific derives the limit from the estimate; the formula is unconfirmed.
                maximum_allowed_time=maximum_allowed_time or max(10, 3 * estimated_completion_time),
                completion_codes=codes, status=status, date_created=created,
                published_at=published_at or (created if status != "UNPUBLISHED" else None),
            )
            self.state.by_study.setdefault(study_id, [])
            return study_id

    def add_submission(
        self,
        study_id: str,
        participant_id: str,
        status: str = "AWAITING REVIEW",
        *,
        started_at: datetime | None = None,
        completed_at: datetime | None = None,
        entered_code: str | None = None,
        time_taken: int | None = None,
        submission_id: str | None = None,
        reward: Decimal | str | None = None,
        ip: str | None = None,
        bonus_payments: Iterable[Decimal | str] = (),
        return_requested: datetime | None = None,
    ) -> str:
        """Add a participant's submission as it stands (nothing is charged); returns its id.

        Times fill each other in: a finished submission (AWAITING REVIEW, APPROVED, REJECTED,
        PARTIALLY APPROVED) gets `completed_at` = start + time taken (or now). `reward` and
        `bonus_payments` (already paid) are major units; the reward defaults to the study's.
        A finished submission without a code should say `entered_code="NOCODE"` (FACTS 1.5)."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
        with self.state.lock:
            study = self.state.studies.get(study_id)
            if study is None:
                raise ValueError(f"study {study_id} does not exist; add it first")
            now = self.state.now()
            if started_at is None:
                started_at = (completed_at or now) - timedelta(seconds=time_taken or 0)
            if completed_at is None and status in COMPLETED_STATUSES:
                completed_at = started_at + timedelta(seconds=time_taken) if time_taken is not None else now
            if time_taken is None and completed_at is not None:
                time_taken = int((completed_at - started_at).total_seconds())
            sub = SubmissionRecord(
                id=submission_id or new_id(), study_id=study_id, participant_id=participant_id, status=status,
                started_at=started_at, completed_at=completed_at, entered_code=entered_code,
                time_taken=time_taken, reward=study.reward if reward is None else to_minor(reward), ip=ip,
                bonus_payments=[to_minor(b) for b in bonus_payments], return_requested=return_requested,
            )
            if sub.id in self.state.submissions:
                raise ValueError(f"submission {sub.id} already exists")
            self.state.submissions[sub.id] = sub
            self.state.by_study[study_id].append(sub.id)
            return sub.id

    def add_group(self, name: str = "Group", *, participant_ids: Iterable[str] = (), group_id: str | None = None,
                  description: str = "") -> str:
        """Add a participant group in the workspace; returns its id."""
        with self.state.lock:
            group = GroupRecord(group_id or new_id(), name, self.state.workspace_id, self.state.organisation_id,
                                description)
            if group.id in self.state.groups:
                raise ValueError(f"participant group {group.id} already exists")
            self.state.add_members(group, list(participant_ids))
            self.state.groups[group.id] = group
            return group.id

    def seed_export(self, study_id: str, path: str | os.PathLike[str], *, reward: Decimal | str = "1.50",
                    completion_codes: Mapping[str, str] | None = None) -> int:
        """Load a Prolific export CSV (as downloaded from the app) as study `study_id`'s
        submissions, read with the project's export reader; returns how many were added.
        The export names no reward or codes: `reward` (major units) and `completion_codes`
        ({code: code_type}) describe the study when it is new."""
        from bridge.panels.prolific.reader import read_export

        table = read_export(path, study_id=study_id)
        if study_id not in self.state.studies:
            self.add_study(study_id=study_id, reward=reward, total_available_places=max(1, len(table.submissions)),
                           completion_codes=completion_codes or {"C1A2B3C4": "COMPLETED"})
        for s in table.submissions:
            self.add_submission(study_id, s.participant_id, s.status, started_at=s.started_at,
                                completed_at=s.submitted_at, entered_code=s.entered_code or None,
                                time_taken=s.time_taken_seconds, submission_id=s.submission_id)
        return len(table.submissions)

    # --- inspection --------------------------------------------------------------------

    def _swept(self) -> ProlificState:
        with self.state.lock:
            self.state.sweep()
        return self.state

    def settle(self) -> int:
        """Apply every queued bulk approval and bonus payment now; returns how many."""
        with self.state.lock:
            return self.state.sweep(everything=True)

    @property
    def pending(self) -> int:
        """How many asynchronous jobs are still queued."""
        with self.state.lock:
            self.state.sweep()
            return len(self.state.pending)

    @property
    def balance(self) -> Decimal:
        """The workspace's total balance, major units."""
        return to_major(self._swept().balance)

    @property
    def available_balance(self) -> Decimal:
        """The total less what queued payments hold back, major units."""
        state = self._swept()
        with state.lock:
            return to_major(state.available)

    @property
    def fees_charged(self) -> Decimal:
        return to_major(self._swept().fees_paid)

    @property
    def vat_charged(self) -> Decimal:
        return to_major(self._swept().vat_paid)

    def study(self, study_id: str) -> StudyRecord:
        """The live record (KeyError if unknown)."""
        return self._swept().studies[study_id]

    def submission(self, submission_id: str) -> SubmissionRecord:
        """The live record (KeyError if unknown)."""
        return self._swept().submissions[submission_id]

    def submissions_of(self, study_id: str) -> list[SubmissionRecord]:
        state = self._swept()
        with state.lock:
            return state.study_submissions(study_id)

    def bonus_payments(self, submission_id: str) -> list[Decimal]:
        """Bonuses paid on a submission so far, major units, one entry per payment."""
        return [to_major(b) for b in self._swept().submissions[submission_id].bonus_payments]

    def bulk_bonus(self, bonus_id: str) -> BulkBonusRecord:
        return self._swept().bulk_bonuses[bonus_id]

    def group_members(self, group_id: str) -> list[str]:
        """Participant ids in the group, in the order they were added (KeyError if unknown)."""
        with self.state.lock:
            return list(self.state.groups[group_id].members)

    @property
    def messages(self) -> list[MessageRecord]:
        with self.state.lock:
            return list(self.state.messages)

    # --- requests ----------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> tuple[int, Any]:
        """Answer one request: (HTTP status, JSON body or None for no body)."""
        parts = urlsplit(target)
        query = tuple(parse_qsl(parts.query, keep_blank_values=True))
        try:
            route, params = resolve(method, parts.path)
        except ApiError as e:  # unknown path (404) or method (405): not an endpoint call
            route, (status, answer) = None, (e.status, e.body())
        else:
            with self.state.lock:
                self.calls[route.name] += 1
            status, answer = self._answer(route, params, method, parts.path, query, headers, body)
        if self.record:
            try:
                sent = json.loads(body) if body.strip() else None
            except (ValueError, UnicodeDecodeError):
                sent = None
            with self._record_lock:
                self.exchanges.append(Exchange(method, route and route.template, route and route.name, status,
                                               answer, sent, query))
        return status, answer

    def _answer(self, route, params, method, path, query, headers, body) -> tuple[int, Any]:
        # Authentication first, as DRF does once the URL resolved (FACTS 1.1 for the header).
        auth = headers.get("Authorization")
        if not auth:
            return 401, ApiError(401, "Authentication credentials were not provided.").body()
        if auth != f"Token {self.token}":
            return 401, ApiError(401, "Invalid token.").body()
        fault = self.faults.decide()  # sleeps for the latency
        if fault is Fault.THROTTLE:  # FACTS 1.3: 429 Too Many Requests; no rate-limit headers
            return 429, ApiError(429, "Request was throttled.").body()
        if fault is Fault.FAIL_BEFORE:
            return 503, ApiError(503, "The service is temporarily unavailable. Please try again.").body()
        try:
            parsed = json.loads(body) if body.strip() else None
        except (ValueError, UnicodeDecodeError) as exc:
            return 400, ApiError(400, f"JSON parse error - {exc}").body()
        host = headers.get("Host") or (self._server.url.split("//", 1)[1] if self._server else "127.0.0.1")
        request = Request(method, path, list(query), parsed, f"http://{host}")
        with self.state.lock:
            self.state.sweep()
            try:
                status, answer = route.handler(self.state, request, **params)
            except ApiError as e:
                status, answer = e.status, e.body()
            except Exception:  # an emulator bug: answer like a server would, keep serving
                _log.exception("Prolific emulator failed on %s %s", method, path)
                return 500, ApiError(500, "A server error occurred.").body()
        if fault is Fault.FAIL_AFTER:
            # The change, if any, took effect; the answer is lost, as behind a dropped connection.
            return 502, ApiError(502, "The upstream server did not answer. Please try again.").body()
        return status, answer


class ProlificRequestHandler(QuietHandler):
    """HTTP/1.1 keep-alive front of `ProlificEmulator.handle`."""

    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "survey-bridge-prolific-emulator"

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            self._reply(400, ApiError(400, "Invalid Content-Length.").body())
            return
        body = self.rfile.read(length) if length > 0 else b""
        emulator: ProlificEmulator = self.server.emulator  # type: ignore[attr-defined]
        status, payload = emulator.handle(self.command, self.path, self.headers, body)
        self._reply(status, payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815

    def _reply(self, status: int, payload: Any) -> None:
        self.send_json(status, payload)


ProlificEmulator.handler_class = ProlificRequestHandler  # defined after the emulator it serves


def add_cli_exports(emu: ProlificEmulator, specs: Iterable[str]) -> list[str]:
    """Seed `emu` from `STUDY_ID=EXPORT.csv` strings (the CLI's --seed-prolific); returns the ids."""
    ids = []
    for spec in specs:
        study_id, file = seed_spec("--seed-prolific", spec, "STUDY_ID=EXPORT.csv",
                                   "6543f00dc0ffee0123456789=prolific_export_6543.csv",
                                   lambda i: bool(i) and not any(c.isspace() for c in i))
        emu.seed_export(study_id, file)
        ids.append(study_id)
    return ids
