"""Which images a policy looks at, read in one query with what its rules need.

Scope by account, Region and family is applied in SQL. The family rank and size are counted
over every current image of the family in one account and Region, before names and tags
narrow the scope, so a policy that narrows by name or tag still ranks an image among its whole
family. They are counted in Python from the one sort the rows need anyway (oldest first): a
window function made PostgreSQL sort every wide row a second time. Name globs are matched in
Python (exact glob semantics, one compiled pattern); scope and keep tags are tested in SQL as
one boolean column each, so no row's tags are decoded to evaluate it.

Rows stay tuples (``Candidate``): times come as whole microseconds since the epoch, which the
rules compare as integers, and ``Candidate`` offers them as datetimes for what prints them.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import chain
from operator import itemgetter
from typing import Any

from django.db import connection
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast

from inventory.models import Image
from policies.models import Policy

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Microseconds in a day: the rules count whole days as ``(now - then) // DAY``.
DAY = 86_400 * 1_000_000


class Microseconds(Func):
    """A timestamp as whole microseconds since the epoch (exact: numeric, then bigint)."""

    template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint"
    output_field = BigIntegerField()


def as_datetime(microseconds: int | None) -> datetime | None:
    return None if microseconds is None else EPOCH + timedelta(microseconds=microseconds)


def as_microseconds(moment: datetime) -> int:
    """The inverse of ``as_datetime`` for an aware datetime (exact)."""
    return (moment - EPOCH) // timedelta(microseconds=1)


#: The columns read for every image, in ``Candidate``'s order.
COLUMNS: dict[str, Any] = {
    "pk": F("pk"),
    "image_id": F("image_id"),
    "account_id": F("account__account_id"),
    "region": F("region"),
    "name": F("name"),
    "family": F("family"),
    "state": F("state"),
    "creation_us": Microseconds("creation_date"),
    "deprecation_us": Microseconds("deprecation_time"),
    "launched_us": Microseconds("last_launched_time"),
    "seen_in_use_us": Microseconds("last_seen_in_use_at"),
    "first_seen_us": Microseconds("first_seen_at"),
    "listed_us": Microseconds("account_region__last_listed_at"),
    "public": F("public"),
    "shared_count": Case(
        When(
            Q(shared_with__isnull=False) & ~Q(shared_with=[]),
            then=Func(F("shared_with"), function="jsonb_array_length"),
        ),
        default=Value(0),
        output_field=IntegerField(),
    ),
    "tags_text": Cast("tags", TextField()),
    "storage_gib": F("storage_gib"),
    "in_use": F("in_use"),
    "usage_count": F("usage_count"),
    "deregistration_protection": F("deregistration_protection"),
    "consumers_reported_us": Microseconds("consumers_reported_at"),
    "external_usage_count": F("external_usage_count"),
}
#: Columns the evaluation adds: whether the scope's tags hold, then one flag per keep tag.
IN_TAG_SCOPE = len(COLUMNS)
KEEP_TAGS = IN_TAG_SCOPE + 1


def _moment(index: int) -> Any:
    """A property reading the row's column ``index`` (microseconds) as an aware datetime."""
    return property(lambda row: as_datetime(row[index]))


class Candidate(tuple):
    """An image in a policy's scope, as the inventory last observed it: a row of the query
    (``COLUMNS``, the tag flags), then its rank and the size of its family."""

    __slots__ = ()

    pk: int = property(itemgetter(0))  # type: ignore[assignment]
    image_id: str = property(itemgetter(1))  # type: ignore[assignment]
    account_id: str = property(itemgetter(2))  # type: ignore[assignment]
    region: str = property(itemgetter(3))  # type: ignore[assignment]
    name: str = property(itemgetter(4))  # type: ignore[assignment]
    family: str = property(itemgetter(5))  # type: ignore[assignment]
    state: str = property(itemgetter(6))  # type: ignore[assignment]
    creation_us: int | None = property(itemgetter(7))  # type: ignore[assignment]
    deprecation_us: int | None = property(itemgetter(8))  # type: ignore[assignment]
    launched_us: int | None = property(itemgetter(9))  # type: ignore[assignment]
    seen_in_use_us: int | None = property(itemgetter(10))  # type: ignore[assignment]
    first_seen_us: int = property(itemgetter(11))  # type: ignore[assignment]
    listed_us: int | None = property(itemgetter(12))  # type: ignore[assignment]
    public: bool = property(itemgetter(13))  # type: ignore[assignment]
    shared_count: int = property(itemgetter(14))  # type: ignore[assignment]
    tags_text: str = property(itemgetter(15))  # type: ignore[assignment]
    storage_gib: int = property(itemgetter(16))  # type: ignore[assignment]
    in_use: bool = property(itemgetter(17))  # type: ignore[assignment]
    usage_count: int = property(itemgetter(18))  # type: ignore[assignment]
    deregistration_protection: str = property(itemgetter(19))  # type: ignore[assignment]
    consumers_reported_us: int | None = property(itemgetter(20))  # type: ignore[assignment]
    external_usage_count: int = property(itemgetter(21))  # type: ignore[assignment]
    #: One flag per keep tag of the policy, in ``keep_tag_items``' order.
    keep_tags_matched: tuple[bool, ...] = property(itemgetter(slice(KEEP_TAGS, -2)))  # type: ignore[assignment]
    #: 1 for the newest image of its family (creation date, undated last, then pk).
    family_rank: int = property(itemgetter(-2))  # type: ignore[assignment]
    family_size: int = property(itemgetter(-1))  # type: ignore[assignment]

    creation_date: datetime | None = _moment(7)  # type: ignore[assignment]
    deprecation_time: datetime | None = _moment(8)  # type: ignore[assignment]
    last_launched_time: datetime | None = _moment(9)  # type: ignore[assignment]
    last_seen_in_use_at: datetime | None = _moment(10)  # type: ignore[assignment]
    first_seen_at: datetime = _moment(11)  # type: ignore[assignment]
    listed_at: datetime | None = _moment(12)  # type: ignore[assignment]

    @property
    def tags(self) -> dict[str, Any]:
        return json.loads(self[15]) if self[15] else {}

    @property
    def is_protected(self) -> bool:
        return Image.is_protected.fget(self)  # the inventory's one reading of the EC2 value


def glob_regex(glob: str) -> str:
    """A shell glob (``*``, ``?``) as an anchored PostgreSQL regular expression."""
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob]
    return "^" + "".join(parts) + "$"


def name_matcher(globs: list[str]) -> Callable[[str], Any] | None:
    """One compiled pattern matching any of the globs as ``fnmatch.fnmatchcase`` does (None:
    every name matches)."""
    if not globs:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(glob)})" for glob in globs)).match


def keep_tag_items(policy: Policy) -> list[tuple[str, Any]]:
    return list((policy.keep_tags or {}).items())


def current_images() -> QuerySet[Image]:
    """Images that exist now (not gone); the base every policy selects from."""
    return Image.objects.current()


def in_scope(policy: Policy) -> QuerySet[Image]:
    """Current images of the policy's accounts, Regions and families."""
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
    return images


def _tags_hold(tags: dict[str, Any]) -> Any:
    """True when the image carries every one of ``tags`` (each value equal), as a column."""
    if not tags:
        return Value(True)
    return ExpressionWrapper(Q(tags__contains=tags), output_field=BooleanField())


def scoped_queryset(policy: Policy) -> QuerySet[Image]:
    """The policy's images as ``COLUMNS`` and the tag flags (unordered, not narrowed by name or
    tag: see ``candidates``)."""
    columns = {**COLUMNS, "in_tag_scope": _tags_hold(policy.scope_tags or {})}
    for n, (key, value) in enumerate(keep_tag_items(policy)):
        columns[f"keep_tag_{n}"] = _tags_hold({key: value})
    return (
        in_scope(policy)
        .annotate(**{f"c_{name}": expression for name, expression in columns.items()})
        .values_list(*(f"c_{name}" for name in columns))
        .order_by()
    )


def fetch_rows(query: QuerySet) -> list[tuple]:
    """A ``values_list`` query's rows as the database driver gives them."""
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _oldest_first(row: tuple) -> tuple:
    """By creation date (images without one last, by when amidash first saw them), then pk."""
    created = row[7]
    return (True, row[11], row[0]) if created is None else (False, created, row[0])


def _family_ranks(rows: list[tuple]) -> tuple[list[int], list[int]]:
    """Each row's rank in its family (account, Region, family), newest first, and the family's
    size, for rows sorted oldest first. Newest first is that order reversed for dated images;
    undated ones come after them, the highest pk first."""
    family = itemgetter(2, 3, 5)
    keys = list(map(family, rows))
    dated = len(rows)
    while dated and rows[dated - 1][7] is None:
        dated -= 1
    undated = sorted(range(dated, len(rows)), key=lambda at: rows[at][0], reverse=True)
    counted: dict[tuple, int] = {}
    ranks = [0] * len(rows)
    for at in chain(range(dated - 1, -1, -1), undated):
        key = keys[at]
        ranks[at] = counted[key] = counted.get(key, 0) + 1
    return ranks, [counted[key] for key in keys]


def candidates(policy: Policy) -> list[Candidate]:
    """Every image in the policy's scope, oldest first (by creation date; undated images last,
    by when amidash first saw them), ranked in its family.

    The rows are read as the database driver gives them (ints, bools, text): the columns need
    none of Django's conversions, and skipping them is most of the cost of reading 100,000."""
    rows = fetch_rows(scoped_queryset(policy))
    rows.sort(key=_oldest_first)
    ranks, sizes = _family_ranks(rows)
    names = name_matcher(policy.scope_names or [])
    return [
        Candidate((*row, rank, size))
        for row, rank, size in zip(rows, ranks, sizes, strict=True)
        if row[IN_TAG_SCOPE] and (names is None or names(row[4]))
    ]
