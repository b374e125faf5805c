"""Fixtures for the inventory tests: the sandbox, the signals a sync sends, a known estate."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from amidash.sandbox import sandbox
from inventory.choices import ImageState, RegionSyncStatus, SyncStatus, UsageType
from tests.amidash.sandbox.images import OTHER_REGION, REGION
from tests.factories import (
    create_account,
    create_account_region,
    create_image,
    create_image_usage,
    create_sync_run,
)


@pytest.fixture
def aws(settings):
    """The sandbox, in-process, with the sync limited to two Regions to keep tests quick."""
    settings.SYNC_REGIONS = [REGION, OTHER_REGION]
    with sandbox() as handle:
        yield handle


@pytest.fixture
def observed_signals():
    """Every inventory domain signal sent during the test, as (name, kwargs)."""
    from inventory import signals

    sent: list[tuple[str, dict[str, Any]]] = []
    names = ["image_appeared", "image_state_changed", "image_deprecation_changed", "image_gone"]
    receivers = {}
    for name in [*names, "sync_finished"]:

        def receiver(sender: Any, _name: str = name, **kwargs: Any) -> None:
            sent.append((_name, kwargs))

        receivers[name] = receiver
        getattr(signals, name).connect(receiver, weak=False)
    names_of = {getattr(signals, name): name for name in names}

    def batch(sender: Any, observations: list[Any], **kwargs: Any) -> None:
        for item in observations:
            sent.append((names_of[item.signal], {**kwargs, "image": item, **vars(item)}))

    signals.images_observed.connect(batch, weak=False)
    yield sent
    signals.images_observed.disconnect(batch)
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


@pytest.fixture
def estate(db) -> dict:
    """Two accounts, three Regions, images in every state, usage, a partial sync run."""
    prod = create_account("111122223333", "prod")
    dev = create_account("444455556666", "dev")
    now = timezone.now()
    images = {
        "web_new": create_image(account=prod, name="web-2.0.1", age_days=5, tags={"team": "web"}),
        "web_old": create_image(
            account=prod, name="web-1.0.0", age_days=400, storage_gib=30, tags={"team": "web"}
        ),
        "db_public": create_image(account=prod, name="db-5.7", age_days=200, public=True),
        "db_shared": create_image(
            account=dev, region="eu-west-1", name="db-8.0", age_days=100,
            shared_with=["999988887777"],
        ),
        "batch_deprecated": create_image(
            account=dev,
            region="eu-west-1",
            name="batch-3",
            age_days=120,
            deprecation_time=now - datetime.timedelta(days=2),
        ),
        "legacy_disabled": create_image(
            account=dev, region="ap-south-1", name="legacy-0.9", age_days=900,
            state=ImageState.DISABLED,
        ),
        "old_gone": create_image(
            account=prod, name="web-0.1.0", age_days=800, state=ImageState.DEREGISTERED,
            gone_at=now - datetime.timedelta(days=1),
        ),
    }  # fmt: skip
    create_image_usage(
        images["web_new"], UsageType.INSTANCE, "i-0123456789abcdef0", detail={"state": "running"}
    )
    create_image_usage(
        images["web_new"], UsageType.LAUNCH_TEMPLATE, "lt-0abc", detail={"version": "3"}
    )
    create_image_usage(images["db_public"], UsageType.AUTOSCALING_GROUP, "asg-db")
    create_account_region(dev, "me-south-1", opt_in_status="not-opted-in", synced=False)
    run = create_sync_run(
        SyncStatus.PARTIAL,
        results=[
            (prod, "us-east-1", RegionSyncStatus.SUCCEEDED, ""),
            (dev, "eu-west-1", RegionSyncStatus.SUCCEEDED, ""),
            (dev, "ap-south-1", RegionSyncStatus.FAILED, "RequestLimitExceeded: slow down"),
        ],
        images_seen=6,
    )  # fmt: skip
    return {"images": images, "prod": prod, "dev": dev, "run": run}
