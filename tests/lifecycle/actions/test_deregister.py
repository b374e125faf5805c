"""The deregister spec: guarded, optionally deletes snapshots, reads the Recycle Bin's rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from inventory.choices import ImageState
from lifecycle.actions import ACTIONS
from lifecycle.exceptions import RequestError
from lifecycle.services.preview import preview_images
from tests.amidash.sandbox.images import (
    OTHER_REGION,
    REGION,
    ec2_client,
    launch,
    register_image,
)
from tests.factories import ask, image, sync
from tests.lifecycle.actions.conftest import perform, shown, unsaved_image

SPEC = ACTIONS["deregister"]


def test_it_applies_to_any_image_that_still_exists() -> None:
    assert SPEC.applies_to(unsaved_image())
    assert SPEC.applies_to(unsaved_image(state=ImageState.DISABLED))
    assert not SPEC.applies_to(unsaved_image(gone=True))


def test_it_keeps_snapshots_unless_asked_and_is_guarded() -> None:
    now = datetime.now(UTC)
    assert SPEC.clean_parameters({}, now) == {"delete_snapshots": False}
    assert SPEC.clean_parameters({"delete_snapshots": "on"}, now) == {"delete_snapshots": True}
    assert SPEC.guarded and SPEC.reads_recycle_bin
    assert SPEC.shown_fields() == ("delete_snapshots", "override_in_use", "override_reason")


def test_it_refuses_an_image_in_use_without_an_override(aws, requester) -> None:
    image_id = register_image(aws, "base")
    launch(aws, image_id)
    sync()
    with pytest.raises(RequestError, match="needs an explicit override"):
        ask(requester, "deregister", [image_id])


def test_it_says_deregistering_is_final_without_a_recycle_bin_rule(aws) -> None:
    image_id = register_image(aws, "old")
    ec2_client(aws).enable_image_deregistration_protection(ImageId=image_id)
    sync()
    (preview,) = preview_images("deregister", [image(image_id)])
    assert preview.recycle_bin == "permanent: no Recycle Bin rule covers it"
    assert preview.undo == "None: deregistering is final"
    assert preview.warnings == ["deregistration protection is on: AWS will refuse"]


def test_the_preview_warns_about_current_descendants(aws, requester, settings) -> None:
    """A copy chain root -> child (eu-west-1) -> grandchild: deregistering the root names both
    descendants; a gone descendant is not named."""
    settings.SYNC_REGIONS = [REGION, OTHER_REGION]
    root = register_image(aws, "base-1")
    child = ec2_client(aws, OTHER_REGION).copy_image(
        SourceImageId=root, SourceRegion=REGION, Name="base-1-copy"
    )["ImageId"]
    grandchild = ec2_client(aws).copy_image(
        SourceImageId=child, SourceRegion=OTHER_REGION, Name="base-1-again"
    )["ImageId"]
    sync()

    (preview,) = preview_images("deregister", [image(root)])
    (leaf,) = preview_images("deregister", [image(grandchild)])
    (disable,) = preview_images("disable", [image(root)])

    assert preview.descendants == sorted([child, grandchild])
    assert any("2 current descendants" in w and child in w for w in preview.warnings)
    assert leaf.descendants == [] and leaf.warnings == []
    assert disable.descendants == []

    ec2_client(aws).deregister_image(ImageId=grandchild)
    sync()
    request = ask(requester, "deregister", [root])
    (item,) = request.items.all()
    assert item.preview["descendants"] == [child]


def test_it_deregisters_the_image_and_its_snapshots_in_aws(aws, requester) -> None:
    image_id = register_image(aws, "old")
    sync()
    request = ask(requester, "deregister", [image_id], parameters={"delete_snapshots": True})
    assert not shown("deregister", image_id)
    answer = perform(aws, request)
    assert answer["DeleteSnapshotResults"]
    assert shown("deregister", image_id)
    assert len(aws.calls(action="DeregisterImage")) == 1
