"""The series behind the audit report's charts, taken from its ``ReportFigures``.

Each chart reads the same figures as the summary and the exceptions (never the events again), so
a chart cannot disagree with the tables: the actions per week add up to the images changed by
amidash, the outside changes per account are the exceptions' table, the approval latency per week
is made of the same approvals as the summary's median and 95th percentile. The PDF draws them
(``lifecycle/pdf_charts.py``); the CSV and JSON lines formats list them as figures.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lifecycle.services.report_figures import ReportFigures, percentile, week_of

BARS, STACKED, LINES = "bars", "stacked", "lines"


@dataclass(frozen=True)
class Chart:
    """One chart: a value per x label for each named series, drawn as ``kind``."""

    key: str
    title: str
    kind: str
    labels: list[str]
    series: dict[str, list[float | None]] = field(default_factory=dict)
    unit: str = ""
    note: str = ""

    @property
    def empty(self) -> bool:
        return not any(value for values in self.series.values() for value in values if value)


def actions_per_week(figures: ReportFigures) -> Chart:
    """Items amidash executed, per week and action."""
    weeks = figures.weeks
    actions = sorted({action for counts in figures.weekly_actions.values() for action in counts})
    series: dict[str, list[float | None]] = {
        action: [figures.weekly_actions.get(week, {}).get(action, 0) for week in weeks]
        for action in actions
    }
    note = "Weeks start on Monday; each image changed counts once."
    if set(figures.weekly_actions) - set(weeks):
        note += f" Only the last {len(weeks)} weeks are drawn."
    return Chart(
        "actions_per_week",
        "Actions executed per week, by type",
        STACKED,
        weeks,
        series,
        unit="images",
        note=note,
    )


def outside_per_account(figures: ReportFigures) -> Chart:
    """Image changes amidash observed but did not make, per account and kind of change."""
    counts = figures.outside_by_account
    accounts = sorted({account for account, _ in counts})
    kinds = sorted({kind for _, kind in counts})
    series: dict[str, list[float | None]] = {
        kind: [counts.get((account, kind), 0) for account in accounts] for kind in kinds
    }
    return Chart(
        "outside_per_account",
        "Changes made outside amidash, per account",
        STACKED,
        accounts,
        series,
        unit="changes",
    )


def estate_over_time(figures: ReportFigures) -> Chart:
    """The images in scope and the unused ones at the end of each week."""
    points = figures.estate
    series: dict[str, list[float | None]] = {
        "images": [point.images for point in points],
        "unused": [point.unused for point in points],
    }
    note = "Unused: nothing uses it now and nothing was seen using it since."
    if points and points[-1].unused_share is not None:
        last = points[-1]
        note = f"At {last.at:%Y-%m-%d %H:%M}: {last.unused_share} % unused. {note}"
    return Chart(
        "estate",
        "Estate size and unused images, end of each week",
        LINES,
        [point.week for point in points],
        series,
        unit="images",
        note=note,
    )


def approval_latency_per_week(figures: ReportFigures) -> Chart:
    """Median and 95th percentile of request-to-approval time of the approvals of each week."""
    by_week: dict[str, list[float]] = defaultdict(list)
    for approved_at, seconds in figures.approvals:
        by_week[week_of(approved_at)].append(seconds)
    longest = max((seconds for _, seconds in figures.approvals), default=0.0)
    unit, size = ("hours", 3600.0) if longest >= 2 * 3600 else ("minutes", 60.0)

    def scaled(share: float) -> list[float | None]:
        values = [percentile(by_week.get(week, []), share) for week in figures.weeks]
        return [None if value is None else round(value / size, 2) for value in values]

    return Chart(
        "approval_latency",
        f"Request to approval, per week ({unit})",
        LINES,
        figures.weeks,
        {"median": scaled(0.5), "95th percentile": scaled(0.95)},
        unit=unit,
        note="Weeks without an approval have no point.",
    )


def report_charts(figures: ReportFigures) -> list[Chart]:
    """The report's charts, in the order the PDF draws them."""
    return [
        actions_per_week(figures),
        outside_per_account(figures),
        estate_over_time(figures),
        approval_latency_per_week(figures),
    ]


def chart_rows(figures: ReportFigures) -> Iterator[tuple[str, str, Any]]:
    """(section, figure, value) for every point of every chart, as the CSV and JSON lines
    formats list the figures: section ``chart: <key>``, figure ``<x label> <series>``."""
    for chart in report_charts(figures):
        for name, values in chart.series.items():
            for label, value in zip(chart.labels, values, strict=True):
                yield f"chart: {chart.key}", f"{label} {name}", value
