"""The AMI lifecycle as AWS behaves (docs/architecture.md, AWS behaviours), on top of moto's.

Adds what moto lacks (deprecation, deregistration protection, LastLaunchedTime, source of copies,
block device sizes) and corrects what it gets wrong (DescribeImages visibility rules and
pagination, DeleteAssociatedSnapshots, DisableImage and launch permissions, RegisterImage).
Every time rule reads `amidash.sandbox.clock.now()`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import (
    EC2ClientError,
    InvalidAMIIdError,
    InvalidSnapshotInUse,
    MalformedAMIIdError,
    UnvailableAMIIdError,
)
from moto.ec2.models.amis import Ami
from moto.ec2.utils import generic_filter, random_ami_id

from amidash.sandbox import clock
from amidash.sandbox.extensions import allowed_images
from amidash.sandbox.extensions.common import (
    aws_timestamp,
    boolean,
    existing_ec2_backends,
    invalid_parameter,
    missing_parameter,
    parse_timestamp,
    resource_tags,
)
from amidash.sandbox.extensions.pagination import EC2_DESCRIBE, read_page_request, take_page

PROTECTION_COOLDOWN = timedelta(hours=24)
DEPRECATION_HORIZON = timedelta(days=3652)  # 10 years
PUBLIC_DEPRECATION_HORIZON = timedelta(days=730)  # 2 years from creation, for public AMIs


# --- state kept on moto's Ami objects ------------------------------------------------------
# Class-level defaults keep moto's constructor (and the estate generator's bulk seeding) as fast
# as before; an image only carries these attributes once something sets them.


def _deprecation_time(self: Ami) -> str | None:
    return aws_timestamp(self.deprecate_at)


def _last_launched_time(self: Ami) -> str | None:
    return aws_timestamp(self.last_launched_at)


def _deregistration_protection(self: Ami) -> str:
    """The DeregistrationProtection value DescribeImages reports."""
    if self.protection_enabled:
        return "enabled-with-cooldown" if self.protection_cooldown else "enabled-without-cooldown"
    if self.protection_until is not None and clock.now() < self.protection_until:
        return f"disabled-until {aws_timestamp(self.protection_until)}"
    return "disabled"


_moto_block_device_mappings = Ami.block_device_mappings


def _block_device_mappings(self: Ami) -> list[dict[str, Any]]:
    if self.custom_block_devices is not None:
        return [
            {"DeviceName": device["DeviceName"], "Ebs": dict(device["Ebs"])}
            for device in self.custom_block_devices
        ]
    mappings = _moto_block_device_mappings.fget(self)
    for mapping in mappings:
        # moto reports 15 GiB whatever the snapshot: report the snapshot's real size.
        mapping["Ebs"]["VolumeSize"] = self.ebs_snapshot.volume.size
    return mappings


def install_image_attributes() -> None:
    defaults = {
        "deprecate_at": None,
        "last_launched_at": None,
        "protection_enabled": False,
        "protection_cooldown": False,
        "protection_until": None,
        "source_image_id": None,
        "source_image_region": None,
        "custom_block_devices": None,
    }
    for name, value in defaults.items():
        setattr(Ami, name, value)
    Ami.deprecation_time = property(_deprecation_time)
    Ami.last_launched_time = property(_last_launched_time)
    Ami.deregistration_protection = property(_deregistration_protection)
    Ami.block_device_mappings = property(_block_device_mappings)


# --- rules ---------------------------------------------------------------------------------


def is_deprecated(image: Ami, now: datetime | None = None) -> bool:
    return image.deprecate_at is not None and image.deprecate_at <= (now or clock.now())


def is_protected(image: Ami, now: datetime | None = None) -> bool:
    """Deregistration protection in force: enabled, or disabled but still in its cooldown."""
    if image.protection_enabled:
        return True
    return image.protection_until is not None and (now or clock.now()) < image.protection_until


def snapshot_ids(image: Ami) -> list[str]:
    return [
        mapping["Ebs"]["SnapshotId"]
        for mapping in image.block_device_mappings
        if mapping.get("Ebs", {}).get("SnapshotId")
    ]


def visible_to(image: Ami, account_id: str) -> bool:
    """Can this account see (launch) the image: owner, public, or shared with the account."""
    if image.owner_id == account_id or image.is_public:
        return True
    return any(permission.get("UserId") == account_id for permission in image.launch_permissions)


def round_to_minute(moment: datetime) -> datetime:
    """EC2 rounds the seconds of DeprecateAt to the nearest minute."""
    floored = moment.replace(second=0, microsecond=0)
    if moment - floored >= timedelta(seconds=30):
        return floored + timedelta(minutes=1)
    return floored


def validate_deprecation_time(image: Ami, requested: datetime) -> datetime:
    now = clock.now()
    if requested < now:
        raise invalid_parameter(
            f"The DeprecateAt time ({requested:%Y-%m-%dT%H:%M:%SZ}) cannot be in the past."
        )
    if requested > now + DEPRECATION_HORIZON:
        raise invalid_parameter("The DeprecateAt time cannot be more than 10 years in the future.")
    if image.is_public:
        created = parse_timestamp(image.creation_date)
        if requested > created + PUBLIC_DEPRECATION_HORIZON:
            raise invalid_parameter(
                "The DeprecateAt time of a public AMI cannot be more than 2 years after its "
                "creation date."
            )
    return round_to_minute(requested)


# --- backend-level helpers (also used by the estate generator) ------------------------------


def set_creation_date(image: Ami, moment: datetime) -> None:
    """Backdate an image (AWS reports when it was really created; moto always says "now")."""
    image.creation_date = moment


def set_deprecation_time(image: Ami, moment: datetime | None) -> None:
    """Set DeprecationTime directly, past or future, without the API's "not in the past" rule."""
    image.deprecate_at = round_to_minute(moment) if moment else None


def set_last_launched_time(image: Ami, moment: datetime | None) -> None:
    image.last_launched_at = moment


def set_deregistration_protection(image: Ami, enabled: bool, cooldown: bool = False) -> None:
    image.protection_enabled = enabled
    image.protection_cooldown = cooldown and enabled
    image.protection_until = None


def set_root_volume_size(image: Ami, size_gib: int) -> None:
    """Give an image's root snapshot a size (moto creates every AMI snapshot at 15 GiB)."""
    if image.custom_block_devices is not None:
        image.custom_block_devices[0]["Ebs"]["VolumeSize"] = size_gib
    else:
        image.ebs_snapshot.volume.size = size_gib


def make_snapshot(
    backend: Any, size_gib: int, description: str, from_ami: str | None = None
) -> Any:
    """A completed snapshot of `size_gib`, as left behind by a volume that no longer exists."""
    volume = backend.create_volume(size=size_gib, zone_name=f"{backend.region_name}a")
    snapshot = backend.create_snapshot(volume.id, description, from_ami=from_ami)
    backend.delete_volume(volume.id)
    return snapshot


def find_image(region: str, image_id: str) -> Ami | None:
    """An image of any account in the Region (moto keeps each account's images apart)."""
    for _, backend in existing_ec2_backends(region):
        image = backend.amis.get(image_id)
        if image is not None:
            return image
    return None


def owned_image(backend: Any, image_id: str | None) -> Ami:
    """The caller's own image, or the error AWS gives for a missing, gone or foreign one."""
    if not image_id:
        raise missing_parameter("ImageId")
    if not image_id.startswith("ami-"):
        raise MalformedAMIIdError([image_id])
    image = backend.amis.get(image_id)
    if image is not None:
        return image
    if image_id in backend.deleted_amis:
        raise UnvailableAMIIdError(image_id)
    foreign = find_image(backend.region_name, image_id)
    if foreign is not None and visible_to(foreign, backend.account_id):
        raise EC2ClientError(
            "AuthFailure", f"Not authorized for image:{image_id}. Only the owner may do this."
        )
    raise InvalidAMIIdError(image_id)


def visible_image(backend: Any, image_id: str | None) -> Ami:
    """An image of any account in the caller's Region that the caller may see (own, shared or
    public), or the error AWS gives for a missing, malformed or hidden one."""
    if not image_id:
        raise missing_parameter("ImageId")
    if not image_id.startswith("ami-"):
        raise MalformedAMIIdError([image_id])
    image = find_image(backend.region_name, image_id)
    if image is None or not visible_to(image, backend.account_id):
        raise InvalidAMIIdError(image_id)
    return image


def record_launch(backend: Any, image_id: str | None) -> None:
    """LastLaunchedTime: the owner's image records when an instance was last launched from it."""
    if not image_id:
        return
    image = backend.amis.get(image_id) or find_image(backend.region_name, image_id)
    if image is not None:
        image.last_launched_at = clock.now()


def images_using_snapshot(backend: Any, snapshot_id: str, besides: str = "") -> list[str]:
    """Images (registered or in the Recycle Bin) other than `besides` that use the snapshot."""
    from amidash.sandbox.extensions import rbin

    images = list(backend.amis.values()) + [entry.image for entry in rbin.bin_entries(backend)]
    return [
        image.id for image in images if image.id != besides and snapshot_id in snapshot_ids(image)
    ]


def delete_unshared_snapshots(backend: Any, image: Ami) -> list[dict[str, str]]:
    """DeleteAssociatedSnapshots: delete the image's snapshots that no other AMI uses."""
    results = []
    for snapshot_id in snapshot_ids(image):
        if snapshot_id not in backend.snapshots:
            continue
        if images_using_snapshot(backend, snapshot_id, besides=image.id):
            results.append({"SnapshotId": snapshot_id, "ReturnCode": "skipped"})
            continue
        backend.snapshots.pop(snapshot_id)
        results.append({"SnapshotId": snapshot_id, "ReturnCode": "success"})
    return results


# --- listing -------------------------------------------------------------------------------


def _other_accounts_images(backend: Any, ami_ids: list[str], owners: list[str]) -> list[Ami]:
    """Images of other accounts the caller may see: public or shared with it."""
    me = backend.account_id
    wanted_accounts = {owner for owner in owners if owner.isdigit() and owner != me}
    if owners and not wanted_accounts:
        return []
    found = []
    for account_id, other in existing_ec2_backends(backend.region_name):
        if account_id == me or (wanted_accounts and account_id not in wanted_accounts):
            continue
        if ami_ids:
            candidates = [other.amis[i] for i in ami_ids if i in other.amis]
        else:
            candidates = list(other.amis.values())
        found.extend(image for image in candidates if visible_to(image, me))
    return found


def _executable_by(image: Ami, users: list[str], me: str) -> bool:
    """ExecutableUsers: public images, or those with a launch permission for one of the users."""
    if image.is_public:
        return True
    accounts = {me if user == "self" else user for user in users}
    return any(p.get("UserId") in accounts for p in image.launch_permissions)


def list_images(
    backend: Any,
    ami_ids: list[str],
    owners: list[str],
    executable_users: list[str],
    filters: dict[str, Any],
    include_deprecated: bool,
    include_disabled: bool,
) -> list[Ami]:
    """DescribeImages as AWS answers it, before pagination."""
    me = backend.account_id
    try:
        images = backend.describe_images(
            ami_ids=ami_ids, filters=None, exec_users=executable_users, owners=owners
        )
    except InvalidAMIIdError:
        images = []
    others = _other_accounts_images(backend, ami_ids, owners)
    if executable_users:
        others = [image for image in others if _executable_by(image, executable_users, me)]
    images = images + others
    if ami_ids and not images and not any(i in backend.deleted_amis for i in ami_ids):
        raise InvalidAMIIdError(ami_ids)
    if filters:
        images = generic_filter(filters, images)
    now = clock.now()
    if not include_disabled:
        images = [image for image in images if image.state != "disabled"]
    if not include_deprecated and not ami_ids:
        # Deprecated images are listed for their owner, for others only when asked.
        images = [
            image for image in images if image.owner_id == me or not is_deprecated(image, now)
        ]
    # Allowed AMIs enabled: images the criteria do not allow are not discoverable.
    return [image for image in images if not allowed_images.hides(backend, image)]


# --- responses (methods added to moto's AmisResponse) ---------------------------------------


def describe_images(self: Any) -> ActionResult:
    self.error_on_dryrun()
    request = read_page_request(self.params, "DescribeImages", EC2_DESCRIBE)
    allowed_images.set_viewer(self.ec2_backend)  # whose ImageAllowed the answer reports
    images = list_images(
        self.ec2_backend,
        ami_ids=self._get_param("ImageIds", []),
        owners=self._get_param("Owners", []),
        executable_users=self._get_param("ExecutableUsers", []),
        filters=self._filters_from_querystring(),
        include_deprecated=boolean(self._get_param("IncludeDeprecated", False)),
        include_disabled=boolean(self._get_param("IncludeDisabled", False)),
    )
    page, token = take_page(images, lambda image: image.id, request)
    return ActionResult({"Images": page, "NextToken": token})


def enable_image_deprecation(self: Any) -> ActionResult:
    image = owned_image(self.ec2_backend, self._get_param("ImageId"))
    raw = self._get_param("DeprecateAt")
    if raw in (None, ""):
        raise missing_parameter("DeprecateAt")
    self.error_on_dryrun()
    image.deprecate_at = validate_deprecation_time(image, parse_timestamp(raw))
    return ActionResult({"Return": True})


def disable_image_deprecation(self: Any) -> ActionResult:
    image = owned_image(self.ec2_backend, self._get_param("ImageId"))
    self.error_on_dryrun()
    image.deprecate_at = None
    return ActionResult({"Return": True})


def enable_image_deregistration_protection(self: Any) -> ActionResult:
    image = owned_image(self.ec2_backend, self._get_param("ImageId"))
    self.error_on_dryrun()
    set_deregistration_protection(
        image, enabled=True, cooldown=boolean(self._get_param("WithCooldown", False))
    )
    return ActionResult({"Return": "true"})


def disable_image_deregistration_protection(self: Any) -> ActionResult:
    image = owned_image(self.ec2_backend, self._get_param("ImageId"))
    self.error_on_dryrun()
    if image.protection_enabled and image.protection_cooldown:
        image.protection_until = clock.now() + PROTECTION_COOLDOWN
    image.protection_enabled = False
    image.protection_cooldown = False
    return ActionResult({"Return": "true"})


def deregister_image(self: Any) -> ActionResult:
    from amidash.sandbox.extensions import rbin

    backend = self.ec2_backend
    image = owned_image(backend, self._get_param("ImageId"))
    self.error_on_dryrun()
    if is_protected(image):
        raise EC2ClientError(
            "OperationNotPermitted",
            f"The AMI {image.id} has deregistration protection enabled (DeregistrationProtection"
            f" is '{image.deregistration_protection}'). Disable it before deregistering.",
        )
    rule = rbin.matching_rule(backend.account_id, backend.region_name, image)
    if rule is not None:
        rbin.retain(backend, image, rule)
    else:
        backend.deregister_image(image.id)
    result: dict[str, Any] = {"Return": True}
    if boolean(self._get_param("DeleteAssociatedSnapshots", False)):
        result["DeleteSnapshotResults"] = delete_unshared_snapshots(backend, image)
    return ActionResult(result)


def describe_image_attribute(self: Any) -> ActionResult:
    attribute = self._get_param("Attribute")
    image = owned_image(self.ec2_backend, self._get_param("ImageId"))
    if attribute == "lastLaunchedTime":
        value = image.last_launched_time
        return ActionResult(
            {"ImageId": image.id, "LastLaunchedTime": {"Value": value} if value else {}}
        )
    if attribute == "deregistrationProtection":
        return ActionResult(
            {
                "ImageId": image.id,
                "DeregistrationProtection": {"Value": image.deregistration_protection},
            }
        )
    if attribute == "imdsSupport":
        imds = getattr(image, "imds_support", None)
        return ActionResult({"ImageId": image.id, "ImdsSupport": {"Value": imds} if imds else {}})
    return _moto_describe_image_attribute(self)


def disable_image(self: Any) -> ActionResult:
    """DisableImage (owner only) also removes every launch permission: the image turns private."""
    image = owned_image(self.ec2_backend, self._get_param("ImageId"))
    self.error_on_dryrun()
    image.state = "disabled"
    image.launch_permissions = []
    return ActionResult({"Return": True})


def enable_image(self: Any) -> ActionResult:
    """EnableImage makes it available again; the old launch permissions stay gone."""
    image = owned_image(self.ec2_backend, self._get_param("ImageId"))
    self.error_on_dryrun()
    image.state = "available"
    return ActionResult({"Return": True})


def _tags_for(tag_specifications: list[dict[str, Any]], resource_type: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for specification in tag_specifications or []:
        if specification.get("ResourceType") == resource_type:
            for tag in specification.get("Tags", []):
                tags[tag["Key"]] = tag.get("Value", "")
    return tags


def _check_unique_name(backend: Any, name: str | None) -> None:
    if not name:
        raise missing_parameter("Name")
    if any(image.name == name for image in backend.amis.values()):
        raise EC2ClientError(
            "InvalidAMIName.Duplicate", f"AMI name {name} is already in use by another AMI"
        )


def _register_block_devices(
    backend: Any, image_id: str, requested: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Block devices of RegisterImage with their real snapshot ids and sizes."""
    devices = []
    for mapping in requested:
        ebs = mapping.get("Ebs")
        if ebs is None:
            continue
        snapshot_id = ebs.get("SnapshotId")
        size = ebs.get("VolumeSize")
        if snapshot_id:
            if snapshot_id not in backend.snapshots:
                raise EC2ClientError(
                    "InvalidSnapshot.NotFound", f"The snapshot '{snapshot_id}' does not exist."
                )
            size = int(size or backend.snapshots[snapshot_id].volume.size)
        else:
            if not size:
                raise invalid_parameter(
                    f"The request must specify a snapshot or a volume size for "
                    f"{mapping.get('DeviceName')}."
                )
            snapshot_id = make_snapshot(
                backend, int(size), f"Created by RegisterImage for {image_id}", image_id
            ).id
        devices.append(
            {
                "DeviceName": mapping.get("DeviceName", "/dev/xvda"),
                "Ebs": {
                    "SnapshotId": snapshot_id,
                    "VolumeSize": int(size),
                    "DeleteOnTermination": boolean(ebs.get("DeleteOnTermination", True)),
                    "VolumeType": ebs.get("VolumeType", "gp3"),
                    "Encrypted": boolean(ebs.get("Encrypted", False)),
                },
            }
        )
    return devices


def _add_image(backend: Any, **attributes: Any) -> Ami:
    image_id = random_ami_id()
    image = Ami(backend, image_id, **attributes)
    backend.amis[image_id] = image
    return image


def _replace_block_devices(backend: Any, image: Ami, devices: list[dict[str, Any]]) -> None:
    """Use these devices instead of the 15 GiB snapshot moto made for the image."""
    if not devices:
        return
    backend.snapshots.pop(image.ebs_snapshot.id, None)
    image.custom_block_devices = devices
    image.root_device_name = devices[0]["DeviceName"]


def register_image(self: Any) -> ActionResult:
    backend = self.ec2_backend
    name = self._get_param("Name")
    _check_unique_name(backend, name)
    self.error_on_dryrun()
    image = _add_image(
        backend,
        name=name,
        description=self._get_param("Description", ""),
        architecture=self._get_param("Architecture", "x86_64"),
        virtualization_type=self._get_param("VirtualizationType", "hvm"),
        root_device_type="ebs",
        root_device_name=self._get_param("RootDeviceName", "/dev/xvda"),
        boot_mode=self._get_param("BootMode", "uefi-preferred"),
        tags=_tags_for(self._get_param("TagSpecifications", []), "image") or None,
    )
    image.imds_support = self._get_param("ImdsSupport")
    devices = _register_block_devices(backend, image.id, self._get_param("BlockDeviceMappings", []))
    _replace_block_devices(backend, image, devices)
    if self._get_param("RootDeviceName"):
        image.root_device_name = self._get_param("RootDeviceName")
    return ActionResult({"ImageId": image.id})


def create_image(self: Any) -> ActionResult:
    """CreateImage: snapshots of the instance's volumes, with their sizes."""
    backend = self.ec2_backend
    name = self._get_param("Name")
    _check_unique_name(backend, name)
    instance = backend.get_instance(self._get_param("InstanceId"))
    tag_specifications = self._get_param("TagSpecifications", [])
    self.error_on_dryrun()
    image = _add_image(
        backend,
        instance=instance,
        name=name,
        description=self._get_param("Description", ""),
        snapshot_description=f"Created by CreateImage({instance.id})",
        tags=_tags_for(tag_specifications, "image") or None,
    )
    devices = []
    snapshot_tags = _tags_for(tag_specifications, "snapshot")
    for device_name, block in instance.get_block_device_mapping:
        volume = backend.get_volume(block.volume_id)
        snapshot = backend.create_snapshot(
            volume.id, f"Created by CreateImage({instance.id}) for {image.id}", from_ami=image.id
        )
        if snapshot_tags:
            snapshot.add_tags(snapshot_tags)
        devices.append(
            {
                "DeviceName": device_name,
                "Ebs": {
                    "SnapshotId": snapshot.id,
                    "VolumeSize": volume.size,
                    "DeleteOnTermination": True,
                    "VolumeType": volume.volume_type or "gp3",
                    "Encrypted": bool(volume.encrypted),
                },
            }
        )
    _replace_block_devices(backend, image, devices)
    return ActionResult({"ImageId": image.id})


def _copy_by_token(backend: Any, token: str) -> Any | None:
    """The image a CopyImage with this ClientToken made in this account+Region, if any."""
    if not token:
        return None
    return next(
        (image for image in backend.amis.values() if getattr(image, "client_token", "") == token),
        None,
    )


def copy_image(self: Any) -> ActionResult:
    """CopyImage into the client's Region; the copy reports SourceImageId and SourceImageRegion.

    ``ClientToken`` is the idempotency key, as in AWS: the same token with the same parameters
    answers the ImageId of the copy it made before and makes no second copy; with other
    parameters it is refused (``IdempotentParameterMismatch``).
    """
    backend = self.ec2_backend
    source_region = self._get_param("SourceRegion")
    source_id = self._get_param("SourceImageId")
    if not source_region:
        raise missing_parameter("SourceRegion")
    source = find_image(source_region, source_id or "")
    if source is None or not visible_to(source, backend.account_id):
        raise InvalidAMIIdError(source_id or "")
    self.error_on_dryrun()
    token = self._get_param("ClientToken") or ""
    request = (source.id, source_region, self._get_param("Name"), self._get_param("Description"))
    earlier = _copy_by_token(backend, token)
    if earlier is not None:
        if getattr(earlier, "copy_request", None) != request:
            raise EC2ClientError(
                "IdempotentParameterMismatch",
                f"The client token {token} was already used with different parameters.",
            )
        return ActionResult({"ImageId": earlier.id})
    tags = _tags_for(self._get_param("TagSpecifications", []), "image")
    if boolean(self._get_param("CopyImageTags", False)):
        tags = resource_tags(source) | tags
    image = _add_image(
        backend,
        source_ami=source,
        name=self._get_param("Name") or source.name,
        description=self._get_param("Description") or source.description,
        tags=tags or None,
    )
    image.source_image_id = source.id
    image.source_image_region = source_region
    image.client_token, image.copy_request = token, request
    devices = [
        {
            "DeviceName": mapping["DeviceName"],
            "Ebs": mapping["Ebs"]
            | {
                "SnapshotId": make_snapshot(
                    backend,
                    int(mapping["Ebs"]["VolumeSize"]),
                    f"Copied for DestinationAmi {image.id} from SourceAmi {source.id}",
                    image.id,
                ).id
            },
        }
        for mapping in source.block_device_mappings
        if mapping.get("Ebs")
    ]
    _replace_block_devices(backend, image, devices)
    image.root_device_name = source.root_device_name
    return ActionResult({"ImageId": image.id})


def _guard_disabled_launch(moto_run_instances: Any) -> Any:
    """RunInstances: a disabled AMI cannot be used for instance launches."""

    def run_instances(self: Any) -> Any:
        image_id = self._get_param("ImageId")
        if image_id:
            image = self.ec2_backend.amis.get(image_id) or find_image(self.region, image_id)
            if image is not None and image.state == "disabled":
                raise EC2ClientError(
                    "InvalidAMIID.Unavailable",
                    f"The image id '[{image_id}]' is disabled and cannot be used to launch "
                    "instances.",
                )
        return moto_run_instances(self)

    return run_instances


def _guard_disabled_sharing(moto_modify_image_attribute: Any) -> Any:
    """ModifyImageAttribute: a disabled AMI cannot be shared."""

    def modify_image_attribute(self: Any) -> Any:
        image = owned_image(self.ec2_backend, self._get_param("ImageId"))
        permission = self._get_param("LaunchPermission", {}) or {}
        adding = permission.get("Add") or self._get_param("OperationType") == "add"
        if adding and image.state == "disabled":
            raise EC2ClientError(
                "OperationNotPermitted",
                f"The image {image.id} is disabled: a disabled AMI cannot be shared.",
            )
        return moto_modify_image_attribute(self)

    return modify_image_attribute


_moto_describe_image_attribute: Any = None


def install() -> None:
    global _moto_describe_image_attribute
    from moto.ec2.models.elastic_block_store import EBSBackend
    from moto.ec2.models.instances import InstanceBackend
    from moto.ec2.responses.amis import AmisResponse
    from moto.ec2.responses.instances import InstanceResponse

    if getattr(AmisResponse, "_amidash_images", False):
        return
    install_image_attributes()
    _moto_describe_image_attribute = AmisResponse.describe_image_attribute
    for handler in (
        describe_images,
        enable_image_deprecation,
        disable_image_deprecation,
        enable_image_deregistration_protection,
        disable_image_deregistration_protection,
        deregister_image,
        describe_image_attribute,
        disable_image,
        enable_image,
        register_image,
        create_image,
        copy_image,
    ):
        setattr(AmisResponse, handler.__name__, handler)

    AmisResponse.modify_image_attribute = _guard_disabled_sharing(
        AmisResponse.modify_image_attribute
    )
    InstanceResponse.run_instances = _guard_disabled_launch(InstanceResponse.run_instances)

    moto_delete_snapshot = EBSBackend.delete_snapshot

    def delete_snapshot(self: Any, snapshot_id: str) -> Any:
        # moto only knows the image a snapshot was made for; AWS refuses any image's snapshot.
        users = images_using_snapshot(self, snapshot_id)
        if users:
            raise InvalidSnapshotInUse(snapshot_id, users[0])
        return moto_delete_snapshot(self, snapshot_id)

    EBSBackend.delete_snapshot = delete_snapshot

    moto_run_instances = InstanceBackend.run_instances

    def run_instances(self: Any, image_id: str, *args: Any, **kwargs: Any) -> Any:
        reservation = moto_run_instances(self, image_id, *args, **kwargs)
        for instance in reservation.instances:
            record_launch(self, instance.image_id)
        return reservation

    InstanceBackend.run_instances = run_instances
    AmisResponse._amidash_images = True
