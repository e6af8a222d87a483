"""A local MTurk Requester API (2017-01-17) that an unmodified boto3 client talks to.

JSON 1.1 over HTTP on 127.0.0.1: `POST /` with `X-Amz-Target:
MTurkRequesterServiceV20170117.<Operation>`, no signature check. Requests are validated
against botocore's service model (`validate`), then the server rules and state
(`state`, `ops`) answer in MTurk's shapes; all 39 operations of the model are served. Faults (latency, throttling,
failures before or after the change) come from `bridge.emulator.base.Faults`.

In tests:

    with MTurkEmulator(balance=Decimal("100.00")) as emu:
        hit_id = emu.add_hit(reward="1.50", max_assignments=10)
        emu.add_assignment(hit_id, "AWORKER1")
        client = boto3.client("mturk", region_name="us-east-1", endpoint_url=emu.url, ...)

From a shell: `python -m bridge.panels.mturk.emulator --port 0 [--now ISO]` prints the URL,
then serves until SIGINT/SIGTERM.
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
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, TextIO

from bridge.emulator.base import Fault, Faults, QuietHandler, Serving
from bridge.panels.mturk.emulator.ops import OPERATIONS, VALIDATION_ANSWERS
from bridge.panels.mturk.emulator.seeding import DEFAULT_ASSIGNMENT_DURATION, Seeding  # noqa: F401
from bridge.panels.mturk.emulator.state import (
    ApiError,
    AssignmentRecord,
    BonusRecord,
    Clock,
    MTurkState,
    starting_at,
)
from bridge.panels.mturk.emulator.validate import RequestValidator, service_model, validation_message

TARGET_PREFIX = "MTurkRequesterServiceV20170117."
CONTENT_TYPE = "application/x-amz-json-1.1"
DEFAULT_BALANCE = Decimal("10000.00")

_log = logging.getLogger(__name__)


def _error(error_type: str, message: str) -> dict[str, str]:
    return {"__type": error_type, "Message": message}


class MTurkEmulator(Seeding, Serving):
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
            special = VALIDATION_ANSWERS.get(operation)
            with self.state.lock:
                documented = special(self.state, violations) if special else None
            if documented is not None:
                return documented.status, documented.body()
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

class MTurkRequestHandler(QuietHandler):
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
        self.send_json(status, payload, {"x-amzn-RequestId": str(uuid.uuid4())}, content_type=CONTENT_TYPE)


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


def parse_now(now: str | datetime | None) -> datetime | None:
    """`--now`: an ISO 8601 time (naive means UTC) as an aware UTC datetime; ValueError if not one."""
    if now is None or isinstance(now, datetime):
        return now if now is None or now.tzinfo else now.replace(tzinfo=timezone.utc)
    try:
        parsed = datetime.fromisoformat(now.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"now must be an ISO 8601 time such as 2019-11-05T05:32:54Z, not {now!r}") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def serve_forever_cli(
    port: int = 0,
    seed_batch: str | os.PathLike[str] | None = None,
    balance: Decimal | str = DEFAULT_BALANCE,
    latency_ms: float = 0.0,
    rate_limit: float | None = None,
    fail_rate: float = 0.0,
    out: TextIO | None = None,
    now: str | datetime | None = None,
) -> int:
    """Serve the emulator until SIGINT/SIGTERM; the endpoint URL is the first line on `out`.

    `now` runs the emulator as of that time: its clock starts there and advances with real
    time (`starting_at`). Returns 0 after a clean stop. Bad arguments raise ValueError, a
    bad batch file the reader's SourceError, both before anything is printed. To serve
    other emulators beside it, compose `MTurkEmulator(...).serve(port).start()` and
    `wait_for_stop_signal()`.
    """
    out = out if out is not None else sys.stdout
    start = parse_now(now)
    emulator = MTurkEmulator(parse_balance(balance), latency_ms=latency_ms, rate_limit=rate_limit, fail_rate=fail_rate,
                             clock=starting_at(start) if start is not None else None)
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
    parser.add_argument("--now", default=None, help="run as of this ISO 8601 time (UTC if no offset)")
    args = parser.parse_args(argv)
    return serve_forever_cli(args.port, args.seed_batch, args.balance, args.latency_ms, args.rate_limit,
                             args.fail_rate, now=args.now)

