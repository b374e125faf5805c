"""write_audit_digest, and the periodic task that runs it."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from lifecycle.tasks import write_audit_digest
from tests.factories import create_audit_events

pytestmark = pytest.mark.django_db


def test_write_audit_digest_writes_only_when_something_happened(settings, capsys):
    create_audit_events(2)
    call_command("write_audit_digest")
    assert "Wrote" in capsys.readouterr().out
    call_command("write_audit_digest")
    assert "nothing written" in capsys.readouterr().out
    assert len(list(settings.AUDIT_DIGEST_DIR.glob("digest-*.json"))) == 1


def test_the_periodic_task_writes_a_digest_and_is_scheduled(settings):
    create_audit_events(2)
    path = write_audit_digest.apply().get()
    assert path and path.startswith(str(settings.AUDIT_DIGEST_DIR))
    assert write_audit_digest.apply().get() is None
    entry = settings.CELERY_BEAT_SCHEDULE["audit-digest"]
    assert entry["task"] == write_audit_digest.name
