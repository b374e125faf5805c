"""Lifecycle requests through the API: the same service, preview checks and four eyes."""

from __future__ import annotations

import datetime

from django.utils import timezone

from lifecycle.models import AuditEvent, LifecycleRequest
from tests.factories import ask, create_image, create_image_usage

SOON = (timezone.now() + datetime.timedelta(days=30)).isoformat()


def _deprecation(image_id: str) -> dict:
    return {"action": "deprecate", "images": [image_id], "reason": "superseded",
            "parameters": {"deprecate_at": SOON}}  # fmt: skip


def test_it_creates_a_request_and_names_the_token_in_the_audit_log(requester, api):
    image = create_image()
    response = api(requester, "read,request").post(
        "/api/v1/requests/", _deprecation(image.image_id)
    )
    assert response.status_code == 201, response.content
    created = LifecycleRequest.objects.get(pk=response.json()["id"])
    assert response.json()["fingerprint"] == created.fingerprint
    used = AuditEvent.objects.get(verb="token.used", correlation_id=f"request:{created.pk}")
    assert used.after["operation"] == "request.create" and used.after["token"]
    made = AuditEvent.objects.get(verb="request.created", target_id=str(created.pk))
    assert made.source == "api"


def test_it_refuses_an_in_use_image_without_override_as_the_page_does(requester, api):
    image = create_image()
    create_image_usage(image)
    image.in_use, image.usage_count = True, 1
    image.save()
    body = {"action": "deregister", "images": [image.image_id], "reason": "old"}
    response = api(requester, "read,request").post("/api/v1/requests/", body)
    assert response.status_code in (400, 409)
    assert not LifecycleRequest.objects.exists()


def test_it_names_a_bad_parameter(requester, api):
    image = create_image()
    body = _deprecation(image.image_id) | {"parameters": {"deprecate_at": "yesterday-ish"}}
    response = api(requester, "read,request").post("/api/v1/requests/", body)
    assert response.status_code == 400
    assert "parameters.deprecate_at" in response.json()["errors"]


def test_it_answers_malformed_json_with_a_400_problem(requester, api):
    response = api(requester, "read,request").post("/api/v1/requests/", raw="{not json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


def test_it_refuses_self_approval_through_the_api(requester, approver, api):
    """Invariant 2: a requester who also approves may not approve their own request."""
    from django.contrib.auth.models import Group

    requester.groups.add(Group.objects.get(name="Approver"))
    pending = ask(
        requester, "deprecate", [create_image().image_id], parameters={"deprecate_at": SOON}
    )
    response = api(requester, "read,approve").post(
        f"/api/v1/requests/{pending.pk}/approve", {"fingerprint": pending.fingerprint}
    )
    assert response.status_code == 403
    pending.refresh_from_db()
    assert pending.status == "pending" and not pending.decisions.exists()


def test_an_approver_token_approves_with_the_fingerprint(requester, approver, api):
    pending = ask(
        requester, "deprecate", [create_image().image_id], parameters={"deprecate_at": SOON}
    )
    client = api(approver, "read,approve")
    stale = client.post(f"/api/v1/requests/{pending.pk}/approve", {"fingerprint": "0" * 64})
    assert stale.status_code == 409
    approved = client.post(
        f"/api/v1/requests/{pending.pk}/approve", {"fingerprint": pending.fingerprint}
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    again = client.post(
        f"/api/v1/requests/{pending.pk}/approve", {"fingerprint": pending.fingerprint}
    )
    assert again.status_code == 409
    assert AuditEvent.objects.filter(
        verb="token.used", correlation_id=f"request:{pending.pk}", actor_name="arno"
    ).exists()


def test_an_approve_scope_is_needed_to_decide(requester, approver, api):
    pending = ask(
        requester, "deprecate", [create_image().image_id], parameters={"deprecate_at": SOON}
    )
    response = api(approver, "read,request").post(
        f"/api/v1/requests/{pending.pk}/reject",
        {"fingerprint": pending.fingerprint, "comment": "no"},
    )
    assert response.status_code == 403


def test_it_lists_and_shows_requests(requester, api):
    pending = ask(
        requester, "deprecate", [create_image().image_id], parameters={"deprecate_at": SOON}
    )
    client = api(requester)
    listed = client.get("/api/v1/requests/", {"status": "pending"}).json()
    assert [r["id"] for r in listed["results"]] == [pending.pk]
    detail = client.get(f"/api/v1/requests/{pending.pk}/").json()
    assert detail["items"][0]["ami_id"] == pending.items.get().ami_id
    assert client.get("/api/v1/requests/", {"status": "nonsense"}).status_code == 400
