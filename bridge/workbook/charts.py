"""The Charts sheet (SPEC §15): the plan's pictures laid out as cells and native charts.

The numbers come from the pure core (`bridge.pictures`, the plan's `SurveyPictures`); here
they are only placed. The sheet reads as one landscape page: up to four charts in a 2 x 2
grid anchored to cells (so they keep their place whatever the fonts), above the cells they
plot, which a PI can re-plot or check:

- completion times of the finished, matched responses: the histogram drawn as a step
  line on an XY chart, so each threshold is a vertical line at its exact value in seconds
  (a speed rule's cut-off, the medians, the fair-pay duration), not at a bin;
- decisions by reason, stacked by decision;
- each attention check's pass rate;
- submissions per condition (`[report] condition_column`), stacked by decision.

Only the charts are printed (the print area), on one page; the cells below print on
screen. Text from outside (condition values, column names) goes through `safe`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

from openpyxl.chart import BarChart, Reference, ScatterChart, Series
from openpyxl.chart.data_source import StrRef
from openpyxl.chart.label import DataLabelList
from openpyxl.chart.legend import Legend
from openpyxl.chart.series import SeriesLabel
from openpyxl.chart.text import RichText, Text
from openpyxl.chart.title import Title
from openpyxl.drawing.text import CharacterProperties, Paragraph, ParagraphProperties, RegularTextRun
from openpyxl.drawing.spreadsheet_drawing import AnchorMarker, TwoCellAnchor

from bridge.models import Decision, Plan, TimeChart
from bridge.pictures import conditions_by_decision, decision_kinds, reasons_by_decision
from bridge.workbook.xlsx import Sheet

TITLE = "Charts"
WIDTHS = {0: 34, **{i: 10 for i in range(1, 11)}, 11: 2}  # A: the data's labels; B..K numbers; L a margin
# The chart grid, 0-based (first row, last row + 1) x (first column, last column + 1): the
# histogram across the top, the other charts side by side below it, over columns B..K (A, the
# data's wide label column, is not printed: the page prints near full size, its text at 8 pt
# or more, SPEC 4.3).
TOP, BOTTOM = (1, 16), (17, 38)
ACROSS = (1, 11)
SPLITS = {1: [(1, 6)], 2: [(1, 6), (6, 11)], 3: [(1, 5), (5, 8), (8, 11)]}
COLOURS = {Decision.APPROVE: "4E9A45", Decision.REJECT: "C0392B", Decision.REVIEW: "E6A100",
           Decision.NONE: "9E9E9E"}  # none: nothing to decide (ended, no response)
OTHER_COLOUR = "8C8C8C"
HISTOGRAM_COLOUR = "1F4E79"
# kind -> (colour, dash) of a line on the histogram; the cut-offs differ by dash.
LINES = {"median": ("000000", "dash"), "paid": ("7F7F7F", "lgDash"), "fair_pay": ("2E8B57", "dashDot")}
CUT_DASHES = ("solid", "sysDash", "sysDot", "lgDashDot")
CUT_COLOUR = "C00000"


def _ref(col: int, first: int, last: int | None = None) -> str:
    """A range of the Charts sheet from 0-based column and 1-based rows."""
    letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[col]
    return f"'{TITLE}'!${letter}${first}" + (f":${letter}${last}" if last is not None else "")


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 1)


class _Cells:
    """The sheet's rows, grown as tables are placed (1-based row numbers as Excel's)."""

    def __init__(self) -> None:
        self.rows: list[list] = []
        self.bold: list[int] = []  # 0-based

    def put(self, row: int, col: int, values: list, *, bold: bool = False) -> None:
        while len(self.rows) < row:
            self.rows.append([])
        line = self.rows[row - 1]
        if len(line) < col + len(values):
            line.extend([None] * (col + len(values) - len(line)))
        line[col:col + len(values)] = values
        if bold:
            self.bold.append(row - 1)

    @property
    def end(self) -> int:
        return len(self.rows)


def _anchor(rows: tuple[int, int], cols: tuple[int, int]) -> TwoCellAnchor:
    return TwoCellAnchor(editAs="oneCell", _from=AnchorMarker(col=cols[0], row=rows[0]),
                         to=AnchorMarker(col=cols[1], row=rows[1]))


def _title(text: str, size: int = 12) -> Title:
    bold = CharacterProperties(sz=size * 100, b=True)
    return Title(tx=Text(rich=RichText(p=[Paragraph(pPr=ParagraphProperties(defRPr=bold),
                                                    r=[RegularTextRun(rPr=bold, t=text)])])), overlay=False)


def _round_up(value: float) -> int:
    """A round axis maximum at or above `value`: a multiple of a 1-2-5 step, some five steps."""
    step = 1.0
    while value / step > 5:
        step *= 2.5 if str(step).startswith("2") else 2  # 1, 2, 5, 10, 20, 50, ...
    return int(math.ceil(value / step) * step)


def _axes(chart, x_title: str, y_title: str) -> None:
    chart.x_axis.title, chart.y_axis.title = x_title or None, y_title or None
    chart.x_axis.delete = chart.y_axis.delete = False  # openpyxl 3.1 would hide them in Excel


def _every_label(chart: BarChart, categories: int) -> None:
    """Every category named (LibreOffice skips labels it finds crowded), smaller when many."""
    chart.x_axis.tickLblSkip = 1
    size = 900 if categories > 8 else 1000
    chart.x_axis.txPr = RichText(p=[Paragraph(pPr=ParagraphProperties(defRPr=CharacterProperties(sz=size)),
                                              endParaRPr=CharacterProperties(sz=size))])


def _line(series: Series, colour: str, width_pt: float, dash: str = "solid") -> None:
    series.marker.symbol = "none"
    series.smooth = False
    series.graphicalProperties.line.solidFill = colour
    series.graphicalProperties.line.width = int(width_pt * 12700)  # EMU
    series.graphicalProperties.line.dashStyle = dash


def _histogram(cells: _Cells, top: int, times: TimeChart, responses: int) -> tuple[ScatterChart, int]:
    """Bins, lines and the step outline at `top`; the chart; the next free row."""
    n = sum(times.counts)
    cells.put(top, 0, [f"Survey completion times of the {n} finished, matched responses with a duration "
                       "(seconds); the chart's step line is in F:G"], bold=True)
    cells.put(top + 1, 0, ["Bin", "From (s)", "To (s)", "Responses"], bold=True)
    first = top + 2
    for i, count in enumerate(times.counts):
        lo, hi = times.edges[i], times.edges[i + 1]
        over = times.over and i == len(times.counts) - 1
        label = f"{lo:,.0f} s and over" if over else f"{lo:,.0f} to {hi:,.0f} s"
        cells.put(first + i, 0, [label, _number(lo), None if over else _number(hi), count])
    last = first + len(times.counts) - 1
    cells.put(last + 1, 0, ["All plotted", None, None, n])
    # The step line: up and along each bin, down at the end.
    cells.put(top + 1, 5, ["x (s)", "y (responses)"], bold=True)
    points = [(times.edges[0], 0)]
    for i, count in enumerate(times.counts):
        points += [(times.edges[i], count), (times.edges[i + 1], count)]
    points.append((times.edges[-1], 0))
    for j, (x, y) in enumerate(points):
        cells.put(first + j, 5, [_number(x), y])
    chart = ScatterChart()
    chart.style = 2
    step = Series(Reference(range_string=_ref(6, first, first + len(points) - 1)),
                  Reference(range_string=_ref(5, first, first + len(points) - 1)))
    step.tx = SeriesLabel(strRef=StrRef(_ref(3, top + 1)))
    _line(step, HISTOGRAM_COLOUR, 2.25)
    chart.series.append(step)
    # The lines: two rows each, (x, 0) and (x, height), named in column A.
    row = last + 3
    cells.put(row, 0, ["Lines on the histogram", "Seconds", "Height"], bold=True)
    row += 1
    height = _round_up(max(times.counts) * 1.05)
    lo, hi = times.edges[0], times.edges[-1]
    cut = 0
    for kind, label, at in times.markers:
        text = f"{label}: {at:,.0f} s" if kind != "fair_pay" else f"{label} {at:,.0f} s"
        inside = lo <= at <= hi
        cells.put(row, 0, [text if inside else f"{text} (outside the plot)", _number(at), 0])
        cells.put(row + 1, 0, [None, _number(at), height])
        if inside:
            line = Series(Reference(range_string=_ref(2, row, row + 1)), Reference(range_string=_ref(1, row, row + 1)))
            line.tx = SeriesLabel(strRef=StrRef(_ref(0, row)))
            if kind == "cutoff":
                _line(line, CUT_COLOUR, 2, CUT_DASHES[cut % len(CUT_DASHES)])
                cut += 1
            else:
                colour, dash = LINES.get(kind, (OTHER_COLOUR, "dash"))
                _line(line, colour, 1.75, dash)
            chart.series.append(line)
        row += 2
    width = times.edges[1] - times.edges[0]
    step_unit = next(width * k for k in (1, 2, 5, 10, 20, 50, 100) if width * k >= (hi - lo) / 10)
    chart.x_axis.scaling.min = lo // step_unit * step_unit
    chart.x_axis.scaling.max = -(-hi // step_unit) * step_unit
    chart.x_axis.majorUnit = step_unit
    chart.x_axis.number_format = "#,##0"
    chart.x_axis.majorGridlines = None
    chart.x_axis.axPos = "b"
    chart.y_axis.scaling.min, chart.y_axis.scaling.max = 0, height
    last_bin = f"; the last bin holds {times.edges[-2]:,.0f} s and over" if times.over else ""
    _axes(chart, f"Survey completion time (seconds{last_bin})", "Responses")
    chart.title = _title(f"Completion times of {n} finished, matched responses")
    chart.legend = Legend(legendPos="r")
    return chart, max(row, first + len(points)) + 1


def _stacked(cells: _Cells, top: int, title: str, head: str, rows: list[tuple[str, Counter]],
             text: Callable[[str], str | None]) -> tuple[BarChart, int]:
    """A table of rows by decision at `top`, and its horizontal stacked bar chart."""
    kinds = decision_kinds(rows)
    cells.put(top, 0, [title], bold=True)
    cells.put(top + 1, 0, [head, *[k.value for k in kinds], "Total"], bold=True)
    first = top + 2
    for i, (label, counts) in enumerate(rows):
        cells.put(first + i, 0, [text(label) or "(blank)", *[counts.get(k, 0) for k in kinds], sum(counts.values())])
    last = first + len(rows) - 1
    chart = BarChart()
    chart.type, chart.grouping, chart.overlap, chart.gapWidth = "bar", "stacked", 100, 40
    for j, kind in enumerate(kinds, 1):
        series = Series(Reference(range_string=_ref(j, first, last)), title=None)
        series.tx = SeriesLabel(strRef=StrRef(_ref(j, top + 1)))
        series.graphicalProperties.solidFill = COLOURS.get(kind, OTHER_COLOUR)
        series.graphicalProperties.line.solidFill = COLOURS.get(kind, OTHER_COLOUR)
        chart.series.append(series)
    chart.set_categories(Reference(range_string=_ref(0, first, last)))
    _every_label(chart, len(rows))
    chart.x_axis.scaling.orientation = "maxMin"  # the table's first row on top
    chart.y_axis.crosses, chart.y_axis.axPos = "max", "b"  # ... and the count axis below
    chart.y_axis.majorGridlines = None
    chart.legend = Legend(legendPos="b")
    return chart, last + 2


def _checks(cells: _Cells, top: int, checks: list[tuple[str, int, int]], responses: int,
            text: Callable[[str], str | None]) -> tuple[BarChart, int]:
    cells.put(top, 0, [f"Attention checks among the {responses} finished, matched responses"], bold=True)
    cells.put(top + 1, 0, ["Check (survey column)", "Passed", "Failed", "Pass rate (%)"], bold=True)
    first = top + 2
    for i, (column, passed, failed) in enumerate(checks):
        rate = round(100 * passed / (passed + failed), 1) if passed + failed else 0
        cells.put(first + i, 0, [text(column), passed, failed, rate])
    last = first + len(checks) - 1
    chart = BarChart()
    chart.type, chart.gapWidth = "bar", 150
    series = Series(Reference(range_string=_ref(3, first, last)))
    series.tx = SeriesLabel(strRef=StrRef(_ref(3, top + 1)))
    series.graphicalProperties.solidFill = COLOURS[Decision.APPROVE]
    chart.series.append(series)
    chart.set_categories(Reference(range_string=_ref(0, first, last)))
    chart.dataLabels = DataLabelList(showVal=True, showSerName=False, showCatName=False, showLegendKey=False,
                                     showPercent=False)
    chart.x_axis.scaling.orientation = "maxMin"
    chart.y_axis.crosses, chart.y_axis.axPos = "max", "b"
    chart.y_axis.scaling.min, chart.y_axis.scaling.max, chart.y_axis.majorUnit = 0, 100, 20
    chart.legend = None
    _axes(chart, "", "Pass rate (%)")
    chart.title = _title("Attention checks: pass rate")
    return chart, last + 2


def charts_sheet(plan: Plan, text: Callable[[str], str | None]) -> Sheet:
    """The Charts sheet of `plan`; `text` neutralises outside text (`write.safe`)."""
    pictures = plan.pictures
    cells = _Cells()
    charts = []
    with_conditions = bool(pictures.condition_column)
    others = sum([bool(plan.decisions), bool(pictures.checks), with_conditions and bool(plan.decisions)])
    bottom = BOTTOM[1] if pictures.times is not None and others else TOP[1]
    top = bottom + 3
    about = (f"(each chart's numbers are below, from row {top})" if pictures.times is not None or plan.decisions
             else "(nothing to plot: no submissions and no finished, matched responses)")
    cells.put(1, 1, [f"Wave {plan.wave}: the thresholds a person judges {about}"], bold=True)
    if pictures.times is not None:
        chart, top = _histogram(cells, top, pictures.times, pictures.responses)
        charts.append(chart)
    if plan.decisions:
        chart, top = _stacked(cells, top, f"Decisions by reason (a {plan.terms.submission_word} counts under each "
                              "of its reasons)", "Reason", reasons_by_decision(plan.decisions), text)
        _axes(chart, "", f"{plan.terms.submission_word.capitalize()}s")
        chart.title = _title("Decisions by reason")
        charts.append(chart)
    if pictures.checks:
        chart, top = _checks(cells, top, pictures.checks, pictures.responses, text)
        charts.append(chart)
    if with_conditions and plan.decisions:
        chart, top = _stacked(cells, top, f"{plan.terms.submission_word.capitalize()}s per condition "
                              f"(survey column {text(pictures.condition_column)})", "Condition",
                              conditions_by_decision(plan.decisions), text)
        _axes(chart, "", f"{plan.terms.submission_word.capitalize()}s")
        chart.title = _title(f"{plan.terms.submission_word.capitalize()}s per condition")
        charts.append(chart)
    placed = []
    rest = charts
    if pictures.times is not None:
        placed.append((charts[0], _anchor(TOP, ACROSS)))
        rest = charts[1:]
    for chart, cols in zip(rest, SPLITS.get(len(rest), [])):
        placed.append((chart, _anchor(BOTTOM if pictures.times is not None else TOP, cols)))
    return Sheet(cells.rows or [[None]], table=False, widths=WIDTHS, header_rows=cells.bold, charts=placed,
                 print_area=f"B1:L{bottom + 1 if charts else 1}")
