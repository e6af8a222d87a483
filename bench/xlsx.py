"""Benchmark: the streaming sheet writer, plain rows beside a laid-out `Sheet`.

Writes N rows x 14 columns shaped like the Decisions sheet (30-character IDs, a money
column, a review highlight) with `write_xlsx(path, {"Decisions": rows})` and with
`write_xlsx(path, {"Decisions": Sheet(rows, money=..., highlight=...)})`, interleaved,
and prints the medians and their ratio. `--old-from REV` also times the writer as committed
at git revision REV (read with `git show`, nothing in the repository changes), with plain rows.

    python bench/xlsx.py [--n 20000] [--rounds 5] [--old-from HEAD]
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import string
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.workbook.xlsx import Sheet, write_xlsx  # noqa: E402

HEADER = [
    "AssignmentId", "WorkerId", "HITId", "SubmittedCode", "ResponseId", "Match", "Decision", "Bonus",
    "Reasons", "Feedback", "MTurkStatus", "DurationSeconds", "AutoApprovalTime", "Notes",
]
BONUS = HEADER.index("Bonus")
DECISION = HEADER.index("Decision")


def make_rows(n: int, money_as_decimal: bool) -> list[list]:
    rng = random.Random(7)
    upper = string.ascii_uppercase + string.digits

    def ident(k: int) -> str:
        return "".join(rng.choice(upper) for _ in range(k))

    rows = []
    for i in range(n):
        decision = rng.choices(["approve", "reject", "review"], [90, 3, 7])[0]
        cents = rng.randrange(0, 500) if rng.random() < 0.5 else None
        bonus = None if cents is None else Decimal(cents).scaleb(-2)
        rows.append([
            ident(30), "A" + ident(13), ident(30), f"{rng.randrange(10**7):07d}", "R_" + ident(15),
            "exact" if decision == "approve" else "none", decision,
            bonus if money_as_decimal or bonus is None else str(bonus),
            "" if decision == "approve" else "unmatched;too_fast", "", "Submitted", rng.randrange(60, 3000),
            "2026-11-24 10:00:00" if decision == "review" else None,
            "" if decision == "approve" else f"note for row {i}",
        ])
    return rows


def load_old_writer(rev: str):
    source = subprocess.run(
        ["git", "show", f"{rev}:bridge/xlsx.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    spec = importlib.util.spec_from_loader("old_xlsx", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, f"{rev}:bridge/xlsx.py", "exec"), module.__dict__)
    return module.write_xlsx


def timed(write, path: Path, sheets: dict) -> float:
    t0 = time.perf_counter()
    write(path, sheets)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--old-from", metavar="REV", help="also time bridge/xlsx.py as of this git revision")
    args = ap.parse_args()
    plain_rows = [HEADER, *make_rows(args.n, money_as_decimal=False)]
    sheet_rows = [HEADER, *make_rows(args.n, money_as_decimal=True)]
    old_write = load_old_writer(args.old_from) if args.old_from else None
    times: dict[str, list[float]] = {"plain": [], "sheet": [], "old": []}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.xlsx"
        for _ in range(args.rounds):  # interleaved, so drift hits all alike
            if old_write:
                times["old"].append(timed(old_write, out, {"Decisions": plain_rows}))
            times["plain"].append(timed(write_xlsx, out, {"Decisions": plain_rows}))
            sheet = Sheet(sheet_rows, money=[BONUS], highlight=lambda row: row[DECISION] == "review")
            times["sheet"].append(timed(write_xlsx, out, {"Decisions": sheet}))
    med = {k: statistics.median(v) for k, v in times.items() if v}
    print(f"{args.n} rows x {len(HEADER)} columns; {args.rounds} rounds, medians")
    if old_write:
        print(f"old writer ({args.old_from}), plain rows: {med['old']:.3f} s")
    print(f"plain rows:                  {med['plain']:.3f} s")
    print(f"Sheet (money, highlight):    {med['sheet']:.3f} s")
    print(f"ratio Sheet / plain rows:    {med['sheet'] / med['plain']:.2f}x")
    if old_write:
        print(f"ratio Sheet / old writer:    {med['sheet'] / med['old']:.2f}x (goal <= 1.3x)")


if __name__ == "__main__":
    main()
