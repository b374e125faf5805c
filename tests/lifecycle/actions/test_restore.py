"""The restore spec: only for a deregistered image; the image must still be in the Recycle Bin
when the request runs (its reappearing, or leaving the bin, is drift)."""

from __future__ import annotations

from inventory.choices import ImageState
from inventory.services.aws import AwsSession
from lifecycle.actions import ACTIONS
from lifecycle.services.execution import observe_or_gone
from tests.amidash.sandbox.images import REGION, ec2_client, register_image
from tests.factories import ask, image, sync
from tests.lifecycle.actions.conftest import perform, shown, unsaved_image

SPEC = ACTIONS["restore"]


def test_it_applies_only_to_a_gone_image() -> None:
    assert SPEC.applies_to(unsaved_image(gone=True))
    assert not SPEC.applies_to(unsaved_image())
    assert not SPEC.applies_to(unsaved_image(state=ImageState.DISABLED))
    assert SPEC.refusal(unsaved_image()) == "the image is not deregistered: nothing to restore"
    assert SPEC.refusal(unsaved_image(gone=True)) == ""


def test_it_restores_the_image_from_the_recycle_bin_in_aws(aws, requester) -> None:
    aws.client("rbin", REGION).create_rule(
        ResourceType="EC2_IMAGE",
        RetentionPeriod={"RetentionPeriodValue": 7, "RetentionPeriodUnit": "DAYS"},
    )
    image_id = register_image(aws, "deleted-by-mistake")
    sync()
    ec2_client(aws).deregister_image(ImageId=image_id)
    sync()
    request = ask(requester, "restore", [image_id])
    item = request.items.get()
    binned = observe_or_gone(AwsSession(image(image_id).account), REGION, image_id)
    assert binned.in_recycle_bin and SPEC.drift(item.observed, binned, override=False) == ""
    assert not shown("restore", image_id)
    perform(aws, request)
    assert shown("restore", image_id)
    back = observe_or_gone(AwsSession(image(image_id).account), REGION, image_id)
    assert SPEC.drift(item.observed, back, override=False) == (
        "the image exists again: nothing to restore"
    )
