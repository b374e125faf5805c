"""The accounts page: accounts, their Regions and their last error."""

from __future__ import annotations

import re

from django.urls import reverse


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_it_shows_accounts_regions_and_their_last_error(viewer_client, estate) -> None:
    text = _text(viewer_client.get(reverse("inventory:account_list")))
    assert "prod 111122223333" in text and "dev 444455556666" in text
    assert "ap-south-1" in text and "RequestLimitExceeded: slow down" in text
    assert re.search(r"1 Region not opted in: skipped me-south-1 ", text)
    assert re.search(r"\d+ Regions?; at their last sync, \d+ succeeded, 1 failed", text)


def test_it_links_accounts_to_the_admin_only_for_who_may_change_them(viewer_client, estate):
    from tests.factories import create_user, signed_in

    assert "admin site" not in viewer_client.get(reverse("inventory:account_list")).content.decode()
    body = signed_in(create_user("ada", superuser=True)).get(reverse("inventory:account_list"))
    account = estate["run"].results.first().account
    assert reverse("admin:inventory_account_changelist") in body.content.decode()
    assert reverse("admin:inventory_account_change", args=[account.pk]) in body.content.decode()
