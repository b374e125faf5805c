"""The bulk upsert: EC2 Image shapes to rows by COPY, straight in for new images, staged for the
rest; values that need escaping arrive exactly as EC2 sent them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from inventory.choices import ImageState
from inventory.models import Account, AccountRegion, Image
from inventory.services import upsert
from inventory.services.listing import RegionListing, fingerprint
from inventory.services.sync import save_listing
from inventory.services.upsert import upsert_images

pytestmark = pytest.mark.django_db

AWKWARD = "tab\there, line\nbreak, return\r, back\\slash, \\N, quote ' \" and ünïcode ✓"


@pytest.fixture
def region():
    account = Account.objects.create(account_id="111122223333", name="bulk")
    return AccountRegion.objects.create(account=account, region="eu-west-1")


def shape(number: int, **changes) -> dict:
    data = {
        "ImageId": f"ami-{number:017x}",
        "Name": f"svc-{number}-1.0.{number}",
        "Description": "built",
        "State": "available",
        "CreationDate": "2025-03-01T10:00:00.000Z",
        "Architecture": "arm64",
        "PlatformDetails": "Linux/UNIX",
        "Public": False,
        "EnaSupport": True,
        "BlockDeviceMappings": [
            {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": f"snap-{number}", "VolumeSize": 9}}
        ],
        "Tags": [{"Key": "team", "Value": "core"}],
    }
    data.update(changes)
    return data


def awkward(number: int) -> dict:
    return shape(
        number,
        Name=f"odd\tname\n{number}\\",
        Description=AWKWARD,
        ImageLocation="123/loc\\ation",
        Tags=[{"Key": "note\t", "Value": AWKWARD}, {"Key": "empty", "Value": ""}],
        DeprecationTime="2030-01-02T03:04:05.000Z",
        EnaSupport=None,
    )


@pytest.mark.parametrize("new", [True, False], ids=["copied straight in", "staged"])
def test_values_that_need_escaping_arrive_exactly(region, new):
    images = [awkward(1), shape(2)]
    now = timezone.now()
    ids = {data["ImageId"] for data in images}

    with transaction.atomic():
        upsert_images(region, images, now, new=ids if new else ())

    odd = Image.objects.get(image_id=images[0]["ImageId"])
    assert odd.name == "odd\tname\n1\\"
    assert odd.description == AWKWARD
    assert odd.image_location == "123/loc\\ation"
    assert odd.tags == {"note\t": AWKWARD, "empty": ""}
    assert odd.deprecation_time == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert odd.ena_support is None
    assert odd.last_launched_time is None
    assert odd.fingerprint == fingerprint(images[0])
    plain = Image.objects.get(image_id=images[1]["ImageId"])
    assert (plain.name, plain.family, plain.architecture) == ("svc-2-1.0.2", "svc", "arm64")
    assert plain.ena_support is True and plain.public is False
    assert plain.storage_gib == 9
    assert plain.block_devices[0]["snapshot_id"] == "snap-2"
    for image in (odd, plain):
        assert (image.account_id, image.account_region_id) == (region.account_id, region.pk)
        assert image.first_seen_at == image.last_seen_at == now
        assert image.shared_with == [] and image.launch_permissions_checked_at is None
        assert image.gone_at is None and not image.in_use and image.usage_count == 0


def test_an_update_keeps_what_the_listing_does_not_say(region):
    first = timezone.now() - timedelta(days=3)
    with transaction.atomic():
        upsert_images(
            region, [shape(1)], first, permissions={shape(1)["ImageId"]: ["444455556666"]}
        )
    Image.objects.update(in_use=True, usage_count=2, gone_at=first, state=ImageState.DEREGISTERED)
    later = timezone.now()

    with transaction.atomic():
        upsert_images(region, [shape(1, Name="renamed-2.0", State="disabled")], later)

    image = Image.objects.get()
    assert (image.name, image.state, image.gone_at) == ("renamed-2.0", "disabled", None)
    assert image.first_seen_at == first and image.last_seen_at == later
    assert image.shared_with == ["444455556666"]  # not fetched again: kept
    assert image.launch_permissions_checked_at == first
    assert (image.in_use, image.usage_count) == (True, 2)  # the usage summary is the sync's

    with transaction.atomic():
        upsert_images(region, [shape(1)], later, permissions={shape(1)["ImageId"]: []})
    image.refresh_from_db()
    assert image.shared_with == [] and image.launch_permissions_checked_at == later


def test_many_batches_keep_every_image(region, monkeypatch):
    monkeypatch.setattr(upsert, "BATCH_SIZE", 7)
    images = [shape(n) for n in range(50)]
    ids = {data["ImageId"] for data in images[:30]}
    with transaction.atomic():
        upsert_images(region, images[:30], timezone.now(), new=ids)

    with transaction.atomic():
        fields = upsert_images(
            region,
            [shape(n, Description="v2") for n in range(50)],
            timezone.now(),
            new={data["ImageId"] for data in images[30:]},
        )

    assert Image.objects.count() == 50
    assert set(Image.objects.values_list("description", flat=True)) == {"v2"}
    assert set(fields) == {data["ImageId"] for data in images}
    assert fields[images[0]["ImageId"]].description == "v2"


def test_an_image_listed_twice_is_saved_once(region):
    twice = [shape(1), shape(2), shape(1, Description="the later page")]

    with transaction.atomic():
        counts = save_listing(region, RegionListing(twice, []), {}, None)

    assert Image.objects.count() == 2
    assert Image.objects.get(image_id=shape(1)["ImageId"]).description == "the later page"
    assert (counts["images_seen"], counts["images_created"]) == (2, 2)


def test_a_failed_copy_leaves_nothing_behind(region):
    images = [shape(1), shape(2)]
    with transaction.atomic():
        upsert_images(region, images[:1], timezone.now())

    # Claiming an image is new when it has a row is refused by the unique constraint; the
    # whole write is undone (a sync then fails the Region and keeps its images as they were).
    with pytest.raises(Exception, match="duplicate key"), transaction.atomic():
        upsert_images(
            region, [shape(2), shape(1, Name="x")], timezone.now(), new={"ami-" + "0" * 16 + "1"}
        )

    assert list(Image.objects.values_list("name", flat=True)) == ["svc-1-1.0.1"]


def test_a_large_listing_is_saved_and_announced_in_batches(region, monkeypatch):
    from inventory import signals
    from inventory.services import sync

    monkeypatch.setattr(sync, "SAVE_BATCH_SIZE", 4)
    announced: list[int] = []

    def count(sender, observations, **kwargs):
        announced.append(len({o.image_id for o in observations}))

    images = [shape(n) for n in range(10)]
    signals.images_observed.connect(count, weak=False)
    try:
        with transaction.atomic():
            counts = save_listing(region, RegionListing(images, []), {}, None)
    finally:
        signals.images_observed.disconnect(count)

    assert announced == [4, 4, 2]  # each image once, a batch at a time
    assert Image.objects.count() == 10 and counts["images_created"] == 10
    with transaction.atomic():
        again = save_listing(region, RegionListing(images, []), {}, None)
    assert again["image_rows_written"] == 0 and announced == [4, 4, 2]
