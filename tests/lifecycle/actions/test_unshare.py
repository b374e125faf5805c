"""The unshare spec: ModifyImageAttribute removes every launch permission, under the in-use
guard, where other accounts' use comes from the image's usage report."""

from __future__ import annotations

import pytest

from inventory.models import Image
from inventory.services.consumers import refresh_consumers
from lifecycle.actions import ACTIONS
from lifecycle.choices import ItemStatus, RequestStatus
from lifecycle.exceptions import RequestError
from lifecycle.models import AuditVerb
from lifecycle.services.execution import execute_request
from lifecycle.services.preview import preview_images
from tests.amidash.sandbox.images import ec2_client, register_image
from tests.factories import approve, ask, image, request_events, sync
from tests.lifecycle.actions.conftest import unsaved_image

pytestmark = pytest.mark.django_db

SPEC = ACTIONS["unshare"]
CONSUMER = "777788889999"


def shared_image(aws, name: str = "golden", public: bool = False) -> str:
    image_id = register_image(aws, name)
    permissions = [{"UserId": CONSUMER}] + ([{"Group": "all"}] if public else [])
    ec2_client(aws).modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": permissions})
    sync()
    return image_id


def launch_elsewhere(aws, image_id: str) -> None:
    ec2_client(aws, account_id=CONSUMER).run_instances(ImageId=image_id, MinCount=1, MaxCount=1)


def launch_permissions(aws, image_id: str) -> list[dict]:
    answer = ec2_client(aws).describe_image_attribute(
        ImageId=image_id, Attribute="launchPermission"
    )
    return answer["LaunchPermissions"]


def run(request) -> None:
    execute_request(request.pk, sleep=lambda seconds: None)
    request.refresh_from_db()


def test_it_applies_only_to_a_public_or_shared_image() -> None:
    assert not SPEC.applies_to(unsaved_image())
    assert SPEC.applies_to(Image(image_id="ami-1", state="available", public=True))
    assert SPEC.applies_to(Image(image_id="ami-1", state="available", shared_with=[CONSUMER]))
    assert SPEC.refusal(unsaved_image()) == "the image is neither public nor shared"


def test_it_is_guarded_like_disable_and_deregister() -> None:
    assert SPEC.guarded and SPEC.danger
    assert SPEC.shown_fields() == ("override_in_use", "override_reason")


def test_it_removes_every_launch_permission_and_is_audited(aws, requester, approver) -> None:
    image_id = shared_image(aws, public=True)
    refresh_consumers(image(image_id))
    request = ask(requester, "unshare", [image_id])
    approve(approver, request)
    aws.clear_calls()

    run(request)

    assert request.status == RequestStatus.SUCCEEDED
    assert launch_permissions(aws, image_id) == []
    row = image(image_id)
    assert not row.public and row.shared_with == []
    assert request.items.get().response["confirmed"] is True
    calls = aws.calls(action="ModifyImageAttribute")
    assert len(calls) == 1
    verbs = [event.verb for event in request_events(request)]
    assert AuditVerb.ITEM_EXECUTED in verbs


def test_another_accounts_use_refuses_it_without_an_override(aws, requester) -> None:
    image_id = shared_image(aws)
    launch_elsewhere(aws, image_id)
    refresh_consumers(image(image_id))

    (preview,) = preview_images("unshare", [image(image_id)])
    assert preview.in_use and preview.consumers == [
        {"account_id": CONSUMER, "instances": 1, "launch_templates": 0}
    ]
    assert preview.warnings == ["1 other account(s) lose the right to launch it"]
    with pytest.raises(RequestError, match="in use by 1 resource"):
        ask(requester, "unshare", [image_id])
    request = ask(
        requester,
        "unshare",
        [image_id],
        override_in_use=True,
        override_reason="the consumer moved to golden-2",
    )
    assert request.items.get().observed["usage"] == [f"external:{CONSUMER}"]


def test_unknown_usage_refuses_it_without_an_override(aws, requester) -> None:
    image_id = shared_image(aws)

    (preview,) = preview_images("unshare", [image(image_id)])

    assert preview.usage_unknown and "usage by other accounts unknown" in preview.blocked
    with pytest.raises(RequestError, match="usage by other accounts unknown"):
        ask(requester, "unshare", [image_id])


def test_a_consumer_reported_after_approval_makes_the_item_stale(aws, requester, approver) -> None:
    image_id = shared_image(aws)
    refresh_consumers(image(image_id))
    request = ask(requester, "unshare", [image_id])
    approve(approver, request)
    launch_elsewhere(aws, image_id)
    refresh_consumers(image(image_id))

    run(request)

    item = request.items.get()
    assert item.status == ItemStatus.STALE
    assert f"newly in use by external:{CONSUMER}" in item.error
    assert launch_permissions(aws, image_id) == [{"UserId": CONSUMER}]


def test_a_report_gone_stale_after_approval_refuses_it_without_an_override(
    aws, requester, approver, settings
) -> None:
    image_id = shared_image(aws)
    refresh_consumers(image(image_id))
    request = ask(requester, "unshare", [image_id])
    approve(approver, request)
    settings.CONSUMER_REPORT_MAX_AGE_HOURS = 1
    Image.objects.filter(image_id=image_id).update(
        consumers_reported_at=image(image_id).consumers_reported_at.replace(year=2020)
    )

    run(request)

    item = request.items.get()
    assert item.status == ItemStatus.STALE
    assert "usage by other accounts unknown" in item.error
    assert launch_permissions(aws, image_id) == [{"UserId": CONSUMER}]
