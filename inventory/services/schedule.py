"""When each Region of a sync run is queued: spread over time, a budget per minute at a time.

A thousand accounts of 17 Regions make 17,000 tasks per run. Queued in one burst they would sit
ahead of everything else a worker does and hit the accounts' EC2 throttles together. So a run
only schedules its Regions (``spread_regions``: a due time each), and the dispatcher
(``claim_due_regions``, run by beat and whenever a Region finishes) queues those that are due,
at most SYNC_REGIONS_PER_MINUTE in any minute and never more than SYNC_REGIONS_PER_ACCOUNT of one
account in flight. Claims take the rows with ``FOR UPDATE SKIP LOCKED`` under a transaction lock,
so two dispatchers never queue a Region twice nor overspend the budget.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from amidash.locks import lock_key
from inventory.choices import RegionSyncStatus, SyncTrigger
from inventory.models import SyncRegionResult, SyncRun

#: A scheduled run spreads its Regions over this share of the sync interval, leaving the rest
#: for the last ones to finish before the next run starts.
SPREAD_SHARE = 0.75
#: The dispatcher looks at this many due Regions per Region it may queue: some belong to
#: accounts that have all their slots in flight and are passed over this time.
CANDIDATES_PER_SLOT = 4
_DISPATCH_LOCK = lock_key("inventory-dispatch")

# Each pending Region gets a slot of the window in random order (accounts interleave) and a
# random time within its slot: evenly spread, never in step with another run.
SPREAD_SQL = """
WITH ordered AS (
    SELECT id, row_number() OVER (ORDER BY random()) - 1 AS slot, count(*) OVER () AS total
    FROM inventory_syncregionresult
    WHERE sync_run_id = %(run)s AND status = %(pending)s AND queued_at IS NULL
)
UPDATE inventory_syncregionresult r
SET due_at = %(start)s + make_interval(secs => (o.slot + random()) * %(window)s / o.total)
FROM ordered o
WHERE r.id = o.id
"""


def spread_window(run: SyncRun) -> float:
    """Seconds over which the run's Regions are spread: a scheduled run over most of the sync
    interval; a run somebody started is due at once (the budget still paces it)."""
    if run.trigger != SyncTrigger.BEAT:
        return 0.0
    return settings.SYNC_INTERVAL_MINUTES * 60 * SPREAD_SHARE


def spread_regions(run: SyncRun, start: datetime | None = None) -> None:
    """Give each pending Region of the run its due time within the run's window."""
    window = spread_window(run)
    start = start or timezone.now()
    pending = run.results.filter(status=RegionSyncStatus.PENDING, queued_at__isnull=True)
    if not window:
        pending.update(due_at=start)
        return
    params = {"run": run.pk, "pending": RegionSyncStatus.PENDING, "start": start, "window": window}
    with connection.cursor() as cursor:
        cursor.execute(SPREAD_SQL, params)


def claim_due_regions(now: datetime | None = None) -> list[int]:
    """Mark the Regions to queue now as queued and return their ids, oldest due first, within
    the minute's budget and each account's free slots."""
    now = now or timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:  # one dispatcher at a time: the budget is exact
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_DISPATCH_LOCK])
        budget = settings.SYNC_REGIONS_PER_MINUTE - _queued_since(now - timedelta(minutes=1))
        if budget <= 0:
            return []
        free = _free_slots(now)
        due = (
            SyncRegionResult.objects.select_for_update(skip_locked=True)
            .filter(status=RegionSyncStatus.PENDING, queued_at__isnull=True, due_at__lte=now)
            .order_by("due_at", "pk")
            .values_list("pk", "account_id")[: budget * CANDIDATES_PER_SLOT]
        )
        chosen = []
        for pk, account_id in due:
            if free.setdefault(account_id, settings.SYNC_REGIONS_PER_ACCOUNT) > 0:
                free[account_id] -= 1
                chosen.append(pk)
                if len(chosen) == budget:
                    break
        SyncRegionResult.objects.filter(pk__in=chosen).update(queued_at=now)
    return chosen


def _queued_since(since: datetime) -> int:
    return SyncRegionResult.objects.filter(queued_at__gt=since).count()


def _free_slots(now: datetime) -> dict[int, int]:
    """Slots left per account with Regions in flight (queued and not final). A Region queued
    longer ago than the task's hard limit is the reaper's, not in flight."""
    oldest = now - timedelta(seconds=settings.SYNC_REGION_TIME_LIMIT + 60)
    in_flight = (
        SyncRegionResult.objects.filter(
            queued_at__gt=oldest,
            status__in=[RegionSyncStatus.PENDING, RegionSyncStatus.RUNNING],
        )
        .values("account_id")
        .annotate(n=Count("id"))
        .values_list("account_id", "n")
    )
    return {account_id: settings.SYNC_REGIONS_PER_ACCOUNT - n for account_id, n in in_flight}
