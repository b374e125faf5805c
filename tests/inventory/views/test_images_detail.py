"""The image detail page: every field, tags, storage, usage by type, copies, permissions,
lifecycle history and the actions a user may request."""

from __future__ import annotations

import re

from django.urls import reverse

from amidash.roles import Role
from inventory.choices import UsageType
from tests.factories import create_image, create_image_usage, create_user, signed_in


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_it_shows_fields_tags_storage_and_usage(viewer_client, estate) -> None:
    image = estate["images"]["web_new"]
    response = viewer_client.get(reverse("inventory:image_detail", args=[image.pk]))
    text = _text(response)
    assert image.image_id in text and "web-2.0.1" in text
    assert "111122223333" in text and "us-east-1" in text
    assert "team web" in text
    assert "8 GiB" in text and image.snapshot_ids[0] in text
    assert "Instance (1)" in text and "i-0123456789abcdef0" in text and "state: running" in text
    assert "Launch template (1)" in text and "version: 3" in text


def test_it_shows_public_and_shared_launch_permissions(viewer_client, estate) -> None:
    shared = estate["images"]["db_shared"]
    text = _text(viewer_client.get(reverse("inventory:image_detail", args=[shared.pk])))
    assert "Shared with: 999988887777" in text
    public = estate["images"]["db_public"]
    text = _text(viewer_client.get(reverse("inventory:image_detail", args=[public.pk])))
    assert "Any AWS account can launch this image" in text
    assert "Auto Scaling group (1)" in text


def test_it_links_a_copy_to_its_source_and_back(viewer_client, estate) -> None:
    source = estate["images"]["web_new"]
    copy = create_image(
        account=source.account,
        region="eu-west-1",
        name=source.name,
        source_image_id=source.image_id,
        source_image_region="us-east-1",
    )
    text = _text(viewer_client.get(reverse("inventory:image_detail", args=[copy.pk])))
    assert f"Copied from {source.image_id} in us-east-1" in text
    text = _text(viewer_client.get(reverse("inventory:image_detail", args=[source.pk])))
    assert f"{copy.image_id} in eu-west-1" in text


def test_it_offers_actions_that_fit_the_state(estate) -> None:
    requester = signed_in(create_user("rex", Role.REQUESTER))

    def page(name: str) -> str:
        url = reverse("inventory:image_detail", args=[estate["images"][name].pk])
        return requester.get(url).content.decode()

    available, disabled, gone = page("web_old"), page("legacy_disabled"), page("old_gone")
    assert f'action="{reverse("lifecycle:request_create")}"' in available
    assert 'value="deprecate"' in available and 'value="deregister"' in available
    assert 'value="enable"' in disabled and 'value="deprecate"' not in disabled
    assert 'value="restore"' in gone and 'value="disable"' not in gone


def test_it_tells_a_requester_that_an_image_in_use_needs_an_override(estate) -> None:
    requester = signed_in(create_user("rex", Role.REQUESTER))
    hint = "disabling or deregistering it needs an explicit override"
    used = estate["images"]["web_new"]
    assert hint in _text(requester.get(reverse("inventory:image_detail", args=[used.pk])))
    unused = estate["images"]["web_old"]
    assert not unused.usages.exists()
    assert hint not in _text(requester.get(reverse("inventory:image_detail", args=[unused.pk])))


def test_it_loads_the_lifecycle_history_with_htmx_and_a_plain_link(viewer_client, estate) -> None:
    image = estate["images"]["web_new"]
    body = viewer_client.get(reverse("inventory:image_detail", args=[image.pk])).content.decode()
    timeline = reverse("lifecycle:image_timeline", args=[image.pk])
    assert "Lifecycle history" in body
    assert f'hx-get="{timeline}"' in body and 'hx-trigger="load"' in body
    assert f'<a href="{timeline}">' in body


def test_it_keeps_queries_constant_however_much_uses_the_image(viewer_client, estate) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    image = estate["images"]["web_old"]
    url = reverse("inventory:image_detail", args=[image.pk])
    create_image_usage(image, UsageType.INSTANCE)
    with CaptureQueriesContext(connection) as few:
        viewer_client.get(url)
    for _ in range(30):
        create_image_usage(image, UsageType.INSTANCE)
        create_image_usage(image, UsageType.LAUNCH_TEMPLATE)
    with CaptureQueriesContext(connection) as many:
        viewer_client.get(url)
    assert len(many.captured_queries) == len(few.captured_queries)


def test_it_draws_the_family_tree_from_root_to_descendants(viewer_client, estate) -> None:
    from django.utils import timezone

    from inventory.models import ImageAncestry

    root = estate["images"]["web_new"]
    child = create_image(
        account=root.account,
        region="eu-west-1",
        source_image_id=root.image_id,
        source_image_region="us-east-1",
    )
    grandchild = create_image(
        account=root.account,
        region="us-west-2",
        source_image_id=child.image_id,
        source_image_region="eu-west-1",
    )
    for position, (ancestor, region) in enumerate(
        [(child.image_id, "eu-west-1"), (root.image_id, "us-east-1")], start=1
    ):
        ImageAncestry.objects.create(
            image=grandchild,
            position=position,
            ancestor_image_id=ancestor,
            ancestor_region=region,
            observed_at=timezone.now(),
        )

    response = viewer_client.get(reverse("inventory:image_detail", args=[child.pk]))

    text, body = _text(response), response.content.decode()
    assert "1 ancestor · 1 descendant" in text
    tree = body[body.index('<ul class="family-tree"') :]
    # Root, then this image nested under it, then the grandchild nested under this image.
    assert tree.index(root.image_id) < tree.index(child.image_id) < tree.index(grandchild.image_id)
    assert f'<li aria-current="page"><strong class="mono">{child.image_id}</strong>' in tree
    assert f'href="{reverse("inventory:image_detail", args=[grandchild.pk])}"' in tree


def test_it_shows_findings_by_severity_or_not_scanned(viewer_client, estate) -> None:
    from django.utils import timezone

    from inventory.choices import FindingsStatus
    from inventory.models import ImageFindings

    scanned, refused = estate["images"]["web_new"], estate["images"]["web_old"]
    ImageFindings.objects.create(
        image=scanned,
        status=FindingsStatus.SCANNED,
        critical=3,
        medium=2,
        checked_at=timezone.now(),
    )
    ImageFindings.objects.create(
        image=refused,
        status=FindingsStatus.NOT_SCANNED,
        reason="not permitted to read Inspector findings (UnauthorizedOperation)",
        checked_at=timezone.now(),
    )

    def findings_text(image) -> str:
        text = _text(viewer_client.get(reverse("inventory:image_detail", args=[image.pk])))
        return text[text.index("Inspector findings") :]

    assert "Critical High Medium Low Informational 3 0 2 0 0" in findings_text(scanned)
    assert "not scanned not permitted to read Inspector findings" in findings_text(refused)
