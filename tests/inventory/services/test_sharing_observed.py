"""Sharing changed outside amidash: made public or private, shared with or unshared from
accounts. The sync (public flag, and the launch permissions of changed images) and the paced
launch-permission pass (accounts) each observe such a change once, as ``image.sharing_changed``
with before and after."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import AccountRegion, Image
from inventory.services.launch_permissions import refresh_launch_permissions
from lifecycle.models import AuditEvent, AuditVerb
from tests.amidash.sandbox.images import REGION, ec2_client, register_image
from tests.factories import last_audit_sequence, sync

PARTNER = "444455556666"


def sharing_events(first: int) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            sequence__gt=first, verb=AuditVerb.IMAGE_SHARING_CHANGED
        ).order_by("sequence")
    )


def refresh() -> int:
    """The paced pass, with every image due (their permissions read long ago)."""
    long_ago = timezone.now() - timedelta(days=30)
    Image.objects.exclude(launch_permissions_checked_at=None).update(
        launch_permissions_checked_at=long_ago
    )
    return refresh_launch_permissions(AccountRegion.objects.get(region=REGION), per_second=1000)


def share(aws, image_id: str, **permission: str) -> None:
    ec2_client(aws, REGION).modify_image_attribute(
        ImageId=image_id, LaunchPermission={"Add": [permission]}
    )


@pytest.mark.django_db(transaction=True)
def test_a_first_sighting_records_no_sharing_change(aws):
    image_id = register_image(aws, "web-1")
    share(aws, image_id, UserId=PARTNER)
    share(aws, image_id, Group="all")
    first = last_audit_sequence()

    sync()
    refresh()

    assert sharing_events(first) == []
    assert AuditEvent.objects.filter(sequence__gt=first, verb=AuditVerb.IMAGE_APPEARED).count()
    assert Image.objects.get(image_id=image_id).shared_with == [PARTNER]


@pytest.mark.django_db(transaction=True)
def test_an_unchanged_resync_records_nothing(aws):
    image_id = register_image(aws, "web-1")
    share(aws, image_id, UserId=PARTNER)
    sync()
    first = last_audit_sequence()

    sync()
    refresh()

    image_events = AuditEvent.objects.filter(sequence__gt=first, target_type="image")
    assert list(image_events) == []


@pytest.mark.django_db(transaction=True)
def test_the_paced_pass_observes_an_image_shared_with_an_account_once(aws):
    image_id = register_image(aws, "web-1")
    sync()
    first = last_audit_sequence()
    share(aws, image_id, UserId=PARTNER)

    sync()  # DescribeImages does not say who an image is shared with
    assert sharing_events(first) == []
    refresh()
    refresh()

    [event] = sharing_events(first)
    assert event.source == "sync" and event.target_id == image_id
    assert (event.before["public"], event.before["shared_with"]) == (False, [])
    assert (event.after["public"], event.after["shared_with"]) == (False, [PARTNER])


@pytest.mark.django_db(transaction=True)
def test_the_sync_observes_an_image_made_public_and_private_once_each(aws):
    image_id = register_image(aws, "web-1")
    share(aws, image_id, UserId=PARTNER)
    sync()
    first = last_audit_sequence()
    share(aws, image_id, Group="all")

    sync()
    sync()
    refresh()

    [event] = sharing_events(first)
    assert event.correlation_id.startswith("sync:")
    assert (event.before["public"], event.before["shared_with"]) == (False, [PARTNER])
    assert (event.after["public"], event.after["shared_with"]) == (True, [PARTNER])

    middle = last_audit_sequence()
    ec2_client(aws, REGION).modify_image_attribute(
        ImageId=image_id,
        LaunchPermission={"Remove": [{"Group": "all"}, {"UserId": PARTNER}]},
    )
    sync()
    refresh()

    [event] = sharing_events(middle)
    assert (event.after["public"], event.after["shared_with"]) == (False, [])
