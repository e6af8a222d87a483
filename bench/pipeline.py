"""Benchmark: the dry-run close-out of a clean 20,000-participant wave, beside a floor.

The floor, measured in the same run: pandas reading both CSVs as text, plus openpyxl in
write-only mode writing 20,000 ten-column rows. Each round runs in a fresh process (so
peak memory is the close-out's own); the script prints medians and the ratio.
Goal (issue 2): close-out at most 2x the floor, peak memory under 500 MB.

    python bench/pipeline.py [--n 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_wave(folder: Path, n: int) -> Path:
    from bridge.synthetic import clean_wave, write_batch_csv, write_qualtrics_csv

    wave = clean_wave(n, seed=7)
    write_qualtrics_csv(wave, folder / "survey.csv")
    write_batch_csv(wave, folder / "batch.csv")
    config = folder / "wave.toml"
    config.write_text(
        '[wave]\nname = "bench"\n[qualtrics]\ncsv = "survey.csv"\nworker_id_column = "workerId"\n'
        '[mturk]\ncsv = "batch.csv"\n[rules]\nmin_duration_seconds = 60\n'
        'attention_checks = [ { column = "Q7", expected = "Blue" } ]\n'
        '[bonus]\ncolumn = "bonus"\nmax_per_worker = "5.00"\n'
        '[qualifications]\nprev_worker = "3PREV"\neligible_worker = "3ELIG"\n'
    )
    return config


def child_floor(folder: Path) -> float:
    import pandas as pd
    from openpyxl import Workbook

    t0 = time.perf_counter()
    survey = pd.read_csv(folder / "survey.csv", dtype=str, keep_default_na=False, skiprows=[1, 2])
    batch = pd.read_csv(folder / "batch.csv", dtype=str, keep_default_na=False)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("rows")
    for i in range(len(batch)):
        ws.append([f"{i}", "A", "B", "C", "D", "E", "F", "G", "H", "I"])
    wb.save(folder / "floor.xlsx")
    assert len(survey) == len(batch)
    return time.perf_counter() - t0


def child_closeout(folder: Path) -> float:
    from datetime import datetime, timezone

    from bridge.closeout import close_out
    from bridge.config import load_config

    t0 = time.perf_counter()
    result = close_out(load_config(folder / "wave.toml"), datetime(2026, 11, 21, tzinfo=timezone.utc))
    elapsed = time.perf_counter() - t0
    assert len(result.plan.decisions) == len(result.mturk.assignments)
    return elapsed


def run_child(kind: str, folder: Path) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--folder", str(folder)], capture_output=True, text=True, check=True
    )
    data = json.loads(out.stdout)
    return data["seconds"], data["peak_mb"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--child")
    ap.add_argument("--folder")
    args = ap.parse_args()
    if args.child:
        fn = {"floor": child_floor, "closeout": child_closeout}[args.child]
        seconds = fn(Path(args.folder))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        print(json.dumps({"seconds": seconds, "peak_mb": peak}))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_wave(folder, args.n)
        floor, closeout, peaks = [], [], []
        for _ in range(args.rounds):  # interleaved, so drift hits both alike
            floor.append(run_child("floor", folder)[0])
            seconds, peak = run_child("closeout", folder)
            closeout.append(seconds)
            peaks.append(peak)
        f, c = statistics.median(floor), statistics.median(closeout)
        print(f"wave: {args.n} assignments, {args.n} responses; {args.rounds} rounds, medians")
        print(f"floor (pandas read both CSVs as text + openpyxl write-only {args.n}x10): {f:.2f} s")
        print(f"close-out dry run (read, match, decide, write workbook):          {c:.2f} s")
        print(f"ratio close-out / floor: {c / f:.2f}x (goal <= 2x)")
        print(f"peak memory of the close-out process: {max(peaks):.0f} MB (goal < 500 MB)")


if __name__ == "__main__":
    main()
