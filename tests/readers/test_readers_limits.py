"""Readers within limits and streamed (issue 11, SPEC §10), for every reader built on
bridge/sources/_csv.py: a value, a row, the row count and the file size are bounded, each
past its limit refused with one message naming the file, the line and the limit; the text
is decoded as it streams (UTF-8, then cp1252 from the first byte that is not); a Qualtrics
export keeps only the columns asked for."""

from __future__ import annotations

import codecs
import csv
import io
import sys
import tracemalloc
from pathlib import Path

import pytest

from bridge.errors import SourceError
from bridge.panels.mturk.reader import read_batch_results
from bridge.sources import _csv, limits
from bridge.sources._stream import CODEC, READ_CHUNK, decode_bytes
from bridge.sources.limits import MAX_FIELD_CHARS, MAX_RECORD_CHARS, size_text
from bridge.sources.qualtrics_csv import read_qualtrics_csv

DATA = Path(__file__).resolve().parents[1] / "data" / "readers"
MIB = 1 << 20
QUALTRICS = (DATA / "qualtrics" / "bom_three_headers.csv").read_bytes()  # BOM, 3 header rows, 2 responses
BATCH = (DATA / "mturk" / "quoted_short_rows.csv").read_bytes()  # header + 3 assignments


def qualtrics_rows(n: int, answer: str = "Daily") -> bytes:
    """The three header rows of QUALTRICS, then n responses (LF line ends)."""
    head = b"\n".join(QUALTRICS.split(b"\r\n")[:3]) + b"\n"
    row = ("2019-11-04 22:16:02,2019-11-04 22:33:10,IP Address,203.0.113.7,100,1028,True,2019-11-04 22:33:11,"
           "R_{i:015d},,,,,40.0,-105.2,anonymous,EN,{answer},,AWORKER{i:07d},R_code{i:07d}\n")
    return head + "".join(row.format(i=i, answer=answer) for i in range(n)).encode("utf-8")


def with_value(value: str) -> tuple[bytes, bytes]:
    """QUALTRICS and BATCH with `value` as an answer of their first data row (line 4 / line 2)."""
    q = QUALTRICS.replace(b",Daily,", b",%s," % value.encode(), 1)
    b = BATCH.replace(b'"R_code0001"', b'"%s"' % value.encode(), 1)
    return q, b


READERS = [pytest.param(read_qualtrics_csv, 0, id="qualtrics"), pytest.param(read_batch_results, 1, id="mturk")]
LINE = {0: 4, 1: 2}


def refused(reader, data, **kwargs) -> str:
    with pytest.raises(SourceError) as info:
        reader(data, **kwargs)
    message = str(info.value)
    assert "\n" not in message and message.isprintable()
    return message


# --- one value, one row ---------------------------------------------------------------------


@pytest.mark.parametrize(("reader", "which"), READERS)
def test_value_at_the_field_limit_reads(reader, which):
    data = with_value("x" * MAX_FIELD_CHARS)[which]
    table = reader(data, name="big.csv")
    assert table.source == "big.csv"


@pytest.mark.parametrize(("reader", "which"), READERS)
def test_value_past_the_field_limit_names_file_line_and_limit(reader, which):
    message = refused(reader, with_value("x" * (MAX_FIELD_CHARS + 1))[which], name="big.csv")
    assert message.startswith(f"big.csv, line {LINE[which]}: a value longer than {MAX_FIELD_CHARS:,} characters")
    assert "export it again" in message


def test_field_limit_holds_whatever_the_process_set(monkeypatch):
    """csv.field_size_limit is process-global: a reader sets its own bound for each file."""
    before = csv.field_size_limit()
    try:
        csv.field_size_limit(sys.maxsize)  # what some library might have done
        refused(read_qualtrics_csv, with_value("x" * (MAX_FIELD_CHARS + 1))[0])
        csv.field_size_limit(10)  # and the other way round
        assert len(read_qualtrics_csv(QUALTRICS).responses) == 2
    finally:
        csv.field_size_limit(before)


@pytest.mark.parametrize(("reader", "which"), READERS)
def test_row_past_the_record_limit_is_refused_with_little_memory(reader, which):
    """A line of millions of tiny values: refused before csv splits it into a list of millions."""
    head = (QUALTRICS if which == 0 else BATCH).split(b"\n")[0] + b"\n"
    data = head + b"a," * (MAX_RECORD_CHARS // 2 + 1) + b"\n"
    tracemalloc.start()
    try:
        message = refused(reader, data, name="wide.csv")
        peak = tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()
    assert message.startswith(f"wide.csv, line 2: one row is longer than {MAX_RECORD_CHARS:,} characters")
    assert peak < len(data) / MIB + 40, f"{peak:.0f} MiB"  # a list of 4 million values alone is 32 MiB more


# --- the row count and the file size --------------------------------------------------------


def test_rows_past_the_limit(monkeypatch):
    monkeypatch.setattr(_csv, "MAX_ROWS", 10)
    assert len(read_qualtrics_csv(qualtrics_rows(7)).responses) == 7  # 3 header rows + 7 = 10 records
    message = refused(read_qualtrics_csv, qualtrics_rows(8), name="wave.csv")
    assert message.startswith("wave.csv: more than 10 rows, the limit for a Qualtrics CSV export")


def test_blank_lines_count_as_rows(monkeypatch):
    monkeypatch.setattr(limits, "MAX_SUBMISSION_ROWS", 100)  # a panel's file has its own limit
    message = refused(read_batch_results, BATCH + b"\n" * 200)
    assert "more than 100 rows" in message


@pytest.mark.parametrize("how", ["path", "bytes"])
def test_file_past_the_size_limit_is_refused_before_reading(tmp_path, monkeypatch, how):
    monkeypatch.setattr(_csv, "MAX_FILE_BYTES", 1000)
    data = qualtrics_rows(20)
    path = tmp_path / "wave.csv"
    path.write_bytes(data)
    message = refused(read_qualtrics_csv, path if how == "path" else data, name="wave.csv")
    size = size_text(len(data))
    assert message.startswith(f"wave.csv: {size}, more than the 1000 bytes a Qualtrics CSV export may be")
    assert "Export only this wave's rows" in message


def test_stream_past_the_size_limit_is_stopped_while_read(monkeypatch):
    monkeypatch.setattr(_csv, "MAX_FILE_BYTES", 64 * 1024)
    stream = io.BytesIO(qualtrics_rows(5000))
    message = refused(read_qualtrics_csv, stream, name="S export (S.csv)")
    assert message.startswith("S export (S.csv): holds more than 64 KiB, the limit for a Qualtrics CSV export")
    assert stream.tell() <= 64 * 1024 + READ_CHUNK


# --- decoding while streaming ---------------------------------------------------------------


def test_utf8_for_a_megabyte_then_a_cp1252_byte():
    """Decided from the first byte that is not UTF-8, not from a prefix: the UTF-8 part stays."""
    data = qualtrics_rows(12_000, answer="Très bien – 毎日")  # about 2 MB of UTF-8
    assert len(data) > 1.5 * MIB
    data += "2019-11-04 22:16:02,,IP Address,,100,60,True,,R_cp1252,,,,,,,,,Renée – café,,,\n".encode("cp1252")
    table = read_qualtrics_csv(data)
    assert table.responses[0].fields["Q1"] == "Très bien – 毎日"
    assert table.responses[11_999].fields["Q1"] == "Très bien – 毎日"
    assert table.responses[-1].fields["Q1"] == "Renée – café"


def test_multibyte_characters_across_chunk_boundaries():
    """Every offset of a 3- and a 4-byte character against the 64 KiB reads: no fallback, no U+FFFD."""
    text = "".join(f"R_{i:015d},€ 🙂 é {'x' * (i % 7)}\n" for i in range(20_000))
    data = ("ResponseId,Q1\n" + text).encode("utf-8")
    table = read_qualtrics_csv(data)
    assert len(table.responses) == 20_000
    assert all(r.fields["Q1"].startswith("€ 🙂 é ") for r in table.responses)


@pytest.mark.parametrize("cut", range(1, 8))
def test_decoder_fed_in_pieces(cut):
    data = b"\xef\xbb\xbfR\xc3\xa9n\xc3\xa9e \xe2\x82\xac \xf0\x9f\x99\x82 \x96 caf\xe9"
    decoder = codecs.getincrementaldecoder(CODEC)()
    pieces = [data[i : i + cut] for i in range(0, len(data), cut)]
    text = "".join(decoder.decode(p) for p in pieces) + decoder.decode(b"", True)
    assert text == "Rénée € 🙂 – café" == decode_bytes(data)


def test_a_bom_alone_is_an_empty_file():
    assert "the file is empty" in refused(read_qualtrics_csv, b"\xef\xbb\xbf\r\n")


# --- keep: only the columns the close-out uses ------------------------------------------------


def test_keep_holds_only_the_named_columns():
    full = read_qualtrics_csv(QUALTRICS)
    kept = read_qualtrics_csv(QUALTRICS, keep={"code", "workerId", "no such column"})
    assert kept.columns == full.columns  # every column still listed
    for a, b in zip(full.responses, kept.responses):
        assert list(b.fields) == ["workerId", "code"]  # in the file's order
        assert b.fields == {"workerId": a.fields["workerId"], "code": a.fields["code"]}
        assert (b.response_id, b.status, b.finished, b.duration_seconds, b.progress, b.recorded_date, b.source_row) == (
            a.response_id, a.status, a.finished, a.duration_seconds, a.progress, a.recorded_date, a.source_row)


def test_keep_nothing_and_keep_on_the_legacy_export():
    assert all(r.fields == {} for r in read_qualtrics_csv(QUALTRICS, keep=()).responses)
    legacy = (b"\xef\xbb\xbfV1,V2,V3,V4,V5,V6,V7,V8,V9,V10,Q1,\r\n"
              b"ResponseID,ResponseSet,Name,ExternalDataReference,EmailAddress,IPAddress,Status,StartDate,EndDate,"
              b"Finished,Colour,\r\n"
              b"R_1,Default,Anonymous,,,203.0.113.7,0,2017-07-18 08:28:09,2017-07-18 08:28:48,1,Blue,\r\n")
    [r] = read_qualtrics_csv(legacy, keep=["Q1"]).responses
    assert r.fields == {"Q1": "Blue"} and r.duration_seconds == 39 and r.status == "IP Address" and r.finished is True


def test_keep_streams_a_big_file_in_little_memory():
    """2,000 responses with a 10 KB answer (20 MB) and only workerId kept: a row at a time.
    Read whole, the bytes and the text alone would be 40 MB."""
    data = qualtrics_rows(2000, answer="y" * 10_000)
    tracemalloc.start()
    try:
        table = read_qualtrics_csv(data, keep=["workerId"])
        peak = tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()
    assert len(table.responses) == 2000 and table.responses[-1].fields == {"workerId": "AWORKER0001999"}
    assert peak < 8, f"{peak:.1f} MiB traced at the peak for {len(data) / MIB:.0f} MiB of CSV"


def test_repeated_values_share_one_object():
    table = read_qualtrics_csv(qualtrics_rows(3000))
    late = table.responses[2000:]
    assert all(r.fields["Status"] is late[0].fields["Status"] for r in late)
    assert all(r.status is late[0].status and r.progress is late[0].progress for r in late)
    assert late[0].fields["ResponseId"] is not late[1].fields["ResponseId"]  # unique values: left alone


def test_insights_export_without_duration_computes_it_from_the_dates():
    data = (b"ResponseID,StartDate,EndDate,Status,Finished,Q1\r\nResponse ID,Start Date,End Date,Response Type,"
            b"Finished,Colour\r\n"
            b'{"ImportId":"responseId"},{"ImportId":"startDate"},{"ImportId":"endDate"},{"ImportId":"status"},'
            b'{"ImportId":"finished"},{"ImportId":"QID1"}\r\n'
            b"R_1,2016-10-03 09:12:40,2016-10-03 09:20:01,0,1,Blue\r\n")
    table = read_qualtrics_csv(data)
    [r] = table.responses
    assert table.columns[0] == "ResponseId" and not table.legacy
    assert (r.response_id, r.status, r.duration_seconds, r.source_row) == ("R_1", "IP Address", 441, 4)


# --- every reader names what is not a CSV ----------------------------------------------------


def _readers():
    from bridge.panels.prolific.reader import read_export

    return [read_qualtrics_csv, read_batch_results, read_export]


NOT_CSV = {  # file under tests/data/readers -> what the message must say
    "not_csv/export.xlsx": "is an Excel workbook (.xlsx), not a CSV file; export it as CSV",
    "not_csv/export_97.xls": "is an Excel workbook (.xls), not a CSV file; export it as CSV",
    "not_csv/export_semicolon.csv": "is separated by ';', not commas",
    "not_csv/export_tabs.csv": "is separated by tabs, not commas",
    "not_csv/export_utf16.csv": "is UTF-16 text",
    "not_csv/export_gzipped.csv": "is not a text file (it holds binary data)",
    "not_csv/export_download.zip": "is a zip archive, not a CSV file; unzip it",
    "qualtrics": "is a folder, not a file",
}


@pytest.mark.parametrize("reader", range(3), ids=["qualtrics", "mturk", "prolific"])
@pytest.mark.parametrize("rel", list(NOT_CSV))
def test_every_reader_names_what_is_not_a_csv(reader, rel):
    read = _readers()[reader]
    path = DATA / rel
    message = refused(read, path)
    assert message.startswith(f"{path}: {NOT_CSV[rel]}")
    if path.is_file():  # the same from bytes, labelled by the name given
        assert refused(read, path.read_bytes(), name="upload.csv").startswith(f"upload.csv: {NOT_CSV[rel]}")


# --- the text API other readers may use --------------------------------------------------------


def test_load_text_and_records_keep_their_interface():
    label, text = _csv.load_text(BATCH, "b.csv", "MTurk batch-results CSV")
    assert label == "b.csv" and text == BATCH.decode("utf-8")
    rows = list(_csv.records(text, label))
    assert [line for line, _ in rows] == [1, 2, 3, 4] and rows[1][1][0] == "3HIT0000000000000000000000001A"


def test_unreadable_file_is_one_message(tmp_path, monkeypatch):
    path = tmp_path / "wave.csv"
    path.write_bytes(QUALTRICS)

    def deny(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", deny)
    assert refused(read_qualtrics_csv, path) == f"{path}: cannot be read (Permission denied)."
