"""What both emulators share: a threaded HTTP server on 127.0.0.1 and fault injection.

`Faults` decides, per request, whether to add latency, throttle (token bucket) or fail
(half of the failures *after* the change took effect, the way a dropped connection looks
to a client). `EmulatorServer` runs a `BaseHTTPRequestHandler` subclass in a background
thread with HTTP/1.1 keep-alive and TCP_NODELAY (without it, Nagle's algorithm meeting
delayed ACKs caps a keep-alive client at a few dozen calls per second).
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections.abc import Callable
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Fault(Enum):
    NONE = "none"
    THROTTLE = "throttle"  # answer a throttling error, change nothing
    FAIL_BEFORE = "fail_before"  # answer a 5xx, change nothing
    FAIL_AFTER = "fail_after"  # make the change, then answer a 5xx


class Faults:
    """Latency, a token-bucket rate limit and a failure share, all optional."""

    def __init__(
        self,
        latency_ms: float = 0.0,
        rate_limit: float | None = None,
        fail_rate: float = 0.0,
        seed: int | None = None,
    ):
        if latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        if rate_limit is not None and rate_limit <= 0:
            raise ValueError("rate_limit must be > 0")
        if not 0.0 <= fail_rate <= 1.0:
            raise ValueError("fail_rate must be between 0 and 1")
        self.latency_ms = latency_ms
        self.rate_limit = rate_limit
        self.fail_rate = fail_rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        # Bucket capacity: one second's worth of requests (at least one).
        self._capacity = max(1.0, rate_limit or 0.0)
        self._tokens = self._capacity
        self._last = time.monotonic()

    def _take_token(self) -> bool:
        if self.rate_limit is None:
            return True
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._capacity, self._tokens + (now - self._last) * self.rate_limit)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False

    def decide(self) -> Fault:
        """Called once per request before it is handled; sleeps for the latency."""
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000.0)
        if not self._take_token():
            return Fault.THROTTLE
        if self.fail_rate:
            with self._lock:
                roll = self._random.random()
                after = self._random.random() < 0.5
            if roll < self.fail_rate:
                return Fault.FAIL_AFTER if after else Fault.FAIL_BEFORE
        return Fault.NONE


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def get_request(self):
        sock, addr = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, addr


class EmulatorServer:
    """Serve `handler_class` on 127.0.0.1:`port` (0 picks a free port) in a thread.

    The handler reaches the emulator through `self.server.emulator`.
    """

    def __init__(self, handler_class: type[BaseHTTPRequestHandler], emulator: object, port: int = 0):
        self._httpd = _Server(("127.0.0.1", port), handler_class)
        self._httpd.emulator = emulator  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "EmulatorServer":
        # A short poll interval so stop() returns promptly (the default waits up to 0.5 s).
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "EmulatorServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Serving:
    """Mixin for an emulator: `serve(port)` gives its server; `with emulator:` runs it on a
    free port and exposes `.url`. Subclasses set `handler_class`."""

    handler_class: type[BaseHTTPRequestHandler]
    _server: EmulatorServer | None = None

    def serve(self, port: int = 0) -> EmulatorServer:
        """An HTTP server for this emulator on 127.0.0.1, not yet started: use it as a
        context manager or call `.start()` / `.stop()`."""
        return EmulatorServer(self.handler_class, self, port)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running: use `with emulator:` or serve()")
        return self._server.url

    def __enter__(self):
        self._server = self.serve().start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def seed_spec(option: str, spec: str, form: str, example: str, valid: Callable[[str], bool]) -> tuple[str, str]:
    """`ID=FILE` of a --seed-* option, checked: (id, file); SourceError naming the option,
    the `form` expected and an `example`."""
    from bridge.errors import SourceError

    ident, sep, file = (spec or "").partition("=")
    ident, file = ident.strip(), file.strip()
    if not sep or not file or not valid(ident):
        raise SourceError(f"{option} {spec!r} is not {form} (e.g. {example}).")
    if not Path(file).is_file():
        raise SourceError(f"{option} {spec!r}: the file {file} does not exist.")
    return ident, file


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that answers JSON (or nothing) and logs nothing: library code stays quiet."""

    def send_json(self, status: int, payload: object, headers: dict[str, str] | None = None,
                  content_type: str = "application/json") -> None:
        data = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if payload is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass
