"""Each chart of the report checked against the audit events (and images) that make it, and
against the summary's own figures."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from inventory.models import Image
from lifecycle.models import AuditEvent, LifecycleRequest
from lifecycle.services.report_charts import (
    actions_per_week,
    approval_latency_per_week,
    chart_rows,
    estate_over_time,
    outside_per_account,
    report_charts,
)
from lifecycle.services.report_figures import (
    IMAGE_OUTCOMES,
    MAX_WEEKS,
    ReportScope,
    compute_figures,
    percentile,
    report_weeks,
    week_end,
    week_of,
)
from tests.factories import last_audit_sequence
from tests.lifecycle.report_history import SCOPE, WEEKS, at, write_history

pytestmark = pytest.mark.django_db


@pytest.fixture
def history():
    first = last_audit_sequence()
    images = write_history()
    events = AuditEvent.objects.filter(sequence__gt=first)
    return images, events, compute_figures(SCOPE, events)


def _action(event: AuditEvent) -> str:
    pk = int(event.correlation_id.removeprefix("request:"))
    return LifecycleRequest.objects.get(pk=pk).action


def test_the_weeks_run_from_the_period_start_to_now():
    assert report_weeks(SCOPE, at(31)) == WEEKS
    assert report_weeks(SCOPE, at(11)) == WEEKS[:2]  # a period not over yet stops at now
    assert week_of(at(9)) == "2025-03-03"  # a Sunday belongs to the week of its Monday
    assert week_end(SCOPE, "2025-03-17", at(31)) == SCOPE.end


def test_a_whole_log_period_starts_at_its_first_event_and_keeps_at_most_max_weeks():
    whole = ReportScope(datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))
    assert report_weeks(whole, at(20), first_event=at(4)) == WEEKS
    assert report_weeks(whole, at(20)) == ["2025-03-17"]  # no event: the week of now
    weeks = report_weeks(whole, at(20), first_event=datetime(2001, 1, 1, tzinfo=UTC))
    assert len(weeks) == MAX_WEEKS and weeks[-1] == "2025-03-17"
    early = ReportScope(datetime(1, 1, 1, tzinfo=UTC), datetime(1, 1, 15, tzinfo=UTC))
    assert report_weeks(early, at(20)) == ["0001-01-01", "0001-01-08"]
    assert report_weeks(ReportScope(at(30), at(31)), at(20)) == []  # not begun yet


def test_the_charts_of_an_export_of_the_whole_log_cover_its_events(history):
    _, events, _ = history
    whole = ReportScope(datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))
    figures = compute_figures(whole, events, now=at(31))
    assert figures.weeks == [*WEEKS, "2025-03-24", "2025-03-31"]
    assert actions_per_week(figures).series["deregister"] == [2, 0, 0, 0, 0]


def test_actions_per_week_are_the_executed_items_of_each_week(history):
    _, events, figures = history
    chart = actions_per_week(figures)
    executed = Counter(
        (week_of(e.occurred_at), _action(e)) for e in events.filter(verb="item.executed")
    )
    assert chart.labels == WEEKS
    assert chart.series == {
        action: [executed[(week, action)] for week in WEEKS]
        for action in ("deprecate", "deregister", "disable")
    }
    assert chart.series["deregister"] == [2, 0, 0]
    # the same numbers as the summary's tables
    for action, values in chart.series.items():
        assert sum(values) == figures.actions[(action, "executed")]
        assert sum(values) == figures.images[IMAGE_OUTCOMES[action]]


def test_outside_changes_per_account_are_the_exceptions_table(history):
    _, events, figures = history
    chart = outside_per_account(figures)
    assert chart.labels == ["111111111111", "222222222222"]
    assert chart.series == {"gone": [0, 1], "state_changed to disabled": [2, 0]}
    observed = events.filter(verb__in=["image.state_changed", "image.gone"])
    assert sum(map(sum, chart.series.values())) == observed.count() == len(figures.outside)
    for (account, kind), count in figures.outside_by_account.items():
        assert chart.series[kind][chart.labels.index(account)] == count


def test_the_estate_counts_present_and_unused_images_at_each_week_end(history):
    figures = history[2]
    chart = estate_over_time(figures)
    expected_images, expected_unused = [], []
    for week in WEEKS:
        moment = week_end(SCOPE, week, at(31))
        present = [
            i
            for i in Image.objects.all()
            if i.first_seen_at <= moment and (i.gone_at is None or i.gone_at > moment)
        ]
        unused = [
            i
            for i in present
            if not i.in_use and (i.last_seen_in_use_at is None or i.last_seen_in_use_at < moment)
        ]
        expected_images.append(len(present))
        expected_unused.append(len(unused))
    assert chart.series == {"images": expected_images, "unused": expected_unused}
    assert expected_images == [6, 6, 6] and expected_unused == [4, 5, 5]
    assert figures.estate[-1].unused_share == 83.3
    assert "83.3 % unused" in chart.note


def test_approval_latency_per_week_is_made_of_the_summary_approvals(history):
    _, events, figures = history
    chart = approval_latency_per_week(figures)
    by_week: dict[str, list[float]] = {}
    for approved in events.filter(verb="request.approved"):
        created = events.get(verb="request.created", correlation_id=approved.correlation_id)
        seconds = (approved.occurred_at - created.occurred_at).total_seconds()
        by_week.setdefault(week_of(approved.occurred_at), []).append(seconds)
    assert chart.unit == "hours"  # the longest took a day
    assert chart.series["median"] == [2.0, 0.5, None]
    for share, name in ((0.5, "median"), (0.95, "95th percentile")):
        assert chart.series[name] == [
            round(percentile(by_week[w], share) / 3600, 2) if w in by_week else None for w in WEEKS
        ]
    assert sorted(s for values in by_week.values() for s in values) == sorted(
        figures.to_approval.seconds
    )


def test_every_chart_point_is_a_figure_row(history):
    figures = history[2]
    rows = list(chart_rows(figures))
    assert ("chart: actions_per_week", "2025-03-03 deregister", 2) in rows
    assert ("chart: outside_per_account", "222222222222 gone", 1) in rows
    assert ("chart: estate", "2025-03-17 unused", 5) in rows
    assert ("chart: approval_latency", "2025-03-17 median", None) in rows
    points = sum(len(c.labels) * len(c.series) for c in report_charts(figures))
    assert len(rows) == points


def test_an_empty_period_has_empty_charts():
    later = ReportScope(at(24), at(25))
    figures = compute_figures(later, AuditEvent.objects.none(), now=at(25))
    charts = report_charts(figures)
    assert [c.key for c in charts] == [
        "actions_per_week",
        "outside_per_account",
        "estate",
        "approval_latency",
    ]
    assert all(c.empty for c in charts if c.key != "estate")
