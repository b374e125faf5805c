"""Who an image is shared with: only DescribeImageAttribute says so, one call per image.

New and changed images get theirs during the sync; the rest are refreshed by a separate, paced
pass (``refresh_launch_permissions``), so a large estate never spends its token buckets at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from inventory.models import AccountRegion, Image
from inventory.services.aws import AWS_ERRORS, AwsSession, describe_error, paced
from inventory.services.images import apply_launch_permissions

logger = logging.getLogger(__name__)

#: The image vanished between the listing and this call: keep what we knew.
MISSING_IMAGE_CODES = {
    "InvalidAMIID.NotFound",
    "InvalidAMIID.Unavailable",
    "InvalidAMIID.Malformed",
}


def shared_with(permissions: list[dict[str, Any]]) -> list[str]:
    """Account ids, organization and OU ARNs from LaunchPermissions ('all' is ``public``)."""
    targets = set()
    for permission in permissions:
        for key in ("UserId", "OrganizationArn", "OrganizationalUnitArn"):
            if permission.get(key):
                targets.add(permission[key])
    return sorted(targets)


@dataclass
class LaunchPermissions:
    """What a round of DescribeImageAttribute calls found, and why it stopped early, if it did."""

    shared_with: dict[str, list[str]] = field(default_factory=dict)
    unchecked: int = 0
    error: str = ""


def fetch_launch_permissions(
    session: AwsSession, region: str, image_ids: list[str], per_second: float | None = None
) -> LaunchPermissions:
    """Launch permissions of each image, one call per image.

    The first AWS error (throttling, denial, ...) stops the round: the images not reached stay
    unchecked and the paced pass does them first. Sharing is not what invariant 1 protects (the
    listing is; docs/architecture.md), so this never fails a Region. ``per_second`` paces the
    calls (the paced pass).
    """
    ec2 = session.client("ec2", region)
    found = LaunchPermissions()
    for position, image_id in paced(image_ids, per_second):
        try:
            response = ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in MISSING_IMAGE_CODES:
                continue
            found.unchecked, found.error = len(image_ids) - position, describe_error(error)
            return found
        except AWS_ERRORS as error:
            found.unchecked, found.error = len(image_ids) - position, describe_error(error)
            return found
        found.shared_with[image_id] = shared_with(response.get("LaunchPermissions", []))
    return found


def images_due(account_region: AccountRegion, limit: int) -> list[Image]:
    """Present images whose launch permissions are older than the configured age."""
    cutoff = timezone.now() - timedelta(hours=settings.LAUNCH_PERMISSIONS_MAX_AGE_HOURS)
    return list(
        Image.objects.current()
        .select_related("account")
        .filter(account_id=account_region.account_id, region=account_region.region)
        .filter(
            Q(launch_permissions_checked_at__isnull=True)
            | Q(launch_permissions_checked_at__lt=cutoff)
        )
        .order_by(F("launch_permissions_checked_at").asc(nulls_first=True), "pk")[:limit]
    )


def refresh_launch_permissions(
    account_region: AccountRegion, limit: int = 500, per_second: float | None = None
) -> int:
    """Refresh up to ``limit`` images' launch permissions, paced; returns how many were checked.

    Every checked image gets its launch permissions and their check time; one whose sharing
    changed since amidash last read it is announced (``image_sharing_changed``), as a sync
    announces what it observed. An AWS error stops the pass and leaves the rest for the next
    one.
    """
    images = images_due(account_region, limit)
    if not images:
        return 0
    per_second = per_second or settings.LAUNCH_PERMISSIONS_PER_SECOND
    try:
        session = AwsSession(account_region.account)
    except AWS_ERRORS as error:
        logger.warning(
            "Launch permissions of %s skipped: %s", account_region, describe_error(error)
        )
        return 0
    found = fetch_launch_permissions(
        session, account_region.region, [i.image_id for i in images], per_second
    )
    if found.error:
        logger.warning("Launch permissions of %s stopped: %s", account_region, found.error)
    with transaction.atomic():
        written = apply_launch_permissions(images, found.shared_with)
        account_region.last_launch_permissions_at = timezone.now()
        account_region.save(update_fields=["last_launch_permissions_at"])
    return len(written)
