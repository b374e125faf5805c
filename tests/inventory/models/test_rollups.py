"""The image rollups equal a count of the image table made from scratch, whatever wrote it: the
sync, a lifecycle execution, the ORM, raw SQL."""

from __future__ import annotations

import datetime
from collections import Counter

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from inventory.choices import FindingsStatus
from inventory.models import Image, ImageFindings, ImageRollup
from inventory.models.rollups import GRAINS
from inventory.services.findings import refresh_findings
from lifecycle.services.execution import execute_request
from tests.amidash.sandbox.images import ec2_client, launch, register_image
from tests.factories import (
    approve,
    ask,
    create_account,
    create_image,
    image,
    sync,
    sync_with_follow_ups,
)

pytestmark = pytest.mark.django_db


def _day(moment: datetime.datetime | None) -> datetime.date | None:
    return moment.astimezone(datetime.UTC).date() if moment else None


#: The key columns after the grain, in the order of the rollup's unique key.
COLUMNS = tuple(ImageRollup._meta.constraints[0].fields[1:])


def _columns(row: Image) -> dict[str, object]:
    """The rollup key of an image, its findings read from the findings table itself."""
    findings = ImageFindings.objects.filter(image=row).first()
    scanned = findings is not None and findings.status == FindingsStatus.SCANNED
    return {
        "account": row.account_id,
        "region": row.region,
        "gone": row.gone_at is not None,
        "state": row.state,
        "in_use": row.in_use,
        "public": row.public,
        "shared": bool(row.shared_with),
        "scanned": scanned,
        "critical": scanned and findings.critical > 0,
        "high": scanned and findings.high > 0,
        "creation_day": _day(row.creation_date),
        "deprecation_day": _day(row.deprecation_time),
    }


def from_scratch() -> dict[tuple, tuple[int, int]]:
    """Images and storage per grain and key, counted from the image rows themselves."""
    images: Counter[tuple] = Counter()
    storage: Counter[tuple] = Counter()
    for row in Image.objects.all():
        columns = _columns(row)
        for grain, kept in GRAINS.items():
            key = (grain, *(columns[name] if name in kept else None for name in COLUMNS))
            images[key] += 1
            storage[key] += row.storage_gib
    return {key: (images[key], storage[key]) for key in images}


def rolled_up() -> dict[tuple, tuple[int, int]]:
    """The rollups that hold any image (rows whose images all moved away stay at zero)."""
    return {
        (row.grain, row.account_id, *(getattr(row, name) for name in COLUMNS[1:])): (
            row.images,
            row.storage_gib,
        )
        for row in ImageRollup.objects.all()
        if row.images or row.storage_gib
    }


def assert_rollups_match() -> None:
    assert rolled_up() == from_scratch()


def test_it_counts_what_a_sync_inserts_updates_and_marks_gone(aws) -> None:
    ec2 = ec2_client(aws)
    kept = register_image(aws, "web-1.0", size_gib=12)
    dropped = register_image(aws, "web-0.9", size_gib=20)
    used = register_image(aws, "api-2.0")
    sync()
    assert ImageRollup.objects.exists()
    assert_rollups_match()

    launch(aws, used)
    ec2.modify_image_attribute(ImageId=kept, LaunchPermission={"Add": [{"Group": "all"}]})
    ec2.enable_image_deprecation(ImageId=kept, DeprecateAt=timezone.now() + datetime.timedelta(1))
    ec2.deregister_image(ImageId=dropped)
    sync()

    assert image(dropped).gone_at is not None and image(used).in_use and image(kept).public
    assert_rollups_match()


def _flags(**key: object) -> int:
    """Current images of the flags grain with this findings key, summed from the rollups."""
    rows = ImageRollup.objects.filter(grain="flags", gone=False, **key)
    return sum(row.images for row in rows)


def test_it_counts_the_findings_a_sync_and_the_paced_pass_read(aws, settings) -> None:
    settings.LAUNCH_PERMISSIONS_PER_SECOND = 1000
    critical = register_image(aws, "vulnerable-1")
    high = register_image(aws, "vulnerable-2")
    register_image(aws, "clean-1")
    aws.set_image_findings(critical, [{"Title": "CVE-1", "SeverityLabel": "critical"}])
    aws.set_image_findings(high, [{"Title": "CVE-2", "SeverityLabel": "high"}] * 2)
    sync_with_follow_ups()

    assert image(critical).findings_critical == 1 and image(high).findings_high == 2
    assert (_flags(critical=True), _flags(high=True), _flags(scanned=True)) == (1, 1, 3)
    assert_rollups_match()

    # Fixed since: the paced pass reads them again (they are due) and the rollups follow.
    aws.set_image_findings(critical, [])
    settings.FINDINGS_MAX_AGE_HOURS = 0
    assert refresh_findings(image(critical).account_region) == 3
    assert (_flags(critical=True), _flags(high=True), _flags(scanned=True)) == (0, 1, 3)
    assert_rollups_match()


def test_it_counts_findings_written_outside_the_services() -> None:
    now = timezone.now()
    scanned, refused, later = (create_image(storage_gib=8) for _ in range(3))
    ImageFindings.objects.create(
        image=scanned, status=FindingsStatus.SCANNED, critical=2, high=1, checked_at=now
    )
    ImageFindings.objects.create(
        image=refused, status=FindingsStatus.NOT_SCANNED, reason="denied", checked_at=now
    )
    assert (_flags(critical=True), _flags(high=True), _flags(scanned=False)) == (1, 1, 2)
    assert_rollups_match()

    ImageFindings.objects.filter(image=scanned).update(critical=0)
    ImageFindings.objects.filter(image=refused).update(status=FindingsStatus.SCANNED, high=3)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO inventory_imagefindings (image_id, status, reason, critical, high,"
            " medium, low, informational, checked_at) VALUES (%s, 'scanned', '', 4, 0, 0, 0, 0,"
            " now())",
            [later.pk],
        )
    assert (_flags(critical=True), _flags(high=True), _flags(scanned=True)) == (1, 2, 3)
    assert_rollups_match()

    ImageFindings.objects.filter(image=later).delete()
    Image.objects.filter(pk=scanned.pk).update(state="disabled")
    assert image(later.image_id).findings_critical == 0
    assert (_flags(critical=True), _flags(scanned=False)) == (0, 1)
    assert_rollups_match()


def test_it_counts_what_a_lifecycle_execution_changes(aws, requester, approver) -> None:
    disabled, deregistered = register_image(aws, "old-1"), register_image(aws, "old-2")
    sync()
    for action, image_id in (("disable", disabled), ("deregister", deregistered)):
        request = ask(requester, action, [image_id])
        approve(approver, request)
        execute_request(request.pk, sleep=lambda seconds: None)

    assert image(disabled).state == "disabled"
    assert image(deregistered).gone_at is not None
    assert_rollups_match()


def test_it_counts_changes_made_outside_the_services() -> None:
    account = create_account()
    images = [create_image(account=account, storage_gib=10 + n) for n in range(5)]
    create_image(account=create_account("444455556666", "dev"), region="eu-west-1")
    assert_rollups_match()

    Image.objects.filter(pk=images[0].pk).update(in_use=True, shared_with=["210987654321"])
    images[1].state, images[1].storage_gib = "disabled", 99
    images[1].save()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE inventory_image SET gone_at = now(), deprecation_time = now() WHERE id = %s",
            [images[2].pk],
        )
        cursor.execute("DELETE FROM inventory_image WHERE id = %s", [images[3].pk])
    Image.objects.filter(pk=images[4].pk).update(creation_date=None, public=True)

    assert_rollups_match()
    for grain in GRAINS:
        rows = ImageRollup.objects.filter(grain=grain)
        assert sum(row.images for row in rows) == Image.objects.count() == 5


def test_it_counts_a_bulk_upsert_that_inserts_and_updates_at_once() -> None:
    account = create_account()
    existing = create_image(account=account, storage_gib=8)
    existing.storage_gib = 30
    fresh = Image(
        account=account,
        account_region=existing.account_region,
        region=existing.region,
        image_id="ami-00000000000000fff",
        state="available",
        storage_gib=5,
        first_seen_at=timezone.now(),
        last_seen_at=timezone.now(),
    )
    Image.objects.bulk_create(
        [existing, fresh],
        update_conflicts=True,
        unique_fields=["account", "region", "image_id"],
        update_fields=["storage_gib"],
    )

    assert_rollups_match()
    (flags,) = ImageRollup.objects.filter(grain="flags")
    assert (flags.images, flags.storage_gib) == (2, 35)


@pytest.mark.django_db(transaction=True)
def test_writes_to_two_regions_of_one_account_never_wait_on_each_other() -> None:
    """Syncs of an account's Regions run side by side, one transaction each: the rollup rows
    one of them changes are never the other's (every grain holds the Region)."""
    account = create_account()
    east = create_image(account=account, region="us-east-1", age_days=10, storage_gib=8)
    west = create_image(account=account, region="eu-west-1", age_days=10, storage_gib=8)
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute("UPDATE inventory_image SET in_use = true WHERE id = %s", [east.pk])
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '2s'")
            cursor.execute("UPDATE inventory_image SET in_use = true WHERE id = %s", [west.pk])
        other.commit()
    finally:
        other.close()
    assert_rollups_match()
