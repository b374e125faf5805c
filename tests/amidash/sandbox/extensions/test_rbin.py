"""Conformance: Recycle Bin for AMIs (docs/architecture.md, AWS behaviours): service `rbin`,
retention 1 to 365 days, tag- or Region-level rules, locks with a 7 to 30 day unlock delay,
ListImagesInRecycleBin, RestoreImageFromRecycleBin)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from amidash.sandbox import clock

DAY = 24 * 3600


def advance(aws, seconds: float) -> None:
    if hasattr(aws, "advance_clock"):
        aws.advance_clock(seconds)
    else:
        clock.advance(seconds)


def register(ec2, name: str, tags: dict[str, str] | None = None) -> str:
    extra = {}
    if tags:
        extra["TagSpecifications"] = [
            {"ResourceType": "image", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    return ec2.register_image(
        Name=name,
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
        **extra,
    )["ImageId"]


def retention(days: int) -> dict:
    return {"RetentionPeriodValue": days, "RetentionPeriodUnit": "DAYS"}


def lock(days: int) -> dict:
    return {"UnlockDelay": {"UnlockDelayValue": days, "UnlockDelayUnit": "DAYS"}}


def own_image_ids(ec2) -> set[str]:
    answer = ec2.describe_images(Owners=["self"], IncludeDisabled=True, IncludeDeprecated=True)
    return {image["ImageId"] for image in answer["Images"]}


def binned_ids(ec2) -> set[str]:
    return {image["ImageId"] for image in ec2.list_images_in_recycle_bin()["Images"]}


def test_it_creates_lists_and_gets_a_region_level_rule(aws):
    """Recycle Bin (service rbin): retention rules for EC2_IMAGE, Region-level."""
    rbin = aws.client("rbin")

    created = rbin.create_rule(
        ResourceType="EC2_IMAGE", RetentionPeriod=retention(14), Description="keep AMIs"
    )

    rule = rbin.get_rule(Identifier=created["Identifier"])
    assert rule["RetentionPeriod"] == retention(14)
    assert (rule["ResourceType"], rule["Status"]) == ("EC2_IMAGE", "available")
    assert rule["RuleArn"].endswith(f":rule/{created['Identifier']}")
    listed = rbin.list_rules(ResourceType="EC2_IMAGE")["Rules"]
    assert [r["Identifier"] for r in listed] == [created["Identifier"]]
    assert rbin.list_rules(ResourceType="EBS_SNAPSHOT")["Rules"] == []


def test_it_refuses_a_retention_period_over_365_days(aws):
    """Recycle Bin: retention rules of 1 to 365 days."""
    rbin = aws.client("rbin")

    with pytest.raises(ClientError) as excinfo:
        rbin.create_rule(ResourceType="EC2_IMAGE", RetentionPeriod=retention(366))

    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    assert rbin.list_rules(ResourceType="EC2_IMAGE")["Rules"] == []


def test_it_deletes_an_unlocked_rule_and_refuses_a_locked_one(aws):
    """Recycle Bin: Region-level rules can be locked; a locked rule cannot be deleted."""
    rbin = aws.client("rbin")
    plain = rbin.create_rule(ResourceType="EC2_IMAGE", RetentionPeriod=retention(1))
    locked = rbin.create_rule(
        ResourceType="EC2_IMAGE", RetentionPeriod=retention(7), LockConfiguration=lock(7)
    )
    assert locked["LockState"] == "locked"

    rbin.delete_rule(Identifier=plain["Identifier"])
    with pytest.raises(ClientError) as excinfo:
        rbin.delete_rule(Identifier=locked["Identifier"])

    assert excinfo.value.response["Error"]["Code"] == "ConflictException"
    remaining = [r["Identifier"] for r in rbin.list_rules(ResourceType="EC2_IMAGE")["Rules"]]
    assert remaining == [locked["Identifier"]]


def test_it_unlocks_a_rule_only_after_the_unlock_delay(aws):
    """Recycle Bin: locked rules unlock after the unlock delay (7 to 30 days)."""
    rbin = aws.client("rbin")
    rule_id = rbin.create_rule(
        ResourceType="EC2_IMAGE", RetentionPeriod=retention(7), LockConfiguration=lock(7)
    )["Identifier"]

    assert rbin.unlock_rule(Identifier=rule_id)["LockState"] == "pending_unlock"
    advance(aws, 6 * DAY)
    with pytest.raises(ClientError):
        rbin.delete_rule(Identifier=rule_id)
    advance(aws, 2 * DAY)

    assert rbin.get_rule(Identifier=rule_id)["LockState"] == "unlocked"
    rbin.delete_rule(Identifier=rule_id)
    assert rbin.list_rules(ResourceType="EC2_IMAGE")["Rules"] == []


def test_it_refuses_an_unlock_delay_outside_7_to_30_days(aws):
    """Recycle Bin: unlock delay 7 to 30 days."""
    rbin = aws.client("rbin")
    rule_id = rbin.create_rule(ResourceType="EC2_IMAGE", RetentionPeriod=retention(7))["Identifier"]

    with pytest.raises(ClientError) as excinfo:
        rbin.lock_rule(Identifier=rule_id, LockConfiguration=lock(31))

    assert excinfo.value.response["Error"]["Code"] in ("ValidationException", "ParamValidation")
    assert rbin.lock_rule(Identifier=rule_id, LockConfiguration=lock(30))["LockState"] == "locked"


def test_it_refuses_to_lock_a_tag_level_rule(aws):
    """Recycle Bin: only Region-level rules can be locked."""
    rbin = aws.client("rbin")
    rule_id = rbin.create_rule(
        ResourceType="EC2_IMAGE",
        RetentionPeriod=retention(7),
        ResourceTags=[{"ResourceTagKey": "keep", "ResourceTagValue": "yes"}],
    )["Identifier"]

    with pytest.raises(ClientError) as excinfo:
        rbin.lock_rule(Identifier=rule_id, LockConfiguration=lock(7))

    assert excinfo.value.response["Error"]["Code"] == "ValidationException"


def test_it_moves_a_deregistered_image_matching_a_rule_into_the_bin(aws):
    """With a matching Recycle Bin rule the deregistered AMI goes to the bin
    (ListImagesInRecycleBin) and leaves DescribeImages."""
    ec2 = aws.client("ec2")
    aws.client("rbin").create_rule(ResourceType="EC2_IMAGE", RetentionPeriod=retention(7))
    image_id = register(ec2, "web-2023.01")

    ec2.deregister_image(ImageId=image_id)

    assert image_id not in own_image_ids(ec2)
    [entry] = ec2.list_images_in_recycle_bin()["Images"]
    assert (entry["ImageId"], entry["Name"]) == (image_id, "web-2023.01")
    assert entry["RecycleBinExitTime"] - entry["RecycleBinEnterTime"] == timedelta(days=7)


def test_it_restores_an_image_from_the_bin(aws):
    """RestoreImageFromRecycleBin brings the AMI back."""
    ec2 = aws.client("ec2")
    aws.client("rbin").create_rule(ResourceType="EC2_IMAGE", RetentionPeriod=retention(7))
    image_id = register(ec2, "web-2023.02")
    ec2.deregister_image(ImageId=image_id)

    assert ec2.restore_image_from_recycle_bin(ImageId=image_id)["Return"] is True

    assert image_id in own_image_ids(ec2)
    assert binned_ids(ec2) == set()
    assert ec2.describe_images(ImageIds=[image_id])["Images"][0]["State"] == "available"


def test_it_deletes_an_image_for_good_once_retention_ends(aws):
    """Recycle Bin retention: after the retention period the AMI is gone and cannot be
    restored."""
    ec2 = aws.client("ec2")
    aws.client("rbin").create_rule(ResourceType="EC2_IMAGE", RetentionPeriod=retention(1))
    image_id = register(ec2, "web-2023.03")
    ec2.deregister_image(ImageId=image_id)

    advance(aws, DAY + 60)

    assert binned_ids(ec2) == set()
    with pytest.raises(ClientError) as excinfo:
        ec2.restore_image_from_recycle_bin(ImageId=image_id)
    assert excinfo.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"
    assert image_id not in own_image_ids(ec2)


def test_it_retains_only_images_with_the_tags_of_a_tag_level_rule(aws):
    """Recycle Bin: tag-level rules retain only resources carrying one of their tags; without a
    matching rule the AMI is deleted at once."""
    ec2 = aws.client("ec2")
    aws.client("rbin").create_rule(
        ResourceType="EC2_IMAGE",
        RetentionPeriod=retention(30),
        ResourceTags=[{"ResourceTagKey": "keep", "ResourceTagValue": "yes"}],
    )
    kept = register(ec2, "kept-2023.04", tags={"keep": "yes"})
    dropped = register(ec2, "dropped-2023.04", tags={"keep": "no"})

    ec2.deregister_image(ImageId=kept)
    ec2.deregister_image(ImageId=dropped)

    assert binned_ids(ec2) == {kept}
    with pytest.raises(ClientError):
        ec2.restore_image_from_recycle_bin(ImageId=dropped)


def test_it_keeps_rules_per_region(aws):
    """Recycle Bin rules are Region-level: a rule in one Region does not retain images of
    another."""
    aws.client("rbin", "eu-west-1").create_rule(
        ResourceType="EC2_IMAGE", RetentionPeriod=retention(7)
    )
    ec2 = aws.client("ec2", "us-east-1")
    image_id = register(ec2, "east-2023.05")

    ec2.deregister_image(ImageId=image_id)

    assert binned_ids(ec2) == set()
    assert aws.client("rbin", "us-east-1").list_rules(ResourceType="EC2_IMAGE")["Rules"] == []


def test_it_changes_only_the_description_of_a_locked_rule(aws):
    """Recycle Bin: a locked Region-level rule keeps its retention until unlocked."""
    rbin = aws.client("rbin")
    rule_id = rbin.create_rule(
        ResourceType="EC2_IMAGE", RetentionPeriod=retention(7), LockConfiguration=lock(7)
    )["Identifier"]

    rbin.update_rule(Identifier=rule_id, Description="compliance hold")
    with pytest.raises(ClientError) as excinfo:
        rbin.update_rule(Identifier=rule_id, RetentionPeriod=retention(1))

    assert excinfo.value.response["Error"]["Code"] == "ConflictException"
    rule = rbin.get_rule(Identifier=rule_id)
    assert (rule["Description"], rule["RetentionPeriod"]) == ("compliance hold", retention(7))


def test_it_tags_and_untags_a_rule(aws):
    """Recycle Bin (service rbin): rules carry tags like any AWS resource."""
    rbin = aws.client("rbin")
    arn = rbin.create_rule(
        ResourceType="EC2_IMAGE",
        RetentionPeriod=retention(7),
        Tags=[{"Key": "owner", "Value": "platform"}],
    )["RuleArn"]

    rbin.tag_resource(ResourceArn=arn, Tags=[{"Key": "cost-centre", "Value": "42"}])
    rbin.untag_resource(ResourceArn=arn, TagKeys=["owner"])

    assert rbin.list_tags_for_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "cost-centre", "Value": "42"}
    ]
