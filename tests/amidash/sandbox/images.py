"""Images registered in the sandbox through the EC2 API, as an AMI build would leave them."""

from __future__ import annotations

from typing import Any

REGION = "us-east-1"
OTHER_REGION = "eu-west-1"


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


def ec2_client(aws: Any, region: str = REGION, account_id: str | None = None) -> Any:
    """One client per sandbox, Region and account (making a boto3 client is the slow part)."""
    clients = aws.__dict__.setdefault("_test_clients", {})
    if (region, account_id) not in clients:
        clients[region, account_id] = (
            aws.client("ec2", region, account_id=account_id)
            if account_id
            else aws.client("ec2", region)
        )
    return clients[region, account_id]


def register_image(
    aws: Any,
    name: str,
    region: str = REGION,
    size_gib: int = 8,
    tags: dict[str, str] | None = None,
    account_id: str | None = None,
) -> str:
    """Register an EBS-backed image with one snapshot of ``size_gib``; returns its id."""
    return register_ebs_image(ec2_client(aws, region, account_id), name, region, size_gib, tags)


def launch(aws: Any, image_id: str, region: str = REGION) -> str:
    """Run one instance of ``image_id``; returns the instance id."""
    answer = ec2_client(aws, region).run_instances(
        ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="t3.micro"
    )
    return answer["Instances"][0]["InstanceId"]


#: The account whose public images the Allowed AMIs tests run (not the caller's own).
VENDOR = "222222222222"


def public_image(aws: Any, name: str, account_id: str = VENDOR, region: str = REGION) -> str:
    """An image of another account, made public: Allowed AMIs judges it (own images never)."""
    image_id = register_image(aws, name, region, account_id=account_id)
    ec2_client(aws, region, account_id).modify_image_attribute(
        ImageId=image_id, LaunchPermission={"Add": [{"Group": "all"}]}
    )
    return image_id
