"""fetch_survey's error paths, the host and token resolution, and that the token never shows."""

from __future__ import annotations

import io
import json
import logging
import socket
import traceback
import zipfile

import pytest
from qualtrics_support import SAMPLE_CSV, TOKEN

from bridge.emulator.qualtrics import QualtricsEmulator
from bridge.errors import SourceError
from bridge.sources import qualtrics_api
from bridge.sources.qualtrics_api import fetch_survey, resolve_base_url, resolve_token

SV = "SV_0123456789abcde"
JSON = {"content-type": "application/json"}


def ok(result: dict):
    return 200, JSON, json.dumps({"result": result, "meta": {"requestId": "r", "httpStatus": "200 - OK"}}).encode()


def err(status: int, message: str, headers: dict | None = None):
    body = {"meta": {"httpStatus": f"{status}", "error": {"errorMessage": message, "errorCode": "X_1"}, "requestId": "r"}}
    return status, {**JSON, **(headers or {})}, json.dumps(body).encode()


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def flow(file_body: bytes, content_type: str = "application/zip") -> list:
    return [
        ok({"progressId": "ES_abc", "percentComplete": 0.0, "status": "inProgress"}),
        ok({"fileId": "f1-def", "percentComplete": 100.0, "status": "complete"}),
        (200, {"content-type": content_type}, file_body),
    ]


def failure(fn) -> SourceError:
    """Run `fn`, expect a SourceError, and check that the token shows nowhere in it."""
    with pytest.raises(SourceError) as info:
        fn()
    exc = info.value
    shown = [str(exc), repr(exc), "".join(traceback.format_exception(exc)), repr(exc.args)]
    for text in shown:
        assert TOKEN not in text
    assert exc.__cause__ is None
    return exc


@pytest.fixture
def emulator():
    emus = []

    def start(**kwargs) -> tuple[QualtricsEmulator, str]:
        emu = QualtricsEmulator(**{"token": TOKEN, **kwargs})
        emu.add_survey(SV, SAMPLE_CSV, name="Sample")
        emus.append(emu.__enter__())
        return emu, emu.url

    yield start
    for emu in emus:
        emu.__exit__(None, None, None)


def fetch(url: str, fake, **kwargs):
    return lambda: fetch_survey(kwargs.pop("survey", SV), base_url=url, token=kwargs.pop("token", TOKEN),
                                sleep=fake.sleep, clock=fake.clock, **kwargs)


# --- resolution -----------------------------------------------------------------------------


def test_base_url_order_and_forms():
    env = {"QUALTRICS_BASE_URL": "env.qualtrics.com"}
    assert resolve_base_url("iad1", "http://127.0.0.1:8123/", env) == "http://127.0.0.1:8123"
    assert resolve_base_url("iad1", None, env) == "https://iad1.qualtrics.com"
    assert resolve_base_url(" myorg.CA1 ", "", env) == "https://myorg.ca1.qualtrics.com"
    assert resolve_base_url("iad1.qualtrics.com", None, {}) == "https://iad1.qualtrics.com"
    assert resolve_base_url(None, None, env) == "https://env.qualtrics.com"
    assert resolve_base_url(None, None, {"QUALTRICS_BASE_URL": "https://x.qualtrics.com/API/v3/"}) == "https://x.qualtrics.com"
    assert resolve_base_url(None, "co1.qualtrics.com", {}) == "https://co1.qualtrics.com"


@pytest.mark.parametrize(
    ("datacenter", "base_url", "env", "needle"),
    [
        (None, None, {}, "QUALTRICS_BASE_URL"),
        ("", "  ", {"QUALTRICS_BASE_URL": ""}, "datacenter"),
        ("iad1/../evil", None, {}, "iad1/../evil"),
        (None, "ftp://files.example", {}, "ftp://files.example"),
    ],
)
def test_base_url_problems(datacenter, base_url, env, needle):
    with pytest.raises(SourceError, match="Qualtrics") as info:
        resolve_base_url(datacenter, base_url, env)
    assert needle in str(info.value)


def test_token_from_environment():
    assert resolve_token({"QUALTRICS_API_KEY": f" {TOKEN}\n", "QUALTRICS_API_TOKEN": "other"}) == TOKEN
    assert resolve_token({"QUALTRICS_API_KEY": "", "QUALTRICS_API_TOKEN": TOKEN}) == TOKEN
    with pytest.raises(SourceError, match="QUALTRICS_API_KEY"):
        resolve_token({})
    exc = failure(lambda: resolve_token({"QUALTRICS_API_KEY": f"{TOKEN} {TOKEN}"}))
    assert "QUALTRICS_API_KEY" in str(exc)


# --- the flow -------------------------------------------------------------------------------


def test_export_complete_at_once_skips_polling(emulator, fake):
    emu, url = emulator(polls_to_complete=0)
    table = fetch(url, fake)()
    assert [m for m, _ in emu.requests] == ["POST", "GET"] and fake.waits == []
    assert table.responses[0].response_id == "R_2YPOQ602ER1jkf1"


def test_own_session_or_given_session(emulator, fake):
    import requests

    _, url = emulator()
    with requests.Session() as session:
        table = fetch(url, fake, session=session)()
        assert "X-API-TOKEN" not in session.headers  # the caller's session is not changed
    assert len(table.responses) == 1


def test_logs_never_hold_the_token(emulator, fake, caplog):
    _, url = emulator(fail_rate=0.5, seed=3)
    with caplog.at_level(logging.DEBUG):
        fetch(url, fake)()
    assert caplog.records and TOKEN not in caplog.text


# --- error paths ----------------------------------------------------------------------------


def test_bad_token(emulator, fake):
    _, url = emulator(token="the-right-one")
    exc = failure(fetch(url, fake))
    assert "401" in str(exc) and "QUALTRICS_API_KEY" in str(exc) and "127.0.0.1" in str(exc)


def test_unknown_survey(emulator, fake):
    _, url = emulator()
    exc = failure(fetch(url, fake, survey="SV_doesNotExist1"))
    assert "SV_doesNotExist1" in str(exc) and "404" in str(exc) and "survey_id" in str(exc)


def test_throttled_then_fine_honours_retry_after(script_server, fake):
    script, url = script_server([err(429, "Too many requests", {"Retry-After": "7"}), *flow(zip_of({"S.csv": SAMPLE_CSV.read_bytes()}))])
    table = fetch(url, fake)()
    assert fake.waits[0] == 7.0
    assert [g["method"] for g in script.got] == ["POST", "POST", "GET", "GET"]
    assert len(table.responses) == 1


def test_throttled_forever(script_server, fake):
    script, url = script_server(lambda *a: err(429, "Too many requests"))
    exc = failure(fetch(url, fake, backoff=0.5))
    assert "429" in str(exc) and SV in str(exc) and "wait" in str(exc)
    assert len(script.got) == qualtrics_api.MAX_THROTTLED + 1
    assert fake.waits[:3] == [0.5, 1.0, 2.0] and max(fake.waits) <= qualtrics_api.MAX_BACKOFF


def test_server_errors_then_fine(script_server, fake):
    script, url = script_server([err(503, "Temporarily unavailable"), err(500, "Oops"), *flow(zip_of({"S.csv": SAMPLE_CSV.read_bytes()}))])
    assert len(fetch(url, fake)().responses) == 1
    assert len(script.got) == 5


def test_server_errors_forever(emulator, fake):
    emu, url = emulator(fail_rate=1.0, seed=1)
    exc = failure(fetch(url, fake))
    assert "HTTP 50" in str(exc) and "5 times" in str(exc) and "try again later" in str(exc) and SV in str(exc)
    assert len(emu.requests) == qualtrics_api.MAX_FAULTS + 1


def test_failed_export(emulator, fake):
    _, url = emulator(fail_exports=True)
    exc = failure(fetch(url, fake))
    assert "failed to export" in str(exc) and SV in str(exc) and "ES_" in str(exc)


def test_timeout_with_fake_clock(emulator, fake):
    emu, url = emulator(polls_to_complete=10**6)
    exc = failure(fetch(url, fake, timeout=30))
    assert "within 30 s" in str(exc) and SV in str(exc)
    assert sum(fake.waits) <= 30 and len(emu.requests) < 20
    assert all(b >= a for a, b in zip(fake.waits, fake.waits[1:]))


def test_zip_without_csv(script_server, fake):
    _, url = script_server(flow(zip_of({"readme.txt": b"hello"})))
    exc = failure(fetch(url, fake))
    assert "no CSV" in str(exc) and "readme.txt" in str(exc)


def test_zip_with_two_csvs(script_server, fake):
    _, url = script_server(flow(zip_of({"a.csv": b"x", "b.csv": b"y"})))
    assert "several CSV" in str(failure(fetch(url, fake)))


def test_body_that_is_not_a_zip(script_server, fake):
    _, url = script_server(flow(b"<html>Service maintenance</html>", "text/html"))
    exc = failure(fetch(url, fake))
    assert "not a zip" in str(exc) and "text/html" in str(exc)


def test_csv_problem_names_the_export(script_server, fake):
    _, url = script_server(flow(zip_of({"Wave 3.csv": b"a,b\r\n1,2\r\n"})))
    exc = failure(fetch(url, fake))
    assert f"{SV} export (Wave 3.csv)" in str(exc)


def test_answer_that_is_not_qualtrics(script_server, fake):
    _, url = script_server([(200, {"content-type": "text/html"}, b"<html>login</html>")])
    assert "JSON `result`" in str(failure(fetch(url, fake)))


def test_forbidden(script_server, fake):
    _, url = script_server([err(403, "Not authorized to access this resource")])
    exc = failure(fetch(url, fake))
    assert "403" in str(exc) and "permission" in str(exc)


def test_redirect_is_not_followed(script_server, fake):
    sink, elsewhere = script_server(lambda *a: ok({}))
    _, url = script_server([(302, {"Location": f"{elsewhere}/steal"}, b"")])
    exc = failure(fetch(url, fake))
    assert "redirect" in str(exc) and sink.got == []


def test_connection_refused_names_the_host(fake):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exc = failure(fetch(f"http://127.0.0.1:{port}", fake))
    assert f"127.0.0.1:{port}" in str(exc) and "connection refused" in str(exc)


def test_token_unfit_for_a_header_is_not_echoed(emulator, fake):
    _, url = emulator()
    exc = failure(fetch(url, fake, token=f"{TOKEN}\r\nX-Evil: 1"))
    assert "QUALTRICS_API_KEY" in str(exc)


def test_missing_survey_id_or_token(fake):
    assert "survey_id" in str(failure(fetch("http://127.0.0.1:9", fake, survey=" ")))
    assert "QUALTRICS_API_KEY" in str(failure(fetch("http://127.0.0.1:9", fake, token="")))
