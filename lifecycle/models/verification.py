"""Full verifications of the audit chain, run by a worker (see
lifecycle.services.audit_verification): re-hashing every event takes minutes on a large log, too
long for a web request."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditVerification(models.Model):
    """One full verification asked for on the Audit page: its progress while a worker re-hashes
    the chain, then its result.

    The worker reports progress at least every ``PROGRESS_EVERY`` events; a running
    verification that has not reported for ``RUNNING_STALE_AFTER`` (or a queued one no worker took
    within ``QUEUED_STALE_AFTER``) is shown as interrupted, and another may be started.
    """

    #: How many events the worker re-hashes between two progress reports.
    PROGRESS_EVERY = 50_000
    RUNNING_STALE_AFTER = timedelta(minutes=5)
    #: Background work (paced passes of up to 15 minutes) may hold every worker for a while.
    QUEUED_STALE_AFTER = timedelta(minutes=30)

    class State(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        FINISHED = "finished", "finished"
        INTERRUPTED = "interrupted", "interrupted"

    #: A worker has it, or will: not finished nor interrupted (unless stale).
    UNFINISHED = (State.QUEUED, State.RUNNING)

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    requested_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    started_at = models.DateTimeField(null=True, blank=True)
    #: The last progress report of the worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    #: The log's newest event when the worker started: how far the walk has to go (about).
    head_sequence = models.BigIntegerField(null=True, blank=True)
    events_checked = models.BigIntegerField(default=0)
    #: The finished verification's result (lifecycle.services.audit_verification).
    result = models.JSONField(null=True, blank=True)
    #: Why it stopped before finishing, when it did.
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        default_permissions = ()
        verbose_name = "full audit verification"

    def __str__(self) -> str:
        return f"full verification #{self.pk} ({self.state})"

    @property
    def stale(self) -> bool:
        """Queued or running, but its worker is gone (or never came)."""
        now = timezone.now()
        if self.state == self.State.QUEUED:
            return self.requested_at < now - self.QUEUED_STALE_AFTER
        if self.state == self.State.RUNNING:
            return (self.heartbeat_at or self.requested_at) < now - self.RUNNING_STALE_AFTER
        return False

    @property
    def in_progress(self) -> bool:
        return self.state in self.UNFINISHED and not self.stale

    @property
    def interrupted(self) -> bool:
        return self.state == self.State.INTERRUPTED or self.stale

    @property
    def percent(self) -> int:
        """How far the walk is, against the head when it started (events added since count
        too, so it may pass 100 before the end: shown capped)."""
        if not self.head_sequence:
            return 0
        return min(100, self.events_checked * 100 // self.head_sequence)
