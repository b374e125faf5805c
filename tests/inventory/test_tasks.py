"""The Celery fan-out, the beat schedule, the sync permission and the paced launch permissions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import OperationalError
from django.utils import timezone

from amidash.celery import app
from inventory import tasks
from inventory.choices import RegionSyncStatus, SyncStatus, SyncTrigger
from inventory.models import AccountRegion, Image, SyncRegionResult, SyncRun
from inventory.services import sync as sync_service
from inventory.services.launch_permissions import refresh_launch_permissions
from inventory.services.sync import CONNECTION_LOST, SyncScopeError, start_sync
from tests.amidash.sandbox.images import REGION, register_image
from tests.factories import create_account, sync, sync_with_follow_ups

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager_celery():
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False


def test_it_queues_the_sync_when_the_transaction_commits(
    aws, requester, eager_celery, django_capture_on_commit_callbacks
):
    image_id = register_image(aws, "web-1")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run = start_sync(requester, source="web")
        assert run.status == SyncStatus.QUEUED

    # The run's preparation, then the findings follow-up of the Region that listed an image.
    assert len(callbacks) == 2
    run.refresh_from_db()
    assert run.status == SyncStatus.SUCCEEDED
    assert (run.trigger, run.actor, run.actor_name) == ("web", requester, "rita")
    assert run.results.filter(status=RegionSyncStatus.SUCCEEDED).count() == 2
    assert Image.objects.filter(image_id=image_id).exists()
    assert run.finished_at >= run.started_at


def test_it_refuses_a_bad_scope_before_queueing(aws, requester):
    with pytest.raises(SyncScopeError):
        start_sync(requester, regions=["not a region"])
    assert not SyncRun.objects.exists()


def test_it_closes_a_run_once_and_only_when_every_region_is_final(aws, eager_celery):
    run = SyncRun.objects.create(trigger=SyncTrigger.WEB)  # due at once, not spread
    tasks.prepare_sync_run.apply(args=[run.pk])
    run.refresh_from_db()
    finished_at = run.finished_at

    tasks.sync_account_region.apply(args=[run.results.first().pk])  # redelivered

    run.refresh_from_db()
    assert run.status == SyncStatus.SUCCEEDED
    assert run.finished_at == finished_at


def test_a_repeated_prepare_makes_no_second_results(aws, eager_celery):
    run = SyncRun.objects.create(trigger=SyncTrigger.BEAT)
    tasks.prepare_sync_run.apply(args=[run.pk])
    regions = run.results.count()
    SyncRun.objects.filter(pk=run.pk).update(status=SyncStatus.RUNNING, finished_at=None)

    assert tasks.prepare_sync_run.apply(args=[run.pk]).get() == 0  # redelivered mid-run

    assert run.results.count() == regions == 2


def test_the_reaper_queues_again_a_run_whose_message_was_lost(aws, eager_celery):
    register_image(aws, "web-1")
    run = SyncRun.objects.create(trigger=SyncTrigger.WEB)  # its message never arrives
    SyncRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    busy = SyncRun.objects.create(trigger=SyncTrigger.BEAT, status=SyncStatus.RUNNING)
    region = busy.results.create(
        account=create_account("123456789012"), region=REGION, status=RegionSyncStatus.RUNNING
    )
    assert sync_service.stalled_runs() == []  # it may be waiting behind a running Region

    region.delete()
    tasks.reap_sync_runs.apply()

    run.refresh_from_db()
    assert run.status == SyncStatus.SUCCEEDED and run.regions_succeeded == 2


@pytest.mark.django_db(transaction=True)  # the task closes the dropped connection
def test_a_region_whose_database_connection_dropped_fails_with_the_reason(monkeypatch):
    run = SyncRun.objects.create(trigger=SyncTrigger.BEAT, status=SyncStatus.RUNNING)
    result = SyncRegionResult.objects.create(sync_run=run, account=create_account(), region=REGION)

    def claimed_then_dropped(result: SyncRegionResult) -> SyncRegionResult:
        SyncRegionResult.objects.filter(pk=result.pk).update(status=RegionSyncStatus.RUNNING)
        raise OperationalError("terminating connection due to administrator command\nmore")

    monkeypatch.setattr(sync_service, "sync_result", claimed_then_dropped)

    assert tasks.sync_account_region.apply(args=[result.pk]).get() == RegionSyncStatus.FAILED
    result.refresh_from_db()
    run.refresh_from_db()
    assert result.error == f"{CONNECTION_LOST}: terminating connection due to administrator command"
    assert run.status == SyncStatus.FAILED and run.finished_at is not None


def test_it_caps_the_regions_of_an_account_that_run_at_once(db, settings):
    from contextlib import ExitStack

    from django.db import connections

    from amidash.locks import sync_slot_key

    settings.SYNC_REGIONS_PER_ACCOUNT = 2
    # Two other workers (database sessions) each hold one of the account's slots.
    workers = [connections.create_connection("default") for _ in range(2)]
    released = workers[-1]
    try:
        for slot, worker in enumerate(workers):
            with worker.cursor() as cursor:
                key = sync_slot_key("1" * 12, slot)
                cursor.execute("SELECT pg_advisory_lock(%s)", [key])
        with ExitStack() as stack:
            assert not tasks._take_slot(stack, "1" * 12)  # none left: the task retries
            assert tasks._take_slot(stack, "2" * 12)  # other accounts are not held up
        released = workers.pop()
        with released.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock_all()")
        with ExitStack() as stack:
            assert tasks._take_slot(stack, "1" * 12)
    finally:
        for worker in [*workers, released]:
            with worker.cursor() as cursor:  # closing alone releases them only eventually
                cursor.execute("SELECT pg_advisory_unlock_all()")
            worker.close()


def test_it_schedules_the_sync_and_the_launch_permission_pass():
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["inventory-sync"]["task"] == "inventory.tasks.scheduled_sync"
    assert schedule["inventory-sync"]["schedule"] == settings.SYNC_INTERVAL_MINUTES * 60
    assert schedule["inventory-launch-permissions"]["task"] == (
        "inventory.tasks.refresh_launch_permissions"
    )
    assert set(app.tasks) >= {
        "inventory.tasks.scheduled_sync",
        "inventory.tasks.refresh_launch_permissions",
        "inventory.tasks.prepare_sync_run",
        "inventory.tasks.sync_account_region",
    }


def test_it_lets_requesters_and_approvers_start_a_sync(requester, approver, viewer, auditor):
    for group in ("Requester", "Approver"):
        assert Group.objects.get(name=group).permissions.filter(codename="sync").exists()
    assert requester.has_perm("inventory.sync") and approver.has_perm("inventory.sync")
    assert not viewer.has_perm("inventory.sync") and not auditor.has_perm("inventory.sync")


def test_it_refreshes_launch_permissions_that_are_due(aws):
    image_id = register_image(aws, "golden-1")
    sync_with_follow_ups()
    # Shared afterwards: the image shape does not change, so the sync does not notice...
    aws.client("ec2", REGION).modify_image_attribute(
        ImageId=image_id, LaunchPermission={"Add": [{"UserId": "111122223333"}]}
    )
    sync()
    assert Image.objects.get(image_id=image_id).shared_with == []
    # ...the paced pass does, once the check is older than the configured age.
    Image.objects.update(launch_permissions_checked_at=timezone.now() - timedelta(days=2))
    aws.clear_calls()

    checked = tasks.refresh_launch_permissions.apply(kwargs={"limit_per_region": 10}).get()

    assert checked == 1
    image = Image.objects.get(image_id=image_id)
    assert image.shared_with == ["111122223333"]
    assert image.launch_permissions_checked_at > timezone.now() - timedelta(minutes=5)
    assert len(aws.calls(action="DescribeImageAttribute")) == 1


def test_it_leaves_fresh_launch_permissions_alone(aws):
    register_image(aws, "golden-1")
    sync()
    aws.clear_calls()

    assert refresh_launch_permissions(AccountRegion.objects.get(region=REGION)) == 0
    assert not aws.calls(action="DescribeImageAttribute")


def test_it_schedules_the_paced_usage_report_pass():
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["inventory-consumer-reports"]["task"] == (
        "inventory.tasks.refresh_consumer_reports"
    )
    assert set(app.tasks) >= {
        "inventory.tasks.refresh_consumer_reports",
        "inventory.tasks.request_consumer_report",
    }


def test_a_usage_report_of_an_image_no_longer_stored_does_nothing():
    from inventory.tasks import request_consumer_report

    assert request_consumer_report(987654321, "rita") == "missing"
