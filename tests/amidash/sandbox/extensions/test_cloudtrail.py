"""Conformance: CloudTrail management events of EC2 mutations and LookupEvents, as the CloudTrail
API reference describes them (docs/architecture.md, AWS behaviours).

Every test talks to the sandbox through boto3 only, so it runs in-process and against the server.
"""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.amidash.sandbox.extensions.test_images import advance, register, sandbox_now

MEMBER = "210987654321"
ROLE_ARN = f"arn:aws:iam::{MEMBER}:role/image-admin"


def lookup(aws, account_id=None, region="us-east-1", **params):
    return aws.client("cloudtrail", region=region, account_id=account_id).lookup_events(**params)


def by_image(image_id: str) -> list[dict]:
    return [{"AttributeKey": "ResourceName", "AttributeValue": image_id}]


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def session_of(credentials: dict) -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials.get("SessionToken"),
    )


def test_an_image_mutation_is_a_management_event_with_every_field(aws):
    """LookupEvents: each event has EventId, EventName, ReadOnly, AccessKeyId, EventTime,
    EventSource, Username, Resources and CloudTrailEvent, the event's JSON with userIdentity,
    eventTime, eventSource, sourceIPAddress and requestParameters."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "web-1")
    before = sandbox_now(aws).replace(microsecond=0)
    ec2.disable_image(ImageId=image_id)

    events = lookup(aws, LookupAttributes=by_image(image_id))["Events"]

    disabled = [event for event in events if event["EventName"] == "DisableImage"]
    assert len(disabled) == 1
    event = disabled[0]
    assert event["EventId"] and event["ReadOnly"] == "false"
    assert event["EventSource"] == "ec2.amazonaws.com"
    assert event["AccessKeyId"] and event["Username"] == "root"
    assert event["EventTime"] >= before
    assert {"ResourceType": "AWS::EC2::Ami", "ResourceName": image_id} in event["Resources"]
    detail = json.loads(event["CloudTrailEvent"])
    assert detail["eventName"] == "DisableImage"
    assert detail["eventID"] == event["EventId"]
    assert detail["userIdentity"]["type"] == "Root"
    assert detail["userIdentity"]["accountId"] == "123456789012"
    assert detail["requestParameters"] == {"imageId": image_id}
    assert detail["sourceIPAddress"] and detail["eventTime"].endswith("Z")
    assert detail["awsRegion"] == "us-east-1"


def test_reads_and_failed_calls_are_not_recorded(aws):
    """Management events of the sandbox: successful EC2 mutations only (no Describe*, no
    answer that was an error)."""
    ec2 = aws.client("ec2")
    image_id = register(ec2, "web-1")
    ec2.describe_images(ImageIds=[image_id])
    with pytest.raises(ClientError):
        ec2.deregister_image(ImageId="ami-0123456789abcdef0")

    names = [event["EventName"] for event in lookup(aws)["Events"]]

    assert names == ["RegisterImage"]


def test_an_assumed_role_session_names_its_role_and_source_identity(aws):
    """userIdentity of an assumed role: type AssumedRole, the session ARN, the role as
    sessionContext.sessionIssuer and sessionContext.sourceIdentity; Username is the session."""
    credentials = aws.client("sts").assume_role(
        RoleArn=ROLE_ARN, RoleSessionName="amidash-ada", SourceIdentity="ada"
    )["Credentials"]
    ec2 = aws.client("ec2", session=session_of(credentials))
    image_id = register(ec2, "web-1")
    ec2.enable_image_deprecation(
        ImageId=image_id, DeprecateAt=sandbox_now(aws) + timedelta(days=30)
    )

    events = lookup(
        aws,
        account_id=MEMBER,
        LookupAttributes=[
            {"AttributeKey": "EventName", "AttributeValue": "EnableImageDeprecation"}
        ],
    )["Events"]

    assert [event["Username"] for event in events] == ["amidash-ada"]
    identity = json.loads(events[0]["CloudTrailEvent"])["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["arn"] == f"arn:aws:sts::{MEMBER}:assumed-role/image-admin/amidash-ada"
    assert identity["accessKeyId"] == credentials["AccessKeyId"]
    assert identity["sessionContext"]["sessionIssuer"]["arn"] == ROLE_ARN
    assert identity["sessionContext"]["sourceIdentity"] == "ada"
    assert lookup(aws)["Events"] == []  # recorded in the account acted in, not the caller's


def test_an_iam_user_is_named_by_its_user_name_and_source_address(aws):
    """userIdentity of an IAM user's access key: type IAMUser, userName; Username is the user.
    The sandbox takes the source address from X-Forwarded-For."""
    iam = aws.client("iam", account_id=MEMBER)
    iam.create_user(UserName="jordan.ops")
    key = iam.create_access_key(UserName="jordan.ops")["AccessKey"]
    ec2 = aws.client("ec2", session=session_of(key))
    ec2.meta.events.register_first(
        "before-sign.*.*",
        lambda request, **_: request.headers.__setitem__("X-Forwarded-For", "198.51.100.23"),
    )
    image_id = register(ec2, "web-1")

    event = lookup(
        aws,
        account_id=MEMBER,
        LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "jordan.ops"}],
    )["Events"][0]

    assert event["Resources"] == [{"ResourceType": "AWS::EC2::Ami", "ResourceName": image_id}]
    detail = json.loads(event["CloudTrailEvent"])
    assert detail["userIdentity"]["type"] == "IAMUser"
    assert detail["userIdentity"]["userName"] == "jordan.ops"
    assert detail["userIdentity"]["arn"] == f"arn:aws:iam::{MEMBER}:user/jordan.ops"
    assert detail["sourceIPAddress"] == "198.51.100.23"


def test_each_lookup_attribute_key_narrows_the_events(aws):
    """LookupAttributes: AttributeKey EventId, EventName, ReadOnly, Username, ResourceType,
    ResourceName, EventSource or AccessKeyId."""
    ec2 = aws.client("ec2")
    first, second = register(ec2, "web-1"), register(ec2, "web-2")
    ec2.disable_image(ImageId=first)
    newest = lookup(aws)["Events"][0]

    def names(key: str, value: str) -> list[str]:
        found = lookup(aws, LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}])
        return [event["EventName"] for event in found["Events"]]

    assert names("EventId", newest["EventId"]) == ["DisableImage"]
    assert names("EventName", "RegisterImage") == ["RegisterImage", "RegisterImage"]
    assert names("ReadOnly", "false") == ["DisableImage", "RegisterImage", "RegisterImage"]
    assert names("ReadOnly", "true") == []
    assert names("Username", "root") == ["DisableImage", "RegisterImage", "RegisterImage"]
    assert names("ResourceType", "AWS::EC2::Ami") == [
        "DisableImage",
        "RegisterImage",
        "RegisterImage",
    ]
    assert names("ResourceName", second) == ["RegisterImage"]
    assert names("EventSource", "ec2.amazonaws.com") == [
        "DisableImage",
        "RegisterImage",
        "RegisterImage",
    ]
    assert names("AccessKeyId", newest["AccessKeyId"]) == [
        "DisableImage",
        "RegisterImage",
        "RegisterImage",
    ]
    assert names("AccessKeyId", "AKIAOTHEROTHEROTHER0") == []


@pytest.mark.parametrize(
    "attributes",
    [
        [
            {"AttributeKey": "EventName", "AttributeValue": "DisableImage"},
            {"AttributeKey": "Username", "AttributeValue": "root"},
        ],
        [{"AttributeKey": "ImageId", "AttributeValue": "ami-0123456789abcdef0"}],
    ],
    ids=["two attributes", "unknown key"],
)
def test_it_refuses_anything_but_one_known_lookup_attribute(aws, attributes):
    """LookupEvents: LookupAttributes holds at most one attribute, of a documented key, else
    InvalidLookupAttributesException."""
    with pytest.raises(ClientError) as excinfo:
        lookup(aws, LookupAttributes=attributes)

    assert error_code(excinfo) == "InvalidLookupAttributesException"


def test_it_returns_events_of_the_time_range_newest_first(aws):
    """LookupEvents: StartTime and EndTime (inclusive) bound the events; newest first; a start
    after the end is InvalidTimeRangeException."""
    ec2 = aws.client("ec2")
    register(ec2, "web-1")
    advance(aws, 3600)
    middle = sandbox_now(aws)
    advance(aws, 3600)
    register(ec2, "web-2")
    advance(aws, 3600)
    register(ec2, "web-3")

    every = lookup(aws)["Events"]
    since = lookup(aws, StartTime=middle)["Events"]
    until = lookup(aws, EndTime=middle)["Events"]

    times = [event["EventTime"] for event in every]
    assert times == sorted(times, reverse=True) and len(times) == 3
    assert [e["EventId"] for e in since] == [e["EventId"] for e in every[:2]]
    assert [e["EventId"] for e in until] == [every[2]["EventId"]]
    with pytest.raises(ClientError) as excinfo:
        lookup(aws, StartTime=middle, EndTime=middle - timedelta(hours=1))
    assert error_code(excinfo) == "InvalidTimeRangeException"


def test_it_pages_with_max_results_and_next_token(aws):
    """LookupEvents: MaxResults 1 to 50 (default and most 50), NextToken to read the next page;
    a token with other parameters is InvalidNextTokenException."""
    ec2 = aws.client("ec2")
    for number in range(5):
        register(ec2, f"web-{number}")

    seen, token, pages = [], None, 0
    while True:
        page = lookup(aws, MaxResults=2, **({"NextToken": token} if token else {}))
        seen += [event["EventId"] for event in page["Events"]]
        pages += 1
        token = page.get("NextToken")
        if not token:
            break

    assert pages == 3 and len(set(seen)) == 5
    assert seen == [event["EventId"] for event in lookup(aws)["Events"]]
    first = lookup(aws, MaxResults=2)
    for wrong in ({"MaxResults": 3}, {"LookupAttributes": by_image("ami-0123456789abcdef0")}):
        with pytest.raises(ClientError) as excinfo:
            lookup(aws, NextToken=first["NextToken"], **{"MaxResults": 2, **wrong})
        assert error_code(excinfo) == "InvalidNextTokenException"
    with pytest.raises(ClientError) as excinfo:
        lookup(aws, NextToken="not-a-token")
    assert error_code(excinfo) == "InvalidNextTokenException"
    with pytest.raises(ClientError) as excinfo:
        lookup(aws, MaxResults=51)
    assert error_code(excinfo) == "InvalidMaxResultsException"


def test_events_older_than_ninety_days_are_not_returned(aws):
    """LookupEvents: only the last 90 days of management events can be looked up."""
    ec2 = aws.client("ec2")
    old = register(ec2, "web-old")
    advance(aws, 60 * 86400)
    recent = register(ec2, "web-recent")
    advance(aws, 31 * 86400)

    found = lookup(aws)["Events"]

    assert [event["Resources"][0]["ResourceName"] for event in found] == [recent]
    assert lookup(aws, LookupAttributes=by_image(old))["Events"] == []


def test_events_are_kept_per_account_and_region(aws):
    """CloudTrail records an event in the account and Region of the call."""
    register(aws.client("ec2", region="eu-west-1"), "web-1")

    assert len(lookup(aws, region="eu-west-1")["Events"]) == 1
    assert lookup(aws, region="us-east-1")["Events"] == []
    assert lookup(aws, account_id=MEMBER, region="eu-west-1")["Events"] == []


def test_a_throttled_mutation_is_not_recorded(aws):
    """A call answered by an injected fault never reached EC2, so CloudTrail has no event."""
    ec2 = aws.client("ec2", config=botocore_no_retries())
    aws.set_fault("throttle", action="RegisterImage")
    with pytest.raises(ClientError):
        register(ec2, "web-1")

    assert lookup(aws)["Events"] == []


def botocore_no_retries():
    from botocore.config import Config

    return Config(retries={"total_max_attempts": 1, "mode": "standard"})
