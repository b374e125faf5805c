"""An image's lineage: the ancestors GetImageAncestry named and the images copied from it.

The image page draws it as a family tree; the deregister preview warns about current
descendants; the policy rule ``keep.newest_per_lineage`` groups images by their root
(``ImageQuerySet.with_lineage_root``). Rows are ``ImageAncestry`` (filled by the sync); an image
synced before its ancestry was read still names its parent in ``source_image_id``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from inventory.models import Image

#: The most descendants the page draws (a golden image copied to every Region of 50 accounts
#: has a few hundred); the rest are counted.
MAX_DESCENDANTS = 200


@dataclass
class FamilyNode:
    """One image of the tree: in the inventory (``image``) or known only by id."""

    image_id: str
    region: str
    image: Image | None = None
    is_current_page: bool = False
    children: list[FamilyNode] = field(default_factory=list)


@dataclass
class FamilyTree:
    root: FamilyNode
    ancestors: int
    descendants: int
    more: int = 0  # descendants beyond MAX_DESCENDANTS, not drawn


def descendants_of(image: Image, visible: QuerySet[Image]) -> QuerySet[Image]:
    """The images of ``visible`` copied from the image, directly or through other copies.

    The two ways to be one (an ancestry row naming the image, or the copy's own source) are
    looked up apart, each on its index: one condition OR-ing them over the join made
    PostgreSQL read every image (seconds at a million)."""
    from inventory.models import ImageAncestry

    through_ancestry = ImageAncestry.objects.filter(ancestor_image_id=image.image_id)
    direct = Image.objects.filter(source_image_id=image.image_id)
    pks = {
        *through_ancestry.values_list("image_id", flat=True),
        *direct.values_list("pk", flat=True),
    }
    pks.discard(image.pk)
    return visible.filter(pk__in=pks)


def current_descendants(images: list[Image]) -> dict[str, list[str]]:
    """Image id -> ids of its descendants still listed (not gone), of any account: what the
    deregister preview warns about (two queries for any number of images)."""
    ids = {image.image_id for image in images}
    found: dict[str, set[str]] = defaultdict(set)
    current = Image.objects.current()
    through_ancestry = current.filter(ancestry__ancestor_image_id__in=ids).values_list(
        "ancestry__ancestor_image_id", "image_id"
    )
    direct = current.filter(source_image_id__in=ids).values_list("source_image_id", "image_id")
    for ancestor_id, image_id in [*through_ancestry, *direct]:
        if image_id != ancestor_id:
            found[ancestor_id].add(image_id)
    return {image_id: sorted(descendants) for image_id, descendants in found.items()}


def lineage_roots() -> dict[int, str]:
    """pk -> lineage root image id of every current copy (an image that is no copy is the root
    of its own lineage). One query over the copies, which are few, naming no image."""
    copies = Image.objects.current().exclude(source_image_id="").with_lineage_root()
    return dict(copies.values_list("pk", "lineage_root"))


def ancestor_chain(image: Image) -> list[tuple[str, str]]:
    """(image id, Region) of the image's ancestors, parent first, root last."""
    rows = list(
        image.ancestry.order_by("position").values_list("ancestor_image_id", "ancestor_region")
    )
    if not rows and image.source_image_id:
        rows = [(image.source_image_id, image.source_image_region)]
    return rows


def family_tree(image: Image, user: Any) -> FamilyTree:
    """The image's root, the chain down to it, and every descendant below it (five queries).
    Images outside ``user``'s accounts show as ids only."""
    visible = Image.objects.visible_to(user).select_related("account")
    chain = ancestor_chain(image)
    found = list(
        descendants_of(image, visible).order_by("creation_date", "image_id")[: MAX_DESCENDANTS + 1]
    )
    known = {i.image_id: i for i in visible.filter(image_id__in=[i for i, _ in chain])}
    node = FamilyNode(image.image_id, image.region, image, is_current_page=True)
    _attach_descendants(node, found[:MAX_DESCENDANTS])
    for ancestor_id, region in chain:  # build upwards: parent first
        node = FamilyNode(ancestor_id, region, known.get(ancestor_id), children=[node])
    more = max(len(found) - MAX_DESCENDANTS, 0)
    return FamilyTree(node, len(chain), len(found[:MAX_DESCENDANTS]) + more, more)


def _attach_descendants(top: FamilyNode, descendants: list[Image]) -> None:
    """Hang each descendant under its parent (its source image); an orphan (its parent not
    visible) hangs under the top."""
    by_parent: dict[str, list[Image]] = defaultdict(list)
    ids = {d.image_id for d in descendants}
    for descendant in descendants:
        parent = descendant.source_image_id if descendant.source_image_id in ids else top.image_id
        by_parent[parent].append(descendant)
    pending = [top]
    while pending:
        node = pending.pop()
        for child in by_parent.pop(node.image_id, []):
            child_node = FamilyNode(child.image_id, child.region, child)
            node.children.append(child_node)
            pending.append(child_node)
