"""A token's rights are the smaller of its scopes and its user's roles, at every call."""

from __future__ import annotations

import datetime

from django.contrib.auth.models import Group
from django.utils import timezone

from amidash.roles import Role
from lifecycle.models import LifecycleRequest
from tests.api.conftest import ApiClient, token_for
from tests.factories import ask, create_image

SOON = (timezone.now() + datetime.timedelta(days=30)).isoformat()


def test_a_read_token_cannot_make_a_request(requester, api):
    image = create_image()
    body = {"action": "deprecate", "images": [image.image_id], "reason": "old",
            "parameters": {"deprecate_at": SOON}}  # fmt: skip
    response = api(requester, "read").post("/api/v1/requests/", body)
    assert response.status_code == 403
    assert "request" in response.json()["detail"]
    assert not LifecycleRequest.objects.exists()


def test_a_request_scope_does_not_give_a_viewer_the_requester_role(viewer, api):
    image = create_image()
    body = {"action": "deprecate", "images": [image.image_id], "reason": "old",
            "parameters": {"deprecate_at": SOON}}  # fmt: skip
    response = api(viewer, "read,request").post("/api/v1/requests/", body)
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert not LifecycleRequest.objects.exists()


def test_a_token_loses_its_rights_when_its_user_loses_the_role(requester, approver):
    image = create_image()
    pending = ask(requester, "deprecate", [image.image_id],
                  parameters={"deprecate_at": SOON})  # fmt: skip
    token = ApiClient(token_for(approver, "read,approve"))
    approver.groups.remove(Group.objects.get(name=Role.APPROVER))
    response = token.post(
        f"/api/v1/requests/{pending.pk}/approve", {"fingerprint": pending.fingerprint}
    )
    assert response.status_code == 403
    pending.refresh_from_db()
    assert pending.status == "pending"


def test_a_viewer_token_cannot_read_the_audit_log(viewer, auditor, api):
    assert api(viewer).get("/api/v1/audit/events/").status_code == 403
    assert api(auditor).get("/api/v1/audit/events/").status_code == 200
