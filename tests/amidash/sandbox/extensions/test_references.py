"""Conformance: DescribeImageReferences (docs/architecture.md, AWS behaviours): it lists what
references an AMI — instances, launch templates, SSM parameters — in one paginated call."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError


def register(ec2, name: str) -> str:
    return ec2.register_image(
        Name=name,
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
    )["ImageId"]


def references(ec2, image_ids: list[str], **params) -> set[tuple[str, str, str]]:
    answer = ec2.describe_image_references(ImageIds=image_ids, **params)
    return {(r["ImageId"], r["ResourceType"], r["Arn"]) for r in answer["ImageReferences"]}


def test_it_lists_instances_launch_templates_and_ssm_parameters_using_an_image(aws):
    """DescribeImageReferences(IncludeAllResourceTypes=True) lists instances, launch templates
    and SSM parameters."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "api-2024.01")
    unused_id = register(ec2, "api-2024.02")
    instance_id = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1)["Instances"][0][
        "InstanceId"
    ]
    template_id = ec2.create_launch_template(
        LaunchTemplateName="api", LaunchTemplateData={"ImageId": image_id}
    )["LaunchTemplate"]["LaunchTemplateId"]
    aws.client("ssm").put_parameter(
        Name="/golden/api", Value=image_id, Type="String", DataType="aws:ec2:image"
    )

    found = references(ec2, [image_id, unused_id], IncludeAllResourceTypes=True)

    account = aws.client("sts").get_caller_identity()["Account"]
    prefix = f"arn:aws:ec2:us-east-1:{account}"
    assert found == {
        (image_id, "ec2:Instance", f"{prefix}:instance/{instance_id}"),
        (image_id, "ec2:LaunchTemplate", f"{prefix}:launch-template/{template_id}"),
        (image_id, "ssm:Parameter", f"arn:aws:ssm:us-east-1:{account}:parameter/golden/api"),
    }


def test_it_checks_only_the_requested_resource_types(aws):
    """DescribeImageReferences: ResourceTypes narrows the check."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "api-2024.03")
    ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1)
    ec2.create_launch_template(LaunchTemplateName="api", LaunchTemplateData={"ImageId": image_id})

    found = references(ec2, [image_id], ResourceTypes=[{"ResourceType": "ec2:LaunchTemplate"}])

    assert {resource_type for _, resource_type, _ in found} == {"ec2:LaunchTemplate"}


def test_it_ignores_terminated_instances(aws):
    """DescribeImageReferences: a terminated instance no longer references the image."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "api-2024.04")
    instance_id = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1)["Instances"][0][
        "InstanceId"
    ]

    ec2.terminate_instances(InstanceIds=[instance_id])

    assert references(ec2, [image_id], IncludeAllResourceTypes=True) == set()


def test_it_pages_image_references(aws):
    """DescribeImageReferences is paginated (MaxResults, NextToken)."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "api-2024.05")
    ec2.run_instances(ImageId=image_id, MinCount=7, MaxCount=7)

    paginator = ec2.get_paginator("describe_image_references")
    pages = list(
        paginator.paginate(
            ImageIds=[image_id],
            IncludeAllResourceTypes=True,
            PaginationConfig={"PageSize": 5},
        )
    )

    assert [len(page["ImageReferences"]) for page in pages] == [5, 2]


def test_it_requires_a_resource_type_choice(aws):
    """DescribeImageReferences: either IncludeAllResourceTypes or ResourceTypes must be given."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "api-2024.06")

    with pytest.raises(ClientError) as excinfo:
        ec2.describe_image_references(ImageIds=[image_id])

    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterCombination"
