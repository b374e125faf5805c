"""Which images a policy looks at, read in one query with what its rules need.

Scope by account, Region and family is applied in SQL; the family rank and size are window
functions over every current image of the family in one account and Region, so a policy that
narrows by name or tag still ranks an image among its whole family. Name globs and tags are
matched in Python afterwards (cheap, and exact glob semantics).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from inventory.models import Image
from policies.models import Policy

_FIELDS = (
    "pk",
    "image_id",
    "account__account_id",
    "region",
    "name",
    "family",
    "state",
    "creation_date",
    "deprecation_time",
    "last_launched_time",
    "last_seen_in_use_at",
    "public",
    "shared_with",
    "tags",
    "storage_gib",
    "in_use",
    "usage_count",
    "deregistration_protection",
    "first_seen_at",
    "account_region__last_listed_at",
    "family_rank",
    "family_size",
)


@dataclass(slots=True)
class Candidate:
    """An image in a policy's scope, as the inventory last observed it."""

    pk: int
    image_id: str
    account_id: str
    region: str
    name: str
    family: str
    state: str
    creation_date: datetime | None
    deprecation_time: datetime | None
    last_launched_time: datetime | None
    last_seen_in_use_at: datetime | None
    public: bool
    shared_with: list[str]
    tags: dict[str, str]
    storage_gib: int
    in_use: bool
    usage_count: int
    deregistration_protection: str
    first_seen_at: datetime
    listed_at: datetime | None
    family_rank: int
    family_size: int

    @property
    def is_protected(self) -> bool:
        return Image.is_protected.fget(self)  # the inventory's one reading of the EC2 value


def glob_regex(glob: str) -> str:
    """A shell glob (``*``, ``?``) as an anchored PostgreSQL regular expression."""
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob]
    return "^" + "".join(parts) + "$"


def current_images() -> QuerySet[Image]:
    """Images that exist now (not gone); the base every policy selects from."""
    return Image.objects.current()


def scoped_queryset(policy: Policy) -> QuerySet[Image]:
    """Current images of the policy's accounts, Regions and families, ranked in their family."""
    images = current_images()
    if policy.scope_accounts:
        images = images.filter(account__account_id__in=policy.scope_accounts)
    if policy.scope_regions:
        images = images.filter(region__in=policy.scope_regions)
    if policy.scope_families:
        families = Q()
        for glob in policy.scope_families:
            families |= Q(family__regex=glob_regex(glob))
        images = images.filter(families)
    partition = [F("account_id"), F("region"), F("family")]
    newest_first = [F("creation_date").desc(nulls_last=True), F("pk").desc()]
    return images.annotate(
        family_rank=Window(RowNumber(), partition_by=partition, order_by=newest_first),
        family_size=Window(Count("pk"), partition_by=partition),
    )


def matches_rest_of_scope(policy: Policy, name: str, tags: dict[str, Any]) -> bool:
    """Name globs (any one) and scope tags (every one) for a row the query returned."""
    if policy.scope_names and not any(fnmatch.fnmatchcase(name, g) for g in policy.scope_names):
        return False
    return all(tags.get(key) == value for key, value in policy.scope_tags.items())


def candidates(policy: Policy) -> list[Candidate]:
    """Every image in the policy's scope, oldest first."""
    rows = scoped_queryset(policy).values_list(*_FIELDS)
    found = [Candidate(*row) for row in rows]
    found = [c for c in found if matches_rest_of_scope(policy, c.name, c.tags or {})]
    found.sort(key=lambda c: (c.creation_date is None, c.creation_date or c.first_seen_at, c.pk))
    return found
