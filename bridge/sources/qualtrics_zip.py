"""The Qualtrics export file: downloaded into a spooled temporary file, then its one CSV
read straight out of the zip, within the limits of `bridge.sources.limits`.

Nothing is ever held whole: the download goes to memory up to SPOOL_IN_MEMORY then to a
temporary file, stopped past MAX_DOWNLOAD_BYTES; the zip's directory is checked from its
end record before `zipfile` parses it (a zip of a million members is refused unread); the
CSV member is refused when it declares more than MAX_FILE_BYTES, and otherwise decompressed
in chunks as the reader asks for them, stopped as soon as it passes that size (a member that
lies about its size) or trips a limit of the CSV reader (a zip bomb of one endless value, of
blank lines, of one huge row): a bomb is refused after a few MiB of output, not 512 MiB.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Collection
from typing import BinaryIO

import requests

from bridge.errors import SourceError
from bridge.models import SurveyTable
from bridge.sources.limits import (
    MAX_DOWNLOAD_BYTES,
    MAX_FILE_BYTES,
    MAX_ZIP_DIRECTORY_BYTES,
    MAX_ZIP_MEMBERS,
    SPOOL_IN_MEMORY,
    size_text,
)
from bridge.sources.qualtrics_csv import read_qualtrics_csv

_CHUNK = 1 << 20
_END_RECORD = b"PK\x05\x06"
_END_RECORD_SIZE = 22


def spool_download(resp: requests.Response, where: str) -> tuple[BinaryIO, int]:
    """The body of a streamed response in a spooled temporary file (rewound), and its size.

    `where` reads like "survey SV_x from host"; the caller closes the response and the file.
    """
    declared = resp.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > MAX_DOWNLOAD_BYTES:
        raise _too_big_download(where, int(declared))
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    size, reason = 0, None
    try:
        for chunk in resp.iter_content(_CHUNK):
            size += len(chunk)
            if size > MAX_DOWNLOAD_BYTES:
                raise _too_big_download(where, size)
            spool.write(chunk)
    except SourceError:
        spool.close()
        raise
    except requests.RequestException as exc:  # its text may quote the request: keep only the type
        reason = type(exc).__name__
    except OSError as exc:  # no room for the temporary file
        reason = exc.strerror or type(exc).__name__
    if reason is not None:
        spool.close()
        raise SourceError(f"The download of the export of {where} broke off ({reason}); run again.")
    spool.seek(0)
    return spool, size


def _too_big_download(where: str, size: int) -> SourceError:
    return SourceError(
        f"The export file of {where} is {size_text(size)} or more, larger than the {size_text(MAX_DOWNLOAD_BYTES)} "
        "a compressed export may be; export the CSV by hand for a date range and set [qualtrics] csv."
    )


def read_export_zip(body: BinaryIO, size: int, *, where: str, survey_id: str, content_type: str,
                    keep: Collection[str] | None = None) -> SurveyTable:
    """The survey table from the export zip in `body` (seekable), its one CSV streamed."""
    not_zip = SourceError(
        f"The export file of {where} is not a zip archive (Content-Type {content_type}, {size} bytes); run again."
    )
    damaged = f"The export zip of {where} is damaged"
    entries, directory = _end_record(body)
    if entries is None:
        raise not_zip
    if entries > MAX_ZIP_MEMBERS or directory > MAX_ZIP_DIRECTORY_BYTES:
        raise SourceError(
            f"The export zip of {where} lists {entries:,} members ({size_text(directory)} of names); an export "
            f"holds one CSV and at most {MAX_ZIP_MEMBERS} members are read: it is not a Qualtrics export. Run again."
        )
    try:
        archive = zipfile.ZipFile(body)
    except zipfile.BadZipFile:
        raise not_zip from None
    except (OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise SourceError(f"{damaged} ({type(exc).__name__}); run again.") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise SourceError(
                f"The export zip of {where} holds {len(infos):,} members; an export holds one CSV. Run again."
            )
        csvs = [i for i in infos if i.filename.lower().endswith(".csv") and not i.filename.startswith("__MACOSX/")]
        if len(csvs) != 1:
            found = ", ".join(i.filename for i in infos) or "nothing"
            want = "no CSV file" if not csvs else "several CSV files"
            raise SourceError(f"The export zip of {where} holds {want} (found: {found}); expected one CSV.")
        info = csvs[0]
        label = f"{survey_id} export ({info.filename})"
        if info.file_size > MAX_FILE_BYTES:
            raise SourceError(
                f"{label}: would expand to {size_text(info.file_size)}, more than the {size_text(MAX_FILE_BYTES)} "
                "a Qualtrics export may be; it is damaged or not an export. Run again, or export the responses by "
                "hand for a date range and set [qualtrics] csv."
            )
        try:
            member = archive.open(info)
        except (zipfile.BadZipFile, OSError, RuntimeError, EOFError, NotImplementedError, ValueError) as exc:
            raise SourceError(f"{damaged} ({type(exc).__name__}); run again.") from None
        with member:
            return read_qualtrics_csv(member, name=label, keep=keep)


def _end_record(body: BinaryIO) -> tuple[int | None, int]:
    """(members listed, size of the central directory) from the zip's end record, or
    (None, 0) when there is none. Read before `zipfile` builds an entry per member."""
    body.seek(0, 2)
    length = body.tell()
    tail_size = min(length, _END_RECORD_SIZE + 0xFFFF)  # the record, then a comment of up to 64 KiB
    body.seek(length - tail_size)
    tail = body.read(tail_size)
    body.seek(0)
    at = tail.rfind(_END_RECORD)
    if at < 0 or len(tail) - at < _END_RECORD_SIZE:
        return None, 0
    entries = int.from_bytes(tail[at + 10 : at + 12], "little")  # 0xFFFF: a zip64 count, far too many
    directory = int.from_bytes(tail[at + 12 : at + 16], "little")
    return entries, directory
