"""Issue 11, SPEC §10: a close-out of any input the readers accept stays under 1 GB.

The limits in bridge/sources/limits.py are chosen from bench/memory.py's measurements; these
tests keep the code honest to them, quickly:

- a close-out of a generated wave (40,000 responses and 20,000 assignments, every code a near
  miss: the costliest shape) runs in a fresh process; its peak RSS above a tiny close-out's,
  per row, extrapolated to the limits and with the text budgets added, must stay under 1 GB;
- a file past a row limit is refused before a row is kept, naming the file and the limit,
  with little memory; a file whose text passes its budget is refused while it is read;
- a row's values in a `Fields` behave as the dict they replace.
"""

from __future__ import annotations

import csv
import itertools
import os
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from bridge.errors import SourceError
from bridge.panels.mturk.reader import read_batch_results
from bridge.panels.prolific.reader import read_export
from bridge.sources import limits
from bridge.sources._fields import Fields
from bridge.sources.qualtrics_csv import read_qualtrics_csv
from bridge.synthetic import write_fast_wave

REPO = Path(__file__).resolve().parents[1]
GB = 1000  # MB: "under 1 GB"
MIB = 1 << 20
# Kept text of the generated wave, per row (ResponseId, RecordedDate, a 7-digit code and a
# 13-character worker id; assignment and worker ids and the code): what the budgets add on top.
SURVEY_TEXT, SUBMISSION_TEXT = 252, 197
TOML = ('[wave]\nname = "memtest"\n[qualtrics]\ncsv = "survey.csv"\nworker_id_column = "workerId"\n'
        '[mturk]\ncsv = "batch.csv"\n[rules]\nmin_duration_seconds = 60\n'
        'attention_checks = [ { column = "Q7", expected = "Blue" } ]\n'
        '[bonus]\ncolumn = "bonus"\nmax_per_worker = "5.00"\n[fair_pay]\nhourly = "7.25"\n'
        '[qualifications]\nprev_worker = "3PREVWORKER00000000000000000000"\n'
        'eligible_worker = "3ELIGIBLEWORKER000000000000000"\n')


def wave(folder: Path, responses: int, assignments: int) -> Path:
    """The synthetic wave, its first `assignments` assignments each entering its code with
    one digit more (a near miss of every response: the near-miss search runs over all)."""
    folder.mkdir()
    write_fast_wave(folder, responses, seed=7)
    full = folder / "batch.csv"
    rows = list(itertools.islice(csv.reader(full.open(newline="", encoding="utf-8")), assignments + 1))
    k = rows[0].index("Answer.surveycode")
    for row in rows[1:]:
        row[k] += "9"
    with full.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    (folder / "wave.toml").write_text(TOML)
    return folder / "wave.toml"


def close_out_peak(config: Path) -> tuple[float, int, str, str]:
    """`survey-bridge close-out` in a fresh process: its peak RSS in MB (from the kernel, so
    the interpreter and imports count), exit code, stdout and stderr."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out, err = config.parent / "stdout.txt", config.parent / "stderr.txt"
    with out.open("w") as o, err.open("w") as e:
        proc = subprocess.Popen([sys.executable, "-m", "bridge", "close-out", str(config), "--now",
                                 "2026-11-21T12:00:00Z", "--workbook", str(config.parent / "out.xlsx")],
                                cwd=config.parent, env=env, stdout=o, stderr=e)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss / 1024, proc.returncode, out.read_text(), err.read_text()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak RSS in MB as Linux reports it")
def test_close_out_per_row_extrapolates_under_1_gb_at_the_limits(tmp_path: Path):
    base, code, _, err = close_out_peak(wave(tmp_path / "tiny", 200, 100))
    assert code == 0, err
    n, p = 40_000, 20_000  # the limits' proportions: twice as many responses as assignments
    peak, code, out, err = close_out_peak(wave(tmp_path / "wave", n, p))
    assert code == 0, err
    assert re.search(r"Near misses\s+20,?000\b", out), out
    scale = (limits.MAX_ROWS - 3) / n
    assert abs((limits.MAX_SUBMISSION_ROWS - 1) / p - scale) < 0.01  # the wave is the limits, scaled down
    per_response_pair = (peak - base) / n  # MB per response (and half an assignment)
    # What a file may keep beyond the generated wave's text, up to its budget.
    headroom = (limits.MAX_SURVEY_KEPT_BYTES - (limits.MAX_ROWS - 3) * SURVEY_TEXT
                + limits.MAX_SUBMISSION_KEPT_BYTES - (limits.MAX_SUBMISSION_ROWS - 1) * SUBMISSION_TEXT) / 1e6
    at_limits = base + per_response_pair * (limits.MAX_ROWS - 3) + headroom
    assert at_limits < GB, (f"{base:.0f} MB + {per_response_pair * 1e6:,.0f} bytes a response x {limits.MAX_ROWS:,} "
                            f"+ {headroom:.0f} MB of text = {at_limits:.0f} MB at the limits ({peak:.0f} MB measured "
                            f"for {n:,} + {p:,})")


# --- past a limit: refused, naming the file and the limit, with little memory ---------------


def test_a_batch_file_past_the_row_limit_is_refused_before_a_row_is_kept(tmp_path: Path):
    """The real limit: MAX_SUBMISSION_ROWS + 1 short lines. Counted first (line ends), so no
    Submission is ever made: the peak is a fraction of what the rows would take."""
    path = tmp_path / "batch.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write('"HITId","AssignmentId","WorkerId","AssignmentStatus"\n')
        f.write('"H","A","W","Submitted"\n' * limits.MAX_SUBMISSION_ROWS)
    tracemalloc.start()
    try:
        with pytest.raises(SourceError) as info:
            read_batch_results(path)
        peak = tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()
    assert str(info.value) == (f"{path}: more than {limits.MAX_SUBMISSION_ROWS:,} rows, the limit for a MTurk "
                               "batch-results CSV. Export only this wave's rows (a date range or filter) or split the file.")
    assert peak < 8, f"{peak:.1f} MiB"  # a few 1 MiB read buffers; 250,000 Submissions would be 150 MB


def test_a_survey_past_the_row_limit_is_refused_before_a_row_is_kept(tmp_path: Path):
    path = tmp_path / "survey.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write("ResponseId,Q1\n")
        f.writelines(f"R_{i:015d},x\n" for i in range(limits.MAX_ROWS))
    tracemalloc.start()
    try:
        with pytest.raises(SourceError) as info:
            read_qualtrics_csv(path, keep=["Q1"])
        peak = tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()
    assert str(info.value).startswith(f"{path}: more than {limits.MAX_ROWS:,} rows, the limit for a Qualtrics CSV export")
    assert peak < 8, f"{peak:.1f} MiB"  # read buffers, no Response


def test_line_breaks_inside_values_do_not_count_as_rows(tmp_path: Path, monkeypatch):
    """More line ends than the limit, but not more records: counted exactly, then read."""
    monkeypatch.setattr(limits, "MAX_SUBMISSION_ROWS", 5)
    path = tmp_path / "batch.csv"
    rows = ['"HITId","AssignmentId","WorkerId","AssignmentStatus","RequesterFeedback"']
    rows += [f'"H","A{i}","W{i}","Submitted","line one\r\nline two\nline three"' for i in range(4)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8", newline="")
    table = read_batch_results(path)
    assert [s.feedback for s in table.submissions] == ["line one\r\nline two\nline three"] * 4
    path.write_text("\n".join(rows + [rows[-1].replace("A3", "A4")]) + "\n", encoding="utf-8", newline="")
    with pytest.raises(SourceError, match="more than 5 rows, the limit"):
        read_batch_results(path)


@pytest.mark.parametrize("panel", ["mturk", "prolific"])
def test_text_past_the_budget_is_refused_while_read(monkeypatch, panel):
    """Long unique answers in every row: stopped at the budget, the line named."""
    monkeypatch.setattr(limits, "MAX_SUBMISSION_KEPT_BYTES", 1 * MIB)
    answer = "y" * 1000
    if panel == "mturk":
        head = '"HITId","AssignmentId","WorkerId","AssignmentStatus","Answer.comment"\n'
        body = "".join(f'"H","A{i:05d}","W{i:05d}","Submitted","{i:05d}{answer}"\n' for i in range(2000))
        read, what = read_batch_results, "MTurk batch-results CSV"
    else:
        head = "Submission id,Participant id,Status,Completion code,Total approvals,Comment\n"
        body = "".join(f"s{i:023d},p{i:023d},AWAITING REVIEW,C1,3,{i:05d}{answer}\n" for i in range(2000))
        read, what = read_export, "Prolific export"
    with pytest.raises(SourceError) as info:
        read((head + body).encode(), name="big.csv")
    message = str(info.value)
    assert message.startswith("big.csv, line ")
    assert f"more than 1 MiB of text the close-out keeps (ids, codes, answers), the limit for a {what}" in message
    line = int(message.split("line ")[1].split(":")[0])
    assert 700 < line < 1100  # 1,100 to 1,200 bytes a row: stopped at the budget, not at the end


def test_repeated_answers_cost_nothing_against_the_budget(monkeypatch):
    """Shared values (a status, a code many entered, `Female`) are not counted: only what a
    row keeps for itself is."""
    monkeypatch.setattr(limits, "MAX_SUBMISSION_KEPT_BYTES", 1 * MIB)
    head = "Submission id,Participant id,Status,Completion code,Total approvals,Sex,Country\n"
    body = "".join(f"s{i:023d},p{i:023d},AWAITING REVIEW,C1A2B3C4,3,Female,United Kingdom of Great Britain\n"
                   for i in range(5000))
    table = read_export((head + body).encode(), name="ok.csv")  # ids: 5,000 x 2 x 73 bytes = 0.7 MiB
    late = table.submissions[-2:]
    assert late[0].answers["Country"] is late[1].answers["Country"]
    assert late[0].entered_code is late[1].entered_code and late[0].status is late[1].status


def test_survey_text_budget(monkeypatch):
    monkeypatch.setattr(limits, "MAX_SURVEY_KEPT_BYTES", 1 * MIB)
    head = "ResponseId,code,Q9_TEXT\n"
    body = "".join(f"R_{i:015d},{i:07d},{'z' * 2000}\n" for i in range(3000))
    data = (head + body).encode()
    assert len(read_qualtrics_csv(data, keep=["code"]).responses) == 3000  # the long column is not kept
    with pytest.raises(SourceError, match=r"^survey.csv, line \d+: the rows up to here hold more than 1 MiB"):
        read_qualtrics_csv(data, name="survey.csv", keep=["code", "Q9_TEXT"])


# --- Fields: a dict's behaviour in a fraction of its memory -----------------------------------


def test_fields_behave_as_a_dict():
    names = {"a": 0, "b": 1, "c": 2}
    f, g = Fields(names, ("1", "2", "3")), Fields(names, ("1", "2", "3"))
    want = {"a": "1", "b": "2", "c": "3"}
    assert f == g == want and want == f and f != {"a": "1"} and repr(f) == repr(want)
    assert list(f) == ["a", "b", "c"] and len(f) == 3 and "b" in f and "z" not in f
    assert f.get("z") is None and f.get("z", "") == "" and f["c"] == "3" and dict(f) == want
    assert list(f.items()) == list(want.items()) and list(f.values()) == ["1", "2", "3"]
    with pytest.raises(KeyError):
        f["z"]
    f["b"] = "X"  # a row may still be edited: its own values, the shared names untouched
    assert f["b"] == "X" and g["b"] == "2" and names == {"a": 0, "b": 1, "c": 2}
    f["d"] = "4"
    del f["a"]
    assert f == {"b": "X", "c": "3", "d": "4"} and list(f) == ["b", "c", "d"] and list(g) == ["a", "b", "c"]
    assert sys.getsizeof(Fields(names, ())) < sys.getsizeof({"a": "1"}) / 3
