"""The copy spec: Region names checked, one CopyImage per target Region (made and paced in that
Region), the answer maps each Region to its copy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from inventory.choices import ImageState
from lifecycle.actions import ACTIONS
from lifecycle.exceptions import RequestError
from tests.amidash.sandbox.images import OTHER_REGION, REGION, ec2_client, register_image
from tests.factories import ask, sync
from tests.lifecycle.actions.conftest import perform, unsaved_image

SPEC = ACTIONS["copy"]
NOW = datetime.now(UTC)


def test_it_applies_to_an_image_that_is_not_disabled_or_gone() -> None:
    assert SPEC.applies_to(unsaved_image())
    assert not SPEC.applies_to(unsaved_image(state=ImageState.DISABLED))
    assert not SPEC.applies_to(unsaved_image(gone=True))


def test_it_reads_regions_from_the_form_and_sorts_them() -> None:
    read = SPEC.form_parameters({"regions": "us-west-2, eu-west-1,us-west-2"})
    assert SPEC.clean_parameters(read, NOW) == {"regions": ["eu-west-1", "us-west-2"]}


@pytest.mark.parametrize(
    ("regions", "message"),
    [([], "Name at least one Region"), (["eu-west-1", "Mars"], "Not a Region name: Mars.")],
)
def test_it_refuses_missing_or_malformed_regions(regions, message) -> None:
    with pytest.raises(RequestError, match=message) as refused:
        SPEC.clean_parameters({"regions": regions}, NOW)
    assert refused.value.field == "regions"


def test_it_copies_into_each_region_and_is_confirmed_by_the_new_ids(aws, requester) -> None:
    image_id = register_image(aws, "golden")
    sync()
    request = ask(requester, "copy", [image_id], parameters={"regions": [OTHER_REGION]})
    assert [call.region for call in SPEC.calls(request.items.get(), request.parameters)] == [
        OTHER_REGION
    ]
    answer = perform(aws, request)
    copy_id = answer["Copies"][OTHER_REGION]
    copied = ec2_client(aws, OTHER_REGION).describe_images(ImageIds=[copy_id])["Images"]
    assert copied[0]["Name"] == "golden"
    assert aws.calls(action="CopyImage", region=OTHER_REGION)
    assert not aws.calls(action="CopyImage", region=REGION)
    assert not SPEC.confirmed_by_reading
