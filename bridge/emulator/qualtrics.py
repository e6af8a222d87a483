"""A local emulator of the Qualtrics v3 response-export API.

Speaks the flow, JSON envelopes and headers of the recorded real session
(`realworld/qualtrics_export_session.yml`): POST `/API/v3/surveys/{id}/export-responses`,
GET `.../export-responses/{progressId}` (`inProgress` → `complete` with a `fileId`, or
`failed`), GET `.../export-responses/{fileId}/file` (a zip holding `<Survey Name>.csv`), and
GET `/API/v3/surveys/{id}`. Authentication: `X-API-TOKEN`, or an OAuth `Authorization:
Bearer` token.

The export body is checked and honoured as Qualtrics' "Start Response Export" reference
documents it (https://api.qualtrics.com/6b00592b9c013-start-response-export; the workflows,
continuation included: https://developers.qodex.ai/qualtrics-public/surveys-response-import-export-api):
`format` csv or tsv (the other formats are refused: the emulator holds CSV only), `limit`,
`startDate`/`endDate` (on RecordedDate), `useLabels` (Status and Finished as labels or
numeric codes; answer choices stay as seeded, their labels being unknown),
`exportResponsesInProgress`, `compress`, `allowContinuation`/`continuationToken`. When an
export holds exactly the seeded rows, unchanged, its file is the seeded CSV byte for byte.

    emu = QualtricsEmulator(token="t")
    emu.add_survey("SV_abc", "wave3.csv", name="Wave 3")
    emu.add_responses("SV_abc", [{"workerId": "A1", "Finished": "False"}], in_progress=True)
    with emu.serve() as server:        # or: with emu: ... emu.url
        fetch_survey("SV_abc", base_url=server.url, token="t")
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import string
import threading
import time
import uuid
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import quote_plus, urlsplit

from bridge.emulator.base import Fault, Faults, QuietHandler, Serving, seed_spec
from bridge.emulator.qualtrics_export import (
    FORMATS,
    IN_PROGRESS_PREFIX,
    ExportOptions,
    OptionError,
    Row,
    SurveyData,
    check_options,
)
from bridge.errors import SourceError

__all__ = ["FORMATS", "QualtricsEmulator", "add_cli_surveys"]

SURVEY_ID = re.compile(r"^SV_[A-Za-z0-9]+$")
_ROUTE_EXPORT = re.compile(r"^/API/v3/surveys/([^/]+)/export-responses/?$")
_ROUTE_PROGRESS = re.compile(r"^/API/v3/surveys/([^/]+)/export-responses/([^/]+)/?$")
_ROUTE_FILE = re.compile(r"^/API/v3/surveys/([^/]+)/export-responses/([^/]+)/file/?$")
_ROUTE_SURVEY = re.compile(r"^/API/v3/surveys/([^/]+)/?$")
_METADATA = {
    "StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)", "Finished",
    "RecordedDate", "ResponseId", "RecipientLastName", "RecipientFirstName", "RecipientEmail",
    "ExternalReference", "LocationLatitude", "LocationLongitude", "DistributionChannel", "UserLanguage",
}
# Headers every recorded answer carried (besides date, content-type and content-length).
RECORDED_HEADERS = {
    "x-frame-options": "DENY",
    "x-xss-protection": "1; mode=block",
    "x-permitted-cross-domain-policies": "master-only",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-content-type-options": "nosniff",
    "permissions-policy": "camera=(), geolocation=(), microphone=()",
    "strict-transport-security": "max-age=63072000; includeSubDomains; preload",
}
STATUS_TEXT = {
    200: "200 - OK", 400: "400 - Bad Request", 401: "401 - Unauthorized", 404: "404 - Not Found",
    405: "405 - Method Not Allowed", 429: "429 - Too Many Requests",
    500: "500 - Internal Server Error", 503: "503 - Temporary Internal Server Error",
}


class _Export:
    def __init__(self, survey_id: str, progress_id: str, options: ExportOptions, rows: list[Row], reached: int):
        self.survey_id, self.progress_id = survey_id, progress_id
        self.options, self.rows, self.reached = options, rows, reached  # the rows as of the request
        self.polls = 0
        self.status = "inProgress"
        self.file_id: str | None = None
        self.continuation_token: str | None = None


class QualtricsEmulator(Serving):
    """In-memory Qualtrics: surveys, exports and their files, behind one API token."""

    def __init__(
        self,
        token: str = "test-token",
        latency_ms: float = 0,
        rate_limit: float | None = None,
        fail_rate: float = 0.0,
        fail_exports: bool = False,
        polls_to_complete: int = 2,
        seed: int | None = None,
        oauth_token: str | None = None,
    ):
        """`token` is the X-API-TOKEN accepted; `oauth_token` the OAuth access token accepted
        as `Authorization: Bearer` (default: `token` too)."""
        if polls_to_complete < 0:
            raise ValueError("polls_to_complete must be >= 0")
        self.token = token
        self.oauth_token = oauth_token if oauth_token is not None else token
        self.faults = Faults(latency_ms=latency_ms, rate_limit=rate_limit, fail_rate=fail_rate, seed=seed)
        self.fail_exports = fail_exports
        self.polls_to_complete = polls_to_complete
        self.surveys: dict[str, SurveyData] = {}
        self.exports: dict[str, _Export] = {}
        self.files: dict[str, str] = {}  # fileId -> progressId
        self.continuations: dict[str, tuple[str, int]] = {}  # token -> (survey id, rows recorded before it)
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, in order
        self.statuses: list[int] = []  # the HTTP status answered to each, in the same order
        self.lock = threading.Lock()
        self._random = random.Random(seed)

    # --- seeding ---------------------------------------------------------------------------

    def add_survey(self, survey_id: str, csv_bytes_or_path: bytes | str | os.PathLike, name: str | None = None) -> None:
        """Serve a CSV export (bytes or a file path) as survey `survey_id`."""
        if not SURVEY_ID.match(survey_id or ""):
            raise ValueError(f"Qualtrics survey ids look like SV_ followed by letters and digits, not {survey_id!r}")
        if isinstance(csv_bytes_or_path, (bytes, bytearray)):
            data = bytes(csv_bytes_or_path)
        else:
            path = Path(csv_bytes_or_path)
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise SourceError(f"Cannot read the CSV for survey {survey_id} at {path}: {exc.strerror or exc}.") from None
            name = name or path.stem
        # Qualtrics names the zip entry after the survey; keep it a plain file name.
        name = re.sub(r"[/\\]", "_", (name or survey_id).strip()) or survey_id
        with self.lock:
            self.surveys[survey_id] = SurveyData(survey_id, name, data)

    def add_responses(self, survey_id: str, responses: Iterable[Mapping[str, str]], *, in_progress: bool = False
                      ) -> list[str]:
        """Record more responses (field name -> value; missing fields are empty) after the
        survey was seeded, as if they came in later; returns their ResponseIds.

        With `in_progress` they are responses still being taken: only an export with
        `exportResponsesInProgress` holds them, their ResponseIds start with FS_ and
        Finished is False. A seeded CSV's rows whose ResponseId starts with FS_ are
        in-progress ones too. ValueError for an unknown field or a ResponseId of the wrong kind.
        """
        with self.lock:
            survey = self.surveys[survey_id]
            ids = []
            for response in responses:
                unknown = set(response) - set(survey.fields)
                if unknown:
                    raise ValueError(f"survey {survey_id} has no field(s) {', '.join(sorted(unknown))}")
                values = [str(response.get(name, "")) for name in survey.fields]
                rid = survey.col.get("ResponseId")
                if rid is not None:
                    if not values[rid]:
                        values[rid] = self._new_id(IN_PROGRESS_PREFIX if in_progress else "R_")
                    if values[rid].startswith(IN_PROGRESS_PREFIX) != in_progress:
                        raise ValueError(f"ResponseId {values[rid]!r}: in-progress responses, and only they, "
                                         f"start with {IN_PROGRESS_PREFIX}")
                    ids.append(values[rid])
                if in_progress and "Finished" in survey.col:
                    values[survey.col["Finished"]] = "False"
                survey.append(values, in_progress)
            return ids

    # --- the API (called by the handler; returns status, body, content type, headers) ------

    def _new_id(self, prefix: str, length: int = 15) -> str:
        alphabet = string.ascii_letters + string.digits
        return prefix + "".join(self._random.choice(alphabet) for _ in range(length))

    def start_export(self, survey_id: str, body: bytes):
        """Check the body (400 naming the bad member) and take the export's rows as they are now."""
        try:
            decoded = json.loads(body.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            return _error(400, "The request body is not valid JSON.", "QVAL_1")
        try:
            options = check_options(decoded)
        except OptionError as exc:
            return _error(400, f"Invalid request body: {exc.message}", exc.code)
        with self.lock:
            since = None
            if options.continuation_token is not None:
                known = self.continuations.get(options.continuation_token)
                if known is None or known[0] != survey_id:
                    return _error(400, "Invalid request body: continuationToken is not one this survey's exports "
                                       "gave.", "QVAL_4")
                since = known[1]
            rows, reached = self.surveys[survey_id].select(options, since)
            export = _Export(survey_id, self._new_id("ES_"), options, rows, reached)
            self.exports[export.progress_id] = export
            if self.polls_to_complete == 0:
                self._finish(export)
        return _ok(_progress(export, self.polls_to_complete, with_id=True))

    def _finish(self, export: _Export) -> None:
        export.status = "failed" if self.fail_exports else "complete"
        if export.status == "complete":
            export.file_id = f"{uuid.UUID(int=self._random.getrandbits(128), version=4)}-def"
            self.files[export.file_id] = export.progress_id
            # A continuation export gives the next token too, so a chain keeps going (unconfirmed
            # whether Qualtrics needs allowContinuation again for it; giving it is harmless).
            if export.options.allow_continuation or export.options.continuation_token is not None:
                export.continuation_token = self._new_id("", 32)
                self.continuations[export.continuation_token] = (export.survey_id, export.reached)

    def poll(self, survey_id: str, progress_id: str):
        with self.lock:
            export = self.exports.get(progress_id)
            if export is None or export.survey_id != survey_id:
                return _error(404, f"Export {progress_id} of survey {survey_id} does not exist.")
            if export.status == "inProgress":
                export.polls += 1
                if export.polls >= self.polls_to_complete:
                    self._finish(export)
            return _ok(_progress(export, self.polls_to_complete))

    def file(self, survey_id: str, file_id: str):
        """The export's file: zipped by default; with `compress: false` the CSV itself
        (content type and disposition of the bare file unconfirmed: text/csv, attachment)."""
        with self.lock:
            export = self.exports.get(self.files.get(file_id, ""))
            if export is None or export.survey_id != survey_id:
                return _error(404, f"File {file_id} of survey {survey_id} does not exist.")
            survey = self.surveys[survey_id]
            data = survey.render(export.rows, export.options)
        entry = f"{survey.name}.{export.options.fmt}"
        if not export.options.compress:
            kind = "text/csv" if export.options.fmt == "csv" else "text/tab-separated-values"
            return 200, data, f"{kind}; charset=UTF-8", {"content-disposition": f"attachment; filename={quote_plus(entry)}"}
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(entry, data)
        headers = {"content-disposition": f"attachment; filename={quote_plus(survey.name)}.zip"}
        return 200, buf.getvalue(), "application/zip", headers

    def survey_info(self, survey_id: str):
        survey = self.surveys[survey_id]
        questions, column_map, embedded = {}, {}, []
        for i, field in enumerate(survey.fields):
            qid = survey.import_ids[i] if i < len(survey.import_ids) else ""
            if qid.startswith("QID"):
                base_qid = qid.split("_")[0]
                column_map[field] = {"question": base_qid}
                # Question types are not in a CSV export; "TE" is the least surprising guess.
                questions.setdefault(base_qid, {
                    "questionType": {"type": "TE", "selector": "SL", "subSelector": None},
                    "questionText": survey.texts[i] if i < len(survey.texts) else "",
                    "questionLabel": None,
                    "validation": {"doesForceResponse": False},
                    "questionName": field,
                })
            elif field not in _METADATA and (not survey.import_ids or qid == field):
                embedded.append({"name": field})
        result = {
            "id": survey.id, "name": survey.name, "ownerId": "UR_emulator", "organizationId": "emulator",
            "isActive": True, "creationDate": "2020-01-01T00:00:00Z", "lastModifiedDate": "2020-01-01T00:00:00Z",
            "expiration": {"startDate": None, "endDate": None}, "questions": questions,
            "exportColumnMap": column_map, "blocks": {}, "flow": [], "embeddedData": embedded,
            "comments": {}, "loopAndMerge": {},
            "responseCounts": {"auditable": survey.responses, "generated": 0, "deleted": 0},
        }
        # The recorded survey answer lists httpStatus before requestId, unlike the export answers.
        return _json(200, {"result": result, "meta": {"httpStatus": STATUS_TEXT[200], "requestId": str(uuid.uuid4())}})

    def handle(self, method: str, path: str, headers, body: bytes):
        """Route one request; returns (status, body bytes, content type, extra headers)."""
        answer = self._answer(method, path, headers, body)
        with self.lock:
            self.requests.append((method, path))
            self.statuses.append(answer[0])
        return answer

    def _answer(self, method: str, path: str, headers, body: bytes):
        fault = self.faults.decide()
        if fault is Fault.THROTTLE:
            return _error(429, "Too many concurrent requests for this API token; try again later.", "TOO_MANY_REQUESTS")
        if fault is Fault.FAIL_BEFORE:
            return _error(503, "The service is temporarily unavailable.", "SERVICE_UNAVAILABLE")
        answer = self._route(method, path, headers, body)
        if fault is Fault.FAIL_AFTER and answer[0] == 200:
            # The work is done (an export started, a poll counted) but the client sees a 5xx.
            return _error(500, "An internal server error occurred.", "INTERNAL_ERROR")
        return answer

    def _refuse_auth(self, headers):
        """None when the request carries an accepted X-API-TOKEN or OAuth bearer token (an
        X-API-TOKEN, when given, is the one checked); else the error answer. The wording for
        a refused bearer token is unconfirmed."""
        token, bearer = headers.get("X-API-TOKEN"), _bearer(headers)
        if token:
            return None if token == self.token else _error(401, "Unrecognized X-API-TOKEN.", "DCD_7")
        if bearer is not None:
            return None if bearer == self.oauth_token else _error(401, "Invalid OAuth access token.", "AUTH_1")
        return _error(400, "Expected authorization in headers, but none provided.", "ATP_2")

    def _route(self, method: str, path: str, headers, body: bytes):
        routes = (
            (_ROUTE_FILE, "GET", self.file),
            (_ROUTE_EXPORT, "POST", self.start_export),
            (_ROUTE_PROGRESS, "GET", self.poll),
            (_ROUTE_SURVEY, "GET", self.survey_info),
        )
        for pattern, verb, action in routes:
            m = pattern.match(path)
            if not m:
                continue
            if method != verb:
                return _error(405, f"Method {method} is not allowed on this resource.")
            # Qualtrics checks the token before it looks at the resource.
            refused = self._refuse_auth(headers)
            if refused is not None:
                return refused
            survey_id = m.group(1)
            if survey_id not in self.surveys:
                return _error(404, f"Survey {survey_id} does not exist.", "QVAL_404")
            args = m.groups()[1:] + ((body,) if verb == "POST" else ())
            return action(survey_id, *args)
        return _error(404, "The requested resource does not exist.")


def _bearer(headers) -> str | None:
    scheme, _, credentials = (headers.get("Authorization") or "").strip().partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


def _progress(export: _Export, polls_to_complete: int, with_id: bool = False) -> dict:
    result: dict = {"progressId": export.progress_id} if with_id else {}
    if export.file_id:
        result["fileId"] = export.file_id
    done = export.status == "complete" or polls_to_complete == 0
    result["percentComplete"] = 100.0 if done else round(100.0 * export.polls / polls_to_complete, 1)
    result["status"] = export.status
    if export.continuation_token:
        result["continuationToken"] = export.continuation_token
    return result


def _json(status: int, payload: dict):
    return status, json.dumps(payload, separators=(",", ":")).encode(), "application/json", {}


def _ok(result: dict):
    return _json(200, {"result": result, "meta": {"requestId": str(uuid.uuid4()), "httpStatus": STATUS_TEXT[200]}})


def _error(status: int, message: str, code: str | None = None):
    error = {"errorMessage": message}
    if code:  # codes seen in real answers: ATP_2, DCD_7; the others are the emulator's own
        error["errorCode"] = code
    meta = {"httpStatus": STATUS_TEXT.get(status, str(status)), "error": error, "requestId": str(uuid.uuid4())}
    return _json(status, {"meta": meta})


class _Handler(QuietHandler):
    protocol_version = "HTTP/1.1"
    server_version = "qualtrics-emulator"

    def _serve(self) -> None:
        started = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        path = urlsplit(self.path).path
        status, payload, content_type, extra = self.server.emulator.handle(self.command, path, self.headers, body)
        self.send_response(status)
        self.send_header("request-time", str(int((time.monotonic() - started) * 1000)))
        for key, value in {**RECORDED_HEADERS, **extra}.items():
            self.send_header(key, value)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve


QualtricsEmulator.handler_class = _Handler  # defined after the emulator it serves


def add_cli_surveys(emu: QualtricsEmulator, specs: list[str]) -> list[str]:
    """Seed `emu` from `SV_ID=FILE.csv` strings (the CLI's --seed-survey); returns the ids."""
    ids = []
    for spec in specs:
        survey_id, file = seed_spec("--seed-survey", spec, "SV_ID=FILE.csv", "SV_3gbwq8aJgqPwQDP=exports/wave3.csv",
                                    lambda i: SURVEY_ID.match(i) is not None)
        emu.add_survey(survey_id, file)
        ids.append(survey_id)
    return ids
