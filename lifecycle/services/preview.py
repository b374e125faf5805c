"""What a request would do to each image: its blast radius, shown before anyone approves.

Usage comes from the inventory (the last complete listing) and, for public and shared images,
from the latest AMI usage report (other accounts, ``inventory.services.consumers``; a missing or
old report is "usage unknown", which the guard refuses like usage unless overridden). Recycle Bin
coverage is read from the account+Region's retention rules, once per account+Region (a failure
says "unknown", it never blocks). The preview is stored on each item so approvers see exactly
what the requester saw.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from inventory.lineage import current_descendants
from inventory.models import Image, ImageConsumer, ImageUsage
from inventory.observations import ObservedImage
from inventory.services.aws import AWS_ERRORS, AwsSession, describe_error
from lifecycle.actions import ACTIONS, ActionSpec

#: The usage type of another account's use, in approvals: ``external:<account id>``.
EXTERNAL = "external"


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


@dataclass
class ImagePreview:
    """The blast radius of the action on one image."""

    image_pk: int
    image_id: str
    name: str
    account_id: str
    region: str
    state: str
    usage: list[dict[str, str]] = field(default_factory=list)
    recycle_bin: str = ""
    protected: bool = False
    public: bool = False
    shared_with: list[str] = field(default_factory=list)
    consumers: list[dict[str, Any]] = field(default_factory=list)
    consumers_reported_at: str = ""
    usage_unknown: bool = False
    descendants: list[str] = field(default_factory=list)
    undo: str = ""
    blocked: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def in_use(self) -> bool:
        """Something in the inventory, or another account per the usage report, uses it."""
        return bool(self.usage) or bool(self.consumers)

    @property
    def needs_override(self) -> bool:
        """What a guarded action refuses without the request's override (invariant 5)."""
        return self.in_use or self.usage_unknown

    def all_usage(self) -> list[dict[str, str]]:
        """The inventory's usage and one ``external`` entry per consuming account: what the
        approval binds (``observed_state``)."""
        external = [{"type": EXTERNAL, "id": c["account_id"]} for c in self.consumers]
        return self.usage + external

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"in_use": self.in_use}


def observed_state(image: Image, usage: list[dict[str, str]]) -> dict[str, Any]:
    """The image as the request saw it; bound into the fingerprint and compared at execution."""
    return ObservedImage.from_row(image).to_approval(f"{u['type']}:{u['id']}" for u in usage)


def usage_by_image(images: Iterable[Image]) -> dict[int, list[dict[str, str]]]:
    """What uses each image, per the inventory (one query)."""
    images = list(images)
    refs = {(image.region, image.image_id): image.pk for image in images}
    found: dict[int, list[dict[str, str]]] = defaultdict(list)
    rows = ImageUsage.objects.filter(
        region__in={r for r, _ in refs}, image_ref__in={i for _, i in refs}
    ).order_by("usage_type", "resource_id")
    for usage in rows:
        pk = refs.get((usage.region, usage.image_ref))
        if pk is not None:
            found[pk].append({"type": usage.usage_type, "id": usage.resource_id})
    return found


def consumers_by_image(images: Iterable[Image]) -> dict[int, list[dict[str, Any]]]:
    """Other accounts using each image, per its latest usage report (one query)."""
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rows = ImageConsumer.objects.filter(image__in=[image.pk for image in images])
    for consumer in rows.order_by("account_id"):
        found[consumer.image_id].append(
            {
                "account_id": consumer.account_id,
                "instances": consumer.instances,
                "launch_templates": consumer.launch_templates,
            }
        )
    return found


def recycle_bin_rules(session: AwsSession, region: str) -> list[dict[str, Any]]:
    """The EC2 image retention rules of one account+Region, with their tags."""
    rbin = session.client("rbin", region)
    rules = []
    for page in rbin.get_paginator("list_rules").paginate(ResourceType="EC2_IMAGE"):
        for summary in page.get("Rules", []):
            rules.append(rbin.get_rule(Identifier=summary["Identifier"]))
    return rules


def rule_covers(rule: dict[str, Any], tags: dict[str, str]) -> bool:
    """Would this retention rule keep a deregistered image with these tags?"""

    def matches(tag: dict[str, str]) -> bool:
        key, value = tag.get("ResourceTagKey"), tag.get("ResourceTagValue")
        return key in tags and (value in (None, "") or tags[key] == value)

    if rule.get("ResourceTags"):
        return any(matches(tag) for tag in rule["ResourceTags"])
    return not any(matches(tag) for tag in rule.get("ExcludeResourceTags") or [])


def describe_recycle_bin(
    rules: list[dict[str, Any]] | str, tags: dict[str, str], undo: str
) -> tuple[str, str]:
    """What the Recycle Bin would do with the deregistered image, and what would undo it.

    ``rules`` is the account+Region's retention rules, or why they could not be read; then the
    undo stays the action's general ``undo``, for nobody knows whether deregistering would be
    final.
    """
    if isinstance(rules, str):
        return f"unknown ({rules})", undo
    for rule in rules:
        if rule_covers(rule, tags):
            days = rule.get("RetentionPeriod", {}).get("RetentionPeriodValue")
            return (
                f"retained {days} days by rule {rule['Identifier']}",
                f"Restore from the Recycle Bin within {days} days",
            )
    return "permanent: no Recycle Bin rule covers it", "None: deregistering is final"


def _rules_per_region(images: list[Image]) -> dict[tuple[str, str], list[dict[str, Any]] | str]:
    found: dict[tuple[str, str], list[dict[str, Any]] | str] = {}
    sessions: dict[str, AwsSession] = {}
    for image in images:
        key = (image.account.account_id, image.region)
        if key in found:
            continue
        try:
            if image.account.account_id not in sessions:
                sessions[image.account.account_id] = AwsSession(image.account)
            found[key] = recycle_bin_rules(sessions[image.account.account_id], image.region)
        except AWS_ERRORS as error:
            found[key] = describe_error(error)
    return found


def preview_images(action: str, images: Iterable[Image]) -> list[ImagePreview]:
    """The blast radius of ``action`` on each image (images need ``account`` selected)."""
    spec = ACTIONS[action]
    images = list(images)
    usage = usage_by_image(images)
    consumers = consumers_by_image(images)
    now = timezone.now()
    descendants = current_descendants(images) if spec.warns_of_descendants else {}
    rules = _rules_per_region(images) if spec.reads_recycle_bin else {}
    previews = []
    for image in images:
        preview = ImagePreview(
            image_pk=image.pk,
            image_id=image.image_id,
            name=image.name,
            account_id=image.account.account_id,
            region=image.region,
            state=image.state,
            usage=usage.get(image.pk, []),
            protected=image.is_protected,
            public=image.public,
            shared_with=list(image.shared_with or []),
            consumers=consumers.get(image.pk, []),
            consumers_reported_at=_iso(image.consumers_reported_at),
            usage_unknown=image.is_usage_unknown_at(now),
            descendants=descendants.get(image.image_id, []),
            undo=spec.undo,
        )
        if spec.reads_recycle_bin:
            key = (image.account.account_id, image.region)
            preview.recycle_bin, preview.undo = describe_recycle_bin(
                rules[key], image.tags or {}, spec.undo
            )
        _add_warnings(preview, spec, image)
        previews.append(preview)
    return previews


def _add_warnings(preview: ImagePreview, spec: ActionSpec, image: Image) -> None:
    """The spec's warnings; a block for the guard, or for an image it refuses outright."""
    if spec.guarded and preview.in_use:
        users = len(preview.usage) + sum(
            c["instances"] + c["launch_templates"] for c in preview.consumers
        )
        preview.blocked = f"in use by {users} resource(s); needs an explicit override"
    elif spec.guarded and preview.usage_unknown:
        preview.blocked = (
            "usage by other accounts unknown (no recent usage report); needs an explicit override"
        )
    preview.warnings.extend(spec.warnings(preview))
    preview.blocked = spec.refusal(image) or preview.blocked
