"""Keyset pagination: every page costs the same, page 1 or page 1,000.

A page is addressed by a cursor naming the sort value and primary key of the row it starts after
(or before, going back). The query is ``WHERE (sort, pk) > (value, pk) ORDER BY sort, pk LIMIT n``,
which PostgreSQL answers from an index on the sort column, instead of an OFFSET that reads and
throws away every earlier row. The total is counted only up to a bound.

Both apps page this way: the image list by opaque cursors (``keyset_page``), the audit log by
event numbers, which are its primary key (``keyset_rows`` from a ``Position``).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from django.db.models import F, Model, Q, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan

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


class Position(NamedTuple):
    """Where a page starts: after (direction ``"a"``) or before (``"b"``) the row with this sort
    value and primary key, in the order of the page."""

    direction: str
    value: Any
    pk: int


def decode_cursor(cursor: str, key: SortKey) -> Position:
    """The position a cursor names, or BadCursor."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        direction, value, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if direction not in ("a", "b") or not _is_bigint(pk):
            raise ValueError("bad shape")
        return Position(direction, _typed(value, key), pk)
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


def _row(key: SortKey) -> Tuple:
    return Tuple(F(key.field), F("pk"))


def _greater(key: SortKey, value: Any, pk: int) -> Q:
    """Rows after (value, pk) in ascending order, NULL counting as the largest value."""
    column = key.field
    if value is None:
        return Q(**{f"{column}__isnull": True, "pk__gt": pk})
    # A row comparison, ``(sort, pk) > (value, pk)``: PostgreSQL starts the index scan at the
    # cursor, on an index of both columns even where many rows share the sort value.
    condition = Q(TupleGreaterThan(_row(key), (value, pk)))
    if key.nullable:
        condition |= Q(**{f"{column}__isnull": True})
    return condition


def _smaller(key: SortKey, value: Any, pk: int) -> Q:
    """Rows before (value, pk) in ascending order, NULL counting as the largest value (a row
    comparison with a NULL is never true: NULL rows are not before any value)."""
    column = key.field
    if value is None:
        return Q(**{f"{column}__isnull": False}) | Q(**{f"{column}__isnull": True, "pk__lt": pk})
    return Q(TupleLessThan(_row(key), (value, pk)))


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


def keyset_rows(
    queryset: QuerySet,
    key: SortKey,
    *,
    descending: bool,
    size: int,
    position: Position | None = None,
) -> KeysetPage:
    """One page of ``queryset`` ordered by ``key`` (then pk) from ``position`` (the first page
    when None), with cursors to the neighbouring pages; nothing is counted."""
    going_back = position is not None and position.direction == "b"
    ordered = queryset
    if position is not None:
        condition = (_before if going_back else _after)(
            key, descending, position.value, position.pk
        )
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
        has_previous = (position is not None) if not going_back else more
        if has_next:
            page.next_cursor = encode_cursor("a", _value(last, key), last.pk)
        if has_previous:
            page.previous_cursor = encode_cursor("b", _value(first, key), first.pk)
    return page


def keyset_page(
    queryset: QuerySet,
    key: SortKey,
    *,
    descending: bool,
    size: int,
    cursor: str | None = None,
    total: int | None = None,
) -> KeysetPage:
    """Fetch one page of ``queryset`` ordered by ``key`` (then pk), with its ``total`` when the
    caller knows it exactly, or else counted up to ``COUNT_BOUND``; raises BadCursor."""
    position = decode_cursor(cursor, key) if cursor else None
    page = keyset_rows(queryset, key, descending=descending, size=size, position=position)
    if total is not None:
        page.total = total
        return page
    total = queryset.order_by()[: COUNT_BOUND + 1].count()
    page.total, page.total_is_bound = min(total, COUNT_BOUND), total > COUNT_BOUND
    return page
