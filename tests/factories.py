"""Plain functions that create inventory rows for dashboard tests (no AWS involved)."""

from __future__ import annotations

import datetime
import itertools
from typing import Any

from django.utils import timezone

from inventory.choices import ImageState, RegionSyncStatus, SyncStatus, UsageType
from inventory.models import (
    Account,
    AccountRegion,
    Image,
    ImageUsage,
    SyncRegionResult,
    SyncRun,
    image_family,
)

_serial = itertools.count(1)


def make_account(account_id: str = "111122223333", name: str = "prod") -> Account:
    account, _ = Account.objects.get_or_create(account_id=account_id, defaults={"name": name})
    return account


def make_region(account: Account, region: str = "us-east-1", **fields: Any) -> AccountRegion:
    account_region, _ = AccountRegion.objects.get_or_create(
        account=account, region=region, defaults=fields
    )
    return account_region


def make_image(
    *,
    account: Account | None = None,
    region: str = "us-east-1",
    name: str | None = None,
    age_days: int | None = 10,
    state: str = ImageState.AVAILABLE,
    **fields: Any,
) -> Image:
    """An image with sensible defaults; any model field can be overridden."""
    account = account or make_account()
    number = next(_serial)
    now = timezone.now()
    name = name if name is not None else f"app-server-1.{number}.0"
    values: dict[str, Any] = {
        "image_id": f"ami-{number:017x}",
        "name": name,
        "family": image_family(name),
        "state": state,
        "creation_date": now - datetime.timedelta(days=age_days) if age_days is not None else None,
        "storage_gib": 8,
        "block_devices": [
            {"device": "/dev/xvda", "snapshot_id": f"snap-{number:017x}", "size_gib": 8,
             "volume_type": "gp3", "encrypted": True}
        ],
        "first_seen_at": now - datetime.timedelta(days=1),
        "last_seen_at": now,
        "architecture": "x86_64",
    }  # fmt: skip
    values.update(fields)
    return Image.objects.create(
        account=account,
        account_region=make_region(account, region),
        region=region,
        **values,
    )


def make_usage(
    image: Image,
    usage_type: str = UsageType.INSTANCE,
    resource_id: str | None = None,
    **fields: Any,
) -> ImageUsage:
    usage = ImageUsage.objects.create(
        image=image,
        image_ref=image.image_id,
        usage_type=usage_type,
        resource_id=resource_id or f"i-{next(_serial):017x}",
        account=image.account,
        region=image.region,
        observed_at=timezone.now(),
        **fields,
    )
    count = image.usages.count()
    Image.objects.filter(pk=image.pk).update(in_use=True, usage_count=count)
    image.in_use, image.usage_count = True, count
    return usage


def make_sync_run(
    status: str = SyncStatus.SUCCEEDED,
    *,
    results: list[tuple[Account, str, str, str]] = (),
    **fields: Any,
) -> SyncRun:
    """A sync run with (account, region, status, error) results."""
    now = timezone.now()
    finished = status in {SyncStatus.SUCCEEDED, SyncStatus.PARTIAL, SyncStatus.FAILED}
    values = {
        "started_at": now - datetime.timedelta(seconds=30),
        "finished_at": now if finished else None,
        "regions_total": len(results),
        "regions_succeeded": sum(1 for r in results if r[2] == RegionSyncStatus.SUCCEEDED),
        "regions_failed": sum(1 for r in results if r[2] == RegionSyncStatus.FAILED),
    }
    values.update(fields)
    run = SyncRun.objects.create(status=status, **values)
    for account, region, region_status, error in results:
        SyncRegionResult.objects.create(
            sync_run=run, account=account, region=region, status=region_status, error=error
        )
    return run
