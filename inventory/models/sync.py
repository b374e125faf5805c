"""Sync runs and their per account+Region results."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from inventory.choices import FINAL_SYNC_STATES, RegionSyncStatus, SyncStatus, SyncTrigger
from inventory.models.accounts import Account
from inventory.models.querysets import AccountRowQuerySet


class SyncRun(models.Model):
    """One sync of the inventory: a set of account+Region results and their totals."""

    status = models.CharField(max_length=16, choices=SyncStatus.choices, default=SyncStatus.QUEUED)
    trigger = models.CharField(max_length=16, choices=SyncTrigger.choices, default=SyncTrigger.WEB)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sync_runs",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    account_ids = models.JSONField(default=list, blank=True, help_text="Scope; empty = all.")
    regions = models.JSONField(default=list, blank=True, help_text="Scope; empty = all.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    regions_total = models.PositiveIntegerField(default=0)
    regions_succeeded = models.PositiveIntegerField(default=0)
    regions_failed = models.PositiveIntegerField(default=0)
    regions_skipped = models.PositiveIntegerField(default=0)
    images_seen = models.PositiveIntegerField(default=0)
    images_created = models.PositiveIntegerField(default=0)
    images_changed = models.PositiveIntegerField(default=0)
    images_gone = models.PositiveIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    retries = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("sync", "Can start a sync")]
        indexes = [models.Index(fields=["status", "created_at"], name="syncrun_status")]

    def __str__(self) -> str:
        return f"Sync #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINAL_SYNC_STATES

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class SyncRegionResult(models.Model):
    """How one account+Region went within a run; ``skipped`` for Regions not opted in."""

    sync_run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="results")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="sync_results")
    region = models.CharField(max_length=32)
    status = models.CharField(
        max_length=16, choices=RegionSyncStatus.choices, default=RegionSyncStatus.PENDING
    )
    images_seen = models.PositiveIntegerField(default=0)
    images_created = models.PositiveIntegerField(default=0)
    images_changed = models.PositiveIntegerField(default=0)
    images_gone = models.PositiveIntegerField(default=0)
    image_rows_written = models.PositiveIntegerField(default=0)
    usages_seen = models.PositiveIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    retries = models.PositiveIntegerField(default=0)
    duration_seconds = models.FloatField(default=0)
    due_at = models.DateTimeField(
        default=timezone.now, help_text="When the dispatcher may queue this Region's task."
    )
    queued_at = models.DateTimeField(
        null=True, blank=True, help_text="When its task was queued; empty while it waits."
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    objects = AccountRowQuerySet.as_manager()

    class Meta:
        ordering = ["account", "region"]
        constraints = [
            models.UniqueConstraint(
                fields=["sync_run", "account", "region"], name="sync_result_unique"
            )
        ]
        indexes = [
            # The dispatcher's look-up of Regions due and not yet queued (queue_due_regions).
            models.Index(
                fields=["due_at"],
                name="sync_result_due",
                condition=models.Q(status=RegionSyncStatus.PENDING, queued_at__isnull=True),
            ),
            # Its budget (queued in the last minute) and the Regions in flight per account.
            models.Index(fields=["queued_at"], name="sync_result_queued"),
        ]

    def __str__(self) -> str:
        return f"{self.account.account_id}/{self.region}: {self.status}"

    def summary_line(self) -> str:
        """The one line per account+Region that the CLI prints."""
        head = f"{self.account.account_id} {self.region:<16} {self.status:<9}"
        if self.status == RegionSyncStatus.SKIPPED:
            return f"{head} {self.error or 'not opted in'}"
        if self.status == RegionSyncStatus.FAILED:
            return f"{head} {self.error}"
        return (
            f"{head} {self.images_seen} images, {self.images_created} new, "
            f"{self.images_changed} changed, {self.images_gone} gone, {self.usages_seen} usages, "
            f"{self.api_calls} API calls, {self.retries} retries, {self.duration_seconds:.1f}s"
        )


class EstateSnapshot(models.Model):
    """One account's images as they stood when a sync run finished, for the Overview's trend:
    current images, their storage, and the images gone so far. Written once per run from the
    image rollups (``inventory.services.snapshots``), so the trend reads a dozen runs' rows
    instead of rebuilding the past from every image."""

    sync_run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="snapshots")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    images = models.PositiveIntegerField(default=0)
    storage_gib = models.PositiveBigIntegerField(default=0)
    gone = models.PositiveIntegerField(default=0)

    objects = AccountRowQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sync_run", "account"], name="estate_snapshot_unique")
        ]

    def __str__(self) -> str:
        return f"Sync #{self.sync_run_id}, account {self.account_id}: {self.images} images"
