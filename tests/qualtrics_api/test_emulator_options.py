"""The Qualtrics emulator's export options and checks, driven over HTTP with `requests`:
limit, useLabels, exportResponsesInProgress, compress, allowContinuation/continuationToken,
startDate/endDate, format; the body's validation; OAuth bearer tokens."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
import requests
from qualtrics_support import SAMPLE_CSV

from bridge.emulator.qualtrics import QualtricsEmulator

SV = "SV_options01"
TOKEN = "api-token-1"
H = {"X-API-TOKEN": TOKEN}
META = ["StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)", "Finished",
        "RecordedDate", "ResponseId", "workerId"]


def _csv(rows: list[list[str]], tz: str | None = None) -> bytes:
    """A labelled 3-header-row export; RecordedDate's ImportId carries `tz` when given."""
    imports = [f'{{"ImportId":"{n}"}}' for n in META]
    if tz:
        imports[7] = f'{{"ImportId":"recordedDate","timeZone":"{tz}"}}'
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([META, META, imports, *rows])
    return buf.getvalue().encode()


def _row(i: int, recorded: str = "2026-11-20 10:00:00", status: str = "IP Address", finished: str = "True"):
    return ["2026-11-20 09:50:00", recorded, status, "203.0.113.7", "100", "600", finished, recorded,
            f"R_{i:015d}", f"AW{i:04d}"]


ROWS = [_row(0), _row(1, status="Survey Preview"), _row(2, finished="False"), _row(3, status="Spam")]


@pytest.fixture
def served():
    emu = QualtricsEmulator(token=TOKEN, polls_to_complete=1, oauth_token="oauth-abc")
    emu.add_survey(SV, _csv(ROWS), name="Options")
    with emu.serve() as server, requests.Session() as session:
        yield emu, f"{server.url}/API/v3/surveys/{SV}", session


def _export(served, body: dict, headers: dict = H) -> tuple[dict, requests.Response]:
    """Start an export, poll it to completion, fetch the file: (complete result, file answer)."""
    _, root, s = served
    started = s.post(f"{root}/export-responses", json=body, headers=headers)
    assert started.status_code == 200, started.text
    result = s.get(f"{root}/export-responses/{started.json()['result']['progressId']}", headers=headers).json()["result"]
    assert result["status"] == "complete"
    return result, s.get(f"{root}/export-responses/{result['fileId']}/file", headers=headers)


def _rows(file: requests.Response, delimiter: str = ",") -> list[list[str]]:
    data = file.content
    if file.headers["content-type"] == "application/zip":
        archive = zipfile.ZipFile(io.BytesIO(data))
        [name] = archive.namelist()
        data = archive.read(name)
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=delimiter))[3:]


def _ids(file: requests.Response) -> list[str]:
    return [r[8] for r in _rows(file)]


def test_limit_exports_the_first_n(served):
    _, file = _export(served, {"format": "csv", "useLabels": True, "limit": 2})
    assert _ids(file) == ["R_000000000000000", "R_000000000000001"]
    _, file = _export(served, {"format": "csv", "useLabels": True, "limit": 99})
    assert len(_ids(file)) == 4


def test_use_labels_or_numeric_codes(served):
    _, labelled = _export(served, {"format": "csv", "useLabels": True})
    assert [(r[2], r[6]) for r in _rows(labelled)] == [("IP Address", "True"), ("Survey Preview", "True"),
                                                      ("IP Address", "False"), ("Spam", "True")]
    for body in ({"format": "csv", "useLabels": False}, {"format": "csv"}):  # false is the default
        _, coded = _export(served, body)
        assert [(r[2], r[6]) for r in _rows(coded)] == [("0", "1"), ("1", "1"), ("0", "0"), ("8", "1")]
    # A file seeded with codes gets labels when asked, and is served as it is when not.
    emu, root, s = served
    emu.add_survey("SV_codes", SAMPLE_CSV)
    codes_root = root.replace(SV, "SV_codes")
    started = s.post(f"{codes_root}/export-responses", json={"format": "csv", "useLabels": True}, headers=H).json()
    done = s.get(f"{codes_root}/export-responses/{started['result']['progressId']}", headers=H).json()["result"]
    file = s.get(f"{codes_root}/export-responses/{done['fileId']}/file", headers=H)
    [row] = _rows(file)
    assert (row[2], row[6]) == ("IP Address", "True")


def test_in_progress_responses_only_with_the_option(served):
    emu, _, _ = served
    ids = emu.add_responses(SV, [{"workerId": "AWIP1", "Progress": "40"}, {"workerId": "AWIP2"}], in_progress=True)
    assert all(i.startswith("FS_") for i in ids)
    _, normal = _export(served, {"format": "csv", "useLabels": True})
    assert len(_ids(normal)) == 4 and not any(i.startswith("FS_") for i in _ids(normal))
    _, progress = _export(served, {"format": "csv", "useLabels": True, "exportResponsesInProgress": True})
    rows = _rows(progress)
    assert [r[8] for r in rows] == ids and [r[6] for r in rows] == ["False", "False"] and rows[0][4] == "40"
    _, coded = _export(served, {"format": "csv", "exportResponsesInProgress": True})
    assert [r[6] for r in _rows(coded)] == ["0", "0"]
    with pytest.raises(ValueError):
        emu.add_responses(SV, [{"ResponseId": "R_notinprogress"}], in_progress=True)
    with pytest.raises(ValueError):
        emu.add_responses(SV, [{"nosuchfield": "x"}])


def test_in_progress_rows_of_a_seeded_file(served):
    emu, root, s = served
    emu.add_survey("SV_seededfs", _csv([_row(0), _row(1)[:8] + ["FS_abcdefghijklmno", "AWIP"]]))
    started = s.post(f"{root.replace(SV, 'SV_seededfs')}/export-responses",
                     json={"format": "csv", "exportResponsesInProgress": True}, headers=H).json()["result"]
    done = s.get(f"{root.replace(SV, 'SV_seededfs')}/export-responses/{started['progressId']}", headers=H).json()
    file = s.get(f"{root.replace(SV, 'SV_seededfs')}/export-responses/{done['result']['fileId']}/file", headers=H)
    assert [r[8] for r in _rows(file)] == ["FS_abcdefghijklmno"]


def test_compress_false_returns_the_csv_itself(served):
    emu, _, _ = served
    _, file = _export(served, {"format": "csv", "useLabels": True, "compress": False})
    assert file.headers["content-type"].startswith("text/csv")
    assert "Options.csv" in file.headers["content-disposition"]
    assert file.content == emu.surveys[SV].data  # exactly the seeded rows, unchanged: byte for byte
    _, zipped = _export(served, {"format": "csv", "useLabels": True})
    assert zipped.headers["content-type"] == "application/zip"
    assert zipfile.ZipFile(io.BytesIO(zipped.content)).read("Options.csv") == emu.surveys[SV].data


def test_tsv_format(served):
    _, file = _export(served, {"format": "tsv", "useLabels": True, "compress": False})
    assert file.headers["content-type"].startswith("text/tab-separated-values")
    assert [r[8] for r in _rows(file, delimiter="\t")] == [f"R_{i:015d}" for i in range(4)]


def test_continuation_exports_only_what_came_in_since(served):
    emu, root, s = served
    first, file = _export(served, {"format": "csv", "useLabels": True, "allowContinuation": True})
    token = first["continuationToken"]
    assert len(_ids(file)) == 4 and list(first)[-1] == "continuationToken"
    plain, _ = _export(served, {"format": "csv"})
    assert "continuationToken" not in plain
    emu.add_responses(SV, [{"workerId": "AWLATE1", "Finished": "True"}, {"workerId": "AWLATE2"}])
    second, file = _export(served, {"format": "csv", "useLabels": True, "continuationToken": token})
    assert [r[9] for r in _rows(file)] == ["AWLATE1", "AWLATE2"]
    emu.add_responses(SV, [{"workerId": "AWLATE3"}])
    third, file = _export(served, {"format": "csv", "continuationToken": second["continuationToken"],
                                   "allowContinuation": True})
    assert [r[9] for r in _rows(file)] == ["AWLATE3"]
    _, file = _export(served, {"format": "csv", "continuationToken": third["continuationToken"]})
    assert _rows(file) == []  # nothing new: the header rows only
    # A limit leaves the rest for the next continuation.
    emu.add_responses(SV, [{"workerId": f"AWMORE{i}"} for i in range(3)])
    limited, file = _export(served, {"format": "csv", "continuationToken": token, "limit": 4})
    assert [r[9] for r in _rows(file)] == ["AWLATE1", "AWLATE2", "AWLATE3", "AWMORE0"]
    _, file = _export(served, {"format": "csv", "continuationToken": limited["continuationToken"]})
    assert [r[9] for r in _rows(file)] == ["AWMORE1", "AWMORE2"]
    emu.add_survey("SV_other", _csv(ROWS))
    answer = s.post(f"{root.replace(SV, 'SV_other')}/export-responses",
                    json={"format": "csv", "continuationToken": token}, headers=H)
    assert answer.status_code == 400 and "continuationToken" in answer.json()["meta"]["error"]["errorMessage"]


def test_start_and_end_dates_on_recorded_date(served):
    emu, root, s = served
    rows = [_row(0, recorded="2026-11-20 08:00:00"), _row(1, recorded="2026-11-20 10:00:00"),
            _row(2, recorded="2026-11-21 10:00:00")]
    emu.add_survey("SV_dated", _csv(rows, tz="America/Denver"))  # UTC-7 in November
    dated = (emu, root.replace(SV, "SV_dated"), s)
    _, file = _export(dated, {"format": "csv", "startDate": "2026-11-20T17:00:00Z", "endDate": "2026-11-21T17:00:00Z"})
    assert [r[9] for r in _rows(file)] == ["AW0001"]  # 10:00 Denver is 17:00Z: start inclusive, end exclusive
    _, file = _export(dated, {"format": "csv", "startDate": "2026-11-20T16:00:00+01:00"})
    assert [r[9] for r in _rows(file)] == ["AW0000", "AW0001", "AW0002"]


@pytest.mark.parametrize("body, member", [
    ({"format": "csv", "limit": 0}, "limit"),
    ({"format": "csv", "limit": "5"}, "limit"),
    ({"format": "csv", "limit": True}, "limit"),
    ({"format": "csv", "limit": 2.5}, "limit"),
    ({"format": "csv", "useLabels": "true"}, "useLabels"),
    ({"format": "csv", "compress": 0}, "compress"),
    ({"format": "csv", "exportResponsesInProgress": "yes"}, "exportResponsesInProgress"),
    ({"format": "csv", "allowContinuation": 1}, "allowContinuation"),
    ({"format": "csv", "continuationToken": 5}, "continuationToken"),
    ({"format": "csv", "continuationToken": " "}, "continuationToken"),
    ({"format": "csv", "continuationToken": "no-such-token"}, "continuationToken"),
    ({"format": "csv", "startDate": "yesterday"}, "startDate"),
    ({"format": "csv", "endDate": 20261120}, "endDate"),
    ({"format": "csv", "startDate": "2026-11-21T00:00:00Z", "endDate": "2026-11-20T00:00:00Z"}, "startDate"),
    ({"format": "csv", "timeZone": "Mars/Olympus_Mons"}, "timeZone"),
    ({"format": "csv", "timeZone": 7}, "timeZone"),
    ({"format": "csv", "questionIds": "QID1"}, "questionIds"),
    ({"format": "csv", "embeddedDataIds": [1, 2]}, "embeddedDataIds"),
    ({"format": "csv", "surveyMetadataIds": {"a": 1}}, "surveyMetadataIds"),
    ({"format": "csv", "continuationToken": "t", "startDate": "2026-11-20T00:00:00Z"}, "continuationToken"),
    ({"format": "csv", "exportResponsesInProgress": True, "allowContinuation": True}, "exportResponsesInProgress"),
    ({"format": "xls"}, "format"),
    ({"format": "json"}, "format"),
    ({"useLabels": True}, "format"),
])
def test_bad_bodies_are_400_naming_the_member(served, body, member):
    _, root, s = served
    answer = s.post(f"{root}/export-responses", json=body, headers=H)
    assert answer.status_code == 400 and answer.headers["content-type"] == "application/json"
    meta = answer.json()["meta"]
    assert meta["httpStatus"] == "400 - Bad Request" and meta["requestId"]
    assert member in meta["error"]["errorMessage"] and meta["error"]["errorCode"]


def test_good_bodies_with_every_documented_option(served):
    body = {"format": "csv", "useLabels": True, "limit": 3, "startDate": "2026-01-01T00:00:00Z",
            "endDate": "2027-01-01T00:00:00Z", "timeZone": "America/Denver", "questionIds": ["QID1"],
            "embeddedDataIds": ["workerId"], "surveyMetadataIds": ["recordedDate"], "includeDisplayOrder": True,
            "breakoutSets": True, "compress": True, "seenUnansweredRecode": -99, "newlineReplacement": " ",
            "allowContinuation": True}
    result, file = _export(served, body)
    assert len(_ids(file)) == 3 and result["continuationToken"]


def test_oauth_bearer_tokens(served):
    _, root, s = served
    result, file = _export(served, {"format": "csv"}, headers={"Authorization": "Bearer oauth-abc"})
    assert file.status_code == 200 and len(_ids(file)) == 4
    assert s.get(root, headers={"Authorization": "bearer oauth-abc"}).status_code == 200
    wrong = s.get(root, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["meta"]["error"]["errorMessage"]
    missing = s.get(root, headers={"Authorization": "Basic b2F1dGgtYWJj"})  # not a bearer token: none given
    assert missing.status_code == 400 and missing.json()["meta"]["error"]["errorCode"] == "ATP_2"
    assert s.get(root, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401  # the API token is not OAuth's


def test_bearer_token_defaults_to_the_api_token():
    emu = QualtricsEmulator(token=TOKEN)
    emu.add_survey(SV, _csv(ROWS))
    with emu.serve() as server:
        root = f"{server.url}/API/v3/surveys/{SV}"
        assert requests.get(root, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).status_code == 200
        assert requests.get(root, headers={"X-API-TOKEN": TOKEN}, timeout=10).status_code == 200
