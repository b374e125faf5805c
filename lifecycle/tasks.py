"""Periodic audit work (scheduled by CELERY_BEAT_SCHEDULE["audit-digest"] in settings)."""

from __future__ import annotations

from celery import shared_task

from lifecycle.services.audit_digests import write_digest


@shared_task
def write_audit_digest() -> str | None:
    """Sign the current chain head into the digest folder; idempotent when nothing is new."""
    path = write_digest()
    return str(path) if path else None


@shared_task(acks_late=True, reject_on_worker_lost=True)
def execute_request(request_pk: int) -> str | None:
    """Carry out an approved request; safe to redeliver (items are claimed one by one).

    Items of several account+Regions run as one task per account+Region, in parallel on as
    many workers as there are, each under its own pacing bucket.
    """
    from lifecycle.services.execution import execute_request as run
    from lifecycle.services.execution import item_groups

    groups = item_groups(request_pk)
    if len(groups) > 1:
        for account_id, region in groups:
            execute_request_part.delay(request_pk, account_id, region)
        return "fanned out"
    request = run(request_pk)
    return request.status if request else None


@shared_task(acks_late=True, reject_on_worker_lost=True)
def execute_request_part(request_pk: int, account_id: str, region: str) -> str | None:
    """The items of one account+Region of an approved request (see execute_request)."""
    from lifecycle.services.execution import execute_request as run

    request = run(request_pk, group=(account_id, region))
    return request.status if request else None


@shared_task
def reconcile_requests() -> dict[str, int]:
    """Settle items left executing, queue approved requests never started, expire old ones."""
    from lifecycle.models import AuditSource
    from lifecycle.services.execution import reconcile_items, resume_requests
    from lifecycle.services.requests import expire_requests

    return {
        "settled": reconcile_items(),
        "resumed": resume_requests(),
        "expired": expire_requests(source=AuditSource.BEAT),
    }
