"""The Charts sheet (SPEC §15), read back from the .xlsx package itself: the sheet's drawing
and its relationships, each chart part's series and the cell ranges they plot, checked
against the Summary and against counts made here from the workbook's other sheets and the
responses file."""

from __future__ import annotations

import csv
import posixpath
import shutil
import statistics
import subprocess
import sys
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import pytest
from builders import NOW, presp, prolific_settings, study, sub, survey
from openpyxl import load_workbook
from openpyxl.utils import range_boundaries
from paths import REPO, SAMPLE

from bridge.closeout import close_out
from bridge.config import load_config
from bridge.match import match_wave
from bridge.rules import build_plan
from bridge.workbook.write import write_workbook

C = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"
XDR = "{http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing}"
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"
PAY_FACTS = {"pay_top_up", "bonus_rounded", "bonus_capped"}


@dataclass
class Ser:
    title: str  # the formula of the series' name
    refs: dict[str, str] = field(default_factory=dict)  # "val", "cat", "xVal", "yVal" -> formula


@dataclass
class Chart:
    kind: str  # "scatterChart", "barChart"
    title: str
    series: list[Ser]
    anchor: tuple[int, int, int, int]  # from col, from row, to col, to row (0-based)
    x_range: tuple[float | None, float | None] = (None, None)


def _rels(z: zipfile.ZipFile, part: str) -> dict[str, str]:
    """Relationship id -> the part it names, for `part`."""
    folder, name = posixpath.split(part)
    rels = ElementTree.fromstring(z.read(f"{folder}/_rels/{name}.rels"))
    out = {}
    for rel in rels.iter(f"{PKG}Relationship"):
        target = rel.get("Target")
        out[rel.get("Id")] = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
            posixpath.join(folder, target))
    return out


def read_charts(path: Path) -> list[Chart]:
    with zipfile.ZipFile(path) as z:
        book = ElementTree.fromstring(z.read("xl/workbook.xml"))
        (sheet,) = [s for s in book.iter(f"{MAIN}sheet") if s.get("name") == "Charts"]
        sheet_part = _rels(z, "xl/workbook.xml")[sheet.get(f"{R}id")]
        drawing_id = ElementTree.fromstring(z.read(sheet_part)).find(f"{MAIN}drawing").get(f"{R}id")
        drawing_part = _rels(z, sheet_part)[drawing_id]
        chart_parts = _rels(z, drawing_part)
        charts = []
        for anchor in ElementTree.fromstring(z.read(drawing_part)).iter(f"{XDR}twoCellAnchor"):
            start, end = anchor.find(f"{XDR}from"), anchor.find(f"{XDR}to")
            box = tuple(int(m.find(f"{XDR}{k}").text) for m in (start, end) for k in ("col", "row"))
            chart_id = next(anchor.iter(f"{C}chart")).get(f"{R}id")
            root = ElementTree.fromstring(z.read(chart_parts[chart_id]))
            plot = root.find(f"{C}chart/{C}plotArea")
            (kind,) = [el for el in plot if el.tag in (f"{C}scatterChart", f"{C}barChart")]
            series = []
            for ser in kind.iter(f"{C}ser"):
                s = Ser(ser.find(f"{C}tx/{C}strRef/{C}f").text)
                for part in ("val", "cat", "xVal", "yVal"):
                    f = ser.find(f"{C}{part}//{C}f")
                    if f is not None:
                        s.refs[part] = f.text
                series.append(s)
            title = "".join(t.text or "" for t in root.find(f"{C}chart/{C}title").iter(
                "{http://schemas.openxmlformats.org/drawingml/2006/main}t"))
            x_range = (None, None)
            if kind.tag == f"{C}scatterChart":
                x_id = kind.find(f"{C}axId").get("val")  # a scatter chart names its X axis first
                (x_axis,) = [ax for ax in plot.iter(f"{C}valAx") if ax.find(f"{C}axId").get("val") == x_id]
                assert x_axis.find(f"{C}axPos").get("val") == "b"
                x_range = tuple(float(x_axis.find(f"{C}scaling/{C}{k}").get("val")) for k in ("min", "max"))
            charts.append(Chart(kind.tag.removeprefix(C), title, series, box, x_range))
    return charts


class Cells:
    """The Charts sheet's values by range formula ('Charts'!$A$1:$A$9)."""

    def __init__(self, path: Path):
        self.ws = load_workbook(path)["Charts"]

    def __call__(self, formula: str) -> list:
        sheet, _, ref = formula.rpartition("!")
        assert sheet == "'Charts'", formula  # every series plots cells of the same sheet
        lo_col, lo_row, hi_col, hi_row = range_boundaries(ref.replace("$", ""))
        return [self.ws.cell(r, c).value for r in range(lo_row, hi_row + 1) for c in range(lo_col, hi_col + 1)]


def sheet_rows(path: Path, name: str) -> list[dict]:
    rows = list(load_workbook(path)[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], r)) for r in rows[1:]]


@pytest.fixture(params=["prolific", "mturk"])
def sample(request, tmp_path):
    folder = SAMPLE / "prolific" if request.param == "prolific" else SAMPLE
    for f in folder.iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    config = load_config(tmp_path / ("study.toml" if request.param == "prolific" else "wave.toml"))
    run = close_out(config, NOW)
    return run.workbook, run.analysis, run.plan


def test_the_sample_charts_plot_what_the_workbook_says(sample):
    book, analysis, plan = sample
    charts, cells = read_charts(book), Cells(book)
    summary = {r["Item"]: r["Value"] for r in sheet_rows(book, "Summary")}
    decisions = sheet_rows(book, "Decisions")
    responses = {r["ResponseId"]: r for r in csv.DictReader(analysis.open(encoding="utf-8"))}
    assert [c.kind for c in charts] == ["scatterChart", "barChart", "barChart", "barChart"]
    times, reasons, checks, conditions = charts

    # Completion times: the finished, matched responses, counted here into the sheet's bins.
    plotted = sorted(int(r["Duration (in seconds)"]) for r in responses.values()
                     if r["Finished"] == "True" and r["SubmissionId"])
    step, *lines = times.series
    assert cells(step.title) == ["Responses"]
    xs, ys = cells(step.refs["xVal"]), cells(step.refs["yVal"])
    bars = [(xs[i], xs[i + 1], ys[i]) for i in range(1, len(xs) - 1, 2)]  # (from, to, count) along the step line
    assert sum(count for _, _, count in bars) == len(plotted) == int(times.title.split()[3])
    table = [r for r in Cells(book).ws.iter_rows(values_only=True) if isinstance(r[0], str) and " s" in r[0]
             and isinstance(r[3], int)]
    assert [(r[1], r[3]) for r in table] == [(lo, count) for lo, _, count in bars]  # the table the line draws
    for i, (lo, hi, count) in enumerate(bars):
        beyond = table[i][0].endswith("and over")
        assert count == sum(lo <= t and (beyond or t < hi) for t in plotted), (lo, hi)
    # One vertical line per threshold, at the Summary's value, inside the plotted range.
    at = {cells(s.title)[0].split(":")[0]: cells(s.refs["xVal"]) for s in lines}
    heights = {cells(s.title)[0]: cells(s.refs["yVal"]) for s in lines}
    cutoffs = {k.rsplit(", ", 1)[1]: v for k, v in summary.items() if str(k).startswith("Too fast below (seconds)")}
    assert cutoffs
    for rule, value in cutoffs.items():
        assert at[rule] == [value, value] and times.x_range[0] <= value <= times.x_range[1]
    assert at["median survey time (finished, matched)"] == [summary["Median survey seconds (finished, matched)"]] * 2
    panel_median = next(v for k, v in summary.items() if str(k).startswith("Median ") and "approved" in str(k)
                        and "survey" not in str(k))
    (paid,) = [v for k, v in at.items() if k.startswith(f"median {plan.terms.time_name}")]
    assert abs(paid[0] / 60 - panel_median) <= 0.05
    assert all(h[0] == 0 and h[1] >= max(ys) for h in heights.values())
    if plan.terms.panel == "Prolific":  # [fair_pay] hourly = 9.00 on a 1.25 reward: 500 s
        (fair,) = [v for k, v in at.items() if k.startswith("reward 1.25 GBP meets 9.00/hour")]
        assert fair == [500, 500]

    # Decisions by reason, counted here from the Decisions sheet.
    expected = Counter()
    for d in decisions:
        for reason in [r for r in (d["Reasons"] or "").split(";") if r and r not in PAY_FACTS] or ["(no rule fired)"]:
            expected[(reason, d["Decision"])] += 1
    categories = cells(reasons.series[0].refs["cat"])
    got = Counter()
    for s in reasons.series:
        kind = cells(s.title)[0]
        for reason, n in zip(categories, cells(s.refs["val"])):
            if n:
                got[(reason, kind)] += n
    assert got == expected and {cells(s.title)[0] for s in reasons.series} == {d["Decision"] for d in decisions}

    # Attention checks: Q7 among the plotted responses.
    (rate,) = checks.series
    answers = [r["Q7"] for r in responses.values() if r["Finished"] == "True" and r["SubmissionId"]]
    assert cells(checks.series[0].refs["cat"]) == ["Q7"]
    assert cells(rate.refs["val"]) == [round(100 * answers.count("Blue") / len(answers), 1)]

    # Submissions per condition, joined here through the responses file.
    by_condition = Counter()
    for d in decisions:
        matched = d["Match"] in ("exact", "normalized") and d["ResponseId"] in responses
        by_condition[(responses[d["ResponseId"]]["condition"] if matched else "(no response or blank)", d["Decision"])] += 1
    got = Counter()
    for s in conditions.series:
        for condition, n in zip(cells(conditions.series[0].refs["cat"]), cells(s.refs["val"])):
            if n:
                got[(condition, cells(s.title)[0])] += n
    assert got == by_condition and sum(got.values()) == len(decisions)

    # The charts fill one printed page: every anchor inside the print area.
    ws = load_workbook(book)["Charts"]
    _, _, last_col, last_row = range_boundaries(ws.print_area.split("!")[1].replace("$", ""))
    assert all(c.anchor[2] <= last_col and c.anchor[3] <= last_row for c in charts)
    first_col = range_boundaries(ws.print_area.split("!")[1].replace("$", ""))[0]
    assert all(c.anchor[0] >= first_col - 1 for c in charts)
    assert times.anchor[:2] == (first_col - 1, 1) and times.anchor[2] >= 9  # the histogram across the top


def test_without_checks_or_conditions_the_other_charts_remain(tmp_path):
    pids = [f"5f{i:022x}" for i in range(30)]
    s = prolific_settings(tmp_path, "[rules]\ntoo_fast_sd = 2\n")
    table = study(*(sub(p, taken=700) for p in pids))
    durations = [90] + [500 + 7 * i for i in range(28)] + [40_000]  # a speeder and a day-long tab
    result = match_wave(table, survey(*(presp(p, duration=d) for p, d in zip(pids, durations))),
                        s.panel.match_options(s))
    plan = build_plan(result, s, table, s.panel.terms(s, table), NOW, environment="production")
    book = write_workbook(plan, tmp_path / "w.xlsx")
    charts, cells = read_charts(book), Cells(book)
    assert [c.kind for c in charts] == ["scatterChart", "barChart"]
    step = charts[0].series[0]
    ys = cells(step.refs["yVal"])
    assert sum(ys[1:-1:2]) == 30
    labels = [r[0] for r in cells.ws.iter_rows(values_only=True) if isinstance(r[0], str)]
    assert any(label.endswith("s and over") for label in labels)  # the day-long tab, in a last bin
    assert charts[0].x_range[1] < 2_000
    (cut,) = [v for k, v in plan.figures if "too_fast_sd" in k]
    sd_line = [s for s in charts[0].series if str(cells(s.title)[0]).startswith("too_fast_sd")]
    if cut >= charts[0].x_range[0]:
        assert cells(sd_line[0].refs["xVal"]) == [cut, cut]
    else:  # below zero: it flags no one and is listed, not drawn
        assert not sd_line and any("too_fast_sd" in label and "outside the plot" in label for label in labels)


def test_a_20000_row_study_keeps_the_charts_a_few_dozen_cells(tmp_path):
    from bridge.panels.prolific.synthetic import clean_study, write_export, write_survey

    data = clean_study(20_000, seed=5)
    write_survey(data, tmp_path / "survey.csv")
    write_export(data, tmp_path / "prolific_export.csv")
    (tmp_path / "study.toml").write_text(
        f'[wave]\nname = "big"\nplatform = "prolific"\nreward = "1.25"\n[qualtrics]\ncsv = "survey.csv"\n'
        f'participant_column = "PROLIFIC_PID"\n[prolific]\ncsv = "prolific_export.csv"\nstudy_id = "{data.study_id}"\n'
        'completion_codes = { C1A2B3C4 = "completed" }\n[rules]\ntoo_fast_sd = 3\ntoo_fast_percentile = 5\n'
        '[fair_pay]\nhourly = "9.00"\n')
    run = close_out(load_config(tmp_path / "study.toml"), NOW)
    charts, cells = read_charts(run.workbook), Cells(run.workbook)
    ys = cells(charts[0].series[0].refs["yVal"])
    assert sum(ys[1:-1:2]) == 20_000
    summary = {r["Item"]: r["Value"] for r in sheet_rows(run.workbook, "Summary")}
    lines = {cells(s.title)[0].split(":")[0]: cells(s.refs["xVal"]) for s in charts[0].series[1:]}
    for rule in ("too_fast_sd", "too_fast_percentile"):
        assert lines[rule] == [summary[f"Too fast below (seconds), {rule}"]] * 2
    assert cells.ws.max_row < 150 and cells.ws.max_column <= 11
    median = statistics.median(d.time_taken_seconds for d in run.plan.decisions if d.decision.value == "approve")
    assert summary["Effective hourly wage and top-ups use"].startswith(f"Prolific's Time taken (median {median:,.0f} s")


def test_the_sparkline_reads_in_a_file(tmp_path):
    for f in (SAMPLE / "prolific").iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    out = tmp_path / "out.txt"
    with out.open("wb") as sink:
        subprocess.run([sys.executable, "-m", "bridge", "close-out", str(tmp_path / "study.toml"),
                        "--now", "2026-11-22T12:00:00Z"], stdout=sink, check=True, cwd=REPO,
                       env={"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"})
    text = out.read_text(encoding="utf-8")
    (line,) = [x for x in text.splitlines() if x.startswith("Survey times (")]
    (marks,) = [x for x in text.splitlines() if x.startswith("Too fast below:")]
    book = tmp_path / "out" / "sample-study-1-reconciliation.xlsx"
    charts, cells = read_charts(book), Cells(book)
    xs, ys = cells(charts[0].series[0].refs["xVal"]), cells(charts[0].series[0].refs["yVal"])
    counts = ys[1:-1:2]
    start = line.index(" s ") + 3  # after the first edge, "0 s "
    bars = line[start:start + len(counts)]
    assert [c == " " for c in bars] == [n == 0 for n in counts]  # a gap is a gap
    assert bars[counts.index(max(counts))] == "█"
    summary = {r["Item"]: r["Value"] for r in sheet_rows(book, "Summary")}
    width = xs[2] - xs[1]
    for rule in ("too_fast_sd", "too_fast_percentile"):
        cut = summary[f"Too fast below (seconds), {rule}"]
        assert marks[start + int((cut - xs[0]) // width)] == "▲" and rule in marks


def test_a_wave_with_nothing_to_plot_says_so(tmp_path):
    from builders import mturk, settings

    s = settings(tmp_path)
    table = mturk()
    plan = build_plan(match_wave(table, survey(), s.panel.match_options(s)), s, table, s.panel.terms(s, table), NOW,
                      environment="sandbox")
    book = write_workbook(plan, tmp_path / "empty.xlsx")
    with zipfile.ZipFile(book) as z:
        assert not [n for n in z.namelist() if n.startswith(("xl/charts/", "xl/drawings/"))]
    ws = load_workbook(book)["Charts"]
    assert "nothing to plot" in ws["B1"].value and ws.max_row == 1
