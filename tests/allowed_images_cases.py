"""Shared cases of the Allowed AMIs rule, run against the sandbox's rule and the product's
evaluator (inventory/allowed_images.py) so the two agree.

How Allowed AMIs decides (EC2 API reference, ImageCriterion; EC2 User Guide, "How Allowed AMIs
works"): an image is allowed when any criterion matches it; a criterion matches when the image
meets every parameter it sets; images owned by the account are never restricted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

ACCOUNT = "111111111111"
VENDOR = "222222222222"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    """One image under some criteria, and whether Allowed AMIs allows it."""

    id: str
    criteria: list[dict[str, Any]]
    owner_id: str
    name: str
    created_days_ago: float
    allowed: bool
    owner_alias: str | None = None
    deprecated_days_ago: float | None = None


AMAZON = {"ImageProviders": ["amazon"]}
CASES = [
    Case("own image under no criteria", [], ACCOUNT, "app-1", 400, True),
    Case("own image under provider none", [{"ImageProviders": ["none"]}], ACCOUNT, "a", 9, True),
    Case("public image under no criteria", [], VENDOR, "x", 1, False),
    Case(
        "amazon provider matches amazon alias",
        [AMAZON],
        "137112412989",
        "al2023",
        5,
        True,
        "amazon",
    ),
    Case("amazon provider refuses other accounts", [AMAZON], VENDOR, "al2023", 5, False),
    Case("account provider", [{"ImageProviders": [VENDOR]}], VENDOR, "x", 5, True),
    Case("provider none refuses others", [{"ImageProviders": ["none"]}], VENDOR, "x", 1, False),
    Case(
        "name wildcard matches",
        [{"ImageProviders": [VENDOR], "ImageNames": ["golden-*"]}],
        VENDOR,
        "golden-2026.05",
        5,
        True,
    ),
    Case(
        "name and provider must both match",
        [{"ImageProviders": [VENDOR], "ImageNames": ["golden-*"]}],
        VENDOR,
        "scratch-1",
        5,
        False,
    ),
    Case(
        "question mark matches one character", [{"ImageNames": ["ap?-*"]}], VENDOR, "api-1", 5, True
    ),
    Case("names are case sensitive", [{"ImageNames": ["Golden-*"]}], VENDOR, "golden-1", 5, False),
    Case(
        "creation age within the limit",
        [{"ImageProviders": [VENDOR], "CreationDateCondition": {"MaximumDaysSinceCreated": 30}}],
        VENDOR,
        "x",
        29.5,
        True,
    ),
    Case(
        "creation age over the limit",
        [{"ImageProviders": [VENDOR], "CreationDateCondition": {"MaximumDaysSinceCreated": 30}}],
        VENDOR,
        "x",
        31,
        False,
    ),
    Case(
        "not deprecated passes the deprecation condition",
        [{"DeprecationTimeCondition": {"MaximumDaysSinceDeprecated": 0}}],
        VENDOR,
        "x",
        100,
        True,
    ),
    Case(
        "deprecated within the limit",
        [{"DeprecationTimeCondition": {"MaximumDaysSinceDeprecated": 10}}],
        VENDOR,
        "x",
        100,
        True,
        deprecated_days_ago=3,
    ),
    Case(
        "deprecated for longer than the limit",
        [{"DeprecationTimeCondition": {"MaximumDaysSinceDeprecated": 10}}],
        VENDOR,
        "x",
        100,
        False,
        deprecated_days_ago=11,
    ),
    Case(
        "deprecation in the future is not deprecated",
        [{"DeprecationTimeCondition": {"MaximumDaysSinceDeprecated": 0}}],
        VENDOR,
        "x",
        100,
        True,
        deprecated_days_ago=-5,
    ),
    Case(
        "any criterion is enough",
        [{"ImageProviders": ["amazon"]}, {"ImageNames": ["golden-*"]}],
        VENDOR,
        "golden-2",
        5,
        True,
    ),
    Case(
        "own image outside every criterion",
        [{"ImageNames": ["golden-*"], "CreationDateCondition": {"MaximumDaysSinceCreated": 1}}],
        ACCOUNT,
        "scratch",
        900,
        True,
    ),
]
