"""What the states and buckets of an image mean, defined once for the database and for one image.

Pages, filters, exports, charts and services ask this module what "current", "in use",
"deprecated", "shared" or an Overview bucket means, so that a number on the Overview and the
image list it links to count the same images. ``ImageQ`` gives the conditions as Q objects (for
``filter()`` and ``Count(filter=...)``); ``ImageQuerySet`` names querysets after them
(``Image.objects.current().unused()``); ``bucket_of`` places one image in memory.

The Overview's state buckets follow a precedence, the first that applies wins:

1. gone: no longer listed by EC2 (the row stays for the export and the history);
2. disabled: it cannot be launched, whatever its deprecation time says;
3. deprecated: its deprecation time has passed (a time still in the future is not deprecated yet);
4. available: EC2 reports it available;
5. other: pending, failed, invalid and the remaining EC2 states.

Every current image is in exactly one of available, deprecated, disabled and other.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from django.conf import settings
from django.db import models
from django.db.models import Q, QuerySet
from django.utils import timezone

from amidash.scope import visible_accounts
from inventory.choices import ImageBucket, ImageState

if TYPE_CHECKING:
    from inventory.models.images import Image

#: The Overview's age buckets: (label, at least this many days old, younger than this many days).
AGE_BUCKETS: list[tuple[str, int, int | None]] = [
    ("< 30 d", 0, 30),
    ("30-90 d", 30, 90),
    ("90-180 d", 90, 180),
    ("180 d-1 y", 180, 365),
    ("1-2 y", 365, 730),
    ("> 2 y", 730, None),
]


def utc_day(moment: datetime.datetime) -> datetime.date:
    """The UTC calendar day of ``moment``."""
    return moment.astimezone(datetime.UTC).date()


def _midnight(day: datetime.date, plus_days: int = 0) -> datetime.datetime:
    """The UTC midnight that starts ``day`` (shifted by ``plus_days``)."""
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)
    return start + datetime.timedelta(days=plus_days)


def age_in_days(created: datetime.datetime, now: datetime.datetime) -> int:
    """An image's age: the whole UTC calendar days from its creation day to ``now``'s day
    (0 on the day it was made, 1 from the next UTC midnight). The image list's age filters,
    the Overview's age buckets and its cleanup count all use this rule (``ImageQ.aged``); so
    can the rollups, which hold creation days rather than times."""
    return max((utc_day(now) - utc_day(created)).days, 0)


def deprecation_day_range(now: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    """Today's UTC day as [start, end): the deprecation times the rollups cannot place against
    ``now`` by their day alone."""
    start = _midnight(utc_day(now))
    return start, start + datetime.timedelta(days=1)


class ImageQ:
    """The conditions on images, as Q objects; each one's in-memory twin is named beside it."""

    @staticmethod
    def current() -> Q:
        """Still listed at its Region's last complete listing (``Image.is_gone`` is False)."""
        return Q(gone_at__isnull=True)

    @staticmethod
    def gone() -> Q:
        """No longer listed by a complete listing of its Region (``Image.is_gone``)."""
        return Q(gone_at__isnull=False)

    @staticmethod
    def in_use() -> Q:
        """Something used it at the last sync, or another account did at the latest usage report
        (the ``in_use`` field, written by ``in_use_sql``)."""
        return Q(in_use=True)

    @staticmethod
    def unused() -> Q:
        """Nothing used it at the last sync."""
        return Q(in_use=False)

    @staticmethod
    def usage_unknown(now: datetime.datetime) -> Q:
        """Public or shared, and no AMI usage report younger than
        AMIDASH_CONSUMER_REPORT_MAX_AGE_HOURS: other accounts may use it unseen."""
        cutoff = now - datetime.timedelta(hours=settings.CONSUMER_REPORT_MAX_AGE_HOURS)
        reported = Q(consumers_reported_at__gte=cutoff)
        return ImageQ.exposed() & ~reported

    @staticmethod
    def critical_findings() -> Q:
        """Amazon Inspector found at least one critical vulnerability (``ImageFindings``, as the
        image's ``findings_critical`` mirrors it)."""
        return Q(findings_critical__gt=0)

    @staticmethod
    def high_findings() -> Q:
        """Amazon Inspector found at least one high vulnerability (``findings_high``)."""
        return Q(findings_high__gt=0)

    @staticmethod
    def scanned() -> Q:
        """Inspector findings were read (``findings_scanned``)."""
        return Q(findings_scanned=True)

    @staticmethod
    def not_scanned() -> Q:
        """Inspector findings could not be read, or were never read: unknown, not zero."""
        return Q(findings_scanned=False)

    @staticmethod
    def disabled() -> Q:
        """EC2 reports it disabled (``Image.is_disabled``)."""
        return Q(state=ImageState.DISABLED)

    @staticmethod
    def deprecated(now: datetime.datetime) -> Q:
        """Its deprecation time has passed, whatever its state (``Image.is_deprecated_at``).

        This is EC2's meaning; the Overview's deprecated bucket also leaves out disabled and gone
        images (``bucket``).
        """
        return Q(deprecation_time__lte=now)

    @staticmethod
    def public() -> Q:
        """Anyone can launch it (the ``public`` field)."""
        return Q(public=True)

    @staticmethod
    def shared() -> Q:
        """Launch permissions name other accounts or organizations (``Image.is_shared``)."""
        return ~Q(shared_with=[])

    @staticmethod
    def exposed() -> Q:
        """Public or shared: someone outside the owning account can launch it."""
        return ImageQ.public() | ImageQ.shared()

    @staticmethod
    def private() -> Q:
        """Neither public nor shared."""
        return Q(public=False, shared_with=[])

    @staticmethod
    def aged(
        now: datetime.datetime, at_least_days: int | None = None, below_days: int | None = None
    ) -> Q:
        """At least ``at_least_days`` and less than ``below_days`` days old at ``now`` (None: no
        bound on that side), age counted in whole UTC calendar days (``age_in_days``).

        An image without a creation date has no age: it is in no bounded range.
        """
        today = utc_day(now)
        condition = Q()
        if at_least_days is not None:
            # age >= n: created on or before today - n, before the midnight that follows.
            condition &= Q(creation_date__lt=_midnight(today, 1 - at_least_days))
        if below_days is not None:
            # age < n: created after today - n, from the midnight that starts the next day.
            condition &= Q(creation_date__gte=_midnight(today, 1 - below_days))
        return condition

    @staticmethod
    def cleanup_candidates(now: datetime.datetime, older_than_days: int) -> Q:
        """Current, unused and at least ``older_than_days`` old: what a cleanup could remove."""
        return ImageQ.current() & ImageQ.unused() & ImageQ.aged(now, older_than_days)

    @staticmethod
    def through(relation: str, condition: Q) -> Q:
        """``condition`` on the images reached through ``relation`` from another model, as in
        ``Account.objects.annotate(n=Count("images", filter=ImageQ.through("images", ...)))``."""
        children = [
            ImageQ.through(relation, child)
            if isinstance(child, Q)
            else (f"{relation}__{child[0]}", child[1])
            for child in condition.children
        ]
        return Q(*children, _connector=condition.connector, _negated=condition.negated)

    @staticmethod
    def bucket(name: str, now: datetime.datetime) -> Q:
        """The images of one Overview bucket: its own rule, and none that takes precedence."""
        earlier = Q()
        for bucket, rule in PRECEDENCE:
            if bucket == name:
                return rule.condition(now) & ~earlier
            earlier |= rule.condition(now)
        raise ValueError(f"Unknown image bucket {name!r}.")


@dataclass(frozen=True)
class BucketRule:
    """What puts an image in a bucket: as a condition for the database, and for one image."""

    condition: Callable[[datetime.datetime], Q]
    holds: Callable[[Image, datetime.datetime], bool]


#: The buckets in order of precedence: an image is in the first whose rule holds.
PRECEDENCE: tuple[tuple[ImageBucket, BucketRule], ...] = (
    (ImageBucket.GONE, BucketRule(lambda now: ImageQ.gone(), lambda image, now: image.is_gone)),
    (
        ImageBucket.DISABLED,
        BucketRule(lambda now: ImageQ.disabled(), lambda image, now: image.is_disabled),
    ),
    (ImageBucket.DEPRECATED, BucketRule(ImageQ.deprecated, lambda i, now: i.is_deprecated_at(now))),
    (
        ImageBucket.AVAILABLE,
        BucketRule(
            lambda now: Q(state=ImageState.AVAILABLE),
            lambda image, now: image.state == ImageState.AVAILABLE,
        ),
    ),
    (ImageBucket.OTHER, BucketRule(lambda now: Q(), lambda image, now: True)),
)


def bucket_of(image: Image, now: datetime.datetime) -> ImageBucket:
    """The Overview bucket of one image in memory, by the same precedence as ``ImageQ.bucket``."""
    return next(bucket for bucket, rule in PRECEDENCE if rule.holds(image, now))


class ImageQuerySet(QuerySet["Image"]):
    """Image querysets named after what they mean, built on the conditions of ``ImageQ``."""

    def visible_to(self, user: Any) -> Self:
        """The images of the accounts ``user`` may see (``amidash.scope``; deny by default)."""
        return self.filter(visible_accounts(user, "account"))

    def current(self) -> Self:
        return self.filter(ImageQ.current())

    def pks_by_image_id(self, account_id: int, region: str, image_ids: Any) -> dict[str, int]:
        """AMI id -> primary key of the given images of one account+Region."""
        rows = self.filter(account_id=account_id, region=region, image_id__in=list(image_ids))
        return dict(rows.values_list("image_id", "pk"))

    def with_lineage_root(self) -> Self:
        """Annotate ``lineage_root``: the id of the oldest known ancestor (GetImageAncestry's
        last entry), else the image's source, else the image itself (a root of its own)."""
        from django.apps import apps
        from django.db.models import F, OuterRef, Subquery
        from django.db.models.functions import Coalesce, NullIf

        ancestry = apps.get_model("inventory", "ImageAncestry")
        root = ancestry.objects.filter(image=OuterRef("pk")).order_by("-position")
        return self.annotate(
            lineage_root=Coalesce(
                Subquery(root.values("ancestor_image_id")[:1]),
                NullIf(F("source_image_id"), models.Value("")),
                F("image_id"),
            )
        )

    def gone(self) -> Self:
        return self.filter(ImageQ.gone())

    def in_use(self) -> Self:
        return self.filter(ImageQ.in_use())

    def unused(self) -> Self:
        return self.filter(ImageQ.unused())

    def usage_unknown(self, now: datetime.datetime | None = None) -> Self:
        return self.filter(ImageQ.usage_unknown(now or timezone.now()))

    def disabled(self) -> Self:
        return self.filter(ImageQ.disabled())

    def deprecated(self, now: datetime.datetime | None = None) -> Self:
        return self.filter(ImageQ.deprecated(now or timezone.now()))

    def public(self) -> Self:
        return self.filter(ImageQ.public())

    def shared(self) -> Self:
        return self.filter(ImageQ.shared())

    def exposed(self) -> Self:
        return self.filter(ImageQ.exposed())

    def private(self) -> Self:
        return self.filter(ImageQ.private())

    def aged(
        self,
        at_least_days: int | None = None,
        below_days: int | None = None,
        now: datetime.datetime | None = None,
    ) -> Self:
        return self.filter(ImageQ.aged(now or timezone.now(), at_least_days, below_days))

    def cleanup_candidates(
        self, older_than_days: int, now: datetime.datetime | None = None
    ) -> Self:
        return self.filter(ImageQ.cleanup_candidates(now or timezone.now(), older_than_days))

    def in_state(self, bucket: str, now: datetime.datetime | None = None) -> Self:
        """The images of one Overview bucket (``ImageBucket``); raises ValueError for others."""
        return self.filter(ImageQ.bucket(bucket, now or timezone.now()))


class AccountQuerySet(QuerySet["Account"]):
    def visible_to(self, user: Any) -> Self:
        """The accounts ``user`` may see (``amidash.scope``; deny by default)."""
        return self.filter(visible_accounts(user, "pk"))


class AccountRowQuerySet(QuerySet[Any]):
    """Rows that belong to one account (its Regions, usages, sync results)."""

    def visible_to(self, user: Any) -> Self:
        """The rows of the accounts ``user`` may see (``amidash.scope``; deny by default)."""
        return self.filter(visible_accounts(user, "account"))
