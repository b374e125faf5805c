"""Two real Celery worker processes on one Redis share one sync and one request, and nothing runs
twice: more workers is how amidash scales (README, "Scaling").

The workers reach the test database, a dedicated Redis database (queues of this test only) and
a sandbox server, as in tests/lifecycle/test_tasks.py, whose fixtures this module uses. Each
worker runs one task at a time (``-c 1``) and every listing takes two seconds (a latency fault):
Regions that were listed at overlapping times were listed by different processes.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
from django.db.models import Count

from amidash.celery import app
from inventory.choices import RegionSyncStatus, SyncStatus
from inventory.models import SyncRun
from inventory.services.sync import start_sync
from lifecycle.choices import RequestStatus
from lifecycle.models import AuditEvent, LifecycleRequest
from tests.amidash.sandbox.images import register_image
from tests.factories import approve, ask, sync
from tests.lifecycle.test_tasks import (  # noqa: F401 (fixtures)
    queue,
    sandbox_process,
    sandbox_server,
    wait_for,
    workers,
)

pytestmark = [pytest.mark.integration]

REGIONS = ["us-east-1", "eu-west-1", "us-west-2", "ap-south-1", "eu-central-1", "sa-east-1"]


def _overlapping(run: SyncRun) -> bool:
    """Did two Regions of the run sync at the same time (so in two worker processes)?"""
    spans = sorted(run.results.values_list("started_at", "finished_at"))
    return any(later_start < end for (_, end), (later_start, _) in pairwise(spans))


def _listings(aws: Any) -> dict[str, int]:
    """Full listings (DescribeImages without image ids) per Region."""
    calls = aws.calls(action="DescribeImages")
    counts: dict[str, int] = {}
    for call in calls:
        if not call["params"].get("ImageIds") and not call["params"].get("ImageId"):
            counts[call["region"]] = counts.get(call["region"], 0) + 1
    return counts


def test_two_workers_share_a_sync_and_a_request_and_run_nothing_twice(
    transactional_db,
    sandbox_server,  # noqa: F811 (the fixture imported above)
    workers,  # noqa: F811
    requester,
    approver,
    settings,
):
    aws = sandbox_server
    settings.SYNC_REGIONS = REGIONS
    workers.env["AMIDASH_SYNC_REGIONS"] = ",".join(REGIONS)
    for region in REGIONS:
        for n in range(3):
            register_image(aws, f"app-{n}", region)
    old = [register_image(aws, f"old-build-{n}", "us-west-2") for n in range(2)]
    sync(regions=["us-west-2"])
    request = ask(requester, "deregister", old)
    aws.clear_calls()
    aws.set_fault("latency", action="DescribeImages", seconds=2)
    workers.start()
    workers.start()
    wait_for(lambda: len(app.control.ping(timeout=1)) == 2, timeout=90, what="two workers up")

    # The audit log is append-only: events of earlier tests on this database stay, so only
    # what this run announces is counted below.
    before = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first()
    run = start_sync(None, source="web")
    approve(approver, request)

    def finished() -> bool:
        done = SyncRun.objects.get(pk=run.pk).is_finished
        return done and LifecycleRequest.objects.get(pk=request.pk).status in (
            RequestStatus.SUCCEEDED,
            RequestStatus.FAILED,
        )

    wait_for(finished, timeout=180, what="the sync and the request to finish")
    run.refresh_from_db()
    assert run.status == SyncStatus.SUCCEEDED
    assert set(run.results.values_list("region", "status")) == {
        (region, RegionSyncStatus.SUCCEEDED) for region in REGIONS
    }
    assert LifecycleRequest.objects.get(pk=request.pk).status == RequestStatus.SUCCEEDED
    assert _overlapping(run), "the Regions were listed one after the other: one worker did all"
    assert _listings(aws) == dict.fromkeys(REGIONS, 1)  # each Region listed once
    deregistered = [call["params"]["ImageId"] for call in aws.calls(action="DeregisterImage")]
    assert sorted(deregistered) == sorted(old)  # each image once
    appeared = AuditEvent.objects.filter(verb="image.appeared", sequence__gt=before or 0).values(
        "target_id"
    )
    assert not appeared.annotate(n=Count("sequence")).filter(n__gt=1).exists()
