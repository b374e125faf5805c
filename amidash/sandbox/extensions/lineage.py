"""GetImageAncestry: an AMI's chain of source images, from the image back to its origin.

moto lacks the call. A copy (CopyImage) records the image and Region it was copied from
(``source_image_id`` / ``source_image_region``, set by the images extension); the chain follows
those links across Regions and accounts until an image has no source, or its source no longer
exists (the last entry then still names its missing parent). Each entry carries ``ImageId``,
``SourceImageId``, ``SourceImageRegion``, ``CreationDate`` and ``ImageOwnerAlias``, as the
ImageAncestryEntry shape of the EC2 API reference has them. The call is not paginated.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.models.amis import Ami

from amidash.sandbox.extensions.common import aws_timestamp, parse_timestamp
from amidash.sandbox.extensions.images import find_image, visible_image

#: A cycle cannot happen in AWS (a copy is always newer than its source); a bound all the same.
MAX_DEPTH = 100


def ancestry_entry(image: Ami) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "ImageId": image.id,
        "CreationDate": aws_timestamp(parse_timestamp(image.creation_date)),
    }
    if image.source_image_id:
        entry["SourceImageId"] = image.source_image_id
        entry["SourceImageRegion"] = image.source_image_region
    if image.owner_alias:
        entry["ImageOwnerAlias"] = image.owner_alias
    return entry


def image_ancestry(image: Ami) -> list[dict[str, Any]]:
    """The image's entry, then its source's, and so on back to the root."""
    entries = [ancestry_entry(image)]
    seen = {image.id}
    while image.source_image_id and len(entries) < MAX_DEPTH:
        parent = find_image(image.source_image_region or "", image.source_image_id)
        if parent is None or parent.id in seen:
            break
        entries.append(ancestry_entry(parent))
        seen.add(parent.id)
        image = parent
    return entries


def get_image_ancestry(self: Any) -> ActionResult:
    image = visible_image(self.ec2_backend, self._get_param("ImageId"))
    self.error_on_dryrun()
    return ActionResult({"ImageAncestryEntries": image_ancestry(image)})


def install() -> None:
    from moto.ec2.responses.amis import AmisResponse

    AmisResponse.get_image_ancestry = get_image_ancestry
