"""What every extension module shares: AWS time formats, EC2 errors and backend look-ups."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from moto.ec2.exceptions import EC2ClientError


def aws_timestamp(moment: datetime | None) -> str | None:
    """Format a moment the way EC2 reports times in strings (DeprecationTime, LastLaunchedTime)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def parse_timestamp(value: Any) -> datetime:
    """A request timestamp (botocore sends ISO 8601; moto may already have parsed it) in UTC."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip().replace("Z", "+00:00")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise invalid_parameter(f"The timestamp '{value}' is not valid.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def invalid_parameter(message: str) -> EC2ClientError:
    return EC2ClientError("InvalidParameterValue", message)


def missing_parameter(name: str) -> EC2ClientError:
    return EC2ClientError("MissingParameter", f"The request must contain the parameter {name}")


def boolean(value: Any) -> bool:
    """A boolean request parameter as moto hands it over (bool, or 'true'/'false')."""
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def ec2_backend(account_id: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region]


def existing_ec2_backends(region: str) -> Iterator[tuple[str, Any]]:
    """(account id, backend) of every account that already has EC2 state in this Region.

    Never creates a backend: an account that has done nothing in the Region owns nothing there.
    """
    from moto.ec2.models import ec2_backends

    for account_id, per_region in list(ec2_backends.items()):
        if region_exists(per_region, region):
            yield account_id, per_region[region]


def region_exists(per_account: Any, region: str) -> bool:
    """Has this account's backend for the Region (or this account, in a BackendDict) been
    created yet?

    moto's `region in backends` is true for every known Region; asking would not create it,
    but indexing would, so look at what exists.
    """
    return dict.__contains__(per_account, region)


def resource_tags(resource: Any) -> dict[str, str]:
    """An EC2 resource's tags as a plain mapping (moto's get_tags() is DescribeTags-shaped)."""
    return dict(resource.ec2_backend.tags.get(resource.id, {}))
