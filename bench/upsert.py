"""Upsert of 100,000 images into PostgreSQL: rows per second, and a re-sync of an unchanged
estate that writes no image rows.

    DEBUG=true DATABASE_URL=postgres://... python bench/upsert.py [--images 100000]

Runs in a scratch database (created and dropped here). The upsert starts from the dicts
DescribeImages returns: fingerprints, rows and the database work are all timed. The baseline,
measured in the same run, is PostgreSQL's COPY of the same rows, made beforehand, into a bare
table with no indexes: the fastest any upsert could be. Prints seconds, rows per second and the
ratio to the baseline; the same COPY into the real table, which is the database's own share of a
first sync; then a whole first-sync save (with its audit events) for scale.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amidash.settings")
os.environ.setdefault("DEBUG", "true")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.scratch import drop_database, use_scratch_database  # noqa: E402

REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]


def fake_images(count: int, region: str, offset: int = 0) -> list[dict]:
    """EC2 Image shapes as DescribeImages returns them."""
    images = []
    for number in range(offset, offset + count):
        images.append(
            {
                "ImageId": f"ami-{number:017x}",
                "Name": f"service-{number % 97}-1.{number % 13}.{number}",
                "Description": "built by the pipeline",
                "State": "available",
                "CreationDate": "2025-03-01T10:00:00.000Z",
                "Architecture": "x86_64",
                "PlatformDetails": "Linux/UNIX",
                "VirtualizationType": "hvm",
                "RootDeviceType": "ebs",
                "RootDeviceName": "/dev/xvda",
                "EnaSupport": True,
                "BootMode": "uefi-preferred",
                "ImageType": "machine",
                "Public": False,
                "DeregistrationProtection": "disabled",
                "BlockDeviceMappings": [
                    {
                        "DeviceName": "/dev/xvda",
                        "Ebs": {
                            "SnapshotId": f"snap-{number:017x}",
                            "VolumeSize": 8 + number % 5,
                            "VolumeType": "gp3",
                            "Encrypted": True,
                        },
                    }
                ],
                "Tags": [
                    {"Key": "team", "Value": f"team-{number % 7}"},
                    {"Key": "env", "Value": "prod"},
                ],
            }
        )
    return images


def copy_baseline(payloads: list[bytes]) -> float:
    """COPY the same rows into a bare temporary table: the floor for any upsert."""
    with transaction.atomic(), connection.cursor() as cursor:
        from inventory.services.upsert import _STAGE_LIST

        cursor.execute(
            f"CREATE TEMP TABLE bench_copy ON COMMIT DROP AS"
            f" SELECT {_STAGE_LIST} FROM inventory_image WITH NO DATA"
        )
        started = time.perf_counter()
        with cursor.cursor.copy("COPY bench_copy FROM STDIN") as copy:
            for payload in payloads:
                copy.write(payload)
        return time.perf_counter() - started


def copy_into_table(payloads: list[bytes]) -> float:
    """COPY the same new rows into inventory_image, one transaction per Region as a sync does:
    the database's own share of the upsert (indexes, constraints, WAL), with no Python work."""
    from inventory.services.upsert import INSERT_COLUMNS

    statement = f"COPY inventory_image ({INSERT_COLUMNS}) FROM STDIN"
    started = time.perf_counter()
    for payload in payloads:
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            cursor.cursor.copy(statement) as copy,
        ):
            copy.write(payload)
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE inventory_image CASCADE")
    return seconds


def index_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'inventory_image'")
        return cursor.fetchone()[0]


def changed(images: list[dict]) -> list[dict]:
    """The same images with a new tag each: every row must be rewritten."""
    patch = {"Key": "patched", "Value": "yes"}
    return [{**data, "Tags": [*data["Tags"], patch]} for data in images]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--drop-index", action="append", default=[])
    arguments = parser.parse_args()
    count = arguments.images

    from inventory.models import Account, AccountRegion, Image
    from inventory.services.listing import RegionListing, fingerprint
    from inventory.services.sync import save_listing
    from inventory.services.upsert import _copy_data, new_row_prefix, upsert_images
    from lifecycle.models import AuditEvent

    name = use_scratch_database("upsert")
    try:
        with connection.cursor() as cursor:
            for index in arguments.drop_index:
                cursor.execute(f"DROP INDEX IF EXISTS {index}")
        account = Account.objects.create(account_id="999999999999", name="bench")
        per_region = count // len(REGIONS)
        listings = {
            region: fake_images(per_region, region, offset=i * per_region)
            for i, region in enumerate(REGIONS)
        }
        regions = {r: AccountRegion.objects.create(account=account, region=r) for r in REGIONS}
        total = sum(len(images) for images in listings.values())
        now = timezone.now()

        # The floor: the data this upsert copies, made beforehand, COPYed into a bare table.
        payloads = [_copy_data(images, {}, {}, now, new=True)[0] for images in listings.values()]
        baseline = copy_baseline(payloads)
        # PostgreSQL's share: the rows a first sync copies, made beforehand, into the real table.
        payloads = [
            _copy_data(images, {}, {}, now, prefix=new_row_prefix(regions[region], now), new=True)[
                0
            ]
            for region, images in listings.items()
        ]
        database_seconds = copy_into_table(payloads)
        del payloads

        def upsert_all(listings: dict[str, list[dict]], first: bool) -> float:
            """As a sync does: a first sync knows all images are new (their fingerprints are
            made with their rows); later ones compare fingerprints first."""
            started = time.perf_counter()
            for region, images in listings.items():
                with transaction.atomic():
                    ids = {data["ImageId"] for data in images}
                    digests = {} if first else {i["ImageId"]: fingerprint(i) for i in images}
                    upsert_images(
                        regions[region],
                        images,
                        timezone.now(),
                        digests=digests,
                        new=ids if first else (),
                    )
            return time.perf_counter() - started

        insert_seconds = upsert_all(listings, first=True)
        assert Image.objects.count() == total
        listings = {region: changed(images) for region, images in listings.items()}
        update_seconds = upsert_all(listings, first=False)

        started = time.perf_counter()
        written = 0
        for region, images in listings.items():
            with transaction.atomic():
                counts = save_listing(regions[region], RegionListing(images, []), {}, None)
            written += counts["image_rows_written"]
        resync_seconds = time.perf_counter() - started

        # A whole first sync's save: the upsert, the diff, usage and one audit event per image.
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE inventory_image CASCADE")
        events_before = AuditEvent.objects.count()
        started = time.perf_counter()
        for region, images in listings.items():
            with transaction.atomic():
                save_listing(regions[region], RegionListing(images, []), {}, None)
        save_seconds = time.perf_counter() - started
        events = AuditEvent.objects.count() - events_before

        print(f"images: {total:,} in {len(REGIONS)} Regions, as DescribeImages returns them")
        rate = total / baseline
        print(
            f"baseline, COPY into a bare table:   {baseline:6.2f} s  {rate:9,.0f} rows/s"
            "  (rows made beforehand)"
        )
        print(
            f"PostgreSQL alone, same rows into the {index_count()}-index table:"
            f" {database_seconds:6.2f} s  ratio {database_seconds / baseline:5.1f}x"
            "  (rows made beforehand)"
        )
        print(
            f"upsert, first sync (insert):        {insert_seconds:6.2f} s  "
            f"{total / insert_seconds:9,.0f} rows/s  ratio {insert_seconds / baseline:5.1f}x"
        )
        print(
            f"upsert, every row changed:          {update_seconds:6.2f} s  "
            f"{total / update_seconds:9,.0f} rows/s  ratio {update_seconds / baseline:5.1f}x"
        )
        print(
            f"re-sync of the unchanged estate:    {resync_seconds:6.2f} s  "
            f"image rows written: {written}"
        )
        print(
            f"first sync, whole save:             {save_seconds:6.2f} s  "
            f"(upsert, diff and {events:,} audit events)"
        )
        if total < 100_000:
            goal = f"not measured: run with --images 100000 (this run had {total:,})"
        else:
            goal = "met" if insert_seconds * 100_000 / total < 5 else "NOT met"
        print(f"goal (100,000 in under 5 s, from the listing's dicts): {goal}")
    finally:
        drop_database(name)


if __name__ == "__main__":
    main()
