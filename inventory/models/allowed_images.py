"""Allowed AMIs as the sync last read them: each account+Region's setting and the images its
instances run (DescribeInstanceImageMetadata)."""

from __future__ import annotations

from django.db import models

from inventory.allowed_images import ImageFacts
from inventory.choices import AllowedImagesManagedBy, AllowedImagesState


class AllowedImagesSetting(models.Model):
    """GetAllowedImagesSettings of one account+Region."""

    account_region = models.OneToOneField(
        "inventory.AccountRegion", on_delete=models.CASCADE, related_name="allowed_images"
    )
    state = models.CharField(
        max_length=16, choices=AllowedImagesState.choices, default=AllowedImagesState.DISABLED
    )
    managed_by = models.CharField(
        max_length=24,
        choices=AllowedImagesManagedBy.choices,
        default=AllowedImagesManagedBy.ACCOUNT,
    )
    criteria = models.JSONField(default=list, blank=True)
    observed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.account_region}: {self.state}"

    @property
    def is_on(self) -> bool:
        return self.state != AllowedImagesState.DISABLED

    @property
    def is_policy_managed(self) -> bool:
        return self.managed_by == AllowedImagesManagedBy.DECLARATIVE_POLICY


class InstanceImage(models.Model):
    """One instance of an account+Region and the image it was launched from, which may belong
    to another account (public, shared, Amazon's) and is then not in the image inventory."""

    account_region = models.ForeignKey(
        "inventory.AccountRegion", on_delete=models.CASCADE, related_name="instance_images"
    )
    instance_id = models.CharField(max_length=32)
    instance_state = models.CharField(max_length=16, blank=True)
    image_id = models.CharField(max_length=32)
    image_name = models.CharField(max_length=255, blank=True)
    image_owner_id = models.CharField(max_length=12, blank=True)
    image_owner_alias = models.CharField(max_length=32, blank=True)
    image_creation_date = models.DateTimeField(null=True, blank=True)
    image_deprecation_time = models.DateTimeField(null=True, blank=True)
    image_allowed = models.BooleanField(
        null=True, blank=True, help_text="ImageAllowed as AWS reported it (audit mode, enabled)."
    )
    observed_at = models.DateTimeField()

    class Meta:
        ordering = ["account_region", "instance_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account_region", "instance_id"], name="instance_image_unique"
            )
        ]
        indexes = [models.Index(fields=["image_id"], name="instance_image_image")]

    def __str__(self) -> str:
        return f"{self.instance_id} ({self.image_id})"

    @property
    def facts(self) -> ImageFacts:
        return ImageFacts(
            image_id=self.image_id,
            owner_id=self.image_owner_id,
            name=self.image_name,
            creation_date=self.image_creation_date,
            owner_alias=self.image_owner_alias,
            deprecation_time=self.image_deprecation_time,
        )
