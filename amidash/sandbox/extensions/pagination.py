"""Real pagination (MaxResults / NextToken) for the listing calls amidash depends on.

moto never paginates DescribeImages and silently truncates DescribeLaunchTemplates and
DescribeLaunchTemplateVersions at 15 results; AWS pages them all. Here every listing returns either
everything or a page plus a NextToken, never less than asked without saying so. Pages are keyed
by the last item returned (not an offset), so deleting items between pages skips nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from moto.autoscaling.exceptions import AutoscalingClientError
from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError

from amidash.sandbox.extensions.common import invalid_parameter

ErrorFactory = Callable[[str, str], Exception]


def ec2_error(kind: str, message: str) -> Exception:
    if kind == "token":
        return EC2ClientError("InvalidPaginationToken", message)
    return invalid_parameter(message)


def autoscaling_error(kind: str, message: str) -> Exception:
    if kind == "token":
        return AutoscalingClientError("InvalidNextToken", message)
    return AutoscalingClientError("ValidationError", message)


@dataclass(frozen=True)
class PageLimits:
    """How an operation pages: the documented MaxResults range and its default page size.

    `default=None` means a request without MaxResults is answered unpaginated (all items), as
    EC2 does for DescribeImages, DescribeInstances and DescribeSnapshots.
    """

    minimum: int
    maximum: int
    default: int | None = None
    size_parameter: str = "MaxResults"
    token_parameter: str = "NextToken"
    error: ErrorFactory = ec2_error


@dataclass(frozen=True)
class PageRequest:
    operation: str
    size: int | None
    after: str | None


EC2_DESCRIBE = PageLimits(5, 1000)
EC2_LAUNCH_TEMPLATES = PageLimits(1, 200)
EC2_RECYCLE_BIN = PageLimits(1, 1000)
AUTOSCALING = PageLimits(
    1,
    100,
    default=50,
    size_parameter="MaxRecords",
    error=autoscaling_error,
)


def read_page_request(params: Any, operation: str, limits: PageLimits) -> PageRequest:
    """Validate MaxResults and NextToken of a request as AWS does."""
    raw_size = params.get(limits.size_parameter)
    size = limits.default
    if raw_size is not None and raw_size != "":
        try:
            size = int(raw_size)
        except (TypeError, ValueError):
            raise limits.error("size", f"Invalid value '{raw_size}' for maxResults.") from None
        if not limits.minimum <= size <= limits.maximum:
            raise limits.error(
                "size",
                f"Value ( {size} ) for parameter maxResults is invalid. "
                f"Expecting a value between {limits.minimum} and {limits.maximum}.",
            )
    token = params.get(limits.token_parameter)
    after = decode_token(token, operation, limits) if token else None
    return PageRequest(operation=operation, size=size, after=after)


def encode_token(operation: str, after: str) -> str:
    payload = json.dumps({"op": operation, "after": after}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode()


def decode_token(token: str, operation: str, limits: PageLimits) -> str:
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.encode()))
        if payload["op"] != operation:
            raise ValueError("token of another operation")
        return str(payload["after"])
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise limits.error(
            "token", f"The specified pagination token '{token}' is not valid or is expired."
        ) from None


def take_page(
    items: Sequence[Any], key: Callable[[Any], str], request: PageRequest
) -> tuple[list[Any], str | None]:
    """Items sorted by key, those after the token's key, at most `size` of them, and the token."""
    keyed = sorted(((key(item), item) for item in items), key=lambda pair: pair[0])
    if request.after is not None:
        keyed = keyed[bisect_right(keyed, request.after, key=lambda pair: pair[0]) :]
    if request.size is None or len(keyed) <= request.size:
        return [item for _, item in keyed], None
    page = keyed[: request.size]
    return [item for _, item in page], encode_token(request.operation, page[-1][0])


def attribute_key(name: str) -> Callable[[Any], str]:
    def key(item: Any) -> str:
        return str(item[name] if isinstance(item, dict) else getattr(item, name))

    return key


def _version_key(item: dict[str, Any]) -> str:
    return f"{item['LaunchTemplateId']}:{int(item['VersionNumber']):012d}"


def paginate_listing(
    response_class: type,
    method_name: str,
    operation: str,
    list_key: str,
    key: Callable[[Any], str],
    limits: PageLimits,
) -> None:
    """Replace a moto listing response by one that lists everything, then pages it properly."""
    original = getattr(response_class, method_name)
    if getattr(original, "_amidash_paginated", False):
        return

    def paginated(self: Any) -> ActionResult:
        request = read_page_request(self.params, operation, limits)
        self.params.pop(limits.token_parameter, None)
        # moto applies its own (truncating) page size when none is given: ask it for everything.
        self.params[limits.size_parameter] = 1_000_000_000
        result = original(self)
        body = result.result
        body[list_key], body[limits.token_parameter] = take_page(body[list_key], key, request)
        return result

    paginated._amidash_paginated = True  # type: ignore[attr-defined]
    paginated.__name__ = method_name
    setattr(response_class, method_name, paginated)


def describe_snapshots(self: Any) -> ActionResult:
    """DescribeSnapshots honouring OwnerIds ('self', account ids) and paginating."""
    request = read_page_request(self.params, "DescribeSnapshots", EC2_DESCRIBE)
    snapshot_ids = self._get_param("SnapshotIds", [])
    if snapshot_ids and request.size is not None:
        raise EC2ClientError(
            "InvalidParameterCombination",
            "The parameter snapshotSet cannot be used with the parameter maxResults",
        )
    owners = {
        self.current_account if owner == "self" else owner
        for owner in self._get_param("OwnerIds", [])
    }
    snapshots = self.ec2_backend.describe_snapshots(
        snapshot_ids=snapshot_ids, filters=self._filters_from_querystring()
    )
    if owners:
        snapshots = [snapshot for snapshot in snapshots if snapshot.owner_id in owners]
    page, token = take_page(snapshots, attribute_key("id"), request)
    return ActionResult({"Snapshots": page, "NextToken": token})


def describe_auto_scaling_groups(self: Any) -> ActionResult:
    request = read_page_request(self.params, "DescribeAutoScalingGroups", AUTOSCALING)
    groups = self.autoscaling_backend.describe_auto_scaling_groups(
        self._get_param("AutoScalingGroupNames", []), filters=self._get_param("Filters", [])
    )
    page, token = take_page(groups, attribute_key("name"), request)
    return ActionResult({"AutoScalingGroups": page, "NextToken": token})


def describe_launch_configurations(self: Any) -> ActionResult:
    request = read_page_request(self.params, "DescribeLaunchConfigurations", AUTOSCALING)
    configurations = self.autoscaling_backend.describe_launch_configurations(
        self._get_param("LaunchConfigurationNames", [])
    )
    page, token = take_page(configurations, attribute_key("name"), request)
    return ActionResult({"LaunchConfigurations": page, "NextToken": token})


def install() -> None:
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.ec2.responses.elastic_block_store import ElasticBlockStore
    from moto.ec2.responses.instances import InstanceResponse
    from moto.ec2.responses.launch_templates import LaunchTemplates

    paginate_listing(
        InstanceResponse,
        "describe_instances",
        "DescribeInstances",
        "Reservations",
        attribute_key("id"),
        EC2_DESCRIBE,
    )
    paginate_listing(
        LaunchTemplates,
        "describe_launch_templates",
        "DescribeLaunchTemplates",
        "LaunchTemplates",
        attribute_key("LaunchTemplateId"),
        EC2_LAUNCH_TEMPLATES,
    )
    paginate_listing(
        LaunchTemplates,
        "describe_launch_template_versions",
        "DescribeLaunchTemplateVersions",
        "LaunchTemplateVersions",
        _version_key,
        EC2_LAUNCH_TEMPLATES,
    )
    ElasticBlockStore.describe_snapshots = describe_snapshots
    AutoScalingResponse.describe_auto_scaling_groups = describe_auto_scaling_groups
    AutoScalingResponse.describe_launch_configurations = describe_launch_configurations
