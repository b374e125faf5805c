"""The database refuses UPDATE, DELETE and TRUNCATE on audit events, by every route."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from lifecycle.models import AuditEvent
from lifecycle.services.audit import record_event


@pytest.fixture
def event(db) -> AuditEvent:
    return record_event("request.created", actor=None, source="cli", message="original")


def refused(action) -> str:
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        action()
    return str(caught.value)


def test_it_refuses_an_orm_save(event):
    event.message = "forged"
    message = refused(lambda: event.save(force_update=True))
    assert "append-only" in message
    assert AuditEvent.objects.get(pk=event.pk).message == "original"


def test_it_refuses_a_queryset_update(event):
    refused(lambda: AuditEvent.objects.filter(pk=event.pk).update(message="forged"))
    assert AuditEvent.objects.get(pk=event.pk).message == "original"


def test_it_refuses_bulk_update(event):
    event.message = "forged"
    refused(lambda: AuditEvent.objects.bulk_update([event], ["message"]))
    assert AuditEvent.objects.get(pk=event.pk).message == "original"


def test_it_refuses_an_instance_delete(event):
    refused(event.delete)
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_it_refuses_a_queryset_delete(event):
    refused(lambda: AuditEvent.objects.all().delete())
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE lifecycle_auditevent SET message = 'forged'",
        "DELETE FROM lifecycle_auditevent",
        "TRUNCATE lifecycle_auditevent",
    ],
)
def test_it_refuses_raw_sql(event, sql):
    def run() -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql)

    assert "append-only" in refused(run)
    assert AuditEvent.objects.get(pk=event.pk).message == "original"


def test_it_offers_no_add_change_or_delete_permission(db):
    from django.contrib.auth.models import Permission

    codenames = set(
        Permission.objects.filter(
            content_type__app_label="lifecycle", content_type__model="auditevent"
        ).values_list("codename", flat=True)
    )
    assert codenames == {"view_auditevent", "export_auditevent"}
