"""HTTP plumbing shared by Prolific's API source (`api.py`) and adapter (`adapter.py`).

One `ProlificHttp` per run: the base URL (`production` or an http(s) URL such as the
emulator's), the token header, retries, paging, and the texts that turn an answer other
than success into a message a lab manager can act on. The token is read only from
`PROLIFIC_API_TOKEN`, sent only in the `Authorization` header to the configured host, and
removed from every text this module hands out (`redact`): it never reaches a message, an
exception or a log.

Retries (urllib3's `Retry`, bounded, exponential back-off, honouring `Retry-After`):
- every GET and every POST or DELETE that is safe to repeat (a transition, a bulk approval,
  a bonus set-up, a group append or removal: idempotent or harmless when repeated; FACTS
  1.6, 1.7, 1.8, 1.10) is retried on 429, 5xx, connection failures and dropped answers;
- the bonus *pay* call is not idempotent (FACTS 1.8: every call pays again), so it goes
  through a second session that retries only a 429 (Prolific refused it before paying,
  FACTS 1.3) and nothing else; so does a message (sent again, it arrives twice).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
import requests.auth
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError
from urllib3.util.retry import Retry

from bridge.errors import InputError
from bridge.netloc import is_local_endpoint
from bridge.redact import redact

PRODUCTION_URL = "https://api.prolific.com"  # FACTS 1.1
TOKEN_VARIABLE = "PROLIFIC_API_TOKEN"
EMULATOR_TOKEN = "test-token"  # the token `survey-bridge emulator` accepts unless told otherwise
ATTEMPTS = 6  # tries in all for a retried call
BACKOFF = 0.5  # seconds; urllib3 waits BACKOFF * 2**(n-1) before the n-th retry (none before the first)
BACKOFF_MAX = 30.0
RETRY_AFTER_MAX = 60.0  # a longer Retry-After is cut to this (unconfirmed: Prolific sends none, FACTS 1.3)
TIMEOUT = (10.0, 60.0)  # connect, read (seconds)
RETRIED = (429, 500, 502, 503, 504)
PAGE_SIZE = 200  # the most a list page is asked for ([CLI] DefaultRecordLimit 200; FACTS 1.4)
MAX_PAGES = 2000  # 400,000 submissions: far beyond a study; stops a next link that never ends (FACTS 1.4 [AUT])
_AGENT = "survey-bridge"  # Prolific asks clients to identify themselves (FACTS 1.1); the wording is unconfirmed


def base_url(environment: str) -> str:
    """`production` -> https://api.prolific.com; an http(s) URL (the emulator) as given."""
    env = (environment or "").strip()
    if env == "production":
        return PRODUCTION_URL
    parts = urlsplit(env)
    if parts.scheme in ("http", "https") and parts.hostname:
        # A user name and password in the URL are never sent (the token is the one
        # credential) nor shown (SPEC §12).
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        port = f":{parts.port}" if _port(parts) else ""
        return f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"
    raise InputError(f"[prolific] environment {redact(environment)!r} must be production or an "
                     "http://127.0.0.1:PORT emulator (Prolific has no sandbox).")


def _port(parts) -> int | None:
    try:
        return parts.port
    except ValueError:
        raise InputError("[prolific] environment has a port that is not a number.") from None


def token_from(env: Mapping[str, str]) -> str:
    """The API token, from PROLIFIC_API_TOKEN only (never the config); InputError when unset."""
    token = (env.get(TOKEN_VARIABLE) or "").strip()
    if not token:
        raise InputError(f"{TOKEN_VARIABLE} is not set: create an API token in Prolific (the workspace's "
                         f"settings, API tokens) and set it in the environment, e.g. export {TOKEN_VARIABLE}=... "
                         "(never in the config file).")
    if malformed(token):
        # Never echoed: a header library would quote it whole in its error (SPEC §12).
        raise InputError(f"{TOKEN_VARIABLE} is malformed: it holds a space, a line break or another control "
                         "character, so it cannot be a token. Copy the token again from Prolific (the workspace's "
                         f"settings, API tokens) and set {TOKEN_VARIABLE} to it alone.")
    return token


def malformed(token: str) -> bool:
    """A token with whitespace or a control character inside (it cannot go in a header)."""
    return any(c.isspace() or ord(c) < 32 or 127 <= ord(c) < 160 for c in token)


class Unreachable(Exception):
    """No HTTP answer at all. `sent` is False when nothing can have reached Prolific (the
    connection was never made), True when the request may have been acted on (a timeout, a
    connection dropped before the answer)."""

    def __init__(self, message: str, *, sent: bool):
        super().__init__(message)
        self.message = message
        self.sent = sent

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: Any  # parsed JSON, else the text
    detail: str  # Prolific's error text for a non-2xx answer (token removed), else ""
    emulator: bool = False  # from a local emulator (127.0.0.1 / localhost), not Prolific itself

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(slots=True)
class Listing:
    """Every item of a paginated list, each id once, and whether the list looked whole."""

    items: list[dict] = field(default_factory=list)
    count: int | None = None  # meta.count of the first page
    pages: int = 0
    stopped: str = ""  # why paging stopped early ("" when the last page said so)

    @property
    def complete(self) -> bool:
        return self.count is None or len(self.items) >= self.count


class _Retry(Retry):
    """urllib3's Retry that reports each re-sent request (for `ProlificHttp.requests`) and
    caps a server's Retry-After."""

    def __init__(self, *args: Any, on_retry: Any = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.on_retry = on_retry

    def new(self, **kwargs: Any) -> "_Retry":
        out = super().new(**kwargs)
        out.on_retry = self.on_retry
        return out

    def get_retry_after(self, response: Any) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, RETRY_AFTER_MAX)

    def sleep(self, response: Any = None) -> None:
        super().sleep(response)
        if self.on_retry is not None:
            self.on_retry()


class _TokenAuth(requests.auth.AuthBase):
    """`Authorization: Token <token>` (FACTS 1.1); its repr never shows the token."""

    def __init__(self, token: str):
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Token {self._token}"
        return request

    def __repr__(self) -> str:
        return "_TokenAuth([token])"


class _ThrottleOnlyRetry(_Retry):
    # A 503 with Retry-After would otherwise be retried too: never for the pay call.
    RETRY_AFTER_STATUS_CODES = frozenset({429})


def error_detail(body: Any) -> str:
    """Prolific's error text in any of the shapes it answers (FACTS 1.2): the wrapped
    `{"error": {"title", "detail", ...}}`, DRF's `{"detail": ...}`, `{"message", "detail"}`,
    a field map `{"field": ["..."]}`, or raw text."""
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        detail = inner.get("detail", inner.get("message"))
        if detail is None and inner is body:
            detail = body
        text = _flatten(detail) if detail is not None else ""
        extra = inner.get("additional_information")
        return f"{text} ({extra})" if isinstance(extra, str) and extra else text
    return _flatten(body)


def _flatten(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in value.items())
    if isinstance(value, list):
        return " ".join(_flatten(v) for v in value)
    return str(value).strip()[:500]


def problem(answer: Answer, *, doing: str, not_found: str, attempts: int = ATTEMPTS) -> str:
    """What a failed answer means and what to do, for a message. `doing` says what the call
    was for ("reading study X"); `not_found` what a 404 means there."""
    status, detail = answer.status, answer.detail or "no detail given"
    if status == 401 and answer.emulator:
        return (f"The Prolific emulator refused the API token while {doing} (401: {detail}): set {TOKEN_VARIABLE} "
                f"to the emulator's token, {EMULATOR_TOKEN} unless it was started with --prolific-token.")
    if status == 401:
        return (f"Prolific refused the API token while {doing} (401: {detail}): the token in {TOKEN_VARIABLE} is "
                f"wrong, revoked or missing. Create a token in Prolific (the workspace's settings, API tokens) and "
                f"set {TOKEN_VARIABLE}.")
    if status == 403:
        return (f"Prolific forbids this token from {doing} (403: {detail}): use a token of the workspace that owns "
                "the study.")
    if status == 404:
        return f"{not_found} (404 while {doing})."
    if status == 429:
        return (f"Prolific kept answering 429 Too Many Requests while {doing} ({attempts} attempts): wait a few "
                "minutes, then run the same command again.")
    if status >= 500:
        return (f"Prolific answered {status} (a fault on its side) while {doing} ({attempts} attempts: {detail}). "
                "Try again later; run the same command again.")
    return f"Prolific refused {doing} ({status}: {detail})."


class ProlificHttp:
    """Requests to one Prolific (production or an emulator) with one token.

    `requests` counts every HTTP request sent, retries included. Thread-safe: the adapter
    sends rejections from several threads."""

    def __init__(self, environment: str, token: str, *, attempts: int = ATTEMPTS, backoff: float | None = None,
                 timeout: tuple[float, float] = TIMEOUT, pool: int = 8):
        self.base = base_url(environment)
        self.emulator = is_local_endpoint(self.base)
        self.attempts = max(1, attempts)
        self._token = token
        self._timeout = timeout
        self._lock = threading.Lock()
        self.requests = 0
        wait = BACKOFF if backoff is None else backoff
        retries = self.attempts - 1
        safe = _Retry(total=retries, connect=retries, read=retries, status=retries, other=0,
                      allowed_methods=frozenset({"GET", "POST", "DELETE"}), status_forcelist=RETRIED, backoff_factor=wait,
                      backoff_max=BACKOFF_MAX, raise_on_status=False, on_retry=self._count)
        # The pay call: a 429 is retried (nothing was paid, FACTS 1.3); a 5xx, a timeout or a
        # dropped connection never is (the payment may have been made, FACTS 1.8).
        once = _ThrottleOnlyRetry(total=retries, connect=0, read=0, status=retries, other=0,
                                  allowed_methods=frozenset({"POST"}), status_forcelist=(429,), backoff_factor=wait,
                                  backoff_max=BACKOFF_MAX, raise_on_status=False, on_retry=self._count)
        self._safe = self._session(safe, pool)
        self._once = self._session(once, pool)

    def _session(self, retry: Retry, pool: int) -> requests.Session:
        session = requests.Session()
        # An explicit auth: requests then never swaps in ~/.netrc credentials (proxy and CA
        # settings from the environment still apply).
        session.auth = _TokenAuth(self._token)
        session.headers.update({"Accept": "application/json", "User-Agent": _AGENT, "Referer": _AGENT})
        adapter = HTTPAdapter(max_retries=retry, pool_connections=2, pool_maxsize=pool)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def _count(self) -> None:
        with self._lock:
            self.requests += 1

    def redact(self, text: str) -> str:
        """`text` without the token (defence in depth: no text here should carry it)."""
        return text.replace(self._token, "[token]") if self._token else text

    def url(self, path_or_url: str) -> str:
        """A path under the base URL. A full URL (a `next` link) keeps only its path and
        query, so the token is only ever sent to the configured host."""
        parts = urlsplit(path_or_url)
        path = parts.path if parts.scheme else path_or_url.split("?", 1)[0]
        query = parts.query if parts.scheme else (path_or_url.split("?", 1)[1] if "?" in path_or_url else "")
        return self.base + path + (f"?{query}" if query else "")

    def send(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None,
             once: bool = False) -> Answer:
        """One call (with its retries); raises `Unreachable` when no answer came back."""
        url = self.url(path) + (("&" if "?" in path else "?") + urlencode(params) if params else "")
        session = self._once if once else self._safe
        self._count()
        try:
            response = session.request(method, url, json=body, timeout=self._timeout, allow_redirects=False)
        except requests.exceptions.ConnectionError as exc:
            sent = not _never_connected(exc)
            why = "the connection was refused or could not be made" if not sent else "the connection dropped"
            if isinstance(exc, requests.exceptions.ConnectTimeout):
                why = "connecting timed out"
            elif sent and "timed out" in str(exc).lower():
                why = f"no answer within {self._timeout[1]:g} s"
            raise Unreachable(self.redact(f"{why} ({_reason(exc)})"), sent=sent) from None
        except requests.exceptions.Timeout as exc:
            raise Unreachable(self.redact(f"no answer within {self._timeout[1]:g} s ({_reason(exc)})"),
                              sent=True) from None
        except requests.exceptions.RequestException as exc:
            raise Unreachable(self.redact(f"{type(exc).__name__}: {_reason(exc)}"), sent=True) from None
        try:
            parsed: Any = response.json() if response.content else None
        except ValueError:
            parsed = response.text
        detail = "" if 200 <= response.status_code < 300 else self.redact(error_detail(parsed))
        return Answer(response.status_code, parsed, detail, self.emulator)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Answer:
        return self.send("GET", path, params=params)

    def post(self, path: str, body: Any = None, *, once: bool = False) -> Answer:
        return self.send("POST", path, body=body, once=once)

    def listing(self, path: str, params: Mapping[str, Any]) -> tuple[Answer, Listing]:
        """Every page of a list, following `_links.next.href` (FACTS 1.4). Guarded against
        the quirks autora reported: a `next` that repeats a page already fetched ends the
        list, items are kept once per `id`, and the pages are capped (by `meta.count` and
        MAX_PAGES). A 404 on a later page is the end of the list (a page past the end is a
        404, FACTS 1.4). Returns the first failed answer (not ok) or the last one, and what
        was listed."""
        out = Listing()
        seen_ids: set[str] = set()
        fetched: set[str] = set()
        url: str | None = self.url(path) + "?" + urlencode({**params, "page_size": PAGE_SIZE})
        cap = MAX_PAGES
        answer = Answer(200, None, "")
        while url is not None:
            key = self.url(url)
            if key in fetched:
                out.stopped = "the next page repeated one already read"
                break
            if out.pages >= cap:
                out.stopped = f"stopped after {out.pages} pages"
                break
            fetched.add(key)
            answer = self.get(url)
            if not answer.ok:
                if answer.status == 404 and out.pages:
                    out.stopped = "a next page was not found"
                    break
                return answer, out
            body = answer.body if isinstance(answer.body, dict) else {}
            out.pages += 1
            if out.pages == 1:
                count = (body.get("meta") or {}).get("count")
                if isinstance(count, int) and count >= 0:
                    out.count = count
                    # By the size the server really gave (it may not honour page_size).
                    size = len(body.get("results") or []) or PAGE_SIZE
                    cap = min(MAX_PAGES, math.ceil(count / size) + 2)
            for item in body.get("results") or []:
                if isinstance(item, dict) and item.get("id") not in seen_ids:
                    seen_ids.add(item.get("id"))
                    out.items.append(item)
            url = ((body.get("_links") or {}).get("next") or {}).get("href")
        return answer, out

    def close(self) -> None:
        self._safe.close()
        self._once.close()


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the TCP connection was never made (refused, no route, DNS): the request
    cannot have reached Prolific."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    seen: set[int] = set()
    err: BaseException | None = exc
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, NewConnectionError):
            return True
        nxt = getattr(err, "reason", None)
        if nxt is None and err.args and isinstance(err.args[0], BaseException):
            nxt = err.args[0]
        err = nxt if isinstance(nxt, BaseException) else err.__cause__ or err.__context__
    return False


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "..."
