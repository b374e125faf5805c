"""Images into PostgreSQL in bulk: EC2 Image shapes straight to COPY data, no model objects.

A first sync of a large account writes hundreds of thousands of rows. Each DescribeImages entry
becomes one line of COPY data; images the sync knows are new are copied straight into the
table in one COPY, the others into a temporary table and from there by ``INSERT ... ON
CONFLICT``, a batch at a time. What is the same for every row of a listing (account, Region,
the time of the listing) is made once per call, not from each image. A thread makes the next
batch's data while PostgreSQL writes the current one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import Any, NamedTuple

import orjson
from django.db import connection, transaction

from inventory.choices import ImageState
from inventory.models import AccountRegion, image_family
from inventory.services.listing import UnreadableImage, fingerprint, parse_time

#: Rows per batch of COPY data. Small, so that PostgreSQL starts at once and the thread making
#: the data keeps just ahead of it.
BATCH_SIZE = 2_000


class Listed(NamedTuple):
    """The Image fields a listing says something about (see ``listed``)."""

    name: str
    description: str
    family: str
    state: str
    image_type: str
    image_location: str
    creation_date: datetime | None
    deprecation_time: datetime | None
    last_launched_time: datetime | None
    deregistration_protection: str
    public: bool
    source_image_id: str
    source_image_region: str
    architecture: str
    platform: str
    virtualization_type: str
    root_device_type: str
    root_device_name: str
    ena_support: bool | None
    boot_mode: str
    imds_support: str
    storage_gib: int
    block_devices: list[dict[str, Any]]
    tags: dict[str, str]


LISTED_FIELDS = list(Listed._fields)
#: Copied columns: the image id, what the listing says, its digest and any launch permissions
#: fetched with it (NULL when not fetched: an existing row keeps the ones it has).
_STAGE_COLUMNS = [
    "image_id",
    *LISTED_FIELDS,
    "fingerprint",
    "shared_with",
    "launch_permissions_checked_at",
]
_STAGE = "inventory_image_rows"


def listed(data: dict[str, Any]) -> Listed:
    """What an EC2 Image shape says, as Image field values.

    Raises UnreadableImage, naming the image, when a field is not what EC2's Image shape says.
    """
    try:
        return _listed(data)
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        image_id = data.get("ImageId") if isinstance(data, dict) else None
        raise UnreadableImage(
            f"malformed DescribeImages answer: image {image_id or '(no ImageId)'} cannot be "
            f"read ({type(error).__name__}: {error})"
        ) from error


def _listed(data: dict[str, Any]) -> Listed:
    devices = [_block_device(mapping) for mapping in data.get("BlockDeviceMappings") or []]
    name = data.get("Name") or ""
    get = data.get
    return Listed(
        name,
        get("Description") or "",
        image_family(name) if name else "",
        get("State") or ImageState.AVAILABLE,
        get("ImageType") or "",
        (get("ImageLocation") or "")[:1024],
        parse_time(get("CreationDate")),
        parse_time(get("DeprecationTime")),
        parse_time(get("LastLaunchedTime")),
        get("DeregistrationProtection") or "",
        bool(get("Public")),
        get("SourceImageId") or "",
        get("SourceImageRegion") or "",
        get("Architecture") or "",
        get("PlatformDetails") or get("Platform") or "",
        get("VirtualizationType") or "",
        get("RootDeviceType") or "",
        get("RootDeviceName") or "",
        get("EnaSupport"),
        get("BootMode") or "",
        get("ImdsSupport") or "",
        sum(d["size_gib"] or 0 for d in devices if d["snapshot_id"]),
        devices,
        {t["Key"]: t.get("Value", "") for t in get("Tags") or []},
    )


def image_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Image model fields (LISTED_FIELDS) from an EC2 Image shape."""
    return listed(data)._asdict()


def _block_device(mapping: dict[str, Any]) -> dict[str, Any]:
    ebs = mapping.get("Ebs") or {}
    return {
        "device": mapping.get("DeviceName", ""),
        "snapshot_id": ebs.get("SnapshotId", ""),
        "size_gib": ebs.get("VolumeSize"),
        "volume_type": ebs.get("VolumeType", ""),
        "encrypted": ebs.get("Encrypted"),
        "virtual_name": mapping.get("VirtualName", ""),
    }


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


# COPY's text format: a tab between columns, a newline after each row, \N for NULL, and
# backslash escapes for those characters inside values. Rows are made with NUL (which no
# PostgreSQL text can hold) for NULL; most rows need no escaping at all.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})
_NULL = "\x00"
_TABS = len(_STAGE_COLUMNS) - 1


def _time(value: datetime | None) -> str:
    return _NULL if value is None else value.isoformat()


def _copy_line(parts: list[str]) -> str:
    line = "\t".join(parts)
    if "\\" in line or "\n" in line or "\r" in line or line.count("\t") != _TABS:
        line = "\t".join(part.translate(_COPY_ESCAPES) for part in parts)
    return line.replace(_NULL, "\\N")


def _copy_data(
    images: list[dict[str, Any]],
    digests: Mapping[str, str],
    permissions: Mapping[str, list[str]],
    now: datetime,
    prefix: str = "",
    new: bool = False,
) -> tuple[bytes, dict[str, Listed]]:
    """COPY data (text format, columns as _STAGE_COLUMNS) for these images, and what each
    image's listing says.

    ``prefix`` starts every line (the columns that are the same for all rows). Rows of ``new``
    images carry launch permissions in any case (none until fetched). Made in full here, off
    the thread that talks to PostgreSQL, so that building one batch overlaps the database's
    work on the previous one.
    """
    lines, values_of = [], {}
    checked_at = now.isoformat()
    unknown = "[]" if new else _NULL
    for data in images:
        image_id = data["ImageId"]
        v = values_of[image_id] = listed(data)
        shared = permissions.get(image_id)
        ena = v.ena_support
        parts = [
            image_id,
            v.name,
            v.description,
            v.family,
            v.state,
            v.image_type,
            v.image_location,
            _time(v.creation_date),
            _time(v.deprecation_time),
            _time(v.last_launched_time),
            v.deregistration_protection,
            "t" if v.public else "f",
            v.source_image_id,
            v.source_image_region,
            v.architecture,
            v.platform,
            v.virtualization_type,
            v.root_device_type,
            v.root_device_name,
            _NULL if ena is None else "t" if ena else "f",
            v.boot_mode,
            v.imds_support,
            str(v.storage_gib),
            _json(v.block_devices),
            _json(v.tags),
            digests.get(image_id) or fingerprint(data),
            unknown if shared is None else _json(shared),
            _NULL if shared is None else checked_at,
        ]
        lines.append(prefix + _copy_line(parts))
    lines.append("")
    return "\n".join(lines).encode(), values_of


#: Columns the same for every row of one account+Region's listing, and what a new row has.
_CONSTANT_COLUMNS = [
    "account_id",
    "account_region_id",
    "region",
    "first_seen_at",
    "last_seen_at",
    "gone_at",
    "in_use",
    "usage_count",
    "last_seen_in_use_at",
]
_STAGE_LIST = ", ".join(f'"{c}"' for c in _STAGE_COLUMNS)
#: The columns of a new row's COPY data: new_row_prefix, then what _copy_data makes.
INSERT_COLUMNS = f"{', '.join(_CONSTANT_COLUMNS)}, {_STAGE_LIST}"


def new_row_prefix(account_region: AccountRegion, now: datetime) -> str:
    """COPY text of the _CONSTANT_COLUMNS of a new row of this account+Region seen at ``now``."""
    ids = [str(account_region.account_id), str(account_region.pk), account_region.region]
    return "\t".join([*ids, now.isoformat(), now.isoformat(), "\\N", "f", "0", "\\N", ""])


_UPSERT = f"""
    INSERT INTO inventory_image ({", ".join(_CONSTANT_COLUMNS)}, {_STAGE_LIST})
    SELECT %(account)s, %(account_region)s, %(region)s, %(now)s, %(now)s, NULL, false, 0, NULL,
        {", ".join(f's."{c}"' for c in _STAGE_COLUMNS[:-2])},
        COALESCE(s.shared_with, '[]'::jsonb), s.launch_permissions_checked_at
    FROM {_STAGE} s
    ON CONFLICT (account_id, region, image_id) DO UPDATE SET
        account_region_id = EXCLUDED.account_region_id,
        {", ".join(f'"{c}" = EXCLUDED."{c}"' for c in ["fingerprint", *LISTED_FIELDS])},
        last_seen_at = EXCLUDED.last_seen_at,
        gone_at = NULL,
        shared_with = CASE WHEN EXCLUDED.launch_permissions_checked_at IS NULL
            THEN inventory_image.shared_with ELSE EXCLUDED.shared_with END,
        launch_permissions_checked_at = COALESCE(
            EXCLUDED.launch_permissions_checked_at, inventory_image.launch_permissions_checked_at)
"""


def upsert_images(
    account_region: AccountRegion,
    images: list[dict[str, Any]],
    now: datetime,
    *,
    digests: Mapping[str, str] | None = None,
    permissions: Mapping[str, list[str]] | None = None,
    new: Collection[str] = (),
) -> dict[str, Listed]:
    """Insert or update EC2 Image shapes of one account+Region as seen at ``now``.

    New rows are first seen at ``now``; existing ones keep their first sighting, usage summary
    and, unless ``permissions`` names them, their launch permissions. A gone image that is
    listed again is present again. ``digests`` saves recomputing fingerprints the caller has.

    Images named in ``new`` are known to have no row (the caller holds the account+Region's
    sync lock): they are copied straight into the table, which saves a staging pass. The
    others go through a staging table and ``INSERT ... ON CONFLICT``. Returns what each
    image's listing says, by image id (see ``listed``).
    """
    fields: dict[str, Listed] = {}
    if not images:
        return fields
    digests, permissions = digests or {}, permissions or {}
    params = {
        "account": account_region.account_id,
        "account_region": account_region.pk,
        "region": account_region.region,
        "now": now,
    }
    fresh = [data for data in images if data["ImageId"] in new]
    known = [data for data in images if data["ImageId"] not in new]
    # The staging table empties itself at commit: keep COPY and INSERT in one transaction.
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="image-rows") as builder,
    ):
        if known:
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} ON COMMIT DELETE ROWS AS "
                f"SELECT {_STAGE_LIST} FROM inventory_image WITH NO DATA"
            )

        def stage(data: bytes) -> None:
            cursor.execute(f"TRUNCATE {_STAGE}")
            with cursor.cursor.copy(f"COPY {_STAGE} ({_STAGE_LIST}) FROM STDIN") as copy:
                copy.write(data)
            cursor.execute(_UPSERT, params)

        copy_data = partial(_copy_data, digests=digests, permissions=permissions, now=now)
        if fresh:
            # One COPY for all new rows: PostgreSQL writes each batch while the next is made.
            make = partial(copy_data, prefix=new_row_prefix(account_region, now), new=True)
            with cursor.cursor.copy(f"COPY inventory_image ({INSERT_COLUMNS}) FROM STDIN") as copy:
                for data in _pipeline(builder, fresh, make, fields):
                    copy.write(data)
        for data in _pipeline(builder, known, copy_data, fields):
            stage(data)
    return fields


def _pipeline(
    builder: ThreadPoolExecutor,
    images: list[dict[str, Any]],
    make: Callable[[list[dict[str, Any]]], tuple[bytes, dict[str, Listed]]],
    fields: dict[str, Listed],
) -> Iterator[bytes]:
    """COPY data batch by batch: the builder thread makes the next batch while the caller has
    the database write the current one. Collects what the listing says in ``fields``."""
    batches = [images[at : at + BATCH_SIZE] for at in range(0, len(images), BATCH_SIZE)]
    upcoming = builder.submit(make, batches[0]) if batches else None
    for number in range(len(batches)):
        data, values = upcoming.result()
        fields.update(values)
        if number + 1 < len(batches):
            upcoming = builder.submit(make, batches[number + 1])
        yield data
