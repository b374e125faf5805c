"""Audit tests: a private digest folder and signing key per test; helpers to write events."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection

from lifecycle.models import AuditEvent
from lifecycle.services.audit import EventDraft, Target, record_events
from lifecycle.services.audit_signing import create_signing_key


@pytest.fixture(autouse=True)
def audit_files(settings, tmp_path):
    """Digests and the signing key go to a temporary folder, never the real data folder."""
    settings.AUDIT_DIGEST_DIR = tmp_path / "digests"
    settings.AUDIT_SIGNING_KEY_FILE = tmp_path / "keys" / "audit-signing-key.pem"
    create_signing_key()
    return settings


def last_sequence() -> int:
    return AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first() or 0


def write_events(
    count: int, *, verb: str = "image.appeared", account: str = "123456789012", **extra
) -> tuple[int, int]:
    """Append ``count`` sync-observed image events; returns their first and last sequence."""
    first = last_sequence() + 1
    drafts = (
        EventDraft(
            verb=verb,
            actor=None,
            source="sync",
            target=Target("image", f"ami-{n:017x}", account, "eu-west-1", f"img-{n}"),
            after={"state": "available", "n": n},
            message=f"event {n}",
            **extra,
        )
        for n in range(count)
    )
    record_events(drafts)
    return first, first + count - 1


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
