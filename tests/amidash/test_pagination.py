"""Keyset pages: walked forward and back, they hold every row once, in the order of the sort,
with NULLs last ascending and first descending, and ties broken by the primary key."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from amidash.pagination import SortKey, decode_cursor, keyset_rows
from inventory.models import Image
from tests.factories import create_image

pytestmark = pytest.mark.django_db

KEYS = [
    SortKey("storage_gib", kind="int"),
    SortKey("last_launched_time", nullable=True, kind="datetime"),
]


def _walk(key: SortKey, descending: bool) -> tuple[list[list[int]], list[list[int]]]:
    """Every page forward, then every page back from the last."""
    queryset, forward, backward = Image.objects.all(), [], []
    page = keyset_rows(queryset, key, descending=descending, size=4)
    forward.append([row.pk for row in page.rows])
    while page.next_cursor:
        page = keyset_rows(
            queryset,
            key,
            descending=descending,
            size=4,
            position=decode_cursor(page.next_cursor, key),
        )
        forward.append([row.pk for row in page.rows])
    backward.append([row.pk for row in page.rows])
    while page.previous_cursor:
        position = decode_cursor(page.previous_cursor, key)
        page = keyset_rows(queryset, key, descending=descending, size=4, position=position)
        backward.append([row.pk for row in page.rows])
    return forward, backward[::-1]


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("key", KEYS, ids=lambda key: key.field)
def test_it_walks_every_row_once_in_order_both_ways(key: SortKey, descending: bool) -> None:
    now = timezone.now()
    for number in range(11):
        launched = None if number % 3 == 0 else now - datetime.timedelta(days=number % 4)
        create_image(storage_gib=number % 3, last_launched_time=launched)
    forward, backward = _walk(key, descending)
    ordering = [f"-{key.field}", "-pk"] if descending else [key.field, "pk"]
    expected = list(Image.objects.order_by(*ordering).values_list("pk", flat=True))
    assert [pk for page in forward for pk in page] == expected
    assert backward == forward
