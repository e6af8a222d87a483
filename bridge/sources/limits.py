"""Size limits on the files and downloads a close-out reads (SPEC §10: input is untrusted).

Every reader of a CSV (Qualtrics export, MTurk batch results, Prolific export) and the
Qualtrics API download check these while they read, so a file past a limit is refused with
one message naming the file and the limit (exit 1) after reading at most a little past the
limit, never after loading it whole. The numbers leave ample room for any real wave:

- MAX_FILE_BYTES: one CSV, as a file, as bytes, or as the CSV inside the Qualtrics export
  zip, counted while it expands (a zip bomb stops there, or at the first limit below that
  its content trips; the declared size is checked first). A 1,000,000-row export of 23
  columns is about 200 MB.
- MAX_FIELD_CHARS: one value. A Qualtrics text entry answer holds at most 20,000 characters
  (Qualtrics' Text Entry Question page); a value of a million is a damaged file (a quote
  never closed, swallowing the rest) or not an export. Set as `csv.field_size_limit`
  (process-global) each time a reader opens or parses a file.
- MAX_RECORD_CHARS: one record, all its fields and line breaks: bounds the memory one row
  takes before it is looked at (a line of millions of tiny fields).
- MAX_ROWS: records in one CSV, header and blank lines counted: a 1,000,000-response
  export fits, with room. Bounds the memory of the tables built from the rows and a bomb of
  blank lines: reading a Qualtrics export costs about 650 bytes per response when the
  close-out keeps four columns (`read_qualtrics_csv(keep=...)`; 674 MB peak for a million,
  bench/memory.py), about 1.5 KB when it keeps all 23; at this limit the first stays under
  1 GB.
- MAX_ZIP_MEMBERS, MAX_DOWNLOAD_BYTES, MAX_ZIP_DIRECTORY_BYTES: the export zip from the
  Qualtrics API holds one CSV; the download itself (compressed, spooled to a temporary
  file past SPOOL_IN_MEMORY) and its member list are bounded too.
"""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

MAX_FILE_BYTES = 2 * GIB
MAX_FIELD_CHARS = 1 * MIB
MAX_RECORD_CHARS = 8 * MIB
MAX_ROWS = 1_200_000

MAX_ZIP_MEMBERS = 8
MAX_ZIP_DIRECTORY_BYTES = 1 * MIB
MAX_DOWNLOAD_BYTES = 1 * GIB
SPOOL_IN_MEMORY = 16 * MIB


def size_text(n: int) -> str:
    """`2 GiB`, `1 MiB`, `512 KiB`, `300 bytes`: a limit or a size, for a message."""
    for unit, size in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"
