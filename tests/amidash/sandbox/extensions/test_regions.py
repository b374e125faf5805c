"""Conformance: DescribeRegions (docs/architecture.md, AWS behaviours): AllRegions gives
OptInStatus; only Regions of the credentials' partition exist."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError


def statuses(answer: dict) -> dict[str, str]:
    return {region["RegionName"]: region["OptInStatus"] for region in answer["Regions"]}


def test_it_lists_only_the_aws_partition(aws):
    """DescribeRegions: only Regions of the credentials' partition (no cn-*, us-gov-*)."""
    names = statuses(aws.client("ec2").describe_regions(AllRegions=True))

    assert "us-east-1" in names and "eu-west-1" in names
    assert not [name for name in names if name.startswith(("cn-", "us-gov-", "us-iso"))]


def test_it_lists_not_opted_in_regions_only_with_all_regions(aws):
    """DescribeRegions(AllRegions=True) gives OptInStatus, including not-opted-in Regions;
    without AllRegions only enabled Regions are listed."""
    ec2 = aws.client("ec2")

    every = statuses(ec2.describe_regions(AllRegions=True))
    enabled = statuses(ec2.describe_regions())

    for region in ("af-south-1", "ap-east-1", "me-south-1", "eu-south-1"):
        assert every[region] == "not-opted-in"
        assert region not in enabled
    assert every["us-east-1"] == enabled["us-east-1"] == "opt-in-not-required"
    assert set(enabled.values()) <= {"opt-in-not-required", "opted-in"}
    assert set(enabled) < set(every)


def test_it_filters_regions_by_opt_in_status(aws):
    """DescribeRegions: the opt-in-status filter selects Regions by OptInStatus."""
    answer = aws.client("ec2").describe_regions(
        AllRegions=True, Filters=[{"Name": "opt-in-status", "Values": ["not-opted-in"]}]
    )

    assert set(statuses(answer).values()) == {"not-opted-in"}


def test_it_refuses_a_region_of_another_partition(aws):
    """DescribeRegions: a Region of another partition does not exist for these credentials."""
    with pytest.raises(ClientError) as excinfo:
        aws.client("ec2").describe_regions(RegionNames=["cn-north-1"])

    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_it_refuses_ec2_calls_in_a_region_not_opted_in(aws):
    """DescribeRegions: a not-opted-in Region has no images to report; EC2 there fails with
    AuthFailure instead of answering "0 images"."""
    with pytest.raises(ClientError) as excinfo:
        aws.client("ec2", "af-south-1").describe_images(Owners=["self"])

    assert excinfo.value.response["Error"]["Code"] == "AuthFailure"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401
    assert aws.client("ec2", "eu-west-1").describe_images(Owners=["self"])["Images"] == []
