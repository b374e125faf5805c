"""Every verb is written by the action that causes it: sync observations, sign-in, roles."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from amidash.roles import Role
from amidash.sandbox import sandbox
from lifecycle.models import AuditEvent
from tests.amidash.sandbox.images import register_image
from tests.factories import PASSWORD, create_user, last_audit_sequence, signed_in, sync

pytestmark = pytest.mark.django_db
REGION = "us-east-1"


def events_since(sequence: int, **filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(sequence__gt=sequence, **filters).order_by("sequence"))


@pytest.fixture
def aws(settings):
    settings.SYNC_REGIONS = [REGION]
    with sandbox() as handle:
        yield handle


def test_it_records_what_a_sync_observes_in_the_syncs_transaction(aws):
    start = last_audit_sequence()
    image_id = register_image(aws, "web-1.0")
    run = sync()
    appeared = events_since(start, verb="image.appeared")
    assert [(e.target_id, e.target_region, e.source, e.actor_type) for e in appeared] == [
        (image_id, REGION, "sync", "system")
    ]
    assert appeared[0].correlation_id == f"sync:{run.pk}"
    assert appeared[0].after["state"] == "available"
    finished = events_since(start, verb="sync.finished")
    assert len(finished) == 1 and finished[0].after["status"] == run.status

    aws.client("ec2", REGION).deregister_image(ImageId=image_id)
    middle = last_audit_sequence()
    sync()
    gone = events_since(middle, verb="image.gone")
    assert [e.target_id for e in gone] == [image_id]
    assert gone[0].after["state"] == "deregistered"


def test_it_records_a_sign_in_and_a_sign_out(db):
    user = create_user("sam", Role.VIEWER)
    start = last_audit_sequence()
    client = Client()
    response = client.post(reverse("login"), {"username": "sam", "password": PASSWORD})
    assert response.status_code == 302
    client.post(reverse("logout"))
    verbs = [(e.verb, e.actor_name, e.source) for e in events_since(start)]
    assert verbs == [("auth.login", "sam", "web"), ("auth.logout", "sam", "web")]
    assert events_since(start)[0].actor_id == user.pk


def test_it_records_a_failed_sign_in_without_the_password(db):
    create_user("sam", Role.VIEWER)
    start = last_audit_sequence()
    Client().post(reverse("login"), {"username": "sam", "password": "wrong-password"})
    (event,) = events_since(start)
    assert (event.verb, event.actor_type, event.after["username"]) == (
        "auth.login_failed",
        "anonymous",
        "sam",
    )
    assert "wrong-password" not in str(event.after) + event.message


def user_change_form(client: Client, url: str, **changes) -> dict:
    """The admin's user change form as it stands (with its inline formsets), then ``changes``."""
    response = client.get(url)
    form = response.context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and name not in {"groups", "user_permissions", "password"}
    }
    data.update(last_login_0="", last_login_1="", date_joined_0="2026-01-01")
    data["date_joined_1"] = "00:00:00"
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(
            {f"{formset.prefix}-{k}": v for k, v in formset.management_form.initial.items()}
        )
        for index, inline_form in enumerate(formset.forms):
            for name, value in inline_form.initial.items():
                data[f"{formset.prefix}-{index}-{name}"] = value
    data.update(changes)
    return data


def test_it_records_role_changes_from_either_side(db):
    user = create_user("sam", Role.VIEWER)
    start = last_audit_sequence()
    user.groups.add(Group.objects.get(name=Role.APPROVER))
    Group.objects.get(name=Role.VIEWER).user_set.remove(user)
    user.groups.clear()
    changes = [(e.before["roles"], e.after["roles"]) for e in events_since(start)]
    assert changes == [
        (["Viewer"], ["Approver", "Viewer"]),
        (["Approver", "Viewer"], ["Approver"]),
        (["Approver"], ["No role"]),
    ]
    assert {e.verb for e in events_since(start)} == {"role.changed"}


def test_it_records_granting_admin_as_a_role_change(db):
    user = create_user("sam", Role.AUDITOR)
    start = last_audit_sequence()
    user.is_superuser = True
    user.save()
    (event,) = events_since(start)
    assert (event.before["roles"], event.after["roles"]) == (["Auditor"], ["Admin", "Auditor"])


def test_it_names_the_admin_who_changed_roles_in_the_admin_site(admin_user):
    user = create_user("sam", Role.VIEWER)
    client = signed_in(admin_user)
    start = last_audit_sequence()
    url = reverse("admin:auth_user_change", args=[user.pk])
    data = user_change_form(client, url, groups=[Group.objects.get(name=Role.AUDITOR).pk])
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    (event,) = events_since(start, verb="role.changed")
    assert (event.actor_name, event.source) == ("ada", "admin")
    assert (event.before["roles"], event.after["roles"]) == (["Viewer"], ["Auditor"])


def test_it_keeps_the_admin_read_only_for_audit_events(admin_user):
    client = signed_in(admin_user)
    event = AuditEvent.objects.order_by("-sequence").first()
    assert client.get(reverse("admin:lifecycle_auditevent_changelist")).status_code == 200
    assert client.get(reverse("admin:lifecycle_auditevent_add")).status_code == 403
    delete = reverse("admin:lifecycle_auditevent_delete", args=[event.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_it_records_who_adds_changes_and_removes_an_account(admin_user):
    from inventory.models import Account, AccountRegion
    from lifecycle.services.audit import audit_context

    start = last_audit_sequence()
    with audit_context(actor=admin_user, source="cli"):
        account = Account.objects.create(
            account_id="210987654321",
            name="prod",
            role_arn="arn:aws:iam::210987654321:role/AmidashReadOnly",
            external_id="s3cret-handshake",
        )
        account.last_synced_at = account.created_at
        account.save(update_fields=["last_synced_at"])  # bookkeeping: not recorded
        account.save()  # nothing recorded changed
        account.role_arn = "arn:aws:iam::210987654321:role/Other"
        account.external_id = "another-handshake"
        account.save()
        region = AccountRegion.objects.create(account=account, region="eu-west-3")
        region.synced = False
        region.save()
        region.delete()
        account.delete()
    events = events_since(start, target_type="account")
    assert [e.verb for e in events] == [
        "account.added",
        "account.changed",
        "account.changed",
        "account.removed",
    ]
    added, changed, switched, removed = events
    assert {(e.actor_name, e.source, e.target_account) for e in events} == {
        ("ada", "cli", "210987654321")
    }
    assert added.after["role_arn"].endswith("role/AmidashReadOnly") and added.before is None
    # The external id is recorded by its digest, never as it is.
    assert "s3cret" not in str(added.after) and added.after["external_id"].startswith("sha256:")
    changes = {row.key for row in changed.diff() if row.change == "changed"}
    assert changes == {"role_arn", "external_id"}
    assert (switched.target_region, switched.before, switched.after) == (
        "eu-west-3",
        {"synced": {"eu-west-3": True}},
        {"synced": {"eu-west-3": False}},
    )
    assert "switched off" in switched.message
    assert removed.before["name"] == "prod" and removed.after is None


def test_it_names_the_admin_who_changed_an_account_in_the_admin_site(admin_user):
    from inventory.models import Account

    account = Account.objects.create(account_id="345678901234", name="staging")
    client = signed_in(admin_user)
    start = last_audit_sequence()
    url = reverse("admin:inventory_account_change", args=[account.pk])
    data = {
        "account_id": "345678901234",
        "name": "staging",
        "role_arn": "",
        "external_id": "",
        "regions-TOTAL_FORMS": "0",
        "regions-INITIAL_FORMS": "0",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    (event,) = events_since(start, verb="account.changed")
    assert (event.actor_name, event.source) == ("ada", "admin")
    assert (event.before["enabled"], event.after["enabled"]) == (True, False)
