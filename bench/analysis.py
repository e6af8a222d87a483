"""Benchmark: what the data for analysis (issue 13, bridge.responses) costs.

1. The whole-process time of the 52-row sample close-out (`python -m bridge close-out
   sample_data/wave.toml`, on a copy), median of `--runs` (10) runs. With `--baseline DIR`
   (a copy of the `bridge/` package from before the change, in DIR/bridge) the same command
   runs from that tree too, interleaved run by run so both see the same machine load.
2. `bridge.analysis.responses_frame` on a clean 20,000-participant wave (`--n`): the call
   alone, in a fresh process with pandas already imported, median of `--rounds` (3); and, in
   the same process, writing the analysis CSV of the planned wave (`write_responses`).

    python bench/analysis.py [--runs 10] [--n 20000] [--rounds 3] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
NOW = "2026-11-21T12:00:00Z"


def sample_copy(folder: Path) -> Path:
    for name in ("wave.toml", "qualtrics_export.csv", "batch_results.csv"):
        shutil.copy(REPO / "sample_data" / name, folder / name)
    return folder / "wave.toml"


def close_out_seconds(config: Path, tree: Path | None) -> float:
    """One close-out in a fresh interpreter, `tree` (a folder holding `bridge/`) first on the path."""
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bridge", "close-out", str(config), "--now", NOW],
                          capture_output=True, text=True, cwd=config.parent, env=env)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"close-out failed ({tree or REPO}):\n{proc.stderr[-2000:]}")
    return seconds


def bench_close_out(runs: int, baseline: Path | None) -> dict[str, list[float]]:
    trees: dict[str, Path | None] = {"now": REPO}
    if baseline is not None:
        trees["baseline"] = baseline
    times: dict[str, list[float]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory() as tmp:
        configs = {}
        for name in trees:
            (Path(tmp) / name).mkdir()
            configs[name] = sample_copy(Path(tmp) / name)
            close_out_seconds(configs[name], trees[name])  # warm the page cache and .pyc files
        for _ in range(runs):
            for name, tree in trees.items():
                times[name].append(close_out_seconds(configs[name], tree))
        written = sorted(p.name for p in (Path(tmp) / "now" / "out").iterdir())
    print(f"  files written by the close-out: {', '.join(written)}")
    return times


def child_frame(config: Path) -> dict:
    from datetime import datetime, timezone

    t0 = time.perf_counter()
    import pandas  # noqa: F401

    from bridge.analysis import responses_frame
    from bridge.closeout import plan_wave
    from bridge.config import load_config
    from bridge.responses import guard_analysis, write_responses

    t1 = time.perf_counter()
    now = datetime(2026, 11, 21, tzinfo=timezone.utc)
    frame = responses_frame(config, now=now)
    t2 = time.perf_counter()
    settings = load_config(config)
    planned = plan_wave(settings, now)
    t3 = time.perf_counter()
    write_responses(planned, settings, guard_analysis(settings))
    t4 = time.perf_counter()
    assert len(frame) == len(planned.survey.responses) and frame["Include"].all()
    return {"imports": t1 - t0, "responses_frame": t2 - t1, "plan_wave": t3 - t2, "write_responses": t4 - t3,
            "rows": len(frame), "columns": frame.shape[1]}


def bench_frame(n: int, rounds: int) -> list[dict]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        from pipeline import make_wave  # the 20,000-row wave bench/pipeline.py closes out

        config = make_wave(Path(tmp), n)
        for _ in range(rounds):
            out = subprocess.run([sys.executable, __file__, "--child", str(config)],
                                 capture_output=True, text=True, check=True)
            results.append(json.loads(out.stdout))
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--baseline", type=Path, help="a folder holding the bridge/ package from before the change")
    ap.add_argument("--child")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child_frame(Path(args.child))))
        return
    print(f"52-row sample close-out, whole process, median of {args.runs}:")
    for name, times in bench_close_out(args.runs, args.baseline).items():
        print(f"  {name:9s} {statistics.median(times):.3f} s  (min {min(times):.3f}, max {max(times):.3f})")
    print(f"{args.n:,}-participant wave, median of {args.rounds} fresh processes:")
    results = bench_frame(args.n, args.rounds)
    for key in ("imports", "responses_frame", "plan_wave", "write_responses"):
        print(f"  {key:16s} {statistics.median(r[key] for r in results):.3f} s")
    print(f"  ({results[0]['rows']:,} rows x {results[0]['columns']} columns)")


if __name__ == "__main__":
    main()
