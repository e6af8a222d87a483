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
- MAX_ROWS, MAX_SUBMISSION_ROWS: records in one Qualtrics export, and in one panel file
  (MTurk batch results, Prolific export), header and blank lines counted. A file or bytes
  past its limit is refused before any row is kept (its line ends counted first, fast), so
  with little memory; a stream (the API's zip) is counted while it is read. Together with
  the two budgets below they bound what a close-out holds: see the figures further down.
- MAX_SURVEY_KEPT_BYTES, MAX_SUBMISSION_KEPT_BYTES: the memory the text a reader keeps may
  take (`sys.getsizeof` of each value a row keeps for itself: ids, codes, answers, dates;
  values shared by many rows and the empty value cost nothing). The row limits bound the
  objects; these bound the text, however long the values (up to MAX_FIELD_CHARS each) or
  wide the rows (a Prolific export's demographics, a batch file's answers).
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
# Issue 11 (SPEC §10): a close-out of any input the readers accept stays under 1 GB. Peak RSS
# of `survey-bridge close-out` (bench/memory.py; Linux, CPython 3.11; a first run, no earlier
# workbook to carry edits from), at the limits: 499,997 responses and 249,999 submissions:
#
#   MTurk, every assignment matched (the other 250,000 responses unmatched)      704 MB
#   MTurk, every submitted code a near miss (the search runs over every code)    732 MB
#   Prolific: 24-character ids, 20 demographic columns, top-ups, both groups     694 MB
#   MTurk, the text of both files at ~90% of the budgets below                   804 MB
#   MTurk, near misses of 64-character codes, submissions' text near its budget  776 MB
#
# A response costs about 510 bytes (its Response, kept fields, id and dates), a submission
# about 640 (its Submission, three times, ids and answers), a matched pair about 350 more
# while it is planned. A 1,000,000-row survey alone took 530 MB, and with 250,000 submissions
# the near-miss case peaked at 1.07 GB: hence half a million. A real wave has tens of
# thousands of rows on either side. Before these limits, 1,000,000 + 1,000,000 took 3.2 GB;
# now such a file is refused in 2 seconds at 61 MB (its line ends are counted first).
MAX_ROWS = 500_000
MAX_SUBMISSION_ROWS = 250_000
# What the readers keep of the synthetic waves at the row limits: a survey 126 MB (ResponseId,
# RecordedDate, a 7-digit code, a 13-character worker id: 252 bytes a response; 40-character
# codes and 30-character ids make it 151 MB), a batch file 50 MB (assignment and worker ids,
# the code), a Prolific export about 40 MB. The budgets leave that room and stay within the
# 804 MB measured above with both nearly full.
MAX_SURVEY_KEPT_BYTES = 192 * MIB
MAX_SUBMISSION_KEPT_BYTES = 96 * MIB

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
