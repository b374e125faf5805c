"""Upsert of 100,000 images into PostgreSQL: rows per second, and a re-sync of an unchanged
estate that writes no image rows.

    DEBUG=true DATABASE_URL=postgres://... python bench/upsert.py [--images 100000]

Runs in a throwaway database (test_<name>, created and dropped here). The baseline, measured in
the same run, is PostgreSQL's COPY of the same rows into a bare table with no indexes: the
fastest any upsert could be. Prints seconds, rows per second and the ratio to the baseline.
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


def copy_baseline(rows: list[tuple]) -> float:
    """COPY the same rows into a bare temporary table: the floor for any upsert."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_copy (image_id text, region text, name text, state text,"
            " tags jsonb, block_devices jsonb, fingerprint text) ON COMMIT DROP"
        )
        started = time.perf_counter()
        with cursor.copy("COPY bench_copy FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--drop-index", action="append", default=[])
    arguments = parser.parse_args()
    count = arguments.images

    import json

    from inventory.models import Account, AccountRegion, Image
    from inventory.services.listing import RegionListing, fingerprint
    from inventory.services.sync import image_fields, save_listing, upsert_images

    # A database of its own (never the test run's test_<name>, which pytest may be using).
    test_settings = connection.settings_dict.setdefault("TEST", {})
    test_settings["NAME"] = f"bench_{connection.settings_dict['NAME']}"
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
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
        now = timezone.now()

        def build() -> list[Image]:
            return [
                Image(
                    account=account,
                    account_region=regions[region],
                    region=region,
                    image_id=data["ImageId"],
                    first_seen_at=now,
                    last_seen_at=now,
                    fingerprint=fingerprint(data),
                    **image_fields(data),
                )
                for region, images in listings.items()
                for data in images
            ]

        started = time.perf_counter()
        objects = build()
        build_seconds = time.perf_counter() - started
        total = len(objects)

        baseline = copy_baseline(
            [
                (
                    i.image_id,
                    i.region,
                    i.name,
                    i.state,
                    json.dumps(i.tags),
                    json.dumps(i.block_devices),
                    i.fingerprint,
                )
                for i in objects
            ]
        )

        started = time.perf_counter()
        with transaction.atomic():
            upsert_images(objects)
        insert_seconds = time.perf_counter() - started

        started = time.perf_counter()
        with transaction.atomic():
            upsert_images(build())
        update_seconds = time.perf_counter() - started - 0  # includes building the objects

        started = time.perf_counter()
        written = 0
        for region, images in listings.items():
            with transaction.atomic():
                counts = save_listing(regions[region], RegionListing(images, []), {}, None)
            written += counts["image_rows_written"]
        resync_seconds = time.perf_counter() - started

        print(f"images: {total:,} in {len(REGIONS)} Regions")
        rate = total / baseline
        print(f"baseline COPY into a bare table:   {baseline:6.2f} s  {rate:10,.0f} rows/s")
        print(f"building model objects:            {build_seconds:6.2f} s")
        print(
            f"upsert, first sync (insert):       {insert_seconds:6.2f} s  "
            f"{total / insert_seconds:10,.0f} rows/s  ratio {insert_seconds / baseline:5.1f}x"
        )
        print(
            f"upsert, every row changed:         {update_seconds:6.2f} s  "
            f"{total / update_seconds:10,.0f} rows/s  ratio {update_seconds / baseline:5.1f}x"
        )
        print(
            f"re-sync of the unchanged estate:   {resync_seconds:6.2f} s  "
            f"image rows written: {written}"
        )
        goal = "met" if insert_seconds + build_seconds < 5 else "NOT met"
        print(f"goal (100,000 in under 5 s, objects included): {goal}")
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


if __name__ == "__main__":
    main()
