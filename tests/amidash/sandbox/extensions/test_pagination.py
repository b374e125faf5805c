"""Conformance: listings paginate for real (docs/architecture.md, AWS behaviours).

moto never paginates DescribeImages and silently stops DescribeLaunchTemplates(Versions) at 15;
the sandbox returns either everything or a page with a NextToken.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError


def register_images(ec2, count: int) -> set[str]:
    return {
        ec2.register_image(
            Name=f"svc-{n:03d}",
            RootDeviceName="/dev/xvda",
            BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
        )["ImageId"]
        for n in range(count)
    }


def pages(method, result_key: str, **params) -> list[list]:
    """Every page of a listing, following NextToken by hand."""
    collected = []
    while True:
        answer = method(**params)
        collected.append(answer[result_key])
        token = answer.get("NextToken")
        if not token:
            return collected
        params["NextToken"] = token


def test_it_pages_describe_images_with_max_results(aws):
    """DescribeImages paginates (MaxResults, NextToken)."""
    ec2 = aws.client("ec2")
    created = register_images(ec2, 12)

    collected = pages(ec2.describe_images, "Images", Owners=["self"], MaxResults=5)

    assert [len(page) for page in collected] == [5, 5, 2]
    assert {image["ImageId"] for page in collected for image in page} == created


def test_it_answers_describe_images_unpaginated_without_max_results(aws):
    """An empty ImageIds list (and no MaxResults) makes DescribeImages unpaginated."""
    ec2 = aws.client("ec2")
    created = register_images(ec2, 7)

    answer = ec2.describe_images(Owners=["self"], ImageIds=[])

    assert {image["ImageId"] for image in answer["Images"]} == created
    assert "NextToken" not in answer


def test_it_works_with_the_boto3_paginator(aws):
    """DescribeImages paginates: botocore's own paginator walks every page."""
    ec2 = aws.client("ec2")
    created = register_images(ec2, 11)

    paginator = ec2.get_paginator("describe_images")
    seen = [
        image["ImageId"]
        for page in paginator.paginate(Owners=["self"], PaginationConfig={"PageSize": 5})
        for image in page["Images"]
    ]

    assert sorted(seen) == sorted(created)


def test_it_rejects_a_max_results_out_of_range(aws):
    """DescribeImages paginates: MaxResults outside 5..1000 is InvalidParameterValue."""
    ec2 = aws.client("ec2")

    for value in (2, 1001):
        with pytest.raises(ClientError) as excinfo:
            ec2.describe_images(Owners=["self"], MaxResults=value)
        assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_it_rejects_a_forged_next_token(aws):
    """DescribeImages paginates: a token it did not issue is refused, not ignored."""
    ec2 = aws.client("ec2")

    with pytest.raises(ClientError) as excinfo:
        ec2.describe_images(Owners=["self"], MaxResults=5, NextToken="not-a-token")

    assert excinfo.value.response["Error"]["Code"] == "InvalidPaginationToken"


def test_it_does_not_truncate_launch_templates_at_fifteen(aws):
    """DescribeLaunchTemplates: never stops at 15 results without a NextToken."""
    ec2 = aws.client("ec2")
    for n in range(17):
        ec2.create_launch_template(
            LaunchTemplateName=f"lt-{n:02d}", LaunchTemplateData={"ImageId": "ami-12345678"}
        )

    assert len(ec2.describe_launch_templates()["LaunchTemplates"]) == 17
    collected = pages(ec2.describe_launch_templates, "LaunchTemplates", MaxResults=10)
    assert [len(page) for page in collected] == [10, 7]


def test_it_pages_launch_template_versions(aws):
    """DescribeLaunchTemplateVersions: every version, page by page, none silently dropped."""
    ec2 = aws.client("ec2")
    template_id = ec2.create_launch_template(
        LaunchTemplateName="web", LaunchTemplateData={"ImageId": "ami-00000000"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    for n in range(1, 18):
        ec2.create_launch_template_version(
            LaunchTemplateId=template_id, LaunchTemplateData={"ImageId": f"ami-{n:08d}"}
        )

    collected = pages(
        ec2.describe_launch_template_versions,
        "LaunchTemplateVersions",
        LaunchTemplateId=template_id,
        MaxResults=10,
    )

    numbers = [v["VersionNumber"] for page in collected for v in page]
    assert sorted(numbers) == list(range(1, 19))
    assert (
        len(
            ec2.describe_launch_template_versions(LaunchTemplateId=template_id)[
                "LaunchTemplateVersions"
            ]
        )
        == 18
    )


def test_it_pages_instances(aws):
    """DescribeInstances paginates (MaxResults, NextToken)."""
    ec2 = aws.client("ec2")
    for _ in range(7):
        ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)

    collected = pages(ec2.describe_instances, "Reservations", MaxResults=5)

    assert [len(page) for page in collected] == [5, 2]


def test_it_pages_snapshots_and_honours_owner_ids(aws):
    """DescribeSnapshots paginates and honours OwnerIds (moto ignores them)."""
    ec2 = aws.client("ec2")
    register_images(ec2, 6)

    collected = pages(ec2.describe_snapshots, "Snapshots", OwnerIds=["self"], MaxResults=5)
    assert [len(page) for page in collected] == [5, 1]
    assert ec2.describe_snapshots(OwnerIds=["999999999999"])["Snapshots"] == []


def test_it_pages_auto_scaling_groups_and_launch_configurations(aws):
    """Auto Scaling listings paginate with MaxRecords (at most 100) and NextToken."""
    autoscaling = aws.client("autoscaling")
    for n in range(7):
        autoscaling.create_launch_configuration(
            LaunchConfigurationName=f"lc-{n}", ImageId="ami-12345678", InstanceType="t3.micro"
        )
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=f"asg-{n}",
            LaunchConfigurationName=f"lc-{n}",
            MinSize=0,
            MaxSize=1,
            AvailabilityZones=["us-east-1a"],
        )

    groups = pages(autoscaling.describe_auto_scaling_groups, "AutoScalingGroups", MaxRecords=3)
    configurations = pages(
        autoscaling.describe_launch_configurations, "LaunchConfigurations", MaxRecords=3
    )

    assert [len(page) for page in groups] == [3, 3, 1]
    assert [len(page) for page in configurations] == [3, 3, 1]
    with pytest.raises(ClientError) as excinfo:
        autoscaling.describe_auto_scaling_groups(MaxRecords=101)
    assert excinfo.value.response["Error"]["Code"] == "ValidationError"
