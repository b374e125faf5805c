"""An estate with an image in every combination of states the Overview tells apart.

Two accounts, two Regions each; in every account+Region the same set of images, so that each
Overview number (totals, the Region grid, the account table) counts several kinds at once.
Ages cycle through every age bucket and "no creation date", away from the buckets' edges.
"""

from __future__ import annotations

import datetime
import itertools
from typing import Any

from django.utils import timezone

from inventory.choices import ImageBucket, ImageState
from inventory.models import Image
from tests.factories import create_account, create_image, create_image_usage

ACCOUNTS = (("111122223333", "prod"), ("444455556666", "dev"))
REGIONS = ("us-east-1", "eu-west-1")
AGES = (5, 45, 120, 250, 500, 900, None)  # one per age bucket, then unknown
DAY = datetime.timedelta(days=1)
ORGANIZATION = "arn:aws:organizations::123456789012:organization/o-example"

#: Each kind of image: the fields that make it so, and the Overview bucket it belongs in.
KINDS: dict[str, tuple[dict[str, Any], ImageBucket]] = {
    "available_in_use": ({"in_use": True}, ImageBucket.AVAILABLE),
    "available_unused": ({}, ImageBucket.AVAILABLE),
    "deprecated": ({"deprecation_time": -2 * DAY}, ImageBucket.DEPRECATED),
    "deprecated_in_use": ({"deprecation_time": -30 * DAY, "in_use": True}, ImageBucket.DEPRECATED),
    "deprecation_scheduled": ({"deprecation_time": 10 * DAY}, ImageBucket.AVAILABLE),
    "disabled": ({"state": ImageState.DISABLED}, ImageBucket.DISABLED),
    "deprecated_and_disabled": (
        {"state": ImageState.DISABLED, "deprecation_time": -5 * DAY},
        ImageBucket.DISABLED,
    ),
    "disabled_scheduled": (
        {"state": ImageState.DISABLED, "deprecation_time": 5 * DAY},
        ImageBucket.DISABLED,
    ),
    "public_and_disabled": ({"state": ImageState.DISABLED, "public": True}, ImageBucket.DISABLED),
    "public": ({"public": True}, ImageBucket.AVAILABLE),
    "public_in_use": ({"public": True, "in_use": True}, ImageBucket.AVAILABLE),
    "shared": ({"shared_with": ["999988887777"]}, ImageBucket.AVAILABLE),
    "shared_deprecated": (
        {"shared_with": ["999988887777", ORGANIZATION], "deprecation_time": -3 * DAY},
        ImageBucket.DEPRECATED,
    ),
    "public_and_shared": ({"public": True, "shared_with": ["999988887777"]}, ImageBucket.AVAILABLE),
    "pending": ({"state": ImageState.PENDING}, ImageBucket.OTHER),
    "failed": ({"state": ImageState.FAILED}, ImageBucket.OTHER),
    "failed_deprecated": (
        {"state": ImageState.FAILED, "deprecation_time": -1 * DAY},
        ImageBucket.DEPRECATED,
    ),
    "gone": ({"state": ImageState.DEREGISTERED, "gone_at": -1 * DAY}, ImageBucket.GONE),
    "gone_was_deprecated": (
        {"state": ImageState.DEREGISTERED, "gone_at": -1 * DAY, "deprecation_time": -9 * DAY},
        ImageBucket.GONE,
    ),
    "gone_was_disabled_and_used": (
        {"state": ImageState.DEREGISTERED, "gone_at": -2 * DAY, "in_use": True},
        ImageBucket.GONE,
    ),
}


def build_every_state_estate() -> dict[str, list[Image]]:
    """Create the estate; returns the images of each kind (one per account+Region)."""
    now = timezone.now()
    ages = itertools.cycle(AGES)
    made: dict[str, list[Image]] = {kind: [] for kind in KINDS}
    for (account_id, name), region in itertools.product(ACCOUNTS, REGIONS):
        account = create_account(account_id, name)
        for kind, (fields, _bucket) in KINDS.items():
            made[kind].append(_make(account, region, kind, dict(fields), next(ages), now))
    return made


def _make(account, region: str, kind: str, fields: dict, age: int | None, now) -> Image:
    """One image; times in ``fields`` are offsets from now, ``in_use`` comes from a usage."""
    in_use = fields.pop("in_use", False)
    for key in ("deprecation_time", "gone_at"):
        if key in fields:
            fields[key] = now + fields[key]
    image = create_image(
        account=account, region=region, name=f"{kind}-1.0.{age}", age_days=age, **fields
    )
    if in_use:
        create_image_usage(image)
    return image
