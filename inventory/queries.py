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
        if direction not in ("a", "b") or not _is_bigint(pk):
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
        if not _is_bigint(value):
            raise ValueError("not a number")
        return value
    if key.kind == "decimal":
        return Decimal(str(value))
    if key.kind == "bool":
        if not isinstance(value, bool):
            raise ValueError("not a boolean")
        return value
    # PostgreSQL text cannot hold NUL; nothing we encode is that long.
    if not isinstance(value, str) or "\x00" in value or len(value) > 1024:
        raise ValueError("not text")
    return value


def _is_bigint(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


def _ordering(key: SortKey, descending: bool) -> list[Any]:
    """ORDER BY the column then pk; NULL sorts as the largest value, PostgreSQL's default, so
    that a plain btree index on the column serves both directions (forward and backward)."""
    if descending:
        return [F(key.field).desc(), F("pk").desc()]
    return [F(key.field).asc(), F("pk").asc()]


def _greater(key: SortKey, value: Any, pk: int) -> Q:
    """Rows after (value, pk) in ascending order, NULL counting as the largest value."""
    column = key.field
    if value is None:
        return Q(**{f"{column}__isnull": True, "pk__gt": pk})
    # The redundant ``>=`` bound lets PostgreSQL start the index scan at the cursor.
    condition = Q(**{f"{column}__gte": value}) & (
        Q(**{f"{column}__gt": value}) | Q(**{column: value, "pk__gt": pk})
    )
    if key.nullable:
        condition |= Q(**{f"{column}__isnull": True})
    return condition


def _smaller(key: SortKey, value: Any, pk: int) -> Q:
    """Rows before (value, pk) in ascending order, NULL counting as the largest value."""
    column = key.field
    if value is None:
        return Q(**{f"{column}__isnull": False}) | Q(**{f"{column}__isnull": True, "pk__lt": pk})
    return Q(**{f"{column}__lte": value}) & (
        Q(**{f"{column}__lt": value}) | Q(**{column: value, "pk__lt": pk})
    )


def _after(key: SortKey, descending: bool, value: Any, pk: int) -> Q:
    """Rows that come after (value, pk) in the order given."""
    return _smaller(key, value, pk) if descending else _greater(key, value, pk)


def _before(key: SortKey, descending: bool, value: Any, pk: int) -> Q:
    """Rows that come before (value, pk) in the order given."""
    return _greater(key, value, pk) if descending else _smaller(key, value, pk)


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
TREND_RUNS = 12


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


@dataclass
class EstateFigures:
    """The overview's numbers: estate totals, one row per Region and one per account."""

    totals: dict[str, Any]
    regions: list[dict[str, Any]]
    accounts: list[dict[str, Any]]


def _aggregates(now: datetime.datetime, cleanup_days: int) -> dict[str, Any]:
    """The figures counted in the database, as filtered aggregates of one scan; the rest of
    FIGURE_KEYS is derived from these (see _derive)."""
    from django.db.models import Count, Sum

    cutoff = now - datetime.timedelta(days=cleanup_days)
    cleanup = _current() & Q(in_use=False, creation_date__lte=cutoff)
    states = state_conditions(now)
    aggregates: dict[str, Any] = {
        f"state_{name}": Count("pk", filter=states[name])
        for name in ("available", "deprecated", "disabled", "gone")
    }
    aggregates |= {
        "current": Count("pk", filter=_current()),
        "in_use_count": Count("pk", filter=_current() & Q(in_use=True)),
        "public_count": Count("pk", filter=_current() & Q(public=True)),
        "shared_count": Count("pk", filter=_current() & ~Q(shared_with=[])),
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
    return aggregates


def _derive(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures that follow from the counted ones."""
    current = figures["current"]
    figures["unused_count"] = current - figures["in_use_count"]
    figures["state_other"] = current - sum(
        figures[f"state_{name}"] for name in ("available", "deprecated", "disabled")
    )
    figures["age_unknown"] = current - sum(
        figures[f"age_{index}"] for index in range(len(AGE_BUCKETS))
    )
    return figures


def estate_figures(now: datetime.datetime, cleanup_days: int) -> EstateFigures:
    """All of the overview's image figures from ONE scan of the image table.

    The scan groups by account and Region (a few dozen groups however many images there are);
    the estate totals, the Region grid and the account table are sums of those groups.
    """
    from inventory.models import Account, Image

    aggregates = _aggregates(now, cleanup_days)
    keys = list(aggregates)
    rows = Image.objects.values("account_id", "region").annotate(**aggregates).order_by()
    totals = dict.fromkeys(keys, 0)
    regions: dict[str, dict[str, Any]] = {}
    accounts: dict[int, dict[str, Any]] = {}
    for row in rows:
        region = regions.setdefault(
            row["region"], {"region": row["region"]} | dict.fromkeys(keys, 0)
        )
        account = accounts.setdefault(row["account_id"], dict.fromkeys(keys, 0))
        for key in keys:
            totals[key] += row[key]
            region[key] += row[key]
            account[key] += row[key]
    for pk, account_id, name in Account.objects.filter(pk__in=accounts).values_list(
        "pk", "account_id", "name"
    ):
        accounts[pk] |= {"account__account_id": account_id, "account__name": name}
    return EstateFigures(
        totals=_derive(totals),
        regions=[_derive(regions[name]) for name in sorted(regions)],
        accounts=sorted(
            (_derive(account) for account in accounts.values()),
            key=lambda a: (a["account__name"], a["account__account_id"]),
        ),
    )


def recent_runs(limit: int = TREND_RUNS) -> list[Any]:
    """The last finished sync runs, oldest first, for the trend chart."""
    from inventory.models import SyncRun

    runs = SyncRun.objects.filter(finished_at__isnull=False).order_by("-finished_at")[:limit]
    return list(reversed(runs))


def trend_points(runs: list[Any]) -> list[dict[str, Any]]:
    """The estate as it stood when each run finished: images present, their storage, images
    gone so far. Rebuilt from first_seen_at and gone_at in one scan (2 aggregates per run)."""
    from django.db.models import Count, Sum

    from inventory.models import Image

    if not runs:
        return []
    aggregates: dict[str, Any] = {}
    for index, run in enumerate(runs):
        moment = run.finished_at
        present = Q(first_seen_at__lte=moment) & (Q(gone_at__isnull=True) | Q(gone_at__gt=moment))
        aggregates[f"present_{index}"] = Count("pk", filter=present)
        aggregates[f"storage_{index}"] = Sum("storage_gib", filter=present, default=0)
        aggregates[f"gone_{index}"] = Count("pk", filter=Q(gone_at__lte=moment))
    figures = Image.objects.aggregate(**aggregates)
    return [
        {
            "run": run,
            "present": figures[f"present_{index}"],
            "storage": figures[f"storage_{index}"],
            "gone": figures[f"gone_{index}"],
        }
        for index, run in enumerate(runs)
    ]


def latest_run_with_failures() -> tuple[Any, list[Any]]:
    """The most recent sync run and its failed account+Region results (two queries)."""
    from inventory.choices import RegionSyncStatus
    from inventory.models import SyncRun

    run = SyncRun.objects.order_by("-created_at").first()
    if run is None:
        return None, []
    failed = list(
        run.results.filter(status=RegionSyncStatus.FAILED)
        .select_related("account")
        .order_by("account", "region")
    )
    return run, failed
