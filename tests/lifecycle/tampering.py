"""What somebody with direct database access can do to the audit log, for the tests to catch."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection, transaction

from lifecycle.models import AuditEvent

#: Append " (forged)" to an event's message, leaving its hash as it was.
FORGE_MESSAGE = (
    "UPDATE lifecycle_auditevent SET message = message || ' (forged)' WHERE sequence = %s"
)


@contextmanager
def triggers_disabled() -> Iterator[None]:
    """What a database superuser can do: bypass the append-only triggers (this transaction)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = origin")


def raw(sql: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def rewrite_from(position: int, last: int) -> None:
    """Edit an event and re-hash every event after it: only the signed digest can tell."""
    raw(FORGE_MESSAGE, [position])
    previous_hash = AuditEvent.objects.get(sequence=position).previous_hash
    for event in AuditEvent.objects.filter(sequence__gte=position, sequence__lte=last).order_by(
        "sequence"
    ):
        event.previous_hash = previous_hash
        previous_hash = event.computed_hash()
        raw(
            "UPDATE lifecycle_auditevent SET previous_hash = %s, hash = %s WHERE sequence = %s",
            [event.previous_hash, previous_hash, event.sequence],
        )


class _Rollback(Exception):
    pass


def tampered(action: Callable[[], None], check: Callable[[], Any]) -> Any:
    """Apply ``action`` with the triggers off, return what ``check`` says, undo everything."""
    outcome: dict[str, Any] = {}
    try:
        with transaction.atomic():
            with triggers_disabled():
                action()
            outcome["result"] = check()
            raise _Rollback
    except _Rollback:
        pass
    return outcome["result"]
