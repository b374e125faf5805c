"""Allowed AMIs, per account and Region, as the EC2 API reference documents them.

moto lacks the feature. Each account+Region starts ``disabled`` with no criteria, managed by the
account. ``EnableAllowedImagesSettings`` (``enabled`` or ``audit-mode``),
``DisableAllowedImagesSettings`` and ``ReplaceImageCriteriaInAllowedImagesSettings`` change it
unless a declarative policy manages it (``ManagedBy`` ``declarative-policy``; the account cannot
change it). In audit mode DescribeImages reports ``ImageAllowed`` on every image; enabled, images
the criteria do not allow are not discoverable. Images the account owns are never restricted.
``DescribeInstanceImageMetadata`` reports the image facts of the account's instances.

An image is allowed when it matches any one criterion; a criterion matches when the image meets
every condition it sets (providers, names, product codes, creation and deprecation age).
"""

from __future__ import annotations

import contextvars
import fnmatch
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.amis import Ami

from amidash.sandbox import clock
from amidash.sandbox.extensions.common import aws_timestamp, invalid_parameter, parse_timestamp
from amidash.sandbox.extensions.pagination import PageLimits, read_page_request, take_page

DISABLED, AUDIT_MODE, ENABLED = "disabled", "audit-mode", "enabled"
ACCOUNT, DECLARATIVE_POLICY = "account", "declarative-policy"
PROVIDER_ALIASES = ("amazon", "aws-marketplace", "aws-backup-vault")
MAX_CRITERIA, MAX_PROVIDERS, MAX_NAMES, MAX_PRODUCT_CODES = 10, 200, 50, 50
NAME_PATTERN = re.compile(r"^[A-Za-z0-9()\[\]./\-'@_*? ]{1,128}$")
PRODUCT_CODE_PATTERN = re.compile(r"^[A-Za-z0-9]{1,25}$")
METADATA_PAGE = PageLimits(1, 1000)

#: The account+Region backend a DescribeImages answer is for (its ImageAllowed flags).
_viewer: contextvars.ContextVar[Any] = contextvars.ContextVar("allowed_images_viewer")


@dataclass
class AllowedImagesSetting:
    """One account+Region's Allowed AMIs setting."""

    state: str = DISABLED
    criteria: list[dict[str, Any]] = field(default_factory=list)
    managed_by: str = ACCOUNT


@dataclass(frozen=True)
class ImageFacts:
    """What the criteria look at in an image."""

    owner_id: str
    owner_alias: str | None
    name: str
    creation_date: datetime | None
    deprecation_time: datetime | None = None
    product_codes: tuple[str, ...] = ()


# --- the rule --------------------------------------------------------------------------------


def _provider_matches(providers: list[str], image: ImageFacts, account_id: str) -> bool:
    for provider in providers:
        if provider == "none":
            if image.owner_id == account_id:
                return True
        elif provider in PROVIDER_ALIASES:
            if image.owner_alias == provider:
                return True
        elif provider == image.owner_id:
            return True
    return False


def _days_since(moment: datetime, now: datetime) -> float:
    return (now - moment) / timedelta(days=1)


def criterion_matches(
    criterion: dict[str, Any], image: ImageFacts, account_id: str, now: datetime
) -> bool:
    """Every condition the criterion sets holds for the image."""
    providers = criterion.get("ImageProviders") or []
    if providers and not _provider_matches(providers, image, account_id):
        return False
    names = criterion.get("ImageNames") or []
    if names and not any(fnmatch.fnmatchcase(image.name or "", name) for name in names):
        return False
    codes = criterion.get("MarketplaceProductCodes") or []
    if codes and not set(codes) & set(image.product_codes):
        return False
    return _age_allowed(criterion, image, now)


def _age_allowed(criterion: dict[str, Any], image: ImageFacts, now: datetime) -> bool:
    """The creation and deprecation age conditions; a not-yet-deprecated image passes the
    latter."""
    created = (criterion.get("CreationDateCondition") or {}).get("MaximumDaysSinceCreated")
    if created is not None and (
        image.creation_date is None or _days_since(image.creation_date, now) > int(created)
    ):
        return False
    deprecated = (criterion.get("DeprecationTimeCondition") or {}).get("MaximumDaysSinceDeprecated")
    moment = image.deprecation_time
    return (
        deprecated is None
        or moment is None
        or moment > now
        or (_days_since(moment, now) <= int(deprecated))
    )


def image_allowed(
    criteria: list[dict[str, Any]], image: ImageFacts, account_id: str, now: datetime
) -> bool:
    """Allowed for the account: its own, or matched by any criterion."""
    if image.owner_id == account_id:
        return True
    return any(criterion_matches(c, image, account_id, now) for c in criteria)


# --- state -----------------------------------------------------------------------------------


def setting_of(backend: Any) -> AllowedImagesSetting:
    setting = backend.__dict__.get("allowed_images_setting")
    if setting is None:
        setting = backend.allowed_images_setting = AllowedImagesSetting()
    return setting


def set_allowed_images_setting(
    backend: Any,
    state: str,
    criteria: list[dict[str, Any]] | None = None,
    managed_by: str = ACCOUNT,
) -> AllowedImagesSetting:
    """Set an account+Region's setting directly: how the estate marks a Region as managed by
    a declarative policy (which the API cannot do)."""
    setting = setting_of(backend)
    setting.state, setting.managed_by = state, managed_by
    if criteria is not None:
        setting.criteria = validate_criteria(criteria)
    return setting


def facts_of(image: Ami) -> ImageFacts:
    creation = image.creation_date
    return ImageFacts(
        owner_id=image.owner_id,
        owner_alias=image.owner_alias,
        name=image.name or "",
        creation_date=parse_timestamp(creation) if creation else None,
        deprecation_time=image.deprecate_at,
        product_codes=tuple(image.product_codes or ()),
    )


def allowed_for(backend: Any, image: Ami) -> bool:
    setting = setting_of(backend)
    return image_allowed(setting.criteria, facts_of(image), backend.account_id, clock.now())


def hides(backend: Any, image: Ami) -> bool:
    """Enabled: an image the criteria do not allow is not discoverable."""
    return setting_of(backend).state == ENABLED and not allowed_for(backend, image)


def _image_allowed_flag(self: Ami) -> bool | None:
    """ImageAllowed as DescribeImages reports it to the account asking (absent when disabled)."""
    backend = _viewer.get(None)
    if backend is None or setting_of(backend).state == DISABLED:
        return None
    return allowed_for(backend, self)


def set_viewer(backend: Any) -> None:
    _viewer.set(backend)


# --- validation ------------------------------------------------------------------------------


def _check_providers(providers: list[str]) -> None:
    if len(providers) > MAX_PROVIDERS:
        raise invalid_parameter(f"An image criterion can have at most {MAX_PROVIDERS} providers.")
    for provider in providers:
        if provider not in (*PROVIDER_ALIASES, "none") and not re.fullmatch(r"\d{12}", provider):
            raise invalid_parameter(f"The image provider '{provider}' is not valid.")
    if "none" in providers and len(providers) > 1:
        raise invalid_parameter("When 'none' is specified, no other image providers can be.")


def _check_names(names: list[str]) -> None:
    if len(names) > MAX_NAMES:
        raise invalid_parameter(f"An image criterion can have at most {MAX_NAMES} image names.")
    for name in names:
        if not NAME_PATTERN.match(name) or ("?" in name and len(name) < 3):
            raise invalid_parameter(f"The image name '{name}' is not valid.")


def _check_days(value: Any, label: str) -> int:
    try:
        days = int(value)
    except (TypeError, ValueError):
        raise invalid_parameter(f"{label} must be a number of days.") from None
    if days < 0:
        raise invalid_parameter(f"{label} cannot be negative.")
    return days


def validate_criterion(raw: dict[str, Any]) -> dict[str, Any]:
    criterion: dict[str, Any] = {}
    providers = list(raw.get("ImageProviders") or [])
    _check_providers(providers)
    names = list(raw.get("ImageNames") or [])
    _check_names(names)
    codes = list(raw.get("MarketplaceProductCodes") or [])
    if len(codes) > MAX_PRODUCT_CODES or not all(PRODUCT_CODE_PATTERN.match(c) for c in codes):
        raise invalid_parameter("The marketplace product codes are not valid.")
    for key, value in (
        ("ImageProviders", providers),
        ("ImageNames", names),
        ("MarketplaceProductCodes", codes),
    ):
        if value:
            criterion[key] = value
    created = (raw.get("CreationDateCondition") or {}).get("MaximumDaysSinceCreated")
    if created is not None:
        days = _check_days(created, "MaximumDaysSinceCreated")
        criterion["CreationDateCondition"] = {"MaximumDaysSinceCreated": days}
    deprecated = (raw.get("DeprecationTimeCondition") or {}).get("MaximumDaysSinceDeprecated")
    if deprecated is not None:
        days = _check_days(deprecated, "MaximumDaysSinceDeprecated")
        criterion["DeprecationTimeCondition"] = {"MaximumDaysSinceDeprecated": days}
    return criterion


def validate_criteria(criteria: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(criteria) > MAX_CRITERIA:
        raise invalid_parameter(f"You can specify at most {MAX_CRITERIA} image criteria.")
    return [validate_criterion(criterion) for criterion in criteria]


def _account_managed(backend: Any) -> AllowedImagesSetting:
    setting = setting_of(backend)
    if setting.managed_by == DECLARATIVE_POLICY:
        raise EC2ClientError(
            "OperationNotPermitted",
            "The Allowed AMIs settings of this account and Region are managed by a declarative "
            "policy and cannot be modified by the account.",
        )
    return setting


# --- responses (methods added to moto's AmisResponse) -----------------------------------------


def get_allowed_images_settings(self: Any) -> ActionResult:
    self.error_on_dryrun()
    setting = setting_of(self.ec2_backend)
    answer: dict[str, Any] = {"State": setting.state, "ManagedBy": setting.managed_by}
    if setting.criteria:
        answer["ImageCriteria"] = setting.criteria
    return ActionResult(answer)


def enable_allowed_images_settings(self: Any) -> ActionResult:
    state = self._get_param("AllowedImagesSettingsState")
    if state not in (ENABLED, AUDIT_MODE):
        raise invalid_parameter(
            f"The AllowedImagesSettingsState '{state}' is not valid; use enabled or audit-mode."
        )
    setting = _account_managed(self.ec2_backend)
    self.error_on_dryrun()
    setting.state = state
    return ActionResult({"AllowedImagesSettingsState": state})


def disable_allowed_images_settings(self: Any) -> ActionResult:
    setting = _account_managed(self.ec2_backend)
    self.error_on_dryrun()
    setting.state = DISABLED
    return ActionResult({"AllowedImagesSettingsState": DISABLED})


def replace_image_criteria_in_allowed_images_settings(self: Any) -> ActionResult:
    criteria = validate_criteria(self._get_param("ImageCriteria", []) or [])
    setting = _account_managed(self.ec2_backend)
    self.error_on_dryrun()
    setting.criteria = criteria
    return ActionResult({"ReturnValue": True})


def _image_metadata(backend: Any, image_id: str) -> dict[str, Any]:
    from amidash.sandbox.extensions.images import find_image

    image = backend.amis.get(image_id) or find_image(backend.region_name, image_id)
    if image is None:  # deregistered, or no longer visible: only its id is known
        return {"ImageId": image_id}
    metadata = {
        "ImageId": image.id,
        "Name": image.name,
        "OwnerId": image.owner_id,
        "State": image.state,
        "CreationDate": aws_timestamp(parse_timestamp(image.creation_date)),
        "IsPublic": bool(image.is_public),
    }
    if image.owner_alias:
        metadata["ImageOwnerAlias"] = image.owner_alias
    if image.deprecation_time:
        metadata["DeprecationTime"] = image.deprecation_time
    if setting_of(backend).state != DISABLED:
        metadata["ImageAllowed"] = allowed_for(backend, image)
    return metadata


def _instance_metadata(backend: Any, instance: Any) -> dict[str, Any]:
    return {
        "InstanceId": instance.id,
        "InstanceType": instance.instance_type,
        "LaunchTime": parse_timestamp(instance.launch_time),
        "AvailabilityZone": instance.placement,
        "State": {"Code": instance._state.code, "Name": instance._state.name},
        "OwnerId": backend.account_id,
        "ImageMetadata": _image_metadata(backend, instance.image_id),
    }


def _state_filter(filters: dict[str, list[str]]) -> set[str] | None:
    unknown = set(filters) - {"instance-state-name", "instance-id"}
    if unknown:
        raise invalid_parameter(f"The filter '{sorted(unknown)[0]}' is not supported.")
    return set(filters["instance-state-name"]) if "instance-state-name" in filters else None


def describe_instance_image_metadata(self: Any) -> ActionResult:
    self.error_on_dryrun()
    request = read_page_request(self.params, "DescribeInstanceImageMetadata", METADATA_PAGE)
    backend = self.ec2_backend
    wanted = set(self._get_param("InstanceIds", []) or [])
    filters = self._filters_from_querystring() or {}
    states = _state_filter(filters)
    wanted |= set(filters.get("instance-id", []))
    entries = [
        _instance_metadata(backend, instance)
        for reservation in list(backend.reservations.values())
        for instance in reservation.instances
        if instance.state != "terminated"
        and (not wanted or instance.id in wanted)
        and (states is None or instance.state in states)
    ]
    page, token = take_page(entries, lambda entry: entry["InstanceId"], request)
    return ActionResult({"InstanceImageMetadata": page, "NextToken": token})


def install() -> None:
    from moto.ec2.responses.amis import AmisResponse

    if getattr(AmisResponse, "_amidash_allowed_images", False):
        return
    Ami.image_allowed = property(_image_allowed_flag)
    for handler in (
        get_allowed_images_settings,
        enable_allowed_images_settings,
        disable_allowed_images_settings,
        replace_image_criteria_in_allowed_images_settings,
        describe_instance_image_metadata,
    ):
        setattr(AmisResponse, handler.__name__, handler)
    AmisResponse._amidash_allowed_images = True
