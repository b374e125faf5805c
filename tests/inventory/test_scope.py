"""Account scope limits reading as well as acting (invariant 8 in docs/architecture.md): a
scoped user sees the images, figures, exports, accounts, sync results and requests of their
accounts only, on the pages and in the API; an empty scope sees nothing; the all-accounts flag
and superusers see everything. The rule is ``amidash/scope.py``; the estate (two accounts) is
the inventory's fixture."""

from __future__ import annotations

import csv
import io
import json

import pytest

from amidash.roles import Role
from amidash.scope import acting_account_ids, sees_every_account, visible_accounts
from inventory.models import Account, Image
from lifecycle.models import AccountScope
from tests.api.conftest import ApiClient, token_for
from tests.factories import (
    create_lifecycle_request,
    create_request_item,
    create_user,
    signed_in,
)

pytestmark = pytest.mark.django_db

PROD, DEV = "111122223333", "444455556666"


def scoped(username: str, *account_ids: str, role: str = Role.VIEWER):
    """A user of ``role`` without the all-accounts flag, scoped to ``account_ids``."""
    user = create_user(username, role, all_accounts=False)
    for account_id in account_ids:
        AccountScope.objects.create(user=user, account=Account.objects.get(account_id=account_id))
    return user


def image_ids(body: str, estate: dict) -> set[str]:
    """The estate's images whose AMI id appears in ``body``."""
    return {image.image_id for image in estate["images"].values() if image.image_id in body}


def of_account(estate: dict, account_id: str) -> set[str]:
    return {i.image_id for i in estate["images"].values() if i.account.account_id == account_id}


# --- the rule ---------------------------------------------------------------------------------


def test_the_rule_is_deny_by_default(estate) -> None:
    nobody = scoped("nobody")
    prod_only = scoped("prod-only", PROD)
    everyone = create_user("everyone", Role.VIEWER)
    admin = create_user("admin", superuser=True, all_accounts=False)

    def visible(user) -> set[str]:
        return set(
            Account.objects.filter(visible_accounts(user)).values_list("account_id", flat=True)
        )

    assert visible(nobody) == set() and not Image.objects.visible_to(nobody).exists()
    assert visible(prod_only) == {PROD}
    assert visible(everyone) == visible(admin) == {PROD, DEV}
    assert sees_every_account(admin) and not sees_every_account(prod_only)
    # A superuser sees every account but acts only with the flag or scope, like anyone else.
    assert acting_account_ids(admin) == set() and acting_account_ids(everyone) is None


# --- pages --------------------------------------------------------------------------------------


def test_a_scoped_viewer_sees_only_their_accounts_images_on_the_list(estate) -> None:
    client = signed_in(scoped("pat", PROD))
    body = client.get("/images/").content.decode()
    assert image_ids(body, estate) == of_account(estate, PROD)
    # Naming an account outside the scope is refused like an unknown account, not shown.
    response = client.get("/images/", {"account": DEV})
    assert response.status_code == 400
    assert image_ids(response.content.decode(), estate) <= of_account(estate, PROD)


def test_an_empty_scope_sees_no_image_figure_account_or_export(estate) -> None:
    client = signed_in(scoped("nobody"))
    assert image_ids(client.get("/images/").content.decode(), estate) == set()
    overview = client.get("/").content.decode()
    assert PROD not in overview and DEV not in overview
    assert "prod" not in client.get("/accounts/").content.decode().lower().split("<main")[-1]
    exported = json.loads(b"".join(client.get("/images/export.json").streaming_content))
    assert exported == []
    for image in estate["images"].values():
        assert client.get(f"/images/{image.pk}/").status_code == 404


def test_the_all_accounts_flag_sees_every_image(estate) -> None:
    client = signed_in(create_user("all", Role.VIEWER))
    body = client.get("/images/").content.decode()
    assert image_ids(body, estate) == of_account(estate, PROD) | of_account(estate, DEV)


def test_image_detail_and_its_timeline_answer_404_outside_the_scope(estate) -> None:
    client = signed_in(scoped("pat", PROD))
    web, shared = estate["images"]["web_new"], estate["images"]["db_shared"]
    assert client.get(f"/images/{web.pk}/").status_code == 200
    assert client.get(f"/images/{shared.pk}/").status_code == 404
    assert client.get(f"/audit/images/{shared.pk}/timeline/").status_code == 404


def test_the_overview_counts_only_the_scoped_accounts(estate) -> None:
    prod_only = signed_in(scoped("pat", PROD)).get("/").context
    everyone = signed_in(create_user("all", Role.VIEWER)).get("/").context
    prod_current = Image.objects.current().filter(account__account_id=PROD).count()
    assert prod_only["totals"]["current"] == prod_current
    assert everyone["totals"]["current"] == Image.objects.current().count() > prod_current
    assert [a["account__account_id"] for a in prod_only["accounts"]] == [PROD]
    assert {r["region"] for r in prod_only["regions"]} == {"us-east-1"}
    # The latest run's failed Region belongs to the other account.
    assert prod_only["failed_results"] == [] and len(everyone["failed_results"]) == 1


def test_exports_hold_only_the_scoped_accounts(estate) -> None:
    client = signed_in(scoped("pat", DEV))
    rows = list(csv.DictReader(io.StringIO(b"".join(
        client.get("/images/export.csv").streaming_content
    ).decode())))  # fmt: skip
    assert {row["image_id"] for row in rows} == of_account(estate, DEV)
    records = json.loads(b"".join(client.get("/images/export.json").streaming_content))
    assert {record["account_id"] for record in records} == {DEV}


def test_the_accounts_and_sync_pages_show_only_the_scoped_accounts(estate) -> None:
    client = signed_in(scoped("pat", PROD))
    accounts = client.get("/accounts/").context["rows"]
    assert [row.account.account_id for row in accounts] == [PROD]
    run = client.get(f"/sync/{estate['run'].pk}/").context
    assert {row.account.account_id for row in run["results"]} == {PROD}


def test_requests_are_shown_only_when_every_image_is_in_scope(estate) -> None:
    request = create_lifecycle_request(create_user("sam", Role.REQUESTER))
    create_request_item(request, estate["images"]["db_shared"])
    client = signed_in(scoped("pat", PROD, role=Role.REQUESTER))
    assert client.get(f"/requests/{request.pk}/").status_code == 404
    assert request.pk not in [r.pk for r in client.get("/requests/").context["page"]]
    dev_client = signed_in(scoped("dev", DEV, role=Role.REQUESTER))
    assert dev_client.get(f"/requests/{request.pk}/").status_code == 200


# --- API ----------------------------------------------------------------------------------------


def test_the_api_lists_and_finds_only_the_scoped_accounts_images(estate) -> None:
    api = ApiClient(token_for(scoped("pat", PROD)))
    listed = api.get("/api/v1/images/", {"size": 50}).json()["results"]
    assert {image["image_id"] for image in listed} == of_account(estate, PROD)
    web, shared = estate["images"]["web_new"], estate["images"]["db_shared"]
    for suffix in ("/", "/status"):
        assert api.get(f"/api/v1/images/{web.image_id}{suffix}").status_code == 200
        assert api.get(f"/api/v1/images/{shared.image_id}{suffix}").status_code == 404
    accounts = api.get("/api/v1/accounts/").json()["results"]
    assert [account["account_id"] for account in accounts] == [PROD]


def test_the_api_shows_an_empty_scope_nothing_and_the_flag_everything(estate) -> None:
    nobody = ApiClient(token_for(scoped("nobody")))
    assert nobody.get("/api/v1/images/").json()["results"] == []
    assert nobody.get("/api/v1/accounts/").json()["results"] == []
    everyone = ApiClient(token_for(create_user("all", Role.VIEWER)))
    listed = everyone.get("/api/v1/images/", {"size": 50}).json()["results"]
    assert len(listed) == len(estate["images"])
