"""What uses an image: every usage path is detected on its own.

Listing paths are tested with DescribeImageReferences unavailable (the endpoint answers
garbage, as moto's server does for calls it lacks), so each proves the listing calls alone find
the usage and that the missing call does not fail the Region.
"""

from __future__ import annotations

import pytest

from inventory.choices import RegionSyncStatus, UsageType
from inventory.models import Account, Image, ImageUsage
from tests.amidash.sandbox.images import REGION, register_image
from tests.factories import sync

pytestmark = pytest.mark.django_db

OTHER_ACCOUNT = "210987654321"


@pytest.fixture
def no_references(aws):
    """An endpoint without DescribeImageReferences (as plain moto, LocalStack, some partitions)."""
    aws.set_fault("unsupported", action="DescribeImageReferences")
    return aws


def usages_of(image_id: str) -> set[tuple[str, str]]:
    return set(
        ImageUsage.objects.filter(image__image_id=image_id).values_list("usage_type", "resource_id")
    )


def launch(aws, image_id: str, name: str = "") -> str:
    params = {"ImageId": image_id, "MinCount": 1, "MaxCount": 1, "InstanceType": "t3.micro"}
    if name:
        params["TagSpecifications"] = [
            {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}
        ]
    return aws.client("ec2", REGION).run_instances(**params)["Instances"][0]["InstanceId"]


def template(aws, name: str, *image_ids: str, default: int | None = None) -> str:
    """A launch template with one version per image; $Default is ``default`` (1 if None)."""
    ec2 = aws.client("ec2", REGION)
    template_id = ec2.create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": image_ids[0]}
    )["LaunchTemplate"]["LaunchTemplateId"]
    for image_id in image_ids[1:]:
        ec2.create_launch_template_version(
            LaunchTemplateId=template_id, LaunchTemplateData={"ImageId": image_id}
        )
    if default:
        ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion=str(default))
    return template_id


def group(aws, name: str, **spec) -> None:
    aws.client("autoscaling", REGION).create_auto_scaling_group(
        AutoScalingGroupName=name,
        MinSize=0,
        MaxSize=0,
        DesiredCapacity=0,
        AvailabilityZones=[f"{REGION}a"],
        **spec,
    )


def test_it_finds_a_running_instance(no_references):
    image_id = register_image(no_references, "app-1")
    instance_id = launch(no_references, image_id, name="web-01")

    run = sync()

    assert run.results.get(region=REGION).status == RegionSyncStatus.SUCCEEDED
    image = Image.objects.get(image_id=image_id)
    assert image.in_use and image.usage_count == 1
    assert image.last_seen_in_use_at is not None
    usage = ImageUsage.objects.get(image=image)
    assert (usage.usage_type, usage.resource_id, usage.resource_name) == (
        UsageType.INSTANCE,
        instance_id,
        "web-01",
    )
    assert usage.detail["state"] == "running"
    assert usage.account.account_id == "123456789012" and usage.region == REGION


def test_it_counts_a_stopped_instance_but_not_a_terminated_one(no_references):
    stopped_image = register_image(no_references, "stopped-1")
    gone_image = register_image(no_references, "terminated-1")
    ec2 = no_references.client("ec2", REGION)
    ec2.stop_instances(InstanceIds=[launch(no_references, stopped_image)])
    ec2.terminate_instances(InstanceIds=[launch(no_references, gone_image)])

    sync()

    assert Image.objects.get(image_id=stopped_image).in_use
    assert not Image.objects.get(image_id=gone_image).in_use


def test_it_finds_the_default_and_latest_launch_template_versions(no_references):
    default_image = register_image(no_references, "lt-default-1")
    middle_image = register_image(no_references, "lt-middle-1")
    latest_image = register_image(no_references, "lt-latest-1")
    template_id = template(no_references, "web", default_image, middle_image, latest_image)

    sync()

    assert usages_of(default_image) == {(UsageType.LAUNCH_TEMPLATE, f"{template_id}:1")}
    assert usages_of(latest_image) == {(UsageType.LAUNCH_TEMPLATE, f"{template_id}:3")}
    assert not Image.objects.get(image_id=middle_image).in_use
    usage = ImageUsage.objects.get(image__image_id=default_image)
    assert usage.resource_name == "web" and usage.detail["aliases"] == ["$Default"]


def test_it_finds_a_template_version_an_autoscaling_group_names(no_references):
    pinned = register_image(no_references, "pinned-1")
    newer = register_image(no_references, "newer-1")
    newest = register_image(no_references, "newest-1")
    template_id = template(no_references, "api", pinned, newer, newest, default=3)
    group(
        no_references, "api-asg", LaunchTemplate={"LaunchTemplateId": template_id, "Version": "1"}
    )

    sync()

    assert (UsageType.AUTOSCALING_GROUP, "api-asg") in usages_of(pinned)
    assert not Image.objects.get(image_id=newer).in_use


def test_it_finds_a_mixed_instances_policy_override(no_references):
    base = register_image(no_references, "mixed-base-1")
    arm = register_image(no_references, "mixed-arm-1")
    later = register_image(no_references, "mixed-later-1")
    base_template = template(no_references, "mixed", base, later, default=2)
    arm_template = template(no_references, "mixed-arm", arm, later, default=2)
    group(
        no_references,
        "mixed-asg",
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateId": base_template, "Version": "1"},
                "Overrides": [
                    {
                        "InstanceType": "t4g.micro",
                        "LaunchTemplateSpecification": {
                            "LaunchTemplateId": arm_template,
                            "Version": "1",
                        },
                    }
                ],
            }
        },
    )

    sync()

    assert (UsageType.AUTOSCALING_GROUP, "mixed-asg") in usages_of(base)
    assert (UsageType.AUTOSCALING_GROUP, "mixed-asg") in usages_of(arm)


def test_it_finds_a_launch_configuration_and_its_group(no_references):
    image_id = register_image(no_references, "legacy-1")
    autoscaling = no_references.client("autoscaling", REGION)
    autoscaling.create_launch_configuration(
        LaunchConfigurationName="legacy-lc", ImageId=image_id, InstanceType="t3.micro"
    )
    group(no_references, "legacy-asg", LaunchConfigurationName="legacy-lc")

    sync()

    assert usages_of(image_id) == {
        (UsageType.LAUNCH_CONFIGURATION, "legacy-lc"),
        (UsageType.AUTOSCALING_GROUP, "legacy-asg"),
    }
    assert Image.objects.get(image_id=image_id).usage_count == 2


def test_it_finds_usage_in_another_account_of_a_shared_image(no_references):
    Account.objects.create(account_id="123456789012", name="tools")
    Account.objects.create(
        account_id=OTHER_ACCOUNT, role_arn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/amidash"
    )
    image_id = register_image(no_references, "golden-1")
    no_references.client("ec2", REGION).modify_image_attribute(
        ImageId=image_id, LaunchPermission={"Add": [{"UserId": OTHER_ACCOUNT}]}
    )
    no_references.client("ec2", REGION, account_id=OTHER_ACCOUNT).run_instances(
        ImageId=image_id, MinCount=1, MaxCount=1
    )

    sync()

    image = Image.objects.get(image_id=image_id)
    assert image.in_use
    assert ImageUsage.objects.get(image=image).account.account_id == OTHER_ACCOUNT


def test_it_notices_when_an_image_stops_being_used(no_references):
    image_id = register_image(no_references, "short-lived-1")
    instance_id = launch(no_references, image_id)
    sync()
    first_seen_in_use = Image.objects.get(image_id=image_id).last_seen_in_use_at
    no_references.client("ec2", REGION).terminate_instances(InstanceIds=[instance_id])

    sync()

    image = Image.objects.get(image_id=image_id)
    assert not image.in_use and image.usage_count == 0
    # The last listing that saw it in use was the first sync.
    assert image.last_seen_in_use_at == first_seen_in_use
    assert not ImageUsage.objects.filter(resource_id=instance_id).exists()


def test_it_adds_what_describe_image_references_finds(aws):
    # DescribeImageReferences lists what references an AMI, SSM parameters too.
    image_id = register_image(aws, "ssm-published-1")
    aws.client("ssm", REGION).put_parameter(
        Name="/golden/latest", Value=image_id, Type="String", DataType="aws:ec2:image"
    )

    sync()

    image = Image.objects.get(image_id=image_id)
    assert image.in_use
    usage = ImageUsage.objects.get(image=image)
    assert usage.usage_type == UsageType.SSM_PARAMETER
    assert (usage.resource_id, usage.detail["resource_type"]) == ("/golden/latest", "ssm:Parameter")


def test_it_counts_an_instance_once_when_both_paths_report_it(aws):
    image_id = register_image(aws, "twice-1")
    launch(aws, image_id)

    sync()

    assert Image.objects.get(image_id=image_id).usage_count == 1


def test_it_makes_a_constant_number_of_usage_calls(aws):
    """No call per image except launch permissions of new or changed images."""
    for number in range(6):
        launch(aws, register_image(aws, f"bulk-{number}"))
    sync()
    aws.clear_calls()

    sync()

    # Each session's identity check (one GetCallerIdentity) is not a usage call, nor are the
    # Region's Allowed AMIs setting and its instances' image metadata (one call each).
    allowed_images = {"GetAllowedImagesSettings", "DescribeInstanceImageMetadata"}
    calls = [
        c
        for c in aws.calls(region=REGION)
        if c["service"] != "sts" and c["action"] not in allowed_images
    ]
    actions = sorted({c["action"] for c in calls})
    assert "DescribeImageAttribute" not in actions
    assert len(calls) <= 7, actions


# DescribeImageReferences: an endpoint that says it lacks the call is read around; an answer that
# does not parse fails the Region (invariant 1 in docs/architecture.md), so usage never silently
# disappears.
@pytest.fixture
def used_image(aws):
    """An image used by an SSM parameter, which only DescribeImageReferences names."""
    image_id = register_image(aws, "app-1")
    aws.client("ssm", REGION).put_parameter(Name="/app/ami", Value=image_id, Type="String")
    sync(regions=[REGION])
    assert ImageUsage.objects.filter(image_ref=image_id).exists()
    return image_id


def test_it_fails_the_region_on_a_malformed_references_answer(aws, used_image):
    aws.set_fault("malformed", action="DescribeImageReferences")

    run = sync(regions=[REGION])

    result = run.results.get(region=REGION)
    assert result.status == RegionSyncStatus.FAILED
    assert "malformed DescribeImageReferences answer" in result.error
    assert ImageUsage.objects.filter(image_ref=used_image).exists()


def test_it_reads_around_an_endpoint_without_references(aws, used_image):
    # An endpoint without the action answers InvalidAction (HTTP 400).
    aws.set_fault("unsupported", action="DescribeImageReferences")

    run = sync(regions=[REGION])

    assert run.results.get(region=REGION).status == RegionSyncStatus.SUCCEEDED
    assert not ImageUsage.objects.filter(image_ref=used_image).exists()


def test_a_listing_keeps_each_image_compact_and_gives_it_back_unchanged(aws):
    """Pages are kept as compressed sorted JSON as they arrive, never as boto3's dicts; the dicts
    come back a batch at a time, with the fingerprint the stored rows were made with."""
    from inventory.services.aws import AwsSession
    from inventory.services.listing import fingerprint, list_images, list_region

    ids = [register_image(aws, f"app-{n}") for n in range(3)]
    session = AwsSession()

    listing = list_region(session, REGION)

    assert sorted(listing.image_ids) == sorted(ids) and len(listing) == 3
    assert all(isinstance(kept, bytes) for kept in vars(listing)["_encoded"].values())
    listed = {image["ImageId"]: image for image in list_images(session, REGION)}
    assert listing.images_of(ids) == [listed[image_id] for image_id in ids]
    assert [listing.digest(i) for i in ids] == [fingerprint(listed[i]) for i in ids]
