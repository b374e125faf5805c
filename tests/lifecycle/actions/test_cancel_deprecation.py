"""The cancel-deprecation spec: offered only for an image that has a deprecation time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from inventory.choices import ImageState
from lifecycle.actions import ACTIONS
from tests.amidash.sandbox.images import ec2_client, register_image
from tests.factories import ask, sync
from tests.lifecycle.actions.conftest import perform, shown, unsaved_image

SPEC = ACTIONS["cancel_deprecation"]


def test_it_applies_only_to_an_image_with_a_deprecation_time() -> None:
    assert SPEC.applies_to(unsaved_image(deprecated=True))
    assert not SPEC.applies_to(unsaved_image())
    assert not SPEC.applies_to(unsaved_image(state=ImageState.DISABLED, deprecated=True))
    assert not SPEC.applies_to(unsaved_image(deprecated=True, gone=True))


def test_it_has_no_parameters_and_no_guard() -> None:
    assert SPEC.clean_parameters({"deprecate_at": "2030-01-01T00:00:00Z"}, datetime.now(UTC)) == {}
    assert SPEC.shown_fields() == () and not SPEC.guarded


def test_it_removes_the_deprecation_time_in_aws(aws, requester) -> None:
    image_id = register_image(aws, "kept-after-all")
    when = datetime.now(UTC) + timedelta(days=30)
    ec2_client(aws).enable_image_deprecation(ImageId=image_id, DeprecateAt=when)
    sync()
    request = ask(requester, "cancel_deprecation", [image_id])
    assert not shown("cancel_deprecation", image_id)
    perform(aws, request)
    assert shown("cancel_deprecation", image_id)
    assert len(aws.calls(action="DisableImageDeprecation")) == 1
