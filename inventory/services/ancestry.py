"""Each image's ancestors (GetImageAncestry), read for new and changed copies during the sync.

An image whose DescribeImages answer names no SourceImageId has no known source: it is the root
of its lineage and costs no call. For a copy, GetImageAncestry gives the whole chain back to the
root (docs/architecture.md, AWS behaviours). Where the call fails (an endpoint without it, a role
without the permission, throttling), the image's own SourceImageId and SourceImageRegion still
give its parent. Ancestry is not what invariant 1 protects: it never fails a Region.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from inventory.models import Image, ImageAncestry
from inventory.services.aws import AWS_ERRORS, AwsSession, describe_error
from inventory.services.listing import parse_time

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ancestor:
    """An ancestor of an image as GetImageAncestry (or the image's own source) names it."""

    image_id: str
    region: str
    creation_date: datetime | None = None
    owner_alias: str = ""


def fetch_ancestry(
    session: AwsSession, region: str, images: list[dict[str, Any]]
) -> dict[str, list[Ancestor]]:
    """Image id -> ancestors (parent first) of the copies among ``images``.

    The first failed call stops the calls: the remaining copies keep just their parent.
    """
    ec2 = session.client("ec2", region)
    found: dict[str, list[Ancestor]] = {}
    failed = False
    for image in images:
        if not image.get("SourceImageId"):
            continue
        ancestors: list[Ancestor] = []
        if not failed:
            try:
                answer = ec2.get_image_ancestry(ImageId=image["ImageId"])
                ancestors = _ancestors(answer.get("ImageAncestryEntries") or [])
            except AWS_ERRORS as error:
                logger.warning("GetImageAncestry in %s stopped: %s", region, describe_error(error))
                failed = True
        # An empty or failed answer: the copy's own source is its parent all the same.
        found[image["ImageId"]] = ancestors or [
            Ancestor(image["SourceImageId"], image.get("SourceImageRegion") or region)
        ]
    return found


def _ancestors(entries: list[dict[str, Any]]) -> list[Ancestor]:
    """The entries after the image's own, as Ancestors; a chain whose root is gone ends with
    the missing parent the last entry names."""
    ancestors = [
        Ancestor(
            entry["ImageId"],
            previous.get("SourceImageRegion", ""),
            parse_time(entry.get("CreationDate")),
            entry.get("ImageOwnerAlias") or "",
        )
        for previous, entry in itertools.pairwise(entries)
    ]
    last = entries[-1] if entries else {}
    if last.get("SourceImageId"):
        ancestors.append(Ancestor(last["SourceImageId"], last.get("SourceImageRegion", "")))
    return ancestors


def save_ancestry(
    account_id: int, region: str, ancestry: dict[str, list[Ancestor]], now: datetime
) -> int:
    """Replace the ancestry rows of the given images of one account+Region; returns rows."""
    if not ancestry:
        return 0
    images = Image.objects.pks_by_image_id(account_id, region, ancestry)
    ImageAncestry.objects.filter(image_id__in=images.values()).delete()
    rows = [
        ImageAncestry(
            image_id=images[image_id],
            position=position,
            ancestor_image_id=ancestor.image_id,
            ancestor_region=ancestor.region,
            creation_date=ancestor.creation_date,
            owner_alias=ancestor.owner_alias[:32],
            observed_at=now,
        )
        for image_id, ancestors in ancestry.items()
        if image_id in images
        for position, ancestor in enumerate(ancestors, start=1)
    ]
    ImageAncestry.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
