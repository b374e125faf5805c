"""Runs never stay running: a Region whose worker is gone is failed as "worker lost" and its run
closed; a Region whose worker still holds its lock is left alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from inventory.choices import RegionSyncStatus, SyncStatus
from inventory.models import Account, Image, SyncRegionResult, SyncRun
from inventory.services.sync import WORKER_LOST, _lock_key, reap_runs
from tests.inventory.conftest import REGION, register_image, sync

pytestmark = pytest.mark.django_db

ACCOUNT = "123456789012"


@pytest.fixture
def stuck_run(aws):
    """A run whose Region was claimed long ago by a worker that then vanished."""
    image_id = register_image(aws, "app-1")
    sync(regions=[REGION])
    run = SyncRun.objects.create(status=SyncStatus.RUNNING, started_at=timezone.now())
    result = SyncRegionResult.objects.create(
        sync_run=run,
        account=Account.objects.get(account_id=ACCOUNT),
        region=REGION,
        status=RegionSyncStatus.RUNNING,
        started_at=timezone.now() - timedelta(minutes=10),
    )
    return run, result, image_id


def test_it_fails_a_region_whose_worker_is_gone_and_closes_the_run(stuck_run):
    run, result, image_id = stuck_run

    assert reap_runs() == 1

    result.refresh_from_db()
    run.refresh_from_db()
    assert (result.status, result.error) == (RegionSyncStatus.FAILED, WORKER_LOST)
    assert run.status == SyncStatus.FAILED and run.finished_at is not None
    assert Image.objects.get(image_id=image_id).gone_at is None


def test_it_leaves_a_region_whose_worker_still_holds_its_lock(stuck_run):
    _, result, _ = stuck_run
    worker = connections.create_connection("default")
    try:
        with worker.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_lock(%s)", [_lock_key("inventory-sync", ACCOUNT, REGION)]
            )
        assert reap_runs() == 0
    finally:
        worker.close()  # the worker's connection dies: its lock goes with it

    result.refresh_from_db()
    assert result.status == RegionSyncStatus.RUNNING
    assert reap_runs() == 1


def test_it_leaves_a_region_that_just_started(stuck_run):
    _, result, _ = stuck_run
    SyncRegionResult.objects.filter(pk=result.pk).update(started_at=timezone.now())

    assert reap_runs() == 0


def test_it_closes_a_run_that_never_got_its_regions(aws, settings):
    run = SyncRun.objects.create(status=SyncStatus.RUNNING)
    SyncRun.objects.filter(pk=run.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.SYNC_REGION_TIME_LIMIT + 120)
    )

    reap_runs()

    run.refresh_from_db()
    assert run.status == SyncStatus.FAILED and "worker lost" in run.error
