import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from amidash.roles import Role

PAGES = [
    "inventory:overview",
    "inventory:image_list",
    "inventory:sync_runs",
    "lifecycle:request_list",
    "lifecycle:audit_log",
]


def test_it_creates_the_role_groups(db):
    assert set(Group.objects.values_list("name", flat=True)) >= {
        "Viewer",
        "Requester",
        "Approver",
        "Auditor",
    }


def test_every_url_but_login_and_healthz_redirects_anonymous_users(client, db):
    from django.urls import get_resolver

    open_names = {"login", "healthz"}
    checked = 0
    for pattern_name in _named_url_patterns(get_resolver()):
        if pattern_name in open_names or pattern_name.startswith("admin:"):
            continue
        try:
            url = reverse(pattern_name)
        except Exception:  # patterns that need arguments are checked with a dummy below
            continue
        response = client.get(url)
        assert response.status_code == 302, pattern_name
        assert response["Location"].startswith(reverse("login")), pattern_name
        checked += 1
    assert checked >= len(PAGES)


def _named_url_patterns(resolver, namespace: str = ""):
    for pattern in resolver.url_patterns:
        if hasattr(pattern, "url_patterns"):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _named_url_patterns(pattern, inner)
        elif pattern.name:
            yield f"{namespace}{pattern.name}"


def test_the_login_page_is_open(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b"Sign in to amidash" in response.content


@pytest.mark.parametrize("page", [page for page in PAGES if page != "lifecycle:audit_log"])
def test_signed_in_users_see_the_page_with_their_name_and_role(viewer_client, page):
    response = viewer_client.get(reverse(page))
    assert response.status_code == 200
    assert b"viola" in response.content
    assert b"Viewer" in response.content


def test_it_signs_in_with_a_password_and_out_again(client, viewer):
    from tests.factories import PASSWORD

    response = client.post(reverse("login"), {"username": "viola", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("inventory:overview")
    assert client.get(reverse("inventory:overview")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("inventory:overview")).status_code == 302


def test_the_audit_log_is_for_auditors(viewer_client, auditor):
    from tests.factories import signed_in

    assert viewer_client.get(reverse("lifecycle:audit_log")).status_code == 403
    response = signed_in(auditor).get(reverse("lifecycle:audit_log"))
    assert response.status_code == 200
    assert b"Auditor" in response.content


def test_a_wrong_password_says_so(client, viewer):
    response = client.post(reverse("login"), {"username": "viola", "password": "nope"})
    assert response.status_code == 200
    assert b"did not match" in response.content


def test_the_header_says_admin_for_superusers(admin_user):
    from tests.factories import signed_in

    response = signed_in(admin_user).get(reverse("inventory:overview"))
    assert b"Admin" in response.content


def test_roles_are_groups(viewer):
    assert list(viewer.groups.values_list("name", flat=True)) == [Role.VIEWER]


def test_pages_carry_csrf_for_htmx_and_the_vendored_htmx(viewer_client):
    response = viewer_client.get(reverse("inventory:overview"))
    assert b'hx-headers=\'{"X-CSRFToken": "' in response.content
    assert b"django_htmx/htmx-2.min.js" in response.content
    assert b"cdn" not in response.content.lower()


@pytest.mark.django_db(transaction=True)
def test_roles_and_their_permissions_survive_a_flush():
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)
    requester_group = Group.objects.get(name=Role.REQUESTER)
    codenames = set(requester_group.permissions.values_list("codename", flat=True))
    assert {"sync", "request_action"} <= codenames
    auditor_group = Group.objects.get(name=Role.AUDITOR)
    assert "export_auditevent" in set(auditor_group.permissions.values_list("codename", flat=True))


def test_the_audit_link_shows_only_to_those_who_may_read_the_log(viewer_client, auditor):
    from tests.factories import signed_in

    audit_link = f'href="{reverse("lifecycle:audit_log")}"'.encode()
    assert audit_link not in viewer_client.get(reverse("inventory:overview")).content
    assert audit_link in signed_in(auditor).get(reverse("inventory:overview")).content


def test_a_forbidden_page_says_why_inside_the_site(viewer_client):
    response = viewer_client.get(reverse("lifecycle:audit_log"))
    assert response.status_code == 403
    assert b"Your role does not allow this page" in response.content
    assert b"Sign out" in response.content


def _grant_directly(user, *perms: str) -> None:
    from django.contrib.auth.models import Permission

    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )


RIGHTS = [
    "lifecycle.request_action",
    "lifecycle.approve_request",
    "lifecycle.view_auditevent",
    "lifecycle.export_auditevent",
    "lifecycle.view_lifecyclerequest",
]


def test_a_permission_granted_straight_to_a_user_confers_no_right(db):
    from django.contrib.auth.models import User

    from lifecycle.services.requests import may_approve, may_request
    from tests.factories import create_user, signed_in

    user = create_user("pat")
    _grant_directly(user, *RIGHTS)
    user = User.objects.get(pk=user.pk)  # no permission cache
    assert not any(user.has_perm(perm) for perm in RIGHTS)
    assert not (may_request(user) or may_approve(user))
    client = signed_in(user)
    assert client.get(reverse("lifecycle:audit_log")).status_code == 403
    assert client.post(reverse("lifecycle:audit_export", args=["csv"])).status_code == 403
    assert client.get(reverse("lifecycle:request_list")).status_code == 403


def test_a_permission_added_to_a_group_that_is_not_a_role_confers_no_right(db):
    from django.contrib.auth.models import Permission, User

    from tests.factories import create_user, signed_in

    helpers = Group.objects.create(name="Helpers")
    helpers.permissions.add(*Permission.objects.filter(codename="view_auditevent"))
    user = create_user("pat")
    user.groups.add(helpers)
    assert not User.objects.get(pk=user.pk).has_perm("lifecycle.view_auditevent")
    assert signed_in(user).get(reverse("lifecycle:audit_log")).status_code == 403


def test_the_same_permission_through_a_role_does_confer_the_right(auditor):
    from django.contrib.auth.models import User

    assert User.objects.get(pk=auditor.pk).has_perm("lifecycle.view_auditevent")


def test_only_role_holders_are_found_as_approvers(approver, db):
    from amidash.roles import RoleBackend
    from tests.factories import create_user

    direct = create_user("pat")
    _grant_directly(direct, "lifecycle.approve_request")
    root = create_user("root", superuser=True)
    holders = set(RoleBackend().with_perm("lifecycle.approve_request"))
    assert holders == {approver, root}


def test_the_user_admin_says_direct_permissions_confer_no_right(admin_user, viewer):
    from tests.factories import signed_in

    response = signed_in(admin_user).get(reverse("admin:auth_user_change", args=[viewer.pk]))
    assert b"Permissions given here confer no right in amidash" in response.content
