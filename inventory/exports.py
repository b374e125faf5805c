"""The inventory export (the README's export_inventory): one record per image ever seen, streamed.

Fields: image_id, name, account_id, region, state (AWS state, ``deregistered`` once gone),
creation_date, age_days, deprecation_time, last_launched_time, public, shared_with, in_use,
usage (list of {type, id}), usage_unknown (public or shared without a recent AMI usage report:
other accounts may use it unseen), storage_gib, tags, first_seen_at, last_seen_at, gone_at, and also
family, description, architecture, platform, source_image_id, source_image_region,
deregistration_protection and monthly_cost_usd. Timestamps are ISO 8601 UTC.
In CSV, list and object fields (shared_with, usage, tags) are JSON text.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from django.db.models import Prefetch, QuerySet

from amidash.csv import spreadsheet_safe
from inventory.models import Image, ImageUsage

FIELDS = [
    "image_id",
    "name",
    "account_id",
    "region",
    "state",
    "creation_date",
    "age_days",
    "deprecation_time",
    "last_launched_time",
    "public",
    "shared_with",
    "in_use",
    "usage",
    "usage_unknown",
    "storage_gib",
    "monthly_cost_usd",
    "tags",
    "first_seen_at",
    "last_seen_at",
    "gone_at",
    "family",
    "description",
    "architecture",
    "platform",
    "source_image_id",
    "source_image_region",
    "deregistration_protection",
]
FORMATS = ("csv", "json")
CHUNK_SIZE = 2000


def _timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def export_queryset(images: QuerySet[Image] | None = None, viewer: Any = None) -> QuerySet[Image]:
    """The images to export (all by default), with what the records need, in a stable order.

    With ``viewer``, an image's usage lists only what runs in the accounts they may see (a
    shared image's users in other accounts are not theirs to see).
    """
    images = Image.objects.all() if images is None else images
    usages = ImageUsage.objects.all() if viewer is None else ImageUsage.objects.visible_to(viewer)
    return (
        images.select_related("account", "account_region")
        .prefetch_related(Prefetch("usages", queryset=usages))
        .order_by("account__account_id", "region", "image_id")
    )


def image_record(image: Image) -> dict[str, Any]:
    """One export record."""
    return {
        "image_id": image.image_id,
        "name": image.name,
        "account_id": image.account.account_id,
        "region": image.region,
        "state": image.state,
        "creation_date": _timestamp(image.creation_date),
        "age_days": image.age_days,
        "deprecation_time": _timestamp(image.deprecation_time),
        "last_launched_time": _timestamp(image.last_launched_time),
        "public": image.public,
        "shared_with": list(image.shared_with),
        "in_use": image.in_use,
        "usage": [{"type": u.usage_type, "id": u.resource_id} for u in image.usages.all()],
        "usage_unknown": image.is_usage_unknown,
        "storage_gib": image.storage_gib,
        "monthly_cost_usd": str(image.monthly_cost),
        "tags": dict(image.tags),
        "first_seen_at": _timestamp(image.first_seen_at),
        "last_seen_at": _timestamp(image.seen_at()),
        "gone_at": _timestamp(image.gone_at),
        "family": image.family,
        "description": image.description,
        "architecture": image.architecture,
        "platform": image.platform,
        "source_image_id": image.source_image_id,
        "source_image_region": image.source_image_region,
        "deregistration_protection": image.deregistration_protection,
    }


def records(images: QuerySet[Image] | None = None, viewer: Any = None) -> Iterator[dict[str, Any]]:
    for image in export_queryset(images, viewer).iterator(chunk_size=CHUNK_SIZE):
        yield image_record(image)


def _csv_value(value: Any) -> Any:
    if isinstance(value, list | dict):
        return spreadsheet_safe(json.dumps(value, sort_keys=True))
    if value is None:
        return ""
    return spreadsheet_safe(value)


def iter_csv(rows: Iterable[dict[str, Any]], fields: list[str] = FIELDS) -> Iterator[str]:
    """CSV text, a header line then one line per record, produced as it goes."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _csv_value(row[key]) for key in fields})
        if buffer.tell() > 65536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def iter_json(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A JSON array of records, one record per line, produced as it goes."""
    yield "["
    for index, row in enumerate(rows):
        yield ("\n" if index == 0 else ",\n") + json.dumps(row, sort_keys=False)
    yield "\n]\n"


def stream_export(
    export_format: str, images: QuerySet[Image] | None = None, viewer: Any = None
) -> Iterator[str]:
    """The export in ``csv`` or ``json``; for StreamingHttpResponse (the images and usage
    ``viewer`` may see) and the command (everything)."""
    if export_format not in FORMATS:
        raise ValueError(f"unknown export format {export_format!r}: use csv or json")
    rows = records(images, viewer)
    return iter_csv(rows) if export_format == "csv" else iter_json(rows)
