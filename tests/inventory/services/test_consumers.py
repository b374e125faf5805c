"""Consumers outside the synced accounts: AMI usage reports make an image in use, and a missing
or old report makes its usage unknown."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.choices import ConsumerReportStatus
from inventory.models import ConsumerReport, Image
from inventory.services.consumers import (
    external_usage_keys,
    refresh_consumers,
    refresh_due_reports,
)
from lifecycle.models import AuditEvent, AuditVerb
from tests.amidash.sandbox.images import ec2_client, launch, register_image
from tests.factories import image, sync

pytestmark = pytest.mark.django_db

CONSUMER = "777788889999"


def shared_image(aws, name: str = "golden", *accounts: str) -> str:
    image_id = register_image(aws, name)
    ec2_client(aws).modify_image_attribute(
        ImageId=image_id,
        LaunchPermission={"Add": [{"UserId": a} for a in accounts or (CONSUMER,)]},
    )
    return image_id


def launch_elsewhere(aws, image_id: str, account_id: str = CONSUMER) -> str:
    answer = ec2_client(aws, account_id=account_id).run_instances(
        ImageId=image_id, MinCount=1, MaxCount=1
    )
    return answer["Instances"][0]["InstanceId"]


def test_it_makes_an_image_used_by_another_account_in_use(aws) -> None:
    image_id = shared_image(aws)
    sync()
    launch_elsewhere(aws, image_id)
    ec2_client(aws, account_id=CONSUMER).create_launch_template(
        LaunchTemplateName="web", LaunchTemplateData={"ImageId": image_id}
    )
    assert not image(image_id).in_use

    report = refresh_consumers(image(image_id), "ann")

    row = image(image_id)
    assert report.status == ConsumerReportStatus.AVAILABLE
    assert row.in_use and row.usage_count == 0 and row.external_usage_count == 2
    assert row.last_seen_in_use_at is not None
    assert [(c.account_id, c.instances, c.launch_templates) for c in row.consumers.all()] == [
        (CONSUMER, 1, 1)
    ]
    assert Image.objects.in_use().filter(image_id=image_id).exists()
    assert not Image.objects.usage_unknown().filter(image_id=image_id).exists()
    assert external_usage_keys(row) == {f"external:{CONSUMER}"}


def test_a_sync_keeps_an_image_used_by_another_account_in_use(aws) -> None:
    image_id = shared_image(aws)
    instance_id = launch(aws, image_id)
    launch_elsewhere(aws, image_id)
    sync()
    refresh_consumers(image(image_id))

    ec2_client(aws).terminate_instances(InstanceIds=[instance_id])
    sync()

    row = image(image_id)
    assert row.usage_count == 0
    assert row.in_use


def test_an_image_nobody_else_uses_any_more_is_unused(aws) -> None:
    image_id = shared_image(aws)
    instance_id = launch_elsewhere(aws, image_id)
    sync()
    refresh_consumers(image(image_id))
    assert image(image_id).in_use

    ec2_client(aws, account_id=CONSUMER).terminate_instances(InstanceIds=[instance_id])
    refresh_consumers(image(image_id))

    row = image(image_id)
    assert not row.in_use and row.external_usage_count == 0
    assert not row.consumers.exists()


def test_a_missing_or_stale_report_makes_usage_unknown(aws, settings) -> None:
    settings.CONSUMER_REPORT_MAX_AGE_HOURS = 24
    shared_id = shared_image(aws, "shared")
    private_id = register_image(aws, "private")
    sync()
    assert set(Image.objects.usage_unknown().values_list("image_id", flat=True)) == {shared_id}

    refresh_consumers(image(shared_id))
    now = timezone.now()
    later = now + timedelta(hours=25)

    assert not Image.objects.usage_unknown(now).exists()
    assert set(Image.objects.usage_unknown(later).values_list("image_id", flat=True)) == {shared_id}
    assert image(shared_id).is_usage_unknown_at(later)
    assert not image(private_id).is_usage_unknown_at(later)


def test_a_failed_report_changes_nothing(aws) -> None:
    image_id = shared_image(aws)
    sync()
    ec2_client(aws).deregister_image(ImageId=image_id)

    report = refresh_consumers(image(image_id))

    assert report.status == ConsumerReportStatus.FAILED
    assert "InvalidAMIID" in report.error
    row = image(image_id)
    assert row.consumers_reported_at is None and row.is_usage_unknown


def test_the_paced_pass_reports_on_exposed_images_oldest_first(aws) -> None:
    first = shared_image(aws, "first")
    second = shared_image(aws, "second")
    register_image(aws, "private")
    launch_elsewhere(aws, second)
    sync()

    done = refresh_due_reports(limit=10, per_second=1000)

    assert done == 2
    assert set(ConsumerReport.objects.values_list("image__image_id", flat=True)) == {
        first,
        second,
    }
    assert image(second).in_use and not image(first).in_use


def test_a_report_that_changes_the_consumers_is_audited(aws) -> None:
    image_id = shared_image(aws)
    launch_elsewhere(aws, image_id)
    sync()

    refresh_consumers(image(image_id))
    refresh_due_reports(limit=10, per_second=1000)  # the same consumers: nothing to record

    events = AuditEvent.objects.filter(verb=AuditVerb.IMAGE_CONSUMERS_REPORTED, target_id=image_id)
    assert events.count() == 1
    assert events.get().after["consumers"] == [CONSUMER]


def test_the_paced_pass_follows_an_image_unshared_while_others_still_run_it(aws) -> None:
    image_id = shared_image(aws)
    instance_id = launch_elsewhere(aws, image_id)
    sync()
    refresh_consumers(image(image_id))
    ec2_client(aws).modify_image_attribute(
        ImageId=image_id, LaunchPermission={"Remove": [{"UserId": CONSUMER}]}
    )
    Image.objects.filter(image_id=image_id).update(shared_with=[])
    ec2_client(aws, account_id=CONSUMER).terminate_instances(InstanceIds=[instance_id])

    refresh_due_reports(limit=10, per_second=1000)

    row = image(image_id)
    assert not row.in_use and row.external_usage_count == 0


def test_the_overview_counts_an_image_only_other_accounts_use_as_in_use(aws, admin_user) -> None:
    import re

    from django.urls import reverse

    from tests.factories import signed_in

    def text() -> str:
        body = signed_in(admin_user).get(reverse("inventory:overview")).content.decode()
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))

    image_id = shared_image(aws)
    register_image(aws, "private")
    launch_elsewhere(aws, image_id)
    sync()
    assert "2 unused · 0 in use" in text()

    refresh_consumers(image(image_id))

    assert "1 unused · 1 in use" in text()
