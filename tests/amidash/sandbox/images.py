"""Images registered in the sandbox through the EC2 API, as an AMI build would leave them."""

from __future__ import annotations

from typing import Any


def register_ebs_image(
    ec2: Any, name: str, region: str, size_gib: int = 8, tags: dict[str, str] | None = None
) -> str:
    """Register an EBS-backed image with one snapshot of ``size_gib``; returns its id."""
    volume = ec2.create_volume(AvailabilityZone=f"{region}a", Size=size_gib)
    snapshot = ec2.create_snapshot(VolumeId=volume["VolumeId"])
    params: dict[str, Any] = {
        "Name": name,
        "Architecture": "x86_64",
        "RootDeviceName": "/dev/xvda",
        "VirtualizationType": "hvm",
        "BlockDeviceMappings": [
            {
                "DeviceName": "/dev/xvda",
                "Ebs": {"SnapshotId": snapshot["SnapshotId"], "VolumeSize": size_gib},
            }
        ],
    }
    if tags:
        params["TagSpecifications"] = [
            {"ResourceType": "image", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    return ec2.register_image(**params)["ImageId"]
