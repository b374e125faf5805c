"""A real Celery worker with Redis carries out approved requests against the sandbox server.

The worker reaches AWS through the sandbox server (``AWS_ENDPOINT_URL``) and the test database
through ``DATABASE_URL``; tasks go through a dedicated Redis database and a unique queue. The
kill test makes the worker die with SIGKILL while its DeregisterImage is in flight (a latency
fault holds the call), starts a new worker, lets redelivery and the reconciler run, and counts
the sandbox's calls: exactly one mutation (invariant 4 in docs/architecture.md).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection

from amidash.celery import app
from amidash.queues import BACKGROUND, queue_names, task_routes
from amidash.sandbox.runtime import connect
from lifecycle.choices import ItemStatus, RequestStatus
from lifecycle.models import LifecycleRequest, RequestItem
from tests import servers
from tests.amidash.sandbox.images import register_image
from tests.factories import approve, ask, sync

pytestmark = [pytest.mark.integration]

REDIS_URL = os.environ.get("AMIDASH_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")


def wait_for(condition: Callable[[], Any], timeout: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what() if callable(what) else what or condition}")


def _redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


@pytest.fixture(scope="module")
def sandbox_process() -> Iterator[str]:
    """``manage.py sandbox --port 0`` in a subprocess for this module; yields its endpoint."""
    with servers.sandbox_process() as endpoint:
        yield endpoint


@pytest.fixture
def sandbox_server(sandbox_process) -> Iterator[Any]:
    """A handle on the server, reset for each test."""
    with connect(sandbox_process) as aws:
        aws.reset()
        yield aws


@pytest.fixture
def queue(settings, monkeypatch) -> Iterator[str]:
    """Queues of this test only (a unique prefix) on a dedicated Redis database."""
    if not _redis_available():
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    name = f"lifecycle-test-{uuid.uuid4().hex[:8]}-"  # the prefix of this test's queues
    # Celery reads CELERY_BROKER_URL from the environment before its own setting (CI sets it).
    monkeypatch.setenv("CELERY_BROKER_URL", REDIS_URL)
    saved = (
        app.conf.broker_url,
        app.conf.task_default_queue,
        app.conf.task_routes,
        app.conf.task_always_eager,
    )
    app.conf.broker_url, app.conf.task_default_queue = REDIS_URL, f"{name}{BACKGROUND}"
    app.conf.task_routes = task_routes(name)
    app.conf.task_always_eager = False
    _drop_producer_pool()
    yield name
    (
        app.conf.broker_url,
        app.conf.task_default_queue,
        app.conf.task_routes,
        app.conf.task_always_eager,
    ) = saved
    _drop_producer_pool()


def _drop_producer_pool() -> None:
    """Make the app connect anew, to the broker and queues it is configured with now."""
    from kombu import pools

    pools.reset()  # closes every pool and forgets it, so new ones are made on demand
    app._pool = None
    app.amqp._producer_pool = None
    # Routes and queues are cached on first use: read them again from this test's settings.
    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)
    app.amqp.__dict__.pop("queues", None)


def _database_url() -> str:
    """The test database, for a worker in another process (TCP or the embedded server's socket)."""
    from urllib.parse import quote

    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    socket_dir = (db.get("OPTIONS") or {}).get("host") or ""
    if socket_dir.startswith("/"):
        return f"postgres://{db['USER']}{password}@/{db['NAME']}?host={quote(socket_dir)}"
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or "5432"
    return f"postgres://{db['USER']}{password}@{host}:{port}/{db['NAME']}"


class Workers(servers.Workers):
    """``celery -A amidash worker`` processes for one queue prefix, on the test database, the
    dedicated Redis database and the sandbox server."""

    def __init__(self, queue: str, aws: Any) -> None:
        env = {
            "DATABASE_URL": _database_url(),
            "DEBUG": "true",
            "CELERY_BROKER_URL": REDIS_URL,
            "AWS_ENDPOINT_URL": aws.endpoint_url,
            # The reconciler waits longer than a call may take (connect + read timeouts).
            "AMIDASH_AWS_CONNECT_TIMEOUT": "2",
            "AMIDASH_AWS_READ_TIMEOUT": "6",
            "AMIDASH_RECONCILE_AFTER_SECONDS": "9",
            "AMIDASH_LEASE_SECONDS": "9",
            "AMIDASH_MUTATIONS_PER_SECOND": "100",
            "AMIDASH_QUEUE_PREFIX": queue,
        }
        super().__init__(env, queue_names(queue), name=queue)

    def stop_all(self) -> None:
        """The test is over: no need for a warm shutdown; empty the dedicated Redis db."""
        super().stop_all()
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()


@pytest.fixture
def workers(queue, sandbox_server) -> Iterator[Workers]:
    handle = Workers(queue, sandbox_server)
    yield handle
    handle.stop_all()


def _status(request: LifecycleRequest) -> str:
    return LifecycleRequest.objects.get(pk=request.pk).status


def test_it_executes_an_approved_request_in_a_real_worker(
    transactional_db, sandbox_server, workers, requester, approver
):
    aws = sandbox_server
    ids = [register_image(aws, f"old-build-{n}") for n in range(2)]
    sync()
    request = ask(requester, "deregister", ids)
    workers.start()
    approve(approver, request)  # queued on commit
    wait_for(lambda: _status(request) == RequestStatus.SUCCEEDED, what="the request to finish")
    assert len(aws.calls(action="DeregisterImage")) == 2
    images = aws.client("ec2").describe_images(Owners=["self"])["Images"]
    assert not {i["ImageId"] for i in images} & set(ids)


def test_it_mutates_once_when_the_worker_is_killed_mid_item(
    transactional_db, sandbox_server, workers, requester, approver
):
    aws = sandbox_server
    image_id = register_image(aws, "old-build")
    sync()
    request = ask(requester, "deregister", [image_id])
    aws.set_fault("latency", action="DeregisterImage", seconds=3)
    first = workers.start()
    approve(approver, request)
    wait_for(lambda: aws.calls(action="DeregisterImage"), what="the DeregisterImage call")
    item = RequestItem.objects.get(request=request)
    assert item.status == ItemStatus.EXECUTING  # claimed, AWS call in flight
    workers.kill(first)

    workers.start()  # the message comes back (acks late), the item is already claimed
    from lifecycle.tasks import reconcile_requests

    def settled() -> bool:
        if _status(request) in (RequestStatus.SUCCEEDED, RequestStatus.FAILED):
            return True
        reconcile_requests.delay()  # as beat would, every few seconds
        time.sleep(2)
        return False

    wait_for(settled, timeout=120, what="the reconciler to settle the item")
    item.refresh_from_db()
    assert item.status == ItemStatus.SUCCEEDED and item.response["reconciled"] is True
    assert len(aws.calls(action="DeregisterImage")) == 1
    assert aws.client("ec2").describe_images(ImageIds=[], Owners=["self"])["Images"] == []


# --- the fault matrix: a worker killed (SIGKILL) at each point of an item --------------------
# Whatever the point, the image is deregistered exactly once, the item is never lost and the
# request ends final (or "needs review") within a bounded time (invariants 4 and 10).


def settle_with_reconciler(request: LifecycleRequest, timeout: float = 150) -> str:
    """Run the reconciler as beat would (every few seconds) until the request is final."""
    from lifecycle.choices import FINAL_REQUEST_STATES
    from lifecycle.tasks import reconcile_requests

    def final() -> str:
        status = _status(request)
        if status in FINAL_REQUEST_STATES:
            return status
        reconcile_requests.delay()
        time.sleep(2)
        return ""

    return wait_for(final, timeout=timeout, what="the request to reach a final state")


def deregistered_once(aws: Any, request: LifecycleRequest) -> None:
    assert _status(request) == RequestStatus.SUCCEEDED
    assert RequestItem.objects.get(request=request).status == ItemStatus.SUCCEEDED
    assert len(aws.calls(action="DeregisterImage")) == 1
    assert aws.client("ec2").describe_images(ImageIds=[], Owners=["self"])["Images"] == []


@pytest.fixture
def waiting_request(transactional_db, sandbox_server, requester, approver):
    image_id = register_image(sandbox_server, "old-build")
    sync()
    sandbox_server.clear_calls()
    return ask(requester, "deregister", [image_id])


def test_a_worker_killed_before_it_claimed_anything_loses_nothing(
    transactional_db, sandbox_server, workers, waiting_request, approver
):
    approve(approver, waiting_request)  # queued while no worker runs
    workers.kill(workers.start())  # dies while starting, before it takes the message
    assert RequestItem.objects.get(request=waiting_request).status == ItemStatus.PENDING

    workers.start()
    settle_with_reconciler(waiting_request)

    deregistered_once(sandbox_server, waiting_request)


def test_a_worker_killed_after_the_claim_before_the_aws_call_is_resumed(
    transactional_db, sandbox_server, workers, waiting_request, approver
):
    aws = sandbox_server
    aws.set_fault("latency", action="DescribeImages", seconds=4)  # the re-read after the claim
    first = workers.start()
    approve(approver, waiting_request)
    wait_for(
        lambda: aws.calls(action="DescribeImages"),
        what=lambda: f"the re-read; calls: {[c['action'] for c in aws.calls()]}",
    )
    item = RequestItem.objects.get(request=waiting_request)
    assert item.status == ItemStatus.EXECUTING and item.mutation_sent_at is None
    workers.kill(first)
    aws.clear_faults()

    workers.start()
    settle_with_reconciler(waiting_request)

    deregistered_once(aws, waiting_request)
    assert RequestItem.objects.get(request=waiting_request).attempts == 2


def test_a_worker_killed_after_the_aws_call_before_the_record_is_settled_by_reading(
    transactional_db, sandbox_server, workers, waiting_request, approver
):
    aws = sandbox_server
    # A gone image's confirming re-read asks the Recycle Bin: it only happens after the call.
    aws.set_fault("latency", action="ListImagesInRecycleBin", seconds=4)
    first = workers.start()
    approve(approver, waiting_request)
    wait_for(lambda: aws.calls(action="ListImagesInRecycleBin"), what="the confirming re-read")
    workers.kill(first)
    aws.clear_faults()

    workers.start()
    settle_with_reconciler(waiting_request)

    deregistered_once(aws, waiting_request)
    assert RequestItem.objects.get(request=waiting_request).response["reconciled"] is True
