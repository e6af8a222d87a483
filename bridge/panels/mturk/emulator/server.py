"""A local MTurk Requester API (2017-01-17) that an unmodified boto3 client talks to.

JSON 1.1 over HTTP on 127.0.0.1: `POST /` with `X-Amz-Target:
MTurkRequesterServiceV20170117.<Operation>`, no signature check. Requests are validated
against botocore's service model (`mturk_validate`), then the server rules and state
(`mturk_state`, `mturk_ops`) answer in MTurk's shapes. Faults (latency, throttling,
failures before or after the change) come from `bridge.emulator.base.Faults`.

In tests:

    with MTurkEmulator(balance=Decimal("100.00")) as emu:
        hit_id = emu.add_hit(reward="1.50", max_assignments=10)
        emu.add_assignment(hit_id, "AWORKER1")
        client = boto3.client("mturk", region_name="us-east-1", endpoint_url=emu.url, ...)

From a shell: `python -m bridge.panels.mturk.emulator --port 0` prints the URL, then serves
until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler
from typing import Any, TextIO

from bridge.emulator.base import Fault, Faults, Serving
from bridge.panels.mturk.emulator.ops import OPERATIONS
from bridge.panels.mturk.emulator.state import (
    DEFAULT_AUTO_APPROVAL_SECONDS,
    ZERO,
    ApiError,
    AssignmentRecord,
    BonusRecord,
    Clock,
    HitRecord,
    MTurkState,
    answers_xml,
    new_id,
)
from bridge.panels.mturk.emulator.validate import RequestValidator, service_model, validation_message
from bridge.panels.mturk.words import ASSIGNMENT_STATUSES

TARGET_PREFIX = "MTurkRequesterServiceV20170117."
CONTENT_TYPE = "application/x-amz-json-1.1"
DEFAULT_BALANCE = Decimal("10000.00")
DEFAULT_ASSIGNMENT_DURATION = 3600

_log = logging.getLogger(__name__)


def _error(error_type: str, message: str) -> dict[str, str]:
    return {"__type": error_type, "Message": message}


class MTurkEmulator(Serving):
    """The emulated MTurk account plus its request dispatcher.

    State lives in `self.state` (an `MTurkState`); the properties below read it after
    applying any auto-approvals that have come due by `clock`.
    """

    def __init__(
        self,
        balance: Decimal | str = DEFAULT_BALANCE,
        *,
        clock: Clock | None = None,
        latency_ms: float = 0.0,
        rate_limit: float | None = None,
        fail_rate: float = 0.0,
        fault_seed: int | None = None,
    ):
        self.state = MTurkState(Decimal(str(balance)), clock)
        self.faults = Faults(latency_ms=latency_ms, rate_limit=rate_limit, fail_rate=fail_rate, seed=fault_seed)
        self.validator = RequestValidator()
        self.calls: Counter[str] = Counter()  # requests per operation, whatever the answer

    # --- inspection ------------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        return self.state.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self.state.clock = clock

    def _swept(self) -> MTurkState:
        with self.state.lock:
            self.state.sweep()
        return self.state

    @property
    def balance(self) -> Decimal:
        return self._swept().balance

    @property
    def fees_charged(self) -> Decimal:
        return self._swept().fees_charged

    @property
    def bonuses(self) -> list[BonusRecord]:
        return list(self._swept().bonuses)

    def assignment(self, assignment_id: str) -> AssignmentRecord:
        """The live record (KeyError if unknown)."""
        state = self._swept()
        return state.assignments[assignment_id]

    @staticmethod
    def operations() -> frozenset[str]:
        """The operations this emulator serves."""
        return frozenset(OPERATIONS)

    # --- building state --------------------------------------------------------------

    def add_hit(
        self,
        *,
        hit_id: str | None = None,
        reward: Decimal | str = "1.00",
        max_assignments: int = 1,
        auto_approval_delay_seconds: int = DEFAULT_AUTO_APPROVAL_SECONDS,
        assignment_duration_seconds: int = DEFAULT_ASSIGNMENT_DURATION,
        title: str = "Survey",
        description: str = "Take our survey",
        keywords: str = "",
        hit_type_id: str | None = None,
        creation_time: datetime | None = None,
        expiration: datetime | None = None,
        question: str | None = None,
        requester_annotation: str | None = None,
        qualification_requirements: list[dict] | None = None,
    ) -> str:
        """Add a HIT without a request; returns its id."""
        with self.state.lock:
            now = self.state.now()
            creation = creation_time or now
            hit = self.state.add_hit(HitRecord(
                hit_id=hit_id or new_id(),
                hit_type_id=hit_type_id or new_id(),
                title=title,
                description=description,
                keywords=keywords,
                reward=Decimal(str(reward)),
                max_assignments=max_assignments,
                auto_approval_delay_seconds=auto_approval_delay_seconds,
                assignment_duration_seconds=assignment_duration_seconds,
                creation_time=creation,
                expiration=expiration or creation + timedelta(days=7),
                question=question,
                requester_annotation=requester_annotation,
                qualification_requirements=list(qualification_requirements or []),
            ))
            return hit.hit_id

    def add_assignment(
        self,
        hit_id: str,
        worker_id: str,
        *,
        assignment_id: str | None = None,
        status: str = "Submitted",
        answers: Mapping[str, str] | str | None = None,
        accept_time: datetime | None = None,
        submit_time: datetime | None = None,
        auto_approval_time: datetime | None = None,
        approval_time: datetime | None = None,
        rejection_time: datetime | None = None,
        requester_feedback: str | None = None,
    ) -> str:
        """Add a worker's assignment as if already submitted (and maybe decided); returns its id.

        `answers` is a dict of form fields (turned into QuestionFormAnswers XML) or the XML
        itself. Nothing is charged: work decided here was paid for before the emulator
        started. A Submitted assignment auto-approves at `auto_approval_time` (default:
        submission plus the HIT's delay).
        """
        if status not in ASSIGNMENT_STATUSES:
            raise ValueError(f"status must be one of {ASSIGNMENT_STATUSES}, not {status!r}")
        with self.state.lock:
            if hit_id not in self.state.hits:
                raise ValueError(f"HIT {hit_id} does not exist; add it first")
            hit = self.state.hits[hit_id]
            now = self.state.now()
            submit = submit_time or now
            accept = accept_time or submit
            if status == "Submitted" and auto_approval_time is None:
                auto_approval_time = submit + timedelta(seconds=hit.auto_approval_delay_seconds)
            if status == "Approved" and approval_time is None:
                approval_time = now
            if status == "Rejected" and rejection_time is None:
                rejection_time = now
            answer = answers if isinstance(answers, str) else answers_xml(answers or {})
            a = self.state.add_assignment(AssignmentRecord(
                assignment_id=assignment_id or new_id(),
                worker_id=worker_id,
                hit_id=hit_id,
                status=status,
                accept_time=accept,
                submit_time=submit,
                auto_approval_time=auto_approval_time if status == "Submitted" else None,
                approval_time=approval_time if status == "Approved" else None,
                rejection_time=rejection_time if status == "Rejected" else None,
                deadline=accept + timedelta(seconds=hit.assignment_duration_seconds),
                answer=answer,
                requester_feedback=requester_feedback or None,
            ))
            return a.assignment_id

    def seed_table(self, table: Any, *, keep_pending: bool = True) -> int:
        """Load the HITs and assignments of a `bridge.models.SubmissionTable` read from an
        MTurk batch file; returns the number of assignments added.

        Statuses and times are kept. A batch file's AutoApprovalTimes have usually passed
        by the time it is seeded, which would auto-approve every Submitted assignment on
        the first call; with `keep_pending` such an assignment gets a fresh
        AutoApprovalTime (now plus the HIT's delay) so that it stays Submitted.
        """
        with self.state.lock:
            now = self.state.now()
            per_hit = Counter(a.task_id for a in table.submissions)
            for hit in table.tasks.values():
                if hit.task_id in self.state.hits:
                    continue
                self.add_hit(
                    hit_id=hit.task_id,
                    hit_type_id=hit.type_id or None,
                    title=hit.title,
                    description=hit.description,
                    keywords=hit.keywords,
                    reward=hit.reward if hit.reward is not None else ZERO,
                    max_assignments=hit.places or max(1, per_hit[hit.task_id]),
                    auto_approval_delay_seconds=(
                        hit.auto_approval_delay_seconds
                        if hit.auto_approval_delay_seconds is not None else DEFAULT_AUTO_APPROVAL_SECONDS
                    ),
                    assignment_duration_seconds=hit.duration_limit_seconds or DEFAULT_ASSIGNMENT_DURATION,
                    creation_time=hit.created_at,
                    expiration=hit.expires_at,
                )
            for a in table.submissions:
                if a.task_id not in self.state.hits:  # a row whose HIT the reader did not list
                    self.add_hit(hit_id=a.task_id, max_assignments=max(1, per_hit[a.task_id]))
                hit = self.state.hits[a.task_id]
                auto = a.auto_approval_time
                if a.status == "Submitted":
                    delay = timedelta(seconds=hit.auto_approval_delay_seconds)
                    if auto is None:
                        auto = (a.submitted_at or now) + delay
                    if keep_pending and auto <= now:
                        auto = now + delay
                self.add_assignment(
                    a.task_id,
                    a.participant_id,
                    assignment_id=a.submission_id,
                    status=a.status,
                    answers=dict(a.answers),
                    accept_time=a.started_at,
                    submit_time=a.submitted_at,
                    auto_approval_time=auto,
                    approval_time=a.approved_at,
                    rejection_time=a.rejected_at,
                    requester_feedback=a.feedback or None,
                )
            return len(table.submissions)

    def seed_batch(self, path: str | os.PathLike[str], *, keep_pending: bool = True) -> int:
        """Load a requester-website batch-results CSV (see `seed_table`)."""
        from bridge.panels.mturk.reader import read_batch_results  # the project's reader

        return self.seed_table(read_batch_results(path), keep_pending=keep_pending)

    # --- requests --------------------------------------------------------------------

    def handle(self, target: str | None, body: bytes) -> tuple[int, dict[str, Any]]:
        """Answer one request: (HTTP status, JSON body)."""
        if not target or not target.startswith(TARGET_PREFIX):
            return 400, _error("UnknownOperationException", "Missing or unrecognised X-Amz-Target header.")
        operation = target[len(TARGET_PREFIX):]
        handler = OPERATIONS.get(operation)
        if handler is None:
            known = operation in service_model().operation_names
            detail = "is not served by this emulator" if known else "is not an MTurk operation"
            return 400, _error("UnknownOperationException", f"Operation {operation} {detail}.")
        with self.state.lock:
            self.calls[operation] += 1

        fault = self.faults.decide()  # sleeps for the latency
        if fault is Fault.THROTTLE:
            return 400, _error("ThrottlingException", "Rate exceeded")
        if fault is Fault.FAIL_BEFORE:
            return self._service_fault()

        try:
            params = json.loads(body) if body.strip() else {}
        except (ValueError, UnicodeDecodeError):
            return 400, _error("SerializationException", "The request body is not valid JSON.")
        if not isinstance(params, dict):
            return 400, _error("SerializationException", "The request body must be a JSON object.")
        violations = self.validator.validate(operation, params)
        if violations:
            return 400, _error("ValidationException", validation_message(violations))

        with self.state.lock:
            self.state.sweep()
            try:
                status, answer = 200, handler(self.state, params)
            except ApiError as e:
                status, answer = e.status, e.body()
            except Exception:  # an emulator bug: answer like a server would, keep serving
                _log.exception("MTurk emulator failed on %s", operation)
                return self._service_fault()
        if fault is Fault.FAIL_AFTER:
            return self._service_fault()  # the change, if any, took effect; the answer is lost
        return status, answer

    def _service_fault(self) -> tuple[int, dict[str, Any]]:
        stamp = int(self.state.now().timestamp() * 1000)
        body = _error("ServiceFault", f"We encountered an internal error. Please try again. ({stamp})")
        body["TurkErrorCode"] = "AWS.ServiceUnavailable"
        return 500, body

class MTurkRequestHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive front of `MTurkEmulator.handle`."""

    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "survey-bridge-mturk-emulator"

    def _body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            self._reply(400, _error("SerializationException", "Invalid Content-Length."))
            return None
        return self.rfile.read(length) if length > 0 else b""

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        body = self._body()
        if body is None:
            return
        if self.path.split("?", 1)[0] != "/":
            self._reply(404, _error("UnknownOperationException", f"No operation at {self.path}."))
            return
        status, payload = self.server.emulator.handle(self.headers.get("X-Amz-Target"), body)  # type: ignore[attr-defined]
        self._reply(status, payload)

    def _not_post(self) -> None:
        if self._body() is not None:
            self._reply(400, _error("UnknownOperationException", "Only POST / is served."))

    do_GET = do_PUT = do_DELETE = do_PATCH = _not_post  # noqa: N815

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # library code stays quiet


MTurkEmulator.handler_class = MTurkRequestHandler  # defined after the emulator it serves


# --- command line ---------------------------------------------------------------------


def wait_for_stop_signal() -> int:
    """Block until SIGINT or SIGTERM arrives; returns the signal number. Main thread only."""
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        received.append(signum)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return received[0]


def parse_balance(balance: Decimal | str) -> Decimal:
    """A starting balance from the command line; ValueError unless a finite amount >= 0."""
    try:
        amount = Decimal(str(balance))
    except InvalidOperation:
        raise ValueError(f"balance must be an amount such as 10000.00, not {balance!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"balance must be an amount such as 10000.00, not {balance!r}")
    return amount


def serve_forever_cli(
    port: int = 0,
    seed_batch: str | os.PathLike[str] | None = None,
    balance: Decimal | str = DEFAULT_BALANCE,
    latency_ms: float = 0.0,
    rate_limit: float | None = None,
    fail_rate: float = 0.0,
    out: TextIO | None = None,
) -> int:
    """Serve the emulator until SIGINT/SIGTERM; the endpoint URL is the first line on `out`.

    Returns 0 after a clean stop. Bad arguments raise ValueError, a bad batch file the
    reader's SourceError, both before anything is printed. To serve other emulators
    beside it, compose `MTurkEmulator(...).serve(port).start()` and `wait_for_stop_signal()`.
    """
    out = out if out is not None else sys.stdout
    emulator = MTurkEmulator(parse_balance(balance), latency_ms=latency_ms, rate_limit=rate_limit, fail_rate=fail_rate)
    if seed_batch is not None:
        emulator.seed_batch(seed_batch)
    with emulator.serve(port) as server:
        print(server.url, file=out, flush=True)
        wait_for_stop_signal()
    return 0


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bridge.panels.mturk.emulator", description="Local MTurk emulator")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed-batch", help="batch-results CSV to load")
    parser.add_argument("--balance", default=str(DEFAULT_BALANCE))
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=float, default=None)
    parser.add_argument("--fail-rate", type=float, default=0.0)
    args = parser.parse_args(argv)
    return serve_forever_cli(args.port, args.seed_batch, args.balance, args.latency_ms, args.rate_limit,
                             args.fail_rate)

