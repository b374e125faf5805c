"""The account form in the admin: a role ARN must name the account, and only the account the
ambient credentials reach may go without one (invariant 9 in docs/architecture.md)."""

from __future__ import annotations

import pytest

from inventory.models import Account
from tests.factories import signed_in

AMBIENT = "123456789012"
OTHER = "210987654321"
ADD_URL = "/admin/inventory/account/add/"


def add_account(admin_user, **fields: str):
    data = {"account_id": "", "name": "", "role_arn": "", "external_id": "", "enabled": "on"}
    data |= {
        "regions-TOTAL_FORMS": "0",
        "regions-INITIAL_FORMS": "0",
        "regions-MIN_NUM_FORMS": "0",
        "regions-MAX_NUM_FORMS": "1000",
    }
    return signed_in(admin_user).post(ADD_URL, data | fields)


@pytest.mark.django_db
def test_it_refuses_a_role_arn_of_another_account(aws, admin_user):
    response = add_account(admin_user, account_id=OTHER, role_arn=f"arn:aws:iam::{AMBIENT}:role/r")

    assert response.status_code == 200
    assert f"This role belongs to account {AMBIENT}, not {OTHER}." in response.content.decode()
    assert not Account.objects.exists()


@pytest.mark.django_db
def test_it_refuses_an_account_the_ambient_credentials_do_not_reach(aws, admin_user):
    response = add_account(admin_user, account_id=OTHER)

    assert f"the ambient credentials reach {AMBIENT}, not {OTHER}" in response.content.decode()
    assert not Account.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_second_account_on_the_ambient_credentials(aws, admin_user):
    Account.objects.create(account_id=OTHER, name="legacy")

    response = add_account(admin_user, account_id=AMBIENT)

    assert f"Account {OTHER} already uses the ambient credentials" in response.content.decode()
    assert Account.objects.count() == 1


@pytest.mark.django_db
def test_it_adds_the_ambient_account_and_an_account_with_its_own_role(aws, admin_user):
    assert add_account(admin_user, account_id=AMBIENT).status_code == 302
    role = f"arn:aws:iam::{OTHER}:role/r"
    assert add_account(admin_user, account_id=OTHER, role_arn=role).status_code == 302

    assert sorted(Account.objects.values_list("account_id", "role_arn")) == [
        (AMBIENT, ""),
        (OTHER, role),
    ]


@pytest.mark.django_db
def test_allowed_amis_as_synced_are_read_only_in_the_admin(aws, admin_user):
    from tests.factories import sync

    sync()
    client = signed_in(admin_user)

    for model in ("allowedimagessetting", "instanceimage"):
        assert client.get(f"/admin/inventory/{model}/").status_code == 200
        assert client.get(f"/admin/inventory/{model}/add/").status_code == 403
    assert "disabled" in client.get("/admin/inventory/allowedimagessetting/").content.decode()
