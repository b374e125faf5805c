"""Accounts, sync runs (and starting one), policies and their plans through the API."""

from __future__ import annotations

from inventory.models import SyncRun
from lifecycle.models import AuditEvent
from tests.factories import create_account, create_image, create_policy, create_sync_run


def test_it_lists_accounts_with_their_current_image_count(viewer, api):
    account = create_account("111122223333", "prod")
    create_image(account=account)
    body = api(viewer).get("/api/v1/accounts/").json()
    assert body["results"][0]["account_id"] == "111122223333"
    assert body["results"][0]["image_count"] == 1
    assert body["results"][0]["regions"][0]["region"] == "us-east-1"


def test_it_lists_and_shows_sync_runs(viewer, api):
    run = create_sync_run()
    client = api(viewer)
    assert client.get("/api/v1/sync-runs/").json()["results"][0]["id"] == run.pk
    assert client.get(f"/api/v1/sync-runs/{run.pk}/").json()["results"] == []


def test_it_starts_a_sync_for_a_user_who_may(admin_user, viewer, api):
    create_account("111122223333", "prod")
    assert api(viewer, "read,request").post("/api/v1/sync-runs/", {}).status_code == 403
    response = api(admin_user, "read,request").post("/api/v1/sync-runs/", {})
    assert response.status_code == 202
    run = SyncRun.objects.get(pk=response.json()["id"])
    assert AuditEvent.objects.filter(verb="token.used", correlation_id=f"sync:{run.pk}").exists()


def test_it_refuses_a_bad_sync_scope(admin_user, api):
    response = api(admin_user, "read,request").post("/api/v1/sync-runs/", {"region": "mars"})
    assert response.status_code == 400
    assert "region" in response.json()["errors"]


def test_it_shows_policies_to_roles_that_read_them(requester, api):
    policy = create_policy("tidy")
    client = api(requester)
    assert client.get("/api/v1/policies/").json()["results"][0]["name"] == "tidy"
    assert client.get(f"/api/v1/policies/{policy.pk}/").json()["id"] == policy.pk
    assert client.get(f"/api/v1/policies/{policy.pk}/plans/").json()["count"] == 0
