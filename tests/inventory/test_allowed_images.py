"""The product's Allowed AMIs rule agrees with the shared cases (and so with the sandbox), and
refuses criteria AWS would refuse with a message per reason."""

from __future__ import annotations

from datetime import timedelta

import pytest

from inventory.allowed_images import CriteriaError, ImageFacts, clean_criteria, image_allowed
from tests.allowed_images_cases import ACCOUNT, CASES, NOW, Case


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_it_agrees_with_the_shared_cases(case: Case):
    facts = ImageFacts(
        image_id="ami-0123456789abcdef0",
        owner_id=case.owner_id,
        name=case.name,
        creation_date=NOW - timedelta(days=case.created_days_ago),
        owner_alias=case.owner_alias or "",
        deprecation_time=(
            None
            if case.deprecated_days_ago is None
            else NOW - timedelta(days=case.deprecated_days_ago)
        ),
    )

    assert image_allowed(case.criteria, facts, ACCOUNT, NOW) is case.allowed


def test_it_cleans_criteria_into_aws_shape():
    raw = [
        {
            "ImageProviders": [" amazon ", ""],
            "ImageNames": ["golden-*"],
            "CreationDateCondition": {"MaximumDaysSinceCreated": "30"},
            "DeprecationTimeCondition": {"MaximumDaysSinceDeprecated": ""},
        }
    ]

    assert clean_criteria(raw) == [
        {
            "ImageProviders": ["amazon"],
            "ImageNames": ["golden-*"],
            "CreationDateCondition": {"MaximumDaysSinceCreated": 30},
        }
    ]


@pytest.mark.parametrize(
    "raw, message",
    [
        ([{"ImageProviders": ["somebody"]}], "'somebody' is not an image provider"),
        ([{"ImageProviders": ["none", "amazon"]}], "'none'"),
        ([{"ImageNames": ["a?"]}], "'a?' is not a valid name pattern"),
        ([{"CreationDateCondition": {"MaximumDaysSinceCreated": "soon"}}], "whole number"),
        ([{"DeprecationTimeCondition": {"MaximumDaysSinceDeprecated": -1}}], "negative"),
        ([{}], "Criterion 1 is empty"),
        ([{"ImageProviders": ["amazon"]}] * 11, "At most 10 criteria"),
        ("amazon", "must be a list"),
    ],
)
def test_it_refuses_what_aws_would_refuse(raw, message):
    with pytest.raises(CriteriaError) as error:
        clean_criteria(raw)

    assert any(message in text for text in error.value.messages)
