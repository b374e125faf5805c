"""Changes made outside amidash: what engineers of the demo estate's accounts do by hand.

After the demo's first sync, two people change images directly through the EC2 API, as they
would in the console or with the CLI, so the next sync observes changes amidash did not make and
the sandbox's CloudTrail names who made them:

- ``jordan.ops``, an IAM user of the prod account (from 198.51.100.23), disables one unused image
  and deregisters another in us-east-1;
- ``alex.platform``, an IAM user of the management account, assumes the ``PlatformEngineer``
  role of the shared-services account with ``SourceIdentity`` ``alex.platform`` (from
  203.0.113.40), deprecates an unused golden image a year ahead and re-enables a disabled one in
  us-east-1.

The images are chosen from the estate deterministically (same seed, same images). A restarted
demo regenerates its estate and replays the same changes with ``at``, the time they were first
made: their CloudTrail events keep that time, so the estate and its trail look as they did
before the restart and the sync after it finds nothing new.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from amidash.sandbox import clock
from amidash.sandbox.estate import MANAGEMENT_ACCOUNT_ID, PROD, SHARED_SERVICES, local_client
from amidash.sandbox.extensions import cloudtrail

REGION = "us-east-1"
OPERATOR = "jordan.ops"
OPERATOR_ADDRESS = "198.51.100.23"
ENGINEER = "alex.platform"
ENGINEER_ADDRESS = "203.0.113.40"
ENGINEER_ROLE = "PlatformEngineer"
DEPRECATE_AFTER = timedelta(days=365)


def make_outside_changes(at: datetime | None = None) -> dict[str, Any]:
    """Make the demo's outside changes through the API as their principals; returns what was
    done (``time`` and one entry per change). Their CloudTrail events carry that time: ``at``
    when given (a replay), else now."""
    when = (at or clock.now()).replace(microsecond=0)
    before = {
        account: len(cloudtrail.events_of(account, REGION)) for account in (PROD, SHARED_SERVICES)
    }
    changes: list[dict[str, str]] = []
    operator = _as_user(PROD, OPERATOR, OPERATOR_ADDRESS)
    unused = _unused_images(PROD)
    if len(unused) >= 2:
        operator.disable_image(ImageId=unused[0])
        operator.deregister_image(ImageId=unused[1])
        changes += [
            _change(OPERATOR, PROD, unused[0], "DisableImage"),
            _change(OPERATOR, PROD, unused[1], "DeregisterImage"),
        ]
    engineer = _as_role(SHARED_SERVICES, ENGINEER_ROLE, ENGINEER, ENGINEER_ADDRESS)
    golden = _unused_images(SHARED_SERVICES)
    if golden:
        engineer.enable_image_deprecation(
            ImageId=golden[0], DeprecateAt=(when + DEPRECATE_AFTER).replace(second=0)
        )
        changes.append(_change(ENGINEER, SHARED_SERVICES, golden[0], "EnableImageDeprecation"))
    disabled = _disabled_images(SHARED_SERVICES)
    if disabled:
        engineer.enable_image(ImageId=disabled[0])
        changes.append(_change(ENGINEER, SHARED_SERVICES, disabled[0], "EnableImage"))
    for account, count in before.items():  # one time for all, the same when replayed
        cloudtrail.backdate(account, REGION, count, when)
    return {"time": when.isoformat(), "changes": changes}


def _change(who: str, account_id: str, image_id: str, call: str) -> dict[str, str]:
    return {"principal": who, "account_id": account_id, "region": REGION, "image_id": image_id,
            "call": call}  # fmt: skip


def _from_address(client: Any, address: str) -> Any:
    client.meta.events.register_first(
        "before-sign.*.*",
        lambda request, **_: request.headers.__setitem__("X-Forwarded-For", address),
    )
    return client


def _user_session(account_id: str, user_name: str) -> Any:
    """A boto3 session with an access key of the IAM user (made once per estate)."""
    from amidash.boto import new_session

    iam = local_client("iam", REGION, account_id)
    try:
        iam.get_user(UserName=user_name)
    except iam.exceptions.NoSuchEntityException:
        iam.create_user(UserName=user_name)
    key = iam.create_access_key(UserName=user_name)["AccessKey"]
    return new_session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )


def _as_user(account_id: str, user_name: str, address: str) -> Any:
    session = _user_session(account_id, user_name)
    return _from_address(local_client("ec2", REGION, account_id, session), address)


def _as_role(account_id: str, role_name: str, user_name: str, address: str) -> Any:
    """EC2 in ``account_id`` through its role, assumed by a user of the management account."""
    from amidash.boto import new_session

    iam = local_client("iam", REGION, account_id)
    role_arn = f"arn:aws:iam::{account_id}:role/{role_name}"
    try:
        iam.get_role(RoleName=role_name)
    except iam.exceptions.NoSuchEntityException:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:root"},
                    "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
                }
            ],
        }
        iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))
    session = _user_session(MANAGEMENT_ACCOUNT_ID, user_name)
    sts = local_client("sts", REGION, MANAGEMENT_ACCOUNT_ID, session)
    credentials = sts.assume_role(
        RoleArn=role_arn, RoleSessionName=user_name, SourceIdentity=user_name
    )["Credentials"]
    assumed = new_session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    return _from_address(local_client("ec2", REGION, account_id, assumed), address)


def _images(account_id: str) -> list[Any]:
    from moto.ec2.models import ec2_backends

    return sorted(ec2_backends[account_id][REGION].amis.values(), key=lambda image: image.name)


def _in_use(account_id: str) -> set[str]:
    from moto.autoscaling.models import autoscaling_backends
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[account_id][REGION]
    used = {
        instance.image_id
        for reservation in backend.reservations.values()
        for instance in reservation.instances
        if instance._state.name != "terminated"
    }
    for template in backend.launch_templates.values():
        used.update(version.image_id for version in template.versions)
    scaling = autoscaling_backends[account_id][REGION]
    used.update(configuration.image_id for configuration in scaling.launch_configurations.values())
    return used


def _unused_images(account_id: str) -> list[str]:
    """Available images nothing uses, not deprecated, public, shared or protected."""
    used = _in_use(account_id)
    return [
        image.id
        for image in _images(account_id)
        if image.state == "available"
        and image.id not in used
        and getattr(image, "deprecate_at", None) is None
        and not image.is_public
        and not image.launch_permissions
        and not getattr(image, "protection_enabled", False)
    ]


def _disabled_images(account_id: str) -> list[str]:
    return [image.id for image in _images(account_id) if image.state == "disabled"]
