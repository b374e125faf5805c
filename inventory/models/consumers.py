"""Consumers outside the inventoried accounts: who else uses an image, per AMI usage report.

Only the image's owner can ask EC2 (CreateImageUsageReport) how other accounts use it, and the
answer is a snapshot: ``ConsumerReport`` records each report amidash asked for, ``ImageConsumer``
the accounts the latest available report found, with their counts. The image keeps the total
(``Image.external_usage_count``) and when it was reported (``Image.consumers_reported_at``), so
"in use" and "usage unknown" are conditions on the image row (``ImageQ``).
"""

from __future__ import annotations

from django.db import models

from inventory.choices import ConsumerReportStatus
from inventory.models.images import Image


class ConsumerReport(models.Model):
    """One AMI usage report amidash asked EC2 for, and what became of it."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="consumer_reports")
    report_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=16, choices=ConsumerReportStatus.choices, default=ConsumerReportStatus.PENDING
    )
    requested_at = models.DateTimeField()
    requested_by = models.CharField(
        max_length=150, blank=True, help_text="Who asked; empty for the paced pass."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        indexes = [models.Index(fields=["image", "-requested_at"], name="consumer_report_image")]

    def __str__(self) -> str:
        return f"usage report {self.report_id or '(not created)'} of {self.image_id}"


class ImageConsumer(models.Model):
    """An account outside the owner that the latest report found using the image."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="consumers")
    account_id = models.CharField(max_length=12)
    instances = models.PositiveIntegerField(default=0)
    launch_templates = models.PositiveIntegerField(default=0)
    reported_at = models.DateTimeField()

    class Meta:
        ordering = ["account_id"]
        constraints = [
            models.UniqueConstraint(fields=["image", "account_id"], name="image_consumer_unique")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} uses {self.image_id}"

    @property
    def total(self) -> int:
        return self.instances + self.launch_templates
