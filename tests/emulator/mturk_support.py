"""Helpers for the MTurk emulator tests: a hand-moved clock, scripted faults, boto3
clients pointed at the emulator, and raw HTTP for requests boto3 would never send."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from fakes import START, FakeClock, ScriptedFaults  # noqa: F401 - re-exported to the tests

WORKER = "AWORKERONE1"
OTHER_WORKER = "AWORKERTWO2"

_session = boto3.session.Session()  # one session: building clients from it is cheap


def make_client(url: str, retries: int = 0):
    return _session.client(
        "mturk",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": retries}),
    )


def raw_call(url: str, target: str | None, body: bytes | dict | list | str, method: str = "POST",
             path: str = "/") -> tuple[int, dict[str, str], dict]:
    """Send a request boto3 would never send (bad types, bad JSON, no target)."""
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if target is not None:
        headers["X-Amz-Target"] = target
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, json.loads(data)
    finally:
        conn.close()


def error_of(error) -> tuple[str, str, str | None, int]:
    """(code, message, TurkErrorCode, HTTP status) of a botocore ClientError or its ExceptionInfo."""
    r = getattr(error, "value", error).response
    return r["Error"]["Code"], r["Error"]["Message"], r.get("TurkErrorCode"), r["ResponseMetadata"]["HTTPStatusCode"]
