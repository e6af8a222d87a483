"""Pull a wave's HITs and assignments through the MTurk Requester API (2017-01-17).

For every HIT in `[mturk] hit_ids`: `GetHIT`, then `ListAssignmentsForHIT` for every status
through boto3's paginator. The result is the same `SubmissionTable` the batch-results CSV reader
(`bridge.panels.mturk.reader`) gives for the same assignments: answers by field name without
the `Answer.` prefix, rewards as Decimal, times as aware UTC datetimes, `source_row` 0.

Each assignment's answers come from its QuestionFormAnswers XML (`parse_answers`). An
assignment whose XML cannot be read (empty, malformed, a DOCTYPE) is still listed, with no
answers and the flag `answer_unreadable`, so that a person reviews it.

Credentials come only from boto3's own chain (environment, `~/.aws`, `profile = "..."`).
Every failure is one `SourceError` naming the HIT, the environment and what to do; botocore's
exceptions are dropped (`from None`) and no credential ever appears in a message.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
)

from bridge.errors import SourceError
from bridge.models import State, Submission, SubmissionTable, Task
from bridge.money import AmountError, parse_amount
from bridge.netloc import is_local_endpoint
from bridge.panels.mturk.words import ASSIGNMENT_STATUSES, STATES, requires_masters
from bridge.redact import redact

ENDPOINTS = {
    "sandbox": "https://mturk-requester-sandbox.us-east-1.amazonaws.com",
    "production": "https://mturk-requester.us-east-1.amazonaws.com",
}
REGION = "us-east-1"
PAGE_SIZE = 100  # MaxResults' maximum: the fewest calls
MAX_ATTEMPTS = 8  # botocore's `max_attempts`: retries after the first try (9 tries in all)
ANSWER_NAMESPACE = (
    "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd"
)
UNREADABLE = "answer_unreadable"
# Signed with these when a local endpoint (the emulator) is used and the chain has nothing.
LOCAL_DUMMY_KEY = "local-emulator"
# Error codes that mean the credentials were found but are wrong.
_CREDENTIAL_CODES = frozenset({
    "UnrecognizedClientException", "InvalidSignatureException", "InvalidClientTokenId",
    "SignatureDoesNotMatch", "AccessDeniedException", "AccessDenied", "ExpiredTokenException",
    "IncompleteSignature", "MissingAuthenticationToken",
})
# Providers that ask the network (instance metadata, container endpoint) for credentials.
_NETWORK_PROVIDERS = ("iam-role", "container-role")


# --- environments and the client ----------------------------------------------------------


def endpoint_for(environment: str) -> str:
    """`sandbox` / `production` → the AWS endpoint; an http(s) URL is used as given."""
    if environment in ENDPOINTS:
        return ENDPOINTS[environment]
    parts = urlsplit(environment)
    if parts.scheme in ("http", "https") and parts.netloc:
        return environment.rstrip("/")
    raise SourceError(
        f"[mturk] environment {environment!r} must be sandbox, production or an "
        "http://127.0.0.1:PORT endpoint."
    )


def describe_environment(environment: str) -> str:
    """For messages: `the MTurk sandbox`, `MTurk production`, `the MTurk endpoint <url>`."""
    if environment == "sandbox":
        return "the MTurk sandbox"
    if environment == "production":
        return "MTurk production"
    return f"the MTurk endpoint {redact(environment)}"


def _credentials_help(environment: str, profile: str | None) -> str:
    where = describe_environment(environment)
    if profile:
        return (
            f"No AWS credentials for profile {profile!r}, needed to use {where}. Add "
            f"aws_access_key_id and aws_secret_access_key under [{profile}] in ~/.aws/credentials "
            f"(or `aws configure --profile {profile}`), or change [mturk] profile."
        )
    return (
        f"No AWS credentials found, needed to use {where}. Set AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY in the environment, put them in ~/.aws/credentials (`aws configure`), "
        "or name a profile in the config: [mturk] profile = \"...\". Never put keys in the config file."
    )


def _profile_not_found(
    profile: str | None,
    environment: str,
    session: botocore.session.Session | None,
    error: ProfileNotFound | None = None,
) -> SourceError:
    # Without [mturk] profile, the name came from AWS_PROFILE (or AWS_DEFAULT_PROFILE).
    setting = "[mturk] profile" if profile else "the AWS_PROFILE environment variable"
    if not profile and error is not None:
        profile = error.kwargs.get("profile")
    profile = profile or "?"
    known: list[str] = []
    if session is not None:
        try:
            known = sorted(session.available_profiles)
        except Exception:  # pragma: no cover - a broken config file; the message still helps
            known = []
    listing = f"Profiles found: {', '.join(known)}." if known else "No profiles were found."
    return SourceError(
        f"AWS profile {profile!r} ({setting}) was not found in ~/.aws/credentials or ~/.aws/config, "
        f"so HITs cannot be read from {describe_environment(environment)}. {listing} "
        f"Create it with `aws configure --profile {profile}` or fix {setting}."
    )


def make_mturk_client(environment: str = "sandbox", *, profile: str | None = None, max_attempts: int | None = None):
    """A boto3 MTurk client for `environment` (sandbox | production | http URL).

    Credentials only through boto3's chain (`profile` picks a named profile). For a local
    endpoint (127.0.0.1, localhost) with nothing in the chain, dummy credentials are used so
    that the emulator works out of the box; the network providers (instance metadata,
    container role) are not asked then. Elsewhere missing credentials fail here, before
    any request is sent. `max_attempts` (default `MAX_ATTEMPTS`) is botocore's setting:
    retries after the first try.
    """
    profile = profile or None
    endpoint = endpoint_for(environment)
    local = is_local_endpoint(endpoint)
    core = botocore.session.get_session()
    try:
        session = boto3.Session(botocore_session=core, profile_name=profile)
    except ProfileNotFound as e:
        raise _profile_not_found(profile, environment, core, e) from None
    if local:
        resolver = core.get_component("credential_provider")
        for name in _NETWORK_PROVIDERS:
            try:
                resolver.remove(name)
            except Exception:  # pragma: no cover - a botocore without that provider
                pass
    try:
        credentials = session.get_credentials()
    except ProfileNotFound as e:
        raise _profile_not_found(profile, environment, core, e) from None
    except PartialCredentialsError as e:
        raise SourceError(f"{_credentials_help(environment, profile)} ({e})") from None
    except BotoCoreError as e:
        raise SourceError(
            f"AWS credentials could not be loaded ({type(e).__name__}: {e}), needed to use "
            f"{describe_environment(environment)}. Check ~/.aws/config"
            + (f" for profile {profile!r}." if profile else " and the AWS_* environment variables.")
        ) from None
    retries = {"mode": "adaptive", "max_attempts": MAX_ATTEMPTS if max_attempts is None else max_attempts}
    keys: dict[str, str] = {}
    if credentials is None:
        if not local:
            raise SourceError(_credentials_help(environment, profile))
        keys = {"aws_access_key_id": LOCAL_DUMMY_KEY, "aws_secret_access_key": LOCAL_DUMMY_KEY}
    return session.client(
        "mturk",
        region_name=REGION,
        endpoint_url=endpoint,
        config=Config(retries=retries),
        **keys,
    )


# --- the answer XML -----------------------------------------------------------------------


class UnreadableAnswer(ValueError):
    """The Answer XML is empty, malformed or refused (a DOCTYPE)."""


class _NoDoctype(ET.TreeBuilder):
    """Refuses a DOCTYPE as soon as the parser meets it, before any entity is declared:
    ElementTree never fetches external entities but does expand internal ones."""

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise UnreadableAnswer("the answer XML has a DOCTYPE, which is refused")


def _local(tag: Any) -> str | None:
    """The local name of an element in the answer namespace (or none), else None."""
    if not isinstance(tag, str):
        return None  # a comment or processing instruction
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return name if ns == ANSWER_NAMESPACE else None
    return tag


def parse_answers(xml: str | bytes | None) -> dict[str, str]:
    """A QuestionFormAnswers document → {QuestionIdentifier: value}.

    `FreeText`, `UploadedFileKey` give their text; `SelectionIdentifier` (one or several)
    and `OtherSelectionText` are joined with `|` in document order (the CSV's convention
    for several selections; how MTurk joins the other-text is unconfirmed). A field named
    twice keeps both values, joined with `|`. Values are kept exactly (no trimming), as
    the CSV reader keeps them. Raises `UnreadableAnswer` for an empty or malformed
    document, one that is not QuestionFormAnswers, or one with a DOCTYPE.
    """
    if xml is None:
        raise UnreadableAnswer("the assignment has no answer XML")
    if not isinstance(xml, (str, bytes)):
        raise UnreadableAnswer(f"the answer is a {type(xml).__name__}, not XML text")
    if not xml.strip():
        raise UnreadableAnswer("the answer XML is empty")
    parser = ET.XMLParser(target=_NoDoctype())
    try:
        # A str is already decoded: ElementTree ignores its declared encoding (ASCII, UTF-8).
        parser.feed(xml)
        root = parser.close()
    except UnreadableAnswer:
        raise
    except (ET.ParseError, ValueError, LookupError) as e:  # LookupError: an unknown encoding (bytes)
        raise UnreadableAnswer(f"the answer XML is malformed: {e}") from None
    if _local(root.tag) != "QuestionFormAnswers":
        raise UnreadableAnswer(f"the answer XML is not QuestionFormAnswers but {root.tag!r}")
    answers: dict[str, str] = {}
    for answer in root:
        if _local(answer.tag) != "Answer":
            continue
        name: str | None = None
        values: list[str] = []
        for child in answer:
            kind = _local(child.tag)
            if kind == "QuestionIdentifier":
                name = (child.text or "").strip()
            elif kind in ("FreeText", "SelectionIdentifier", "OtherSelectionText", "UploadedFileKey"):
                values.append(child.text or "")
        if not name:
            raise UnreadableAnswer("an <Answer> in the answer XML has no QuestionIdentifier")
        value = "|".join(values)
        answers[name] = f"{answers[name]}|{value}" if name in answers else value
    return answers


# --- reading --------------------------------------------------------------------------------


def _utc(value: Any) -> datetime | None:
    """botocore's datetime (tzlocal) or epoch seconds → aware UTC; None stays None."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
    return None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def _hit(hit_id: str, data: Mapping[str, Any], environment: str) -> Task:
    reward = None
    reward_text = data.get("Reward")
    if reward_text not in (None, ""):
        try:
            reward = parse_amount(str(reward_text))
        except AmountError:
            raise SourceError(
                f"HIT {hit_id} in {describe_environment(environment)} has a reward MTurk gave as "
                f"{reward_text!r}, which is not an amount."
            ) from None
    return Task(
        task_id=hit_id,
        type_id=data.get("HITTypeId") or "",
        title=data.get("Title") or "",
        description=data.get("Description") or "",
        keywords=data.get("Keywords") or "",
        reward=reward,
        places=_int(data.get("MaxAssignments")),
        duration_limit_seconds=_int(data.get("AssignmentDurationInSeconds")),
        auto_approval_delay_seconds=_int(data.get("AutoApprovalDelayInSeconds")),
        created_at=_utc(data.get("CreationTime")),
        expires_at=_utc(data.get("Expiration")),
        masters=requires_masters(data.get("QualificationRequirements")),
    )


def _assignment(hit_id: str, data: Mapping[str, Any], code_answer: str | None) -> Submission:
    try:
        answers, flags = parse_answers(data.get("Answer")), ()
    except UnreadableAnswer:
        answers, flags = {}, (UNREADABLE,)
    accept, submit = _utc(data.get("AcceptTime")), _utc(data.get("SubmitTime"))
    # The CSV's WorkTimeInSeconds is SubmitTime - AcceptTime; the API does not send it.
    work = int((submit - accept).total_seconds()) if accept and submit else None
    status = data.get("AssignmentStatus") or ""
    return Submission(
        submission_id=data.get("AssignmentId") or "",
        participant_id=data.get("WorkerId") or "",
        task_id=data.get("HITId") or hit_id,
        state=STATES.get(status, State.OTHER),
        status=status,
        started_at=accept,
        submitted_at=submit,
        auto_approval_time=_utc(data.get("AutoApprovalTime")),
        approved_at=_utc(data.get("ApprovalTime")),
        rejected_at=_utc(data.get("RejectionTime")),
        feedback=data.get("RequesterFeedback") or "",
        time_taken_seconds=work,
        entered_code=answers.get(code_answer, "") if code_answer else "",
        answers=answers,
        source_row=0,
        flags=flags,
    )


def _source(hit_ids: list[str], environment: str) -> str:
    where = {"sandbox": "MTurk sandbox API", "production": "MTurk production API"}.get(
        environment, f"MTurk API at {redact(environment)}"
    )
    shown = ", ".join(hit_ids[:3]) + (f" and {len(hit_ids) - 3} more" if len(hit_ids) > 3 else "")
    return f"{where} ({'HIT' if len(hit_ids) == 1 else 'HITs'} {shown})"


def _unique(hit_ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(h.strip() for h in hit_ids if h and h.strip()))


def _translate(e: Exception, hit_id: str, environment: str, profile: str | None, doing: str) -> SourceError:
    """A botocore exception → one clear SourceError (botocore's own text only where safe)."""
    where = describe_environment(environment)
    if isinstance(e, NoCredentialsError):
        return SourceError(_credentials_help(environment, profile))
    if isinstance(e, PartialCredentialsError):
        return SourceError(f"{_credentials_help(environment, profile)} ({e})")
    if isinstance(e, ProfileNotFound):
        return _profile_not_found(profile, environment, None, e)
    if isinstance(e, EndpointConnectionError):
        url = e.kwargs.get("endpoint_url") or endpoint_for(environment)
        return SourceError(
            f"Could not connect to {where} at {url} while {doing} HIT {hit_id}. Check the network "
            "connection and [mturk] environment (for the local emulator, start it first: "
            "`survey-bridge emulator`)."
        )
    if isinstance(e, ClientError):
        error = e.response.get("Error", {}) if isinstance(e.response, dict) else {}
        code = error.get("Code") or "Unknown"
        message = (error.get("Message") or "").strip()
        if code in _CREDENTIAL_CODES:
            who = f"profile {profile!r}" if profile else "the credentials found (environment or ~/.aws)"
            return SourceError(
                f"{where[0].upper()}{where[1:]} refused {who} while {doing} HIT {hit_id}: {code}: {message}. "
                "Check that the keys are current and belong to the MTurk requester account."
            )
        return SourceError(f"{where[0].upper()}{where[1:]} answered {code}: {message} while {doing} HIT {hit_id}.")
    return SourceError(f"Could not read HIT {hit_id} from {where} ({type(e).__name__}: {e}).")


def _not_found(hit_id: str, environment: str, message: str) -> SourceError:
    where = describe_environment(environment)
    if environment in ENDPOINTS:
        hint = "a sandbox HIT is not visible in production and vice versa."
    else:
        hint = "this endpoint only knows the HITs it was given (e.g. with --seed-batch)."
    extra = "" if "does not exist" in message else f" (MTurk: {message})"
    return SourceError(
        f"HIT {hit_id} was not found in {where}{extra}. Check [mturk] hit_ids and environment: {hint}"
    )


def fetch_assignments(
    hit_ids: list[str],
    *,
    environment: str,
    profile: str | None = None,
    client: Any = None,
    code_answer: str | None = None,
) -> SubmissionTable:
    """Read the given HITs and all their assignments (Submitted, Approved, Rejected).

    `client` is a ready boto3 MTurk client (tests, or a caller that already has one);
    without it one is made with `make_mturk_client(environment, profile=profile)`.
    Duplicate HIT ids are read once. Raises `SourceError` for an unknown HIT, missing
    credentials, an unreachable endpoint or any other API error.
    """
    ids = _unique(hit_ids)
    profile = profile or None
    if not ids:
        raise SourceError("[mturk] hit_ids is empty; list at least one HIT id.")
    if client is None:
        client = make_mturk_client(environment, profile=profile)
    hits: dict[str, Task] = {}
    assignments: list[Submission] = []
    seen: set[str] = set()
    fields: dict[str, None] = {}
    for hit_id in ids:
        try:
            data = client.get_hit(HITId=hit_id).get("HIT") or {}
        except ClientError as e:
            error = e.response.get("Error", {}) if isinstance(e.response, dict) else {}
            if error.get("Code") == "RequestError":
                raise _not_found(hit_id, environment, (error.get("Message") or "").strip()) from None
            raise _translate(e, hit_id, environment, profile, "reading") from None
        except BotoCoreError as e:
            raise _translate(e, hit_id, environment, profile, "reading") from None
        hits[hit_id] = _hit(hit_id, data, environment)
        try:
            pages = client.get_paginator("list_assignments_for_hit").paginate(
                HITId=hit_id,
                AssignmentStatuses=list(ASSIGNMENT_STATUSES),
                PaginationConfig={"PageSize": PAGE_SIZE},
            )
            for page in pages:
                for item in page.get("Assignments") or ():
                    a = _assignment(hit_id, item, code_answer)
                    if not a.submission_id or a.submission_id in seen:
                        continue  # a listing that shifted between pages can repeat one
                    seen.add(a.submission_id)
                    assignments.append(a)
                    fields.update(dict.fromkeys(a.answers))
        except (ClientError, BotoCoreError) as e:
            raise _translate(e, hit_id, environment, profile, "listing the assignments of") from None
    return SubmissionTable(
        source=_source(ids, environment),
        tasks=hits,
        submissions=assignments,
        answer_fields=list(fields),
        currency="USD",
    )
