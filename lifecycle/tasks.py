"""Periodic audit work (scheduled by CELERY_BEAT_SCHEDULE["audit-digest"] in settings)."""

from __future__ import annotations

from celery import shared_task

from lifecycle.services.audit_digests import write_digest


@shared_task
def write_audit_digest() -> str | None:
    """Sign the current chain head into the digest folder; idempotent when nothing is new."""
    path = write_digest()
    return str(path) if path else None
