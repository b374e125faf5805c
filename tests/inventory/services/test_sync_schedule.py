"""A run's Regions are scheduled, not queued in one burst: a scheduled run spreads them over the
sync interval, and the dispatcher queues the due ones within a budget per minute and each
account's concurrency (inventory/services/schedule.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from inventory import tasks
from inventory.choices import RegionSyncStatus, SyncStatus, SyncTrigger
from inventory.models import SyncRegionResult, SyncRun
from inventory.services.schedule import SPREAD_SHARE, claim_due_regions, spread_regions
from inventory.services.sync import prepare_run, reap_runs, stalled_regions
from tests.factories import create_account, create_sync_region_result

pytestmark = pytest.mark.django_db

REGIONS = [f"region-{n}" for n in range(10)]


def pending_run(accounts: int, regions: int, trigger: str = SyncTrigger.BEAT) -> SyncRun:
    run = SyncRun.objects.create(status=SyncStatus.RUNNING, trigger=trigger)
    for n in range(accounts):
        account = create_account(f"{n:012d}", name=f"account-{n}")
        for region in REGIONS[:regions]:
            create_sync_region_result(run, account, region, RegionSyncStatus.PENDING)
    return run


def due_times(run: SyncRun) -> list:
    return sorted(run.results.values_list("due_at", flat=True))


def test_it_spreads_a_scheduled_runs_regions_evenly_over_the_interval(settings):
    settings.SYNC_INTERVAL_MINUTES = 60
    run = pending_run(accounts=10, regions=10)
    start = timezone.now()

    spread_regions(run, start)

    window = timedelta(minutes=60 * SPREAD_SHARE)
    times = due_times(run)
    assert start <= times[0] and times[-1] < start + window
    quarters = [0, 0, 0, 0]
    for due in times:
        quarters[int((due - start) / (window / 4))] += 1
    assert quarters == [25, 25, 25, 25]  # one Region per slot of the window, each quarter alike


def test_it_interleaves_the_accounts_over_the_window(settings):
    run = pending_run(accounts=10, regions=10)

    spread_regions(run)

    first_half = run.results.order_by("due_at")[:50]
    accounts = {result.account_id for result in first_half}
    assert len(accounts) > 1  # not one account after the other


def test_a_run_somebody_started_is_due_at_once():
    run = pending_run(accounts=2, regions=3, trigger=SyncTrigger.WEB)
    before = timezone.now()

    spread_regions(run)

    assert all(before <= due <= timezone.now() for due in due_times(run))


def test_it_queues_no_more_than_the_budget_per_minute(settings):
    settings.SYNC_REGIONS_PER_MINUTE = 5
    run = pending_run(accounts=10, regions=2, trigger=SyncTrigger.WEB)
    now = timezone.now()

    first = claim_due_regions(now)
    again = claim_due_regions(now + timedelta(seconds=30))
    next_minute = claim_due_regions(now + timedelta(seconds=61))

    assert (len(first), len(again), len(next_minute)) == (5, 0, 5)
    assert not set(first) & set(next_minute)
    queued = run.results.filter(queued_at__isnull=False)
    assert set(queued.values_list("pk", flat=True)) == set(first) | set(next_minute)


def test_it_queues_at_most_the_accounts_concurrency_and_more_as_regions_finish(settings):
    settings.SYNC_REGIONS_PER_ACCOUNT = 2
    run = pending_run(accounts=1, regions=5, trigger=SyncTrigger.WEB)

    first = claim_due_regions()
    assert len(first) == 2 and claim_due_regions() == []

    SyncRegionResult.objects.filter(pk=first[0]).update(status=RegionSyncStatus.SUCCEEDED)
    assert len(claim_due_regions()) == 1
    assert run.results.filter(queued_at__isnull=True).count() == 2


def test_it_queues_regions_only_once_due_and_earliest_first():
    run = pending_run(accounts=3, regions=1, trigger=SyncTrigger.WEB)
    now = timezone.now()
    early, late, later = run.results.order_by("pk")
    SyncRegionResult.objects.filter(pk=late.pk).update(due_at=now + timedelta(minutes=5))
    SyncRegionResult.objects.filter(pk=later.pk).update(due_at=now + timedelta(minutes=10))

    assert claim_due_regions(now) == [early.pk]
    assert claim_due_regions(now + timedelta(minutes=11)) == [late.pk, later.pk]


def test_it_skips_regions_another_dispatcher_holds(transactional_db):
    run = pending_run(accounts=4, regions=1, trigger=SyncTrigger.WEB)
    held = run.results.order_by("pk").first()
    other = connections.create_connection("default")
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM inventory_syncregionresult WHERE id = %s FOR UPDATE", [held.pk]
            )
        claimed = claim_due_regions()
    finally:
        other.rollback()
        other.close()

    assert held.pk not in claimed and len(claimed) == 3
    assert claim_due_regions() == [held.pk]


def test_a_region_waiting_for_its_due_time_is_neither_reaped_nor_queued_again(settings):
    run = pending_run(accounts=1, regions=1)
    old = timezone.now() - timedelta(seconds=settings.SYNC_REGION_TIME_LIMIT + 120)
    SyncRun.objects.filter(pk=run.pk).update(created_at=old, started_at=old)
    run.results.update(due_at=timezone.now() + timedelta(minutes=30))

    assert reap_runs() == 0 and stalled_regions() == []
    assert run.results.get().status == RegionSyncStatus.PENDING


def test_a_queued_region_that_never_started_is_reaped(settings):
    run = pending_run(accounts=1, regions=1, trigger=SyncTrigger.WEB)
    old = timezone.now() - timedelta(seconds=settings.SYNC_REGION_TIME_LIMIT + 120)
    run.results.update(queued_at=old)

    assert reap_runs() == 1
    assert run.results.get().status == RegionSyncStatus.FAILED


def test_a_scheduled_run_queues_nothing_until_its_regions_are_due(aws, settings):
    """prepare_sync_run schedules; the beat task queues only what is due (nothing yet)."""
    run = SyncRun.objects.create(trigger=SyncTrigger.BEAT)

    assert tasks.prepare_sync_run.apply(args=[run.pk]).get() == 2
    assert tasks.queue_due_regions.apply().get() == 0

    results = run.results.all()
    assert {r.status for r in results} == {RegionSyncStatus.PENDING}
    run.refresh_from_db()
    assert all(r.queued_at is None and r.due_at > run.started_at for r in results)


def test_beat_runs_the_dispatcher(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["inventory-queue-due"]
    assert entry["task"] == "inventory.tasks.queue_due_regions"
    assert entry["schedule"] <= 60


def test_prepare_schedules_every_pending_region(aws):
    run = SyncRun.objects.create(trigger=SyncTrigger.WEB)

    pending = prepare_run(run)

    assert len(pending) == 2
    assert all(r.due_at <= timezone.now() and r.queued_at is None for r in run.results.all())
