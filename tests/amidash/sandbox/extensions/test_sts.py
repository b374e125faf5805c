"""Conformance: STS AssumeRole (docs/architecture.md, AWS behaviours): sessions 15 min to
12 h, role chaining capped at 1 h, ExternalId, SourceIdentity."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

MEMBER = "210987654321"
ROLE_ARN = f"arn:aws:iam::{MEMBER}:role/amidash-read"


@pytest.fixture
def role(aws) -> str:
    """A role in the member account that the default account may assume with an ExternalId."""
    caller = aws.client("sts").get_caller_identity()["Account"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{caller}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "amidash-ext"}},
            }
        ],
    }
    aws.client("iam", account_id=MEMBER).create_role(
        RoleName="amidash-read",
        AssumeRolePolicyDocument=json.dumps(trust),
        MaxSessionDuration=7200,
    )
    return ROLE_ARN


def assume(aws, client=None, **params):
    sts = client or aws.client("sts")
    defaults = {"RoleArn": ROLE_ARN, "RoleSessionName": "amidash-test"}
    return sts.assume_role(**(defaults | params))


def test_it_requires_the_external_id_of_the_trust_policy(aws, role):
    """STS AssumeRole: use ExternalId (a trust policy condition on it is enforced)."""
    for wrong in ({}, {"ExternalId": "guess"}):
        with pytest.raises(ClientError) as excinfo:
            assume(aws, **wrong)
        assert excinfo.value.response["Error"]["Code"] == "AccessDenied"

    answer = assume(aws, ExternalId="amidash-ext", SourceIdentity="ada")

    assert answer["AssumedRoleUser"]["Arn"].startswith(f"arn:aws:sts::{MEMBER}:assumed-role/")
    assert answer["SourceIdentity"] == "ada"


def test_it_limits_sessions_to_the_role_maximum_and_twelve_hours(aws, role):
    """STS AssumeRole: sessions 15 min to 12 h (and at most the role's MaxSessionDuration)."""
    with pytest.raises(ClientError) as excinfo:
        assume(aws, ExternalId="amidash-ext", DurationSeconds=3 * 3600)

    assert excinfo.value.response["Error"]["Code"] == "ValidationError"
    assert assume(aws, ExternalId="amidash-ext", DurationSeconds=7200)["Credentials"]


def test_it_caps_role_chaining_at_one_hour(aws, role):
    """STS AssumeRole: role chaining capped at 1 h."""
    credentials = assume(aws, ExternalId="amidash-ext")["Credentials"]
    chained = boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    sts = aws.client("sts", session=chained)
    target = f"arn:aws:iam::{MEMBER}:role/next"

    with pytest.raises(ClientError) as excinfo:
        assume(aws, client=sts, RoleArn=target, DurationSeconds=7200)

    assert excinfo.value.response["Error"]["Code"] == "ValidationError"
    assert assume(aws, client=sts, RoleArn=target, DurationSeconds=3600)["Credentials"]
