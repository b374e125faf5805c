"""Applying observations of images to the inventory, and announcing them: inventory alone writes
image rows and sends what it observed.

An image is observed by a sync's listing (written in bulk by ``save_listing``) or by a worker
re-reading it around a lifecycle action. Whichever it was, the rows are written by inventory's
services and the change is announced the same way, one ``images_observed`` signal carrying an
ImageObservation per change, so the audit log records a sync's and a worker's observation alike
and no other app needs to know how an image row is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from amidash.locks import sync_lock
from inventory import signals
from inventory.choices import ImageState
from inventory.models import AccountRegion, Image, SyncRun
from inventory.observations import ObservedImage
from inventory.services.listing import fingerprint
from inventory.services.upsert import LISTED_FIELDS, Listed, image_fields, upsert_images
from inventory.signals import ImageObservation


def announce(
    observations: list[ImageObservation],
    *,
    source: str,
    actor: AbstractBaseUser | None = None,
    sync_run: SyncRun | None = None,
) -> None:
    """Send what was observed as one ``images_observed`` signal (none when nothing changed)."""
    if observations:
        signals.images_observed.send(
            Image, observations=observations, sync_run=sync_run, actor=actor, source=source
        )


def apply_observation(
    image: Image,
    observed: ObservedImage,
    *,
    source: str,
    actor: AbstractBaseUser | None = None,
    sync_run: SyncRun | None = None,
    shared_with: list[str] | None = None,
) -> ObservedImage:
    """Write what AWS now shows of an inventoried image into its row, and announce the change.

    An image DescribeImages described gets every listed field (and is present again if it was
    gone); a gone one is marked deregistered and keeps the time it was first found gone.
    ``shared_with`` replaces the launch permissions of an image still there when the caller
    knows them (DisableImage removes them all). Call inside the transaction that records why.
    Returns the row as it is now observed.
    """
    before = None if image.is_gone else ObservedImage.from_row(image)
    if observed.is_gone:
        _write_gone(image, observed.gone_at or timezone.now())
    else:
        _write_described(image, observed, shared_with, timezone.now())
    after = ObservedImage.from_row(image)
    announce(signals.observations(before, after), source=source, actor=actor, sync_run=sync_run)
    return after


def _write_gone(image: Image, at: datetime) -> None:
    image.state, image.gone_at = ImageState.DEREGISTERED, image.gone_at or at
    image.save(update_fields=["state", "gone_at"])


def _write_described(
    image: Image, observed: ObservedImage, shared_with: list[str] | None, now: datetime
) -> None:
    if observed.described is None:
        raise ValueError(f"{observed.image_id}: only what DescribeImages said can be written")
    for name, value in image_fields(observed.described).items():
        setattr(image, name, value)
    image.gone_at, image.last_seen_at = None, now
    image.fingerprint = fingerprint(observed.described)
    written = [*LISTED_FIELDS, "gone_at", "last_seen_at", "fingerprint"]
    if shared_with is not None:
        image.shared_with = shared_with
        written.append("shared_with")
    image.save(update_fields=written)


def apply_launch_permissions(
    images: list[Image],
    checked: Mapping[str, list[str]],
    *,
    source: str = "sync",
    sync_run: SyncRun | None = None,
) -> list[Image]:
    """Write the launch permissions just read (``checked``, by image id) into these images'
    rows, with the time they were checked, and announce each image whose sharing changed
    (``image_sharing_changed``). Returns the rows written (the images ``checked`` names).

    Only who an image is shared with is read here; whether it is public is the listing's to
    say, so a sync observes that. Call inside a transaction.
    """
    now = timezone.now()
    written, observations = [], []
    # Read again, locked: a sync may have written these rows while the calls were paced.
    current = (
        Image.objects.select_related("account")
        .select_for_update(of=("self",))
        .filter(pk__in=[image.pk for image in images if image.image_id in checked])
        .order_by("pk")
    )
    for image in current:
        if image.is_gone:
            continue
        before = ObservedImage.from_row(image)
        image.shared_with = sorted(checked[image.image_id])
        image.launch_permissions_checked_at = now
        observations += signals.observations(before, ObservedImage.from_row(image))
        written.append(image)
    Image.objects.bulk_update(
        written, ["shared_with", "launch_permissions_checked_at"], batch_size=500
    )
    announce(observations, source=source, sync_run=sync_run)
    return written


def add_images(
    account_region: AccountRegion,
    observed: list[ObservedImage],
    *,
    source: str,
    actor: AbstractBaseUser | None = None,
    sync_run: SyncRun | None = None,
) -> bool:
    """Add images found outside a sync (copies a worker made) to their account+Region, from
    what DescribeImages said of them, and announce them. Returns whether they were added.

    Not while a sync of that account+Region writes its listing: the sync copies the images it
    found new straight into the table, so a row added meanwhile would clash with its COPY. That
    sync adds them itself, or the next one does.
    """
    described = [image.described for image in observed if image.described is not None]
    account_id, region = account_region.account.account_id, account_region.region
    with sync_lock(account_id, region) as free:
        if not free:
            return False
        existing = {
            image.image_id: image
            for image in Image.objects.filter(
                account_id=account_region.account_id,
                region=region,
                image_id__in=[data["ImageId"] for data in described],
            ).select_related("account")
        }
        fields = upsert_images(account_region, described, timezone.now())
        observations, _created = listed_observations(account_region, described, fields, existing)
        announce(observations, source=source, actor=actor, sync_run=sync_run)
    return True


def listed_observations(
    account_region: AccountRegion,
    written: list[dict[str, Any]],
    fields: dict[str, Listed],
    existing: dict[str, Image],
    permissions: Mapping[str, list[str]] | None = None,
) -> tuple[list[ImageObservation], int]:
    """What the written images announce against their rows as they were before (``existing``),
    and how many of them appeared (new, or back).

    ``permissions`` are the launch permissions read with the listing: an image without them
    keeps those of its row, so only its public flag can show a change of its sharing.
    """
    account_id, region = account_region.account.account_id, account_region.region
    permissions = permissions or {}
    observations: list[ImageObservation] = []
    created = 0
    for data in written:
        image_id = data["ImageId"]
        old = existing.get(image_id)
        before = ObservedImage.from_row(old) if old and not old.is_gone else None
        shared = permissions.get(image_id, before.shared_with if before else None)
        after = ObservedImage.from_listed(
            image_id, account_id, region, fields[image_id], shared_with=shared
        )
        created += before is None
        observations += signals.observations(before, after)
    return observations, created
