"""The reconciliation workbook, one room: writing it, reading it back, merging a person's edits.

- `write`: the sheets of a plan (SPEC §4, §4.1), streamed by `xlsx` (a writer laid out for
  reading and printing);
- `edits`: the `Decisions` sheet read back a row at a time, and a person's edits laid over a
  plan (every invalid edit reported by row before anything is sent);
- `review`: a person's review is never lost (SPEC 4.2): edits carried into a new close-out,
  or refused with the file left byte for byte; the workbook path never replaces a file that
  is not the tool's.

The room depends on the core below it (`models`, `rules`, `closing`, `config`, `cost`);
`closeout` and `apply` both use it, and it imports neither.
"""
