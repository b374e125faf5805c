"""Server-rendered SVG charts for the dashboards.

Every chart is plain SVG markup built on the server: readable without JavaScript, with a
``<title>`` and ``aria-label`` for screen readers, and every bar or point labelled with its number
so that nothing is conveyed by colour alone. Text is escaped; callers pass plain data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Tones match the badge classes of amidash.css, so a chart and its legend agree with the tables.
TONES: dict[str, str] = {
    "ok": "#1e7a3c",
    "warn": "#a15c00",
    "bad": "#b3261e",
    "info": "#2d6cb0",
    "neutral": "#7a8494",
    "accent": "#1f4e79",
}


@dataclass(frozen=True)
class Bar:
    """One labelled value of a bar chart; ``tone`` is a key of TONES."""

    label: str
    value: float
    tone: str = "info"
    href: str = ""


@dataclass(frozen=True)
class Series:
    """One line of a trend chart: a name, a tone and one value per x label."""

    name: str
    values: Sequence[float]
    tone: str = "info"


def _number(value: float) -> str:
    """Whole numbers with thousands separators; others with one decimal."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def _svg(width: int, height: int, title: str, body: list[str]) -> SafeString:
    title_text = escape(title)
    # Every piece of caller text is escaped before it reaches the markup.
    return mark_safe(
        f'<svg class="chart" role="img" aria-label="{title_text}" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{title_text}</title>{''.join(body)}</svg>"
    )


def _empty(title: str, width: int = 420, height: int = 40) -> SafeString:
    return _svg(
        width,
        height,
        title,
        [f'<text x="0" y="24" class="muted">{escape("No data yet")}</text>'],
    )


def horizontal_bars(
    bars: Sequence[Bar], title: str, *, width: int = 420, unit: str = ""
) -> SafeString:
    """One row per bar: label on the left, bar, then its value (and unit) on the right."""
    if not bars:
        return _empty(title, width)
    row, label_width, value_width = 22, 130, 70
    bar_space = width - label_width - value_width
    peak = max((bar.value for bar in bars), default=0) or 1
    body: list[str] = []
    for index, bar in enumerate(bars):
        y = index * row
        length = max(bar.value / peak * bar_space, 1 if bar.value else 0)
        label = escape(bar.label)
        value = escape(_number(bar.value) + (f" {unit}" if unit else ""))
        rect = (
            f'<rect x="{label_width}" y="{y + 4}" width="{length:.1f}" height="{row - 8}" '
            f'rx="2" fill="{TONES.get(bar.tone, TONES["info"])}"><title>{label}: {value}</title>'
            "</rect>"
        )
        text = f'<text x="{label_width - 6}" y="{y + row / 2 + 4}" text-anchor="end">{label}</text>'
        if bar.href:
            text = f'<a href="{escape(bar.href)}">{text}</a>'
        body.append(
            f"<g>{text}{rect}"
            f'<text x="{label_width + length + 6:.1f}" y="{y + row / 2 + 4}">{value}</text></g>'
        )
    return _svg(width, row * len(bars) + 4, title, body)


def column_chart(
    bars: Sequence[Bar], title: str, *, width: int = 420, height: int = 180
) -> SafeString:
    """Vertical columns (a histogram), each with its count above and its label below (a link
    when the bar has one)."""
    if not bars:
        return _empty(title, width)
    top, bottom = 18, 34
    plot = height - top - bottom
    slot = width / len(bars)
    peak = max((bar.value for bar in bars), default=0) or 1
    body = [
        f'<line x1="0" y1="{top + plot}" x2="{width}" y2="{top + plot}" stroke="#d9dee6" />',
    ]
    for index, bar in enumerate(bars):
        tall = bar.value / peak * plot
        x = index * slot + slot * 0.15
        label = escape(bar.label)
        value = escape(_number(bar.value))
        fill = TONES.get(bar.tone, TONES["info"])
        center = x + slot * 0.35
        text = (
            f'<text x="{center:.1f}" y="{height - bottom + 16}" text-anchor="middle">{label}</text>'
        )
        if bar.href:
            text = f'<a href="{escape(bar.href)}">{text}</a>'
        body.append(
            f'<g><rect x="{x:.1f}" y="{top + plot - tall:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{tall:.1f}" rx="2" fill="{fill}"><title>{label}: {value}</title></rect>'
            f'<text x="{center:.1f}" y="{top + plot - tall - 4:.1f}" text-anchor="middle">'
            f"{value}</text>{text}</g>"
        )
    return _svg(width, height, title, body)


def trend_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    title: str,
    *,
    width: int = 640,
    height: int = 200,
) -> SafeString:
    """Lines over time (oldest first) with a labelled last value per line and a legend.

    Each point carries a tooltip; the last value of each line is printed at its end, and the
    legend names the lines in text, so the chart reads without distinguishing colours.
    """
    if not labels or not series:
        return _empty(title, width)
    left, right, top, bottom = 10, 130, 12, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((max(s.values, default=0) for s in series), default=0) or 1
    step = plot_w / max(len(labels) - 1, 1)

    def point(index: int, value: float) -> tuple[float, float]:
        return left + index * step, top + plot_h - value / peak * plot_h

    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#d9dee6" />',
        f'<text x="{left}" y="{height - bottom + 16}">{escape(labels[0])}</text>',
        f'<text x="{left + plot_w}" y="{height - bottom + 16}" text-anchor="end">'
        f"{escape(labels[-1])}</text>",
    ]
    for position, line in enumerate(series):
        colour = TONES.get(line.tone, TONES["info"])
        points = [point(i, v) for i, v in enumerate(line.values)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        name = escape(line.name)
        dash = ' stroke-dasharray="5 3"' if position % 2 else ""
        body.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{path}" />'
        )
        for (x, y), label, value in zip(points, labels, line.values, strict=False):
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                f"<title>{name}, {escape(label)}: {escape(_number(value))}</title></circle>"
            )
        if points:
            x, y = points[-1]
            body.append(
                f'<text x="{x + 6:.1f}" y="{y + 4:.1f}">{name}: '
                f"{escape(_number(line.values[-1]))}</text>"
            )
        legend_y = height - 8
        legend_x = left + position * 150
        body.append(
            f'<line x1="{legend_x}" y1="{legend_y - 4}" x2="{legend_x + 18}" y2="{legend_y - 4}" '
            f'stroke="{colour}" stroke-width="2"{dash} />'
            f'<text x="{legend_x + 22}" y="{legend_y}">{name}</text>'
        )
    return _svg(width, height, title, body)


def proportion_bar(parts: Sequence[Bar], title: str, *, width: int = 420) -> SafeString:
    """A single stacked bar (for example in use vs unused) with each part's count and share."""
    total = sum(part.value for part in parts)
    if not total:
        return _empty(title, width)
    body: list[str] = []
    x = 0.0
    for part in parts:
        share = part.value / total
        length = share * width
        label = escape(f"{part.label}: {_number(part.value)} ({share:.0%})")
        fill = TONES.get(part.tone, TONES["info"])
        body.append(
            f'<rect x="{x:.1f}" y="0" width="{length:.1f}" height="18" fill="{fill}">'
            f"<title>{label}</title></rect>"
        )
        x += length
    legend = []
    x = 0.0
    for part in parts:
        text = escape(f"{part.label} {_number(part.value)} ({part.value / total:.0%})")
        fill = TONES.get(part.tone, TONES["info"])
        legend.append(
            f'<rect x="{x:.1f}" y="26" width="10" height="10" fill="{fill}" />'
            f'<text x="{x + 14:.1f}" y="35">{text}</text>'
        )
        x += width / max(len(parts), 1)
    return _svg(width, 44, title, body + legend)
