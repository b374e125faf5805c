"""Redis and PostgreSQL restarted in the middle of a sync and of an execution, and a sync worker
killed mid-Region: amidash still reports only what happened (invariants 1, 4 and 10 in
docs/architecture.md).

This module starts servers of its own, since the shared ones must never be restarted: a Redis
on a free port that keeps nothing on disk (a restart loses every queued and unacknowledged
message) and a PostgreSQL cluster in a temporary folder (``tests/servers.py``), migrated once;
each test gets a fresh database copied from the migrated one. The test process and a real
Celery worker both use them; the worker reaches AWS through a sandbox server. The beat schedule
is played by the test: it queues the sync reaper and the reconciler every two seconds until the
run or the request is final.

After each fault: no AWS mutation is made twice (the sandbox counts the calls), no Region or item
is left running, no image AWS still lists is marked gone, and every run and request reaches a
final state or "needs review" before a deadline.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, InterfaceError, connection
from django.db.models import Count

from amidash.celery import app
from amidash.queues import BACKGROUND, queue_names, task_routes
from amidash.roles import Role
from amidash.sandbox.runtime import connect
from amidash.settings import database_config
from inventory.choices import FINAL_REGION_STATES, RegionSyncStatus, SyncStatus
from inventory.models import Image, SyncRun
from inventory.services.sync import CONNECTION_LOST, WORKER_LOST, start_sync
from lifecycle.choices import FINAL_REQUEST_STATES, ItemStatus, RequestStatus
from lifecycle.models import AuditEvent, LifecycleRequest, RequestItem
from tests import servers
from tests.amidash.sandbox.images import OTHER_REGION, REGION, register_image
from tests.factories import approve, ask, create_user, sync
from tests.servers import PYTHON, ROOT, PrivatePostgreSQL, PrivateRedis, Workers

pytestmark = [pytest.mark.integration]

TEMPLATE = "amidash_template"
REGIONS = [REGION, OTHER_REGION]
#: How long a run or a request may take to settle after the fault, the reaper's and the
#: reconciler's waits included (leases of 9 s, a reaper grace of 2 s).
SETTLE_WITHIN = 90.0


# --- private servers, the database of each test, the broker, the worker ---------------------


@pytest.fixture(scope="module")
def redis_server() -> Iterator[PrivateRedis]:
    if not PrivateRedis.available():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PrivatePostgreSQL]:
    """A cluster of this module with one migrated database, the template of each test's."""
    server = PrivatePostgreSQL()
    try:
        server.psql(f"CREATE DATABASE {TEMPLATE};")
        env = os.environ | {"DATABASE_URL": server.url(TEMPLATE), "DEBUG": "true"}
        migrate = [PYTHON, "manage.py", "migrate", "--verbosity", "0"]
        subprocess.run(migrate, cwd=ROOT, env=env, check=True)
        yield server
    finally:
        server.stop()


@pytest.fixture
def database(postgres_server, django_db_blocker) -> Iterator[str]:
    """A fresh database of the private cluster; this process uses it for the test. Yields its
    DATABASE_URL, for the worker."""
    name = f"restarts_{uuid.uuid4().hex[:8]}"
    postgres_server.psql(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE};")
    url = postgres_server.url(name)
    private = database_config(url)
    keys = ("NAME", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS")
    with django_db_blocker.unblock():
        saved = {key: connection.settings_dict[key] for key in keys}
        connection.close()
        connection.settings_dict.update({key: private.get(key, "") for key in keys})
        ContentType.objects.clear_cache()  # ids of the other database
        try:
            yield url
        finally:
            connection.close()
            connection.settings_dict.update(saved)
            ContentType.objects.clear_cache()


@pytest.fixture(scope="module")
def sandbox_endpoint() -> Iterator[str]:
    """``manage.py sandbox --port 0`` for this module; yields its endpoint."""
    with servers.sandbox_process() as endpoint:
        yield endpoint


@pytest.fixture
def aws(sandbox_endpoint, settings) -> Iterator[Any]:
    settings.SYNC_REGIONS = REGIONS
    with connect(sandbox_endpoint) as handle:
        handle.reset()
        yield handle


@pytest.fixture
def broker(redis_server, monkeypatch) -> Iterator[PrivateRedis]:
    """This process queues tasks on the private Redis (queues without a prefix)."""
    monkeypatch.setenv("CELERY_BROKER_URL", redis_server.url)
    names = ("broker_url", "task_default_queue", "task_routes", "task_always_eager")
    saved = {name: app.conf[name] for name in names}
    app.conf.update(
        broker_url=redis_server.url,
        task_default_queue=BACKGROUND,
        task_routes=task_routes(""),
        task_always_eager=False,
    )
    _drop_producer_pool()
    yield redis_server
    app.conf.update(saved)
    _drop_producer_pool()


def _drop_producer_pool() -> None:
    """Make the app connect anew, to the broker and queues it is configured with now."""
    from kombu import pools

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)
    app.amqp.__dict__.pop("queues", None)


@pytest.fixture
def workers(database, broker, aws) -> Iterator[Workers]:
    handle = Workers(
        {
            "DATABASE_URL": database,
            "CELERY_BROKER_URL": broker.url,
            "DEBUG": "true",
            "AWS_ENDPOINT_URL": aws.endpoint_url,
            "AMIDASH_QUEUE_PREFIX": "",
            "AMIDASH_SYNC_REGIONS": ",".join(REGIONS),
            "AMIDASH_SYNC_REAP_AFTER_SECONDS": "2",
            # A lease outlasts a call in flight (connect + read timeouts).
            "AMIDASH_AWS_CONNECT_TIMEOUT": "2",
            "AMIDASH_AWS_READ_TIMEOUT": "6",
            "AMIDASH_LEASE_SECONDS": "9",
            "AMIDASH_RECONCILE_AFTER_SECONDS": "9",
            "AMIDASH_MUTATIONS_PER_SECOND": "100",
        },
        queues=queue_names(""),
    )
    yield handle
    handle.stop_all()


@pytest.fixture
def people(database) -> tuple[Any, Any]:
    return create_user("rita", Role.REQUESTER), create_user("arno", Role.APPROVER)


# --- waiting, as beat would ------------------------------------------------------------------


def read(query: Callable[[], Any]) -> Any:
    """Run a query; None while the database is unreachable (a dropped connection is closed, so
    the next try connects anew)."""
    try:
        return query()
    except (DatabaseError, InterfaceError):
        connection.close()
        return None


def queue(task: Any) -> None:
    """Queue a task as beat would; a broker that is still down misses this round."""
    try:
        task.delay()
    except Exception:  # the broker is restarting: the next round queues it
        _drop_producer_pool()


def wait_for(condition: Callable[[], Any], what: Any, every: Any = None) -> Any:
    """Poll ``condition`` until it is true or SETTLE_WITHIN passes, queueing ``every`` (a
    periodic task) between polls."""
    deadline = time.monotonic() + SETTLE_WITHIN
    while time.monotonic() < deadline:
        value = read(condition)
        if value:
            return value
        if every is not None:
            queue(every)
        time.sleep(2 if every is not None else 0.2)
    raise AssertionError(f"timed out waiting for {read(what) if callable(what) else what}")


def settle_run(run: SyncRun) -> SyncRun:
    from inventory.tasks import reap_sync_runs

    def finished() -> SyncRun | None:
        current = SyncRun.objects.get(pk=run.pk)
        return current if current.is_finished else None

    def what() -> str:
        results = SyncRun.objects.get(pk=run.pk).results.values_list("region", "status", "error")
        return f"the sync run to close; its Regions: {list(results)}"

    return wait_for(finished, what, every=reap_sync_runs)


def settle_request(request: LifecycleRequest) -> str:
    from lifecycle.tasks import reconcile_requests

    def final() -> str:
        status = LifecycleRequest.objects.get(pk=request.pk).status
        return status if status in FINAL_REQUEST_STATES else ""

    return wait_for(final, "the request to reach a final state", every=reconcile_requests)


# --- what must hold after every fault --------------------------------------------------------


def listed(aws: Any, region: str) -> set[str]:
    images = aws.client("ec2", region).describe_images(
        Owners=["self"], IncludeDeprecated=True, IncludeDisabled=True
    )["Images"]
    return {image["ImageId"] for image in images}


def present(region: str) -> set[str]:
    rows = Image.objects.filter(region=region, gone_at__isnull=True)
    return set(rows.values_list("image_id", flat=True))


def assert_the_inventory_tells_the_truth(aws: Any, run: SyncRun, before: dict) -> None:
    """Every Region of the run is final; one that succeeded shows exactly what AWS lists, one
    that failed is exactly as it was; no image AWS lists is marked gone; no image's appearance
    or disappearance is recorded twice."""
    assert run.status in (SyncStatus.SUCCEEDED, SyncStatus.PARTIAL, SyncStatus.FAILED)
    results = {result.region: result for result in run.results.all()}
    assert set(results) == set(REGIONS)
    for region, result in results.items():
        assert result.status in FINAL_REGION_STATES, (region, result.status)
        if result.status == RegionSyncStatus.SUCCEEDED:
            assert present(region) == listed(aws, region)
        else:
            assert present(region) == before[region], (region, result.error)
        falsely_gone = Image.objects.filter(image_id__in=listed(aws, region), gone_at__isnull=False)
        assert not falsely_gone.exists()
    for verb in ("image.appeared", "image.gone"):
        events = AuditEvent.objects.filter(verb=verb).values("target_id")
        twice = events.annotate(n=Count("sequence")).filter(n__gt=1)
        assert not twice.exists(), f"{verb} recorded twice for {list(twice)}"
    assert AuditEvent.objects.filter(verb="image.appeared", target_id__startswith="ami-").exists()


def assert_each_image_deregistered_once(aws: Any, request: LifecycleRequest) -> None:
    image_ids = list(request.items.values_list("ami_id", flat=True))
    calls = aws.calls(action="DeregisterImage")
    assert sorted(call["params"]["ImageId"] for call in calls) == sorted(image_ids)
    assert not listed(aws, REGION) & set(image_ids)


def estate_with_a_change(aws: Any) -> dict[str, set[str]]:
    """Images in both Regions, synced; then one new and one deregistered outside amidash, so
    the next sync has something to add and something to mark gone. Returns the inventory's
    present images of each Region before that sync."""
    for region in REGIONS:
        for n in range(2):
            register_image(aws, f"app-{n}", region)
    sync()
    register_image(aws, "app-new", REGION)
    gone = sorted(listed(aws, OTHER_REGION))[0]
    aws.client("ec2", OTHER_REGION).deregister_image(ImageId=gone)
    aws.clear_calls()
    return {region: present(region) for region in REGIONS}


def start_a_sync_held_in_its_listing(aws: Any, workers: Workers) -> SyncRun:
    """A sync whose first Region's listing is in flight (held by a latency fault)."""
    aws.set_fault("latency", action="DescribeImages", seconds=4)
    workers.start()
    run = start_sync(None, source="web")
    wait_for(lambda: aws.calls(action="DescribeImages"), "a Region's listing")
    return run


def an_approved_request_held_in_its_first_call(
    aws: Any, workers: Workers, people: tuple[Any, Any]
) -> LifecycleRequest:
    """Two images to deregister; the first DeregisterImage is in flight (latency fault)."""
    requester, approver = people
    image_ids = [register_image(aws, f"old-build-{n}") for n in range(2)]
    sync(regions=[REGION])
    request = ask(requester, "deregister", image_ids)
    aws.clear_calls()
    aws.set_fault("latency", action="DeregisterImage", seconds=4)
    workers.start()
    approve(approver, request)
    wait_for(lambda: aws.calls(action="DeregisterImage"), "the first DeregisterImage")
    return request


# --- the fault matrix --------------------------------------------------------------------------


def test_a_redis_restart_mid_sync_loses_no_region_and_marks_no_image_gone_falsely(
    database, aws, broker, workers
):
    before = estate_with_a_change(aws)
    run = start_a_sync_held_in_its_listing(aws, workers)

    broker.restart()  # loses the other Region's queued task and the unacknowledged one
    aws.clear_faults()

    run = settle_run(run)
    assert_the_inventory_tells_the_truth(aws, run, before)
    # The Region in flight finished; the reaper queued the lost one again.
    assert run.status == SyncStatus.SUCCEEDED


def test_a_redis_restart_before_a_sync_started_loses_no_run(database, aws, broker, workers):
    before = estate_with_a_change(aws)
    run = start_sync(None, source="web")  # queued while no worker runs

    broker.restart()  # the run's message is lost
    workers.start()

    run = settle_run(run)  # the reaper queues the run again
    assert_the_inventory_tells_the_truth(aws, run, before)
    assert run.status == SyncStatus.SUCCEEDED


def test_a_redis_restart_before_an_approved_request_started_loses_no_request(
    database, aws, broker, workers, people
):
    requester, approver = people
    image_ids = [register_image(aws, f"old-build-{n}") for n in range(2)]
    sync(regions=[REGION])
    request = ask(requester, "deregister", image_ids)
    aws.clear_calls()
    approve(approver, request)  # queued while no worker runs

    broker.restart()  # the request's message is lost
    workers.start()

    assert settle_request(request) == RequestStatus.SUCCEEDED  # the reconciler queued it again
    assert_each_image_deregistered_once(aws, request)


def test_a_redis_restart_mid_execution_mutates_each_image_once(
    database, aws, broker, workers, people
):
    request = an_approved_request_held_in_its_first_call(aws, workers, people)

    broker.restart()  # the task's message is gone; the worker carries on
    aws.clear_faults()

    assert settle_request(request) == RequestStatus.SUCCEEDED
    assert_each_image_deregistered_once(aws, request)
    assert set(request.items.values_list("status", flat=True)) == {ItemStatus.SUCCEEDED}


def test_a_postgresql_restart_mid_sync_fails_that_region_unchanged_and_closes_the_run(
    database, aws, postgres_server, workers
):
    before = estate_with_a_change(aws)
    run = start_a_sync_held_in_its_listing(aws, workers)
    held = aws.calls(action="DescribeImages")[0]["region"]

    postgres_server.restart()  # the worker's session ends, its sync lock with it
    aws.clear_faults()

    run = settle_run(run)
    assert_the_inventory_tells_the_truth(aws, run, before)
    # The Region in flight could not be saved: its worker failed it, with the reason, once the
    # database was back (or the reaper, as "worker lost", had it still been down).
    lost = run.results.get(region=held)
    assert lost.status == RegionSyncStatus.FAILED
    assert lost.error.startswith(CONNECTION_LOST) or lost.error == WORKER_LOST
    assert run.status == SyncStatus.PARTIAL


def test_a_postgresql_restart_mid_execution_mutates_each_image_once(
    database, aws, postgres_server, workers, people
):
    request = an_approved_request_held_in_its_first_call(aws, workers, people)

    postgres_server.restart()  # the call is answered after the worker lost its connection
    aws.clear_faults()

    assert settle_request(request) == RequestStatus.SUCCEEDED
    assert_each_image_deregistered_once(aws, request)
    first, second = RequestItem.objects.filter(request=request).order_by("pk")
    # The worker could not record the answer: the reconciler read AWS once the lease expired,
    # and the untouched second item was queued again and ran.
    assert first.status == ItemStatus.SUCCEEDED and first.response["reconciled"] is True
    assert second.status == ItemStatus.SUCCEEDED and second.attempts == 1


def test_a_sync_worker_killed_mid_region_is_reaped_as_worker_lost(database, aws, workers):
    before = estate_with_a_change(aws)
    run = start_a_sync_held_in_its_listing(aws, workers)
    held = aws.calls(action="DescribeImages")[0]["region"]

    workers.kill(workers.processes[0])
    aws.clear_faults()
    workers.start()

    run = settle_run(run)
    assert_the_inventory_tells_the_truth(aws, run, before)
    lost = run.results.get(region=held)
    assert (lost.status, lost.error) == (RegionSyncStatus.FAILED, WORKER_LOST)
    assert run.status == SyncStatus.PARTIAL
