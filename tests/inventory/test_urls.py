"""Every dashboard page: anonymous users are sent to sign in; every role reads it; htmx gets a
partial; responses vary on HX-Request."""

from __future__ import annotations

import pytest
from django.urls import reverse

from amidash.roles import Role
from tests.factories import create_user, signed_in

ROLES = [Role.VIEWER, Role.REQUESTER, Role.APPROVER, Role.AUDITOR, "admin"]


def _pages(estate: dict) -> list[tuple[str, str]]:
    image = estate["images"]["web_new"]
    return [
        ("overview", reverse("inventory:overview")),
        ("trend", reverse("inventory:overview_trend")),
        ("images", reverse("inventory:image_list")),
        ("image", reverse("inventory:image_detail", args=[image.pk])),
        ("sync", reverse("inventory:sync_runs")),
        ("run", reverse("inventory:sync_run_detail", args=[estate["run"].pk])),
        ("accounts", reverse("inventory:account_list")),
    ]


def _client_for(role: str):
    if role == "admin":
        return signed_in(create_user("root", superuser=True))
    return signed_in(create_user(f"user-{role.lower()}", role))


def test_it_sends_anonymous_users_to_sign_in(client, estate) -> None:
    for name, url in _pages(estate):
        response = client.get(url)
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("login")), name


@pytest.mark.parametrize("role", ROLES)
def test_it_shows_every_page_to_every_role(role, estate) -> None:
    client = _client_for(role)
    for name, url in _pages(estate):
        response = client.get(url)
        assert response.status_code == 200, name
        body = response.content.decode()
        assert "<html" in body, name
        assert "HX-Request" in response["Vary"], name


def test_it_answers_htmx_with_a_partial(estate, viewer_client) -> None:
    for name, url in _pages(estate):
        response = viewer_client.get(url, headers={"HX-Request": "true"})
        assert response.status_code == 200, name
        body = response.content.decode()
        assert "<html" not in body, name
        assert "HX-Request" in response["Vary"], name


def test_it_shows_empty_states_that_say_what_to_do(viewer_client, db) -> None:
    overview = viewer_client.get(reverse("inventory:overview")).content.decode()
    assert "No images yet" in overview and "sync_inventory" in overview
    images = viewer_client.get(reverse("inventory:image_list")).content.decode()
    assert "No images yet" in images
    sync = viewer_client.get(reverse("inventory:sync_runs")).content.decode()
    assert "No sync has run yet" in sync
    accounts = viewer_client.get(reverse("inventory:account_list")).content.decode()
    assert "No accounts yet" in accounts


def test_it_answers_404_for_an_unknown_image_or_run(viewer_client, db) -> None:
    assert viewer_client.get(reverse("inventory:image_detail", args=[999999])).status_code == 404
    assert viewer_client.get(reverse("inventory:sync_run_detail", args=[999999])).status_code == 404
