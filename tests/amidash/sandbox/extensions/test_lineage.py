"""Conformance: GetImageAncestry (EC2 API reference): "Retrieves the ancestry chain of the
specified AMI, tracing its lineage back to the root AMI"; ImageAncestryEntries run "from the
specified AMI to the root AMI", each with ImageId, SourceImageId, SourceImageRegion,
CreationDate and ImageOwnerAlias. CopyImage records SourceImageId and SourceImageRegion."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.amidash.sandbox.extensions.test_references import register


def copy(aws, image_id: str, source_region: str, target_region: str) -> str:
    ec2 = aws.client("ec2", target_region)
    return ec2.copy_image(SourceImageId=image_id, SourceRegion=source_region, Name="copy")[
        "ImageId"
    ]


def test_it_traces_a_copy_chain_back_to_its_root_across_regions(aws):
    """GetImageAncestry: entries from the image to the root, each naming its parent."""
    root = register(aws.client("ec2"), "base-2024.01")
    child = copy(aws, root, "us-east-1", "us-west-2")
    grandchild = copy(aws, child, "us-west-2", "eu-west-1")

    entries = aws.client("ec2", "eu-west-1").get_image_ancestry(ImageId=grandchild)[
        "ImageAncestryEntries"
    ]

    assert [
        (e["ImageId"], e.get("SourceImageId"), e.get("SourceImageRegion")) for e in entries
    ] == [
        (grandchild, child, "us-west-2"),
        (child, root, "us-east-1"),
        (root, None, None),
    ]
    assert all(e["CreationDate"] for e in entries)


def test_copies_report_their_source_in_describe_images(aws):
    """CopyImage: the copy reports SourceImageId and SourceImageRegion (DescribeImages)."""
    root = register(aws.client("ec2"), "base-2024.02")
    child = copy(aws, root, "us-east-1", "us-west-2")

    image = aws.client("ec2", "us-west-2").describe_images(ImageIds=[child])["Images"][0]

    assert (image["SourceImageId"], image["SourceImageRegion"]) == (root, "us-east-1")


def test_an_image_that_is_no_copy_is_its_own_root(aws):
    """GetImageAncestry of an image without a source: one entry, without SourceImageId."""
    root = register(aws.client("ec2"), "base-2024.03")

    entries = aws.client("ec2").get_image_ancestry(ImageId=root)["ImageAncestryEntries"]

    assert entries == [{"ImageId": root, "CreationDate": entries[0]["CreationDate"]}]


def test_the_chain_stops_at_a_deregistered_parent(aws):
    """GetImageAncestry: the chain ends where a parent no longer exists; the last entry still
    names it as SourceImageId."""
    ec2 = aws.client("ec2")
    root = register(ec2, "base-2024.04")
    child = copy(aws, root, "us-east-1", "us-east-1")
    ec2.deregister_image(ImageId=root)

    entries = ec2.get_image_ancestry(ImageId=child)["ImageAncestryEntries"]

    assert [(e["ImageId"], e.get("SourceImageId")) for e in entries] == [(child, root)]


@pytest.mark.parametrize(
    ("image_id", "code"),
    [("ami-0123456789abcdef0", "InvalidAMIID.NotFound"), ("img-1", "InvalidAMIID.Malformed")],
)
def test_it_refuses_unknown_and_malformed_ids(aws, image_id, code):
    """GetImageAncestry: an unknown AMI is InvalidAMIID.NotFound, a malformed id
    InvalidAMIID.Malformed (EC2 error codes)."""
    with pytest.raises(ClientError) as excinfo:
        aws.client("ec2").get_image_ancestry(ImageId=image_id)

    assert excinfo.value.response["Error"]["Code"] == code
