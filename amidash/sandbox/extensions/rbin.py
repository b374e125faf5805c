"""Recycle Bin: the `rbin` service (retention rules) and the EC2 calls for images in the bin.

moto has neither. Rules are kept per account and Region; an image deregistered while a rule
matches it leaves DescribeImages and waits in its backend's bin until restored or until the
retention period (read on the sandbox clock) has passed, when it is gone for good.
"""

from __future__ import annotations

import re
import string
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, BaseResponse, EmptyResult
from moto.ec2.exceptions import InvalidAMIIdError
from moto.ec2.models.amis import Ami
from moto.moto_api._internal import mock_random

from amidash.sandbox import clock
from amidash.sandbox.extensions.common import missing_parameter, region_exists, resource_tags
from amidash.sandbox.extensions.pagination import (
    EC2_RECYCLE_BIN,
    PageLimits,
    read_page_request,
    take_page,
)

RESOURCE_TYPES = ("EC2_IMAGE", "EBS_SNAPSHOT")
RETENTION_DAYS = (1, 365)
UNLOCK_DELAY_DAYS = (7, 30)


class RecycleBinError(ServiceException):
    def __init__(self, code: str, message: str, reason: str | None = None) -> None:
        super().__init__(code, message)
        self.reason = reason


def validation_error(message: str, reason: str = "INVALID_PARAMETER_VALUE") -> RecycleBinError:
    return RecycleBinError("ValidationException", message, reason)


def _rbin_page_error(kind: str, message: str) -> Exception:
    reason = "INVALID_PAGE_TOKEN" if kind == "token" else "INVALID_PARAMETER_VALUE"
    return validation_error(message, reason)


RBIN_LIST = PageLimits(1, 1000, error=_rbin_page_error)


@dataclass
class RetentionRule:
    """A Recycle Bin retention rule: which deleted resources are kept, and for how long."""

    identifier: str
    account_id: str
    region: str
    resource_type: str
    retention_days: int
    description: str = ""
    resource_tags: list[dict[str, str]] = field(default_factory=list)
    exclude_resource_tags: list[dict[str, str]] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    unlock_delay_days: int | None = None
    locked: bool = False
    unlock_at: datetime | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:rbin:{self.region}:{self.account_id}:rule/{self.identifier}"

    @property
    def is_region_level(self) -> bool:
        return not self.resource_tags

    def lock_state(self, now: datetime | None = None) -> str | None:
        if self.unlock_delay_days is None:
            return None
        if self.locked:
            return "locked"
        if self.unlock_at is not None and (now or clock.now()) < self.unlock_at:
            return "pending_unlock"
        return "unlocked"

    def matches(self, tags: dict[str, str]) -> bool:
        """Would this rule retain a deleted resource with these tags?"""
        if self.resource_tags:
            return any(_tag_matches(tag, tags) for tag in self.resource_tags)
        return not any(_tag_matches(tag, tags) for tag in self.exclude_resource_tags)

    def summary(self) -> dict[str, Any]:
        return _without_none(
            {
                "Identifier": self.identifier,
                "Description": self.description,
                "RetentionPeriod": self.retention_period,
                "LockState": self.lock_state(),
                "RuleArn": self.arn,
            }
        )

    def detail(self) -> dict[str, Any]:
        state = self.lock_state()
        return _without_none(
            {
                "Identifier": self.identifier,
                "Description": self.description,
                "ResourceType": self.resource_type,
                "RetentionPeriod": self.retention_period,
                "ResourceTags": self.resource_tags,
                "ExcludeResourceTags": self.exclude_resource_tags or None,
                "Status": "available",
                "LockConfiguration": self.lock_configuration,
                "LockState": state,
                "LockEndTime": self.unlock_at if state == "pending_unlock" else None,
                "RuleArn": self.arn,
            }
        )

    @property
    def retention_period(self) -> dict[str, Any]:
        return {"RetentionPeriodValue": self.retention_days, "RetentionPeriodUnit": "DAYS"}

    @property
    def lock_configuration(self) -> dict[str, Any] | None:
        if self.unlock_delay_days is None:
            return None
        return {
            "UnlockDelay": {"UnlockDelayValue": self.unlock_delay_days, "UnlockDelayUnit": "DAYS"}
        }


def _tag_matches(rule_tag: dict[str, str], tags: dict[str, str]) -> bool:
    key = rule_tag.get("ResourceTagKey")
    if key not in tags:
        return False
    value = rule_tag.get("ResourceTagValue")
    return value in (None, "") or tags[key] == value


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


class RecycleBinBackend(BaseBackend):
    """Retention rules of one account in one Region."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.rules: dict[str, RetentionRule] = {}

    @property
    def _url_module(self) -> Any:  # moto reads url_bases / url_paths from here
        return SimpleNamespace(url_bases=URL_BASES, url_paths=URL_PATHS)

    def create_rule(
        self,
        resource_type: str,
        retention: dict[str, Any],
        description: str,
        resource_tags: list[dict[str, str]],
        exclude_resource_tags: list[dict[str, str]],
        lock_configuration: dict[str, Any] | None,
        tags: list[dict[str, str]],
    ) -> RetentionRule:
        if resource_type not in RESOURCE_TYPES:
            raise validation_error(f"Invalid resource type: {resource_type}")
        days = _retention_days(retention)
        if resource_tags and exclude_resource_tags:
            raise validation_error("ExcludeResourceTags is only supported for Region-level rules.")
        unlock_delay = None
        if lock_configuration:
            if resource_tags:
                raise validation_error("Only Region-level retention rules can be locked.")
            unlock_delay = _unlock_delay_days(lock_configuration)
        identifier = "".join(
            mock_random.choice(string.ascii_letters + string.digits) for _ in range(11)
        )
        rule = RetentionRule(
            identifier=identifier,
            account_id=self.account_id,
            region=self.region_name,
            resource_type=resource_type,
            retention_days=days,
            description=description or "",
            resource_tags=resource_tags or [],
            exclude_resource_tags=exclude_resource_tags or [],
            tags=tags or [],
            unlock_delay_days=unlock_delay,
            locked=unlock_delay is not None,
        )
        self.rules[identifier] = rule
        return rule

    def get_rule(self, identifier: str) -> RetentionRule:
        rule = self.rules.get(identifier)
        if rule is None:
            raise RecycleBinError(
                "ResourceNotFoundException",
                f"The specified retention rule '{identifier}' does not exist.",
                "RULE_NOT_FOUND",
            )
        return rule

    def delete_rule(self, identifier: str) -> None:
        rule = self.get_rule(identifier)
        if rule.lock_state() in ("locked", "pending_unlock"):
            raise RecycleBinError(
                "ConflictException",
                f"The retention rule '{identifier}' is {rule.lock_state()} and cannot be deleted.",
                "INVALID_RULE_STATE",
            )
        del self.rules[identifier]

    def lock_rule(self, identifier: str, lock_configuration: dict[str, Any]) -> RetentionRule:
        rule = self.get_rule(identifier)
        if not rule.is_region_level:
            raise validation_error("Only Region-level retention rules can be locked.")
        if rule.lock_state() == "locked":
            raise RecycleBinError(
                "ConflictException",
                f"The retention rule '{identifier}' is already locked.",
                "INVALID_RULE_STATE",
            )
        rule.unlock_delay_days = _unlock_delay_days(lock_configuration)
        rule.locked = True
        rule.unlock_at = None
        return rule

    def unlock_rule(self, identifier: str) -> RetentionRule:
        rule = self.get_rule(identifier)
        if rule.lock_state() != "locked":
            raise RecycleBinError(
                "ConflictException",
                f"The retention rule '{identifier}' is not locked.",
                "INVALID_RULE_STATE",
            )
        rule.locked = False
        rule.unlock_at = clock.now() + timedelta(days=rule.unlock_delay_days or 0)
        return rule

    def update_rule(
        self,
        identifier: str,
        retention: dict[str, Any] | None,
        description: str | None,
        resource_tags: list[dict[str, str]] | None,
        exclude_resource_tags: list[dict[str, str]] | None,
    ) -> RetentionRule:
        """Change a rule; a locked (or unlocking) rule only accepts a new description."""
        rule = self.get_rule(identifier)
        changes_scope = retention or resource_tags is not None or exclude_resource_tags is not None
        if changes_scope and rule.lock_state() in ("locked", "pending_unlock"):
            raise RecycleBinError(
                "ConflictException",
                f"The retention rule '{identifier}' is {rule.lock_state()}: only its description "
                "can be changed.",
                "INVALID_RULE_STATE",
            )
        if retention:
            rule.retention_days = _retention_days(retention)
        if description is not None:
            rule.description = description
        if resource_tags is not None:
            if resource_tags and rule.unlock_delay_days is not None:
                raise validation_error("Only Region-level retention rules can be locked.")
            rule.resource_tags = resource_tags
        if exclude_resource_tags is not None:
            rule.exclude_resource_tags = exclude_resource_tags
        return rule

    def tag_rule(self, identifier: str, tags: list[dict[str, str]]) -> None:
        rule = self.get_rule(identifier)
        keys = {tag["Key"] for tag in tags}
        rule.tags = [tag for tag in rule.tags if tag["Key"] not in keys] + list(tags)

    def untag_rule(self, identifier: str, keys: list[str]) -> None:
        rule = self.get_rule(identifier)
        rule.tags = [tag for tag in rule.tags if tag["Key"] not in set(keys)]

    def list_rules(
        self,
        resource_type: str,
        resource_tags: list[dict[str, str]],
        lock_state: str | None,
    ) -> list[RetentionRule]:
        rules = [rule for rule in self.rules.values() if rule.resource_type == resource_type]
        if resource_tags:
            rules = [rule for rule in rules if rule.resource_tags == resource_tags]
        if lock_state:
            rules = [rule for rule in rules if rule.lock_state() == lock_state]
        return rules


def _retention_days(retention: dict[str, Any] | None) -> int:
    if not retention:
        raise validation_error("RetentionPeriod is required.")
    if retention.get("RetentionPeriodUnit") != "DAYS":
        raise validation_error("RetentionPeriodUnit must be DAYS.")
    days = int(retention.get("RetentionPeriodValue", 0))
    low, high = RETENTION_DAYS
    if not low <= days <= high:
        raise validation_error(
            f"RetentionPeriodValue {days} is out of range: it must be {low} to {high} days."
        )
    return days


def _unlock_delay_days(lock_configuration: dict[str, Any]) -> int:
    delay = lock_configuration.get("UnlockDelay") or {}
    if delay.get("UnlockDelayUnit") != "DAYS":
        raise validation_error("UnlockDelayUnit must be DAYS.")
    days = int(delay.get("UnlockDelayValue", 0))
    low, high = UNLOCK_DELAY_DAYS
    if not low <= days <= high:
        raise validation_error(
            f"UnlockDelayValue {days} is out of range: it must be {low} to {high} days."
        )
    return days


rbin_backends = BackendDict(RecycleBinBackend, "rbin")


class RecycleBinResponse(BaseResponse):
    """The rbin REST API; moto routes each request to the operation by botocore's model."""

    def __init__(self) -> None:
        super().__init__(service_name="rbin")
        self.automated_parameter_parsing = True

    @property
    def backend(self) -> RecycleBinBackend:
        return rbin_backends[self.current_account][self.region]

    def create_rule(self) -> ActionResult:
        rule = self.backend.create_rule(
            resource_type=self._get_param("ResourceType"),
            retention=self._get_param("RetentionPeriod"),
            description=self._get_param("Description", ""),
            resource_tags=self._get_param("ResourceTags", []),
            exclude_resource_tags=self._get_param("ExcludeResourceTags", []),
            lock_configuration=self._get_param("LockConfiguration"),
            tags=self._get_param("Tags", []),
        )
        return ActionResult(rule.detail() | {"Tags": rule.tags})

    def get_rule(self) -> ActionResult:
        return ActionResult(self.backend.get_rule(self._get_param("Identifier")).detail())

    def delete_rule(self) -> ActionResult:
        self.backend.delete_rule(self._get_param("Identifier"))
        return EmptyResult()

    def lock_rule(self) -> ActionResult:
        rule = self.backend.lock_rule(
            self._get_param("Identifier"), self._get_param("LockConfiguration") or {}
        )
        return ActionResult(rule.detail())

    def unlock_rule(self) -> ActionResult:
        return ActionResult(self.backend.unlock_rule(self._get_param("Identifier")).detail())

    def list_rules(self) -> ActionResult:
        request = read_page_request(self.params, "ListRules", RBIN_LIST)
        rules = self.backend.list_rules(
            resource_type=self._get_param("ResourceType"),
            resource_tags=self._get_param("ResourceTags", []),
            lock_state=self._get_param("LockState"),
        )
        page, token = take_page(rules, lambda rule: rule.identifier, request)
        return ActionResult({"Rules": [rule.summary() for rule in page], "NextToken": token})

    def update_rule(self) -> ActionResult:
        rule = self.backend.update_rule(
            self._get_param("Identifier"),
            retention=self._get_param("RetentionPeriod"),
            description=self._get_param("Description"),
            resource_tags=self._get_param("ResourceTags"),
            exclude_resource_tags=self._get_param("ExcludeResourceTags"),
        )
        return ActionResult(rule.detail())

    def tag_resource(self) -> ActionResult:
        self.backend.tag_rule(self._rule_for_arn().identifier, self._get_param("Tags", []))
        return EmptyResult()

    def untag_resource(self) -> ActionResult:
        self.backend.untag_rule(self._rule_for_arn().identifier, self._get_param("TagKeys", []))
        return EmptyResult()

    def list_tags_for_resource(self) -> ActionResult:
        return ActionResult({"Tags": self._rule_for_arn().tags})

    def _rule_for_arn(self) -> RetentionRule:
        arn = self._get_param("ResourceArn") or ""
        return self.backend.get_rule(arn.rsplit("/", 1)[-1])


URL_BASES = [r"https?://rbin\.(.+)\.amazonaws\.com"]
URL_PATHS = {
    "{0}/rules$": RecycleBinResponse.dispatch,
    "{0}/list-rules$": RecycleBinResponse.dispatch,
    "{0}/rules/(?P<identifier>[^/]+)$": RecycleBinResponse.dispatch,
    "{0}/rules/(?P<identifier>[^/]+)/lock$": RecycleBinResponse.dispatch,
    "{0}/rules/(?P<identifier>[^/]+)/unlock$": RecycleBinResponse.dispatch,
    "{0}/tags/(?P<resourceArn>.+)$": RecycleBinResponse.dispatch,
}


# --- images in the bin (EC2 side) ----------------------------------------------------------


@dataclass
class BinEntry:
    """An image deregistered under a retention rule, restorable until `exits`."""

    image: Ami
    entered: datetime
    exits: datetime
    rule_id: str


def _bin(backend: Any) -> dict[str, BinEntry]:
    # Kept on the EC2 backend, so moto's reset empties the bin with everything else.
    return backend.__dict__.setdefault("amidash_recycle_bin", {})


def purge_expired(backend: Any) -> None:
    """Images whose retention has ended are deleted for good."""
    now = clock.now()
    store = _bin(backend)
    for image_id in [i for i, entry in store.items() if entry.exits <= now]:
        del store[image_id]


def bin_entries(backend: Any) -> list[BinEntry]:
    purge_expired(backend)
    return list(_bin(backend).values())


def matching_rule(account_id: str, region: str, image: Ami) -> RetentionRule | None:
    """The rule that retains this image if it is deregistered now (longest retention wins)."""
    per_account = rbin_backends[account_id]
    if not region_exists(per_account, region):
        return None
    tags = resource_tags(image)
    rules = [
        rule
        for rule in per_account[region].rules.values()
        if rule.resource_type == "EC2_IMAGE" and rule.matches(tags)
    ]
    return max(rules, key=lambda rule: rule.retention_days, default=None)


def retain(backend: Any, image: Ami, rule: RetentionRule) -> BinEntry:
    now = clock.now()
    backend.amis.pop(image.id)
    backend.deleted_amis.append(image.id)
    entry = BinEntry(image, now, now + timedelta(days=rule.retention_days), rule.identifier)
    _bin(backend)[image.id] = entry
    return entry


def restore(backend: Any, image_id: str) -> Ami:
    purge_expired(backend)
    entry = _bin(backend).pop(image_id, None)
    if entry is None:
        raise InvalidAMIIdError(image_id)
    backend.amis[image_id] = entry.image
    while image_id in backend.deleted_amis:
        backend.deleted_amis.remove(image_id)
    entry.image.state = "available"
    return entry.image


def list_images_in_recycle_bin(self: Any) -> ActionResult:
    self.error_on_dryrun()
    request = read_page_request(self.params, "ListImagesInRecycleBin", EC2_RECYCLE_BIN)
    wanted = set(self._get_param("ImageIds", []))
    entries = [e for e in bin_entries(self.ec2_backend) if not wanted or e.image.id in wanted]
    page, token = take_page(entries, lambda entry: entry.image.id, request)
    images = [
        {
            "ImageId": entry.image.id,
            "Name": entry.image.name,
            "Description": entry.image.description,
            "RecycleBinEnterTime": entry.entered,
            "RecycleBinExitTime": entry.exits,
        }
        for entry in page
    ]
    return ActionResult({"Images": images, "NextToken": token})


def restore_image_from_recycle_bin(self: Any) -> ActionResult:
    image_id = self._get_param("ImageId")
    if not image_id:
        raise missing_parameter("ImageId")
    self.error_on_dryrun()
    restore(self.ec2_backend, image_id)
    return ActionResult({"Return": True})


def install() -> None:
    """Register `rbin` with moto (in-process stubber and server dispatcher) and the EC2 calls."""
    import moto.backend_index as backend_index
    from moto.ec2.responses.amis import AmisResponse

    sys.modules.setdefault("moto.rbin", sys.modules[__name__])
    if not any(service == "rbin" for service, _ in backend_index.backend_url_patterns):
        # In place: the server's dispatcher holds a reference to this very list.
        backend_index.backend_url_patterns.append(
            ("rbin", re.compile(r"https?://rbin\.(.+)\.amazonaws\.com"))
        )
    AmisResponse.list_images_in_recycle_bin = list_images_in_recycle_bin
    AmisResponse.restore_image_from_recycle_bin = restore_image_from_recycle_bin
