"""DescribeImageReferences: an endpoint that says it lacks the call is read around; an answer that
does not parse fails the Region (invariant 1 in docs/architecture.md), so usage never silently
disappears."""

from __future__ import annotations

import pytest

from inventory.choices import RegionSyncStatus
from inventory.models import ImageUsage
from tests.inventory.conftest import REGION, register_image, sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def used_image(aws):
    """An image used by an SSM parameter, which only DescribeImageReferences names."""
    image_id = register_image(aws, "app-1")
    aws.client("ssm", REGION).put_parameter(Name="/app/ami", Value=image_id, Type="String")
    sync(regions=[REGION])
    assert ImageUsage.objects.filter(image_ref=image_id).exists()
    return image_id


def test_it_fails_the_region_on_a_malformed_references_answer(aws, used_image):
    aws.set_fault("malformed", action="DescribeImageReferences")

    run = sync(regions=[REGION])

    result = run.results.get(region=REGION)
    assert result.status == RegionSyncStatus.FAILED
    assert "malformed DescribeImageReferences answer" in result.error
    assert ImageUsage.objects.filter(image_ref=used_image).exists()


def test_it_reads_around_an_endpoint_without_references(aws, used_image):
    # An endpoint without the action answers InvalidAction (HTTP 400).
    aws.set_fault("unsupported", action="DescribeImageReferences")

    run = sync(regions=[REGION])

    assert run.results.get(region=REGION).status == RegionSyncStatus.SUCCEEDED
    assert not ImageUsage.objects.filter(image_ref=used_image).exists()
