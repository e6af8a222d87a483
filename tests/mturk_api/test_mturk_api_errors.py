"""Failures of the MTurk API source: each one clear SourceError, nothing leaves 127.0.0.1."""

from __future__ import annotations

import boto3
import botocore.httpsession
import pytest
from botocore.stub import Stubber
from mturk_api_support import closed_port, write_aws_files

import bridge.panels.mturk.api as mturk_api
from bridge.errors import SourceError
from bridge.panels.mturk.api import ENDPOINTS, fetch_assignments, make_mturk_client

UNKNOWN = "3UNKNOWNHIT0000000000000000000"
ACCESS_KEY = "AKIAEXAMPLEKEY7Q2X"
SECRET = "wJalrXUtnFEMI-S3CRET-K7MDENG-bPxRfiCY"  # distinctive, so a leak is easy to spot


def _clean(err: pytest.ExceptionInfo) -> str:
    """The message, after checking that botocore's exception was dropped."""
    assert err.value.exit_code == 1
    assert err.value.__cause__ is None
    assert err.value.__context__ is None or err.value.__suppress_context__
    message = str(err.value)
    assert SECRET not in message and ACCESS_KEY not in message
    return message


@pytest.fixture
def no_network(monkeypatch) -> list[str]:
    """Any HTTP request at all (even to 127.0.0.1) is recorded and refused."""
    sent: list[str] = []

    def refuse(self, request):
        sent.append(request.url)
        raise AssertionError(f"unexpected request to {request.url}")

    monkeypatch.setattr(botocore.httpsession.URLLib3Session, "send", refuse)
    return sent


def _capture_auth(client) -> list[str]:
    seen: list[str] = []

    def capture(request, **_):
        value = request.headers["Authorization"]
        seen.append(value.decode() if isinstance(value, bytes) else value)

    client.meta.events.register("before-send.mturk", capture)
    return seen


# --- unknown HITs -------------------------------------------------------------------------


def test_unknown_hit_on_the_local_endpoint(emu):
    known = emu.add_hit()
    with pytest.raises(SourceError) as err:
        fetch_assignments([known, UNKNOWN], environment=emu.url)
    message = _clean(err)
    assert message.startswith(f"HIT {UNKNOWN} was not found in the MTurk endpoint {emu.url}.")
    assert "Check [mturk] hit_ids and environment" in message


@pytest.mark.parametrize(
    "environment, where, other",
    [("production", "MTurk production", "sandbox"), ("sandbox", "the MTurk sandbox", "production")],
)
def test_a_hit_of_the_other_environment(emu, environment, where, other):
    # The emulator stands in for the environment that does not know the HIT; its client
    # is injected, so nothing is sent to AWS.
    client = make_mturk_client(emu.url)
    with pytest.raises(SourceError) as err:
        fetch_assignments([UNKNOWN], environment=environment, client=client)
    assert _clean(err) == (
        f"HIT {UNKNOWN} was not found in {where}. Check [mturk] hit_ids and environment: "
        "a sandbox HIT is not visible in production and vice versa."
    )
    assert emu.calls["GetHIT"] == 1 and emu.calls["ListAssignmentsForHIT"] == 0


def test_another_request_error_keeps_mturks_message():
    client = make_mturk_client("http://127.0.0.1:9")
    with Stubber(client) as stub:
        stub.add_client_error("get_hit", service_error_code="RequestError",
                              service_message="You are not authorized to view this HIT. (1700000000000)")
        with pytest.raises(SourceError) as err:
            fetch_assignments([UNKNOWN], environment="production", client=client)
    message = _clean(err)
    assert f"HIT {UNKNOWN} was not found in MTurk production" in message
    assert "You are not authorized to view this HIT" in message


# --- credentials ----------------------------------------------------------------------------


def test_production_without_credentials_fails_before_any_request(no_network):
    with pytest.raises(SourceError) as err:
        fetch_assignments([UNKNOWN], environment="production")
    message = _clean(err)
    assert "No AWS credentials found" in message and "MTurk production" in message
    for hint in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "~/.aws/credentials", 'profile = "..."'):
        assert hint in message
    assert no_network == []


def test_sandbox_without_credentials_fails_before_any_request(no_network):
    with pytest.raises(SourceError, match="needed to use the MTurk sandbox"):
        fetch_assignments([UNKNOWN], environment="sandbox")
    assert no_network == []


def test_a_profile_without_keys_is_named(tmp_path, monkeypatch, no_network):
    write_aws_files(tmp_path, monkeypatch, credentials="[lab]\nregion = us-east-1\n", config="[profile lab]\n")
    with pytest.raises(SourceError) as err:
        fetch_assignments([UNKNOWN], environment="production", profile="lab")
    message = _clean(err)
    assert "No AWS credentials for profile 'lab'" in message and "[lab]" in message
    assert no_network == []


def test_unknown_profile_lists_the_known_ones(tmp_path, monkeypatch, no_network):
    write_aws_files(tmp_path, monkeypatch, credentials=f"[lab]\naws_access_key_id = {ACCESS_KEY}\n"
                    f"aws_secret_access_key = {SECRET}\n", config="[profile teaching]\n")
    with pytest.raises(SourceError) as err:
        fetch_assignments([UNKNOWN], environment="production", profile="nope")
    message = _clean(err)
    assert "AWS profile 'nope'" in message and "[mturk] profile" in message
    assert "Profiles found: lab, teaching." in message
    assert no_network == []


def test_unknown_profile_with_no_aws_files(no_network):
    with pytest.raises(SourceError) as err:
        fetch_assignments([UNKNOWN], environment="sandbox", profile="nope")
    assert "No profiles were found" in _clean(err)


def test_unknown_profile_from_aws_profile(monkeypatch, no_network):
    monkeypatch.setenv("AWS_PROFILE", "ghost")
    with pytest.raises(SourceError) as err:
        fetch_assignments([UNKNOWN], environment="production")
    message = _clean(err)
    assert "AWS profile 'ghost' (the AWS_PROFILE environment variable) was not found" in message


def test_partial_credentials(monkeypatch, no_network):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    with pytest.raises(SourceError) as err:
        fetch_assignments([UNKNOWN], environment="production")
    message = _clean(err)
    assert "No AWS credentials found" in message and "missing: AWS_SECRET_ACCESS_KEY" in message


def test_no_credentials_when_the_request_is_signed(emu):
    """A caller's client without credentials: botocore's NoCredentialsError at send time."""
    hit_id = emu.add_hit()
    client = boto3.Session().client("mturk", region_name="us-east-1", endpoint_url=emu.url)
    with pytest.raises(SourceError) as err:
        fetch_assignments([hit_id], environment="sandbox", profile="lab", client=client)
    message = _clean(err)
    assert "No AWS credentials for profile 'lab'" in message and "the MTurk sandbox" in message
    assert emu.calls["GetHIT"] == 0


def test_refused_credentials_name_the_code():
    client = make_mturk_client("http://127.0.0.1:9")
    with Stubber(client) as stub:
        stub.add_response("get_hit", {"HIT": {"HITId": UNKNOWN, "Reward": "1.00"}}, {"HITId": UNKNOWN})
        stub.add_client_error("list_assignments_for_hit", service_error_code="UnrecognizedClientException",
                              service_message="The security token included in the request is invalid.")
        with pytest.raises(SourceError) as err:
            fetch_assignments([UNKNOWN], environment="production", client=client)
    message = _clean(err)
    assert "MTurk production refused the credentials found" in message
    assert "UnrecognizedClientException" in message and f"HIT {UNKNOWN}" in message


def test_env_credentials_are_used_for_the_local_endpoint_and_never_shown(emu, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    client = make_mturk_client(emu.url)
    auth = _capture_auth(client)
    with pytest.raises(SourceError) as err:
        fetch_assignments([UNKNOWN], environment=emu.url, client=client)
    _clean(err)
    assert auth and f"Credential={ACCESS_KEY}/" in auth[0]


def test_a_profile_from_the_credentials_file(emu, tmp_path, monkeypatch):
    write_aws_files(tmp_path, monkeypatch, credentials=f"[lab]\naws_access_key_id = {ACCESS_KEY}\n"
                    f"aws_secret_access_key = {SECRET}\n")
    hit_id = emu.add_hit()
    emu.add_assignment(hit_id, "AW1", answers={"surveycode": "9"})
    client = make_mturk_client(emu.url, profile="lab")
    auth = _capture_auth(client)
    table = fetch_assignments([hit_id], environment=emu.url, client=client)
    assert [a.answers for a in table.submissions] == [{"surveycode": "9"}]
    assert f"Credential={ACCESS_KEY}/" in auth[0]


def test_dummy_credentials_for_the_local_endpoint(emu):
    client = make_mturk_client(emu.url)
    auth = _capture_auth(client)
    hit_id = emu.add_hit()
    fetch_assignments([hit_id], environment=emu.url, client=client)
    assert "Credential=local-emulator/" in auth[0]


def test_the_local_endpoint_never_asks_instance_metadata(emu, monkeypatch, outside_requests):
    # With metadata lookups allowed, the chain would ask 169.254.169.254 before giving up;
    # for the emulator the network providers are skipped (the guard records any attempt).
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.2/creds")
    hit_id = emu.add_hit()
    client = make_mturk_client(emu.url)
    auth = _capture_auth(client)
    fetch_assignments([hit_id], environment=emu.url, client=client)
    assert outside_requests == []
    assert "Credential=local-emulator/" in auth[0]


# --- the client ----------------------------------------------------------------------------


@pytest.mark.parametrize("environment", ["sandbox", "production"])
def test_client_for_aws(monkeypatch, no_network, environment):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    client = make_mturk_client(environment)
    assert client.meta.endpoint_url == ENDPOINTS[environment]
    assert client.meta.region_name == "us-east-1"
    # botocore turns max_attempts (retries) into total_max_attempts (tries).
    assert client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 9}
    assert no_network == []


def test_an_environment_that_is_no_endpoint():
    with pytest.raises(SourceError, match="must be sandbox, production or an http://127.0.0.1:PORT"):
        make_mturk_client("staging")


def test_empty_hit_list():
    with pytest.raises(SourceError, match="hit_ids is empty"):
        fetch_assignments([], environment="sandbox")


# --- connection and service failures -------------------------------------------------------


def test_connection_refused_names_the_endpoint(monkeypatch):
    monkeypatch.setattr(mturk_api, "MAX_ATTEMPTS", 0)  # no retries (and no backoff) in a test
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(SourceError) as err:
        fetch_assignments([UNKNOWN], environment=url)
    message = _clean(err)
    assert message.startswith(f"Could not connect to the MTurk endpoint {url} at {url}/ while reading HIT {UNKNOWN}.")
    assert "survey-bridge emulator" in message


def test_connection_refused_for_an_injected_client_names_its_endpoint():
    url = f"http://127.0.0.1:{closed_port()}"
    client = make_mturk_client(url, max_attempts=0)
    with pytest.raises(SourceError) as err:
        fetch_assignments([UNKNOWN], environment="sandbox", client=client)
    assert f"Could not connect to the MTurk sandbox at {url}" in _clean(err)


def test_a_service_fault_after_retries(make_emu):
    emulator = make_emu(fail_rate=1.0, fault_seed=1)
    client = make_mturk_client(emulator.url, max_attempts=1)
    with pytest.raises(SourceError) as err:
        fetch_assignments([UNKNOWN], environment=emulator.url, client=client)
    message = _clean(err)
    assert "answered ServiceFault: We encountered an internal error" in message and f"HIT {UNKNOWN}" in message
    assert emulator.calls["GetHIT"] == 2  # retried once by botocore


def test_a_failure_while_listing_names_the_hit():
    client = make_mturk_client("http://127.0.0.1:9")
    with Stubber(client) as stub:
        stub.add_response("get_hit", {"HIT": {"HITId": UNKNOWN, "Reward": "1.00"}}, {"HITId": UNKNOWN})
        stub.add_client_error("list_assignments_for_hit", service_error_code="ThrottlingException",
                              service_message="Rate exceeded")
        with pytest.raises(SourceError) as err:
            fetch_assignments([UNKNOWN], environment="sandbox", client=client)
    assert _clean(err) == (
        f"The MTurk sandbox answered ThrottlingException: Rate exceeded while listing the assignments of HIT {UNKNOWN}."
    )
