"""DescribeRegions as the aws partition answers it, with Regions an account has not opted in to.

moto lists cn-* and us-gov-* Regions and ignores AllRegions; AWS does neither. Here only the aws
partition exists; Regions launched after March 2019 need opting in, and the sandbox's accounts
have opted in to some of them only. EC2 calls in a Region that is not opted in fail with
AuthFailure, as they do on AWS.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError

from amidash.sandbox.extensions.common import boolean, invalid_parameter

NOT_OPTED_IN = frozenset(
    {
        "af-south-1",
        "ap-east-1",
        "ap-east-2",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ca-west-1",
        "eu-south-1",
        "eu-south-2",
        "il-central-1",
        "me-central-1",
        "me-south-1",
        "mx-central-1",
    }
)
OPTED_IN = frozenset({"ap-south-2", "ap-southeast-3", "eu-central-2"})
ENABLED_STATUSES = ("opt-in-not-required", "opted-in")


@cache
def partition_regions() -> tuple[str, ...]:
    """Every commercial (aws partition) Region botocore knows for EC2."""
    return tuple(sorted(boto3.session.Session().get_available_regions("ec2", partition_name="aws")))


def opt_in_status(region: str) -> str:
    if region in NOT_OPTED_IN:
        return "not-opted-in"
    if region in OPTED_IN:
        return "opted-in"
    return "opt-in-not-required"


def region_record(region: str) -> dict[str, str]:
    return {
        "RegionName": region,
        "Endpoint": f"ec2.{region}.amazonaws.com",
        "OptInStatus": opt_in_status(region),
    }


def _matches(record: dict[str, str], filters: dict[str, Any]) -> bool:
    fields = {"region-name": "RegionName", "opt-in-status": "OptInStatus", "endpoint": "Endpoint"}
    for name, values in filters.items():
        if name in fields and record[fields[name]] not in values:
            return False
    return True


def describe_regions(self: Any) -> ActionResult:
    self.error_on_dryrun()
    known = partition_regions()
    names = self._get_param("RegionNames", [])
    unknown = [name for name in names if name not in known]
    if unknown:
        raise invalid_parameter(f"Invalid region names: {', '.join(unknown)}")
    every_region = boolean(self._get_param("AllRegions", False))
    records = [region_record(region) for region in (names or known)]
    if not names and not every_region:
        records = [r for r in records if r["OptInStatus"] in ENABLED_STATUSES]
    filters = self._filters_from_querystring()
    records = [r for r in records if _matches(r, filters)]
    return ActionResult({"Regions": records})


def refuse_disabled_regions(moto_call_action: Any) -> Any:
    """EC2 in a Region the account has not opted in to: AWS cannot validate the credentials.

    Installed under the fault hook, so such calls still reach the call log.
    """

    def call_action(self: Any) -> Any:
        if self.service_name == "ec2" and opt_in_status(self.region) == "not-opted-in":
            error = EC2ClientError(
                "AuthFailure", "AWS was not able to validate the provided access credentials"
            )
            _, headers, body = self.serialized(ActionResult(error))
            return 401, headers, body
        return moto_call_action(self)

    call_action._amidash_opt_in = True  # type: ignore[attr-defined]
    return call_action


def install() -> None:
    from moto.core.responses import BaseResponse
    from moto.ec2.responses.availability_zones_and_regions import AvailabilityZonesAndRegions

    AvailabilityZonesAndRegions.describe_regions = describe_regions
    if not getattr(BaseResponse.call_action, "_amidash_opt_in", False):
        BaseResponse.call_action = refuse_disabled_regions(BaseResponse.call_action)
