"""Conformance: CopyImage's ClientToken is its idempotency key. AWS: the same token with the same
parameters returns the same ImageId and makes no second copy; the same token with other
parameters is refused (IdempotentParameterMismatch)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.test_conformance_images import error_code, register

SOURCE, TARGET = "us-east-1", "eu-west-1"


def copy(aws, image_id: str, token: str, name: str = "web-copy") -> str:
    return aws.client("ec2", TARGET).copy_image(
        SourceImageId=image_id, SourceRegion=SOURCE, Name=name, ClientToken=token
    )["ImageId"]


def own_images(aws) -> list[dict]:
    return aws.client("ec2", TARGET).describe_images(Owners=["self"])["Images"]


def test_the_same_token_answers_the_same_copy_and_makes_no_second(aws):
    image_id = register(aws.client("ec2", SOURCE), "web")

    first = copy(aws, image_id, "token-1")
    again = copy(aws, image_id, "token-1")

    assert again == first
    assert [image["ImageId"] for image in own_images(aws)] == [first]


def test_another_token_makes_another_copy(aws):
    image_id = register(aws.client("ec2", SOURCE), "web")

    assert copy(aws, image_id, "token-1") != copy(aws, image_id, "token-2")
    assert len(own_images(aws)) == 2


def test_the_same_token_with_other_parameters_is_refused(aws):
    image_id = register(aws.client("ec2", SOURCE), "web")
    copy(aws, image_id, "token-1")

    with pytest.raises(ClientError) as refused:
        copy(aws, image_id, "token-1", name="another-name")

    assert error_code(refused) == "IdempotentParameterMismatch"
    assert len(own_images(aws)) == 1
