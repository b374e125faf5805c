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


def test_it_lists_image_builder_recipes_whose_parent_is_the_image(aws):
    """DescribeImageReferences resource types include imagebuilder:ImageRecipe and
    imagebuilder:ContainerRecipe (EC2 API reference, ImageReference.resourceType)."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "api-2024.07")
    image_recipe = aws.add_image_recipe("api-recipe", image_id)
    container_recipe = aws.add_image_recipe("api-container", image_id, container=True)

    everything = references(ec2, [image_id], IncludeAllResourceTypes=True)
    containers = references(
        ec2, [image_id], ResourceTypes=[{"ResourceType": "imagebuilder:ContainerRecipe"}]
    )

    account = aws.client("sts").get_caller_identity()["Account"]
    assert image_recipe == f"arn:aws:imagebuilder:us-east-1:{account}:image-recipe/api-recipe/1.0.0"
    assert everything == {
        (image_id, "imagebuilder:ImageRecipe", image_recipe),
        (image_id, "imagebuilder:ContainerRecipe", container_recipe),
    }
    assert containers == {(image_id, "imagebuilder:ContainerRecipe", container_recipe)}


def test_it_counts_a_pinned_launch_template_version_within_the_version_depth(aws):
    """DescribeImageReferences: ec2:LaunchTemplate with the version-depth option checks that
    many of the most recent versions, so an older pinned version still references its image."""
    ec2 = aws.client("ec2")
    old_id, new_id = register(ec2, "api-2024.08"), register(ec2, "api-2024.09")
    template_id = ec2.create_launch_template(
        LaunchTemplateName="pinned", LaunchTemplateData={"ImageId": old_id}
    )["LaunchTemplate"]["LaunchTemplateId"]
    for _ in range(2):
        ec2.create_launch_template_version(
            LaunchTemplateId=template_id, LaunchTemplateData={"ImageId": new_id}
        )

    def depth(value: str) -> set:
        option = {"OptionName": "version-depth", "OptionValues": [value]}
        types = [{"ResourceType": "ec2:LaunchTemplate", "ResourceTypeOptions": [option]}]
        return {image for image, _, _ in references(ec2, [old_id], ResourceTypes=types)}

    assert depth("2") == set()
    assert depth("3") == {old_id}


def test_it_refuses_more_than_ten_images_per_call(aws):
    """DescribeImageReferences: ImageId.N has "Minimum number of 1 item. Maximum number of 10
    items." (EC2 API reference)."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "api-2024.10")

    with pytest.raises(ClientError) as excinfo:
        ec2.describe_image_references(ImageIds=[image_id] * 11, IncludeAllResourceTypes=True)

    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert references(ec2, [image_id] * 10, IncludeAllResourceTypes=True) == set()


def test_it_refuses_an_unknown_resource_type(aws):
    """DescribeImageReferences: supported resource types are ec2:Instance | ec2:LaunchTemplate |
    ssm:Parameter | imagebuilder:ImageRecipe | imagebuilder:ContainerRecipe."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "api-2024.11")

    with pytest.raises(ClientError) as excinfo:
        ec2.describe_image_references(
            ImageIds=[image_id], ResourceTypes=[{"ResourceType": "ec2:Volume"}]
        )

    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValue"
