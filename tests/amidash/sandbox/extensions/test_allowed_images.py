"""Conformance: Allowed AMIs (EC2 API reference: GetAllowedImagesSettings,
EnableAllowedImagesSettings, DisableAllowedImagesSettings,
ReplaceImageCriteriaInAllowedImagesSettings, DescribeInstanceImageMetadata, Image.ImageAllowed;
docs/architecture.md, AWS behaviours)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from amidash.sandbox.extensions import allowed_images
from amidash.sandbox.extensions.common import ec2_backend
from tests.allowed_images_cases import CASES, NOW, Case
from tests.amidash.sandbox.images import VENDOR, public_image


def register(ec2, name: str) -> str:
    return ec2.register_image(
        Name=name,
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
    )["ImageId"]


def flags(ec2, image_ids: list[str]) -> dict[str, object]:
    images = ec2.describe_images(ImageIds=image_ids)["Images"]
    return {image["ImageId"]: image.get("ImageAllowed") for image in images}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_the_sandbox_rule_agrees_with_the_shared_cases(case: Case):
    """ImageCriterion: any criterion allows; every parameter of one must hold; own images are
    never restricted."""
    facts = allowed_images.ImageFacts(
        owner_id=case.owner_id,
        owner_alias=case.owner_alias,
        name=case.name,
        creation_date=NOW - timedelta(days=case.created_days_ago),
        deprecation_time=(
            None
            if case.deprecated_days_ago is None
            else NOW - timedelta(days=case.deprecated_days_ago)
        ),
    )
    assert allowed_images.image_allowed(case.criteria, facts, "111111111111", NOW) is case.allowed


def test_it_starts_disabled_and_managed_by_the_account(aws):
    """GetAllowedImagesSettings: State disabled, no criteria, ManagedBy account by default."""
    answer = aws.client("ec2").get_allowed_images_settings()

    assert answer["State"] == "disabled"
    assert answer["ManagedBy"] == "account"
    assert answer.get("ImageCriteria", []) == []


def test_it_enables_audit_mode_and_replaces_criteria_per_region(aws):
    """EnableAllowedImagesSettings answers the state; ReplaceImageCriteria answers
    ReturnValue; the setting is per account and Region."""
    ec2 = aws.client("ec2")
    criteria = [
        {"ImageProviders": ["amazon", VENDOR], "ImageNames": ["golden-*"]},
        {"CreationDateCondition": {"MaximumDaysSinceCreated": 30}},
    ]

    enabled = ec2.enable_allowed_images_settings(AllowedImagesSettingsState="audit-mode")
    replaced = ec2.replace_image_criteria_in_allowed_images_settings(ImageCriteria=criteria)

    assert enabled["AllowedImagesSettingsState"] == "audit-mode"
    assert replaced["ReturnValue"] is True
    answer = ec2.get_allowed_images_settings()
    assert answer["State"] == "audit-mode"
    assert answer["ImageCriteria"] == criteria
    other_region = aws.client("ec2", region="eu-west-1").get_allowed_images_settings()
    assert other_region["State"] == "disabled"
    other_account = aws.client("ec2", account_id=VENDOR).get_allowed_images_settings()
    assert other_account["State"] == "disabled"


def test_it_disables(aws):
    """DisableAllowedImagesSettings answers AllowedImagesSettingsState disabled."""
    ec2 = aws.client("ec2")
    ec2.enable_allowed_images_settings(AllowedImagesSettingsState="enabled")

    assert ec2.disable_allowed_images_settings()["AllowedImagesSettingsState"] == "disabled"
    assert ec2.get_allowed_images_settings()["State"] == "disabled"


@pytest.mark.parametrize(
    "criteria, message",
    [
        ([{"ImageProviders": ["amazon"]}] * 11, "at most 10"),
        ([{"ImageProviders": ["none", "amazon"]}], "none"),
        ([{"ImageProviders": ["somebody"]}], "somebody"),
        ([{"ImageNames": ["a?"]}], "a?"),
        ([{"ImageNames": ["bad|name"]}], "bad|name"),
    ],
)
def test_it_refuses_invalid_criteria(aws, criteria, message):
    """ImageCriterionRequest limits: at most 10 criteria; providers amazon, aws-marketplace,
    aws-backup-vault, account ids or none alone; names of the documented characters, at least 3
    with '?'."""
    ec2 = aws.client("ec2")

    with pytest.raises(ClientError) as error:
        ec2.replace_image_criteria_in_allowed_images_settings(ImageCriteria=criteria)

    assert error.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert message in error.value.response["Error"]["Message"]
    assert ec2.get_allowed_images_settings().get("ImageCriteria", []) == []


def test_audit_mode_flags_every_image_and_never_restricts_own_images(aws):
    """Audit mode: each AMI reports ImageAllowed true or false; AMIs of the account are always
    allowed. Disabled: no ImageAllowed."""
    ec2 = aws.client("ec2")
    own_id = register(ec2, "scratch-own")
    golden_id = public_image(aws, "golden-2026")
    other_id = public_image(aws, "random-2026")
    ids = [own_id, golden_id, other_id]
    assert set(flags(ec2, ids).values()) == {None}

    ec2.replace_image_criteria_in_allowed_images_settings(
        ImageCriteria=[{"ImageProviders": [VENDOR], "ImageNames": ["golden-*"]}]
    )
    ec2.enable_allowed_images_settings(AllowedImagesSettingsState="audit-mode")

    assert flags(ec2, ids) == {own_id: True, golden_id: True, other_id: False}


def test_enabled_hides_disallowed_shared_or_public_images(aws):
    """Enabled: only AMIs matching the criteria (and the account's own) are discoverable."""
    ec2 = aws.client("ec2")
    own_id = register(ec2, "scratch-own")
    golden_id = public_image(aws, "golden-2026")
    other_id = public_image(aws, "random-2026")
    ec2.replace_image_criteria_in_allowed_images_settings(
        ImageCriteria=[{"ImageNames": ["golden-*"]}]
    )

    ec2.enable_allowed_images_settings(AllowedImagesSettingsState="enabled")

    listed = {image["ImageId"] for image in ec2.describe_images(ExecutableUsers=["all"])["Images"]}
    assert golden_id in listed and other_id not in listed
    assert own_id in {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]}
    vendor_view = aws.client("ec2", account_id=VENDOR).describe_images(Owners=["self"])
    assert other_id in {image["ImageId"] for image in vendor_view["Images"]}


def test_a_declarative_policy_setting_cannot_be_changed_by_the_account(inprocess_aws):
    """ManagedBy declarative-policy: the settings can't be modified by the account."""
    ec2 = inprocess_aws.client("ec2")
    account = inprocess_aws.client("sts").get_caller_identity()["Account"]
    allowed_images.set_allowed_images_setting(
        ec2_backend(account, "us-east-1"),
        "enabled",
        [{"ImageProviders": ["amazon"]}],
        managed_by="declarative-policy",
    )

    for call in (
        lambda: ec2.enable_allowed_images_settings(AllowedImagesSettingsState="audit-mode"),
        ec2.disable_allowed_images_settings,
        lambda: ec2.replace_image_criteria_in_allowed_images_settings(ImageCriteria=[]),
    ):
        with pytest.raises(ClientError) as error:
            call()
        assert error.value.response["Error"]["Code"] == "OperationNotPermitted"
        assert "declarative policy" in error.value.response["Error"]["Message"]
    answer = ec2.get_allowed_images_settings()
    assert (answer["State"], answer["ManagedBy"]) == ("enabled", "declarative-policy")


def test_instance_image_metadata_reports_whether_running_images_are_allowed(aws):
    """DescribeInstanceImageMetadata: each instance with its ImageMetadata, ImageAllowed
    included once Allowed AMIs is in audit mode or enabled; paginated."""
    ec2 = aws.client("ec2")
    golden_id = public_image(aws, "golden-2026")
    other_id = public_image(aws, "random-2026")
    for image_id in (golden_id, other_id):
        ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1)
    ec2.replace_image_criteria_in_allowed_images_settings(
        ImageCriteria=[{"ImageNames": ["golden-*"]}]
    )
    ec2.enable_allowed_images_settings(AllowedImagesSettingsState="audit-mode")

    first = ec2.describe_instance_image_metadata(MaxResults=1)
    second = ec2.describe_instance_image_metadata(MaxResults=1, NextToken=first["NextToken"])

    entries = first["InstanceImageMetadata"] + second["InstanceImageMetadata"]
    assert "NextToken" not in second
    allowed = {e["ImageMetadata"]["ImageId"]: e["ImageMetadata"]["ImageAllowed"] for e in entries}
    assert allowed == {golden_id: True, other_id: False}
    assert {e["ImageMetadata"]["OwnerId"] for e in entries} == {VENDOR}
    assert {e["State"]["Name"] for e in entries} == {"running"}


def test_invalid_state_is_refused(aws):
    """EnableAllowedImagesSettings accepts enabled or audit-mode only."""
    with pytest.raises(ClientError) as error:
        aws.client("ec2").enable_allowed_images_settings(AllowedImagesSettingsState="on")

    assert error.value.response["Error"]["Code"] == "InvalidParameterValue"
