"""Benchmark: the dry-run close-out of a clean 20,000-participant wave, beside a floor, and
of a 20,000-submission Prolific study beside the MTurk wave, and of that study with its
survey read as a generic CSV (`[survey] format = "csv"`, one header row) beside the same
responses read from the Qualtrics export.

The floor, measured in the same run: pandas reading both CSVs as text, plus openpyxl in
write-only mode writing 20,000 ten-column rows. Each round runs in a fresh process (so
peak memory is the close-out's own); the script prints medians and the ratios.
Goals: close-out at most 2x the floor (issue 2); the Prolific dry run within 1.2x of the
MTurk one (issue 8); the generic-CSV survey within 1.1x of the Qualtrics one (issue 20);
peak memory under 500 MB; the Charts sheet (its numbers while planning, its cells and
charts while writing) adds under 3% to each dry run (issue 21). That last is measured
within one process per panel, alternating the dry run with and without the Charts sheet
`--rounds` times each, and compares the fastest of each (the least disturbed by other
work on the machine) and the medians, besides timing the sheet's own work alone.

A re-run costs what a first run costs (issue 18): the whole close-out of the MTurk wave
(`close_out`: the edits carried over, the workbook and the analysis file written) into an
empty folder, into the folder holding the workbook it wrote (untouched: the record beside it
says so, nothing is read), and into one holding that workbook with one edit saved by
openpyxl (read back streaming, the edit carried over). Goal: both within 1.1x of the first.

    python bench/pipeline.py [--n 20000] [--rounds 5] [--against OTHER_CHECKOUT] [--no-rerun]

`--against` also runs the other checkout's own close-out child (its bench/pipeline.py, its
bridge/) on the same files, interleaved with this one's, and prints both medians and their
ratio: a before/after comparison of a change.
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


def make_study(folder: Path, n: int) -> Path:
    from bridge.panels.prolific.synthetic import clean_study, write_export, write_survey

    study = clean_study(n, seed=7)
    write_survey(study, folder / "survey.csv")
    write_export(study, folder / "prolific_export.csv")
    config = folder / "wave.toml"
    config.write_text(
        f'[wave]\nname = "bench"\nplatform = "prolific"\nreward = "1.25"\n[qualtrics]\ncsv = "survey.csv"\n'
        'participant_column = "PROLIFIC_PID"\n'
        f'[prolific]\ncsv = "prolific_export.csv"\nstudy_id = "{study.study_id}"\n'
        'completion_codes = { C1A2B3C4 = "completed" }\n'
        '[rules]\nmin_duration_seconds = 60\ntoo_fast_sd = 3\n'
        'attention_checks = [ { column = "Q7", expected = "Blue" } ]\n'
        '[bonus]\ncolumn = "bonus"\nmax_per_worker = "5.00"\n[fair_pay]\nhourly = "9.00"\n'
        '[qualifications]\nprev_worker = "6543aaaa0000000000000001"\neligible_worker = "6543bbbb0000000000000002"\n'
    )
    return config


def make_study_csv(folder: Path, n: int) -> Path:
    """The study of `make_study`, its survey as a tool with one header row writes it."""
    import csv

    config = make_study(folder, n)
    qualtrics = folder / "survey.csv"
    with open(qualtrics, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    with open(folder / "responses.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\r\n").writerows([rows[0], *rows[3:]])
    qualtrics.unlink()
    config.write_text(config.read_text().replace(
        '[qualtrics]\ncsv = "survey.csv"\n',
        '[survey]\nformat = "csv"\ncsv = "responses.csv"\nresponse_id_column = "ResponseId"\n'
        'finished_column = "Finished"\nfinished_values = ["True"]\nduration_column = "Duration (in seconds)"\n'))
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


def child_closeout(folder: Path) -> tuple[float, dict[str, float]]:
    from datetime import datetime, timezone

    from bridge.closeout import plan_wave
    from bridge.config import load_config
    from bridge.workbook.write import write_workbook

    t0 = time.perf_counter()
    settings = load_config(folder / "wave.toml")
    planned = plan_wave(settings, datetime(2026, 11, 21, tzinfo=timezone.utc))
    t1 = time.perf_counter()
    write_workbook(planned.plan, settings.workbook_path)
    t2 = time.perf_counter()
    assert len(planned.plan.decisions) == len(planned.submissions.submissions)
    return t2 - t0, {"read+match+decide": t1 - t0, "write workbook": t2 - t1}


def child_rerun(folder: Path, mode: str) -> tuple[float, dict[str, float]]:
    """The whole close-out (`close_out`) into out/ as `mode` leaves it: "fresh" (empty),
    "untouched" (the workbook as the last run wrote it), "edited" (with one edit saved)."""
    import shutil
    from datetime import datetime, timezone

    from bridge.closeout import close_out
    from bridge.config import load_config
    from bridge.workbook.stamp import stamp_path

    settings = load_config(folder / "wave.toml")
    book = Path(settings.workbook_path)
    if mode == "fresh":
        shutil.rmtree(book.parent, ignore_errors=True)
    elif mode == "edited":
        shutil.copy(folder / "edited.xlsx", book)
        shutil.copy(folder / "edited.written", stamp_path(book))
    t0 = time.perf_counter()
    result = close_out(settings, datetime(2026, 11, 21, tzinfo=timezone.utc))
    seconds = time.perf_counter() - t0
    assert len(result.carried) == (mode == "edited"), result.carried
    return seconds, {}


def prepare_edit(folder: Path) -> None:
    """The workbook of a first run, one Bonus edited in openpyxl (as a spreadsheet saves it)."""
    import shutil

    from openpyxl import load_workbook

    from bridge.config import load_config
    from bridge.workbook.stamp import stamp_path

    run_child("rerun-fresh", folder)
    book = Path(load_config(folder / "wave.toml").workbook_path)
    shutil.copy(stamp_path(book), folder / "edited.written")
    wb = load_workbook(book)
    ws = wb["Decisions"]
    bonus = [c.value for c in ws[1]].index("Bonus") + 1
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, bonus).value)
    ws.cell(row, bonus).value = float(ws.cell(row, bonus).value) + 1
    wb.save(folder / "edited.xlsx")


def child_charts(folder: Path, rounds: int) -> dict[str, list[float]]:
    """The dry run alternately with the Charts sheet and without it (no pictures counted
    while planning, an empty sheet written), `rounds` times each, in this one process."""
    import bridge.rules as rules
    import bridge.workbook.write as write
    from bridge.workbook.xlsx import Sheet

    real = {(rules, "time_chart"): rules.time_chart, (rules, "time_markers"): rules.time_markers,
            (rules, "check_counts"): rules.check_counts, (write, "charts_sheet"): write.charts_sheet}
    bare = {(rules, "time_chart"): lambda seconds, markers=(): None, (rules, "time_markers"): lambda *a: [],
            (rules, "check_counts"): lambda responses, checks: [],
            (write, "charts_sheet"): lambda plan, text: Sheet([[None]], table=False)}
    out: dict[str, list[float]] = {"with": [], "without": []}
    child_closeout(folder)  # warm: imports, the page cache
    for i in range(rounds):
        order = (("with", real), ("without", bare))
        for mode, functions in order if i % 2 == 0 else order[::-1]:  # each first as often
            for (module, name), function in functions.items():
                setattr(module, name, function)
            out[mode].append(child_closeout(folder)[0])
    return out


def child_chart_parts(folder: Path, repeat: int = 15) -> dict[str, float]:
    """The Charts sheet's own work, each part timed alone (the fastest of `repeat`), with the
    fastest dry run of this process: counting the pictures while planning, laying the sheet
    out, and writing its cells and chart parts (a workbook of the Charts sheet alone, less
    one of an empty sheet)."""
    from datetime import datetime, timezone

    from bridge.closeout import plan_wave, read_survey
    from bridge.config import load_config
    from bridge.match import match_wave
    from bridge.pay_time import paid_time
    from bridge.pictures import check_counts, finished_matched, time_chart, time_markers
    from bridge.workbook.charts import charts_sheet
    from bridge.workbook.write import safe
    from bridge.workbook.xlsx import Sheet, write_xlsx

    def fastest(work) -> float:
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            work()
            best = min(best, time.perf_counter() - t0)
        return best

    settings = load_config(folder / "wave.toml")
    dry = min(child_closeout(folder)[0] for _ in range(3))
    plan = plan_wave(settings, datetime(2026, 11, 21, tzinfo=timezone.utc)).plan
    result = match_wave(settings.panel.read(settings, {}), read_survey(settings, {}),
                        settings.panel.match_options(settings))
    responses = finished_matched(result)
    seconds = sorted(r.duration_seconds for r in responses if r.duration_seconds is not None)
    checks = settings.rules.attention_checks

    paid = paid_time(plan.decisions)
    cutoffs = {k.rsplit(", ", 1)[1]: v for k, v in plan.figures if k.startswith("Too fast below")}

    def count() -> None:
        check_counts(responses, checks)
        time_chart(sorted(seconds), time_markers(cutoffs, statistics.median(seconds), paid, plan.terms,
                                                 settings.fair_pay.hourly, plan.decisions))

    def write(sheet_of) -> float:
        return fastest(lambda: write_xlsx(folder / "charts-only.xlsx", {"Charts": sheet_of()}))

    return {"dry run": dry, "count while planning": fastest(count),
            "lay out": fastest(lambda: charts_sheet(plan, safe)),
            "write": write(lambda: charts_sheet(plan, safe)) - write(lambda: Sheet([[None]], table=False))}


def run_child(kind: str, folder: Path, script: Path | str = __file__, *extra: str) -> dict:
    out = subprocess.run(
        [sys.executable, str(script), "--child", kind, "--folder", str(folder), *extra], capture_output=True,
        text=True, check=True
    )
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--child")
    ap.add_argument("--folder")
    ap.add_argument("--against", type=Path, help="another checkout of the project, to compare with (before/after)")
    ap.add_argument("--no-rerun", action="store_true", help="leave out the re-run cases")
    args = ap.parse_args()
    if args.child:
        if args.child == "floor":
            seconds, stages = child_floor(Path(args.folder)), {}
        elif args.child.startswith("rerun-"):
            seconds, stages = child_rerun(Path(args.folder), args.child.removeprefix("rerun-"))
        elif args.child == "chart-parts":
            print(json.dumps(child_chart_parts(Path(args.folder))))
            return
        elif args.child == "charts":
            print(json.dumps(child_charts(Path(args.folder), args.rounds)))
            return
        else:
            seconds, stages = child_closeout(Path(args.folder))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        print(json.dumps({"seconds": seconds, "stages": stages, "peak_mb": peak}))
        return
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as tmp2, \
            tempfile.TemporaryDirectory() as tmp3:
        folder, prolific, generic = Path(tmp), Path(tmp2), Path(tmp3)
        make_wave(folder, args.n)
        make_study(prolific, args.n)
        make_study_csv(generic, args.n)
        floor, runs, studies, csvs, other, other_studies = [], [], [], [], [], []
        for _ in range(args.rounds):  # interleaved, so drift hits all alike
            floor.append(run_child("floor", folder)["seconds"])
            runs.append(run_child("closeout", folder))
            studies.append(run_child("closeout", prolific))
            csvs.append(run_child("closeout", generic))
            if args.against:
                script = args.against / "bench" / "pipeline.py"
                other.append(run_child("closeout", folder, script)["seconds"])
                other_studies.append(run_child("closeout", prolific, script)["seconds"])
        f, c = statistics.median(floor), statistics.median(r["seconds"] for r in runs)
        pr = statistics.median(r["seconds"] for r in studies)
        print(f"wave: {args.n} assignments, {args.n} responses; {args.rounds} rounds, medians")
        print(f"floor (pandas read both CSVs as text + openpyxl write-only {args.n}x10): {f:.2f} s")
        print(f"close-out dry run (read, match, decide, write workbook):          {c:.2f} s")
        for stage in runs[0]["stages"]:
            print(f"  {stage}: {statistics.median(r['stages'][stage] for r in runs):.2f} s")
        print(f"ratio close-out / floor: {c / f:.2f}x (goal <= 2x)")
        print(f"peak memory of the close-out process: {max(r['peak_mb'] for r in runs):.0f} MB (goal < 500 MB)")
        print(f"Prolific study dry run ({args.n} submissions, {args.n} responses): {pr:.2f} s")
        for stage in studies[0]["stages"]:
            print(f"  {stage}: {statistics.median(r['stages'][stage] for r in studies):.2f} s")
        print(f"ratio Prolific / MTurk dry run: {pr / c:.2f}x (goal <= 1.2x)")
        print(f"peak memory of the Prolific close-out: {max(r['peak_mb'] for r in studies):.0f} MB (goal < 500 MB)")
        g = statistics.median(r["seconds"] for r in csvs)
        print(f"the same study, its survey a generic CSV ([survey] format = \"csv\"): {g:.2f} s")
        for stage in csvs[0]["stages"]:
            print(f"  {stage}: {statistics.median(r['stages'][stage] for r in csvs):.2f} s")
        print(f"ratio generic CSV / Qualtrics CSV survey: {g / pr:.2f}x (goal <= 1.1x)")
        for name, where in (("MTurk", folder), ("Prolific", prolific)):
            parts = run_child("chart-parts", where)
            own = sum(v for k, v in parts.items() if k != "dry run")
            print(f"Charts sheet, {name}: its own work {own * 1000:.0f} ms ("
                  + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in parts.items() if k != "dry run")
                  + f") of the fastest dry run {parts['dry run']:.2f} s: {own / parts['dry run'] * 100:.1f}% "
                  "(goal < 3%)")
            ab = run_child("charts", where, __file__, "--rounds", str(args.rounds))
            fast = {mode: min(times) for mode, times in ab.items()}
            mid = {mode: statistics.median(times) for mode, times in ab.items()}
            print(f"Charts sheet, {name} dry run ({args.rounds} each, one process): fastest {fast['with']:.2f} s "
                  f"with, {fast['without']:.2f} s without ({(fast['with'] / fast['without'] - 1) * 100:+.1f}%); "
                  f"medians {mid['with']:.2f} / {mid['without']:.2f} s "
                  f"({(mid['with'] / mid['without'] - 1) * 100:+.1f}%) (goal < 3%)")
        if args.against:
            o, op = statistics.median(other), statistics.median(other_studies)
            print(f"against {args.against}: MTurk dry run {o:.2f} s there, {c:.2f} s here ({c / o:.2f}x); "
                  f"Prolific {op:.2f} s there, {pr:.2f} s here ({pr / op:.2f}x)")
        if not args.no_rerun:
            rerun(folder, args.rounds)


def rerun(folder: Path, rounds: int) -> None:
    prepare_edit(folder)
    times: dict[str, list[float]] = {"fresh": [], "untouched": [], "edited": []}
    for _ in range(rounds):  # interleaved; "untouched" follows a run that wrote the workbook
        for mode in ("fresh", "untouched", "edited"):
            times[mode].append(run_child(f"rerun-{mode}", folder)["seconds"])
    fresh, untouched, edited = (statistics.median(times[m]) for m in ("fresh", "untouched", "edited"))
    print("whole close-out (carry-over, workbook, analysis file), MTurk wave:")
    print(f"  into an empty folder:                          {fresh:.2f} s")
    print(f"  again, the workbook untouched beside it:       {untouched:.2f} s ({untouched / fresh:.2f}x, goal <= 1.1x)")
    print(f"  again, the workbook with one edit saved in it: {edited:.2f} s ({edited / fresh:.2f}x, goal <= 1.1x)")


if __name__ == "__main__":
    main()
