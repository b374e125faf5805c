"""Allowed AMIs: the one home of "is this image allowed under these criteria".

The rule, as the EC2 API reference (ImageCriterion) and the EC2 User Guide ("How Allowed AMIs
works") state it: an image is allowed when any criterion matches it; a criterion matches when
the image meets every parameter it sets (providers, name patterns with ``*`` and ``?``,
Marketplace product codes, the creation and deprecation age conditions); images owned by the
account are never restricted. The compliance page, its simulator and the lifecycle action all
ask ``image_allowed`` and check criteria with ``clean_criteria``; tests run the same cases
against this and against the sandbox (tests/allowed_images_cases.py).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

PROVIDER_ALIASES = ("amazon", "aws-marketplace", "aws-backup-vault")
MAX_CRITERIA, MAX_PROVIDERS, MAX_NAMES = 10, 200, 50
NAME_PATTERN = re.compile(r"^[A-Za-z0-9()\[\]./\-'@_*? ]{1,128}$")
ACCOUNT_ID = re.compile(r"^\d{12}$")


class CriteriaError(ValueError):
    """Criteria AWS would refuse; ``messages`` says each reason."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class ImageFacts:
    """What the criteria look at in an image."""

    image_id: str
    owner_id: str
    name: str
    creation_date: datetime | None
    owner_alias: str = ""
    deprecation_time: datetime | None = None


def _provider_matches(providers: list[str], image: ImageFacts, account_id: str) -> bool:
    for provider in providers:
        if provider == "none":
            matched = image.owner_id == account_id
        elif provider in PROVIDER_ALIASES:
            matched = image.owner_alias == provider
        else:
            matched = provider == image.owner_id
        if matched:
            return True
    return False


def _days_since(moment: datetime, now: datetime) -> float:
    return (now - moment) / timedelta(days=1)


def _ages_allowed(criterion: dict[str, Any], image: ImageFacts, now: datetime) -> bool:
    """The creation and deprecation age conditions (an image not yet deprecated passes the
    latter)."""
    created = (criterion.get("CreationDateCondition") or {}).get("MaximumDaysSinceCreated")
    if created is not None and (
        image.creation_date is None or _days_since(image.creation_date, now) > int(created)
    ):
        return False
    deprecated = (criterion.get("DeprecationTimeCondition") or {}).get("MaximumDaysSinceDeprecated")
    moment = image.deprecation_time
    if deprecated is None or moment is None or moment > now:
        return True
    return _days_since(moment, now) <= int(deprecated)


def criterion_matches(
    criterion: dict[str, Any], image: ImageFacts, account_id: str, now: datetime
) -> bool:
    """Every parameter the criterion sets holds for the image."""
    providers = criterion.get("ImageProviders") or []
    if providers and not _provider_matches(providers, image, account_id):
        return False
    names = criterion.get("ImageNames") or []
    if names and not any(fnmatch.fnmatchcase(image.name, pattern) for pattern in names):
        return False
    return _ages_allowed(criterion, image, now)


def image_allowed(
    criteria: list[dict[str, Any]], image: ImageFacts, account_id: str, now: datetime
) -> bool:
    """Whether Allowed AMIs allows the image for the account under these criteria."""
    if image.owner_id == account_id:
        return True
    return any(criterion_matches(c, image, account_id, now) for c in criteria)


# --- checking criteria ------------------------------------------------------------------------


def _provider_messages(providers: list[str]) -> list[str]:
    messages = [
        f"'{p}' is not an image provider (amazon, aws-marketplace, aws-backup-vault, none or a "
        "12-digit account id)."
        for p in providers
        if p not in (*PROVIDER_ALIASES, "none") and not ACCOUNT_ID.match(p)
    ]
    if "none" in providers and len(providers) > 1:
        messages.append("'none' (only the account's own images) cannot be combined with others.")
    if len(providers) > MAX_PROVIDERS:
        messages.append(f"At most {MAX_PROVIDERS} providers per criterion.")
    return messages


def _name_messages(names: list[str]) -> list[str]:
    messages = [
        f"'{name}' is not a valid name pattern (1 to 128 letters, digits, spaces or "
        "( ) [ ] . / - ' @ _ * ?; at least 3 characters with ?)."
        for name in names
        if not NAME_PATTERN.match(name) or ("?" in name and len(name) < 3)
    ]
    if len(names) > MAX_NAMES:
        messages.append(f"At most {MAX_NAMES} name patterns per criterion.")
    return messages


def _days(value: Any, label: str, messages: list[str]) -> int | None:
    if value in (None, ""):
        return None
    try:
        days = int(value)
    except (TypeError, ValueError):
        messages.append(f"{label} must be a whole number of days.")
        return None
    if days < 0:
        messages.append(f"{label} cannot be negative.")
        return None
    return days


def clean_criterion(raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """One criterion in AWS's shape without empty parameters, and what is wrong with it."""
    providers = [str(p).strip() for p in raw.get("ImageProviders") or [] if str(p).strip()]
    names = [str(n).strip() for n in raw.get("ImageNames") or [] if str(n).strip()]
    messages = _provider_messages(providers) + _name_messages(names)
    criterion: dict[str, Any] = {}
    if providers:
        criterion["ImageProviders"] = providers
    if names:
        criterion["ImageNames"] = names
    created = _days(
        (raw.get("CreationDateCondition") or {}).get("MaximumDaysSinceCreated"),
        "Maximum days since created",
        messages,
    )
    if created is not None:
        criterion["CreationDateCondition"] = {"MaximumDaysSinceCreated": created}
    deprecated = _days(
        (raw.get("DeprecationTimeCondition") or {}).get("MaximumDaysSinceDeprecated"),
        "Maximum days since deprecated",
        messages,
    )
    if deprecated is not None:
        criterion["DeprecationTimeCondition"] = {"MaximumDaysSinceDeprecated": deprecated}
    return criterion, messages


def clean_criteria(raw: Any) -> list[dict[str, Any]]:
    """Criteria as ReplaceImageCriteriaInAllowedImagesSettings takes them; ``CriteriaError``
    with every reason AWS would refuse them (and empty criteria, which allow nothing)."""
    if not isinstance(raw, list) or not all(isinstance(c, dict) for c in raw):
        raise CriteriaError(["The criteria must be a list of criteria."])
    messages: list[str] = []
    criteria = []
    for number, entry in enumerate(raw, start=1):
        criterion, problems = clean_criterion(entry)
        messages += [f"Criterion {number}: {problem}" for problem in problems]
        if criterion:
            criteria.append(criterion)
        elif not problems:
            messages.append(f"Criterion {number} is empty: give it at least one condition.")
    if len(criteria) > MAX_CRITERIA:
        messages.append(f"At most {MAX_CRITERIA} criteria.")
    if messages:
        raise CriteriaError(messages)
    return criteria
