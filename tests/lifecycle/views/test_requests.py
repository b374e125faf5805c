"""The request pages: queue, preview, request page, decisions by page, forged POST and admin."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from amidash.roles import Role
from lifecycle.choices import RequestStatus
from lifecycle.models import Approval, LifecycleRequest
from tests.amidash.sandbox.images import launch, register_image
from tests.factories import ask, create_user, image, signed_in, sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def images(aws):
    ids = [register_image(aws, f"old-build-{n}") for n in range(2)]
    busy = register_image(aws, "live-web")
    launch(aws, busy)
    sync()
    return {"old": ids, "busy": busy}


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def _create_url(action: str, *image_ids: str) -> str:
    query = "&".join(f"image={image(i).pk}" for i in image_ids)
    return f"{reverse('lifecycle:request_create')}?action={action}&{query}"


def test_it_shows_the_preview_with_blast_radius(images, requester):
    response = signed_in(requester).get(_create_url("deregister", *images["old"], images["busy"]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Request: Deregister of 3 images" in body
    assert "permanent: no Recycle Bin rule covers it" in body
    assert "Blocked: in use by 1 resource(s)" in body
    assert "None: deregistering is final" in body and "Restore from the Recycle Bin" not in body


def test_the_preview_says_unknown_when_the_recycle_bin_answer_is_garbled(images, requester, aws):
    # A truncated JSON answer must not pass for "no retention rule" (deletion looking final).
    aws.set_fault("malformed", action="ListRules")
    response = signed_in(requester).get(_create_url("deregister", *images["old"]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "permanent" not in body
    assert "unknown (ResponseParserError: Unable to parse the ListRules answer" in body
    assert "Restore from the Recycle Bin while retained; otherwise none" in body


def test_it_creates_a_request_from_the_form(images, requester):
    data = {
        "action": "deregister",
        "image": [image(i).pk for i in images["old"]],
        "reason": "builds older than a year",
        "ticket": "OPS-7",
        "delete_snapshots": "on",
    }
    response = signed_in(requester).post(reverse("lifecycle:request_create"), data)
    request = LifecycleRequest.objects.get()
    assert response.status_code == 302 and response.url == f"/requests/{request.pk}/"
    assert request.parameters == {"delete_snapshots": True} and request.items.count() == 2
    page = signed_in(requester).get(response.url).content.decode()
    assert "Pending approval" in page and request.fingerprint in page
    assert "someone else must approve it" in page


def test_it_refuses_an_in_use_image_without_override_on_the_form(images, requester):
    data = {"action": "disable", "image": [image(images["busy"]).pk], "reason": "old"}
    response = signed_in(requester).post(reverse("lifecycle:request_create"), data)
    assert response.status_code == 400
    assert "in use by 1 resource(s); needs an explicit override" in response.content.decode()
    assert not LifecycleRequest.objects.exists()


def test_it_answers_bad_selections_with_400(images, requester):
    for query in (
        "action=explode&image=1",
        "action=deregister",
        "action=deregister&image=abc",
        "action=deregister&image=999999",
    ):
        response = signed_in(requester).get(f"{reverse('lifecycle:request_create')}?{query}")
        assert response.status_code == 400, query
    bad_post = {"action": "deregister", "image": ["x"], "reason": "r"}
    assert (
        signed_in(requester).post(reverse("lifecycle:request_create"), bad_post).status_code == 400
    )


def test_it_forbids_requests_without_the_requester_role(images, viewer, approver):
    for user in (viewer, approver):
        response = signed_in(user).get(_create_url("deregister", images["old"][0]))
        assert response.status_code == 403


def test_it_approves_on_the_page_and_queues_execution(
    images, requester, approver, eager_celery, django_capture_on_commit_callbacks
):
    request = ask(requester, "deregister", images["old"])
    client = signed_in(approver)
    page = client.get(reverse("lifecycle:request_detail", args=[request.pk])).content.decode()
    assert 'id="decision-form"' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("lifecycle:request_decide", args=[request.pk]),
            {"decision": "approve", "fingerprint": request.fingerprint, "comment": "fine"},
        )
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == RequestStatus.SUCCEEDED  # the eager task ran after commit


def test_it_refuses_a_forged_self_approval_post(images, db):
    both = create_user("sam", Role.REQUESTER, Role.APPROVER)
    request = ask(both, "deregister", images["old"])
    client = signed_in(both)
    page = client.get(reverse("lifecycle:request_detail", args=[request.pk])).content.decode()
    assert 'id="decision-form"' not in page
    response = client.post(
        reverse("lifecycle:request_decide", args=[request.pk]),
        {"decision": "approve", "fingerprint": request.fingerprint},
    )
    assert response.status_code == 403
    assert "own request" in response.content.decode()
    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING and not Approval.objects.exists()


def test_it_refuses_approval_by_a_requester_or_viewer(images, requester, viewer, db):
    other = create_user("ron", Role.REQUESTER)
    request = ask(requester, "deregister", images["old"])
    for user in (other, viewer):
        response = signed_in(user).post(
            reverse("lifecycle:request_decide", args=[request.pk]),
            {"decision": "approve", "fingerprint": request.fingerprint},
        )
        assert response.status_code == 403
    assert not Approval.objects.exists()


def test_it_answers_a_stale_fingerprint_and_a_repeat_with_4xx(
    images, requester, approver, settings
):
    settings.LIFECYCLE_APPROVALS_REQUIRED = {"deregister": 2}
    request = ask(requester, "deregister", images["old"])
    client = signed_in(approver)
    url = reverse("lifecycle:request_decide", args=[request.pk])
    assert client.post(url, {"decision": "approve", "fingerprint": "f" * 64}).status_code == 400
    assert client.post(url, {"decision": "maybe", "fingerprint": "x"}).status_code == 400
    ok = {"decision": "approve", "fingerprint": request.fingerprint}
    assert client.post(url, ok).status_code == 302
    assert client.post(url, ok).status_code == 409
    assert client.get(url).status_code == 405


def test_it_lists_the_queue_with_filters(images, requester, approver):
    first = ask(requester, "deregister", images["old"][:1], reason="first one")
    ask(
        requester,
        "deprecate",
        images["old"][1:],
        reason="second",
        parameters={"deprecate_at": "2031-01-01T00:00:00Z"},
    )
    client = signed_in(approver)
    body = client.get(reverse("lifecycle:request_list")).content.decode()
    assert "2</strong> requests await your decision" in body
    filtered = client.get(reverse("lifecycle:request_list"), {"action": "deregister"})
    numbers = re.findall(r'href="/requests/(\d+)/"', filtered.content.decode())
    assert numbers == [str(first.pk)]
    htmx = client.get(
        reverse("lifecycle:request_list"), {"scope": "awaiting"}, HTTP_HX_REQUEST="true"
    )
    assert "<html" not in htmx.content.decode() and "first one" in htmx.content.decode()


def test_it_shows_requests_to_auditors_and_viewers_but_not_to_users_without_a_role(
    images, requester, auditor, viewer, db
):
    request = ask(requester, "deregister", images["old"])
    url = reverse("lifecycle:request_detail", args=[request.pk])
    assert signed_in(auditor).get(url).status_code == 200
    assert signed_in(viewer).get(url).status_code == 200
    nobody = create_user("nobody")
    assert signed_in(nobody).get(url).status_code == 403
    assert signed_in(nobody).get(reverse("lifecycle:request_list")).status_code == 403


def test_the_admin_offers_no_approval_and_changes_no_request(images, requester, db):
    root = create_user("root", superuser=True)
    request = ask(requester, "deregister", images["old"])
    client = signed_in(root)
    changelist = client.get(reverse("admin:lifecycle_lifecyclerequest_changelist"))
    assert changelist.status_code == 200 and b"approve_selected" not in changelist.content
    forged = client.post(
        reverse("admin:lifecycle_lifecyclerequest_changelist"),
        {"action": "approve_selected", "_selected_action": [request.pk]},
    )
    assert forged.status_code in (200, 302)
    change = client.post(
        reverse("admin:lifecycle_lifecyclerequest_change", args=[request.pk]), {"status": "pending"}
    )
    assert change.status_code == 403
    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING and not Approval.objects.exists()


def test_it_polls_the_request_page_while_executing_and_stops_after(images, requester, approver):
    request = ask(requester, "deregister", images["old"])
    url = reverse("lifecycle:request_detail", args=[request.pk])
    client = signed_in(approver)
    LifecycleRequest.objects.filter(pk=request.pk).update(status=RequestStatus.EXECUTING)
    polling = client.get(url, {"poll": 1}, HTTP_HX_REQUEST="true")
    assert polling.status_code == 200 and 'hx-trigger="every 2s"' in polling.content.decode()
    LifecycleRequest.objects.filter(pk=request.pk).update(status=RequestStatus.SUCCEEDED)
    done = client.get(url, {"poll": 1}, HTTP_HX_REQUEST="true")
    assert done.status_code == 286 and "<html" not in done.content.decode()


def test_it_renders_the_form_of_every_action_and_creates_a_deprecation(images, requester):
    client = signed_in(requester)
    for action in ("deprecate", "cancel_deprecation", "disable", "enable", "copy"):
        response = client.get(_create_url(action, images["old"][0]))
        assert response.status_code == 200, action
    assert (
        'type="datetime-local"'
        in client.get(_create_url("deprecate", images["old"][0])).content.decode()
    )
    data = {
        "action": "deprecate",
        "image": [image(images["old"][0]).pk],
        "reason": "superseded",
        "deprecate_at": "2031-03-04T05:06",
    }
    response = client.post(reverse("lifecycle:request_create"), data)
    assert response.status_code == 302
    assert LifecycleRequest.objects.get().parameters == {"deprecate_at": "2031-03-04T05:06:00Z"}
    detail = _text(client.get(response["Location"]))
    assert "Deprecate at 2031-03-04 05:06 UTC" in detail
    past = data | {"deprecate_at": "2001-01-01T00:00"}
    refused = client.post(reverse("lifecycle:request_create"), past)
    assert refused.status_code == 400 and "must be in the future" in refused.content.decode()
    # The message sits under the field it is about, not in the form's general banner.
    missing = _text(client.post(reverse("lifecycle:request_create"), data | {"deprecate_at": ""}))
    assert "Deprecate at (UTC) A deprecation needs the date and time it takes effect." in missing
    # An override is not on a deprecation's page: a crafted one is refused in the banner.
    crafted = client.post(reverse("lifecycle:request_create"), data | {"override_in_use": "on"})
    assert crafted.status_code == 400
    assert "An override needs its own justification." in _text(crafted)


def test_the_preview_shows_other_accounts_using_an_image(aws, requester):
    from inventory.services.consumers import refresh_consumers
    from tests.amidash.sandbox.images import ec2_client

    consumer = "777788889999"
    used, unknown = register_image(aws, "golden-1"), register_image(aws, "golden-2")
    for image_id in (used, unknown):
        ec2_client(aws).modify_image_attribute(
            ImageId=image_id, LaunchPermission={"Add": [{"UserId": consumer}]}
        )
    sync()
    ec2_client(aws, account_id=consumer).run_instances(ImageId=used, MinCount=2, MaxCount=2)
    refresh_consumers(image(used))

    text = _text(signed_in(requester).get(_create_url("disable", used, unknown)))

    assert "Other accounts" in text
    assert f"{consumer} : 2 instances, 0 launch templates" in text
    assert "Blocked: in use by 2 resource(s)" in text
    assert "usage unknown" in text
    assert "Blocked: usage by other accounts unknown" in text
    assert "Request a usage report" in text
