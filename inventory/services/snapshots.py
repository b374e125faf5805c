"""The estate as each sync run left it: one snapshot row per account, summed from the image
rollups when the run finishes (the Overview's trend reads them)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, Sum

from inventory.models import EstateSnapshot, ImageQ, ImageRollup, SyncRun
from inventory.models.rollups import required_rollup_condition


def _on_flags(condition: Q) -> Q:
    return required_rollup_condition(condition)[1]  # current and gone: the flags grain


def record_estate_snapshot(sync_run: SyncRun) -> None:
    """Snapshot every account's current images, their storage and its gone images now (once per
    run: a second call changes nothing)."""
    current = _on_flags(ImageQ.current())
    rows = (
        ImageRollup.objects.filter(_on_flags(Q()))
        .values("account_id")
        .annotate(
            present=Sum("images", filter=current, default=0),
            storage=Sum("storage_gib", filter=current, default=0),
            gone_images=Sum("images", filter=_on_flags(ImageQ.gone()), default=0),
        )
        .order_by()
    )
    snapshots = [
        EstateSnapshot(
            sync_run=sync_run,
            account_id=row["account_id"],
            images=row["present"],
            storage_gib=row["storage"],
            gone=row["gone_images"],
        )
        for row in rows
        if row["present"] or row["gone_images"]
    ]
    EstateSnapshot.objects.bulk_create(snapshots, ignore_conflicts=True)


def snapshot_when_finished(sender: Any, *, sync_run: SyncRun, **kwargs: Any) -> None:
    """``sync_finished`` receiver."""
    record_estate_snapshot(sync_run)
