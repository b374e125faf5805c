"""Where an image comes from and what is wrong with it: its ancestry and its Inspector findings."""

from __future__ import annotations

from django.db import models

from inventory.choices import FindingSeverity, FindingsStatus
from inventory.models.images import Image


class ImageAncestry(models.Model):
    """One ancestor of an image, as GetImageAncestry names it: position 1 is the image it was
    copied (or created) from, the highest position its root.

    An image without rows has no known source: it is the root of its own lineage. Descendants
    of an image are the rows naming it as ``ancestor_image_id``.
    """

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="ancestry")
    position = models.PositiveSmallIntegerField()
    ancestor_image_id = models.CharField(max_length=32)
    ancestor_region = models.CharField(max_length=32, blank=True)
    creation_date = models.DateTimeField(null=True, blank=True)
    owner_alias = models.CharField(max_length=32, blank=True)
    observed_at = models.DateTimeField()

    class Meta:
        ordering = ["image", "position"]
        constraints = [
            models.UniqueConstraint(fields=["image", "position"], name="image_ancestry_unique")
        ]
        indexes = [models.Index(fields=["ancestor_image_id"], name="ancestry_ancestor")]

    def __str__(self) -> str:
        return f"{self.ancestor_image_id} is ancestor {self.position} of image {self.image_id}"


class ImageFindings(models.Model):
    """An image's Amazon Inspector findings counted by severity (GetImageFindings).

    ``status`` says whether they could be read at all: an image not scanned has unknown counts,
    shown as "not scanned", never as zero.
    """

    image = models.OneToOneField(Image, on_delete=models.CASCADE, related_name="findings")
    status = models.CharField(max_length=16, choices=FindingsStatus.choices)
    reason = models.CharField(max_length=255, blank=True, help_text="Why it was not scanned.")
    critical = models.PositiveIntegerField(default=0)
    high = models.PositiveIntegerField(default=0)
    medium = models.PositiveIntegerField(default=0)
    low = models.PositiveIntegerField(default=0)
    informational = models.PositiveIntegerField(default=0)
    checked_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(
                fields=["critical"], name="findings_critical", condition=models.Q(critical__gt=0)
            )
        ]

    def __str__(self) -> str:
        return f"findings of image {self.image_id}: {self.get_status_display()}"

    @property
    def is_scanned(self) -> bool:
        return self.status == FindingsStatus.SCANNED

    @property
    def counts(self) -> dict[str, int]:
        """Severity (as Inspector spells it) -> count, from critical to informational."""
        return {s.value: getattr(self, s.value) for s in FindingSeverity}

    @property
    def by_severity(self) -> list[tuple[str, int]]:
        """(label, count) from critical to informational."""
        return [(s.label, getattr(self, s.value)) for s in FindingSeverity]

    @property
    def total(self) -> int:
        return sum(count for _, count in self.by_severity)
