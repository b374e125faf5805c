"""The overview's queries: estate figures by state, age, Region and account, cleanup
candidates, the trend of recent sync runs and the latest run's failures."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from inventory.choices import FindingsStatus, ImageBucket, RegionSyncStatus
from inventory.models.querysets import AGE_BUCKETS, ImageQ

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


def _aggregates(now: datetime.datetime, cleanup_days: int) -> dict[str, Any]:
    """The figures counted in the database, as filtered aggregates of one scan; the rest of
    FIGURE_KEYS is derived from these (see _derive)."""
    from django.db.models import Count, Sum

    current = ImageQ.current()
    cleanup = ImageQ.cleanup_candidates(now, cleanup_days)
    aggregates: dict[str, Any] = {
        f"state_{bucket.value}": Count("pk", filter=ImageQ.bucket(bucket, now))
        for bucket in (*COUNTED_BUCKETS, ImageBucket.GONE)
    }
    aggregates |= {
        "current": Count("pk", filter=current),
        "in_use_count": Count("pk", filter=current & ImageQ.in_use()),
        "public_count": Count("pk", filter=current & ImageQ.public()),
        "shared_count": Count("pk", filter=current & ImageQ.shared()),
        "public_unused_count": Count("pk", filter=current & ImageQ.public() & ImageQ.unused()),
        "storage_total": Sum("storage_gib", filter=current, default=0),
        "cleanup_count": Count("pk", filter=cleanup),
        "cleanup_gib": Sum("storage_gib", filter=cleanup, default=0),
    }
    for index, (_label, low, high) in enumerate(AGE_BUCKETS):
        aggregates[f"age_{index}"] = Count("pk", filter=current & ImageQ.aged(now, low, high))
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


def estate_figures(now: datetime.datetime, cleanup_days: int, user: Any) -> EstateFigures:
    """All of the overview's image figures, of the accounts ``user`` may see, from ONE scan of
    the image table (the image list applies the same scope, so every figure equals its list).

    The scan groups by account and Region (a few dozen groups however many images there are);
    the estate totals, the Region grid and the account table are sums of those groups.
    """
    from inventory.models import Account, Image

    aggregates = _aggregates(now, cleanup_days)
    keys = list(aggregates)
    rows = (
        Image.objects.visible_to(user)
        .values("account_id", "region")
        .annotate(**aggregates)
        .order_by()
    )
    totals = dict.fromkeys(keys, 0)
    regions: dict[str, dict[str, Any]] = {}
    accounts: dict[int, dict[str, Any]] = {}
    for row in rows:
        region = regions.setdefault(
            row["region"], {"region": row["region"]} | dict.fromkeys(keys, 0)
        )
        account = accounts.setdefault(row["account_id"], dict.fromkeys(keys, 0))
        for key in keys:
            totals[key] += row[key]
            region[key] += row[key]
            account[key] += row[key]
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


def findings_summary(user: Any, current: int) -> dict[str, int]:
    """The Overview's findings card: of the ``current`` images of ``user``'s accounts, those
    with critical and with high findings, scanned, and not scanned (unknown, never counted as
    clean). One aggregate over the findings table (only images with findings rows), kept apart
    from the estate scan."""
    from django.db.models import Count

    from inventory.models import Image, ImageFindings

    images = Image.objects.visible_to(user).filter(ImageQ.current())
    scanned = ImageFindings.objects.filter(
        image__in=images.values("pk"), status=FindingsStatus.SCANNED
    )
    figures = scanned.aggregate(
        scanned=Count("pk"),
        critical=Count("pk", filter=Q(critical__gt=0)),
        high=Count("pk", filter=Q(high__gt=0)),
    )
    figures["not_scanned"] = current - figures["scanned"]
    return figures


def recent_runs(limit: int = TREND_RUNS) -> list[Any]:
    """The last finished sync runs, oldest first, for the trend chart."""
    from inventory.models import SyncRun

    runs = SyncRun.objects.filter(finished_at__isnull=False).order_by("-finished_at")[:limit]
    return list(reversed(runs))


def trend_points(runs: list[Any], user: Any) -> list[dict[str, Any]]:
    """The estate of the accounts ``user`` may see as it stood when each run finished: images
    present, their storage, images gone so far. Rebuilt from first_seen_at and gone_at in one
    scan (2 aggregates per run)."""
    from django.db.models import Count, Sum

    from inventory.models import Image

    if not runs:
        return []
    aggregates: dict[str, Any] = {}
    for index, run in enumerate(runs):
        moment = run.finished_at
        present = Q(first_seen_at__lte=moment) & (ImageQ.current() | Q(gone_at__gt=moment))
        aggregates[f"present_{index}"] = Count("pk", filter=present)
        aggregates[f"storage_{index}"] = Sum("storage_gib", filter=present, default=0)
        aggregates[f"gone_{index}"] = Count("pk", filter=Q(gone_at__lte=moment))
    figures = Image.objects.visible_to(user).aggregate(**aggregates)
    return [
        {
            "run": run,
            "present": figures[f"present_{index}"],
            "storage": figures[f"storage_{index}"],
            "gone": figures[f"gone_{index}"],
        }
        for index, run in enumerate(runs)
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
