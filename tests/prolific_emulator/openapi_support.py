"""Validate the Prolific emulator's answers (and the requests tests send) against Prolific's
own OpenAPI 3.1 file, /work/shared/prolific/prolific-openapi.yml.

The file is not in the repository. `openapi_spec()` holds the one rule for its absence:
skip (one line) on a developer machine, fail when the environment variable CI is set.

Every exchange is checked against the schema the file declares for its method, path and
status, with these documented exceptions where the file is known to differ from Prolific's
real behaviour (FACTS = /work/shared/prolific/FACTS.md):
- 400 on list endpoints (submissions, bulk-approve, messages, studies): the file declares the
  bare `ErrorDetail`, real bodies are the wrapped `Error` (FACTS 1.2) -> checked against `Error`.
- Statuses the file does not declare (401, 404, 405, 429, 5xx; it declares only 2xx and 400):
  404 as DRF's `{"detail": str}` (FACTS 1.2), every other error as the wrapped `Error`.
- Paginated lists also carry `_links` and `meta` (FACTS 1.4; not in the file): checked against
  `PAGINATION` below, on top of the file's list schema.
- 204: the file declares an empty JSON object, a real 204 carries no body -> checked to be empty.
- A plain-string answer (`type: string`: bulk approve, pay) is validated as the file says.
Request bodies are checked for every exchange the emulator accepted (2xx): what the emulator
accepts the file must allow. Refused requests (4xx) are the tests' deliberate negatives.
"""

from __future__ import annotations

import functools
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO.parent / "shared" / "prolific" / "prolific-openapi.yml"
SPEC_URI = "urn:prolific:openapi"
JSON = "application/json"

# Endpoints whose 400 the file declares as the bare ErrorDetail (FACTS 1.2 L4483, L4727).
BARE_ERROR_DETAIL = "#/components/schemas/ErrorDetail"
DRF_DETAIL = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"],
              "additionalProperties": False}
_LINK = {"type": "object", "properties": {"href": {"type": ["string", "null"]}, "title": {"type": "string"}},
         "required": ["href", "title"]}
PAGINATION = {  # FACTS 1.4 (verified live by Dallinger; shape in Prolific's CLI)
    "type": "object",
    "properties": {
        "results": {"type": "array"},
        "_links": {"type": "object", "properties": {k: _LINK for k in ("self", "next", "previous", "last")},
                   "required": ["self", "next", "previous", "last"]},
        "meta": {"type": "object", "properties": {"count": {"type": "integer", "minimum": 0}},
                 "required": ["count"]},
    },
    "required": ["results", "_links", "meta"],
}
PAGINATED = {"get-submissions", "get-study-submissions", "get-studies", "get-participant-groups"}


def _date_time(value: object) -> bool:
    """RFC 3339 date-time (the `format` the file gives timestamps)."""
    if not isinstance(value, str):
        return True
    try:
        return "T" in value and datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None
    except ValueError:
        return False


FORMATS = FormatChecker()
FORMATS.checks("date-time")(_date_time)


class Spec:
    """The loaded OpenAPI file with a `referencing` registry for its `$ref`s."""

    def __init__(self, document: dict):
        self.document = document
        self.registry = Registry().with_resource(SPEC_URI, Resource.from_contents(document, DRAFT202012))

    def operation(self, method: str, template: str) -> dict:
        return self.document["paths"][template][method.lower()]

    @staticmethod
    def _pointer(*parts: str) -> str:
        return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)

    def validator(self, pointer: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": f"{SPEC_URI}#{pointer}"}, registry=self.registry,
                                    format_checker=FORMATS)

    def local(self, schema: dict) -> Draft202012Validator:
        return Draft202012Validator(schema, registry=self.registry, format_checker=FORMATS)

    def response_pointer(self, method: str, template: str, status: int) -> str | None:
        responses = self.operation(method, template)["responses"]
        if str(status) not in responses or JSON not in (responses[str(status)].get("content") or {}):
            return None
        return self._pointer("paths", template, method.lower(), "responses", str(status), "content", JSON, "schema")

    def request_pointer(self, method: str, template: str) -> str | None:
        body = self.operation(method, template).get("requestBody") or {}
        if JSON not in (body.get("content") or {}):
            return None
        return self._pointer("paths", template, method.lower(), "requestBody", "content", JSON, "schema")

    def schema_at(self, pointer: str) -> Any:
        return self.registry.resolver().lookup(f"{SPEC_URI}#{pointer}").contents


@functools.lru_cache(maxsize=1)
def _load() -> Spec:
    with SPEC_PATH.open(encoding="utf-8") as f:
        return Spec(yaml.safe_load(f))


def openapi_spec(*, skip: bool = True) -> Spec | None:
    """The spec; when its file is absent: fail under CI, else skip (or None with skip=False)."""
    if SPEC_PATH.is_file():
        return _load()
    reason = f"Prolific's OpenAPI file is not at {SPEC_PATH}"
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required when CI is set)")
    if skip:
        pytest.skip(reason)
    return None


def _errors(validator: Draft202012Validator, instance: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in validator.iter_errors(instance)]


def check_exchange(spec: Spec, ex: Any) -> list[str]:
    """Problems with one recorded exchange (empty when it conforms)."""
    where = f"{ex.method} {ex.template or '<no route>'} -> {ex.status}"
    problems: list[str] = []
    if ex.template is None:  # unknown path (404) or method (405)
        validator = spec.local(DRF_DETAIL) if ex.status == 404 else spec.validator("/components/schemas/Error")
        return [f"{where}: {p}" for p in _errors(validator, ex.body)]
    if ex.status == 204:
        if ex.body is not None:
            problems.append("a 204 must carry no body")
    elif ex.status == 404:
        problems += _errors(spec.local(DRF_DETAIL), ex.body)
    else:
        pointer = spec.response_pointer(ex.method, ex.template, ex.status)
        declared = spec.schema_at(pointer) if pointer else None
        if ex.status >= 400 and (pointer is None or (declared or {}).get("$ref") == BARE_ERROR_DETAIL):
            pointer = "/components/schemas/Error"  # see the module docstring
        if pointer is None:
            problems.append("the file declares no JSON answer for this status")
        else:
            problems += _errors(spec.validator(pointer), ex.body)
        if ex.status >= 400 and isinstance(ex.body, dict) and isinstance(ex.body.get("error"), dict):
            if ex.body["error"].get("status") != ex.status:
                problems.append(f"error.status {ex.body['error'].get('status')} is not the HTTP status")
    if ex.name in PAGINATED and ex.status == 200:
        problems += _errors(spec.local(PAGINATION), ex.body)
    if 200 <= ex.status < 300 and ex.request_body is not None:
        pointer = spec.request_pointer(ex.method, ex.template)
        if pointer is not None:
            problems += [f"request body: {p}" for p in _errors(spec.validator(pointer), ex.request_body)]
    return [f"{where}: {p}" for p in problems]


def check_exchanges(spec: Spec, exchanges: list) -> list[str]:
    return [p for ex in exchanges for p in check_exchange(spec, ex)]


def assert_conform(emulators: list) -> None:
    """Every exchange the emulators recorded (answers, and the request bodies they accepted)
    conforms to prolific-openapi.yml; without the file this check is left out on a developer
    machine and fails under CI (`openapi_spec`)."""
    exchanges = [ex for emu in emulators for ex in emu.exchanges]
    if not exchanges:
        return
    spec = openapi_spec(skip=False)
    if spec is None:
        return
    problems = check_exchanges(spec, exchanges)
    assert not problems, "answers that do not conform to prolific-openapi.yml:\n" + "\n".join(problems)


# --- The fixtures every suite that serves a Prolific emulator shares -------------------------
# A suite's conftest imports `started` and `answers_conform_to_openapi` from here, and makes
# its `make_emu` with `emulator_maker`, naming its emulator class and its defaults.


@pytest.fixture
def started():
    """Every emulator a test started; stopped afterwards."""
    emulators: list = []
    yield emulators
    for emu in emulators:
        emu.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def answers_conform_to_openapi(started):
    """After each test, every exchange of its emulators against prolific-openapi.yml."""
    yield
    assert_conform(started)


def emulator_maker(started: list, emulator: type, **defaults: Any):
    """A function starting emulators of class `emulator` (recording every exchange, with
    `defaults` unless the test says otherwise), each stopped after the test."""

    def make(**kwargs: Any):
        emu = emulator(**{"record": True, **defaults, **kwargs}).__enter__()
        started.append(emu)
        return emu

    return make
