"""The overview's queries: estate figures by state, age, Region and account, cleanup
candidates, the trend of recent sync runs and the latest run's failures."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import BigIntegerField, Count, Q, Sum, Value

from inventory.choices import ImageBucket, RegionSyncStatus
from inventory.models.querysets import AGE_BUCKETS, ImageQ, deprecation_day_range
from inventory.models.rollups import (
    DEPRECATION_GRAIN,
    required_rollup_condition,
    rollup_condition,
)

# --- Overview -----------------------------------------------------------------------------------

TREND_RUNS = 12
#: The state buckets the Overview counts itself; "other" is what remains of the current images.
COUNTED_BUCKETS = (ImageBucket.AVAILABLE, ImageBucket.DEPRECATED, ImageBucket.DISABLED)


@dataclass
class EstateFigures:
    """The overview's numbers: estate totals, one row per Region and one per account."""

    totals: dict[str, Any]
    regions: list[dict[str, Any]]
    accounts: list[dict[str, Any]]


#: What a figure sums: images (a count) or their storage in GiB.
IMAGES, STORAGE = "images", "storage_gib"


def _conditions(now: datetime.datetime, cleanup_days: int) -> dict[str, tuple[str, Q]]:
    """The figures counted in the database: name -> (what is summed, which images, as ImageQ
    conditions); the others are derived from these (see _derive)."""
    current = ImageQ.current()
    cleanup = ImageQ.cleanup_candidates(now, cleanup_days)
    conditions: dict[str, tuple[str, Q]] = {
        f"state_{bucket.value}": (IMAGES, ImageQ.bucket(bucket, now))
        for bucket in (*COUNTED_BUCKETS, ImageBucket.GONE)
    }
    conditions |= {
        "current": (IMAGES, current),
        "in_use_count": (IMAGES, current & ImageQ.in_use()),
        "public_count": (IMAGES, current & ImageQ.public()),
        "shared_count": (IMAGES, current & ImageQ.shared()),
        "public_unused_count": (IMAGES, current & ImageQ.public() & ImageQ.unused()),
        "storage_total": (STORAGE, current),
        "cleanup_count": (IMAGES, cleanup),
        "cleanup_gib": (STORAGE, cleanup),
        "findings_scanned": (IMAGES, current & ImageQ.scanned()),
        "findings_critical": (IMAGES, current & ImageQ.critical_findings()),
        "findings_high": (IMAGES, current & ImageQ.scanned() & ImageQ.high_findings()),
    }
    for index, (_label, low, high) in enumerate(AGE_BUCKETS):
        conditions[f"age_{index}"] = (IMAGES, current & ImageQ.aged(now, low, high))
    return conditions


def _rollup_aggregates(conditions: dict[str, tuple[str, Q]]) -> dict[str, Any]:
    """The figures as filtered sums over rollup rows."""
    return {
        name: Sum(measure, filter=required_rollup_condition(condition)[1], default=0)
        for name, (measure, condition) in conditions.items()
    }


def _deprecated_today_aggregates(conditions: dict[str, tuple[str, Q]]) -> dict[str, Any]:
    """The figures summed from the deprecation grain, as filtered aggregates over the image rows
    whose deprecation day is today (the rollups leave those out); 0 for the other figures."""
    aggregates: dict[str, Any] = {}
    for name, (measure, condition) in conditions.items():
        if required_rollup_condition(condition)[0] != DEPRECATION_GRAIN:
            aggregates[name] = Value(0, output_field=BigIntegerField())
        elif measure == IMAGES:
            aggregates[name] = Count("pk", filter=condition)
        else:
            aggregates[name] = Sum("storage_gib", filter=condition, default=0)
    return aggregates


def _derive(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures that follow from the counted ones."""
    current = figures["current"]
    figures["unused_count"] = current - figures["in_use_count"]
    figures["state_other"] = current - sum(
        figures[f"state_{bucket.value}"] for bucket in COUNTED_BUCKETS
    )
    figures["age_unknown"] = current - sum(
        figures[f"age_{index}"] for index in range(len(AGE_BUCKETS))
    )
    return figures


def _groups(now: datetime.datetime, cleanup_days: int, user: Any) -> list[dict[str, Any]]:
    """The figures per account and Region: the rollups, except those whose deprecation day is
    today, plus the images deprecated today counted one by one (an indexed range), whose
    deprecation the exact time decides."""
    from inventory.models import Image, ImageRollup

    conditions = _conditions(now, cleanup_days)
    start, end = deprecation_day_range(now)
    rollups = (
        ImageRollup.objects.visible_to(user)
        .exclude(deprecation_day=start.date())
        .values("account_id", "region")
        .annotate(**_rollup_aggregates(conditions))
        .order_by()
    )
    today = (
        Image.objects.visible_to(user)
        .filter(deprecation_time__gte=start, deprecation_time__lt=end)
        .values("account_id", "region")
        .annotate(**_deprecated_today_aggregates(conditions))
        .order_by()
    )
    return list(rollups.union(today, all=True))  # one query


def estate_figures(now: datetime.datetime, cleanup_days: int, user: Any) -> EstateFigures:
    """All of the overview's image figures, of the accounts ``user`` may see, from the image
    rollups (inventory.models.rollups; the image list applies the same scope and the same
    ImageQ conditions, so every figure equals its list).

    The rollups are summed by account and Region (a few dozen groups however many images there
    are); the estate totals, the Region grid and the account table are sums of those groups.
    """
    from inventory.models import Account

    groups = _groups(now, cleanup_days, user)
    keys = [key for key in groups[0] if key not in ("account_id", "region")] if groups else []
    totals = dict.fromkeys(keys, 0)
    regions: dict[str, dict[str, Any]] = {}
    accounts: dict[int, dict[str, Any]] = {}
    for row in groups:
        sums = [(key, int(row[key])) for key in keys if row[key]]
        if not sums:
            continue  # rollup rows whose images all changed key or were deleted
        account = accounts.setdefault(row["account_id"], dict.fromkeys(keys, 0))
        region = regions.setdefault(
            row["region"], {"region": row["region"]} | dict.fromkeys(keys, 0)
        )
        for key, value in sums:
            totals[key] += value
            account[key] += value
            region[key] += value
    if not keys:
        totals = dict.fromkeys(_conditions(now, cleanup_days), 0)
    for pk, account_id, name in Account.objects.filter(pk__in=accounts).values_list(
        "pk", "account_id", "name"
    ):
        accounts[pk] |= {"account__account_id": account_id, "account__name": name}
    return EstateFigures(
        totals=_derive(totals),
        regions=[_derive(regions[name]) for name in sorted(regions)],
        accounts=sorted(
            (_derive(account) for account in accounts.values()),
            key=lambda a: (a["account__name"], a["account__account_id"]),
        ),
    )


def current_images_by_account(user: Any) -> dict[int, int]:
    """How many current images each account ``user`` may see holds (its list's total), from the
    rollups."""
    from inventory.models import ImageRollup

    rows = (
        ImageRollup.objects.visible_to(user)
        .filter(required_rollup_condition(ImageQ.current())[1])
        .values("account_id")
        .annotate(images=Sum("images"))
        .order_by()
    )
    return {row["account_id"]: int(row["images"]) for row in rows}


def image_list_total(conditions: Q, now: datetime.datetime, user: Any) -> int | None:
    """The exact number of images of ``user``'s accounts that meet ``conditions`` (the image
    list's filters), from the rollups; None when a filter is not in the rollup key (a name, a
    tag...), and the list counts its rows instead."""
    from inventory.models import Image, ImageRollup

    mapped = rollup_condition(conditions)
    if mapped is None:
        return None
    grain, on_rollups = mapped
    start, end = deprecation_day_range(now)
    rolled = (
        ImageRollup.objects.visible_to(user)
        .exclude(deprecation_day=start.date())
        .filter(on_rollups)
        .aggregate(images=Sum("images", default=0))["images"]
    )
    if grain != DEPRECATION_GRAIN:
        return int(rolled)
    today = (
        Image.objects.visible_to(user)
        .filter(conditions, deprecation_time__gte=start, deprecation_time__lt=end)
        .count()
    )
    return int(rolled) + today


def findings_summary(totals: dict[str, Any]) -> dict[str, int]:
    """The Overview's findings card, from its estate ``totals`` (the rollups): of the current
    images, those with critical and with high findings, scanned, and not scanned (unknown, never
    counted as clean)."""
    return {
        "critical": totals["findings_critical"],
        "high": totals["findings_high"],
        "scanned": totals["findings_scanned"],
        "not_scanned": totals["current"] - totals["findings_scanned"],
    }


def recent_runs(limit: int = TREND_RUNS) -> list[Any]:
    """The last finished sync runs, oldest first, for the trend chart."""
    from inventory.models import SyncRun

    runs = SyncRun.objects.filter(finished_at__isnull=False).order_by("-finished_at")[:limit]
    return list(reversed(runs))


def trend_points(runs: list[Any], user: Any) -> list[dict[str, Any]]:
    """The estate of the accounts ``user`` may see as it stood when each run finished: images
    present, their storage, images gone so far; summed from the runs' estate snapshots (one
    query, whatever the number of images)."""
    from inventory.models import EstateSnapshot

    if not runs:
        return []
    sums = {
        row["sync_run_id"]: row
        for row in EstateSnapshot.objects.visible_to(user)
        .filter(sync_run__in=runs)
        .values("sync_run_id")
        .annotate(present=Sum("images"), storage=Sum("storage_gib"), gone=Sum("gone"))
        .order_by()
    }
    empty = {"present": 0, "storage": 0, "gone": 0}
    return [
        {"run": run, **{key: int(sums.get(run.pk, empty)[key]) for key in empty}} for run in runs
    ]


def latest_run_with_failures(user: Any) -> tuple[Any, list[Any]]:
    """The most recent sync run and its failed account+Region results in the accounts ``user``
    may see (two queries)."""
    from inventory.models import SyncRun

    run = SyncRun.objects.order_by("-created_at").first()
    if run is None:
        return None, []
    failed = list(
        run.results.visible_to(user)
        .filter(status=RegionSyncStatus.FAILED)
        .select_related("account")
        .order_by("account", "region")
    )
    return run, failed
