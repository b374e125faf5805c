"""Reading one account+Region from AWS: its own images and everything that uses an image.

Nothing here touches the database. Any AWS error propagates: the caller fails the Region and
keeps its images exactly as they were (invariant 1 in docs/architecture.md).
"""

from __future__ import annotations

import hashlib
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import InitVar, dataclass, field
from datetime import datetime
from typing import Any

import orjson
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from inventory.choices import UsageType
from inventory.services.aws import AwsSession

PAGE_SIZE = 1000
#: Instance states that still use an image (every state but terminated).
LIVE_INSTANCE_STATES = ["pending", "running", "shutting-down", "stopping", "stopped"]
#: What an endpoint says when it does not implement DescribeImageReferences.
UNSUPPORTED_CODES = {"InvalidAction", "UnsupportedOperation", "NotImplemented", "UnknownOperation"}
REFERENCE_TYPES = {
    "ec2:Instance": UsageType.INSTANCE,
    "ec2:LaunchTemplate": UsageType.LAUNCH_TEMPLATE,
    "ssm:Parameter": UsageType.SSM_PARAMETER,
    "imagebuilder:ImageRecipe": UsageType.IMAGE_RECIPE,
    "imagebuilder:ContainerRecipe": UsageType.CONTAINER_RECIPE,
}
#: DescribeImageReferences takes 1 to 10 image ids per call (EC2 API reference, ImageId.N).
REFERENCE_BATCH = 10


@dataclass(frozen=True)
class UsageObservation:
    """A resource in the listed account+Region that names an image."""

    image_ref: str
    usage_type: str
    resource_id: str
    resource_name: str = ""
    detail: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


class UnreadableImage(ValueError):
    """DescribeImages answered an image in a shape amidash cannot read (a malformed answer)."""


@dataclass
class RegionListing:
    """A complete listing of one account+Region.

    One record per image, the last one listed, even if pages overlapped (a listing that changed
    between pages, or a page repeated by a faulty endpoint). Images are kept compact as they
    arrive, page by page: each as its JSON with sorted keys (its fingerprint is the digest of
    that JSON), compressed (about 400 bytes an image), not as boto3's nested dicts, which cost
    several times more; a 100,000-image Region fits a worker (bench/sync_memory.py).
    ``images_of`` gives the dicts back, a batch at a time.
    """

    images: InitVar[Iterable[dict[str, Any]]]
    usages: list[UsageObservation]
    references_supported: bool = True
    _encoded: dict[str, bytes] = field(default_factory=dict, init=False, repr=False, compare=False)
    _digests: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self, images: Iterable[dict[str, Any]]) -> None:
        for image in images:
            try:
                image_id = image["ImageId"]
            except (KeyError, TypeError) as error:
                raise UnreadableImage(
                    "malformed DescribeImages answer: an image without ImageId"
                ) from error
            self._encoded[image_id] = zlib.compress(_encode(image), 1)

    def __len__(self) -> int:
        return len(self._encoded)

    @property
    def image_ids(self) -> list[str]:
        """Every listed image id, once, in the order first listed."""
        return list(self._encoded)

    def images_of(self, image_ids: Iterable[str]) -> list[dict[str, Any]]:
        """The listed Image shapes of these images (ids this listing has)."""
        return [orjson.loads(zlib.decompress(self._encoded[image_id])) for image_id in image_ids]

    def digest(self, image_id: str) -> str:
        """The fingerprint of one of the listed images, made once per listing."""
        if image_id not in self._digests:
            self._digests[image_id] = _digest(zlib.decompress(self._encoded[image_id]))
        return self._digests[image_id]


def list_region(session: AwsSession, region: str) -> RegionListing:
    """List own images and their usage; raises on any AWS error."""
    listing = RegionListing(
        images=list_images(session, region),  # kept compact page by page
        usages=list(dict.fromkeys(list_usage(session, region))),
    )
    own_ids = listing.image_ids  # one each: RegionListing dedupes
    try:
        references = list(list_image_references(session, region, own_ids))
    except NotImplementedError:
        listing.references_supported, references = False, []
    # The listing calls already found instances and template versions by id; a reference
    # adds what they cannot see (SSM parameters, Image Builder recipes, ...).
    known = {(u.image_ref, u.usage_type, u.resource_id.split(":")[0]) for u in listing.usages}
    for usage in references:
        key = (usage.image_ref, usage.usage_type, usage.resource_id)
        if key not in known:
            known.add(key)
            listing.usages.append(usage)
    return listing


def list_image_usage(session: AwsSession, region: str, image_id: str) -> list[UsageObservation]:
    """What uses one image now, read live (for a re-check right before a lifecycle action).

    Instances launched from it, whatever DescribeImageReferences names (launch template versions
    among them) or, where the endpoint lacks that call, the $Default and $Latest version of every
    launch template, and launch configurations. Auto Scaling groups are not read again: a group
    names a template version or a launch configuration, and those are.
    """
    ec2 = session.client("ec2", region)
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[
            {"Name": "image-id", "Values": [image_id]},
            {"Name": "instance-state-name", "Values": LIVE_INSTANCE_STATES},
        ]
    )
    found = [
        UsageObservation(image_id, UsageType.INSTANCE, instance["InstanceId"])
        for page in pages
        for reservation in page.get("Reservations", [])
        for instance in reservation.get("Instances", [])
        if instance.get("ImageId") == image_id
    ]
    try:
        found += list_image_references(session, region, [image_id])
    except NotImplementedError:
        versions = _default_and_latest_versions(session, region)
        found += (u for u in _template_usages(versions) if u.image_ref == image_id)
    for configuration in _launch_configurations(session, region):
        if configuration.get("ImageId") == image_id:
            found += _configuration_usage(configuration)
    return found


def list_images(session: AwsSession, region: str) -> Iterator[dict[str, Any]]:
    """Own images, deprecated and disabled ones included, 1000 per page."""
    ec2 = session.client("ec2", region)
    pages = ec2.get_paginator("describe_images").paginate(
        Owners=["self"],
        IncludeDeprecated=True,
        IncludeDisabled=True,
        PaginationConfig={"PageSize": PAGE_SIZE},
    )
    for page in pages:
        yield from page.get("Images", [])


def list_usage(session: AwsSession, region: str) -> Iterator[UsageObservation]:
    """Instances, launch template versions, Auto Scaling groups and launch configurations."""
    yield from _instances(session, region)
    versions = _default_and_latest_versions(session, region)
    yield from _template_usages(versions)
    groups = list(_autoscaling_groups(session, region))
    configurations = {
        c["LaunchConfigurationName"]: c for c in _launch_configurations(session, region)
    }
    named = _versions_named_by_groups(session, region, groups, versions)
    for group in groups:
        yield from _group_usages(group, versions, named, configurations)
    for configuration in configurations.values():
        yield from _configuration_usage(configuration)


def _name_tag(tags: Iterable[dict[str, str]] | None) -> str:
    return next((t["Value"] for t in tags or [] if t.get("Key") == "Name"), "")


def _is_ami(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("ami-")


def _instances(session: AwsSession, region: str) -> Iterator[UsageObservation]:
    pages = (
        session.client("ec2", region)
        .get_paginator("describe_instances")
        .paginate(
            Filters=[{"Name": "instance-state-name", "Values": LIVE_INSTANCE_STATES}],
            PaginationConfig={"PageSize": PAGE_SIZE},
        )
    )
    for page in pages:
        for reservation in page.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                if not _is_ami(instance.get("ImageId")):
                    continue
                state = instance.get("State", {}).get("Name", "")
                if state not in LIVE_INSTANCE_STATES:
                    continue
                yield UsageObservation(
                    instance["ImageId"],
                    UsageType.INSTANCE,
                    instance["InstanceId"],
                    _name_tag(instance.get("Tags")),
                    {"state": state, "instance_type": instance.get("InstanceType", "")},
                )


# (template id, version number) -> version
VersionIndex = dict[tuple[str, int], dict[str, Any]]


@dataclass
class TemplateVersions:
    """$Default and $Latest of every launch template, and versions looked up by name."""

    by_number: VersionIndex = field(default_factory=dict)
    default: dict[str, int] = field(default_factory=dict)
    latest: dict[str, int] = field(default_factory=dict)
    ids_by_name: dict[str, str] = field(default_factory=dict)

    def add(self, version: dict[str, Any]) -> None:
        template_id, number = version["LaunchTemplateId"], int(version["VersionNumber"])
        self.by_number[(template_id, number)] = version
        self.ids_by_name[version.get("LaunchTemplateName", "")] = template_id
        if version.get("DefaultVersion"):
            self.default[template_id] = number
        self.latest[template_id] = max(self.latest.get(template_id, 0), number)

    def resolve(self, template_id: str, version: str | None) -> int | None:
        if version in (None, "", "$Default"):
            return self.default.get(template_id)
        if version == "$Latest":
            return self.latest.get(template_id)
        try:
            return int(version)
        except ValueError:
            return None


def _default_and_latest_versions(session: AwsSession, region: str) -> TemplateVersions:
    """One paginated call for the $Default and $Latest versions of every template."""
    versions = TemplateVersions()
    pages = (
        session.client("ec2", region)
        .get_paginator("describe_launch_template_versions")
        .paginate(Versions=["$Latest", "$Default"], PaginationConfig={"PageSize": 200})
    )
    for page in pages:
        for version in page.get("LaunchTemplateVersions", []):
            versions.add(version)
    return versions


def _template_usages(versions: TemplateVersions) -> Iterator[UsageObservation]:
    for (template_id, number), version in sorted(versions.by_number.items()):
        image_id = version.get("LaunchTemplateData", {}).get("ImageId")
        if not _is_ami(image_id):
            continue
        aliases = []
        if versions.default.get(template_id) == number:
            aliases.append("$Default")
        if versions.latest.get(template_id) == number:
            aliases.append("$Latest")
        yield UsageObservation(
            image_id,
            UsageType.LAUNCH_TEMPLATE,
            f"{template_id}:{number}",
            version.get("LaunchTemplateName", ""),
            {"template_id": template_id, "version": number, "aliases": aliases},
        )


def _autoscaling_groups(session: AwsSession, region: str) -> Iterator[dict[str, Any]]:
    pages = (
        session.client("autoscaling", region)
        .get_paginator("describe_auto_scaling_groups")
        .paginate(PaginationConfig={"PageSize": 100})
    )
    for page in pages:
        yield from page.get("AutoScalingGroups", [])


def _launch_configurations(session: AwsSession, region: str) -> Iterator[dict[str, Any]]:
    pages = (
        session.client("autoscaling", region)
        .get_paginator("describe_launch_configurations")
        .paginate(PaginationConfig={"PageSize": 100})
    )
    for page in pages:
        yield from page.get("LaunchConfigurations", [])


def _group_template_specs(group: dict[str, Any]) -> list[dict[str, Any]]:
    """Every launch template an Auto Scaling group names, mixed instances policy included."""
    specs = []
    if group.get("LaunchTemplate"):
        specs.append(group["LaunchTemplate"])
    policy = (group.get("MixedInstancesPolicy") or {}).get("LaunchTemplate") or {}
    if policy.get("LaunchTemplateSpecification"):
        specs.append(policy["LaunchTemplateSpecification"])
    for override in policy.get("Overrides") or []:
        if override.get("LaunchTemplateSpecification"):
            specs.append(override["LaunchTemplateSpecification"])
    return specs


def _spec_template_id(spec: dict[str, Any], versions: TemplateVersions) -> str | None:
    return spec.get("LaunchTemplateId") or versions.ids_by_name.get(
        spec.get("LaunchTemplateName", "")
    )


def _versions_named_by_groups(
    session: AwsSession,
    region: str,
    groups: list[dict[str, Any]],
    versions: TemplateVersions,
) -> TemplateVersions:
    """Fetch the numbered versions that groups name and that are not $Default or $Latest.

    One call per launch template that such a group names, whatever the number of images.
    """
    wanted: dict[str, set[int]] = defaultdict(set)
    for group in groups:
        for spec in _group_template_specs(group):
            template_id = _spec_template_id(spec, versions)
            number = versions.resolve(template_id, spec.get("Version")) if template_id else None
            if template_id and number and (template_id, number) not in versions.by_number:
                wanted[template_id].add(number)
    ec2 = session.client("ec2", region)
    for template_id, numbers in sorted(wanted.items()):
        response = ec2.describe_launch_template_versions(
            LaunchTemplateId=template_id, Versions=[str(n) for n in sorted(numbers)]
        )
        for version in response.get("LaunchTemplateVersions", []):
            number = int(version["VersionNumber"])
            versions.by_number[(version["LaunchTemplateId"], number)] = version
    return versions


def _group_usages(
    group: dict[str, Any],
    versions: TemplateVersions,
    named: TemplateVersions,
    configurations: dict[str, dict[str, Any]],
) -> Iterator[UsageObservation]:
    name = group["AutoScalingGroupName"]
    for spec in _group_template_specs(group):
        template_id = _spec_template_id(spec, versions)
        number = versions.resolve(template_id, spec.get("Version")) if template_id else None
        version = named.by_number.get((template_id, number)) if number else None
        image_id = (version or {}).get("LaunchTemplateData", {}).get("ImageId")
        if _is_ami(image_id):
            yield UsageObservation(
                image_id,
                UsageType.AUTOSCALING_GROUP,
                name,
                name,
                {"launch_template": template_id, "version": number},
            )
    configuration = configurations.get(group.get("LaunchConfigurationName") or "")
    if configuration and _is_ami(configuration.get("ImageId")):
        yield UsageObservation(
            configuration["ImageId"],
            UsageType.AUTOSCALING_GROUP,
            name,
            name,
            {"launch_configuration": configuration["LaunchConfigurationName"]},
        )


def _configuration_usage(configuration: dict[str, Any]) -> Iterator[UsageObservation]:
    if _is_ami(configuration.get("ImageId")):
        name = configuration["LaunchConfigurationName"]
        yield UsageObservation(configuration["ImageId"], UsageType.LAUNCH_CONFIGURATION, name, name)


def list_image_references(
    session: AwsSession, region: str, image_ids: list[str]
) -> Iterator[UsageObservation]:
    """DescribeImageReferences for the Region's own images.

    Raises NotImplementedError when the endpoint says it does not implement the call (moto,
    LocalStack, some partitions): the listing calls alone then say what uses an image. An answer
    that does not parse is not such a refusal: it raises UnreadableImage and fails the Region,
    so usage it would have named never silently disappears.
    """
    ec2 = session.client("ec2", region)
    for start in range(0, len(image_ids), REFERENCE_BATCH):
        chunk = image_ids[start : start + REFERENCE_BATCH]
        try:
            pages = ec2.get_paginator("describe_image_references").paginate(
                ImageIds=chunk, IncludeAllResourceTypes=True
            )
            references = [r for page in pages for r in page.get("ImageReferences", [])]
        except ResponseParserError as error:
            raise UnreadableImage(f"malformed DescribeImageReferences answer: {error}") from error
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in UNSUPPORTED_CODES:
                raise NotImplementedError(str(error)) from error
            raise
        for reference in references:
            yield _reference_usage(reference)


def _reference_usage(reference: dict[str, Any]) -> UsageObservation:
    arn = reference.get("Arn", "")
    kind = reference.get("ResourceType", "")
    usage_type = REFERENCE_TYPES.get(kind, UsageType.OTHER)
    resource_id, name = _reference_resource(usage_type, arn)
    return UsageObservation(
        reference["ImageId"], usage_type, resource_id, name, {"arn": arn, "resource_type": kind}
    )


def _reference_resource(usage_type: str, arn: str) -> tuple[str, str]:
    """The resource id and name an ARN names: an instance or launch template id; an SSM
    parameter's path (arn:...:parameter/golden/web is /golden/web); a recipe's name/version."""
    resource = arn.split(":", 5)[-1]  # after arn:partition:service:region:account:
    if usage_type == UsageType.SSM_PARAMETER:
        path = resource.removeprefix("parameter")
        return path, path
    if usage_type in (UsageType.IMAGE_RECIPE, UsageType.CONTAINER_RECIPE):
        name_version = resource.partition("/")[2]
        return name_version, name_version.partition("/")[0]
    return (arn.rsplit("/", 1)[-1] if "/" in arn else arn), ""


def parse_time(value: Any) -> datetime | None:
    """EC2 timestamps arrive as ISO 8601 strings (or datetimes from some parsers)."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def fingerprint(image: dict[str, Any]) -> str:
    """A digest of what EC2 said about the image; an unchanged digest means no write."""
    return _digest(_encode(image))


def _encode(image: dict[str, Any]) -> bytes:
    return orjson.dumps(image, default=str, option=orjson.OPT_SORT_KEYS)


def _digest(encoded: bytes) -> str:
    return hashlib.md5(encoded, usedforsecurity=False).hexdigest()
