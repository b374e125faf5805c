"""The re-enable spec: offered only for a disabled image."""

from __future__ import annotations

from inventory.choices import ImageState
from lifecycle.actions import ACTIONS
from tests.amidash.sandbox.images import ec2_client, register_image
from tests.factories import ask, sync
from tests.lifecycle.actions.conftest import perform, shown, unsaved_image

SPEC = ACTIONS["enable"]


def test_it_applies_only_to_a_disabled_image() -> None:
    assert SPEC.applies_to(unsaved_image(state=ImageState.DISABLED))
    assert not SPEC.applies_to(unsaved_image())
    assert not SPEC.applies_to(unsaved_image(state=ImageState.DISABLED, gone=True))


def test_it_is_not_guarded() -> None:
    assert not SPEC.guarded and SPEC.shown_fields() == ()


def test_it_enables_the_image_in_aws(aws, requester) -> None:
    image_id = register_image(aws, "needed-again")
    ec2_client(aws).disable_image(ImageId=image_id)
    sync()
    request = ask(requester, "enable", [image_id])
    assert not shown("enable", image_id)
    perform(aws, request)
    assert shown("enable", image_id)
    assert len(aws.calls(action="EnableImage")) == 1
