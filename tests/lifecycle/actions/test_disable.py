"""The disable spec: guarded (an image in use needs an override), warns that sharing goes."""

from __future__ import annotations

import pytest

from inventory.choices import ImageState
from lifecycle.actions import ACTIONS
from lifecycle.exceptions import RequestError
from lifecycle.services.preview import preview_images
from tests.amidash.sandbox.images import ec2_client, launch, register_image
from tests.factories import ask, image, sync
from tests.lifecycle.actions.conftest import perform, shown, unsaved_image

SPEC = ACTIONS["disable"]


def test_it_applies_to_an_image_that_is_not_disabled_or_gone() -> None:
    assert SPEC.applies_to(unsaved_image())
    assert SPEC.applies_to(unsaved_image(deprecated=True))
    assert not SPEC.applies_to(unsaved_image(state=ImageState.DISABLED))
    assert not SPEC.applies_to(unsaved_image(gone=True))


def test_it_is_guarded_and_shows_the_override() -> None:
    assert SPEC.guarded and SPEC.danger
    assert SPEC.shown_fields() == ("override_in_use", "override_reason")


def test_it_refuses_an_image_in_use_without_an_override(aws, requester) -> None:
    image_id = register_image(aws, "base")
    launch(aws, image_id)
    sync()
    with pytest.raises(RequestError, match="needs an explicit override"):
        ask(requester, "disable", [image_id])
    request = ask(
        requester,
        "disable",
        [image_id],
        override_in_use=True,
        override_reason="replaced by base-2",
    )
    assert request.override_in_use


def test_it_warns_that_a_shared_image_loses_its_launch_permissions(aws) -> None:
    image_id = register_image(aws, "shared")
    ec2_client(aws).modify_image_attribute(
        ImageId=image_id, LaunchPermission={"Add": [{"UserId": "210987654321"}]}
    )
    sync()
    (preview,) = preview_images("disable", [image(image_id)])
    assert preview.warnings == ["public or shared: disabling removes every launch permission"]


def test_it_disables_the_image_in_aws(aws, requester) -> None:
    image_id = register_image(aws, "old")
    sync()
    request = ask(requester, "disable", [image_id])
    assert not shown("disable", image_id)
    perform(aws, request)
    assert shown("disable", image_id)
    assert len(aws.calls(action="DisableImage")) == 1
