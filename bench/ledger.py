"""Benchmark: applying one Prolific study with the lab's shared ledger (PostgreSQL) beside
the SQLite file (SPEC 13; goal: the shared ledger costs under 10%).

A clean synthetic study of N submissions (default 1,000: N approvals, a bonus for about
half, 2N group grants) is closed out once; then `apply_plan` (the preflight, the executor,
the Log) applies it to a fresh local Prolific answering after 50 ms, once with an SQLite
ledger and once with a PostgreSQL one, alternating, `--rounds` (5) times each. The PostgreSQL
server is a throwaway cluster started here with its durable defaults (fsync on), on
127.0.0.1 (tests/pgserver.py: as root it runs as the postgres user), unless `--url` names
one (credentials from PGUSER and PGPASSWORD or ~/.pgpass). Prints the seconds of every
round, the best and the median of each with the overhead, and checks that every approval
and bonus landed exactly once.

    python bench/ledger.py [--n 1000] [--latency-ms 50] [--rounds 5] [--url postgresql://HOST:PORT/DB]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from bridge.apply.run import apply_plan  # noqa: E402
from bridge.closeout import plan_wave  # noqa: E402
from bridge.config import load_config  # noqa: E402
from bridge.panels.prolific.adapter import connect  # noqa: E402
from bridge.panels.prolific.emulator import ProlificEmulator  # noqa: E402
from bridge.panels.prolific.synthetic import clean_study, write_export, write_survey  # noqa: E402

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
TOKEN = "bench-token"
GROUPS = ("6543aaaa0000000000000001", "6543bbbb0000000000000002")


def make_study(folder: Path, n: int):
    study = clean_study(n, seed=11)
    write_survey(study, folder / "survey.csv")
    write_export(study, folder / "prolific_export.csv")
    return study


def config_for(folder: Path, study, url: str, ledger: str) -> Path:
    config = folder / f"study-{abs(hash(ledger)) % 10**8}.toml"
    config.write_text(
        f'[wave]\nname = "bench"\nplatform = "prolific"\nreward = "1.25"\ncurrency = "GBP"\n'
        '[qualtrics]\ncsv = "survey.csv"\nparticipant_column = "PROLIFIC_PID"\n'
        f'[prolific]\ncsv = "prolific_export.csv"\nstudy_id = "{study.study_id}"\nenvironment = "{url}"\n'
        'completion_codes = { C1A2B3C4 = "completed" }\n'
        '[bonus]\ncolumn = "bonus"\nmax_per_worker = "5.00"\n'
        f'[qualifications]\nprev_worker = "{GROUPS[0]}"\neligible_worker = "{GROUPS[1]}"\n'
        f'[output]\nledger = "{ledger}"\nworkbook = "out/{config_name(ledger)}.xlsx"\n'
    )
    return config


def config_name(ledger: str) -> str:
    return "postgresql" if ledger.startswith("postgresql://") else "sqlite"


def one_round(folder: Path, study, ledger: str, latency_ms: float) -> tuple[float, int, bool]:
    """Apply the study to a fresh emulator; (seconds, API calls, landed exactly once)."""
    emu = ProlificEmulator(token=TOKEN, latency_ms=latency_ms).__enter__()
    try:
        emu.seed_export(study.study_id, folder / "prolific_export.csv", reward="1.25")
        for group in GROUPS:
            emu.add_group(group, group_id=group)
        settings = load_config(config_for(folder, study, emu.url, ledger))
        plan = plan_wave(settings, NOW).plan
        market = connect(settings, {"PROLIFIC_API_TOKEN": TOKEN})
        t0 = time.perf_counter()
        result = apply_plan(plan, settings, workbook=settings.workbook_path, confirm=lambda pre: True, market=market)
        elapsed = time.perf_counter() - t0
        emu.settle()
        bonuses = {d.submission_id: d.bonus for d in plan.decisions if d.bonus}
        landed = (not result.failed and not result.waiting
                  and all(emu.submission(d.submission_id).status == "APPROVED" for d in plan.decisions)
                  and all(emu.bonus_payments(s) == [b] for s, b in bonuses.items()))
        return elapsed, market.requests, landed
    finally:
        emu.__exit__(None, None, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--url", help="an existing PostgreSQL database (default: a throwaway server)")
    args = parser.parse_args()

    server = None
    if args.url is None:
        from pgserver import ThrowawayServer, missing

        why = missing()
        if why:
            sys.exit(f"bench/ledger.py: {why}; give --url postgresql://HOST:PORT/DB")
        server = ThrowawayServer(durable=True).start()
        os.environ.update(server.credentials)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
            folder = Path(tmp)
            study = make_study(folder, args.n)
            print(f"Prolific study of {args.n} submissions applied with apply_plan; emulator latency "
                  f"{args.latency_ms:g} ms; PostgreSQL {'at ' + args.url if args.url else 'throwaway, fsync on'}")
            times: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
            for r in range(args.rounds):
                for name in (("sqlite", "postgresql") if r % 2 == 0 else ("postgresql", "sqlite")):
                    ledger = (str(folder / f"ledger-{r}.sqlite") if name == "sqlite"
                              else args.url if args.url else server.create_database())
                    if name == "postgresql" and args.url:  # a fresh study each round: empty the tables
                        _empty(args.url)
                    elapsed, calls, landed = one_round(folder, study, ledger, args.latency_ms)
                    times[name].append(elapsed)
                    print(f"  round {r + 1} {name:10s} {elapsed:6.2f} s, {calls} API calls, "
                          f"landed exactly once: {landed}")
            for label, pick in (("best", min), ("median", statistics.median)):
                got = {k: pick(v) for k, v in times.items()}
                overhead = got["postgresql"] / got["sqlite"] - 1
                print(f"{label}: SQLite {got['sqlite']:.2f} s, PostgreSQL {got['postgresql']:.2f} s; the shared "
                      f"ledger costs {overhead * 100:+.1f}% (goal < 10%: {'met' if overhead < 0.10 else 'NOT met'})")
    finally:
        if server is not None:
            server.stop()


def _empty(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute("DROP SCHEMA IF EXISTS survey_bridge CASCADE")


if __name__ == "__main__":
    main()
