"""Lifecycle tasks: execution and its reconciler (queue ``lifecycle``), audit digests, the
monthly report, CloudTrail look-ups and notifications (queue ``background``); routes in
amidash/queues.py.

Execution tasks have a time limit of their own (``LIFECYCLE_TASK_TIME_LIMIT``): a part killed at
its hard limit leaves its item's lease to expire, and the reconciler settles it.
"""

from __future__ import annotations

import smtplib

from celery import shared_task
from django.conf import settings

from lifecycle.services.audit_digests import write_digest

#: Notices are small: a minute covers the mail and webhook timeouts with room to spare.
NOTICE_TIME_LIMITS = {"soft_time_limit": 60, "time_limit": 90}
EXECUTION_TIME_LIMITS = {
    "soft_time_limit": settings.LIFECYCLE_TASK_TIME_LIMIT,
    "time_limit": settings.LIFECYCLE_TASK_TIME_LIMIT + 60,
}


@shared_task(
    autoretry_for=(OSError, smtplib.SMTPException),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=5,
    **NOTICE_TIME_LIMITS,
)
def send_notification(kind: str, request_pk: int, channel: str) -> bool:
    """One notice on one channel (email or webhook), retried with backoff when it fails."""
    from lifecycle.services.notifications import deliver

    return deliver(kind, request_pk, channel)


@shared_task
def write_audit_digest() -> str | None:
    """Sign the current chain head into the digest folder; idempotent when nothing is new."""
    path = write_digest()
    return str(path) if path else None


@shared_task(
    soft_time_limit=settings.AUDIT_FULL_VERIFICATION_TIME_LIMIT,
    time_limit=settings.AUDIT_FULL_VERIFICATION_TIME_LIMIT + 60,
)
def verify_audit_log_in_full(verification_pk: int) -> str:
    """Re-hash every event of the audit log for the Audit page's full verification (about ten
    minutes for ten million events), reporting progress as it goes."""
    from celery.exceptions import SoftTimeLimitExceeded

    from lifecycle.services.audit_verification import (
        interrupt_verification,
        run_full_verification,
    )

    try:
        return run_full_verification(verification_pk)
    except SoftTimeLimitExceeded:
        limit = settings.AUDIT_FULL_VERIFICATION_TIME_LIMIT
        reason = f"it reached the time limit ({limit} s, AMIDASH_AUDIT_VERIFY_TIME_LIMIT)"
        interrupt_verification(verification_pk, reason)
        return "interrupted"


@shared_task(
    autoretry_for=(OSError, smtplib.SMTPException),
    retry_backoff=60,
    retry_backoff_max=3600,
    max_retries=8,
    soft_time_limit=1800,  # a month's PDF lists up to AUDIT_PDF_MAX_EVENTS events
    time_limit=1860,
)
def deliver_monthly_report(now: str | None = None) -> str | None:
    """Last month's audit report (before ``now``, an ISO time; default: now): kept with its
    signed manifest, emailed to ``REPORT_RECIPIENTS`` and recorded, once per month. A failed mail
    is retried with backoff."""
    from datetime import datetime

    from lifecycle.services.report_delivery import deliver_monthly_report as deliver

    delivery = deliver(datetime.fromisoformat(now) if now else None)
    return str(delivery.pdf) if delivery else None


@shared_task(soft_time_limit=900, time_limit=960)
def look_up_cloudtrail() -> dict:
    """Who made the image changes the sync observed: one paced CloudTrail pass (see
    lifecycle.services.cloudtrail); what was throttled is looked up by a later pass."""
    from lifecycle.services.cloudtrail import look_up_observations

    return look_up_observations().as_dict()


@shared_task(acks_late=True, reject_on_worker_lost=True, **EXECUTION_TIME_LIMITS)
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


@shared_task(acks_late=True, reject_on_worker_lost=True, **EXECUTION_TIME_LIMITS)
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
