"""DescribeImageReferences: what in the caller's account and Region still uses given AMIs.

moto lacks the call (docs/architecture.md, AWS behaviours). Checked here: instances in any
state but terminated, launch template versions (the most recent `version-depth`, default 20)
SSM parameters whose value is the image (the most recent `version-depth` versions, default
20) and Image Builder image and container recipes whose parent image it is. moto has no Image
Builder: recipes live in a small store on the account+Region's EC2 backend, filled by
`add_image_recipe` (the estate, and tests through the sandbox handle). A call names 1 to 10
images (ImageId.N: "Minimum number of 1 item. Maximum number of 10 items."). Answers are
paginated like every EC2 listing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError, MalformedAMIIdError

from amidash.sandbox.extensions.common import (
    boolean,
    ec2_backend,
    invalid_parameter,
    missing_parameter,
    region_exists,
)
from amidash.sandbox.extensions.pagination import PageLimits, read_page_request, take_page

INSTANCE = "ec2:Instance"
LAUNCH_TEMPLATE = "ec2:LaunchTemplate"
SSM_PARAMETER = "ssm:Parameter"
IMAGE_RECIPE = "imagebuilder:ImageRecipe"
CONTAINER_RECIPE = "imagebuilder:ContainerRecipe"
SUPPORTED = (INSTANCE, LAUNCH_TEMPLATE, SSM_PARAMETER, IMAGE_RECIPE, CONTAINER_RECIPE)
RECIPE_KINDS = {IMAGE_RECIPE: "image-recipe", CONTAINER_RECIPE: "container-recipe"}
MAX_IMAGE_IDS = 10
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
        if entry.get("ResourceType") not in SUPPORTED:
            raise invalid_parameter(
                f"The resource type '{entry.get('ResourceType')}' is not supported. "
                f"Supported resource types: {' | '.join(SUPPORTED)}"
            )
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


def add_image_recipe(
    account_id: str,
    region: str,
    name: str,
    parent_image: str,
    version: str = "1.0.0",
    container: bool = False,
) -> str:
    """Record an Image Builder image (or container) recipe whose parent image is an AMI; returns
    its ARN. Image Builder is not simulated beyond what DescribeImageReferences reads."""
    kind = RECIPE_KINDS[CONTAINER_RECIPE if container else IMAGE_RECIPE]
    arn = f"arn:aws:imagebuilder:{region}:{account_id}:{kind}/{name.lower()}/{version}"
    recipes = _recipes(ec2_backend(account_id, region))
    recipes[arn] = (CONTAINER_RECIPE if container else IMAGE_RECIPE, parent_image)
    return arn


def _recipes(backend: Any) -> dict[str, tuple[str, str]]:
    """ARN -> (resource type, parent image) of the account+Region's recipes (reset with moto)."""
    if not hasattr(backend, "amidash_recipes"):
        backend.amidash_recipes = {}
    return backend.amidash_recipes


def recipe_references(
    backend: Any, image_ids: set[str], types: dict[str, int]
) -> Iterator[dict[str, str]]:
    for arn, (resource_type, parent_image) in sorted(_recipes(backend).items()):
        if resource_type in types and parent_image in image_ids:
            yield _reference(parent_image, resource_type, arn)


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
    references.extend(recipe_references(backend, image_ids, types))
    return references


def describe_image_references(self: Any) -> ActionResult:
    self.error_on_dryrun()
    request = read_page_request(self.params, "DescribeImageReferences", REFERENCES_PAGE)
    image_ids = self._get_param("ImageIds", [])
    if not image_ids:
        raise missing_parameter("ImageIds")
    if len(image_ids) > MAX_IMAGE_IDS:
        raise invalid_parameter(
            f"The request names {len(image_ids)} images; at most {MAX_IMAGE_IDS} are allowed."
        )
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
