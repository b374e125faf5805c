"""Vector charts drawn into an fpdf2 document: bars, stacked bars and lines.

Only fpdf2's drawing primitives are used (lines, rectangles, text), so a chart stays sharp at
any zoom, its words are text a reader can search and copy, and the PDF holds no raster image.
Every bar carries its number, and every series is named in a legend, so nothing is told by
colour alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from fpdf import FPDF

from lifecycle.services.report_charts import BARS, LINES, STACKED, Chart

#: Okabe-Ito colours (distinguishable with the common colour-vision deficiencies), then grey.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 114, 178),
    (230, 159, 0),
    (0, 158, 115),
    (204, 121, 167),
    (86, 180, 233),
    (213, 94, 0),
    (240, 228, 66),
    (0, 0, 0),
    (122, 132, 148),
)
GRID = (218, 222, 228)
AXIS = (90, 96, 108)
_TITLE_HEIGHT = 5.0
_LEGEND_HEIGHT = 4.0
_Y_GUTTER = 12.0
_X_GUTTER = 6.0
_NOTE_HEIGHT = 4.0


def _latin(text: object) -> str:
    return str(text).encode("latin-1", "replace").decode("latin-1")


def number(value: float) -> str:
    """Whole numbers with thousands separators, others with up to two decimals."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def nice_scale(largest: float, *, whole: bool = True, intervals: int = 4) -> tuple[float, float]:
    """(top, step) of a y axis from 0 that holds ``largest`` in about ``intervals`` steps of 1,
    2 or 5 x 10^n; never a step below 1 when the values are ``whole`` numbers."""
    rough = max(largest, 0) / intervals or 1.0
    magnitude = 10 ** math.floor(math.log10(rough))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough)
    if whole:
        step = max(step, 1.0)
    return max(step * math.ceil(largest / step - 1e-9), step), step


def _color(index: int) -> tuple[int, int, int]:
    return PALETTE[index % len(PALETTE)]


def _shown_labels(pdf: FPDF, labels: Sequence[str], slot: float) -> int:
    """Every n-th x label is written, so that written labels never overlap."""
    widest = max((pdf.get_string_width(_latin(label)) for label in labels), default=0) + 1.5
    return max(1, math.ceil(widest / slot))


def _legend(pdf: FPDF, chart: Chart, x: float, y: float, width: float) -> None:
    pdf.set_font("Helvetica", size=6.5)
    cursor = x
    for index, name in enumerate(chart.series):
        text = _latin(name)
        needed = 4 + pdf.get_string_width(text) + 4
        if cursor + needed > x + width:
            break  # the CSV lists every series; a legend never runs off the chart
        pdf.set_fill_color(*_color(index))
        pdf.rect(cursor, y - 2.2, 2.6, 2.6, style="F")
        pdf.set_text_color(0, 0, 0)
        pdf.text(cursor + 3.5, y, text)
        cursor += needed


def _axes(pdf: FPDF, left: float, top: float, width: float, height: float, scale: tuple) -> None:
    """Horizontal grid lines with their values, and the baseline."""
    ymax, step = scale
    pdf.set_font("Helvetica", size=6)
    pdf.set_line_width(0.15)
    ticks = round(ymax / step)
    for tick in range(ticks + 1):
        value = tick * step
        y = top + height - height * value / ymax
        pdf.set_draw_color(*(AXIS if tick == 0 else GRID))
        pdf.line(left, y, left + width, y)
        label = number(value)
        pdf.set_text_color(*AXIS)
        pdf.text(left - 1.5 - pdf.get_string_width(label), y + 1.0, label)
    pdf.set_text_color(0, 0, 0)


def _x_labels(pdf: FPDF, labels: Sequence[str], left: float, slot: float, y: float) -> None:
    pdf.set_font("Helvetica", size=6)
    pdf.set_text_color(*AXIS)
    every = _shown_labels(pdf, labels, slot)
    for index, label in enumerate(labels):
        if index % every == 0:
            text = _latin(label)
            pdf.text(left + slot * (index + 0.5) - pdf.get_string_width(text) / 2, y, text)
    pdf.set_text_color(0, 0, 0)


def _bars(pdf: FPDF, chart: Chart, box: tuple[float, float, float, float], ymax: float) -> None:
    """Side-by-side bars (BARS) or one stacked bar per label (STACKED), each with its total."""
    left, top, width, height = box
    slot = width / len(chart.labels)
    groups = 1 if chart.kind == STACKED else max(len(chart.series), 1)
    bar = min(slot * 0.7 / groups, 12.0)
    pdf.set_font("Helvetica", size=5.5)
    for position in range(len(chart.labels)):
        centre = left + slot * (position + 0.5)
        base, total = top + height, 0.0
        for index, values in enumerate(chart.series.values()):
            value = values[position] or 0
            tall = height * value / ymax
            if chart.kind == STACKED:
                x, y, base = centre - bar / 2, base - tall, base - tall
            else:
                x, y = centre - bar * groups / 2 + bar * index, top + height - tall
                if value:
                    label = number(value)
                    pdf.text(x + (bar - pdf.get_string_width(label)) / 2, y - 0.8, label)
            total += value
            if tall > 0:
                pdf.set_fill_color(*_color(index))
                pdf.rect(x, y, bar, tall, style="F")
        if chart.kind == STACKED and total:
            label = number(total)
            pdf.text(centre - pdf.get_string_width(label) / 2, base - 0.8, label)


def _lines(pdf: FPDF, chart: Chart, box: tuple[float, float, float, float], ymax: float) -> None:
    """One line per series through its points; a missing value breaks the line."""
    left, top, width, height = box
    count = len(chart.labels)
    slot = width / count
    pdf.set_line_width(0.5)
    pdf.set_font("Helvetica", size=5.5)
    for index, values in enumerate(chart.series.values()):
        color = _color(index)
        pdf.set_draw_color(*color)
        pdf.set_fill_color(*color)
        run: list[tuple[float, float]] = []
        for position, value in enumerate([*values, None]):
            if value is None:
                if len(run) > 1:
                    pdf.polyline(run)
                run = []
                continue
            point = (left + slot * (position + 0.5), top + height - height * value / ymax)
            run.append(point)
            pdf.rect(point[0] - 0.8, point[1] - 0.8, 1.6, 1.6, style="F")
            if count <= 12:
                label = number(value)
                pdf.text(point[0] + 1.2, point[1] - 1.0, label)
    pdf.set_line_width(0.2)
    pdf.set_draw_color(0, 0, 0)


def draw_chart(pdf: FPDF, chart: Chart, x: float, y: float, width: float, height: float) -> None:
    """``chart`` in the box at (x, y) of ``width`` x ``height`` mm: title, legend, axes, data
    and the chart's note underneath. Colours, line width and font are the document's again
    afterwards (the tables that follow must not inherit a bar's fill)."""
    with pdf.local_context():
        _draw(pdf, chart, x, y, width, height)


def _draw(pdf: FPDF, chart: Chart, x: float, y: float, width: float, height: float) -> None:
    pdf.set_font("Helvetica", "B", 9)
    pdf.set_text_color(0, 0, 0)
    pdf.text(x, y + 3.5, _latin(chart.title))
    _legend(pdf, chart, x, y + _TITLE_HEIGHT + 3, width)
    top = y + _TITLE_HEIGHT + _LEGEND_HEIGHT + 3
    left = x + _Y_GUTTER
    plot_width = width - _Y_GUTTER - 2
    plot_height = height - (top - y) - _X_GUTTER - _NOTE_HEIGHT
    if chart.note:
        pdf.set_font("Helvetica", "I", 6)
        pdf.text(x, y + height - 1, _latin(chart.note))
    if not chart.labels or chart.empty:
        pdf.set_font("Helvetica", size=8)
        pdf.text(left, top + plot_height / 2, "Nothing in the period.")
        return
    if chart.kind == STACKED:
        largest = max(
            sum(values[i] or 0 for values in chart.series.values())
            for i in range(len(chart.labels))
        )
    else:
        largest = max(value or 0 for values in chart.series.values() for value in values)
    whole = all(float(v or 0).is_integer() for values in chart.series.values() for v in values)
    scale = nice_scale(largest, whole=whole)
    _axes(pdf, left, top, plot_width, plot_height, scale)
    box = (left, top, plot_width, plot_height)
    if chart.kind in (BARS, STACKED):
        _bars(pdf, chart, box, scale[0])
    elif chart.kind == LINES:
        _lines(pdf, chart, box, scale[0])
    _x_labels(pdf, chart.labels, left, plot_width / len(chart.labels), top + plot_height + 3.5)
