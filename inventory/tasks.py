"""Celery tasks of the inventory: thin wrappers that take primary keys and call services.

The fan-out: ``prepare_sync_run`` discovers the Regions and gives each a due time (a scheduled
run spreads them over the interval); ``queue_due_regions`` (beat, and after the run is prepared
and each Region finishes) queues one ``sync_account_region`` per due account+Region within the
budget per minute (inventory/services/schedule.py); each of those, once done, tries to close the
run (``finish_run`` closes it only when every result is final, exactly once). At most
SYNC_REGIONS_PER_ACCOUNT Regions of one account run at a time (slots are PostgreSQL advisory
locks; a task finding none free retries).
Every task has soft and hard time limits; ``reap_sync_runs`` (beat, every minute) fails the
Regions whose worker was lost and queues again those whose message was lost, so no run stays
running. Queues: amidash/queues.py.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from amidash.locks import sync_slot_lock
from inventory.choices import RegionSyncStatus, SyncTrigger
from inventory.models import AccountRegion, Image, SyncRegionResult, SyncRun
from inventory.services import consumers, findings, launch_permissions, schedule, sync

logger = logging.getLogger(__name__)

SLOT_RETRY_SECONDS = 5
REGION_TIME_LIMITS = {
    "soft_time_limit": settings.SYNC_REGION_TIME_LIMIT,
    "time_limit": settings.SYNC_REGION_TIME_LIMIT + 60,
}
#: The paced launch-permission pass reads one image at a time for up to an hour.
PACED_TIME_LIMITS = {"soft_time_limit": 3600, "time_limit": 3660}


@shared_task
def prepare_sync_run(run_id: int) -> int:
    """Discover Regions of the run's accounts and queue one task per account+Region."""
    run = SyncRun.objects.filter(pk=run_id).first()
    if run is None or run.is_finished:
        return 0
    pending = sync.prepare_run(run)
    if pending is None:  # another task has it (a redelivered or repeated message)
        return 0
    _queue_due()
    sync.finish_run(run.pk)  # closes a run with nothing left to do
    return len(pending)


@shared_task
def queue_due_regions() -> int:
    """Queue the account+Regions that are due, within the budget per minute."""
    return _queue_due()


def _queue_due() -> int:
    claimed = schedule.claim_due_regions()
    for result_id in claimed:
        sync_account_region.delay(result_id)
    return len(claimed)


@shared_task(bind=True, max_retries=None, acks_late=True, **REGION_TIME_LIMITS)
def sync_account_region(self, result_id: int) -> str:
    """Sync one account+Region of a run (idempotent: a final result is left alone)."""
    result = (
        SyncRegionResult.objects.select_related("account", "sync_run").filter(pk=result_id).first()
    )
    if result is None:
        return "missing"
    if result.status == RegionSyncStatus.PENDING:
        try:
            with ExitStack() as stack:
                if not _take_slot(stack, result.account.account_id):
                    raise self.retry(countdown=SLOT_RETRY_SECONDS)
                result = sync.sync_result(result)
        except (OperationalError, InterfaceError) as error:  # the database connection dropped
            logger.warning("Sync of result %s lost its database connection: %s", result_id, error)
            return sync.fail_after_connection_loss(result_id, error).status
    sync.finish_run(result.sync_run_id)
    _queue_due()  # a slot of the account and some budget may be free now
    return result.status


def _take_slot(stack: ExitStack, account_id: str) -> bool:
    """One of the account's concurrency slots, held until the stack closes."""
    for slot in range(settings.SYNC_REGIONS_PER_ACCOUNT):
        acquired = stack.enter_context(sync_slot_lock(account_id, slot))
        if acquired:
            return True
    return False


@shared_task
def scheduled_sync() -> int:
    """The beat schedule's sync of every enabled account and Region."""
    return sync.start_sync(None, source=SyncTrigger.BEAT).pk


@shared_task
def reap_sync_runs() -> dict[str, int]:
    """Fail the Regions whose worker was lost and close their runs; queue again the runs and
    pending Regions whose message was lost (a broker restarted without persistence)."""
    failed = sync.reap_runs()
    runs = sync.stalled_runs()
    for run_id in runs:
        prepare_sync_run.delay(run_id)
    regions = sync.stalled_regions()
    for result_id in regions:
        sync_account_region.delay(result_id)
    return {"failed": failed, "queued_again": len(runs) + len(regions)}


@shared_task(**PACED_TIME_LIMITS)
def refresh_launch_permissions(limit_per_region: int = 500) -> int:
    """The paced pass over launch permissions older than LAUNCH_PERMISSIONS_MAX_AGE_HOURS, then
    over Inspector findings older than FINDINGS_MAX_AGE_HOURS, at the same pace."""
    checked = 0
    regions = AccountRegion.objects.filter(
        account__enabled=True, synced=True, last_listed_at__isnull=False
    )
    for account_region in regions.select_related("account"):
        checked += launch_permissions.refresh_launch_permissions(account_region, limit_per_region)
        checked += findings.refresh_findings(account_region, limit_per_region)
    return checked


@shared_task(acks_late=True, **PACED_TIME_LIMITS)
def read_new_findings(account_region_id: int) -> int:
    """The sync's follow-up: Inspector findings of the account+Region's never-read images, in
    batches (idempotent: a second run finds none due)."""
    account_region = (
        AccountRegion.objects.select_related("account").filter(pk=account_region_id).first()
    )
    if account_region is None or not account_region.account.enabled:
        return 0
    return findings.read_new_findings(account_region)


@shared_task(**PACED_TIME_LIMITS)
def refresh_consumer_reports() -> int:
    """The paced pass over the usage reports of public and shared images, oldest first."""
    return consumers.refresh_due_reports()


@shared_task
def request_consumer_report(image_pk: int, actor_name: str = "") -> str:
    """One image's usage report, asked for from the image page or the request preview."""
    image = Image.objects.select_related("account").filter(pk=image_pk).first()
    if image is None:
        return "missing"
    return consumers.refresh_consumers(image, actor_name).status
