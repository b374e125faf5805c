"""Image rollups: counts and storage of the images, grouped by what the Overview and the image
list's totals ask about, kept by the database itself.

Every write to the image table (the sync's bulk upsert, a lifecycle execution, the admin, a raw
SQL statement) changes the rollups in the same transaction: statement-level triggers on
``inventory_image`` (migration 0008) add the rows a statement inserted or updated and subtract
the rows it deleted or replaced. So the figures read from here are exactly the counts of the
image table, without scanning it.

Each image counts once in each grain (``GRAINS``): one by its flags (state, gone, in use,
public, shared, and its Inspector findings: scanned, any critical, any high, as the image row
mirrors them), one by its deprecation day, one by its creation day. Keeping the days apart keeps
each grain small: a million images make thousands of rows per grain, not a million.

Figures that depend on *now* stay exact because the key holds dates at day granularity: an
image's age is counted in whole UTC calendar days (``age_in_days``), so "at least 90 days old"
is a condition on the creation day; "deprecated" compares the exact deprecation time with now,
which the deprecation day decides for every day but today, and the images whose deprecation
time falls today are counted from the image table itself (an indexed range, see
``inventory.queries``). ``rollup_condition`` turns an ``ImageQ`` condition into the same
condition on rollups, so the rules keep one home.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import models
from django.db.models import Q

from inventory.models.accounts import Account
from inventory.models.querysets import AccountRowQuerySet

#: The grains of the rollups: which image columns each one groups by. Each image counts once in
#: every grain; a figure is summed from the first grain whose columns can say it (the smallest
#: first). Columns a grain leaves out are NULL. Every grain holds the account and the Region:
#: syncs of different account+Regions, each one transaction, never wait on (or deadlock over)
#: the same rollup rows.
DEPRECATION_GRAIN = "deprecation"
GRAINS: dict[str, frozenset[str]] = {
    "flags": frozenset(
        {
            "account",
            "region",
            "gone",
            "state",
            "in_use",
            "public",
            "shared",
            "scanned",
            "critical",
            "high",
        }
    ),
    DEPRECATION_GRAIN: frozenset({"account", "region", "gone", "state", "deprecation_day"}),
    "age": frozenset({"account", "region", "gone", "in_use", "creation_day"}),
}


class ImageRollup(models.Model):
    """How many images (and how much storage) share one combination of a grain's columns.

    Written only by the triggers on the image table; read by the Overview, the accounts page and
    the image list's totals. Rows whose count fell to zero stay (they cost nothing to sum).
    """

    grain = models.CharField(max_length=16)
    account = models.ForeignKey(
        Account,
        on_delete=models.CASCADE,
        related_name="image_rollups",
        db_index=False,
        db_constraint=False,
    )
    # NULL, not "": a column the grain leaves out, as GROUPING SETS gives it.
    region = models.CharField(max_length=32, null=True)  # noqa: DJ001
    gone = models.BooleanField()
    state = models.CharField(max_length=16, null=True)  # noqa: DJ001
    in_use = models.BooleanField(null=True)
    public = models.BooleanField(null=True)
    shared = models.BooleanField(null=True)
    # Inspector findings (``Image.findings_*``): scanned, any critical, any high.
    scanned = models.BooleanField(null=True)
    critical = models.BooleanField(null=True)
    high = models.BooleanField(null=True)
    creation_day = models.DateField(null=True)
    deprecation_day = models.DateField(null=True)
    images = models.BigIntegerField(default=0)
    storage_gib = models.BigIntegerField(default=0)

    objects = AccountRowQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "grain",
                    "account",
                    "region",
                    "gone",
                    "state",
                    "in_use",
                    "public",
                    "shared",
                    "scanned",
                    "critical",
                    "high",
                    "creation_day",
                    "deprecation_day",
                ],
                name="image_rollup_key",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.grain} {self.account_id}/{self.region}: {self.images} images"


def _day(value: Any) -> datetime.date:
    """The UTC day of a midnight; anything else cannot be said at day granularity."""
    if not isinstance(value, datetime.datetime) or value.tzinfo is None:
        raise _Unmapped
    value = value.astimezone(datetime.UTC)
    if value.time() != datetime.time.min:
        raise _Unmapped
    return value.date()


def _none_above(value: Any) -> bool:
    """``count > 0`` is "has any"; other thresholds are not in the key."""
    if value != 0:
        raise _Unmapped
    return True


class _Unmapped(Exception):
    """A condition on the images that the rollup key cannot express."""


def _same_as(field: str) -> Any:
    def translate(value: Any) -> tuple[str, Any]:
        return field, value

    return translate


#: Image lookups and the rollup lookup that says the same; anything else is not in the key.
_LOOKUPS: dict[str, Any] = {
    "gone_at__isnull": lambda value: ("gone", not value),
    "in_use": _same_as("in_use"),
    "public": _same_as("public"),
    "state": _same_as("state"),
    "region": _same_as("region"),
    "findings_scanned": _same_as("scanned"),
    "findings_critical__gt": lambda value: ("critical", _none_above(value)),
    "findings_high__gt": lambda value: ("high", _none_above(value)),
    "account__account_id": _same_as("account__account_id"),
    # Only on rollups whose deprecation day is not today (callers exclude those): a deprecation
    # day before today is a time before now, a day after today one after now.
    "deprecation_time__lte": lambda value: (
        "deprecation_day__lte",
        value.astimezone(datetime.UTC).date(),
    ),
    "creation_date__lt": lambda value: ("creation_day__lt", _day(value)),
    "creation_date__gte": lambda value: ("creation_day__gte", _day(value)),
}


def _translate_child(child: Any, columns: frozenset[str]) -> Any:
    if isinstance(child, Q):
        return _translate(child, columns)
    lookup, value = child
    if lookup == "shared_with" and value == []:
        lookup, value = "shared", False
    elif lookup in _LOOKUPS:
        lookup, value = _LOOKUPS[lookup](value)
    else:
        raise _Unmapped
    if lookup.split("__")[0] not in columns:
        raise _Unmapped
    return lookup, value


def _translate(condition: Q, columns: frozenset[str]) -> Q:
    children = [_translate_child(child, columns) for child in condition.children]
    return Q(*children, _connector=condition.connector, _negated=condition.negated)


def rollup_condition(condition: Q) -> tuple[str, Q] | None:
    """``condition`` on images (built from ``ImageQ`` and the list's filters) as a condition on
    the rollups of the smallest grain that holds every column it names, with that grain; None
    when no grain does (a name, a tag, a Region with an age...).

    Exact on rollups whose deprecation day is not today (see the module docstring)."""
    for grain, columns in GRAINS.items():
        try:
            return grain, Q(grain=grain) & _translate(condition, columns)
        except _Unmapped:
            continue
    return None


def required_rollup_condition(condition: Q) -> tuple[str, Q]:
    """``rollup_condition`` for the figures that must come from the rollups (the Overview's, the
    accounts page's); ValueError when no grain holds the condition."""
    mapped = rollup_condition(condition)
    if mapped is None:
        raise ValueError(f"No rollup grain can count {condition!r}.")
    return mapped
