"""Invariant 1 in docs/architecture.md: an image is marked gone only after a complete,
error-free listing of its account+Region in the same run. A throttled, denied, timed-out or
partial Region changes nothing about its images, and the run is partial."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.parsers import ResponseParserError

from inventory.choices import RegionSyncStatus, SyncStatus
from inventory.models import Account, Image, SyncRegionResult
from inventory.services.aws import AwsSession
from inventory.services.listing import RegionListing, UnreadableImage
from tests.amidash.sandbox.images import OTHER_REGION, REGION, register_image
from tests.factories import sync

pytestmark = pytest.mark.django_db

OTHER_ACCOUNT = "210987654321"


@pytest.fixture
def estate(aws, settings):
    """Two images per Region, synced once; then, outside the product, one image of each Region
    is deregistered and one is disabled."""
    settings.AWS_RETRY_MAX_ATTEMPTS = 1
    ids = {
        region: [register_image(aws, f"{region}-{n}", region=region) for n in range(2)]
        for region in (REGION, OTHER_REGION)
    }
    sync()
    for region, (drop, disable) in ids.items():
        ec2 = aws.client("ec2", region)
        ec2.deregister_image(ImageId=drop)
        ec2.disable_image(ImageId=disable)
    return ids


def rows(region: str) -> list[dict]:
    return list(Image.objects.filter(region=region).order_by("image_id").values())


def assert_failed_region_untouched(aws, fault: dict, message: str) -> None:
    before = rows(REGION)
    aws.set_fault(**fault)

    run = sync()

    failed = run.results.get(region=REGION)
    assert failed.status == RegionSyncStatus.FAILED
    assert message in failed.error
    assert rows(REGION) == before
    assert run.status == SyncStatus.PARTIAL
    healthy = run.results.get(region=OTHER_REGION)
    assert healthy.status == RegionSyncStatus.SUCCEEDED
    assert (healthy.images_gone, healthy.images_changed) == (1, 1)


def test_it_leaves_a_throttled_region_as_it_was(aws, estate):
    # Over its token bucket EC2 answers RequestLimitExceeded (HTTP 503).
    assert_failed_region_untouched(
        aws,
        {"kind": "throttle", "region": REGION, "action": "DescribeImages"},
        "RequestLimitExceeded",
    )


def test_it_leaves_a_region_as_it_was_when_a_later_listing_call_fails(aws, estate):
    assert_failed_region_untouched(
        aws,
        {"kind": "throttle", "region": REGION, "action": "DescribeLaunchTemplateVersions"},
        "RequestLimitExceeded",
    )


def test_it_leaves_launch_permissions_it_could_not_read_to_the_paced_pass(aws, estate):
    # Describe* calls share a token bucket; one call per image can run it dry.
    new = register_image(aws, "new-but-throttled", region=REGION)
    aws.set_fault("throttle", region=REGION, action="DescribeImageAttribute")

    run = sync()

    result = run.results.get(region=REGION)
    assert result.status == RegionSyncStatus.SUCCEEDED
    assert "left to the paced pass" in result.error and "RequestLimitExceeded" in result.error
    image = Image.objects.get(image_id=new)
    assert image.launch_permissions_checked_at is None and image.shared_with == []
    assert run.status == SyncStatus.SUCCEEDED
    aws.clear_faults()

    from inventory.services.launch_permissions import refresh_launch_permissions

    refresh_launch_permissions(image.account_region, per_second=100)
    assert Image.objects.get(image_id=new).launch_permissions_checked_at is not None


def test_it_leaves_a_region_in_an_outage_as_it_was(aws, estate):
    assert_failed_region_untouched(aws, {"kind": "outage", "region": REGION}, "Unavailable")


def test_it_leaves_an_unreachable_region_as_it_was(aws, estate):
    assert_failed_region_untouched(
        aws, {"kind": "outage", "region": REGION, "mode": "connection"}, "Error"
    )


def test_it_leaves_a_region_with_a_garbled_answer_as_it_was(aws, estate):
    assert_failed_region_untouched(
        aws,
        {"kind": "malformed", "region": REGION, "action": "DescribeInstances"},
        "ResponseParserError",
    )


def test_a_garbled_json_answer_fails_the_call_as_an_xml_one_does(aws):
    # botocore reads a JSON body that does not parse as {"message": body}; refused here.
    aws.set_fault("malformed", action="ListRules")
    rbin = AwsSession().client("rbin", REGION)
    with pytest.raises(ResponseParserError, match="Unable to parse the ListRules answer"):
        rbin.list_rules(ResourceType="EC2_IMAGE")
    aws.clear_faults()
    assert rbin.list_rules(ResourceType="EC2_IMAGE")["Rules"] == []


def garbled_time(text: str) -> datetime:
    """A time the sandbox writes into its answer as ``text``."""

    class Garbled(datetime):
        def strftime(self, _format: str) -> str:
            return text

        def isoformat(self, *args, **kwargs) -> str:
            return text

    return Garbled(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "attribute, text, says",
    [
        ("creation_date", "last tuesday", "Invalid isoformat string"),
        ("deprecate_at", "2026-02-30T00:00:00Z", "day is out of range"),
    ],
)
def test_it_leaves_a_region_whose_answer_holds_an_unreadable_image_as_it_was(
    aws, estate, attribute, text, says
):
    # A parseable answer with a time no EC2 Image has: the Region fails, saying which image,
    # and nothing of it changes (the images deregistered meanwhile are not marked gone).
    from moto.ec2.models import ec2_backends

    odd = register_image(aws, "odd-one", region=REGION)
    account = aws.client("sts").get_caller_identity()["Account"]
    setattr(ec2_backends[account][REGION].amis[odd], attribute, garbled_time(text))
    before = rows(REGION)

    run = sync()

    failed = run.results.get(region=REGION)
    assert failed.status == RegionSyncStatus.FAILED
    assert failed.error.startswith(f"malformed DescribeImages answer: image {odd} cannot be read")
    assert says in failed.error and "internal error" not in failed.error
    assert rows(REGION) == before and not Image.objects.filter(image_id=odd).exists()
    assert run.status == SyncStatus.PARTIAL
    assert run.results.get(region=OTHER_REGION).status == RegionSyncStatus.SUCCEEDED


def test_an_answer_with_an_image_without_id_is_refused_by_name() -> None:
    with pytest.raises(UnreadableImage, match="an image without ImageId"):
        RegionListing(images=[{"ImageId": "ami-1"}, {"Name": "no id"}], usages=[])


def test_it_counts_the_retries_of_a_throttled_region(aws, settings):
    # botocore's standard retry mode retries RequestLimitExceeded; attempts are configurable.
    settings.AWS_RETRY_MAX_ATTEMPTS = 2
    register_image(aws, "throttled-1")
    aws.set_fault("throttle", region=REGION, action="DescribeImages")

    run = sync(regions=[REGION])

    result = run.results.get(region=REGION)
    assert result.status == RegionSyncStatus.FAILED
    assert result.retries == 1
    assert len(aws.calls(action="DescribeImages", region=REGION)) == 2
    assert not Image.objects.exists()


def test_it_leaves_an_account_whose_role_is_denied_as_it_was(aws, settings):
    settings.AWS_RETRY_MAX_ATTEMPTS = 1
    Account.objects.create(account_id="123456789012", name="tools")
    Account.objects.create(
        account_id=OTHER_ACCOUNT, role_arn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/r"
    )
    theirs = register_image(aws, "prod-1", account_id=OTHER_ACCOUNT)
    sync()
    aws.client("ec2", REGION, account_id=OTHER_ACCOUNT).deregister_image(ImageId=theirs)
    aws.set_fault("deny", account_id=OTHER_ACCOUNT, scope="calls")

    run = sync()

    assert run.status == SyncStatus.PARTIAL
    denied = run.results.filter(account__account_id=OTHER_ACCOUNT)
    assert denied.exists()
    assert all(r.status == RegionSyncStatus.FAILED for r in denied)
    assert Image.objects.get(image_id=theirs).gone_at is None
    assert run.results.filter(account__account_id="123456789012", status="succeeded").count() == 2


def test_it_fails_an_account_whose_role_cannot_be_assumed(aws, settings):
    settings.AWS_RETRY_MAX_ATTEMPTS = 1
    Account.objects.create(account_id="123456789012", name="tools")
    Account.objects.create(
        account_id=OTHER_ACCOUNT, role_arn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/r"
    )
    aws.set_fault("deny", account_id=OTHER_ACCOUNT, scope="assume_role")

    run = sync()

    failed = run.results.get(account__account_id=OTHER_ACCOUNT)
    assert failed.status == RegionSyncStatus.FAILED
    assert "AccessDenied" in failed.error
    assert run.status == SyncStatus.PARTIAL


def test_it_fails_a_region_whose_sync_is_already_running(aws, estate):
    before = rows(REGION)
    from django.db import connections

    other = connections.create_connection("default")
    from amidash.locks import sync_lock_key

    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [sync_lock_key("123456789012", REGION)])
        run = sync()
    finally:
        with other.cursor() as cursor:  # closing alone releases it only eventually
            cursor.execute("SELECT pg_advisory_unlock_all()")
        other.close()

    result = run.results.get(region=REGION)
    assert result.status == RegionSyncStatus.FAILED
    assert "another sync" in result.error
    assert rows(REGION) == before
    assert SyncRegionResult.objects.get(pk=result.pk).status == RegionSyncStatus.FAILED


def test_half_the_calls_throttled_never_marks_a_listed_image_gone(aws, estate, settings):
    """EC2 answers RequestLimitExceeded (HTTP 503) over its token bucket; here half the calls."""
    settings.AWS_RETRY_MAX_ATTEMPTS = 2
    before = {region: rows(region) for region in (REGION, OTHER_REGION)}
    aws.set_fault("throttle", share=0.5, service="ec2", seed=7)

    run = sync()

    assert run.status in (SyncStatus.SUCCEEDED, SyncStatus.PARTIAL, SyncStatus.FAILED)
    for result in run.results.all():
        assert result.status in (RegionSyncStatus.SUCCEEDED, RegionSyncStatus.FAILED)
        gone = Image.objects.filter(region=result.region, gone_at__isnull=False)
        if result.status == RegionSyncStatus.FAILED:
            assert rows(result.region) == before[result.region]
        else:  # only the image deregistered outside the product is gone
            assert gone.count() == 1 and result.images_gone == 1
