"""DescribeImageReferences: what in the caller's account and Region still uses given AMIs.

moto lacks the call (docs/architecture.md, AWS behaviours). Checked here: instances in any
state but terminated, launch template versions (the most recent `version-depth`, default 20)
and SSM parameters whose value is the image (the most recent `version-depth` versions, default
20). Image Builder recipes are not modelled. Answers are paginated like every EC2 listing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError, MalformedAMIIdError

from amidash.sandbox.extensions.common import boolean, missing_parameter, region_exists
from amidash.sandbox.extensions.pagination import PageLimits, read_page_request, take_page

INSTANCE = "ec2:Instance"
LAUNCH_TEMPLATE = "ec2:LaunchTemplate"
SSM_PARAMETER = "ssm:Parameter"
SUPPORTED = (INSTANCE, LAUNCH_TEMPLATE, SSM_PARAMETER)
DEFAULT_VERSION_DEPTH = 20
REFERENCES_PAGE = PageLimits(5, 1000)


def _version_depth(options: list[dict[str, Any]]) -> int:
    for option in options or []:
        if option.get("OptionName") == "version-depth" and option.get("OptionValues"):
            return max(1, int(option["OptionValues"][0]))
    return DEFAULT_VERSION_DEPTH


def requested_types(include_all: bool, resource_types: list[dict[str, Any]]) -> dict[str, int]:
    """Resource type -> version depth, from IncludeAllResourceTypes and ResourceTypes."""
    if not include_all and not resource_types:
        raise EC2ClientError(
            "InvalidParameterCombination",
            "Either IncludeAllResourceTypes or ResourceTypes must be specified.",
        )
    chosen = dict.fromkeys(SUPPORTED, DEFAULT_VERSION_DEPTH) if include_all else {}
    for entry in resource_types or []:
        chosen[entry["ResourceType"]] = _version_depth(entry.get("ResourceTypeOptions", []))
    return chosen


def instance_references(backend: Any, image_ids: set[str]) -> Iterator[dict[str, str]]:
    for reservation in list(backend.reservations.values()):
        for instance in reservation.instances:
            if instance.image_id in image_ids and instance.state != "terminated":
                yield _reference(
                    instance.image_id,
                    INSTANCE,
                    f"arn:aws:ec2:{backend.region_name}:{backend.account_id}:instance/{instance.id}",
                )


def launch_template_references(
    backend: Any, image_ids: set[str], depth: int
) -> Iterator[dict[str, str]]:
    for template in list(backend.launch_templates.values()):
        arn = (
            f"arn:aws:ec2:{backend.region_name}:{backend.account_id}:launch-template/{template.id}"
        )
        used = {version.image_id for version in template.versions[-depth:]}
        for image_id in sorted(used & image_ids):
            yield _reference(image_id, LAUNCH_TEMPLATE, arn)


def ssm_parameter_references(
    account_id: str, region: str, image_ids: set[str], depth: int
) -> Iterator[dict[str, str]]:
    from moto.ssm.models import ssm_backends

    per_account = ssm_backends[account_id]
    if not region_exists(per_account, region):
        return
    # dict.items: moto's ParameterDict would otherwise load AWS's public parameters.
    for name, versions in list(dict.items(per_account[region]._parameters)):
        used = {parameter.value for parameter in versions[-depth:]}
        path = name if name.startswith("/") else f"/{name}"
        for image_id in sorted(used & image_ids):
            yield _reference(
                image_id, SSM_PARAMETER, f"arn:aws:ssm:{region}:{account_id}:parameter{path}"
            )


def _reference(image_id: str, resource_type: str, arn: str) -> dict[str, str]:
    return {"ImageId": image_id, "ResourceType": resource_type, "Arn": arn}


def find_references(
    backend: Any, image_ids: set[str], types: dict[str, int]
) -> list[dict[str, str]]:
    references: list[dict[str, str]] = []
    if INSTANCE in types:
        references.extend(instance_references(backend, image_ids))
    if LAUNCH_TEMPLATE in types:
        references.extend(launch_template_references(backend, image_ids, types[LAUNCH_TEMPLATE]))
    if SSM_PARAMETER in types:
        references.extend(
            ssm_parameter_references(
                backend.account_id, backend.region_name, image_ids, types[SSM_PARAMETER]
            )
        )
    return references


def describe_image_references(self: Any) -> ActionResult:
    self.error_on_dryrun()
    request = read_page_request(self.params, "DescribeImageReferences", REFERENCES_PAGE)
    image_ids = self._get_param("ImageIds", [])
    if not image_ids:
        raise missing_parameter("ImageIds")
    malformed = [image_id for image_id in image_ids if not image_id.startswith("ami-")]
    if malformed:
        raise MalformedAMIIdError(malformed)
    types = requested_types(
        boolean(self._get_param("IncludeAllResourceTypes", False)),
        self._get_param("ResourceTypes", []),
    )
    references = find_references(self.ec2_backend, set(image_ids), types)
    page, token = take_page(
        references, lambda reference: f"{reference['ImageId']}|{reference['Arn']}", request
    )
    return ActionResult({"ImageReferences": page, "NextToken": token})


def install() -> None:
    from moto.ec2.responses.amis import AmisResponse

    AmisResponse.describe_image_references = describe_image_references
