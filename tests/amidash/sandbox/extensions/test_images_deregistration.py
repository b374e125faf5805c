"""Conformance: deregistration, its protection and the snapshots it leaves (docs/architecture.md,
AWS behaviours)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from amidash.sandbox import clock

DAY = 24 * 3600


def advance(aws, seconds: float) -> None:
    if hasattr(aws, "advance_clock"):
        aws.advance_clock(seconds)
    else:
        clock.advance(seconds)


def register(ec2, name: str, snapshot_id: str | None = None) -> str:
    ebs = {"SnapshotId": snapshot_id} if snapshot_id else {"VolumeSize": 8}
    return ec2.register_image(
        Name=name,
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": ebs}],
    )["ImageId"]


def root_snapshot(ec2, image_id: str) -> str:
    image = ec2.describe_images(ImageIds=[image_id])["Images"][0]
    return image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]


def snapshot_exists(ec2, snapshot_id: str) -> bool:
    owned = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    return snapshot_id in {snapshot["SnapshotId"] for snapshot in owned}


def own_image_ids(ec2) -> set[str]:
    answer = ec2.describe_images(Owners=["self"], IncludeDisabled=True, IncludeDeprecated=True)
    return {image["ImageId"] for image in answer["Images"]}


def test_it_refuses_to_deregister_a_protected_image(aws):
    """Deregistration protection (EnableImageDeregistrationProtection) makes DeregisterImage
    fail."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "prod-2024.01")
    ec2.enable_image_deregistration_protection(ImageId=image_id)

    with pytest.raises(ClientError) as excinfo:
        ec2.deregister_image(ImageId=image_id)

    assert excinfo.value.response["Error"]["Code"] == "OperationNotPermitted"
    assert image_id in own_image_ids(ec2)
    image = ec2.describe_images(ImageIds=[image_id])["Images"][0]
    assert image["DeregistrationProtection"] == "enabled-without-cooldown"


def test_it_deregisters_at_once_after_protection_without_cooldown_is_disabled(aws):
    """Deregistration protection without cooldown: disabling it takes effect at once."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "prod-2024.02")
    ec2.enable_image_deregistration_protection(ImageId=image_id)
    ec2.disable_image_deregistration_protection(ImageId=image_id)

    ec2.deregister_image(ImageId=image_id)

    assert image_id not in own_image_ids(ec2)


def test_it_keeps_protection_for_24_hours_after_disabling_with_cooldown(aws):
    """Deregistration protection WithCooldown: 24 h during which DeregisterImage still fails."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "prod-2024.03")
    ec2.enable_image_deregistration_protection(ImageId=image_id, WithCooldown=True)
    assert (
        ec2.describe_images(ImageIds=[image_id])["Images"][0]["DeregistrationProtection"]
        == "enabled-with-cooldown"
    )
    ec2.disable_image_deregistration_protection(ImageId=image_id)

    advance(aws, DAY - 60)
    with pytest.raises(ClientError):
        ec2.deregister_image(ImageId=image_id)
    shown = ec2.describe_images(ImageIds=[image_id])["Images"][0]["DeregistrationProtection"]
    assert shown.startswith("disabled-until ")

    advance(aws, 120)
    ec2.deregister_image(ImageId=image_id)
    assert image_id not in own_image_ids(ec2)


def test_it_shows_deregistration_protection_in_describe_image_attribute(aws):
    """The Image shape carries DeregistrationProtection (also via DescribeImageAttribute)."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "prod-2024.04")

    before = ec2.describe_image_attribute(ImageId=image_id, Attribute="deregistrationProtection")
    ec2.enable_image_deregistration_protection(ImageId=image_id, WithCooldown=True)
    after = ec2.describe_image_attribute(ImageId=image_id, Attribute="deregistrationProtection")

    assert before["DeregistrationProtection"]["Value"] == "disabled"
    assert after["DeregistrationProtection"]["Value"] == "enabled-with-cooldown"


def test_it_deletes_the_associated_snapshots_when_asked(aws):
    """DeregisterImage(DeleteAssociatedSnapshots=True) deletes snapshots used by no other AMI
    and returns DeleteSnapshotResults."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "tmp-2024.05")
    snapshot_id = root_snapshot(ec2, image_id)

    answer = ec2.deregister_image(ImageId=image_id, DeleteAssociatedSnapshots=True)

    assert answer["DeleteSnapshotResults"] == [{"SnapshotId": snapshot_id, "ReturnCode": "success"}]
    assert not snapshot_exists(ec2, snapshot_id)


def test_it_keeps_a_snapshot_another_image_still_uses(aws):
    """DeleteAssociatedSnapshots deletes only snapshots used by no other AMI."""
    ec2 = aws.client("ec2")
    first = register(ec2, "twin-a")
    snapshot_id = root_snapshot(ec2, first)
    second = register(ec2, "twin-b", snapshot_id=snapshot_id)

    answer = ec2.deregister_image(ImageId=first, DeleteAssociatedSnapshots=True)

    assert [
        r["SnapshotId"] for r in answer["DeleteSnapshotResults"] if r["ReturnCode"] == "success"
    ] == []
    assert snapshot_exists(ec2, snapshot_id)
    assert root_snapshot(ec2, second) == snapshot_id


def test_it_keeps_snapshots_without_delete_associated_snapshots(aws):
    """Without DeleteAssociatedSnapshots the snapshots stay (and no results are returned)."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "tmp-2024.06")
    snapshot_id = root_snapshot(ec2, image_id)

    answer = ec2.deregister_image(ImageId=image_id)

    assert "DeleteSnapshotResults" not in answer
    assert snapshot_exists(ec2, snapshot_id)
    assert image_id not in own_image_ids(ec2)


def test_it_refuses_to_delete_a_snapshot_an_image_uses(aws):
    """DeleteAssociatedSnapshots exists because a registered AMI's snapshots cannot be deleted
    while the AMI uses them."""
    ec2 = aws.client("ec2")
    first = register(ec2, "pinned-a")
    snapshot_id = root_snapshot(ec2, first)
    register(ec2, "pinned-b", snapshot_id=snapshot_id)
    ec2.deregister_image(ImageId=first)

    with pytest.raises(ClientError) as excinfo:
        ec2.delete_snapshot(SnapshotId=snapshot_id)

    assert excinfo.value.response["Error"]["Code"] == "InvalidSnapshot.InUse"
    assert snapshot_exists(ec2, snapshot_id)
