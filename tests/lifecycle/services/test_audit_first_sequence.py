"""Exports start at the lowest matching sequence, found by the filter's index, and exactly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from lifecycle.exports import EXPORT_FIELDS
from lifecycle.models import AuditEvent
from lifecycle.services.audit import first_sequence, rows_in_order
from tests.factories import create_audit_events

pytestmark = pytest.mark.django_db


def analyzed() -> None:
    """Statistics as autovacuum keeps them: the planner's estimates choose the index."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE lifecycle_auditevent")


def test_a_time_range_late_in_the_log_starts_at_its_first_event():
    create_audit_events(300)
    late = datetime(2031, 5, 1, tzinfo=UTC)
    first, last = create_audit_events(3, verb="image.gone", occurred_at=late)
    analyzed()
    events = AuditEvent.objects.filter(occurred_at__gte=late)
    assert first_sequence(events) == first
    assert [row[0] for row in rows_in_order(events, EXPORT_FIELDS)] == [first, first + 1, last]


def test_it_is_exact_when_times_do_not_follow_the_sequence():
    """An event recorded later with an earlier time (a clock set back) still starts the range."""
    future = datetime(2032, 1, 1, tzinfo=UTC)
    early, _ = create_audit_events(1, occurred_at=future)
    create_audit_events(200)
    later, _ = create_audit_events(1, occurred_at=datetime(2031, 12, 31, tzinfo=UTC))
    analyzed()
    events = AuditEvent.objects.filter(occurred_at__gte=datetime(2031, 12, 1, tzinfo=UTC))
    assert first_sequence(events) == early
    assert [row[0] for row in rows_in_order(events, EXPORT_FIELDS)][:1] == [early]
    assert later in [row[0] for row in rows_in_order(events, EXPORT_FIELDS)]


def test_an_empty_range_yields_nothing():
    create_audit_events(2)
    events = AuditEvent.objects.filter(occurred_at__gte=datetime(2999, 1, 1, tzinfo=UTC))
    assert first_sequence(events) is None
    assert list(rows_in_order(events, EXPORT_FIELDS)) == []


def test_the_lowest_sequence_of_a_time_range_is_read_from_the_time_index_alone():
    """The time index carries the sequence: a month in the middle of ten million events needs
    no table row per event to find where its export starts (bench/audit_export.py)."""
    create_audit_events(50)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(
            "EXPLAIN SELECT min(sequence + 0) FROM lifecycle_auditevent "
            "WHERE occurred_at >= %s AND occurred_at < %s",
            [datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Only Scan using audit_occurred_sequence" in plan, plan
