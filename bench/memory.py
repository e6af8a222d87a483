"""Benchmark: peak memory of reading a Qualtrics export, of a close-out, and of a zip bomb.

Issue 11 (SPEC §10): the close-out of any input stays under 1 GB, and a zip that expands
beyond its limit is refused while it is read. For each size (default 20k, 200k and 1M rows)
this writes a clean synthetic wave (`bridge.synthetic.write_fast_wave`: a Qualtrics export
with three header rows and the matching MTurk batch file) and measures, each in a fresh
process (peak RSS from the kernel via os.wait4, so imports count too):

- `import`: the interpreter with the reader imported, reading nothing (the floor);
- `read`: `read_qualtrics_csv(path)`, every column kept in `Response.fields`;
- `read keep`: `read_qualtrics_csv(path, keep=KEEP)`, the few columns a close-out uses
  (only where the reader takes `keep`);
- `close-out` (with --closeout): `python -m bridge close-out wave.toml`, the whole dry run.

and then a zip bomb through the Qualtrics API path (`fetch_survey` against a local server):
a 0.5 MB zip whose one CSV expands to 512 MiB.

`--before REV` also measures the code of a git revision (extracted with `git archive` into
a temporary folder, the work tree untouched), so the table shows before and after side by side.

    python bench/memory.py [--sizes 20000 200000 1000000] [--before REV] [--closeout] [--no-bomb]
"""

from __future__ import annotations

import argparse
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


# --- children: each runs in its own process, with the code under test first on sys.path ----


def child(kind: str, root: str, target: str) -> dict:
    sys.path.insert(0, root)
    from bridge.sources.qualtrics_csv import read_qualtrics_csv

    t0 = time.perf_counter()
    if kind == "import":
        return {"seconds": 0.0}
    if kind in ("read", "read-keep"):
        import inspect

        kwargs = {}
        if kind == "read-keep":
            if "keep" not in inspect.signature(read_qualtrics_csv).parameters:
                return {"skipped": "the reader takes no keep"}
            kwargs["keep"] = KEEP
        table = read_qualtrics_csv(target, **kwargs)
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


def run_closeout(root: Path, folder: Path) -> dict:
    """`python -m bridge close-out` on the wave's config, its peak RSS from wait4."""
    env = dict(os.environ, PYTHONPATH=str(root))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bridge", "close-out", str(folder / "wave.toml"), "--now", NOW,
                             "--workbook", str(folder / f"out-{root.name}.xlsx")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=root, env=env)
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    report = {"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024}
    if code != 0:
        text = (err or out).decode(errors="replace").strip().splitlines()
        report["error"] = f"exit {code}: {(text[-1] if text else '?')[:200]}"
    return report


# --- inputs -----------------------------------------------------------------------------


def make_wave(folder: Path, n: int) -> None:
    sys.path.insert(0, str(REPO))
    from bridge.synthetic import write_fast_wave

    folder.mkdir(parents=True, exist_ok=True)
    write_fast_wave(folder, n, seed=7)
    (folder / "wave.toml").write_text(
        '[wave]\nname = "bench"\n[qualtrics]\ncsv = "survey.csv"\nworker_id_column = "workerId"\n'
        '[mturk]\ncsv = "batch.csv"\n[rules]\nmin_duration_seconds = 60\n'
        'attention_checks = [ { column = "Q7", expected = "Blue" } ]\n'
        '[bonus]\ncolumn = "bonus"\nmax_per_worker = "5.00"\n'
    )


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


# --- the table --------------------------------------------------------------------------


def cell(r: dict | None) -> str:
    if r is None:
        return "-"
    if "skipped" in r:
        return "n/a"
    if "error" in r:
        return f"failed ({r['peak_mb']:.0f} MB)"
    return f"{r['peak_mb']:,.0f} MB {r['seconds']:.1f} s"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[20000, 200000, 1000000])
    ap.add_argument("--before", help="a git revision to measure beside the work tree, e.g. HEAD")
    ap.add_argument("--closeout", action="store_true", help="also time `survey-bridge close-out` per size")
    ap.add_argument("--no-bomb", action="store_true")
    ap.add_argument("--work", help="folder for the generated files (default: a temporary one)")
    ap.add_argument("--child")
    ap.add_argument("--root")
    ap.add_argument("--target")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.root, args.target)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        roots = {"after": REPO}
        if args.before:
            roots = {"before": extract_revision(args.before, Path(tmp) / "before"), **roots}
        rows: list[tuple[str, dict[str, dict | None]]] = []
        for n in args.sizes:
            folder = work / f"wave-{n}"
            if not (folder / "survey.csv").exists():
                make_wave(folder, n)
            mb = (folder / "survey.csv").stat().st_size / 1e6
            for kind in ("import", "read", "read-keep"):
                rows.append((f"{n:>9,} rows ({mb:,.0f} MB) {kind}",
                             {name: run_child(kind, root, folder / "survey.csv") for name, root in roots.items()}))
                print(rows[-1][0], {k: cell(v) for k, v in rows[-1][1].items()}, file=sys.stderr)
            if args.closeout:
                results = {name: run_closeout(root, folder) for name, root in roots.items()}
                rows.append((f"{n:>9,} rows close-out", results))
                print(rows[-1][0], {k: cell(v) for k, v in rows[-1][1].items()}, file=sys.stderr)
        bombs: dict[str, dict] = {}
        if not args.no_bomb:
            bomb = work / "bomb.zip"
            if not bomb.exists():
                make_bomb(bomb)
            label = f"zip bomb ({bomb.stat().st_size / 1e6:.1f} MB -> {BOMB_MIB} MiB) via fetch_survey"
            bombs = {name: run_child("bomb", root, bomb) for name, root in roots.items()}
            rows.append((label, bombs))

        width = max(len(label) for label, _ in rows)
        print(f"{'peak RSS, time':<{width}}  " + "  ".join(f"{name:<22}" for name in roots))
        for label, results in rows:
            print(f"{label:<{width}}  " + "  ".join(f"{cell(results.get(name)):<22}" for name in roots))
        for name, r in bombs.items():
            print(f"zip bomb, {name}: {r.get('outcome') or r.get('error')}")
        for label, results in rows:
            for name, r in results.items():
                if r and "error" in r:
                    print(f"{label}, {name}: {r['error']}")


if __name__ == "__main__":
    main()
