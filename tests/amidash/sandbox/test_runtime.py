"""The sandbox handle: clients per account, reset, and the environment it sets and restores."""

from __future__ import annotations

import os

import boto3

from amidash.sandbox import DEFAULT_ACCOUNT_ID, sandbox

MEMBER = "210987654321"


def register(ec2, name: str) -> str:
    return ec2.register_image(
        Name=name,
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
    )["ImageId"]


def test_it_starts_with_no_images_of_its_own(aws):
    ec2 = aws.client("ec2")
    assert ec2.describe_images(Owners=["self"])["Images"] == []


def test_it_keeps_each_accounts_images_apart(aws):
    image_id = register(aws.client("ec2", account_id=MEMBER), "member-image")

    member_images = aws.client("ec2", account_id=MEMBER).describe_images(Owners=["self"])
    assert [(i["ImageId"], i["OwnerId"]) for i in member_images["Images"]] == [(image_id, MEMBER)]
    assert aws.client("ec2").describe_images(Owners=["self"])["Images"] == []
    caller = aws.client("sts", account_id=MEMBER).get_caller_identity()
    assert caller["Account"] == MEMBER


def test_it_acts_in_the_account_of_an_assumed_role(aws):
    """The way amidash reaches member accounts: STS AssumeRole, then the role's credentials."""
    image_id = register(aws.client("ec2", account_id=MEMBER), "reached-by-role")
    credentials = aws.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{MEMBER}:role/AmidashReadOnly",
        RoleSessionName="amidash",
        ExternalId="example",
    )["Credentials"]

    ec2 = boto3.client(
        "ec2",
        region_name="us-east-1",
        endpoint_url=aws.endpoint_url,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )

    assert [i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]] == [image_id]


def test_it_forgets_everything_on_reset(aws):
    register(aws.client("ec2"), "forgotten")
    aws.set_fault("throttle", share=0.1)
    aws.advance_clock(3600)

    aws.reset()

    assert aws.calls() == []
    assert aws.faults() == []
    assert aws.estate() is None
    assert aws.client("ec2").describe_images(Owners=["self"])["Images"] == []


def test_it_points_standard_aws_configuration_at_itself_and_restores_it(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://example.invalid")
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "999999999999")
    monkeypatch.delenv("AWS_REGION", raising=False)

    with sandbox() as aws:
        assert "AWS_ENDPOINT_URL" not in os.environ
        assert "AWS_PROFILE" not in os.environ
        assert "MOTO_ACCOUNT_ID" not in os.environ  # it would pin every call to one account
        assert os.environ["AWS_REGION"] == "us-east-1"
        caller = boto3.client("sts", region_name="us-east-1").get_caller_identity()
        assert caller["Account"] == DEFAULT_ACCOUNT_ID
        assert aws.mode == "inprocess" and aws.endpoint_url is None

    assert os.environ["AWS_ENDPOINT_URL"] == "https://example.invalid"
    assert os.environ["AWS_PROFILE"] == "production"
    assert os.environ["MOTO_ACCOUNT_ID"] == "999999999999"
    assert "AWS_REGION" not in os.environ
