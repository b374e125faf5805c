"""Conformance: GetImageFindings (EC2 API reference): "Describes the Amazon Inspector
vulnerability findings for the specified AMI ... Amazon Inspector returns findings only for
AMIs that it has scanned." ImageFindings carry Title, SeverityLabel (informational | low |
medium | high | critical), Score, FixAvailable, Paths, SnapshotId; MaxResults 1 to 1000."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from amidash.sandbox import SandboxControlError
from tests.amidash.sandbox.extensions.test_references import register

FINDINGS = [
    {"Title": "CVE-2024-0001 openssl", "SeverityLabel": "critical", "Score": 9.8},
    {"Title": "CVE-2024-0002 glibc", "SeverityLabel": "high", "FixAvailable": True},
    {"Title": "CVE-2024-0003 curl", "SeverityLabel": "medium", "Paths": ["/usr/bin/curl"]},
]


def test_it_answers_an_images_findings_with_their_severity(aws):
    """GetImageFindings: one ImageFinding per finding, with its SeverityLabel and the snapshot
    it was found in."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "api-2024.01")
    aws.set_image_findings(image_id, FINDINGS)

    findings = ec2.get_image_findings(ImageId=image_id)["ImageFindings"]

    assert sorted(f["SeverityLabel"] for f in findings) == ["critical", "high", "medium"]
    snapshot = ec2.describe_images(ImageIds=[image_id])["Images"][0]["BlockDeviceMappings"][0]
    assert {f["SnapshotId"] for f in findings} == {snapshot["Ebs"]["SnapshotId"]}
    assert next(f for f in findings if f["SeverityLabel"] == "high")["FixAvailable"] is True


def test_an_unscanned_image_has_no_findings(aws):
    """GetImageFindings: Inspector returns findings only for AMIs it has scanned."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "api-2024.02")

    assert ec2.get_image_findings(ImageId=image_id)["ImageFindings"] == []


def test_it_pages_findings(aws):
    """GetImageFindings is paginated (MaxResults, NextToken)."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "api-2024.03")
    aws.set_image_findings(
        image_id, [{"Title": f"CVE-{n}", "SeverityLabel": "low"} for n in range(5)]
    )

    pages = list(
        ec2.get_paginator("get_image_findings").paginate(
            ImageId=image_id, PaginationConfig={"PageSize": 2}
        )
    )

    assert [len(page["ImageFindings"]) for page in pages] == [2, 2, 1]


def test_it_refuses_a_page_size_out_of_range(aws):
    """GetImageFindings: MaxResults "Minimum value of 1. Maximum value of 1000."."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "api-2024.04")

    with pytest.raises(ClientError) as excinfo:
        ec2.get_image_findings(ImageId=image_id, MaxResults=1001)

    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_it_refuses_an_unknown_image(aws):
    """GetImageFindings of an AMI that does not exist: InvalidAMIID.NotFound."""
    with pytest.raises(ClientError) as excinfo:
        aws.client("ec2").get_image_findings(ImageId="ami-0123456789abcdef0")

    assert excinfo.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"


def test_the_handle_refuses_a_finding_without_a_known_severity(aws):
    image_id = register(aws.client("ec2"), "api-2024.05")

    with pytest.raises(SandboxControlError, match="SeverityLabel"):
        aws.set_image_findings(image_id, [{"Title": "x", "SeverityLabel": "severe"}])
