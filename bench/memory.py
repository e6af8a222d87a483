"""Benchmark: peak memory of `survey-bridge close-out`, at sizes, at the limits, past them,
and of a zip bomb (issue 11, SPEC §10: the close-out of any input stays under 1 GB).

Each close-out runs `python -m bridge close-out wave.toml` in a fresh process, its peak RSS
from the kernel (os.wait4, so the interpreter and the imports count), on generated waves:

- `20,000`, `200,000`, `1,000,000 rows`: the clean synthetic wave (`bridge.synthetic.
  write_fast_wave`: a Qualtrics export with three header rows and the MTurk batch file with
  as many assignments), as issue 11 names them. Past a limit the close-out is refused.
- `limits`: the largest input the readers accept (MAX_ROWS and MAX_SUBMISSION_ROWS of
  `bridge.sources.limits`, header rows counted), in the shapes that cost the most:
  `matched` (every assignment matched, the other responses unmatched), `near misses` (every
  submitted code one edit from a response's: the near-miss search over every response),
  `Prolific` (24-character ids joined on PROLIFIC_PID, 20 demographic columns kept as
  answers, top-ups and both participant groups), `text at the budgets` (long codes and a
  long unique answer filling MAX_SURVEY_KEPT_BYTES and MAX_SUBMISSION_KEPT_BYTES to ~90%).
- `over`: past a limit, refused (exit 1, the file and the limit named): a batch file of
  1,000,000 rows (refused before a row is kept), and one whose answers pass its text budget
  (refused while it is read).
- a zip bomb through the Qualtrics API path (`fetch_survey` against a local server): a
  0.5 MB zip whose one CSV expands to 512 MiB.

The workbook (and the analysis file) of a case is deleted before each run, so a run never
carries over a previous one's edits (`--again` also measures a second run with the workbook
there). `--before REV` runs the code of a git revision too (its `bridge` package extracted
with `git archive` into a temporary folder, the work tree untouched), side by side.

    python bench/memory.py [--before REV] [--cases ...] [--reads] [--no-bomb] [--work DIR]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KEEP = ("workerId", "Random ID", "bonus", "Q7")
BOMB_MIB = 512
NOW = "2026-11-21T12:00:00Z"
MB = 1e6

MTURK_TOML = (
    '[wave]\nname = "bench"\n[qualtrics]\ncsv = "survey.csv"\nworker_id_column = "workerId"\n'
    '[mturk]\ncsv = "batch.csv"\n[rules]\nmin_duration_seconds = 60\n'
    'attention_checks = [ { column = "Q7", expected = "Blue" } ]\n'
    '[bonus]\ncolumn = "bonus"\nmax_per_worker = "5.00"\n'
)
# The limit cases add what a real close-out also does: fair-pay top-ups and both groups.
MTURK_FULL_TOML = MTURK_TOML + (
    '[fair_pay]\nhourly = "7.25"\n[qualifications]\nprev_worker = "3PREVWORKER00000000000000000000"\n'
    'eligible_worker = "3ELIGIBLEWORKER000000000000000"\n'
)
LONG_FEEDBACK = ("We could not find your survey response for this study, so there is no data to pay for. If you "
                 "believe this is a mistake, please message us through Prolific with your participant id.")


# --- children: each runs in its own process, with the code under test first on sys.path ----


def child(kind: str, root: str, target: str) -> dict:
    sys.path.insert(0, root)
    from bridge.sources.qualtrics_csv import read_qualtrics_csv

    t0 = time.perf_counter()
    if kind == "import":
        return {"seconds": 0.0}
    if kind in ("read", "read-keep"):
        from bridge.errors import SourceError

        kwargs = {"keep": KEEP} if kind == "read-keep" else {}
        try:
            table = read_qualtrics_csv(target, **kwargs)
        except SourceError as exc:
            return {"seconds": time.perf_counter() - t0, "refused": str(exc)}
        return {"seconds": time.perf_counter() - t0, "rows": len(table.responses)}
    if kind == "bomb":
        return _child_bomb(Path(target))
    raise SystemExit(f"unknown child {kind}")


def _child_bomb(zip_path: Path) -> dict:
    """Serve the bomb as a finished Qualtrics export and fetch it, in this one process."""
    from bridge.errors import SourceError
    from bridge.sources.qualtrics_api import fetch_survey

    body = zip_path.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, ctype: str, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            result = {"progressId": "ES_bomb", "percentComplete": 100.0, "status": "complete", "fileId": "F_bomb"}
            self._send(200, "application/json", json.dumps({"result": result}).encode())

        def do_GET(self) -> None:
            self._send(200, "application/zip", body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    t0 = time.perf_counter()
    try:
        fetch_survey("SV_bomb", base_url=f"http://127.0.0.1:{server.server_port}", token="t", timeout=600)
        outcome = "read it (not refused)"
    except SourceError as exc:
        outcome = f"refused: {exc}"
    except MemoryError:
        outcome = "MemoryError"
    finally:
        server.shutdown()
    return {"seconds": time.perf_counter() - t0, "outcome": outcome}


def run_child(kind: str, root: Path, target: Path) -> dict:
    """Run one child and return its JSON report plus its peak RSS in MB (from wait4)."""
    proc = subprocess.Popen([sys.executable, __file__, "--child", kind, "--root", str(root), "--target", str(target)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=root)
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        last = err.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
        return {"error": f"exit {proc.returncode}: {last[0][:200]}", "peak_mb": usage.ru_maxrss / 1024}
    report = json.loads(out.decode().strip().splitlines()[-1])
    report["peak_mb"] = usage.ru_maxrss / 1024  # KiB on Linux
    return report


def run_closeout(root: Path, folder: Path, *, again: bool = False) -> dict:
    """`python -m bridge close-out` on the wave's config, its peak RSS from wait4. The
    workbook and analysis file are deleted first unless `again` (then they are left from the
    run before, whose edits a close-out carries over)."""
    book = folder / f"out-{root.name}.xlsx"
    if not again:
        for old in [book, *folder.glob("*-responses.csv")]:
            old.unlink(missing_ok=True)
    env = dict(os.environ, PYTHONPATH=str(root))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bridge", "close-out", str(folder / "wave.toml"), "--now", NOW,
                             "--workbook", str(book)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=root, env=env)
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    report = {"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024}
    if code != 0:
        text = (err or out).decode(errors="replace").strip().splitlines()
        last = text[-1] if text else "?"
        report["refused" if code == 1 and "limit" in last else "error"] = f"exit {code}: {last[:300]}"
    return report


# --- inputs -----------------------------------------------------------------------------


def limits(root: Path = REPO) -> dict[str, int]:
    """The work tree's limits (the `after` code's)."""
    sys.path.insert(0, str(root))
    from bridge.sources import limits as lim

    return {k: getattr(lim, k) for k in ("MAX_ROWS", "MAX_SUBMISSION_ROWS", "MAX_SURVEY_KEPT_BYTES",
                                         "MAX_SUBMISSION_KEPT_BYTES")}


def make_wave(folder: Path, n: int, toml: str = MTURK_TOML) -> None:
    """The clean synthetic MTurk wave: n responses and n assignments."""
    sys.path.insert(0, str(REPO))
    from bridge.synthetic import write_fast_wave

    folder.mkdir(parents=True, exist_ok=True)
    write_fast_wave(folder, n, seed=7)
    (folder / "wave.toml").write_text(toml)


def cut_wave(src: Path, dst: Path, responses: int, assignments: int, *, toml: str = MTURK_FULL_TOML,
             code_tail: str = "", long_code: int = 0, comment: int = 0) -> None:
    """`src`'s first `responses` responses and `assignments` assignments. `code_tail` is added
    to each submitted code (a near miss); `long_code` characters are added to the codes on
    both sides (still matched exactly); `comment` adds an answer of that many unique
    characters to every assignment."""
    dst.mkdir(parents=True, exist_ok=True)
    filler = "x" * long_code
    with open(src / "survey.csv", newline="", encoding="utf-8") as fi, \
            open(dst / "survey.csv", "w", newline="", encoding="utf-8") as fo:
        if not long_code:
            fo.writelines(itertools.islice(fi, responses + 3))
        else:
            r, w = csv.reader(fi), csv.writer(fo, lineterminator="\r\n")
            head = next(r)
            k = head.index("Random ID")
            w.writerow(head)
            w.writerows(itertools.islice(r, 2))
            for row in itertools.islice(r, responses):
                row[k] += filler
                w.writerow(row)
    with open(src / "batch.csv", newline="", encoding="utf-8") as fi, \
            open(dst / "batch.csv", "w", newline="", encoding="utf-8") as fo:
        r, w = csv.reader(fi), csv.writer(fo, quoting=csv.QUOTE_ALL, lineterminator="\n")
        head = next(r)
        k = head.index("Answer.surveycode")
        if comment:
            head = head[: k + 1] + ["Answer.comment"] + head[k + 1:]
        w.writerow(head)
        for i, row in enumerate(itertools.islice(r, assignments)):
            row[k] += filler + code_tail
            if comment:
                row = row[: k + 1] + [f"{i:09d}" + "y" * (comment - 9)] + row[k + 1:]
            w.writerow(row)
    (dst / "wave.toml").write_text(toml)


def make_prolific(folder: Path, responses: int, submissions: int, *, demographics: int = 20) -> None:
    """A Prolific study at scale: a Qualtrics export whose PROLIFIC_PID joins `submissions`
    rows of a Prolific export with `demographics` columns (ids: 24 hex characters)."""
    sys.path.insert(0, str(REPO))
    from bridge.panels.prolific.synthetic import DEMOGRAPHICS, EXPORT_HEAD
    from bridge.synthetic import QUALTRICS_META

    folder.mkdir(parents=True, exist_ok=True)
    study = "58b2a2055bb55bcbb37d2f2a"
    extra = [f"Screener {i}" for i in range(demographics - len(DEMOGRAPHICS))]
    names = QUALTRICS_META + ["Q1", "Q7", "Q9_TEXT", "PROLIFIC_PID", "STUDY_ID", "SESSION_ID", "bonus"]
    with open(folder / "survey.csv", "w", newline="", encoding="utf-8") as fq, \
            open(folder / f"prolific_export_{study}.csv", "w", newline="", encoding="utf-8") as fp:
        wq, wp = csv.writer(fq, lineterminator="\r\n"), csv.writer(fp, lineterminator="\n")
        wq.writerows([names, names, [json.dumps({"ImportId": n}, separators=(",", ":")) for n in names]])
        wp.writerow(EXPORT_HEAD + DEMOGRAPHICS + extra)
        countries = ["United Kingdom", "United States", "Germany", "South Africa", "Canada"]
        for i in range(max(responses, submissions)):
            pid, sid, session = f"{i:024x}", f"{i + (1 << 80):024x}", f"{i + (1 << 90):024x}"
            seconds = 300 + (i * 7919) % 1200
            start = f"2026-11-20 {16 + (i // 3600) % 6:02d}:{(i // 60) % 60:02d}:{i % 60:02d}"
            end = f"2026-11-20 {17 + (i // 3600) % 6:02d}:{(i // 60) % 60:02d}:{i % 60:02d}"
            if i < responses:
                wq.writerow([start, end, "IP Address", "203.0.113.7", "100", str(seconds), "True", end,
                             f"R_{i:015d}", "", "", "", "", "51.5", "-0.1", "anonymous", "EN", "A friend", "Blue",
                             "Nothing to add.", pid, study, session, ["", "0.50", "1.00", "0.75"][i % 4]])
            if i < submissions:
                returned = i % 20 == 19
                status = "RETURNED" if returned else "AWAITING REVIEW"
                clock = f"{(i // 60) % 60:02d}:{i % 60:02d}.{i % 999999:06d}Z"
                started = f"2026-11-20T{16 + (i // 3600) % 6:02d}:{clock}"
                done = "" if returned else f"2026-11-20T{17 + (i // 3600) % 6:02d}:{clock}"
                code = "NOCODE" if i % 50 == 7 else "C1A2B3C4"
                wp.writerow([sid, pid, status, "Not Applicable", started, done, "", "", str(seconds + 70), code,
                             str(i % 900), ["English", "English, French"][i % 2], str(18 + i % 50),
                             ["Female", "Male"][i % 2], ["White", "Black", "Asian", "Mixed", "Other"][i % 5],
                             *[countries[i % 5]] * 3, "English", ["Yes", "No", "DATA_EXPIRED"][i % 3],
                             ["Full-Time", "Part-Time", "Other"][i % 3], *[str(i % 7) for _ in extra]])
    (folder / "wave.toml").write_text(
        '[wave]\nname = "bench"\nplatform = "prolific"\nreward = "1.25"\ncurrency = "GBP"\n'
        '[qualtrics]\ncsv = "survey.csv"\nparticipant_column = "PROLIFIC_PID"\n'
        f'[prolific]\ncsv = "prolific_export_{study}.csv"\n'
        'completion_codes = { C1A2B3C4 = "completed", C7FAIL00 = "failed_check" }\n'
        f'[rules]\nunmatched = "reject"\nreject_feedback = "{LONG_FEEDBACK}"\n'
        'attention_checks = [ { column = "Q7", expected = "Blue" } ]\nattention_failed = "review"\n'
        '[bonus]\ncolumn = "bonus"\nmax_per_worker = "5.00"\n[fair_pay]\nhourly = "9.00"\n'
        '[qualifications]\nprev_worker = "6543aaaa0000000000000001"\neligible_worker = "6543bbbb0000000000000002"\n')


def make_bomb(path: Path) -> None:
    """A zip holding `Bomb.csv`: a Qualtrics header, then 512 MiB of one repeated byte."""
    header = b"StartDate,EndDate,Status,ResponseId,Q1\r\nStart,End,Status,Response ID,Q1\r\n" \
             b'{"ImportId":"startDate"},{"ImportId":"endDate"},{"ImportId":"status"},{"ImportId":"_recordId"},' \
             b'{"ImportId":"QID1"}\r\n2026-01-01 00:00:00,2026-01-01 00:10:00,IP Address,R_bomb,'
    chunk = b"0" * (1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("Bomb.csv", "w", force_zip64=False) as member:
            member.write(header)
            for _ in range(BOMB_MIB):
                member.write(chunk)


def extract_revision(rev: str, into: Path) -> Path:
    """The `bridge` package of a git revision, in a folder of its own (read-only git use)."""
    archive = subprocess.run(["git", "archive", "--format=tar", rev, "bridge"], cwd=REPO, capture_output=True,
                             check=True)
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def cases(work: Path) -> dict[str, tuple[str, callable]]:
    """name -> (label, a function that makes the case's folder and returns it)."""
    lim = limits()
    n, p = lim["MAX_ROWS"] - 3, lim["MAX_SUBMISSION_ROWS"] - 1  # three header rows; one

    def fast(size: int) -> Path:
        folder = work / f"wave-{size}"
        if not (folder / "batch.csv").exists():
            make_wave(folder, size)
        return folder

    def derived(name: str, base: int, **kw) -> callable:
        def make() -> Path:
            folder = work / name
            if not (folder / "wave.toml").exists():
                cut_wave(fast(base), folder, **kw)
            return folder
        return make

    def prolific() -> Path:
        folder = work / "limits-prolific"
        if not (folder / "wave.toml").exists():
            make_prolific(folder, n, p)
        return folder

    # Text at ~90% of both budgets: longer codes on both sides, and a unique answer per assignment.
    # Kept now: ~252 bytes a response (ResponseId, RecordedDate, code, worker id), ~197 an assignment.
    long_code = max(0, int(0.9 * lim["MAX_SURVEY_KEPT_BYTES"] / n) - 252)
    comment = max(10, int(0.9 * lim["MAX_SUBMISSION_KEPT_BYTES"] / p) - 197 - long_code - 49)
    # Near misses of the longest codes searched (NEAR_MISS_MAX_CHARS = 64): 63 characters in
    # the survey, 64 submitted; the text of the assignments filled to ~90% of their budget.
    near_code, near_comment = 63 - 7, max(10, int(0.9 * lim["MAX_SUBMISSION_KEPT_BYTES"] / p) - 197 - 57 - 49)
    over_text = int(1.5 * lim["MAX_SUBMISSION_KEPT_BYTES"] / 100_000)  # 100,000 assignments, 1.5x the budget
    return {
        "20k": ("20,000 rows", lambda: fast(20_000)),
        "200k": ("200,000 rows", lambda: fast(200_000)),
        "1M": ("1,000,000 rows", lambda: fast(1_000_000)),
        "limits": (f"limits ({n:,} + {p:,}), matched", derived("limits-matched", n, responses=n, assignments=p)),
        "near": ("limits, every code a near miss", derived("limits-near", n, responses=n, assignments=p, code_tail="9")),
        "prolific": ("limits, Prolific (20 demographics)", prolific),
        "text": (f"limits, text at the budgets (+{long_code} code, {comment} answer)",
                 derived("limits-text", n, responses=n, assignments=p, long_code=long_code, comment=comment)),
        "near64": ("limits, near misses of 64-character codes, text", derived(
            "limits-near64", n, responses=n, assignments=p, long_code=near_code, code_tail="9", comment=near_comment)),
        "over-rows": ("over: 20,000 + 1,000,000-row batch", derived("over-rows", 1_000_000, responses=20_000,
                                                                    assignments=1_000_000, toml=MTURK_TOML)),
        "over-text": (f"over: 100,000 answers of {over_text:,} chars", derived(
            "over-text", 200_000, responses=20_000, assignments=100_000, comment=over_text, toml=MTURK_TOML)),
    }


# --- the table --------------------------------------------------------------------------


def cell(r: dict | None) -> str:
    if r is None:
        return "-"
    if "skipped" in r:
        return "n/a"
    if "error" in r:
        return f"failed ({r['peak_mb']:,.0f} MB)"
    if "refused" in r:
        return f"refused {r['peak_mb']:,.0f} MB {r['seconds']:.1f} s"
    return f"{r['peak_mb']:,.0f} MB {r['seconds']:.1f} s"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", help="a git revision to measure beside the work tree, e.g. HEAD")
    ap.add_argument("--cases", nargs="+", help="which close-outs (default: all): 20k 200k 1M limits near prolific "
                                               "text near64 over-rows over-text")
    ap.add_argument("--again", action="store_true", help="also a second run of each, the workbook there")
    ap.add_argument("--reads", action="store_true", help="also reading the survey alone, whole and with keep")
    ap.add_argument("--no-bomb", action="store_true")
    ap.add_argument("--work", help="folder for the generated files, kept between runs (default: a temporary one)")
    ap.add_argument("--child")
    ap.add_argument("--root")
    ap.add_argument("--target")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.root, args.target)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        roots = {"after": REPO}
        if args.before:
            roots = {"before": extract_revision(args.before, Path(tmp) / "before"), **roots}
        table = cases(work)
        rows: list[tuple[str, dict[str, dict | None]]] = []

        def add(label: str, results: dict) -> None:
            rows.append((label, results))
            print(label, {k: cell(v) for k, v in results.items()}, file=sys.stderr, flush=True)

        for name in args.cases or list(table):
            label, make = table[name]
            folder = make()
            if args.reads:
                for kind in ("read", "read-keep"):
                    add(f"{label}: read survey ({kind})",
                        {r: run_child(kind, root, folder / "survey.csv") for r, root in roots.items()})
            add(f"{label}: close-out", {r: run_closeout(root, folder) for r, root in roots.items()})
            if args.again:
                add(f"{label}: close-out again", {r: run_closeout(root, folder, again=True) for r, root in roots.items()})
        bombs: dict[str, dict] = {}
        if not args.no_bomb:
            bomb = work / "bomb.zip"
            if not bomb.exists():
                make_bomb(bomb)
            bombs = {name: run_child("bomb", root, bomb) for name, root in roots.items()}
            add(f"zip bomb ({bomb.stat().st_size / MB:.1f} MB -> {BOMB_MIB} MiB) via fetch_survey", bombs)

        width = max(len(label) for label, _ in rows)
        print(f"\npeak RSS, time{'':<{width - 14}}  " + "  ".join(f"{name:<26}" for name in roots))
        for label, results in rows:
            print(f"{label:<{width}}  " + "  ".join(f"{cell(results.get(name)):<26}" for name in roots))
        for name, r in bombs.items():
            print(f"zip bomb, {name}: {r.get('outcome') or r.get('error')}")
        for label, results in rows:
            for name, r in results.items():
                if r and ("error" in r or "refused" in r):
                    print(f"{label}, {name}: {r.get('error') or r.get('refused')}")


if __name__ == "__main__":
    main()
