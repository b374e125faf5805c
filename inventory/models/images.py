"""Images (AMIs) and what uses them."""

from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from inventory.choices import ImageBucket, ImageState, UsageType
from inventory.models.accounts import Account, AccountRegion
from inventory.models.querysets import (
    AccountRowQuerySet,
    ImageQuerySet,
    age_in_days,
    bucket_of,
)

# A name token that is a version, a date or a build stamp: "1.2.3", "v12", "20240101",
# "2024-01-01T10-00-00Z", "hvm-2.0.20240101.0" (the digit-only parts).
_VERSION_TOKEN = re.compile(r"^(v?\d[\d.]*[a-z]?|\d{8}t?\d*z?|r\d+|build\d+|b\d+)$", re.IGNORECASE)
# Separators, except the underscore of "x86_64" (an architecture, not a version).
_SEPARATORS = re.compile(r"((?:[- /:.]|(?<!x86)_)+)")
# A run of separators left where version tokens were removed: "a--b" is "a-b".
_SEPARATOR_RUN = re.compile(r"([-_ /:.])[-_ /:.]+")


@functools.lru_cache(maxsize=65536)  # copies of an image in other Regions share its name
def image_family(name: str) -> str:
    """The image's family: its name with version, date and build tokens removed.

    ``web-server-1.4.2`` and ``web-server-1.5.0`` are both ``web-server``; ``base 2024-01-15``
    is ``base``. A name made only of versions is its own family.
    """
    stripped = name.strip()
    parts = _SEPARATORS.split(stripped)  # tokens at even positions, separators between them
    parts[::2] = ["" if _VERSION_TOKEN.match(token) else token for token in parts[::2]]
    family = "".join(parts)
    if _SEPARATOR_RUN.search(family):
        family = _SEPARATOR_RUN.sub(_first_group, family)
    return (family.strip("-_ /:.") or stripped)[:255]


def _first_group(match: re.Match) -> str:
    return match.group(1)


class Image(models.Model):
    """An AMI owned by one of the inventoried accounts, as last observed, and its usage summary.

    Rows are never deleted: an image that disappears from a complete listing gets ``gone_at``
    and the state ``deregistered``; the export keeps one record per image ever seen. What its
    states mean (current, deprecated, the Overview's buckets) is defined in ``querysets``.
    """

    # The account is a copy of account_region.account kept for filtering and joins. The database
    # checks account_region only: one foreign-key check per inserted row instead of two. The
    # unique constraint (account, region, image_id) is the index for both: look images of an
    # account+Region up by account and region.
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="images",
        db_index=False,
        db_constraint=False,
    )
    account_region = models.ForeignKey(
        AccountRegion, on_delete=models.PROTECT, related_name="images", db_index=False
    )
    region = models.CharField(max_length=32)
    image_id = models.CharField(max_length=32)
    name = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    family = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=16, choices=ImageState.choices)
    image_type = models.CharField(max_length=16, blank=True)
    image_location = models.CharField(max_length=1024, blank=True)
    creation_date = models.DateTimeField(null=True, blank=True)
    deprecation_time = models.DateTimeField(null=True, blank=True)
    last_launched_time = models.DateTimeField(null=True, blank=True)
    deregistration_protection = models.CharField(
        max_length=64,
        blank=True,
        help_text="As EC2 reports it: disabled, enabled, or the cooldown.",
    )
    public = models.BooleanField(default=False)
    shared_with = models.JSONField(
        default=list,
        blank=True,
        help_text="Launch permissions: account ids, organization and OU ARNs (not 'all').",
    )
    launch_permissions_checked_at = models.DateTimeField(null=True, blank=True)
    source_image_id = models.CharField(max_length=32, blank=True)
    source_image_region = models.CharField(max_length=32, blank=True)
    architecture = models.CharField(max_length=16, blank=True)
    platform = models.CharField(max_length=64, blank=True, help_text="Platform details.")
    virtualization_type = models.CharField(max_length=16, blank=True)
    root_device_type = models.CharField(max_length=16, blank=True)
    root_device_name = models.CharField(max_length=64, blank=True)
    ena_support = models.BooleanField(null=True, blank=True)
    boot_mode = models.CharField(max_length=32, blank=True)
    imds_support = models.CharField(max_length=16, blank=True)
    block_devices = models.JSONField(
        default=list,
        blank=True,
        help_text="[{device, snapshot_id, size_gib, volume_type, encrypted}] from the mappings.",
    )
    storage_gib = models.PositiveIntegerField(default=0)
    tags = models.JSONField(default=dict, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    gone_at = models.DateTimeField(null=True, blank=True)
    in_use = models.BooleanField(default=False)
    usage_count = models.PositiveIntegerField(default=0)
    last_seen_in_use_at = models.DateTimeField(null=True, blank=True)
    # A database default too: the sync inserts rows by COPY, naming only the columns it knows.
    external_usage_count = models.PositiveIntegerField(
        default=0,
        db_default=0,
        help_text="Resources of other accounts using it, per the latest usage report.",
    )
    consumers_reported_at = models.DateTimeField(
        null=True, blank=True, help_text="When the latest available usage report was made."
    )
    fingerprint = models.CharField(
        max_length=32, blank=True, help_text="Digest of the observed fields; unchanged = no write."
    )
    # What the Overview's findings card and the findings filters ask of ``ImageFindings``, kept
    # equal to it by a trigger on the findings table (migration 0016), so that the rollups can
    # count it: critical and high findings of a scanned image (0 when not scanned).
    findings_scanned = models.BooleanField(default=False, db_default=False)
    findings_critical = models.PositiveIntegerField(default=0, db_default=0)
    findings_high = models.PositiveIntegerField(default=0, db_default=0)

    objects = ImageQuerySet.as_manager()

    class Meta:
        ordering = ["-creation_date", "image_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "region", "image_id"], name="image_account_region_unique"
            )
        ]
        # Every index costs each inserted row (a first sync may insert 100,000): the ones on
        # mostly-alike values are partial, covering the rare rows the filters look for.
        indexes = [
            models.Index(fields=["image_id"], name="image_image_id"),
            models.Index(
                fields=["state"], name="image_state_rare", condition=~models.Q(state="available")
            ),
            models.Index(fields=["region"], name="image_region"),
            models.Index(fields=["creation_date"], name="image_creation_date"),
            models.Index(fields=["last_launched_time"], name="image_last_launched"),
            models.Index(fields=["deprecation_time"], name="image_deprecation_time"),
            models.Index(fields=["in_use", "creation_date"], name="image_in_use"),
            models.Index(
                fields=["public"], name="image_public_only", condition=models.Q(public=True)
            ),
            models.Index(
                fields=["findings_critical"],
                name="image_critical_findings",
                condition=models.Q(findings_critical__gt=0),
            ),
            models.Index(
                fields=["gone_at"],
                name="image_gone_only",
                condition=models.Q(gone_at__isnull=False),
            ),
            models.Index(fields=["family"], name="image_family"),
            # With the id: storage sizes repeat a lot, and a keyset page orders by (size, id).
            models.Index(fields=["storage_gib", "id"], name="image_storage_id"),
            models.Index(fields=["name"], name="image_name"),
            # Partial: most images are not copies, and the image page looks up an image's copies.
            models.Index(
                fields=["source_image_id"],
                name="image_source_image",
                condition=~models.Q(source_image_id=""),
            ),
            GinIndex(fields=["tags"], name="image_tags"),
        ]

    def __str__(self) -> str:
        return f"{self.image_id} ({self.name})" if self.name else self.image_id

    @property
    def is_gone(self) -> bool:
        """No longer listed (``ImageQ.gone``)."""
        return self.gone_at is not None

    @property
    def is_deprecated(self) -> bool:
        """Its deprecation time has passed, whatever its state (``ImageQ.deprecated``)."""
        return self.is_deprecated_at(timezone.now())

    def is_deprecated_at(self, now: datetime) -> bool:
        """Deprecated at ``now``: a deprecation time still in the future is not deprecated yet."""
        return self.deprecation_time is not None and self.deprecation_time <= now

    @property
    def is_disabled(self) -> bool:
        """EC2 reports it disabled (``ImageQ.disabled``)."""
        return self.state == ImageState.DISABLED

    @property
    def is_shared(self) -> bool:
        """Launch permissions name other accounts or organizations (``ImageQ.shared``)."""
        return bool(self.shared_with)

    def is_usage_unknown_at(self, now: datetime) -> bool:
        """Public or shared without a recent usage report (``ImageQ.usage_unknown``)."""
        if not (self.public or self.shared_with):
            return False
        cutoff = now - timedelta(hours=settings.CONSUMER_REPORT_MAX_AGE_HOURS)
        return self.consumers_reported_at is None or self.consumers_reported_at < cutoff

    @property
    def is_usage_unknown(self) -> bool:
        return self.is_usage_unknown_at(timezone.now())

    @property
    def bucket(self) -> ImageBucket:
        """Where the Overview counts the image now (``ImageQ.bucket``): disabled wins over
        deprecated, and both over available."""
        return bucket_of(self, timezone.now())

    @property
    def is_protected(self) -> bool:
        """Deregistration protection in force: enabled, or disabled but still in its cooldown
        (EC2 reports ``disabled-until <time>`` then)."""
        value = self.deregistration_protection
        if value.startswith("enabled"):
            return True
        if value.startswith("disabled-until "):
            until = parse_datetime(value.removeprefix("disabled-until ").strip())
            return until is not None and until > timezone.now()
        return False

    @property
    def age_days(self) -> int | None:
        """Whole UTC calendar days since creation, ``age_in_days`` (None when EC2 gave no
        creation date)."""
        if self.creation_date is None:
            return None
        return age_in_days(self.creation_date, timezone.now())

    @property
    def days_since_launch(self) -> int | None:
        if self.last_launched_time is None:
            return None
        return max((timezone.now() - self.last_launched_time).days, 0)

    @property
    def monthly_cost(self) -> Decimal:
        """Estimated snapshot storage cost in USD per month at AMIDASH_STORAGE_PRICE_PER_GB_MONTH.

        An upper bound: snapshots are incremental and may be shared by several images.
        """
        price = Decimal(str(settings.STORAGE_PRICE_PER_GB_MONTH))
        return (price * self.storage_gib).quantize(Decimal("0.01"))

    @property
    def snapshot_ids(self) -> list[str]:
        return [d["snapshot_id"] for d in self.block_devices if d.get("snapshot_id")]

    def seen_at(self) -> datetime:
        """When the image was last seen: its Region's last complete listing while it exists."""
        if self.gone_at is None and self.account_region.last_listed_at:
            return max(self.last_seen_at, self.account_region.last_listed_at)
        return self.last_seen_at


def in_use_sql(internal: str, external: str) -> str:
    """SQL for the one rule of ``Image.in_use``: something in the inventoried accounts uses the
    image (``internal`` counts it), or another account does (``external``, per the latest usage
    report). The sync and the consumer store both write the flag with it."""
    return f"(({internal}) > 0 OR ({external}) > 0)"


class ImageUsage(models.Model):
    """A resource that uses an image, seen in one account+Region.

    ``image_ref`` is the AMI id the resource names; ``image`` links it when that image is in the
    inventory (a resource in one account may use an image shared from another one).
    """

    image = models.ForeignKey(
        Image, on_delete=models.CASCADE, null=True, blank=True, related_name="usages"
    )
    image_ref = models.CharField(max_length=32)
    usage_type = models.CharField(max_length=32, choices=UsageType.choices)
    resource_id = models.CharField(max_length=255)
    resource_name = models.CharField(max_length=255, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="usages")
    region = models.CharField(max_length=32)
    observed_at = models.DateTimeField()

    objects = AccountRowQuerySet.as_manager()

    class Meta:
        ordering = ["usage_type", "resource_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "region", "image_ref", "usage_type", "resource_id"],
                name="image_usage_unique",
            )
        ]
        indexes = [
            models.Index(fields=["region", "image_ref"], name="usage_region_image"),
            models.Index(fields=["account", "region"], name="usage_account_region"),
        ]

    def __str__(self) -> str:
        return f"{self.get_usage_type_display()} {self.resource_id} uses {self.image_ref}"
