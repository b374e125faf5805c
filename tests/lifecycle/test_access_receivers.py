"""Every change to who may do what is an audit event with before and after (invariant 8)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.urls import reverse

from amidash.roles import Role
from lifecycle.models import AccountAccess, AccountScope, AuditEvent
from tests.factories import create_account, create_user, last_audit_sequence, signed_in

pytestmark = pytest.mark.django_db


def events_since(sequence: int, **filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(sequence__gt=sequence, **filters).order_by("sequence"))


def approve_permission() -> Permission:
    return Permission.objects.get(content_type__app_label="lifecycle", codename="approve_request")


def test_a_directly_granted_permission_is_recorded_and_gives_no_right(db):
    user = create_user("pat")
    start = last_audit_sequence()
    user.user_permissions.add(approve_permission())
    (event,) = events_since(start)
    assert event.verb == "permission.changed" and event.target_id == str(user.pk)
    assert (event.before, event.after) == (
        {"permissions": []},
        {"permissions": ["lifecycle.approve_request"]},
    )
    assert not User.objects.get(pk=user.pk).has_perm("lifecycle.approve_request")


def test_it_records_permission_changes_from_the_permission_side_and_on_groups(db):
    user = create_user("pat")
    helpers = Group.objects.create(name="Helpers")
    start = last_audit_sequence()
    approve_permission().user_set.add(user)
    helpers.permissions.add(approve_permission())
    helpers.permissions.clear()
    changes = [(e.verb, e.target_type, e.after["permissions"]) for e in events_since(start)]
    assert changes == [
        ("permission.changed", "user", ["lifecycle.approve_request"]),
        ("permission.changed", "group", ["lifecycle.approve_request"]),
        ("permission.changed", "group", []),
    ]


def test_it_records_staff_and_active_flags_with_before_and_after(db):
    user = create_user("pat")
    start = last_audit_sequence()
    user.is_staff = True
    user.save()
    user.is_active = False
    user.save()
    user.save(update_fields=["last_login"])  # nothing about rights: nothing recorded
    flags = [(e.before, e.after) for e in events_since(start, verb="user.changed")]
    assert flags == [
        ({"is_staff": False, "is_active": True}, {"is_staff": True, "is_active": True}),
        ({"is_staff": True, "is_active": True}, {"is_staff": True, "is_active": False}),
    ]


def test_it_records_a_password_set_without_the_password(db):
    user = create_user("pat")
    start = last_audit_sequence()
    user.set_password("a new long passphrase")
    user.save()
    (event,) = events_since(start)
    assert event.verb == "user.password_changed" and event.target_id == str(user.pk)
    stored = f"{event.before}{event.after}{event.message}"
    assert "passphrase" not in stored and user.password not in stored


def test_it_records_account_scopes_and_the_all_accounts_flag(db):
    user = create_user("pat", Role.REQUESTER, all_accounts=False)
    prod, dev = create_account("111122223333", "prod"), create_account("444455556666", "dev")
    start = last_audit_sequence()
    scope = AccountScope.objects.create(user=user, account=prod)
    AccountScope.objects.create(user=user, account=dev)
    scope.delete()
    AccountAccess.objects.update_or_create(user=user, defaults={"all_accounts": True})
    changes = [(e.before, e.after) for e in events_since(start, verb="scope.changed")]
    assert changes == [
        (
            {"all_accounts": False, "accounts": []},
            {"all_accounts": False, "accounts": ["111122223333"]},
        ),
        (
            {"all_accounts": False, "accounts": ["111122223333"]},
            {"all_accounts": False, "accounts": ["111122223333", "444455556666"]},
        ),
        (
            {"all_accounts": False, "accounts": ["111122223333", "444455556666"]},
            {"all_accounts": False, "accounts": ["444455556666"]},
        ),
        (
            {"all_accounts": False, "accounts": ["444455556666"]},
            {"all_accounts": True, "accounts": ["444455556666"]},
        ),
    ]


def test_it_names_the_admin_who_set_a_password_in_the_admin_site(admin_user):
    user = create_user("pat")
    start = last_audit_sequence()
    url = reverse("admin:auth_user_password_change", args=[user.pk])
    new = "another long passphrase 42"
    response = signed_in(admin_user).post(url, {"password1": new, "password2": new})
    assert response.status_code == 302
    (event,) = events_since(start, verb="user.password_changed")
    assert (event.actor_name, event.source) == ("ada", "admin")


def test_it_names_the_admin_who_gave_a_group_permissions_in_the_admin_site(admin_user):
    helpers = Group.objects.create(name="Helpers")
    start = last_audit_sequence()
    url = reverse("admin:auth_group_change", args=[helpers.pk])
    data = {"name": "Helpers", "permissions": [approve_permission().pk]}
    assert signed_in(admin_user).post(url, data).status_code == 302
    (event,) = events_since(start, verb="permission.changed")
    assert (event.actor_name, event.target_type, event.target_repr) == ("ada", "group", "Helpers")


def test_it_records_two_factor_devices_removed_by_any_route(db):
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = create_user("pat", Role.APPROVER)
    abandoned = TOTPDevice.objects.create(user=user, name="old phone", confirmed=False)
    start = last_audit_sequence()
    abandoned.delete()  # an enrolment never confirmed is no device: nothing to record
    phone = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    codes = StaticDevice.objects.create(user=user, name="recovery codes")
    phone_pk, codes_pk = phone.pk, codes.pk
    phone.delete()
    codes.delete()
    events = events_since(start)
    assert [event.verb for event in events] == [
        "twofactor.enrolled",
        "twofactor.recovery_codes",
        "twofactor.removed",
        "twofactor.removed",
    ]
    assert events[2].before == {"kind": "authenticator", "name": "phone", "device_id": phone_pk}
    assert events[3].before == {
        "kind": "recovery codes",
        "name": "recovery codes",
        "device_id": codes_pk,
    }
    assert all(event.target_id == str(user.pk) for event in events)


def test_it_records_a_device_removed_in_the_admin_naming_the_admin(db):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    admin = create_user("root", superuser=True)
    user = create_user("pat", Role.APPROVER)
    phone = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    start = last_audit_sequence()
    url = reverse("admin:otp_totp_totpdevice_delete", args=[phone.pk])
    response = signed_in(admin).post(url, {"post": "yes"})
    assert response.status_code == 302
    (event,) = events_since(start, verb__startswith="twofactor.")
    assert (event.verb, event.actor_name, event.source) == ("twofactor.removed", "root", "admin")
    assert event.target_id == str(user.pk)
