"""Dashboard fixtures: a small known estate built with the factories."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from inventory.choices import ImageState, RegionSyncStatus, SyncStatus, UsageType
from tests.factories import (
    make_account,
    make_image,
    make_region,
    make_sync_run,
    make_usage,
)


@pytest.fixture
def estate(db) -> dict:
    """Two accounts, three Regions, images in every state, usage, a partial sync run."""
    prod = make_account("111122223333", "prod")
    dev = make_account("444455556666", "dev")
    now = timezone.now()
    images = {
        "web_new": make_image(account=prod, name="web-2.0.1", age_days=5, tags={"team": "web"}),
        "web_old": make_image(
            account=prod, name="web-1.0.0", age_days=400, storage_gib=30, tags={"team": "web"}
        ),
        "db_public": make_image(account=prod, name="db-5.7", age_days=200, public=True),
        "db_shared": make_image(
            account=dev, region="eu-west-1", name="db-8.0", age_days=100,
            shared_with=["999988887777"],
        ),
        "batch_deprecated": make_image(
            account=dev,
            region="eu-west-1",
            name="batch-3",
            age_days=120,
            deprecation_time=now - datetime.timedelta(days=2),
        ),
        "legacy_disabled": make_image(
            account=dev, region="ap-south-1", name="legacy-0.9", age_days=900,
            state=ImageState.DISABLED,
        ),
        "old_gone": make_image(
            account=prod, name="web-0.1.0", age_days=800, state=ImageState.DEREGISTERED,
            gone_at=now - datetime.timedelta(days=1),
        ),
    }  # fmt: skip
    make_usage(
        images["web_new"], UsageType.INSTANCE, "i-0123456789abcdef0", detail={"state": "running"}
    )
    make_usage(images["web_new"], UsageType.LAUNCH_TEMPLATE, "lt-0abc", detail={"version": "3"})
    make_usage(images["db_public"], UsageType.AUTOSCALING_GROUP, "asg-db")
    make_region(dev, "me-south-1", opt_in_status="not-opted-in", synced=False)
    run = make_sync_run(
        SyncStatus.PARTIAL,
        results=[
            (prod, "us-east-1", RegionSyncStatus.SUCCEEDED, ""),
            (dev, "eu-west-1", RegionSyncStatus.SUCCEEDED, ""),
            (dev, "ap-south-1", RegionSyncStatus.FAILED, "RequestLimitExceeded: slow down"),
        ],
        images_seen=6,
    )  # fmt: skip
    return {"images": images, "prod": prod, "dev": dev, "run": run}
