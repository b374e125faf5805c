"""Conformance: the AMI lifecycle and the Image shape as AWS has them (docs/architecture.md,
AWS behaviours).

Every test talks to the sandbox through boto3 only, so it runs in-process and against the server.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from amidash.sandbox import clock

OTHER_ACCOUNT = "210987654321"


def sandbox_now(aws) -> datetime:
    return aws.now() if hasattr(aws, "now") else clock.now()


def advance(aws, seconds: float) -> None:
    if hasattr(aws, "advance_clock"):
        aws.advance_clock(seconds)
    else:
        clock.advance(seconds)


def register(ec2, name: str, size: int = 8, **extra) -> str:
    return ec2.register_image(
        Name=name,
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": size}}],
        **extra,
    )["ImageId"]


def describe(ec2, image_id: str) -> dict:
    return ec2.describe_images(ImageIds=[image_id], IncludeDisabled=True)["Images"][0]


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_it_deprecates_an_image_at_the_given_time_rounded_to_the_minute(aws):
    """EnableImageDeprecation: UTC, seconds rounded to the nearest minute; DeprecationTime shown."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "web-2024.01")
    target = (sandbox_now(aws) + timedelta(days=30)).replace(second=40, microsecond=0)

    assert ec2.enable_image_deprecation(ImageId=image_id, DeprecateAt=target)["Return"] is True

    expected = (target.replace(second=0) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    assert describe(ec2, image_id)["DeprecationTime"].startswith(expected + ":00")


def test_it_refuses_a_deprecation_time_in_the_past(aws):
    """EnableImageDeprecation: not in the past."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "web-2024.02")

    with pytest.raises(ClientError) as excinfo:
        ec2.enable_image_deprecation(
            ImageId=image_id, DeprecateAt=sandbox_now(aws) - timedelta(hours=1)
        )

    assert error_code(excinfo) == "InvalidParameterValue"
    assert "DeprecationTime" not in describe(ec2, image_id)


def test_it_refuses_a_deprecation_time_more_than_ten_years_ahead(aws):
    """EnableImageDeprecation: at most 10 years ahead."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "web-2024.03")

    with pytest.raises(ClientError) as excinfo:
        ec2.enable_image_deprecation(
            ImageId=image_id, DeprecateAt=sandbox_now(aws) + timedelta(days=11 * 365)
        )

    assert error_code(excinfo) == "InvalidParameterValue"


def test_it_cancels_a_deprecation(aws):
    """DisableImageDeprecation cancels it."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "web-2024.04")
    ec2.enable_image_deprecation(ImageId=image_id, DeprecateAt=sandbox_now(aws) + timedelta(days=1))

    ec2.disable_image_deprecation(ImageId=image_id)

    assert "DeprecationTime" not in describe(ec2, image_id)


def test_it_lists_deprecated_images_for_their_owner_and_hides_them_from_others(aws):
    """Deprecated images are listed for their owner; others need IncludeDeprecated=True."""
    owner = aws.client("ec2")
    other = aws.client("ec2", account_id=OTHER_ACCOUNT)
    image_id = register(owner, "shared-2023.12")
    owner.modify_image_attribute(
        ImageId=image_id, LaunchPermission={"Add": [{"UserId": OTHER_ACCOUNT}]}
    )
    owner.enable_image_deprecation(
        ImageId=image_id, DeprecateAt=sandbox_now(aws) + timedelta(hours=1)
    )
    advance(aws, 2 * 3600)

    assert [i["ImageId"] for i in owner.describe_images(Owners=["self"])["Images"]] == [image_id]
    assert other.describe_images(ExecutableUsers=["self"])["Images"] == []
    listed = other.describe_images(ExecutableUsers=["self"], IncludeDeprecated=True)["Images"]
    assert [i["ImageId"] for i in listed] == [image_id]


def test_it_hides_disabled_images_unless_include_disabled(aws):
    """Disabled images are hidden from DescribeImages unless IncludeDisabled."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "batch-2022.07")

    ec2.disable_image(ImageId=image_id)

    assert ec2.describe_images(Owners=["self"])["Images"] == []
    listed = ec2.describe_images(Owners=["self"], IncludeDisabled=True, IncludeDeprecated=True)
    assert [(i["ImageId"], i["State"]) for i in listed["Images"]] == [(image_id, "disabled")]


def test_it_makes_a_disabled_image_private_and_enable_does_not_share_it_again(aws):
    """DisableImage removes all launch permissions; EnableImage does not restore them."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "base-2021.01")
    ec2.modify_image_attribute(
        ImageId=image_id,
        LaunchPermission={"Add": [{"Group": "all"}, {"UserId": OTHER_ACCOUNT}]},
    )
    assert describe(ec2, image_id)["Public"] is True

    ec2.disable_image(ImageId=image_id)
    ec2.enable_image(ImageId=image_id)

    image = describe(ec2, image_id)
    assert (image["State"], image["Public"]) == ("available", False)
    permissions = ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
    assert permissions["LaunchPermissions"] == []


def test_it_lets_only_the_owner_disable_an_image(aws):
    """DisableImage: owner only."""
    owner = aws.client("ec2")
    image_id = register(owner, "base-2021.02")
    owner.modify_image_attribute(
        ImageId=image_id, LaunchPermission={"Add": [{"UserId": OTHER_ACCOUNT}]}
    )

    with pytest.raises(ClientError) as excinfo:
        aws.client("ec2", account_id=OTHER_ACCOUNT).disable_image(ImageId=image_id)

    assert error_code(excinfo) == "AuthFailure"
    assert describe(owner, image_id)["State"] == "available"


def test_it_records_when_an_instance_was_last_launched_from_an_image(aws):
    """The Image shape carries LastLaunchedTime (and DescribeImageAttribute lastLaunchedTime)."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "app-2024.05")
    before = ec2.describe_image_attribute(ImageId=image_id, Attribute="lastLaunchedTime")
    assert "Value" not in before["LastLaunchedTime"]

    ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1)

    launched = ec2.describe_image_attribute(ImageId=image_id, Attribute="lastLaunchedTime")
    value = datetime.fromisoformat(launched["LastLaunchedTime"]["Value"].replace("Z", "+00:00"))
    assert abs(value - sandbox_now(aws)) < timedelta(minutes=5)
    assert describe(ec2, image_id)["LastLaunchedTime"] == launched["LastLaunchedTime"]["Value"]


def test_it_registers_an_image_with_its_sizes_architecture_and_tags(aws):
    """The Image shape carries BlockDeviceMappings (snapshot ids and sizes) and Tags."""
    ec2 = aws.client("ec2")
    image_id = ec2.register_image(
        Name="db-2024.06",
        Architecture="arm64",
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[
            {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 30, "VolumeType": "gp3"}},
            {"DeviceName": "/dev/xvdb", "Ebs": {"VolumeSize": 100}},
        ],
        TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "team", "Value": "data"}]}],
    )["ImageId"]

    image = describe(ec2, image_id)
    assert image["Architecture"] == "arm64"
    assert image["Tags"] == [{"Key": "team", "Value": "data"}]
    sizes = {m["DeviceName"]: m["Ebs"]["VolumeSize"] for m in image["BlockDeviceMappings"]}
    assert sizes == {"/dev/xvda": 30, "/dev/xvdb": 100}
    snapshot_ids = [m["Ebs"]["SnapshotId"] for m in image["BlockDeviceMappings"]]
    snapshots = ec2.describe_snapshots(SnapshotIds=snapshot_ids)["Snapshots"]
    assert sorted(s["VolumeSize"] for s in snapshots) == [30, 100]


def test_it_keeps_the_instance_volume_sizes_in_create_image(aws):
    """The Image shape carries BlockDeviceMappings sizes, also for CreateImage."""
    ec2 = aws.client("ec2")
    source = register(ec2, "seed-2024.01")
    instance_id = ec2.run_instances(
        ImageId=source,
        MinCount=1,
        MaxCount=1,
        BlockDeviceMappings=[{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 50}}],
    )["Instances"][0]["InstanceId"]

    image_id = ec2.create_image(InstanceId=instance_id, Name="golden-2024.07")["ImageId"]

    sizes = sorted(m["Ebs"]["VolumeSize"] for m in describe(ec2, image_id)["BlockDeviceMappings"])
    assert 50 in sizes


def test_it_reports_the_source_of_a_copied_image(aws):
    """CopyImage copies into the client's Region; the copy reports SourceImageId/Region."""
    source_id = register(aws.client("ec2", "us-east-1"), "web-2024.08", size=20)
    west = aws.client("ec2", "eu-west-1")

    copy_id = west.copy_image(SourceImageId=source_id, SourceRegion="us-east-1", Name="web-copy")[
        "ImageId"
    ]

    copy = describe(west, copy_id)
    assert (copy["SourceImageId"], copy["SourceImageRegion"]) == (source_id, "us-east-1")
    assert [m["Ebs"]["VolumeSize"] for m in copy["BlockDeviceMappings"]] == [20]


def test_it_lists_own_images_with_owners_self(aws):
    """Pass Owners=['self']: only the caller's images, not those shared with it."""
    mine = aws.client("ec2")
    other = aws.client("ec2", account_id=OTHER_ACCOUNT)
    own_id = register(mine, "own-2024.01")
    foreign_id = register(other, "theirs-2024.01")
    other.modify_image_attribute(
        ImageId=foreign_id, LaunchPermission={"Add": [{"UserId": mine_account(aws)}]}
    )

    assert [i["ImageId"] for i in mine.describe_images(Owners=["self"])["Images"]] == [own_id]
    shared = mine.describe_images(ExecutableUsers=["self"])["Images"]
    assert foreign_id in [i["ImageId"] for i in shared]


def mine_account(aws) -> str:
    return aws.client("sts").get_caller_identity()["Account"]


def test_it_keeps_modify_image_attribute_launch_permissions_working(aws):
    """The Image shape carries Public; sharing with accounts works as before (moto)."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "lib-2024.09")

    ec2.modify_image_attribute(
        ImageId=image_id,
        LaunchPermission={"Add": [{"Group": "all"}, {"UserId": OTHER_ACCOUNT}]},
    )
    shared = ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
    ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Remove": [{"Group": "all"}]})

    assert {"Group": "all"} in shared["LaunchPermissions"]
    assert {"UserId": OTHER_ACCOUNT} in shared["LaunchPermissions"]
    assert describe(ec2, image_id)["Public"] is False
    theirs = aws.client("ec2", account_id=OTHER_ACCOUNT).describe_images(ImageIds=[image_id])
    assert [i["ImageId"] for i in theirs["Images"]] == [image_id]


def test_it_reports_the_creation_date_the_estate_gives_an_image(inprocess_aws):
    """The Image shape carries CreationDate: as set (moto would always say "now"). In process
    only: it sets the date on moto's backend directly, as the estate generator does."""
    from amidash.sandbox.extensions import set_creation_date
    from amidash.sandbox.extensions.common import ec2_backend

    ec2 = inprocess_aws.client("ec2")
    image_id = register(ec2, "old-2019.03")
    account = inprocess_aws.client("sts").get_caller_identity()["Account"]

    set_creation_date(
        ec2_backend(account, "us-east-1").amis[image_id], datetime(2019, 3, 4, 5, 6, 7, tzinfo=UTC)
    )

    assert describe(ec2, image_id)["CreationDate"] == "2019-03-04T05:06:07.000Z"


def test_it_limits_the_deprecation_of_a_public_image_to_two_years_after_creation(aws):
    """EnableImageDeprecation: the 10-year limit is 2 years from creation for public AMIs."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "pub-2024.10")
    ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": [{"Group": "all"}]})

    with pytest.raises(ClientError) as excinfo:
        ec2.enable_image_deprecation(
            ImageId=image_id, DeprecateAt=sandbox_now(aws) + timedelta(days=3 * 365)
        )

    assert error_code(excinfo) == "InvalidParameterValue"
    ec2.enable_image_deprecation(
        ImageId=image_id, DeprecateAt=sandbox_now(aws) + timedelta(days=365)
    )
    assert "DeprecationTime" in describe(ec2, image_id)


def test_it_refuses_to_launch_or_share_a_disabled_image(aws):
    """DisableImage: a disabled AMI can be neither launched nor shared (AWS DisableImage
    reference); EnableImage makes it usable again."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "frozen-2024.11")
    ec2.disable_image(ImageId=image_id)

    with pytest.raises(ClientError):
        ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1)
    with pytest.raises(ClientError):
        ec2.modify_image_attribute(
            ImageId=image_id, LaunchPermission={"Add": [{"UserId": OTHER_ACCOUNT}]}
        )

    assert ec2.describe_instances()["Reservations"] == []
    ec2.enable_image(ImageId=image_id)
    ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1)
    assert len(ec2.describe_instances()["Reservations"]) == 1


# --- CopyImage's ClientToken: the idempotency key. AWS: the same token with the same parameters
# returns the same ImageId and makes no second copy; with other parameters it is refused
# (IdempotentParameterMismatch).

SOURCE, TARGET = "us-east-1", "eu-west-1"


def copy_with_token(aws, image_id: str, token: str, name: str = "web-copy") -> str:
    return aws.client("ec2", TARGET).copy_image(
        SourceImageId=image_id, SourceRegion=SOURCE, Name=name, ClientToken=token
    )["ImageId"]


def own_copies(aws) -> list[dict]:
    return aws.client("ec2", TARGET).describe_images(Owners=["self"])["Images"]


def test_the_same_token_answers_the_same_copy_and_makes_no_second(aws):
    image_id = register(aws.client("ec2", SOURCE), "web")

    first = copy_with_token(aws, image_id, "token-1")
    again = copy_with_token(aws, image_id, "token-1")

    assert again == first
    assert [image["ImageId"] for image in own_copies(aws)] == [first]


def test_another_token_makes_another_copy(aws):
    image_id = register(aws.client("ec2", SOURCE), "web")

    assert copy_with_token(aws, image_id, "token-1") != copy_with_token(aws, image_id, "token-2")
    assert len(own_copies(aws)) == 2


def test_the_same_token_with_other_parameters_is_refused(aws):
    image_id = register(aws.client("ec2", SOURCE), "web")
    copy_with_token(aws, image_id, "token-1")

    with pytest.raises(ClientError) as refused:
        copy_with_token(aws, image_id, "token-1", name="another-name")

    assert error_code(refused) == "IdempotentParameterMismatch"
    assert len(own_copies(aws)) == 1
