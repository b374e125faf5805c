"""Keyset pagination: every page costs the same, page 1 or page 1,000.

A page is addressed by a cursor naming the sort value and primary key of the row it starts after
(or before, going back). The query is ``WHERE (sort, pk) > (value, pk) ORDER BY sort, pk LIMIT n``,
which PostgreSQL answers from an index on the sort column, instead of an OFFSET that reads and
throws away every earlier row. The total is counted only up to a bound.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import F, Model, Q, QuerySet

COUNT_BOUND = 10_000


class BadCursor(ValueError):
    """The cursor in the query string could not be read (edited, truncated or stale)."""


@dataclass(frozen=True)
class SortKey:
    """A sortable column: the model field it orders by and whether it can be NULL."""

    field: str
    nullable: bool = False
    kind: str = "str"  # str | int | decimal | datetime | bool


@dataclass
class KeysetPage:
    """One page of rows, with cursors to the neighbouring pages (None at either end)."""

    rows: list[Any]
    next_cursor: str | None = None
    previous_cursor: str | None = None
    total: int = 0
    total_is_bound: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_label(self) -> str:
        return f"more than {COUNT_BOUND:,}" if self.total_is_bound else f"{self.total:,}"


def encode_cursor(direction: str, value: Any, pk: int) -> str:
    if isinstance(value, datetime.datetime):
        value = value.isoformat()
    elif isinstance(value, Decimal):
        value = str(value)
    raw = json.dumps([direction, value, pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, key: SortKey) -> tuple[str, Any, int]:
    """(direction "a" or "b", sort value, pk) or BadCursor."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        direction, value, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if direction not in ("a", "b") or not isinstance(pk, int):
            raise ValueError("bad shape")
        return direction, _typed(value, key), pk
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError) as error:
        raise BadCursor("The page link is not valid any more; showing the first page.") from error


def _typed(value: Any, key: SortKey) -> Any:
    if value is None:
        if not key.nullable:
            raise ValueError("null for a non-null column")
        return None
    if key.kind == "datetime":
        parsed = datetime.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive time")
        return parsed
    if key.kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("not a number")
        return value
    if key.kind == "decimal":
        return Decimal(str(value))
    if key.kind == "bool":
        if not isinstance(value, bool):
            raise ValueError("not a boolean")
        return value
    if not isinstance(value, str):
        raise ValueError("not text")
    return value


def _ordering(key: SortKey, descending: bool) -> list[Any]:
    column = F(key.field)
    if descending:
        return [column.desc(nulls_last=True), F("pk").desc()]
    return [column.asc(nulls_last=True), F("pk").asc()]


def _after(key: SortKey, descending: bool, value: Any, pk: int) -> Q:
    """Rows that come after (value, pk) in the order given, NULLs sorting last."""
    pk_after = Q(pk__lt=pk) if descending else Q(pk__gt=pk)
    if value is None:
        return Q(**{f"{key.field}__isnull": True}) & pk_after
    beyond = Q(**{f"{key.field}__lt" if descending else f"{key.field}__gt": value})
    same = Q(**{key.field: value}) & pk_after
    condition = beyond | same
    if key.nullable:
        condition |= Q(**{f"{key.field}__isnull": True})
    return condition


def _before(key: SortKey, descending: bool, value: Any, pk: int) -> Q:
    """Rows that come before (value, pk) in the order given, NULLs sorting last."""
    pk_before = Q(pk__gt=pk) if descending else Q(pk__lt=pk)
    if value is None:
        return Q(**{f"{key.field}__isnull": False}) | (
            Q(**{f"{key.field}__isnull": True}) & pk_before
        )
    ahead = Q(**{f"{key.field}__gt" if descending else f"{key.field}__lt": value})
    return ahead | (Q(**{key.field: value}) & pk_before)


def _value(row: Model, key: SortKey) -> Any:
    value: Any = row
    for part in key.field.split("__"):
        value = getattr(value, part) if value is not None else None
    return value


def keyset_page(
    queryset: QuerySet,
    key: SortKey,
    *,
    descending: bool,
    size: int,
    cursor: str | None = None,
) -> KeysetPage:
    """Fetch one page of ``queryset`` ordered by ``key`` (then pk); raises BadCursor."""
    direction, value, pk = decode_cursor(cursor, key) if cursor else ("a", None, None)
    going_back = direction == "b"
    ordered = queryset
    if pk is not None:
        condition = (_before if going_back else _after)(key, descending, value, pk)
        ordered = ordered.filter(condition)
    order_descending = descending != going_back
    rows = list(ordered.order_by(*_ordering(key, order_descending))[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if going_back:
        rows.reverse()
    page = KeysetPage(rows=rows)
    if rows:
        first, last = rows[0], rows[-1]
        has_next = more if not going_back else True
        has_previous = (pk is not None) if not going_back else more
        if has_next:
            page.next_cursor = encode_cursor("a", _value(last, key), last.pk)
        if has_previous:
            page.previous_cursor = encode_cursor("b", _value(first, key), first.pk)
    total = queryset.order_by()[: COUNT_BOUND + 1].count()
    page.total, page.total_is_bound = min(total, COUNT_BOUND), total > COUNT_BOUND
    return page


# --- Overview -----------------------------------------------------------------------------------

AGE_BUCKETS: list[tuple[str, int, int | None]] = [
    ("< 30 d", 0, 30),
    ("30-90 d", 30, 90),
    ("90-180 d", 90, 180),
    ("180 d-1 y", 180, 365),
    ("1-2 y", 365, 730),
    ("> 2 y", 730, None),
]
TREND_RUNS = 20


def _current() -> Q:
    return Q(gone_at__isnull=True)


def state_conditions(now: datetime.datetime) -> dict[str, Q]:
    """The overview's state buckets. Each current image falls in exactly one; gone is separate."""
    deprecated = Q(deprecation_time__lte=now)
    disabled = Q(state="disabled")
    return {
        "available": _current() & Q(state="available") & ~deprecated,
        "deprecated": _current() & deprecated & ~disabled,
        "disabled": _current() & disabled,
        "other": _current() & ~Q(state__in=["available", "disabled"]) & ~deprecated,
        "gone": Q(gone_at__isnull=False),
    }


def overview_totals(now: datetime.datetime, cleanup_days: int) -> dict[str, Any]:
    """Every headline number of the overview in one aggregate query."""
    from django.db.models import Count, Sum

    from inventory.models import Image

    cutoff = now - datetime.timedelta(days=cleanup_days)
    cleanup = _current() & Q(in_use=False, creation_date__lte=cutoff)
    shared = ~Q(shared_with=[])
    aggregates: dict[str, Any] = {
        f"state_{name}": Count("pk", filter=condition)
        for name, condition in state_conditions(now).items()
    }
    aggregates |= {
        "current": Count("pk", filter=_current()),
        "in_use_count": Count("pk", filter=_current() & Q(in_use=True)),
        "unused_count": Count("pk", filter=_current() & Q(in_use=False)),
        "public_count": Count("pk", filter=_current() & Q(public=True)),
        "shared_count": Count("pk", filter=_current() & shared),
        "public_unused_count": Count("pk", filter=_current() & Q(public=True, in_use=False)),
        "storage_total": Sum("storage_gib", filter=_current(), default=0),
        "cleanup_count": Count("pk", filter=cleanup),
        "cleanup_gib": Sum("storage_gib", filter=cleanup, default=0),
    }
    for index, (_label, low, high) in enumerate(AGE_BUCKETS):
        condition = _current() & Q(creation_date__lte=now - datetime.timedelta(days=low))
        if high is not None:
            condition &= Q(creation_date__gt=now - datetime.timedelta(days=high))
        aggregates[f"age_{index}"] = Count("pk", filter=condition)
    aggregates["age_unknown"] = Count("pk", filter=_current() & Q(creation_date__isnull=True))
    return Image.objects.aggregate(**aggregates)


def region_state_grid(now: datetime.datetime) -> list[dict[str, Any]]:
    """One row per Region (all accounts): counts per state bucket, in use, storage."""
    return _grouped(["region"], now)


def account_breakdown(now: datetime.datetime) -> list[dict[str, Any]]:
    """One row per account: counts per state bucket, in use, storage."""
    return _grouped(["account__account_id", "account__name"], now)


def _grouped(fields: list[str], now: datetime.datetime) -> list[dict[str, Any]]:
    from django.db.models import Count, Sum

    from inventory.models import Image

    counts = {
        name: Count("pk", filter=condition) for name, condition in state_conditions(now).items()
    }
    rows = (
        Image.objects.values(*fields)
        .annotate(
            **counts,
            total=Count("pk", filter=_current()),
            in_use_count=Count("pk", filter=_current() & Q(in_use=True)),
            storage_total=Sum("storage_gib", filter=_current(), default=0),
        )
        .order_by(*fields)
    )
    return list(rows)


def recent_runs(limit: int = TREND_RUNS) -> list[Any]:
    """The last finished sync runs, oldest first, for the trend chart."""
    from inventory.models import SyncRun

    runs = SyncRun.objects.filter(finished_at__isnull=False).order_by("-finished_at")[:limit]
    return list(reversed(runs))


def latest_run_with_failures() -> tuple[Any, list[Any]]:
    """The most recent sync run and its failed account+Region results (two queries)."""
    from inventory.models import SyncRun

    run = SyncRun.objects.order_by("-created_at").first()
    if run is None:
        return None, []
    failed = list(
        run.results.filter(status="failed").select_related("account").order_by("account", "region")
    )
    return run, failed
