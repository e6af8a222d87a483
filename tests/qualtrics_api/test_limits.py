"""The Qualtrics API download within limits (issue 11, SPEC §10): zip bombs are refused while
they expand, quickly and with little memory; the zip's members, declared sizes and the
download itself are bounded; the CSV is streamed out of the zip, never read whole."""

from __future__ import annotations

import io
import json
import time
import tracemalloc
import zipfile

import pytest
import requests

from bridge.errors import SourceError
from bridge.sources import qualtrics_zip
from bridge.sources._stream import READ_CHUNK
from bridge.sources.limits import MAX_FIELD_CHARS, MAX_RECORD_CHARS, MAX_ROWS
from bridge.sources.qualtrics_api import fetch_survey

SV = "SV_0123456789abcde"
TOKEN = "tok-L1M1TS-5e9d"
HEADER = (b"StartDate,EndDate,Status,ResponseId,Q1\r\nStart,End,Status,Response ID,Q1\r\n"
          b'{"ImportId":"startDate"},{"ImportId":"endDate"},{"ImportId":"status"},{"ImportId":"_recordId"},'
          b'{"ImportId":"QID1"}\r\n')
ROW = b"2026-01-01 00:00:00,2026-01-01 00:10:00,IP Address,R_%015d,blue\r\n"
MIB = 1 << 20


def answers(zip_body: bytes) -> list:
    """The export finished at once, then the file."""
    result = {"progressId": "ES_1", "fileId": "F_1", "percentComplete": 100.0, "status": "complete"}
    return [(200, {"content-type": "application/json"}, json.dumps({"result": result}).encode()),
            (200, {"content-type": "application/zip"}, zip_body)]


def zipped(members: dict[str, bytes | list[bytes]]) -> bytes:
    """A deflated zip; a member given as a list of chunks is written chunk by chunk."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in members.items():
            with zf.open(name, "w", force_zip64=False) as member:
                for chunk in data if isinstance(data, list) else [data]:
                    member.write(chunk)
    return buf.getvalue()


def repeated(head: bytes, unit: bytes, total: int) -> list[bytes]:
    """`head`, then `unit` repeated to `total` bytes, as 1 MiB chunks (never one big bytes)."""
    chunk = unit * (MIB // len(unit))
    return [head] + [chunk] * (total // len(chunk))


def fetch(url: str, **kwargs):
    return fetch_survey(SV, base_url=url, token=TOKEN, sleep=lambda s: None, **kwargs)


def refused_within(url: str, *, peak_mb: float | None, seconds: float) -> str:
    """Fetch, expect a SourceError; the message, after checking peak traced memory and time
    (tracemalloc slows allocation-heavy work several times: `peak_mb=None` runs untraced)."""
    if peak_mb is not None:
        tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(SourceError) as info:
            fetch(url)
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert peak_mb is None or peak < peak_mb, f"peak traced memory {peak:.0f} MiB while refusing: {message}"
    assert elapsed < seconds, f"{elapsed:.1f} s to refuse: {message}"
    assert TOKEN not in message and "\n" not in message and message.isprintable()
    return message


# --- zip bombs: 512 MiB that deflates to about 0.5 MB -------------------------------------


@pytest.fixture(scope="module")
def one_endless_row() -> bytes:
    """A header, then one row whose last value is 512 MiB of '0' (no line break)."""
    return zipped({"Bomb.csv": repeated(HEADER + b"2026-01-01,2026-01-01,IP Address,R_1,", b"0", 512 * MIB)})


def test_bomb_of_one_endless_row_is_refused_while_it_expands(script_server, one_endless_row):
    assert len(one_endless_row) < MIB  # really a bomb: 0.5 MB on the wire
    _, url = script_server(answers(one_endless_row))
    message = refused_within(url, peak_mb=64, seconds=20)
    assert f"{SV} export (Bomb.csv), line 4" in message
    assert f"longer than {MAX_RECORD_CHARS:,} characters" in message


def test_bomb_of_blank_lines_stops_at_the_row_limit(script_server):
    """Blank rows are skipped, never kept: what matters is that reading stops (at 2.4 MB in)."""
    body = zipped({"Bomb.csv": repeated(HEADER, b"\r\n", 256 * MIB)})
    _, url = script_server(answers(body))
    message = refused_within(url, peak_mb=None, seconds=10)
    assert f"more than {MAX_ROWS:,} rows" in message


def test_bomb_of_one_endless_quoted_value_stops_at_the_field_limit(script_server):
    opened = HEADER + b'2026-01-01,2026-01-01,IP Address,R_1,"'  # a quote never closed
    body = zipped({"Bomb.csv": repeated(opened, b"0" * 63 + b"\n", 256 * MIB)})
    _, url = script_server(answers(body))
    message = refused_within(url, peak_mb=64, seconds=20)
    assert f"a value longer than {MAX_FIELD_CHARS:,} characters" in message and "line 4" in message


# --- sizes: declared, expanded, downloaded -------------------------------------------------


def test_member_declaring_more_than_the_limit_is_refused_unread(script_server, monkeypatch):
    body = zipped({"Big.csv": repeated(HEADER, ROW % 1, 2 * MIB)})
    monkeypatch.setattr(qualtrics_zip, "MAX_FILE_BYTES", MIB)
    opened = []
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: opened.append(a) or pytest.fail("member opened"))
    _, url = script_server(answers(body))
    message = refused_within(url, peak_mb=16, seconds=10)
    assert "export (Big.csv): would expand to 2.0 MiB, more than the 1 MiB" in message
    assert not opened


def test_member_past_the_limit_is_stopped_while_it_expands(script_server, monkeypatch):
    """The declared size passes (the check reads 2 GiB), the running total does not."""
    from bridge.sources import _csv

    monkeypatch.setattr(_csv, "MAX_FILE_BYTES", MIB)
    rows = b"".join(ROW % i for i in range(60_000))  # ~4 MB of distinct rows
    expanded = []
    real_read = zipfile.ZipExtFile.read

    def counting_read(self, n=-1):
        data = real_read(self, n)
        expanded.append(len(data))
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)
    _, url = script_server(answers(zipped({"Wave.csv": HEADER + rows})))
    message = refused_within(url, peak_mb=32, seconds=10)
    assert "export (Wave.csv): holds more than 1 MiB" in message
    assert sum(expanded) <= MIB + READ_CHUNK  # stopped within one chunk of the limit


def test_member_that_lies_about_its_size_is_refused(script_server):
    """A zip whose headers say 1,000 bytes for a 2 MiB member: never read past what it says."""
    body = bytearray(zipped({"Liar.csv": repeated(HEADER, ROW % 1, 2 * MIB)}))
    info = zipfile.ZipFile(io.BytesIO(bytes(body))).infolist()[0]
    small = (1000).to_bytes(4, "little")
    body[info.header_offset + 22 : info.header_offset + 26] = small  # local header: uncompressed size
    cd = bytes(body).rfind(b"PK\x01\x02")
    body[cd + 24 : cd + 28] = small  # central directory: uncompressed size
    _, url = script_server(answers(bytes(body)))
    message = refused_within(url, peak_mb=32, seconds=10)
    assert "Liar.csv" in message and "damaged" in message


def test_zip_with_many_members_is_refused(script_server):
    body = zipped({f"part{i}.csv": HEADER for i in range(9)})
    _, url = script_server(answers(body))
    assert "lists 9 members" in refused_within(url, peak_mb=16, seconds=10)


def test_zip_claiming_a_huge_directory_is_refused_before_zipfile_reads_it(script_server, monkeypatch):
    body = bytearray(zipped({"S.csv": HEADER}))
    end = bytes(body).rfind(b"PK\x05\x06")
    body[end + 8 : end + 12] = b"\xff\xff\xff\xff"  # 65,535 members on this disk and in all
    monkeypatch.setattr(zipfile, "ZipFile", lambda *a, **k: pytest.fail("zipfile parsed the directory"))
    _, url = script_server(answers(bytes(body)))
    assert "lists 65,535 members" in refused_within(url, peak_mb=16, seconds=10)


def test_download_larger_than_the_limit_is_refused(script_server, monkeypatch):
    body = zipped({"S.csv": HEADER + b"".join(ROW % i for i in range(2000))})
    monkeypatch.setattr(qualtrics_zip, "MAX_DOWNLOAD_BYTES", 1000)
    _, url = script_server(answers(body))
    message = refused_within(url, peak_mb=16, seconds=10)
    assert f"is {qualtrics_zip.size_text(len(body))} or more, larger than the 1000 bytes a compressed export" in message


class _Streamed:
    """A streamed response without Content-Length: chunks, then maybe a dropped connection."""

    def __init__(self, chunks, error=None):
        self.headers, self.chunks, self.error = {}, chunks, error

    def iter_content(self, size):
        yield from self.chunks
        if self.error:
            raise self.error


def test_download_without_length_is_counted_as_it_comes(monkeypatch):
    monkeypatch.setattr(qualtrics_zip, "MAX_DOWNLOAD_BYTES", 3000)
    with pytest.raises(SourceError, match="3.9 KiB or more, larger than the 2.9 KiB"):
        qualtrics_zip.spool_download(_Streamed([b"x" * 1000] * 10), "survey SV_x from host")


def test_download_that_breaks_off_names_only_the_error_type():
    error = requests.exceptions.ChunkedEncodingError(f"Connection broken: X-API-TOKEN {TOKEN}")
    with pytest.raises(SourceError) as info:
        qualtrics_zip.spool_download(_Streamed([b"PK"], error), "survey SV_x from host")
    assert "broke off (ChunkedEncodingError)" in str(info.value) and TOKEN not in str(info.value)
    assert info.value.__context__ is None  # the requests exception (its text) is not kept


def test_download_spools_to_disk_past_the_memory_part(monkeypatch):
    monkeypatch.setattr(qualtrics_zip, "SPOOL_IN_MEMORY", 1000)
    body, size = qualtrics_zip.spool_download(_Streamed([b"y" * 700] * 3), "survey SV_x from host")
    with body:
        assert size == 2100 and body.read() == b"y" * 2100
        assert body._rolled  # on disk, not in memory


# --- the CSV streamed out of the zip -----------------------------------------------------


def test_the_csv_streams_out_of_the_zip(script_server):
    """2,000 responses with a 10 KB answer each (a 20 MB CSV), only Q1 kept: the reader holds a
    row at a time, never the CSV (read whole, bytes and text alone would be 40 MB)."""
    essay = b"x" * 10_000
    rows = b"".join(b"2026-01-01,2026-01-01,IP Address,R_%015d,%s\r\n" % (i, essay) for i in range(2000))
    _, url = script_server(answers(zipped({"Wave.csv": HEADER + rows})))
    tracemalloc.start()
    try:
        table = fetch(url, keep=("Status",))
        peak = tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()
    assert len(table.responses) == 2000 and table.columns == ["StartDate", "EndDate", "Status", "ResponseId", "Q1"]
    last = table.responses[-1]
    assert last.fields == {"Status": "IP Address"} and last.response_id == "R_000000000001999"
    assert peak < 12, f"{peak:.1f} MiB traced at the peak for a {len(rows) / MIB:.0f} MiB CSV"
