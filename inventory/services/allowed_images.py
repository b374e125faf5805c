"""Allowed AMIs: reading each account+Region's setting and its instances' images, and the
compliance view and simulator over what was read (the rule: ``inventory.allowed_images``).

The sync reads GetAllowedImagesSettings and DescribeInstanceImageMetadata after a Region's
images; a failure of either leaves what was stored before and is noted on the Region's result,
never failing the image listing. Pages and the simulator read PostgreSQL only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.postgres.aggregates import ArrayAgg
from django.db import transaction
from django.db.models import Case, Count, F, Max, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Concat
from django.utils import timezone

from inventory.allowed_images import ImageFacts, image_allowed
from inventory.choices import AllowedImagesState
from inventory.models import AccountRegion, AllowedImagesSetting, InstanceImage
from inventory.services.aws import AWS_ERRORS, AwsSession, describe_error
from inventory.services.listing import PAGE_SIZE, parse_time

BATCH = 1000
#: Disallowed images a simulation lists (its totals cover them all).
SHOWN = 200


# --- reading AWS ------------------------------------------------------------------------------


@dataclass
class AllowedImagesReading:
    """One account+Region's setting and its instances, as AWS answered."""

    setting: dict[str, Any]
    instances: list[dict[str, Any]]


def read_allowed_images(session: AwsSession, region: str) -> AllowedImagesReading:
    ec2 = session.client("ec2", region)
    setting = ec2.get_allowed_images_settings()
    instances: list[dict[str, Any]] = []
    token = None
    while True:
        page = ec2.describe_instance_image_metadata(
            MaxResults=PAGE_SIZE, **({"NextToken": token} if token else {})
        )
        instances += page.get("InstanceImageMetadata", [])
        token = page.get("NextToken")
        if not token:
            return AllowedImagesReading(setting, instances)


# --- storing ----------------------------------------------------------------------------------


def _instance_row(
    account_region: AccountRegion, entry: dict[str, Any], now: datetime
) -> InstanceImage:
    image = entry.get("ImageMetadata") or {}
    return InstanceImage(
        account_region=account_region,
        instance_id=entry["InstanceId"],
        instance_state=(entry.get("State") or {}).get("Name", ""),
        image_id=image.get("ImageId", ""),
        image_name=(image.get("Name") or "")[:255],
        image_owner_id=image.get("OwnerId", ""),
        image_owner_alias=image.get("ImageOwnerAlias", ""),
        image_creation_date=parse_time(image.get("CreationDate")),
        image_deprecation_time=parse_time(image.get("DeprecationTime")),
        image_allowed=image.get("ImageAllowed"),
        observed_at=now,
    )


def save_setting(
    account_region: AccountRegion, setting: dict[str, Any], now: datetime
) -> AllowedImagesSetting:
    stored, _ = AllowedImagesSetting.objects.update_or_create(
        account_region=account_region,
        defaults={
            "state": setting.get("State", AllowedImagesState.DISABLED),
            "managed_by": setting.get("ManagedBy", "account"),
            "criteria": setting.get("ImageCriteria", []),
            "observed_at": now,
        },
    )
    return stored


def save_allowed_images(
    account_region: AccountRegion, reading: AllowedImagesReading, now: datetime | None = None
) -> int:
    """Store the setting and make the Region's instance images exactly the observed ones;
    returns how many instances were stored."""
    now = now or timezone.now()
    rows = {e["InstanceId"]: _instance_row(account_region, e, now) for e in reading.instances}
    fields = [f.name for f in InstanceImage._meta.concrete_fields if f.name not in ("id",)]
    update_fields = [f for f in fields if f not in ("account_region", "instance_id")]
    with transaction.atomic():
        save_setting(account_region, reading.setting, now)
        InstanceImage.objects.filter(account_region=account_region).exclude(
            instance_id__in=list(rows)
        ).delete()
        batch = list(rows.values())
        for start in range(0, len(batch), BATCH):
            InstanceImage.objects.bulk_create(
                batch[start : start + BATCH],
                update_conflicts=True,
                unique_fields=["account_region", "instance_id"],
                update_fields=update_fields,
            )
    return len(rows)


def sync_allowed_images(session: AwsSession, account_region: AccountRegion) -> str:
    """Read and store one account+Region's Allowed AMIs; "" or what went wrong (then nothing
    stored changes)."""
    try:
        reading = read_allowed_images(session, account_region.region)
    except AWS_ERRORS as error:
        return f"Allowed AMIs not read: {describe_error(error)}"
    save_allowed_images(account_region, reading)
    return ""


# --- compliance and the simulator ---------------------------------------------------------------


@dataclass
class ImageVerdict:
    """One image that instances of one account run, and its instances."""

    account_id: str
    region: str
    image_id: str
    name: str
    owner: str
    instances: list[str] = field(default_factory=list)
    #: Allowed under the Region's current setting (or not restricted there): the criteria
    #: judged would newly disallow it.
    newly: bool = False


@dataclass
class Simulation:
    """What the criteria would disallow, of the images instances run now."""

    criteria: list[dict[str, Any]]
    regions: int = 0
    images_checked: int = 0
    instances_checked: int = 0
    #: Totals over every account+Region and image disallowed (``disallowed`` lists the first).
    disallowed_images: int = 0
    disallowed_instances: int = 0
    newly_disallowed_images: int = 0
    disallowed: list[ImageVerdict] = field(default_factory=list)
    newly_disallowed: set[tuple[str, str, str]] = field(default_factory=set)


def settings_in_scope(user: Any) -> QuerySet[AllowedImagesSetting]:
    return (
        AllowedImagesSetting.objects.filter(
            account_region__in=AccountRegion.objects.visible_to(user)
        )
        .select_related("account_region__account")
        .order_by("account_region__account__account_id", "account_region__region")
    )


def _image_facts(account_regions: list[int]) -> dict[str, ImageFacts]:
    """The facts of every image the Regions' instances run, one row per image."""
    rows = (
        InstanceImage.objects.filter(account_region_id__in=account_regions)
        .values("image_id")
        .annotate(
            name=Max("image_name"),
            owner_id=Max("image_owner_id"),
            owner_alias=Max("image_owner_alias"),
            created=Max("image_creation_date"),
            deprecated=Max("image_deprecation_time"),
        )
        .iterator(chunk_size=BATCH)
    )
    return {
        row["image_id"]: ImageFacts(
            image_id=row["image_id"],
            owner_id=row["owner_id"],
            name=row["name"],
            creation_date=row["created"],
            owner_alias=row["owner_alias"],
            deprecation_time=row["deprecated"],
        )
        for row in rows
    }


def _disallowed(
    criteria: list[dict[str, Any]], images: dict[str, ImageFacts], now: datetime
) -> list[str]:
    """The images the criteria disallow for an account that does not own them (whether the
    account owns one is asked in SQL: its own images are never restricted)."""
    return [i for i, facts in images.items() if not image_allowed(criteria, facts, "", now)]


def _current_condition(
    settings: dict[int, AllowedImagesSetting], images: dict[str, ImageFacts], now: datetime
) -> Q:
    """Instances whose image their Region's own setting disallows (Regions grouped by
    criteria, so each set of criteria judges each image once)."""
    groups: dict[str, list[int]] = {}
    for pk, setting in settings.items():
        if setting.is_on:
            groups.setdefault(json.dumps(setting.criteria, sort_keys=True), []).append(pk)
    condition = Q(pk__in=[])
    for key, pks in groups.items():
        ids = _disallowed(json.loads(key), images, now)
        condition |= Q(account_region_id__in=pks, image_id__in=ids)
    return condition


def evaluate(
    settings: Iterable[AllowedImagesSetting],
    criteria: list[dict[str, Any]] | None = None,
    now: datetime | None = None,
    limit: int = SHOWN,
) -> Simulation:
    """Which images instances run would be disallowed: under ``criteria`` in every Region, or
    (None) under each Region's own criteria where Allowed AMIs is on. Each image is judged once
    per set of criteria, the instances counted in PostgreSQL; the first ``limit`` account+Region
    and image pairs are listed. A verdict is ``newly`` when the Region's current setting allows
    the image."""
    now = now or timezone.now()
    by_pk = {s.account_region_id: s for s in settings}
    if criteria is None:
        by_pk = {pk: s for pk, s in by_pk.items() if s.is_on}
    images = _image_facts(list(by_pk))
    current = _current_condition(by_pk, images, now)
    target = current if criteria is None else Q(image_id__in=_disallowed(criteria, images, now))
    instances = InstanceImage.objects.filter(account_region_id__in=list(by_pk))
    result = Simulation(criteria=criteria or [], regions=len(by_pk))
    checked = instances.aggregate(
        instances=Count("pk"),
        pairs=Count(Concat("account_region_id", Value(" "), "image_id"), distinct=True),
    )
    result.instances_checked, result.images_checked = checked["instances"], checked["pairs"]
    pairs = (
        instances.exclude(image_owner_id=F("account_region__account__account_id"))
        .filter(target)
        .values("account_region_id", "image_id")
        .annotate(count=Count("pk"), current=Max(Case(When(current, then=1), default=0)))
    )
    totals = pairs.aggregate(
        images=Count("image_id"),
        instances=Sum("count"),
        newly=Count("image_id", filter=Q(current=0)),
    )
    result.disallowed_images = totals["images"] or 0
    result.disallowed_instances = totals["instances"] or 0
    result.newly_disallowed_images = totals["newly"] or 0
    shown = pairs.annotate(instances=ArrayAgg("instance_id", order_by="instance_id"))
    for row in shown.order_by("account_region_id", "image_id")[:limit]:
        setting, facts = by_pk[row["account_region_id"]], images[row["image_id"]]
        _add_verdict(result, setting, facts, row["instances"], newly=not row["current"])
    return result


def _add_verdict(
    result: Simulation,
    setting: AllowedImagesSetting,
    facts: ImageFacts,
    instances: list[str],
    newly: bool,
) -> None:
    account_id = setting.account_region.account.account_id
    region = setting.account_region.region
    result.disallowed.append(
        ImageVerdict(
            account_id,
            region,
            facts.image_id,
            facts.name,
            facts.owner_alias or facts.owner_id,
            instances=instances,
            newly=newly,
        )
    )
    if newly:
        result.newly_disallowed.add((account_id, region, facts.image_id))
