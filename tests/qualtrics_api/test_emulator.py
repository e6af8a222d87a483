"""The Qualtrics emulator: same table as the CSV read directly, its checks, and its faults."""

from __future__ import annotations

import io
import zipfile

import pytest
import requests
from qualtrics_support import SAMPLE_CSV, TOKEN

from bridge.emulator.base import Fault
from bridge.emulator.qualtrics import QualtricsEmulator, add_cli_surveys
from bridge.errors import SourceError
from bridge.sources.qualtrics_api import fetch_survey
from bridge.sources.qualtrics_csv import read_qualtrics_csv

SV = "SV_8Cg3hqX2aLrzZ0m"
# Real sleeps, but short ones: the token bucket and the latency run on the real clock.
QUICK = {"poll_initial": 0.01, "poll_max": 0.05, "backoff": 0.05}


def _same_table(got, want) -> None:
    assert got.columns == want.columns
    assert got.legacy == want.legacy
    assert got.responses == want.responses


def _labelled(table):
    """The table as an export with labels has it: Status and Finished as labels, not codes
    (the connector asks for useLabels: true; test_emulator_options.py tests the mapping)."""
    labels = {"Status": {"0": "IP Address", "1": "Survey Preview"}, "Finished": {"1": "True", "0": "False"}}
    for r in table.responses:
        for name, mapping in labels.items():
            r.fields[name] = mapping.get(r.fields[name], r.fields[name])
    return table


@pytest.mark.parametrize("which", ["sample", "big"])
def test_fetch_equals_reading_the_csv(which, big_csv):
    data = SAMPLE_CSV.read_bytes() if which == "sample" else big_csv
    emu = QualtricsEmulator(token=TOKEN, polls_to_complete=3)
    emu.add_survey(SV, data, name="Wave 3 / pilot")
    with emu.serve() as server:
        table = fetch_survey(SV, base_url=server.url, token=TOKEN, **QUICK)
    # The sample holds numeric codes; the connector asks for labels, so Status and Finished come back as labels.
    _same_table(table, _labelled(read_qualtrics_csv(data)) if which == "sample" else read_qualtrics_csv(data))
    assert table.source == f"{SV} export (Wave 3 _ pilot.csv)"
    assert [m for m, _ in emu.requests] == ["POST", "GET", "GET", "GET", "GET"]
    if which == "big":
        assert len(table.responses) == 1500
        assert table.responses[7].fields["Random ID"] == "0000007"  # codes stay text


def test_seeding_from_a_path_names_the_file(tmp_path):
    emu = QualtricsEmulator()
    emu.add_survey(SV, SAMPLE_CSV)
    assert emu.surveys[SV].name == "qualtrics_sample"
    with pytest.raises(SourceError, match="missing.csv"):
        emu.add_survey(SV, tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="SV_"):
        emu.add_survey("survey 1", SAMPLE_CSV)


def test_add_cli_surveys(tmp_path):
    emu = QualtricsEmulator()
    assert add_cli_surveys(emu, [f"{SV}={SAMPLE_CSV}", f" SV_b2={SAMPLE_CSV} "]) == [SV, "SV_b2"]
    assert set(emu.surveys) == {SV, "SV_b2"}
    for bad in ["wave3.csv", f"{SV}=", f"=={SAMPLE_CSV}", f"survey={SAMPLE_CSV}"]:
        with pytest.raises(SourceError, match="SV_ID=FILE.csv"):
            add_cli_surveys(emu, [bad])
    with pytest.raises(SourceError, match="does not exist"):
        add_cli_surveys(emu, [f"{SV}={tmp_path / 'nope.csv'}"])


# --- what the emulator checks ---------------------------------------------------------


@pytest.fixture(scope="module")
def served():
    emu = QualtricsEmulator(token="t", polls_to_complete=1)
    emu.add_survey(SV, SAMPLE_CSV)
    with emu.serve() as server, requests.Session() as session:
        yield emu, f"{server.url}/API/v3/surveys/{SV}", session


def _error(resp: requests.Response, status: int) -> dict:
    assert resp.status_code == status and resp.headers["content-type"] == "application/json"
    meta = resp.json()["meta"]
    assert meta["httpStatus"].startswith(f"{status} - ") and meta["requestId"]
    return meta["error"]


def test_token_checks(served):
    _, root, s = served
    assert _error(s.post(f"{root}/export-responses", json={"format": "csv"}), 400) == {
        "errorMessage": "Expected authorization in headers, but none provided.", "errorCode": "ATP_2"}
    assert _error(s.get(root, headers={"X-API-TOKEN": "wrong"}), 401) == {
        "errorMessage": "Unrecognized X-API-TOKEN.", "errorCode": "DCD_7"}


def test_unknown_things_are_404(served):
    _, root, s = served
    h = {"X-API-TOKEN": "t"}
    assert "SV_other" in _error(s.get(root.replace(SV, "SV_other"), headers=h), 404)["errorMessage"]
    assert _error(s.get(f"{root}/export-responses/ES_nope", headers=h), 404)
    assert _error(s.get(f"{root}/export-responses/nope-def/file", headers=h), 404)
    assert _error(s.get(f"{root.split('/API')[0]}/API/v3/whoami2", headers=h), 404)
    assert _error(s.delete(root, headers=h), 405)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b"{}", b'{"format": "pdf"}', b'{"format": "json"}', b'{"format": "csv", "useLabels": "yes"}'],
)
def test_bad_export_bodies_are_400(served, body):
    _, root, s = served
    headers = {"X-API-TOKEN": "t", "Content-Type": "application/json"}
    assert _error(s.post(f"{root}/export-responses", data=body, headers=headers), 400)["errorMessage"]


def test_export_file_is_the_seeded_csv_in_a_zip(served):
    _, root, s = served
    h = {"X-API-TOKEN": "t"}
    started = s.post(f"{root}/export-responses/", json={"format": "csv", "useLabels": False}, headers=h).json()["result"]
    done = s.get(f"{root}/export-responses/{started['progressId']}", headers=h).json()["result"]
    assert done["status"] == "complete" and done["percentComplete"] == 100.0
    file = s.get(f"{root}/export-responses/{done['fileId']}/file", headers=h)
    assert file.headers["content-type"] == "application/zip"
    assert zipfile.ZipFile(io.BytesIO(file.content)).read("qualtrics_sample.csv") == SAMPLE_CSV.read_bytes()
    # A file id only opens the survey it belongs to.
    assert _error(s.get(f"{root.replace(SV, 'SV_other')}/export-responses/{done['fileId']}/file", headers=h), 404)


# --- faults -----------------------------------------------------------------------------


class _Scripted:
    def __init__(self, *faults: Fault):
        self.faults = list(faults)

    def decide(self) -> Fault:
        return self.faults.pop(0) if self.faults else Fault.NONE


def test_fail_after_starts_the_export_but_answers_5xx():
    emu = QualtricsEmulator(token=TOKEN)
    emu.add_survey(SV, SAMPLE_CSV)
    emu.faults = _Scripted(Fault.FAIL_AFTER, Fault.FAIL_BEFORE)
    with emu.serve() as server:
        table = fetch_survey(SV, base_url=server.url, token=TOKEN, **QUICK)
    assert emu.statuses[:3] == [500, 503, 200]
    assert len(emu.exports) == 2  # the first POST did start an export the client never saw
    assert len(table.responses) == 1


def test_rate_limit_is_ridden_out():
    emu = QualtricsEmulator(token=TOKEN, rate_limit=4, polls_to_complete=6)
    emu.add_survey(SV, SAMPLE_CSV)
    with emu.serve() as server:
        table = fetch_survey(SV, base_url=server.url, token=TOKEN, **QUICK)
    assert 429 in emu.statuses and emu.statuses[-1] == 200
    assert len(table.responses) == 1


def test_fail_rate_with_a_fixed_seed_is_repeatable(big_csv):
    runs = []
    for _ in range(2):
        emu = QualtricsEmulator(token=TOKEN, fail_rate=0.3, seed=11, polls_to_complete=4)
        emu.add_survey(SV, big_csv)
        with emu.serve() as server:
            table = fetch_survey(SV, base_url=server.url, token=TOKEN, **QUICK)
        runs.append(emu.statuses)
        assert len(table.responses) == 1500
    assert runs[0] == runs[1]
    assert {500, 503} & set(runs[0]) and runs[0][-1] == 200


def test_latency():
    emu = QualtricsEmulator(token=TOKEN, latency_ms=40)
    emu.add_survey(SV, SAMPLE_CSV)
    with emu:  # the emulator itself as a context manager
        table = fetch_survey(SV, base_url=emu.url, token=TOKEN, **QUICK)
    assert len(table.responses) == 1 and emu.statuses == [200] * 4
    with pytest.raises(RuntimeError):
        emu.url
