"""Faults the sandbox injects, in-process and through the server's control endpoint.

As AWS does (docs/architecture.md, AWS behaviours): over the limit EC2 answers
`RequestLimitExceeded` (HTTP 503) and Auto Scaling `Throttling`; botocore's standard retry mode
retries both.
"""

from __future__ import annotations

import pytest
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
)
from botocore.parsers import ResponseParserError

from amidash.sandbox import SandboxControlError

MEMBER = "210987654321"
# In a botocore Config, max_attempts counts retries, not attempts.
STANDARD_RETRIES = Config(retries={"mode": "standard", "max_attempts": 2})
NO_RETRIES = Config(retries={"mode": "standard", "max_attempts": 0})


def outcomes(client, calls: int) -> list[str]:
    """What each of a run of DescribeImages calls answered: "ok" or the error code."""
    answers = []
    for _ in range(calls):
        try:
            client.describe_images(Owners=["self"])
            answers.append("ok")
        except ClientError as error:
            answers.append(error.response["Error"]["Code"])
    return answers


def test_it_throttles_ec2_with_request_limit_exceeded_that_botocore_retries(aws):
    aws.set_fault("throttle", action="DescribeImages")
    ec2 = aws.client("ec2", config=STANDARD_RETRIES)

    with pytest.raises(ClientError) as raised:
        ec2.describe_images(Owners=["self"])

    answer = raised.value.response
    assert answer["Error"]["Code"] == "RequestLimitExceeded"
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert answer["ResponseMetadata"]["RetryAttempts"] == 2  # retried as throttling
    throttled = aws.calls(action="DescribeImages")
    assert [call["fault"] for call in throttled] == ["throttle"] * 3
    assert ec2.describe_regions()["Regions"]  # other actions are not throttled


def test_it_throttles_auto_scaling_with_throttling(aws):
    aws.set_fault("throttle", service="autoscaling")
    autoscaling = aws.client("autoscaling", config=STANDARD_RETRIES)

    with pytest.raises(ClientError) as raised:
        autoscaling.describe_auto_scaling_groups()

    assert raised.value.response["Error"]["Code"] == "Throttling"
    assert raised.value.response["ResponseMetadata"]["RetryAttempts"] == 2
    assert aws.client("ec2").describe_images(Owners=["self"])["Images"] == []


def test_it_throttles_a_seeded_share_of_calls_the_same_way_every_run(aws):
    ec2 = aws.client("ec2", config=NO_RETRIES)
    aws.set_fault("throttle", share=0.5, seed=7)
    first = outcomes(ec2, 24)
    aws.clear_faults()
    aws.set_fault("throttle", share=0.5, seed=7)
    second = outcomes(ec2, 24)

    assert first == second
    assert set(first) == {"ok", "RequestLimitExceeded"}


def test_it_throttles_only_the_region_and_account_it_names(aws):
    aws.set_fault("throttle", region="eu-west-1", account_id=MEMBER)

    assert outcomes(aws.client("ec2", "eu-west-1", account_id=MEMBER, config=NO_RETRIES), 1) == [
        "RequestLimitExceeded"
    ]
    assert outcomes(aws.client("ec2", "us-east-1", account_id=MEMBER, config=NO_RETRIES), 1) == [
        "ok"
    ]
    assert outcomes(aws.client("ec2", "eu-west-1", config=NO_RETRIES), 1) == ["ok"]


def test_it_fails_every_call_of_a_region_in_an_outage(aws):
    aws.set_fault("outage", region="eu-west-1")

    with pytest.raises(ClientError) as raised:
        aws.client("ec2", "eu-west-1", config=NO_RETRIES).describe_regions()

    assert raised.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert aws.client("ec2", "us-west-2").describe_images(Owners=["self"])["Images"] == []


def test_it_drops_the_connection_in_a_connection_level_outage(aws):
    aws.set_fault("outage", region="eu-west-1", mode="connection")
    ec2 = aws.client("ec2", "eu-west-1", config=NO_RETRIES)

    with pytest.raises((EndpointConnectionError, ConnectionClosedError)):
        ec2.describe_images(Owners=["self"])

    assert aws.calls(region="eu-west-1")[-1]["fault"] == "outage"
    assert aws.client("ec2", "us-east-1").describe_images(Owners=["self"])["Images"] == []


def test_it_adds_latency_and_still_answers(aws):
    fault = aws.set_fault("latency", seconds=0.05, action="DescribeImages")

    assert aws.client("ec2").describe_images(Owners=["self"])["Images"] == []

    (active,) = aws.faults()
    assert active["id"] == fault["id"]
    assert active["hits"] == 1
    assert aws.calls(action="DescribeImages")[-1]["fault"] is None  # moto answered it


def test_it_denies_assume_role_into_a_denied_account(aws):
    aws.set_fault("deny", account_id=MEMBER, scope="assume_role")
    sts = aws.client("sts")

    with pytest.raises(ClientError) as raised:
        sts.assume_role(
            RoleArn=f"arn:aws:iam::{MEMBER}:role/AmidashReadOnly", RoleSessionName="amidash"
        )

    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    other = sts.assume_role(
        RoleArn="arn:aws:iam::345678901234:role/AmidashReadOnly", RoleSessionName="amidash"
    )
    assert other["AssumedRoleUser"]["Arn"].startswith("arn:aws:sts::345678901234:")
    # scope "assume_role" leaves the account's own calls alone
    assert aws.client("ec2", account_id=MEMBER).describe_images(Owners=["self"])["Images"] == []


def test_it_answers_unauthorized_operation_for_a_denied_accounts_calls(aws):
    aws.set_fault("deny", account_id=MEMBER, scope="calls")

    with pytest.raises(ClientError) as ec2_error:
        aws.client("ec2", account_id=MEMBER).describe_images(Owners=["self"])
    with pytest.raises(ClientError) as autoscaling_error:
        aws.client("autoscaling", account_id=MEMBER).describe_auto_scaling_groups()

    assert ec2_error.value.response["Error"]["Code"] == "UnauthorizedOperation"
    assert autoscaling_error.value.response["Error"]["Code"] == "AccessDenied"
    assert aws.client("ec2").describe_images(Owners=["self"])["Images"] == []


def test_a_denial_narrowed_to_a_service_denies_only_its_calls(aws):
    """A role without one permission: only that service's calls are refused."""
    aws.set_fault("deny", account_id=MEMBER, service="cloudtrail")

    with pytest.raises(ClientError) as raised:
        aws.client("cloudtrail", account_id=MEMBER).lookup_events()

    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    assert aws.client("ec2", account_id=MEMBER).describe_images(Owners=["self"])["Images"] == []
    sts = aws.client("sts")
    role = f"arn:aws:iam::{MEMBER}:role/AmidashReadOnly"
    assert sts.assume_role(RoleArn=role, RoleSessionName="amidash")["Credentials"]


def test_it_answers_a_malformed_body_that_botocore_cannot_parse(aws):
    aws.set_fault("malformed", action="DescribeImages")

    with pytest.raises(ResponseParserError):
        aws.client("ec2", config=NO_RETRIES).describe_images(Owners=["self"])


def test_it_stops_faulting_once_faults_are_cleared(aws):
    aws.set_fault("throttle")
    aws.set_fault("outage", region="us-east-1")
    aws.clear_faults()

    assert aws.faults() == []
    assert aws.client("ec2").describe_images(Owners=["self"])["Images"] == []


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("flood", {}, "unknown fault 'flood'"),
        ("throttle", {"share": 1.5}, "share must be a number from 0 to 1"),
        ("outage", {}, "an outage needs a region"),
        ("deny", {}, "deny needs an account_id"),
        ("throttle", {"colour": "red"}, "unknown fault option(s): colour"),
    ],
)
def test_it_refuses_a_fault_it_cannot_apply(aws, kind, options, message):
    with pytest.raises(SandboxControlError, match=message.replace("(", r"\(").replace(")", r"\)")):
        aws.set_fault(kind, **options)

    assert aws.faults() == []


def test_it_logs_every_call_with_its_account_region_and_key_parameters(aws):
    ec2 = aws.client("ec2", "eu-west-1", account_id=MEMBER)
    image_id = ec2.register_image(
        Name="app-v1",
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
    )["ImageId"]
    ec2.deregister_image(ImageId=image_id)

    (deregistration,) = aws.calls(action="DeregisterImage")
    assert deregistration["service"] == "ec2"
    assert deregistration["account_id"] == MEMBER
    assert deregistration["region"] == "eu-west-1"
    assert deregistration["params"]["ImageId"] == image_id
    assert deregistration["fault"] is None
    assert [call["action"] for call in aws.calls(account_id=MEMBER)] == [
        "RegisterImage",
        "DeregisterImage",
    ]
    assert aws.calls(region="us-east-1") == []


def test_it_lets_a_denial_win_over_throttling_of_the_same_call(aws):
    aws.set_fault("throttle")
    aws.set_fault("deny", account_id=MEMBER)

    with pytest.raises(ClientError) as raised:
        aws.client("ec2", account_id=MEMBER, config=NO_RETRIES).describe_images(Owners=["self"])

    assert raised.value.response["Error"]["Code"] == "UnauthorizedOperation"
    assert aws.calls(account_id=MEMBER)[-1]["fault"] == "deny"
