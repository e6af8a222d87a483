"""The connector against the recorded real session, and the emulator held up against it."""

from __future__ import annotations

import io
import json
import zipfile
from urllib.parse import urlsplit

import requests
from qualtrics_support import TOKEN, cassette_body

from bridge.emulator.qualtrics import QualtricsEmulator
from bridge.sources.qualtrics_api import fetch_survey
from bridge.sources.qualtrics_csv import read_qualtrics_csv

SURVEY = "SV_3gbwq8aJgqPwQDP"


def _answers(interactions):
    return [(int(i["response"]["status"]), i["response"]["headers"], cassette_body(i["response"])) for i in interactions]


def _path(uri: str) -> str:
    return urlsplit(uri).path.rstrip("/")


def test_cassette_loads_as_recorded(cassette):
    assert len(cassette) == 10
    # The loader must reproduce the bodies byte for byte: their lengths were recorded too.
    for interaction in cassette:
        response = interaction["response"]
        assert len(cassette_body(response)) == int(response["headers"]["content-length"])


def test_fetch_survey_replays_the_recorded_session(cassette, script_server, fake):
    export = [i for i in cassette if "/export-responses" in i["request"]["uri"]]
    script, url = script_server(_answers(export))

    table = fetch_survey(SURVEY, base_url=url, token=TOKEN, sleep=fake.sleep, clock=fake.clock)

    assert [(g["method"], g["path"].rstrip("/")) for g in script.got] == [
        (i["request"]["method"], _path(i["request"]["uri"])) for i in export
    ]
    assert all(g["headers"].get("X-API-TOKEN") == TOKEN for g in script.got)
    sent = json.loads(script.got[0]["body"])
    recorded = json.loads(export[0]["request"]["body"]["string"])
    assert sent["format"] == recorded["format"] == "csv"
    assert sent["useLabels"] is recorded["useLabels"] is True
    # The poll delay grows, and stays under poll_max.
    assert fake.waits == sorted(fake.waits) and fake.waits[-1] > fake.waits[0] and max(fake.waits) <= 10.0

    assert table.source == f"{SURVEY} export (Beskar Armor.csv)"
    assert len(table.responses) == 44
    assert table.columns[:9] == ["StartDate", "EndDate", "Status", "IPAddress", "Progress",
                                 "Duration (in seconds)", "Finished", "RecordedDate", "ResponseId"]
    assert table.columns[-7:] == ["Q63", "Q16", "Q17", "Q18", "Q19", "Q22", "SolutionRevision"]
    first = table.responses[0]
    assert first.response_id == "R_A7l3qPgjI2gQ6vT"
    assert first.status == "Survey Preview" and first.finished is True and first.duration_seconds == 37
    assert table.responses[-1].response_id == "R_3Qyt9WF7ibwwVsl"
    assert table.responses[-1].fields["SolutionRevision"] == "2"


def _emulator_session(emu: QualtricsEmulator, url: str):
    """One export flow plus the survey GET, as the R client did it, raw."""
    s = requests.Session()
    h = {"X-API-TOKEN": "t"}
    root = f"{url}/API/v3/surveys/{SURVEY}"
    post = s.post(f"{root}/export-responses/", json={"format": "csv", "useLabels": True}, headers=h)
    progress_id = post.json()["result"]["progressId"]
    polls = [s.get(f"{root}/export-responses/{progress_id}", headers=h) for _ in range(emu.polls_to_complete)]
    file = s.get(f"{root}/export-responses/{polls[-1].json()['result']['fileId']}/file", headers=h)
    info = s.get(f"{root}/", headers=h)
    return post, polls, file, info


def _key_shape(body: bytes) -> dict:
    doc = json.loads(body)
    return {part: list(doc[part]) for part in doc}


def test_emulator_speaks_like_the_recording(cassette):
    recorded = cassette
    zipped = zipfile.ZipFile(io.BytesIO(cassette_body(recorded[8]["response"])))
    csv_bytes = zipped.read("Beskar Armor.csv")
    emu = QualtricsEmulator(token="t", polls_to_complete=3)
    emu.add_survey(SURVEY, csv_bytes, name="Beskar Armor")
    with emu.serve() as server:
        post, polls, file, info = _emulator_session(emu, server.url)

    pairs = [(post, recorded[0]), (polls[0], recorded[1]), (polls[-1], recorded[7]), (file, recorded[8]), (info, recorded[9])]
    for ours, theirs in pairs:
        assert ours.status_code == int(theirs["response"]["status"])
        rec_headers = {k.lower(): v for k, v in theirs["response"]["headers"].items()}
        for name in rec_headers:
            if name != "content-security-policy-report-only":
                assert name in {k.lower() for k in ours.headers}, name
        assert ours.headers["content-type"] == rec_headers["content-type"]
    for ours, theirs in pairs[:3] + pairs[4:]:
        body = cassette_body(theirs["response"])
        assert _key_shape(ours.content) == _key_shape(body)
        assert list(json.loads(ours.content)["result"]) == list(json.loads(body)["result"])
        assert json.loads(ours.content)["meta"]["httpStatus"] == "200 - OK"

    started = post.json()["result"]
    assert started["progressId"].startswith("ES_") and len(started["progressId"]) == len("ES_3UxfDrHcrySC1Aq")
    assert started["status"] == "inProgress" and started["percentComplete"] == 0.0
    assert [p.json()["result"]["status"] for p in polls] == ["inProgress", "inProgress", "complete"]
    assert polls[-1].json()["result"]["fileId"].endswith("-def")
    assert file.headers["content-disposition"] == recorded[8]["response"]["headers"]["content-disposition"]
    ours_zip = zipfile.ZipFile(io.BytesIO(file.content))
    assert ours_zip.namelist() == zipped.namelist() == ["Beskar Armor.csv"]
    assert ours_zip.read("Beskar Armor.csv") == csv_bytes
    meta = info.json()["result"]
    assert meta["id"] == SURVEY and meta["name"] == "Beskar Armor"
    assert meta["responseCounts"]["auditable"] == len(read_qualtrics_csv(csv_bytes).responses) == 44
    assert set(meta["questions"]) == {"QID63", "QID16", "QID17", "QID18", "QID19", "QID22"}
    assert meta["exportColumnMap"]["Q16"] == {"question": "QID16"}
    assert meta["embeddedData"] == [{"name": "SolutionRevision"}]
