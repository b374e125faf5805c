"""Streamed CSV / JSON export of an image queryset: one record per image (DESIGN.md contract)."""

from __future__ import annotations

import csv
import datetime
import json
from collections.abc import Iterator
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone

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
    "storage_gib",
    "tags",
    "first_seen_at",
    "last_seen_at",
    "gone_at",
]
CHUNK = 2000


def _iso(value: datetime.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def export_record(image: Image) -> dict[str, Any]:
    """The export's record of one image; usages must be prefetched."""
    return {
        "image_id": image.image_id,
        "name": image.name,
        "account_id": image.account.account_id,
        "region": image.region,
        "state": "deregistered" if image.gone_at else image.state,
        "creation_date": _iso(image.creation_date),
        "age_days": image.age_days,
        "deprecation_time": _iso(image.deprecation_time),
        "last_launched_time": _iso(image.last_launched_time),
        "public": image.public,
        "shared_with": list(image.shared_with or []),
        "in_use": image.in_use,
        "usage": [{"type": u.usage_type, "id": u.resource_id} for u in image.usages.all()],
        "storage_gib": image.storage_gib,
        "tags": dict(image.tags or {}),
        "first_seen_at": _iso(image.first_seen_at),
        "last_seen_at": _iso(image.last_seen_at),
        "gone_at": _iso(image.gone_at),
    }


def export_rows(images: QuerySet[Image]) -> Iterator[dict[str, Any]]:
    usages = Prefetch(
        "usages", queryset=ImageUsage.objects.only("image_id", "usage_type", "resource_id")
    )
    ordered = (
        images.select_related("account")
        .prefetch_related(usages)
        .defer("description", "block_devices", "image_location")
        .order_by("account__account_id", "region", "image_id")
    )
    for image in ordered.iterator(chunk_size=CHUNK):
        yield export_record(image)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(images: QuerySet[Image]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(FIELDS)
    for record in export_rows(images):
        row = []
        for name in FIELDS:
            value = record[name]
            if isinstance(value, list | dict):
                value = json.dumps(value, sort_keys=True)
            elif isinstance(value, bool):
                value = "true" if value else "false"
            row.append("" if value is None else value)
        yield writer.writerow(row)


def _json_chunks(images: QuerySet[Image]) -> Iterator[str]:
    yield "["
    for index, record in enumerate(export_rows(images)):
        yield ("," if index else "") + "\n" + json.dumps(record, sort_keys=True)
    yield "\n]\n"


def stream_export(images: QuerySet[Image], export_format: str) -> HttpResponse:
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    if export_format == "csv":
        response = StreamingHttpResponse(_csv_lines(images), content_type="text/csv")
    elif export_format == "json":
        response = StreamingHttpResponse(_json_chunks(images), content_type="application/json")
    else:
        return HttpResponse("Export format must be csv or json.", status=400)
    response["Content-Disposition"] = (
        f'attachment; filename="amidash-images-{stamp}.{export_format}"'
    )
    return response
