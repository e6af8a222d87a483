"""Pull a survey's responses through the Qualtrics v3 export API.

Flow (FORMATS.md): POST `.../export-responses`, poll `.../export-responses/{progressId}`
until `complete`, GET `.../export-responses/{fileId}/file` (a zip holding one CSV), then
parse that CSV with `read_qualtrics_csv`, streamed (`qualtrics_zip`). Every failure is a
`SourceError` naming the survey or host. The API token never appears in a message: `requests` exceptions carry the
prepared request (headers included), so they are turned into our own text and dropped; a user
name and password inside the base URL are never shown either (`_host`, `redact`).
"""

from __future__ import annotations

import logging
import re
import time
import zipfile
from collections.abc import Callable, Collection, Mapping
from email.utils import parsedate_to_datetime
from typing import BinaryIO
from urllib.parse import quote, urlsplit

import requests

from bridge.errors import SourceError
from bridge.models import SurveyTable
from bridge.netloc import is_local_endpoint
from bridge.redact import redact
from bridge.sources.limits import MAX_FILE_BYTES
from bridge.sources.qualtrics_zip import read_export_zip, spool_download

log = logging.getLogger(__name__)

TOKEN_VARS = ("QUALTRICS_API_KEY", "QUALTRICS_API_TOKEN")
EMULATOR_TOKEN = "test-token"  # the token `survey-bridge emulator` accepts unless told otherwise
MAX_THROTTLED = 8  # 429 retries: Qualtrics limits concurrent requests, so waiting works
MAX_FAULTS = 4  # 5xx / dropped-connection retries before giving up
MAX_BACKOFF = 60.0
_DATACENTER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")


def resolve_token(env: Mapping[str, str]) -> str:
    """The API token from QUALTRICS_API_KEY (or QUALTRICS_API_TOKEN)."""
    for var in TOKEN_VARS:
        value = (env.get(var) or "").strip()
        if value:
            # A token with spaces or control characters inside cannot be a header value,
            # and requests would quote it in its error: refuse it here, without echoing it.
            if any(c.isspace() or ord(c) < 32 for c in value):
                raise SourceError(
                    f"The Qualtrics API token in {var} contains spaces or control characters; "
                    "copy it again from Account Settings > Qualtrics IDs."
                )
            return value
    raise SourceError(
        "No Qualtrics API token: set the QUALTRICS_API_KEY environment variable "
        "(Qualtrics: Account Settings > Qualtrics IDs > API)."
    )


def _normalize_url(url: str, origin: str) -> str:
    url = url.strip()
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SourceError(
            f"The Qualtrics base URL {redact(url)!r} from {origin} is not an http(s) URL; use e.g. "
            "https://iad1.qualtrics.com."
        )
    path = parts.path.rstrip("/")
    # A common mistake is to paste the API root; the client adds /API/v3 itself.
    if path.lower().endswith("/api/v3"):
        path = path[: -len("/api/v3")]
    return f"{parts.scheme}://{parts.netloc}{path}"


def resolve_base_url(datacenter: str | None, base_url: str | None, env: Mapping[str, str]) -> str:
    """Config `base_url`, else `https://{datacenter}.qualtrics.com`, else QUALTRICS_BASE_URL."""
    if base_url and base_url.strip():
        return _normalize_url(base_url, "the config's [qualtrics] base_url")
    if datacenter and datacenter.strip():
        dc = datacenter.strip().lower()
        if not _DATACENTER.match(dc):
            raise SourceError(
                f"The Qualtrics datacenter {datacenter!r} is not a datacenter id such as \"iad1\" or \"myorg.ca1\"."
            )
        host = dc if dc.endswith(".qualtrics.com") else f"{dc}.qualtrics.com"
        return f"https://{host}"
    from_env = (env.get("QUALTRICS_BASE_URL") or "").strip()
    if from_env:
        return _normalize_url(from_env, "QUALTRICS_BASE_URL")
    raise SourceError(
        "No Qualtrics host: set datacenter (e.g. \"iad1\") or base_url in the config's [qualtrics] "
        "section, or the QUALTRICS_BASE_URL environment variable."
    )


def _host(url: str) -> str:
    """The host (and port) of a URL for messages: never its user name or password (SPEC §12)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return netloc or redact(url)


def _error_text(resp: requests.Response, token: str) -> str:
    """': <errorMessage> [<errorCode>]' from a Qualtrics error envelope, or ''."""
    try:
        err = resp.json()["meta"]["error"]
        text = f"{err.get('errorMessage', '')}".strip()
        code = f"{err.get('errorCode', '')}".strip()
    except (ValueError, KeyError, TypeError, AttributeError):
        return ""
    text = f"{text} [{code}]" if code else text
    text = f": {text}" if text else ""
    return text.replace(token, "***") if token else text


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


class _Client:
    """One export: the session, the deadline, and retry/backoff around each call."""

    def __init__(self, survey_id, base_url, token, timeout, session, backoff, sleep, clock):
        self.survey_id = survey_id
        self.base = base_url.rstrip("/")
        self.host = _host(self.base)
        self.token = token
        self.timeout = timeout
        self.session = session
        self.backoff = backoff
        self.sleep = sleep
        self.clock = clock
        self.deadline = clock() + timeout
        self.root = f"{self.base}/API/v3/surveys/{quote(survey_id, safe='')}/export-responses"

    def remaining(self) -> float:
        return self.deadline - self.clock()

    def timed_out(self, doing: str) -> SourceError:
        return SourceError(
            f"Qualtrics at {self.host} did not finish exporting survey {self.survey_id} within "
            f"{self.timeout:g} s ({doing}); try again later, or export the CSV by hand and set [qualtrics] csv."
        )

    def wait(self, seconds: float, doing: str) -> None:
        if seconds > self.remaining():
            raise self.timed_out(doing)
        self.sleep(seconds)

    def call(self, method: str, url: str, what: str, **kwargs) -> requests.Response:
        """Send one request; retry 429, 5xx and dropped connections; raise SourceError."""
        throttled = faults = 0
        delay = self.backoff
        while True:
            reason = None
            try:
                resp = self.session.request(
                    method,
                    url,
                    headers={"X-API-TOKEN": self.token, "Accept": "application/json, application/zip"},
                    timeout=(10.0, max(1.0, min(300.0, self.remaining()))),
                    # requests keeps custom headers across a redirect to another host, so a
                    # redirect would hand the token to whoever it points at.
                    allow_redirects=False,
                    **kwargs,
                )
            except requests.exceptions.InvalidHeader:
                reason, retry = "token", False
            except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
                reason, retry = "url", False
            except requests.exceptions.SSLError:
                reason, retry = "TLS error", False
            except (requests.ConnectionError, requests.Timeout) as exc:
                refused = "refused" in str(exc).lower()
                reason, retry = ("connection refused" if refused else type(exc).__name__), True
            except requests.RequestException as exc:
                reason, retry = type(exc).__name__, False
            # Raised here, outside the except blocks, so that the requests exception (which
            # holds the request and its headers) is not even kept as __context__.
            if reason is not None:
                faults += 1
                if reason == "token":
                    raise SourceError(
                        "The Qualtrics API token is not usable in an HTTP header (spaces or line breaks?); "
                        "copy it again into QUALTRICS_API_KEY."
                    )
                if reason == "url":
                    raise SourceError(
                        f"The Qualtrics base URL {redact(self.base)!r} is not a usable URL; check base_url / "
                        "datacenter."
                    )
                if not retry or faults > MAX_FAULTS:
                    raise SourceError(
                        f"Could not reach Qualtrics at {self.host} while {what} for survey {self.survey_id} "
                        f"({reason}); check base_url / datacenter and that the server is up."
                    )
                log.debug("%s %s: %s, retrying", method, what, reason)
                self.wait(delay, what)
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            status = resp.status_code
            if 200 <= status < 300:
                return resp
            detail = _error_text(resp, self.token)
            if status == 429:
                throttled += 1
                if throttled > MAX_THROTTLED:
                    raise SourceError(
                        f"Qualtrics at {self.host} kept answering 429 Too Many Requests while {what} for survey "
                        f"{self.survey_id} ({MAX_THROTTLED} retries); other exports may be running on this "
                        "account: wait a few minutes and run again."
                    )
                wait = _retry_after(resp)
                wait = min(delay if wait is None else wait, MAX_BACKOFF)
                log.debug("%s %s: 429, waiting %.2fs", method, what, wait)
                self.wait(wait, f"throttled while {what}")
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            if status >= 500:
                faults += 1
                if faults > MAX_FAULTS:
                    raise SourceError(
                        f"Qualtrics at {self.host} kept failing while {what} for survey {self.survey_id} "
                        f"(HTTP {status}{detail}, {faults} times in a row); the service may be down: try again later."
                    )
                log.debug("%s %s: HTTP %d, retrying", method, what, status)
                self.wait(delay, what)
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            raise self.client_error(status, detail, what)

    def client_error(self, status: int, detail: str, what: str) -> SourceError:
        if status == 401 and is_local_endpoint(self.base):
            return SourceError(
                f"The Qualtrics emulator at {self.host} rejected the API token (HTTP 401{detail}) while {what} for "
                f"survey {self.survey_id}: set QUALTRICS_API_KEY to the emulator's token, {EMULATOR_TOKEN} unless it "
                "was started with --qualtrics-token.")
        if status == 401:
            return SourceError(
                f"Qualtrics at {self.host} rejected the API token (HTTP 401{detail}) while {what} for survey "
                f"{self.survey_id}; check QUALTRICS_API_KEY, and that the token belongs to this datacenter."
            )
        if status == 403:
            return SourceError(
                f"Qualtrics at {self.host} refused access to survey {self.survey_id} (HTTP 403{detail}); the token's "
                "account needs permission to export its responses (ask the survey owner to share it)."
            )
        if status == 404 and what == "starting the export":
            return SourceError(
                f"Qualtrics at {self.host} has no survey {self.survey_id} (HTTP 404{detail}); check survey_id in the "
                "config and that the host / datacenter is the one the survey lives on."
            )
        if status == 404:
            return SourceError(
                f"Qualtrics at {self.host} lost the export of survey {self.survey_id} while {what} "
                f"(HTTP 404{detail}); run again."
            )
        if 300 <= status < 400:
            return SourceError(
                f"Qualtrics at {self.host} answered a redirect (HTTP {status}) while {what} for survey "
                f"{self.survey_id}; the token is not sent on redirects: set base_url to the host the survey lives on."
            )
        return SourceError(
            f"Qualtrics at {self.host} refused the request while {what} for survey {self.survey_id} (HTTP {status}{detail})."
        )

    def result(self, resp: requests.Response, what: str) -> dict:
        try:
            result = resp.json()["result"]
            if not isinstance(result, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise SourceError(
                f"Qualtrics at {self.host} sent an answer without a JSON `result` while {what} for survey "
                f"{self.survey_id}; is base_url a Qualtrics API host?"
            ) from None
        return result


def fetch_survey(
    survey_id: str,
    *,
    base_url: str,
    token: str,
    timeout: float = 600.0,
    session: requests.Session | None = None,
    poll_initial: float = 0.5,
    poll_max: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    backoff: float = 1.0,
    keep: Collection[str] | None = None,
    export_to: BinaryIO | None = None,
) -> SurveyTable:
    """Export `survey_id` as CSV (with labels) and read it into a `SurveyTable`.

    `timeout` bounds the whole export, retries included; `backoff` is the first wait after
    a 429 without Retry-After, a 5xx or a dropped connection (then doubled). `keep` is
    `read_qualtrics_csv`'s: the columns each Response.fields holds (None: all). `export_to`
    (a writable binary file, e.g. a spooled temporary file) also receives the export's CSV as
    downloaded, rewound, so every column can be read again (`bridge.responses`).
    """
    survey_id = (survey_id or "").strip()
    if not survey_id:
        raise SourceError("No Qualtrics survey id: set survey_id (\"SV_...\") in the config's [qualtrics] section.")
    if not token:
        raise SourceError("No Qualtrics API token: set the QUALTRICS_API_KEY environment variable.")
    own = session is None
    client = _Client(survey_id, base_url, token, timeout, session or requests.Session(), backoff, sleep, clock)
    try:
        return _export(client, poll_initial, poll_max, keep, export_to)
    finally:
        if own:
            client.session.close()


def _export(c: _Client, poll_initial: float, poll_max: float, keep: Collection[str] | None,
            export_to: BinaryIO | None = None) -> SurveyTable:
    # The POST is retried like the GETs: a 5xx may come after Qualtrics started an export,
    # but a second export only reads the responses, so starting another one is harmless.
    started = c.result(
        c.call("POST", c.root, "starting the export", json={"format": "csv", "useLabels": True}),
        "starting the export",
    )
    progress_id = f"{started.get('progressId') or ''}"
    if not progress_id:
        raise SourceError(f"Qualtrics at {c.host} started an export of survey {c.survey_id} but sent no progressId; run again.")
    log.debug("export of %s started: %s", c.survey_id, progress_id)
    result, delay, polls = started, poll_initial, 0
    # Statuses are inProgress / complete / failed; anything else is treated as still running.
    while result.get("status") != "complete":
        if result.get("status") == "failed":
            raise SourceError(
                f"Qualtrics failed to export the responses of survey {c.survey_id} (export {progress_id}); "
                "run again, or export the CSV by hand and set [qualtrics] csv."
            )
        c.wait(delay, f"export {result.get('percentComplete', 0)}% done after {polls} polls")
        delay = min(delay * 1.5, poll_max)
        polls += 1
        what = "checking the export's progress"
        result = c.result(c.call("GET", f"{c.root}/{quote(progress_id, safe='')}", what), what)
    file_id = f"{result.get('fileId') or ''}"
    if not file_id:
        raise SourceError(f"Qualtrics at {c.host} finished the export of survey {c.survey_id} but sent no fileId; run again.")
    # Streamed to a spooled temporary file, then the CSV streamed out of the zip: the
    # export is never held whole in memory (bridge.sources.qualtrics_zip, limits.py).
    where = f"survey {c.survey_id} from {c.host}"
    resp = c.call("GET", f"{c.root}/{quote(file_id, safe='')}/file", "downloading the export", stream=True)
    with resp:
        body, size = spool_download(resp, where)
    with body:
        table = read_export_zip(body, size, where=where, survey_id=c.survey_id,
                                content_type=resp.headers.get("Content-Type", "?"), keep=keep)
        if export_to is not None:
            _copy_csv(body, export_to, where)
        return table


def _copy_csv(body: BinaryIO, sink: BinaryIO, where: str) -> None:
    """The export's one CSV, out of the zip in `body`, into `sink` (rewound). Called once
    `read_export_zip` read it whole, so the zip and its member are known to be within the limits."""
    copied = 0
    try:
        body.seek(0)
        with zipfile.ZipFile(body) as archive:
            info = next(i for i in archive.infolist()
                        if i.filename.lower().endswith(".csv") and not i.filename.startswith("__MACOSX/"))
            with archive.open(info) as member:
                while chunk := member.read(1 << 20):
                    copied += len(chunk)
                    if copied > MAX_FILE_BYTES:  # cannot happen after the read; kept as a bound
                        raise SourceError(f"The export of {where} grew while it was copied; run again.")
                    sink.write(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, StopIteration) as exc:
        why = getattr(exc, "strerror", None) or type(exc).__name__
        raise SourceError(f"The export of {where} could not be kept for the analysis file ({why}); run again.") from None
    sink.seek(0)
