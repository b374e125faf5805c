"""The sync beyond the listing: every reference type as a usage, each copy's ancestry, and
Amazon Inspector findings (scanned or not), read by the sync's follow-up task."""

from __future__ import annotations

import pytest
from django.utils.timezone import now

from inventory.choices import FindingsStatus, UsageType
from inventory.models import Image, ImageAncestry, ImageFindings, ImageUsage
from inventory.services import findings as findings_service
from inventory.services.findings import refresh_findings
from inventory.tasks import read_new_findings
from tests.amidash.sandbox.images import OTHER_REGION, REGION, ec2_client, register_image
from tests.factories import sync, sync_with_follow_ups

pytestmark = pytest.mark.django_db

ACCOUNT = "123456789012"


def usages(image_id: str) -> set[tuple[str, str]]:
    return set(
        ImageUsage.objects.filter(image__image_id=image_id).values_list("usage_type", "resource_id")
    )


def test_it_records_each_reference_type_as_a_usage(aws):
    """SSM parameters and Image Builder recipes use an image as instances do."""
    image_id = register_image(aws, "golden-1")
    aws.client("ssm", REGION).put_parameter(
        Name="/golden/web", Value=image_id, Type="String", DataType="aws:ec2:image"
    )
    aws.add_image_recipe("web", image_id)
    aws.add_image_recipe("web-container", image_id, container=True)

    sync()

    assert usages(image_id) == {
        (UsageType.SSM_PARAMETER, "/golden/web"),
        (UsageType.IMAGE_RECIPE, "web/1.0.0"),
        (UsageType.CONTAINER_RECIPE, "web-container/1.0.0"),
    }
    image = Image.objects.get(image_id=image_id)
    assert (image.in_use, image.usage_count) == (True, 3)
    recipe = ImageUsage.objects.get(usage_type=UsageType.IMAGE_RECIPE)
    assert recipe.get_usage_type_display() == "Image Builder image recipe"
    assert recipe.resource_name == "web"


def test_a_pinned_launch_template_version_counts_as_usage(aws):
    """A launch template version that is neither $Default nor $Latest still uses its image
    (DescribeImageReferences with version depth)."""
    ec2 = ec2_client(aws)
    pinned, newest = register_image(aws, "app-1"), register_image(aws, "app-2")
    template = ec2.create_launch_template(
        LaunchTemplateName="app", LaunchTemplateData={"ImageId": pinned}
    )["LaunchTemplate"]["LaunchTemplateId"]
    for _ in range(2):
        ec2.create_launch_template_version(
            LaunchTemplateId=template, LaunchTemplateData={"ImageId": newest}
        )
    ec2.modify_launch_template(LaunchTemplateId=template, DefaultVersion="3")

    sync()

    assert Image.objects.get(image_id=pinned).in_use
    assert (UsageType.LAUNCH_TEMPLATE, template) in usages(pinned)


def test_it_asks_for_references_ten_images_at_a_time(aws):
    """DescribeImageReferences takes at most 10 image ids (EC2 API reference)."""
    for number in range(23):
        register_image(aws, f"many-{number}")

    sync(regions=[REGION])

    calls = aws.calls(action="DescribeImageReferences", region=REGION)
    assert len(calls) == 3
    assert Image.objects.count() == 23


def test_it_records_the_ancestry_of_a_copy_chain(aws):
    root = register_image(aws, "base-1")
    child = ec2_client(aws, OTHER_REGION).copy_image(
        SourceImageId=root, SourceRegion=REGION, Name="base-1-copy"
    )["ImageId"]
    grandchild = ec2_client(aws).copy_image(
        SourceImageId=child, SourceRegion=OTHER_REGION, Name="base-1-back"
    )["ImageId"]

    sync()

    chain = list(
        ImageAncestry.objects.filter(image__image_id=grandchild).values_list(
            "position", "ancestor_image_id", "ancestor_region"
        )
    )
    assert chain == [(1, child, OTHER_REGION), (2, root, REGION)]
    assert not ImageAncestry.objects.filter(image__image_id=root).exists()
    descendants = Image.objects.filter(ancestry__ancestor_image_id=root)
    assert set(descendants.values_list("image_id", flat=True)) == {child, grandchild}


def test_a_copy_keeps_its_parent_when_ancestry_cannot_be_read(aws):
    root = register_image(aws, "base-2")
    child = ec2_client(aws).copy_image(SourceImageId=root, SourceRegion=REGION, Name="copy")[
        "ImageId"
    ]
    aws.set_fault("deny", action="GetImageAncestry", scope="calls", account_id=ACCOUNT)

    run = sync(regions=[REGION])

    assert run.regions_failed == 0
    chain = ImageAncestry.objects.filter(image__image_id=child)
    assert list(chain.values_list("ancestor_image_id", flat=True)) == [root]


def test_the_sync_leaves_findings_to_its_follow_up_task(aws):
    """The Region's sync makes no GetImageFindings call: until read, images are not scanned."""
    image_id = register_image(aws, "later-1")
    aws.set_image_findings(image_id, [{"Title": "CVE-1", "SeverityLabel": "high"}])

    run = sync(regions=[REGION])

    assert run.regions_succeeded == 1
    assert not aws.calls(action="GetImageFindings")
    assert not ImageFindings.objects.exists()
    assert not Image.objects.get(image_id=image_id).findings_scanned


def test_the_follow_up_reads_only_never_read_images_of_its_region(aws):
    """Images already read and other Regions' images are left alone; a second run calls nothing."""
    read_id, new_id = register_image(aws, "read-1"), register_image(aws, "new-1")
    elsewhere_id = register_image(aws, "there-1", region=OTHER_REGION)
    aws.set_image_findings(new_id, [{"Title": "CVE-1", "SeverityLabel": "critical"}])
    sync()
    account_region = Image.objects.get(image_id=read_id).account_region
    ImageFindings.objects.create(
        image=Image.objects.get(image_id=read_id), status=FindingsStatus.SCANNED, checked_at=now()
    )

    assert read_new_findings(account_region.pk) == 1

    assert [call["params"].get("ImageId") for call in aws.calls(action="GetImageFindings")] == [
        new_id
    ]
    assert ImageFindings.objects.get(image__image_id=new_id).critical == 1
    assert not ImageFindings.objects.filter(image__image_id=elsewhere_id).exists()
    assert read_new_findings(account_region.pk) == 0
    assert len(aws.calls(action="GetImageFindings")) == 1


def test_the_follow_up_reads_every_never_read_image_in_batches(aws):
    image_ids = [register_image(aws, f"many-{n}") for n in range(5)]
    sync(regions=[REGION])
    account_region = Image.objects.get(image_id=image_ids[0]).account_region

    assert findings_service.read_new_findings(account_region, batch=2) == 5

    assert ImageFindings.objects.filter(status=FindingsStatus.SCANNED).count() == 5


def test_it_counts_findings_by_severity(aws):
    image_id = register_image(aws, "scanned-1")
    clean_id = register_image(aws, "scanned-2")
    aws.set_image_findings(
        image_id,
        [
            {"Title": "CVE-1", "SeverityLabel": "critical"},
            {"Title": "CVE-2", "SeverityLabel": "critical"},
            {"Title": "CVE-3", "SeverityLabel": "low"},
        ],
    )

    sync_with_follow_ups(regions=[REGION])

    findings = ImageFindings.objects.get(image__image_id=image_id)
    assert findings.status == FindingsStatus.SCANNED
    assert (findings.critical, findings.high, findings.low, findings.total) == (2, 0, 1, 3)
    clean = ImageFindings.objects.get(image__image_id=clean_id)
    assert clean.is_scanned and clean.total == 0


@pytest.mark.parametrize("kind", ["deny", "unsupported"])
def test_images_are_not_scanned_without_the_api_or_permission(aws, kind):
    """No GetImageFindings, or no permission: "not scanned", never zero findings."""
    image_id = register_image(aws, "unscannable-1")
    aws.set_image_findings(image_id, [{"Title": "CVE-1", "SeverityLabel": "critical"}])
    denial = {"scope": "calls", "account_id": ACCOUNT} if kind == "deny" else {}
    aws.set_fault(kind, action="GetImageFindings", **denial)

    run = sync_with_follow_ups(regions=[REGION])

    assert run.regions_failed == 0
    findings = ImageFindings.objects.get(image__image_id=image_id)
    assert findings.status == FindingsStatus.NOT_SCANNED
    assert findings.reason
    assert not Image.objects.filter(findings__critical__gt=0).exists()


def test_throttled_findings_leave_the_images_unchecked_for_the_paced_pass(aws, settings):
    settings.LAUNCH_PERMISSIONS_PER_SECOND = 1000
    image_id = register_image(aws, "later-1")
    aws.set_image_findings(image_id, [{"Title": "CVE-1", "SeverityLabel": "high"}])
    fault = aws.set_fault("throttle", action="GetImageFindings")
    run = sync_with_follow_ups(regions=[REGION])
    assert run.regions_failed == 0
    assert aws.calls(action="GetImageFindings")
    assert not ImageFindings.objects.exists()
    aws.clear_faults()
    assert fault["id"]

    account_region = Image.objects.get(image_id=image_id).account_region
    assert refresh_findings(account_region) == 1

    assert ImageFindings.objects.get(image__image_id=image_id).high == 1
