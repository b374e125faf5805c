"""The token page: a user makes a token (shown once) and revokes it; both are audit events."""

from __future__ import annotations

from api.models import ApiToken
from lifecycle.models import AuditEvent
from tests.factories import signed_in


def test_a_user_makes_and_revokes_a_token_on_the_page(viewer):
    client = signed_in(viewer)
    response = client.post("/api/tokens/", {"name": "ci", "scopes": ["read"], "expires_in_days": 7})
    assert response.status_code == 200
    token = ApiToken.objects.get(user=viewer)
    assert f"amidash_{token.prefix}_" in response.content.decode()
    client.post(f"/api/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None
    verbs = set(AuditEvent.objects.filter(target_id=token.prefix).values_list("verb", flat=True))
    assert verbs == {"token.created", "token.revoked"}


def test_a_user_cannot_revoke_another_users_token(viewer, auditor):
    signed_in(auditor).post("/api/tokens/", {"name": "x", "scopes": ["read"]})
    token = ApiToken.objects.get(user=auditor)
    signed_in(viewer).post(f"/api/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_docs_page_serves_vendored_assets_and_the_schema_to_a_session(viewer):
    client = signed_in(viewer)
    page = client.get("/api/docs/").content.decode()
    assert "drf_spectacular_sidecar" in page and "cdn" not in page.lower()
    schema = client.get("/api/schema/", headers={"Accept": "application/json"})
    assert (
        schema.status_code == 200 and "/api/v1/images/{image_id}/status" in schema.json()["paths"]
    )
